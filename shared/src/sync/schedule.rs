//! The schedule (flow 6): every few minutes, guilds whose next sync is due get exactly one
//! scheduled sync per due time, and channels of subjects that ended longer ago than the
//! guild's retention are archived.

use twilight_model::id::{Id, marker::GuildMarker};

use crate::{
    queue::{Job, JobQueue, QueueError},
    settings::GuildSettings,
    store::{DomainStore, MappingStatus, StoreError, SubjectKind, SyncKind},
};

/// Due guilds handled per schedule event; the rest are due still and go next time.
const DUE_PER_RUN: u32 = 100;
/// Mappings looked at per guild and status for retention.
const RETENTION_PAGE: u32 = 100;

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// What one schedule event did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScheduleReport {
    pub due: u64,
    /// Syncs this event started (the conditional advance of the due time was this event's).
    pub syncs: u64,
    pub archives: u64,
}

/// The due time's sync job (the same for every delivery of the schedule event).
pub fn scheduled_sync(guild_id: Id<GuildMarker>, due_at: u64) -> Job {
    Job::SyncMembers {
        guild_id,
        kind: SyncKind::Scheduled,
        request_id: format!("due:{due_at}"),
        reply: None,
        after: None,
    }
}

/// The next due time after `due_at`: one interval on, skipping intervals already past.
fn next_due(due_at: u64, now: u64, settings: &GuildSettings) -> u64 {
    let interval = u64::from(settings.sync_interval_hours.max(1)) * 3600;
    let missed = now.saturating_sub(due_at) / interval;
    due_at + (missed + 1) * interval
}

/// Runs one schedule event. Safe to deliver twice or to run twice at once: the job is
/// enqueued before the due time advances (a crash between the two re-enqueues the same job,
/// which the queue's deduplication and the run record collapse), and only one caller's
/// conditional advance wins.
pub async fn run_schedule(
    store: &dyn DomainStore,
    queue: &dyn JobQueue,
    now: u64,
) -> Result<ScheduleReport, ScheduleError> {
    let mut report = ScheduleReport::default();
    for (guild_id, due_at) in store.due_syncs(now, DUE_PER_RUN).await? {
        report.due += 1;
        let settings = store.settings(guild_id).await?.settings;
        queue.enqueue(&scheduled_sync(guild_id, due_at)).await?;
        if store.advance(guild_id, due_at, next_due(due_at, now, &settings)).await? {
            report.syncs += 1;
            report.archives += archive_ended(store, queue, guild_id, &settings, now).await?;
        }
    }
    Ok(report)
}

/// Enqueues archiving for subjects that ended longer ago than the retention: completed
/// mappings, and events whose start is that long past.
async fn archive_ended(
    store: &dyn DomainStore,
    queue: &dyn JobQueue,
    guild_id: Id<GuildMarker>,
    settings: &GuildSettings,
    now: u64,
) -> Result<u64, ScheduleError> {
    let retention = u64::from(settings.archive_retention_hours) * 3600;
    let mut archived = 0;
    for status in [MappingStatus::Completed, MappingStatus::Active] {
        let page = store.mappings_by_status(guild_id, status, RETENTION_PAGE, None).await?;
        for mapping in page.mappings {
            let ended_at = match status {
                MappingStatus::Completed => Some(mapping.updated_at),
                _ if mapping.subject.kind == SubjectKind::Event => {
                    store.subject(guild_id, &mapping.subject).await?.and_then(|subject| subject.starts_at)
                }
                _ => None,
            };
            if ended_at.is_some_and(|ended| ended + retention <= now) {
                let reason = format!("ended more than {} hours ago (retention)", settings.archive_retention_hours);
                queue.enqueue(&Job::ArchiveChannel { guild_id, subject: mapping.subject, reason, reply: None }).await?;
                archived += 1;
            }
        }
    }
    Ok(archived)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_due_time_skips_intervals_already_past() {
        let settings = GuildSettings { sync_interval_hours: 1, ..GuildSettings::default() };
        assert_eq!(next_due(10_000, 10_000, &settings), 13_600);
        assert_eq!(next_due(10_000, 10_000 + 3 * 3600 + 5, &settings), 10_000 + 4 * 3600);
    }
}

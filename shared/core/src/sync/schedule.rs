//! The schedule: every few minutes, guilds whose next sync is due get exactly one
//! scheduled sync per due time. Connecting a guild writes its schedule (the initial sync
//! due at once); the tick's backfill gives one to guilds connected before that.

use crate::domain::error::Report;
use crate::{
    domain::GuildSettings,
    queue::{JobQueue, QueueError},
    store::{DomainStore, StoreError, SyncSchedule},
};

/// Due guilds handled per schedule event; the rest are due still and go next time.
const DUE_PER_RUN: u32 = 100;
/// Schedule runs in a row a guild may fail before it is parked for [`PARKED_FOR`].
pub const PARK_AFTER_FAILURES: u32 = 5;
/// How long a parked guild waits before it is tried again.
pub const PARKED_FOR: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl From<super::SyncRequestError> for ScheduleError {
    fn from(error: super::SyncRequestError) -> Self {
        match error {
            super::SyncRequestError::Store(error) => ScheduleError::Store(error),
            super::SyncRequestError::Queue(error) => ScheduleError::Queue(error),
        }
    }
}

/// What one schedule event did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScheduleReport {
    pub due: u64,
    /// Syncs this event started (the conditional advance of the due time was this event's).
    pub syncs: u64,
    /// Guilds whose turn failed this time (recorded on their schedule; the rest went on).
    pub failed: u64,
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
/// conditional advance wins. Guilds are handled one by one: a guild whose turn fails is
/// recorded as failing, retried with a growing pause, parked after
/// [`PARK_AFTER_FAILURES`] failures in a row, and never stops the guilds after it.
pub async fn run_schedule(
    store: &dyn DomainStore,
    queue: &dyn JobQueue,
    now: u64,
) -> Result<ScheduleReport, ScheduleError> {
    let mut report = ScheduleReport::default();
    for schedule in store.due_syncs(now, DUE_PER_RUN).await? {
        report.due += 1;
        match guild_turn(store, queue, &schedule, now).await {
            Ok(true) => report.syncs += 1,
            Ok(false) => {}
            Err(error) => {
                report.failed += 1;
                let (next_at, reason) = after_failure(&schedule, now, &error);
                tracing::warn!(guild_id = %schedule.guild_id, %reason, "the schedule failed for this guild");
                if let Err(error) = store.record_failure(&schedule, next_at, &reason).await {
                    tracing::warn!(guild_id = %schedule.guild_id, error = %Report(&error), "could not record the failure");
                }
            }
        }
    }
    Ok(report)
}

/// When a failing guild is tried next, and what its schedule says about it.
fn after_failure(schedule: &SyncSchedule, now: u64, error: &ScheduleError) -> (u64, String) {
    let failures = schedule.failures.saturating_add(1);
    if failures >= PARK_AFTER_FAILURES {
        let reason =
            format!("parked for a day after {failures} failed schedule runs in a row; last: {}", Report(&error));
        return (now.saturating_add(PARKED_FOR.as_secs()), reason);
    }
    let pause = 60u64 << failures.min(10);
    (now.saturating_add(pause), format!("schedule run failed ({failures} in a row): {}", Report(&error)))
}

/// One due guild: its sync enqueued and its due time advanced; `true` when this caller's
/// advance won.
async fn guild_turn(
    store: &dyn DomainStore,
    queue: &dyn JobQueue,
    schedule: &SyncSchedule,
    now: u64,
) -> Result<bool, ScheduleError> {
    let (guild_id, due_at) = (schedule.guild_id, schedule.next_at);
    let settings = store.settings(guild_id).await?.settings;
    // The same request for every delivery of the schedule event.
    super::request_sync(store, queue, guild_id, super::SyncRequest::Due(due_at), None, now).await?;
    Ok(store.advance(guild_id, due_at, next_due(due_at, now, &settings)).await?)
}

#[cfg(test)]
mod tests {
    use twilight_model::id::Id;

    use super::*;

    #[test]
    fn a_failing_guild_backs_off_then_is_parked_with_its_reason() {
        let error = ScheduleError::Store(StoreError::Corrupt(crate::domain::error::Cause::described("bad settings")));
        let schedule = |failures| SyncSchedule { guild_id: Id::new(1), next_at: 0, failures, last_error: None };
        let (next, reason) = after_failure(&schedule(0), 1_000, &error);
        assert_eq!(next, 1_120);
        assert!(reason.contains("1 in a row") && reason.contains("bad settings"), "{reason}");
        let (next, reason) = after_failure(&schedule(PARK_AFTER_FAILURES - 1), 1_000, &error);
        assert_eq!(next, 1_000 + PARKED_FOR.as_secs());
        assert!(reason.starts_with("parked"), "{reason}");
        assert_eq!(after_failure(&schedule(u32::MAX), u64::MAX, &error).0, u64::MAX, "no overflow");
    }

    #[test]
    fn the_next_due_time_skips_intervals_already_past() {
        let settings = GuildSettings { sync_interval_hours: 1, ..GuildSettings::default() };
        assert_eq!(next_due(10_000, 10_000, &settings), 13_600);
        assert_eq!(next_due(10_000, 10_000 + 3 * 3600 + 5, &settings), 10_000 + 4 * 3600);
    }
}

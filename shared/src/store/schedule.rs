//! When each guild syncs next, found through an index (never a scan), advanced so that one
//! due time yields one job however many schedulers race.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use twilight_model::id::{Id, marker::GuildMarker};

use super::{
    Store, StoreError, from_item,
    items::{Condition, ItemError, ItemStore, Query, SortKeyRange},
    schema::{Index, attr, keys, sortable_time},
    to_item,
};

#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Sets when the guild syncs next, whatever was set before.
    async fn set_next_sync(&self, guild_id: Id<GuildMarker>, at: u64) -> Result<(), StoreError>;
    /// Guilds due at or before `now`, earliest first, with the due time each is at.
    async fn due_syncs(&self, now: u64, limit: u32) -> Result<Vec<SyncSchedule>, StoreError>;
    /// Moves the guild from `due_at` to `next_at` (and clears any failures). Only one caller
    /// per due time gets `true`: that caller enqueues the job.
    async fn advance(&self, guild_id: Id<GuildMarker>, due_at: u64, next_at: u64) -> Result<bool, StoreError>;
    /// Moves a guild whose schedule failed from `due_at` to `next_at`, recording the failure
    /// (counted, with its reason, where an admin sees it). `true` for the one caller that moved it.
    async fn record_failure(&self, schedule: &SyncSchedule, next_at: u64, reason: &str) -> Result<bool, StoreError>;
    /// The guild's schedule, if it has one.
    async fn sync_schedule(&self, guild_id: Id<GuildMarker>) -> Result<Option<SyncSchedule>, StoreError>;
}

/// When a guild syncs next, and how its schedule has been failing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSchedule {
    pub guild_id: Id<GuildMarker>,
    pub next_at: u64,
    /// Schedule runs in a row that failed for this guild (0 once one succeeds).
    #[serde(default)]
    pub failures: u32,
    /// Why the last one failed; "parked ..." once it failed too often and waits a day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

const NEXT_AT: &str = "next_at";

fn schedule_item(schedule: &SyncSchedule) -> Result<super::items::Item, StoreError> {
    to_item(
        &keys::schedule(schedule.guild_id.get()),
        schedule,
        &[
            (attr::GSI1_PK, json!(keys::SCHEDULE_INDEX_PK)),
            (attr::GSI1_SK, json!(format!("{}#{}", sortable_time(schedule.next_at), schedule.guild_id))),
        ],
    )
}

impl<I: ItemStore> Store<I> {
    /// Writes `schedule` only while the stored due time is still `due_at`.
    async fn move_schedule(&self, schedule: &SyncSchedule, due_at: u64) -> Result<bool, StoreError> {
        match self.items.put(schedule_item(schedule)?, Some(Condition::Equals(NEXT_AT, json!(due_at)))).await {
            Ok(()) => Ok(true),
            Err(ItemError::ConditionFailed) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}

#[async_trait]
impl<I: ItemStore> ScheduleStore for Store<I> {
    /// 1 PutItem.
    async fn set_next_sync(&self, guild_id: Id<GuildMarker>, at: u64) -> Result<(), StoreError> {
        let schedule = SyncSchedule { guild_id, next_at: at, failures: 0, last_error: None };
        Ok(self.items.put(schedule_item(&schedule)?, None).await?)
    }

    /// 1 Query on gsi1 (eventually consistent: a just-advanced guild may still show; `advance` decides).
    async fn due_syncs(&self, now: u64, limit: u32) -> Result<Vec<SyncSchedule>, StoreError> {
        // '~' sorts after every digit, so this includes every guild due in the second `now`.
        let upto = format!("{}#~", sortable_time(now));
        let query = Query::new(Index::Gsi1, keys::SCHEDULE_INDEX_PK, SortKeyRange::AtMost(upto)).limit(limit.max(1));
        let page = self.items.query(&query).await?;
        page.items.into_iter().map(from_item).collect()
    }

    /// 1 conditional PutItem.
    async fn advance(&self, guild_id: Id<GuildMarker>, due_at: u64, next_at: u64) -> Result<bool, StoreError> {
        self.move_schedule(&SyncSchedule { guild_id, next_at, failures: 0, last_error: None }, due_at).await
    }

    /// 1 conditional PutItem.
    async fn record_failure(&self, schedule: &SyncSchedule, next_at: u64, reason: &str) -> Result<bool, StoreError> {
        let failed = SyncSchedule {
            guild_id: schedule.guild_id,
            next_at,
            failures: schedule.failures.saturating_add(1),
            last_error: Some(reason.to_owned()),
        };
        self.move_schedule(&failed, schedule.next_at).await
    }

    /// 1 GetItem.
    async fn sync_schedule(&self, guild_id: Id<GuildMarker>) -> Result<Option<SyncSchedule>, StoreError> {
        self.items.get(&keys::schedule(guild_id.get())).await?.map(from_item).transpose()
    }
}

//! When each guild syncs next, found through an index (never a scan), advanced so that one
//! due time yields one job however many schedulers race.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use twilight_model::id::{Id, marker::GuildMarker};

use super::{
    Store, StoreError, from_item,
    items::{Condition, ItemError, ItemStore, Query, Scan, SortKeyRange},
    schema::{Index, attr, keys, sortable_time},
    to_item,
};

#[async_trait]
pub trait ScheduleStore: Send + Sync {
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
    /// Moves an existing schedule's next sync to `at` (the interval changed); a guild with
    /// no schedule (not connected) gets none. `true` when it moved.
    async fn reschedule(&self, guild_id: Id<GuildMarker>, at: u64) -> Result<bool, StoreError>;
    /// Gives a connected guild from before schedules were written at connect its schedule,
    /// unless it has one. `true` when this call wrote it.
    async fn ensure_schedule(&self, guild_id: Id<GuildMarker>, at: u64) -> Result<bool, StoreError>;
    /// One page of the walk over every connected guild (for the backfill): the guilds, and
    /// where the next page starts (`None` once the walk is done).
    async fn connected_guilds(
        &self,
        after: Option<&str>,
        page: u32,
    ) -> Result<(Vec<Id<GuildMarker>>, Option<String>), StoreError>;
    /// Where the schedule backfill stands: `None` before it starts, `Some(Done)` once done.
    async fn backfill_state(&self) -> Result<Option<BackfillState>, StoreError>;
    async fn record_backfill(&self, state: &BackfillState) -> Result<(), StoreError>;
}

/// How far the walk that gives every connected guild a schedule has come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "after")]
pub enum BackfillState {
    /// Resume after this guild connection's partition key.
    After(String),
    Done,
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

pub(super) fn schedule_item(schedule: &SyncSchedule) -> Result<super::items::Item, StoreError> {
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
    /// Writes `schedule` when `condition` holds; `false` when it did not.
    async fn put_schedule_if(&self, schedule: &SyncSchedule, condition: Condition) -> Result<bool, StoreError> {
        match self.items.put(schedule_item(schedule)?, Some(condition)).await {
            Ok(()) => Ok(true),
            Err(ItemError::ConditionFailed) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Writes `schedule` only while the stored due time is still `due_at`.
    async fn move_schedule(&self, schedule: &SyncSchedule, due_at: u64) -> Result<bool, StoreError> {
        self.put_schedule_if(schedule, Condition::Equals(NEXT_AT, json!(due_at))).await
    }
}

#[async_trait]
impl<I: ItemStore> ScheduleStore for Store<I> {
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

    /// 1 conditional PutItem.
    async fn reschedule(&self, guild_id: Id<GuildMarker>, at: u64) -> Result<bool, StoreError> {
        let schedule = SyncSchedule { guild_id, next_at: at, failures: 0, last_error: None };
        self.put_schedule_if(&schedule, Condition::Exists).await
    }

    /// 1 conditional PutItem.
    async fn ensure_schedule(&self, guild_id: Id<GuildMarker>, at: u64) -> Result<bool, StoreError> {
        let schedule = SyncSchedule { guild_id, next_at: at, failures: 0, last_error: None };
        self.put_schedule_if(&schedule, Condition::NotExists).await
    }

    /// 1 Scan page (filtered on the connection's sort key).
    async fn connected_guilds(
        &self,
        after: Option<&str>,
        page: u32,
    ) -> Result<(Vec<Id<GuildMarker>>, Option<String>), StoreError> {
        let start_after = after.map(|pk| {
            let key = keys::guild_connection_of(pk);
            let mut item = super::items::Item::new();
            item.insert(attr::PK.to_owned(), json!(key.pk));
            item.insert(attr::SK.to_owned(), json!(key.sk));
            item
        });
        let scan = Scan { sk: keys::CONNECTION_SK.to_owned(), limit: page, start_after };
        let found = self.items.scan(&scan).await?;
        // Tenants' connections share the sort key; only the guild side names a guild.
        let guilds = found
            .items
            .iter()
            .filter_map(|item| item.get(attr::PK)?.as_str()?.strip_prefix("GUILD#")?.parse().ok())
            .filter_map(Id::new_checked)
            .collect();
        let next = found.last_key.and_then(|key| Some(key.get(attr::PK)?.as_str()?.to_owned()));
        Ok((guilds, next))
    }

    /// 1 GetItem.
    async fn backfill_state(&self) -> Result<Option<BackfillState>, StoreError> {
        self.items.get(&keys::schedule_backfill()).await?.map(from_item).transpose()
    }

    /// 1 PutItem.
    async fn record_backfill(&self, state: &BackfillState) -> Result<(), StoreError> {
        Ok(self.items.put(to_item(&keys::schedule_backfill(), state, &[])?, None).await?)
    }
}

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
    async fn due_syncs(&self, now: u64, limit: u32) -> Result<Vec<(Id<GuildMarker>, u64)>, StoreError>;
    /// Moves the guild from `due_at` to `next_at`. Only one caller per due time gets `true`:
    /// that caller enqueues the job.
    async fn advance(&self, guild_id: Id<GuildMarker>, due_at: u64, next_at: u64) -> Result<bool, StoreError>;
}

#[derive(Serialize, Deserialize)]
struct Schedule {
    guild_id: Id<GuildMarker>,
    next_at: u64,
}

const NEXT_AT: &str = "next_at";

fn schedule_item(schedule: &Schedule) -> Result<super::items::Item, StoreError> {
    to_item(
        &keys::schedule(schedule.guild_id.get()),
        schedule,
        &[
            (attr::GSI1_PK, json!(keys::SCHEDULE_INDEX_PK)),
            (attr::GSI1_SK, json!(format!("{}#{}", sortable_time(schedule.next_at), schedule.guild_id))),
        ],
    )
}

#[async_trait]
impl<I: ItemStore> ScheduleStore for Store<I> {
    /// 1 PutItem.
    async fn set_next_sync(&self, guild_id: Id<GuildMarker>, at: u64) -> Result<(), StoreError> {
        Ok(self.items.put(schedule_item(&Schedule { guild_id, next_at: at })?, None).await?)
    }

    /// 1 Query on gsi1 (eventually consistent: a just-advanced guild may still show; `advance` decides).
    async fn due_syncs(&self, now: u64, limit: u32) -> Result<Vec<(Id<GuildMarker>, u64)>, StoreError> {
        // '~' sorts after every digit, so this includes every guild due in the second `now`.
        let upto = format!("{}#~", sortable_time(now));
        let query = Query::new(Index::Gsi1, keys::SCHEDULE_INDEX_PK, SortKeyRange::AtMost(upto)).limit(limit.max(1));
        let page = self.items.query(&query).await?;
        page.items.into_iter().map(|item| from_item::<Schedule>(item).map(|s| (s.guild_id, s.next_at))).collect()
    }

    /// 1 conditional PutItem.
    async fn advance(&self, guild_id: Id<GuildMarker>, due_at: u64, next_at: u64) -> Result<bool, StoreError> {
        let item = schedule_item(&Schedule { guild_id, next_at })?;
        match self.items.put(item, Some(Condition::Equals(NEXT_AT, json!(due_at)))).await {
            Ok(()) => Ok(true),
            Err(ItemError::ConditionFailed) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}

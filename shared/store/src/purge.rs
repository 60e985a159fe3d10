//! Forgetting a guild: when its tenant disconnects, every item of the guild's partition that
//! the tenant's use wrote (subjects, channels, members, links, runs, relays, teams, the
//! timeline, dead letters, job records, audit, settings) is deleted. A marker written in the
//! disconnect's own transaction fences the guild until the walk is done: nobody connects it
//! and reads what the last tenant left. The walk deletes page by page and can stop anywhere;
//! whoever runs next (the leave job, then every tick) picks it up where the items end.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use twilight_model::id::{Id, marker::GuildMarker};

use super::{
    Store, StoreError, from_item,
    items::{ItemStore, Key, Query, SortKeyRange},
    schema::{Index, attr, keys},
};

/// Items the walk leaves: the bot's own record in the guild (not the tenant's) and the
/// marker itself, deleted last.
const KEPT: [&str; 2] = ["BOT", keys::PURGE_SK];

/// What one step of the walk did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeStep {
    /// Deleted this many items; there may be more.
    Removed(u32),
    /// Nothing of the tenant is left: the marker is gone and the guild may be connected.
    Finished,
}

/// Who the guild is being forgotten for (shown nowhere; kept for the operator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeMarker {
    pub guild_id: Id<GuildMarker>,
    pub tenant_id: String,
}

#[async_trait]
pub trait PurgeStore: Send + Sync {
    /// Deletes up to `page` items of the guild's partition; `Finished` (marker deleted) once
    /// none is left. Safe to run twice at once: a delete of a deleted item is a no-op.
    async fn purge_step(&self, guild_id: Id<GuildMarker>, page: u32) -> Result<PurgeStep, StoreError>;
    /// Guilds whose purge is not finished, oldest first.
    async fn pending_purges(&self, limit: u32) -> Result<Vec<Id<GuildMarker>>, StoreError>;
}

#[async_trait]
impl<I: ItemStore> PurgeStore for Store<I> {
    /// 1 Query + 1 DeleteItem per item deleted (+1 DeleteItem for the marker at the end).
    async fn purge_step(&self, guild_id: Id<GuildMarker>, page: u32) -> Result<PurgeStep, StoreError> {
        let partition = keys::guild(guild_id.get());
        // Deleted items drop out of the next query, so each step starts at the beginning;
        // the kept items (two) never fill a page.
        let query =
            Query::new(Index::Table, partition.clone(), SortKeyRange::All).limit(page.max(KEPT.len() as u32 + 1));
        let found = self.items.query(&query).await?.items;
        let mut removed = 0;
        for item in &found {
            let Some(key) = Key::of(item) else { continue };
            if KEPT.contains(&key.sk.as_str()) {
                continue;
            }
            self.items.delete(&key, None).await?;
            removed += 1;
        }
        if removed > 0 {
            return Ok(PurgeStep::Removed(removed));
        }
        self.items.delete(&keys::guild_purge(guild_id.get()), None).await?;
        Ok(PurgeStep::Finished)
    }

    /// 1 Query on gsi1.
    async fn pending_purges(&self, limit: u32) -> Result<Vec<Id<GuildMarker>>, StoreError> {
        let query = Query::new(Index::Gsi1, keys::PURGE_INDEX_PK, SortKeyRange::All).limit(limit);
        let page = self.items.query(&query).await?;
        page.items
            .into_iter()
            .map(|mut item| {
                for name in [attr::GSI1_PK, attr::GSI1_SK] {
                    item.remove(name);
                }
                from_item::<PurgeMarker>(item).map(|marker| marker.guild_id)
            })
            .collect()
    }
}

/// The marker's item, for the disconnect's transaction.
pub(super) fn marker_item(marker: &PurgeMarker) -> Result<super::items::Item, StoreError> {
    let guild = marker.guild_id.get();
    super::to_item(
        &keys::guild_purge(guild),
        marker,
        &[(attr::GSI1_PK, keys::PURGE_INDEX_PK.into()), (attr::GSI1_SK, keys::guild(guild).into())],
    )
}

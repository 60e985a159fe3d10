//! Problems a worker met with the guild's settings when it used them (a log channel that is
//! not this guild's, a role that gained power): kept per field until the settings are saved
//! again, so the tenant sees why something did not happen instead of it silently not
//! happening.

use async_trait::async_trait;
use twilight_model::id::{Id, marker::GuildMarker};

use super::{
    Store, StoreError, from_item,
    items::{ItemStore, Key, Query, SortKeyRange},
    schema::{Index, keys},
    to_item,
};
use guildbridge_domain::SettingsProblem;

#[async_trait]
pub trait ProblemStore: Send + Sync {
    /// Records (or replaces) the problem with one field.
    async fn record_problem(&self, guild_id: Id<GuildMarker>, problem: &SettingsProblem) -> Result<(), StoreError>;
    /// The guild's open problems, by field.
    async fn settings_problems(&self, guild_id: Id<GuildMarker>) -> Result<Vec<SettingsProblem>, StoreError>;
    /// Forgets them all (the settings were saved, and checked, again).
    async fn clear_problems(&self, guild_id: Id<GuildMarker>) -> Result<(), StoreError>;
}

#[async_trait]
impl<I: ItemStore> ProblemStore for Store<I> {
    /// 1 PutItem.
    async fn record_problem(&self, guild_id: Id<GuildMarker>, problem: &SettingsProblem) -> Result<(), StoreError> {
        let item = to_item(&keys::settings_problem(guild_id.get(), &problem.field), problem, &[])?;
        Ok(self.items.put(item, None).await?)
    }

    /// 1 Query.
    async fn settings_problems(&self, guild_id: Id<GuildMarker>) -> Result<Vec<SettingsProblem>, StoreError> {
        let query = Query::new(
            Index::Table,
            keys::guild(guild_id.get()),
            SortKeyRange::BeginsWith(keys::SETTINGS_PROBLEM_PREFIX.to_owned()),
        )
        .limit(20);
        self.items.query(&query).await?.items.into_iter().map(from_item).collect()
    }

    /// 1 Query + 1 DeleteItem per problem.
    async fn clear_problems(&self, guild_id: Id<GuildMarker>) -> Result<(), StoreError> {
        for problem in self.settings_problems(guild_id).await? {
            let key: Key = keys::settings_problem(guild_id.get(), &problem.field);
            self.items.delete(&key, None).await?;
        }
        Ok(())
    }
}

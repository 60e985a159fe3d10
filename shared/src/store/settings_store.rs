//! Guild settings: defaults until saved, then optimistic concurrency on a version number.

use async_trait::async_trait;
use serde_json::json;
use twilight_model::id::{Id, marker::GuildMarker};

use super::{
    Store, StoreError, from_item,
    items::{Condition, ItemError, ItemStore, get_u64},
    schema::keys,
    to_item,
};
use crate::domain::{GuildSettings, VersionedSettings};

const VERSION: &str = "version";

#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// The guild's settings, or the defaults at version 0.
    async fn settings(&self, guild_id: Id<GuildMarker>) -> Result<VersionedSettings, StoreError>;
    /// Saves settings based on `expected_version`; returns the new version. Invalid settings
    /// are refused with every problem named and nothing written; a stale version is a
    /// `VersionConflict`, never a lost update.
    async fn update_settings(
        &self,
        guild_id: Id<GuildMarker>,
        expected_version: u64,
        settings: &GuildSettings,
    ) -> Result<u64, StoreError>;
}

#[async_trait]
impl<I: ItemStore> SettingsStore for Store<I> {
    /// 1 GetItem.
    async fn settings(&self, guild_id: Id<GuildMarker>) -> Result<VersionedSettings, StoreError> {
        match self.items.get(&keys::settings(guild_id.get())).await? {
            None => Ok(VersionedSettings { settings: GuildSettings::default(), version: 0 }),
            Some(item) => {
                let version = get_u64(&item, VERSION)?;
                Ok(VersionedSettings { settings: from_item(item)?, version })
            }
        }
    }

    /// 1 conditional PutItem (nothing when invalid).
    async fn update_settings(
        &self,
        guild_id: Id<GuildMarker>,
        expected_version: u64,
        settings: &GuildSettings,
    ) -> Result<u64, StoreError> {
        settings.validate()?;
        let version = expected_version + 1;
        let item = to_item(&keys::settings(guild_id.get()), settings, &[(VERSION, json!(version))])?;
        let condition = match expected_version {
            0 => Condition::NotExists,
            _ => Condition::Equals(VERSION, json!(expected_version)),
        };
        match self.items.put(item, Some(condition)).await {
            Err(ItemError::ConditionFailed) => Err(StoreError::VersionConflict),
            other => other.map(|()| version).map_err(StoreError::from),
        }
    }
}

//! Guild settings: defaults until saved, then optimistic concurrency on a version number.

use async_trait::async_trait;
use serde_json::json;
use twilight_model::id::{Id, marker::GuildMarker};

use super::{
    Store, StoreError, from_item,
    items::{Condition, ItemError, ItemStore, TxWrite, get_u64},
    schema::keys,
    to_item,
};
use guildbridge_domain::{AuditEntry, GuildSettings, VersionedSettings};

const VERSION: &str = "version";

/// A write based on `expected_version`: the first save needs nothing there, later ones the
/// version read.
fn based_on(expected_version: u64) -> Condition {
    match expected_version {
        0 => Condition::NotExists,
        _ => Condition::Equals(VERSION, json!(expected_version)),
    }
}

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
    /// As [`Self::update_settings`], and records who changed which fields, in the same
    /// transaction: a change is never saved without its audit entry. Nothing changed, nothing
    /// written (the version stays).
    async fn save_settings(
        &self,
        guild_id: Id<GuildMarker>,
        expected_version: u64,
        settings: &GuildSettings,
        actor: Actor<'_>,
        now: u64,
    ) -> Result<u64, StoreError>;
}

/// Who makes a change, as the audit log names them.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub id: &'a str,
    pub name: &'a str,
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
        let condition = based_on(expected_version);
        match self.items.put(item, Some(condition)).await {
            Err(ItemError::ConditionFailed) => Err(StoreError::VersionConflict),
            other => other.map(|()| version).map_err(StoreError::from),
        }
    }

    /// 1 GetItem + 1 TransactWriteItems (the settings and the audit entry).
    async fn save_settings(
        &self,
        guild_id: Id<GuildMarker>,
        expected_version: u64,
        settings: &GuildSettings,
        actor: Actor<'_>,
        now: u64,
    ) -> Result<u64, StoreError> {
        settings.validate()?;
        let current = self.settings(guild_id).await?;
        if current.version != expected_version {
            return Err(StoreError::VersionConflict);
        }
        let as_json = |settings: &GuildSettings| serde_json::to_value(settings).unwrap_or_default();
        let changes = AuditEntry::diff(&as_json(&current.settings), &as_json(settings));
        if changes.is_empty() {
            return Ok(current.version);
        }
        let entry = AuditEntry { at: now, actor_id: actor.id.to_owned(), actor_name: actor.name.to_owned(), changes };
        let version = expected_version + 1;
        let writes = vec![
            TxWrite::Put {
                item: to_item(&keys::settings(guild_id.get()), settings, &[(VERSION, json!(version))])?,
                condition: Some(based_on(expected_version)),
            },
            TxWrite::Put { item: super::audit::audit_item(guild_id, &entry)?, condition: None },
        ];
        match self.items.transact(writes).await {
            Err(ItemError::TransactionCancelled(_)) => Err(StoreError::VersionConflict),
            other => other.map(|()| version).map_err(StoreError::from),
        }
    }
}

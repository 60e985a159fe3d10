//! The audit log of settings changes, newest first, kept a year.

use async_trait::async_trait;
use guildbridge_domain::error::Cause;
use serde_json::json;
use twilight_model::id::{Id, marker::GuildMarker};

use super::{
    Store, StoreError, from_item,
    items::{ItemStore, Query, SortKeyRange},
    schema::{Index, attr, keys},
    to_item,
};
use guildbridge_domain::{AUDIT_RETENTION_SECS, AuditEntry};

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// The guild's latest `limit` entries, newest first.
    async fn audit_log(&self, guild_id: Id<GuildMarker>, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;
}

/// The item an entry is stored as (written in the same transaction as the change it records).
pub(super) fn audit_item(guild_id: Id<GuildMarker>, entry: &AuditEntry) -> Result<super::items::Item, StoreError> {
    let mut nonce = [0u8; 6];
    getrandom::fill(&mut nonce).map_err(|e| StoreError::Retryable(Cause::described(format!("no randomness: {e}"))))?;
    let key = keys::audit(guild_id.get(), entry.at, &hex::encode(nonce));
    to_item(&key, entry, &[(attr::EXPIRES_AT, json!(entry.at + AUDIT_RETENTION_SECS))])
}

#[async_trait]
impl<I: ItemStore> AuditStore for Store<I> {
    /// 1 Query.
    async fn audit_log(&self, guild_id: Id<GuildMarker>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let query = Query::new(
            Index::Table,
            keys::guild(guild_id.get()),
            SortKeyRange::BeginsWith(keys::AUDIT_PREFIX.to_owned()),
        )
        .descending()
        .limit(limit.max(1));
        self.items.query(&query).await?.items.into_iter().map(from_item).collect()
    }
}

//! Tenant API keys: stored as SHA-256 hashes, looked up by the key presented, revocable,
//! optionally expiring, each recording who made it through which door.

use async_trait::async_trait;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use guildbridge_domain::error::Cause;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    Store, StoreError, from_item,
    items::{Condition, ItemError, ItemStore, Query, SortKeyRange, TxWrite},
    schema::{Index, attr, keys},
    to_item,
};
use guildbridge_domain::{ApiKeyRecord, KeyGrant, TenantId};

/// A newly issued key: shown to the tenant once, never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedKey {
    pub record: ApiKeyRecord,
    pub secret: String,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey").field("record", &self.record).field("secret", &"<redacted>").finish()
    }
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// A new key for the tenant, recording how it was made.
    async fn issue_key(&self, tenant_id: &TenantId, grant: KeyGrant, now: u64) -> Result<IssuedKey, StoreError>;
    /// A key the operator makes (the CLI, the local stack).
    async fn issue_api_key(&self, tenant_id: &TenantId, now: u64) -> Result<IssuedKey, StoreError> {
        self.issue_key(tenant_id, KeyGrant::operator(), now).await
    }
    /// The tenant a presented key belongs to, unless unknown, revoked or expired at `now`;
    /// with the key's id.
    async fn tenant_for_key(&self, secret: &str, now: u64) -> Result<Option<(TenantId, String)>, StoreError>;
    /// Revokes one of the tenant's keys; another tenant's key id is `NotFound`.
    async fn revoke_api_key(&self, tenant_id: &TenantId, key_id: &str, now: u64) -> Result<(), StoreError>;
    /// Revokes one of the tenant's keys unless no other usable key would be left
    /// (`Conflict`): a platform rotating its keys cannot lock itself out, however many
    /// revocations race (each is conditional on another key staying usable).
    async fn revoke_api_key_keeping_one(&self, tenant_id: &TenantId, key_id: &str, now: u64) -> Result<(), StoreError>;
    async fn api_keys(&self, tenant_id: &TenantId) -> Result<Vec<ApiKeyRecord>, StoreError>;
}

/// What revoking the last usable key is refused with.
pub const LAST_USABLE_KEY: &str = "the last usable key of this tenant (make another first)";

const PREFIX: &str = "gbk_";

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The record's item; `revoked` is a flag a condition can test (the revocation guard).
fn key_item(record: &ApiKeyRecord, hashed: &str) -> Result<super::items::Item, StoreError> {
    to_item(
        &keys::api_key(hashed),
        record,
        &[
            (attr::GSI1_PK, json!(keys::tenant_api_keys(&record.tenant_id))),
            (attr::GSI1_SK, json!(record.key_id)),
            (REVOKED, json!(record.revoked_at.is_some())),
        ],
    )
}

const REVOKED: &str = "revoked";

fn hash_of(item: &super::items::Item) -> Result<String, StoreError> {
    item.get(attr::PK)
        .and_then(serde_json::Value::as_str)
        .and_then(|pk| pk.strip_prefix("APIKEY#"))
        .map(str::to_owned)
        .ok_or_else(|| StoreError::Corrupt(Cause::described("API key item without its hash")))
}

impl<I: ItemStore> Store<I> {
    async fn tenant_key(
        &self,
        tenant_id: &TenantId,
        key_id: &str,
    ) -> Result<Option<(ApiKeyRecord, String)>, StoreError> {
        let query = Query::new(
            Index::Gsi1,
            keys::tenant_api_keys(tenant_id),
            SortKeyRange::Between(key_id.to_owned(), key_id.to_owned()),
        );
        let Some(item) = self.items.query(&query).await?.items.into_iter().next() else { return Ok(None) };
        let hashed = hash_of(&item)?;
        Ok(Some((from_item(item)?, hashed)))
    }

    /// Every key of the tenant with its hash.
    async fn tenant_keys(&self, tenant_id: &TenantId) -> Result<Vec<(ApiKeyRecord, String)>, StoreError> {
        let query = Query::new(Index::Gsi1, keys::tenant_api_keys(tenant_id), SortKeyRange::All);
        let mut found = Vec::new();
        for mut item in self.items.query(&query).await?.items {
            let hashed = hash_of(&item)?;
            item.remove(REVOKED);
            found.push((from_item(item)?, hashed));
        }
        Ok(found)
    }
}

#[async_trait]
impl<I: ItemStore> ApiKeyStore for Store<I> {
    /// 1 conditional PutItem.
    async fn issue_key(&self, tenant_id: &TenantId, grant: KeyGrant, now: u64) -> Result<IssuedKey, StoreError> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random)
            .map_err(|e| StoreError::Retryable(Cause::described(format!("no randomness: {e}"))))?;
        let secret = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(random));
        let hashed = hash(&secret);
        let record = ApiKeyRecord {
            key_id: hashed[..16].to_owned(),
            tenant_id: tenant_id.to_owned(),
            created_at: now,
            revoked_at: None,
            door: grant.door,
            created_by: Some(grant.created_by),
            expires_at: grant.expires_at,
        };
        match self.items.put(key_item(&record, &hashed)?, Some(Condition::NotExists)).await {
            Err(ItemError::ConditionFailed) => Err(StoreError::AlreadyExists("an API key with this hash")),
            other => other.map(|()| IssuedKey { record, secret }).map_err(StoreError::from),
        }
    }

    /// 1 GetItem.
    async fn tenant_for_key(&self, secret: &str, now: u64) -> Result<Option<(TenantId, String)>, StoreError> {
        if !secret.starts_with(PREFIX) {
            return Ok(None);
        }
        let item = self.items.get(&keys::api_key(&hash(secret))).await?;
        let record: Option<ApiKeyRecord> = item
            .map(|mut item| {
                item.remove(REVOKED);
                from_item(item)
            })
            .transpose()?;
        Ok(record.filter(|record| record.usable_at(now)).map(|record| (record.tenant_id, record.key_id)))
    }

    /// 1 Query on gsi1 + 1 conditional PutItem.
    async fn revoke_api_key(&self, tenant_id: &TenantId, key_id: &str, now: u64) -> Result<(), StoreError> {
        let Some((record, hashed)) = self.tenant_key(tenant_id, key_id).await? else {
            return Err(StoreError::NotFound("API key"));
        };
        let revoked = ApiKeyRecord { revoked_at: Some(now), ..record };
        let same_tenant = Condition::Equals("tenant_id", json!(tenant_id));
        Ok(self.items.put(key_item(&revoked, &hashed)?, Some(same_tenant)).await?)
    }

    /// 1 Query on gsi1 + 1 TransactWriteItems (the revocation, and a check that another
    /// usable key is not revoked meanwhile); again with the next key when one was.
    async fn revoke_api_key_keeping_one(&self, tenant_id: &TenantId, key_id: &str, now: u64) -> Result<(), StoreError> {
        for _ in 0..3 {
            let found = self.tenant_keys(tenant_id).await?;
            let Some((record, hashed)) = found.iter().find(|(record, _)| record.key_id == key_id).cloned() else {
                return Err(StoreError::NotFound("API key"));
            };
            if record.revoked_at.is_some() {
                return Ok(());
            }
            let Some((_, other)) =
                found.iter().find(|(other, _)| other.key_id != key_id && other.usable_at(now)).cloned()
            else {
                return Err(StoreError::Conflict(LAST_USABLE_KEY));
            };
            let revoked = ApiKeyRecord { revoked_at: Some(now), ..record };
            let still_live = Condition::NotEquals(REVOKED, json!(true));
            let writes = vec![
                TxWrite::Put {
                    item: key_item(&revoked, &hashed)?,
                    condition: Some(Condition::Equals("tenant_id", json!(tenant_id)).and(still_live.clone())),
                },
                TxWrite::Check { key: keys::api_key(&other), condition: still_live },
            ];
            match self.items.transact(writes).await {
                Ok(()) => return Ok(()),
                // Another revocation won the race: look again.
                Err(ItemError::TransactionCancelled(_)) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(StoreError::Conflict(LAST_USABLE_KEY))
    }

    /// 1 Query on gsi1.
    async fn api_keys(&self, tenant_id: &TenantId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        Ok(self.tenant_keys(tenant_id).await?.into_iter().map(|(record, _)| record).collect())
    }
}

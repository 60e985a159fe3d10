//! Tenant API keys: stored as SHA-256 hashes, looked up by the key presented, revocable.

use async_trait::async_trait;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    Store, StoreError, from_item,
    items::{Condition, ItemError, ItemStore, Query, SortKeyRange},
    schema::{Index, attr, keys},
    to_item,
};
use crate::domain::{ApiKeyRecord, TenantId};

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
    async fn issue_api_key(&self, tenant_id: &TenantId, now: u64) -> Result<IssuedKey, StoreError>;
    /// The tenant a presented key belongs to, unless unknown or revoked.
    async fn tenant_for_key(&self, secret: &str) -> Result<Option<TenantId>, StoreError>;
    /// Revokes one of the tenant's keys; another tenant's key id is `NotFound`.
    async fn revoke_api_key(&self, tenant_id: &TenantId, key_id: &str, now: u64) -> Result<(), StoreError>;
    async fn api_keys(&self, tenant_id: &TenantId) -> Result<Vec<ApiKeyRecord>, StoreError>;
}

const PREFIX: &str = "gbk_";

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn key_item(record: &ApiKeyRecord, hashed: &str) -> Result<super::items::Item, StoreError> {
    to_item(
        &keys::api_key(hashed),
        record,
        &[(attr::GSI1_PK, json!(keys::tenant_api_keys(&record.tenant_id))), (attr::GSI1_SK, json!(record.key_id))],
    )
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
        let hashed = item
            .get(attr::PK)
            .and_then(serde_json::Value::as_str)
            .and_then(|pk| pk.strip_prefix("APIKEY#"))
            .map(str::to_owned)
            .ok_or_else(|| StoreError::Corrupt("API key item without its hash".to_owned()))?;
        Ok(Some((from_item(item)?, hashed)))
    }
}

#[async_trait]
impl<I: ItemStore> ApiKeyStore for Store<I> {
    /// 1 conditional PutItem.
    async fn issue_api_key(&self, tenant_id: &TenantId, now: u64) -> Result<IssuedKey, StoreError> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| StoreError::Retryable(format!("no randomness: {e}")))?;
        let secret = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(random));
        let hashed = hash(&secret);
        let record = ApiKeyRecord {
            key_id: hashed[..16].to_owned(),
            tenant_id: tenant_id.to_owned(),
            created_at: now,
            revoked_at: None,
        };
        match self.items.put(key_item(&record, &hashed)?, Some(Condition::NotExists)).await {
            Err(ItemError::ConditionFailed) => Err(StoreError::AlreadyExists("an API key with this hash")),
            other => other.map(|()| IssuedKey { record, secret }).map_err(StoreError::from),
        }
    }

    /// 1 GetItem.
    async fn tenant_for_key(&self, secret: &str) -> Result<Option<TenantId>, StoreError> {
        if !secret.starts_with(PREFIX) {
            return Ok(None);
        }
        let record: Option<ApiKeyRecord> =
            self.items.get(&keys::api_key(&hash(secret))).await?.map(from_item).transpose()?;
        Ok(record.filter(|record| record.revoked_at.is_none()).map(|record| record.tenant_id))
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

    /// 1 Query on gsi1.
    async fn api_keys(&self, tenant_id: &TenantId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let query = Query::new(Index::Gsi1, keys::tenant_api_keys(tenant_id), SortKeyRange::All);
        self.items.query(&query).await?.items.into_iter().map(from_item).collect()
    }
}

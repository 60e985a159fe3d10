//! A tenant's webhook endpoint, each event's delivery (claimed by one copy, so a second copy
//! of the same event never delivers twice), and the log of attempts the tenant reads.

use async_trait::async_trait;
use guildbridge_domain::error::Cause;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    Store, StoreError, from_item,
    items::{Condition, ItemError, ItemStore, Query, SortKeyRange},
    schema::{Index, attr, keys},
    to_item,
};
use guildbridge_domain::{EventType, TenantId, WebhookEndpoint};

/// How long a delivery's record (and with it the deduplication of its event) is kept.
pub const DELIVERY_RETENTION_SECS: u64 = 3 * 24 * 3600;
/// How long attempts stay in the tenant's log.
pub const ATTEMPT_RETENTION_SECS: u64 = 7 * 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    /// Given up on: recorded as a dead letter.
    Dead,
}

/// One event's delivery: which copy owns it, how far it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub event_id: String,
    pub owner: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub updated_at: u64,
}

/// What a copy of an event finds when it claims the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryClaim {
    /// This copy delivers; it has been tried this many times before.
    Ours { attempts: u32, status: DeliveryStatus },
    /// Another copy of the same event owns the delivery: drop this one.
    OtherCopy,
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    Delivered,
    /// Tried again later.
    Failed,
    /// Given up.
    Dead,
    /// Not sent: the endpoint is paused.
    Paused,
}

impl DeliveryOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Dead => "dead",
            Self::Paused => "paused",
        }
    }
}

/// One attempt, as `GET /v1/webhook/deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub event_id: String,
    pub event_type: EventType,
    pub attempt: u32,
    pub outcome: DeliveryOutcome,
    /// The HTTP status the endpoint answered, when it answered.
    pub status: Option<u16>,
    pub latency_ms: u64,
    /// Why it failed, with a short excerpt of the answer.
    pub error: Option<String>,
    pub at: u64,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Sets the tenant's endpoint, whatever was there.
    async fn put_webhook(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError>;
    /// Replaces the endpoint only while it is still as `based_on` was read (a rotation, a
    /// pause or a resume racing another change fails with `VersionConflict`).
    async fn replace_webhook(&self, endpoint: &WebhookEndpoint, based_on: &WebhookEndpoint) -> Result<(), StoreError>;
    async fn webhook(&self, tenant_id: &TenantId) -> Result<Option<WebhookEndpoint>, StoreError>;
    /// `true` when there was one.
    async fn delete_webhook(&self, tenant_id: &TenantId) -> Result<bool, StoreError>;
    /// Claims the event's delivery for `copy` (the first copy to claim owns it).
    async fn claim_delivery(
        &self,
        tenant_id: &TenantId,
        event_id: &str,
        copy: &str,
        now: u64,
    ) -> Result<DeliveryClaim, StoreError>;
    /// Records an attempt in the log and on the delivery (which `copy` must still own).
    async fn record_attempt(
        &self,
        tenant_id: &TenantId,
        copy: &str,
        attempt: &DeliveryAttempt,
        status: DeliveryStatus,
    ) -> Result<(), StoreError>;
    /// The most recent attempts first.
    async fn delivery_attempts(&self, tenant_id: &TenantId, limit: u32) -> Result<Vec<DeliveryAttempt>, StoreError>;
}

#[async_trait]
impl<I: ItemStore> WebhookStore for Store<I> {
    /// 1 PutItem.
    async fn put_webhook(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError> {
        let key = keys::webhook(endpoint.tenant_id.as_str());
        Ok(self.items.put(to_item(&key, endpoint, &[])?, None).await?)
    }

    /// 1 conditional PutItem.
    async fn replace_webhook(&self, endpoint: &WebhookEndpoint, based_on: &WebhookEndpoint) -> Result<(), StoreError> {
        let key = keys::webhook(endpoint.tenant_id.as_str());
        let mut next = endpoint.clone();
        next.version = based_on.version + 1;
        let condition = Condition::Equals("version", json!(based_on.version));
        match self.items.put(to_item(&key, &next, &[])?, Some(condition)).await {
            Ok(()) => Ok(()),
            Err(ItemError::ConditionFailed) => Err(StoreError::VersionConflict),
            Err(error) => Err(error.into()),
        }
    }

    /// 1 GetItem.
    async fn webhook(&self, tenant_id: &TenantId) -> Result<Option<WebhookEndpoint>, StoreError> {
        self.items.get(&keys::webhook(tenant_id.as_str())).await?.map(from_item).transpose()
    }

    /// 1 DeleteItem.
    async fn delete_webhook(&self, tenant_id: &TenantId) -> Result<bool, StoreError> {
        match self.items.delete(&keys::webhook(tenant_id.as_str()), Some(Condition::Exists)).await {
            Ok(()) => Ok(true),
            Err(ItemError::ConditionFailed) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// 1 conditional PutItem; a GetItem when the delivery was claimed before.
    async fn claim_delivery(
        &self,
        tenant_id: &TenantId,
        event_id: &str,
        copy: &str,
        now: u64,
    ) -> Result<DeliveryClaim, StoreError> {
        let key = keys::webhook_delivery(tenant_id.as_str(), event_id);
        let record = DeliveryRecord {
            event_id: event_id.to_owned(),
            owner: copy.to_owned(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            updated_at: now,
        };
        let expires = (attr::EXPIRES_AT, json!(now + DELIVERY_RETENTION_SECS));
        // An expired record (not yet removed by DynamoDB's TTL) counts as absent.
        let vacant = Condition::NotExists.or(Condition::LessThan(attr::EXPIRES_AT, json!(now + 1)));
        match self.items.put(to_item(&key, &record, &[expires])?, Some(vacant)).await {
            Ok(()) => return Ok(DeliveryClaim::Ours { attempts: 0, status: DeliveryStatus::Pending }),
            Err(ItemError::ConditionFailed) => {}
            Err(error) => return Err(error.into()),
        }
        // The owner was fixed by the condition above; this read only learns who it is.
        let Some(item) = self.items.get(&key).await? else {
            return Err(StoreError::Retryable(Cause::described("the delivery record expired while being read")));
        };
        let stored: DeliveryRecord = from_item(item)?;
        Ok(if stored.owner == copy {
            DeliveryClaim::Ours { attempts: stored.attempts, status: stored.status }
        } else {
            DeliveryClaim::OtherCopy
        })
    }

    /// 1 TransactWriteItems (the log entry and the delivery record).
    async fn record_attempt(
        &self,
        tenant_id: &TenantId,
        copy: &str,
        attempt: &DeliveryAttempt,
        status: DeliveryStatus,
    ) -> Result<(), StoreError> {
        let record = DeliveryRecord {
            event_id: attempt.event_id.clone(),
            owner: copy.to_owned(),
            status,
            attempts: attempt.attempt,
            updated_at: attempt.at,
        };
        let delivery_key = keys::webhook_delivery(tenant_id.as_str(), &attempt.event_id);
        let delivery =
            to_item(&delivery_key, &record, &[(attr::EXPIRES_AT, json!(attempt.at + DELIVERY_RETENTION_SECS))])?;
        let log_key = keys::webhook_attempt(tenant_id.as_str(), attempt.at, &attempt.event_id, attempt.attempt);
        let log = to_item(&log_key, attempt, &[(attr::EXPIRES_AT, json!(attempt.at + ATTEMPT_RETENTION_SECS))])?;
        let writes = vec![
            super::items::TxWrite::Put { item: delivery, condition: Some(Condition::Equals("owner", json!(copy))) },
            super::items::TxWrite::Put { item: log, condition: None },
        ];
        match self.items.transact(writes).await {
            Ok(()) => Ok(()),
            Err(ItemError::TransactionCancelled(_) | ItemError::ConditionFailed) => {
                Err(StoreError::Conflict("another copy owns this delivery"))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// 1 Query.
    async fn delivery_attempts(&self, tenant_id: &TenantId, limit: u32) -> Result<Vec<DeliveryAttempt>, StoreError> {
        let query = Query::new(
            Index::Table,
            keys::tenant(tenant_id.as_str()),
            SortKeyRange::BeginsWith(keys::WEBHOOK_ATTEMPT_PREFIX.to_owned()),
        )
        .descending()
        .limit(limit.max(1));
        self.items.query(&query).await?.items.into_iter().map(from_item).collect()
    }
}

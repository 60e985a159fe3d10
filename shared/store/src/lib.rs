//! Persistence. Domain ports (one trait per use case, so each consumer takes the narrowest),
//! written once over the item-level [`items::ItemStore`] port, which two adapters implement:
//! `guildbridge_aws::dynamo::DynamoItems` (production) and [`embedded::EmbeddedItems`] (the
//! local stack). The [`queue`] port and its embedded adapter live here too: both are what
//! the use cases hold, and neither needs AWS.
//!
//! Every "one X per Y" rule is a condition or a transaction on the store itself, never a
//! read followed by a write. Each operation's DynamoDB cost is written beside it.

#[cfg(feature = "embedded")]
pub mod embedded;
pub mod items;
pub mod queue;
pub mod schema;

pub mod api_keys;
mod audit;
mod channels;
mod dead_letters;
mod idempotency;
mod job_records;
mod limits;
mod members;
mod paging;
mod problems;
mod purge;
mod relays;
mod schedule;
mod sessions;
mod settings_store;
mod subjects;
mod sync_runs;
mod teams;
mod tenants;
mod timeline;
mod webhooks;

use guildbridge_domain::error::Cause;
use std::sync::Arc;

use serde::{Serialize, de::DeserializeOwned};

use self::items::{Item, ItemError, ItemStore, Key};
pub use self::{
    api_keys::{ApiKeyStore, IssuedKey},
    audit::AuditStore,
    channels::{ChannelStore, ClaimOutcome, MappingPage},
    dead_letters::{DeadLetterRecord, DeadLetterStore},
    idempotency::{FirstOrSeen, IdempotencyStore},
    job_records::{JOB_RECORD_TTL, JobRecord, JobRecordStore, JobStatus, is_job_id},
    limits::{Admission, RateStore},
    members::{LinkStore, MemberStore, StoredMember},
    paging::Paged,
    problems::ProblemStore,
    purge::{PurgeMarker, PurgeStep, PurgeStore},
    relays::{GatewayPulse, IntentStatus, RelayGuild, RelayStore, RelayedChannel},
    schedule::{BackfillState, ScheduleStore, SyncSchedule},
    sessions::SessionStore,
    settings_store::{Actor, SettingsStore},
    subjects::SubjectStore,
    sync_runs::SyncRunStore,
    teams::TeamStore,
    tenants::TenantStore,
    timeline::{ActionOutcome, ActionRecord, BOARD_TURN, Decision, DueAction, TimelineStore},
    webhooks::{DeliveryAttempt, DeliveryClaim, DeliveryOutcome, DeliveryStatus, WebhookStore},
};
use guildbridge_domain::{SettingsErrors, SyncLease};

/// Every domain port at once, for hosts that hand one store to many use cases
/// (`Arc<dyn DomainStore>`); each use case still names the narrowest port it needs.
pub trait DomainStore:
    TenantStore
    + SettingsStore
    + SubjectStore
    + ChannelStore
    + MemberStore
    + LinkStore
    + SyncRunStore
    + ScheduleStore
    + IdempotencyStore
    + ApiKeyStore
    + JobLedger
    + SessionStore
    + AuditStore
    + WebhookStore
    + RelayStore
    + TeamStore
    + TimelineStore
    + PurgeStore
    + RateStore
    + ProblemStore
{
}

impl<I: ItemStore> DomainStore for Store<I> {}

/// Where workers write what became of their jobs: each job's record, and the dead letters.
pub trait JobLedger: DeadLetterStore + JobRecordStore {}

impl<T: DeadLetterStore + JobRecordStore + ?Sized> JobLedger for T {}

/// What a store operation can end in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A one-to-one or one-per rule refused the write; says which.
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// The settings changed since the version the update was based on.
    #[error("settings were changed by someone else; reload and try again")]
    VersionConflict,
    /// Another sync of this guild holds the lease.
    #[error("a sync is already running (run {} since {})", .0.run_id, .0.started_at)]
    LeaseHeld(SyncLease),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The stored state does not allow this transition (e.g. completing someone else's claim).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A page cursor that is damaged or came from another listing.
    #[error("the page cursor is not valid here")]
    BadCursor,
    #[error(transparent)]
    InvalidSettings(#[from] SettingsErrors),
    /// Retry later: DynamoDB throttled or the store is unreachable.
    #[error("storage is busy or unreachable")]
    Retryable(#[source] Cause),
    #[error("stored data is not what Guildbridge wrote")]
    Corrupt(#[source] Cause),
    /// A deployment problem (missing table, denied access, invalid request): not retried.
    #[error("storage is misconfigured")]
    Misconfigured(#[source] Cause),
}

impl StoreError {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Retryable(_))
    }
}

impl From<ItemError> for StoreError {
    fn from(error: ItemError) -> Self {
        match error {
            ItemError::Throttled | ItemError::Unavailable(_) => StoreError::Retryable(Cause::new(error)),
            ItemError::Corrupt(_) => StoreError::Corrupt(Cause::new(error)),
            ItemError::Misconfigured(_) => StoreError::Misconfigured(Cause::new(error)),
            // Domain code maps condition failures to what they mean before they get here.
            ItemError::ConditionFailed | ItemError::TransactionCancelled(_) => StoreError::Conflict("condition failed"),
        }
    }
}

/// Every domain port, over one item store.
#[derive(Debug)]
pub struct Store<I> {
    items: Arc<I>,
}

impl<I> Clone for Store<I> {
    fn clone(&self) -> Self {
        Self { items: self.items.clone() }
    }
}

impl<I: ItemStore> Store<I> {
    pub fn new(items: I) -> Self {
        Self { items: Arc::new(items) }
    }

    /// The item store underneath (for call counts in tests and benchmarks).
    pub fn items(&self) -> &I {
        &self.items
    }
}

/// A domain value as an item under `key`, with extra attributes (index keys, expiry).
fn to_item<T: Serialize>(key: &Key, value: &T, extra: &[(&str, serde_json::Value)]) -> Result<Item, StoreError> {
    let serde_json::Value::Object(mut item) =
        serde_json::to_value(value).map_err(|e| StoreError::Corrupt(Cause::new(e)))?
    else {
        return Err(StoreError::Corrupt(Cause::described("domain values are objects")));
    };
    item.insert(schema::attr::PK.to_owned(), key.pk.clone().into());
    item.insert(schema::attr::SK.to_owned(), key.sk.clone().into());
    for (name, value) in extra {
        item.insert((*name).to_owned(), value.clone());
    }
    Ok(item)
}

fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::Object(item)).map_err(|e| StoreError::Corrupt(Cause::new(e)))
}

//! Records that make repeated deliveries harmless: the first writer of a key wins, later
//! writers see what it stored, until the record expires.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{
    Store, StoreError,
    items::{Condition, Item, ItemError, ItemStore},
    schema::{attr, keys},
};

/// What an idempotency record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstOrSeen {
    /// This caller is first; the outcome was stored.
    First,
    /// Someone was first; this is what they stored.
    Seen(serde_json::Value),
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Stores `outcome` under (`scope`, `key`) for `ttl` unless a live record is there.
    async fn remember(
        &self,
        scope: &str,
        key: &str,
        outcome: Value,
        now: u64,
        ttl: Duration,
    ) -> Result<FirstOrSeen, StoreError>;
    /// The live record's outcome, if any.
    async fn recall(&self, scope: &str, key: &str, now: u64) -> Result<Option<Value>, StoreError>;
}

const OUTCOME: &str = "outcome";

fn live(item: &Item, now: u64) -> bool {
    item.get(attr::EXPIRES_AT).and_then(Value::as_u64).is_some_and(|expires_at| expires_at > now)
}

#[async_trait]
impl<I: ItemStore> IdempotencyStore for Store<I> {
    /// 1 conditional PutItem; + 1 GetItem when a record is there.
    async fn remember(
        &self,
        scope: &str,
        key: &str,
        outcome: Value,
        now: u64,
        ttl: Duration,
    ) -> Result<FirstOrSeen, StoreError> {
        let record_key = keys::idempotency(scope, key);
        let mut item = Item::new();
        item.insert(attr::PK.to_owned(), json!(record_key.pk));
        item.insert(attr::SK.to_owned(), json!(record_key.sk));
        item.insert(OUTCOME.to_owned(), outcome);
        item.insert(attr::EXPIRES_AT.to_owned(), json!(now + ttl.as_secs()));
        // DynamoDB deletes expired items only eventually: an expired record counts as absent.
        let vacant = Condition::NotExists.or(Condition::LessThan(attr::EXPIRES_AT, json!(now + 1)));
        match self.items.put(item, Some(vacant)).await {
            Ok(()) => Ok(FirstOrSeen::First),
            Err(ItemError::ConditionFailed) => match self.recall(scope, key, now).await? {
                Some(stored) => Ok(FirstOrSeen::Seen(stored)),
                None => Err(StoreError::Conflict("the record expired while being read; try again")),
            },
            Err(error) => Err(error.into()),
        }
    }

    /// 1 GetItem.
    async fn recall(&self, scope: &str, key: &str, now: u64) -> Result<Option<Value>, StoreError> {
        let item = self.items.get(&keys::idempotency(scope, key)).await?;
        Ok(item.filter(|item| live(item, now)).and_then(|mut item| item.remove(OUTCOME)))
    }
}

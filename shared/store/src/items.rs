//! The item-level port both storage adapters implement: DynamoDB's data model, reduced to
//! the operations Guildbridge uses. Every domain store is written once against this, so the
//! DynamoDB table and the embedded store cannot drift apart in behaviour.

use async_trait::async_trait;
use guildbridge_domain::error::Cause;
use serde_json::{Map, Value};

use super::schema::{Index, attr};

/// One item: attribute name to JSON value (strings, integers, booleans, lists, maps).
pub type Item = Map<String, Value>;

/// A primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self { pk: pk.into(), sk: sk.into() }
    }

    /// The key of a stored item.
    pub fn of(item: &Item) -> Option<Self> {
        Some(Self::new(item.get(attr::PK)?.as_str()?, item.get(attr::SK)?.as_str()?))
    }
}

/// A condition on the item currently stored under a key (absent counts as no attributes).
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// No item is stored under the key.
    NotExists,
    /// An item is stored under the key.
    Exists,
    /// The attribute is present and equal to the value.
    Equals(&'static str, Value),
    /// The attribute is present and less than the value (numbers, or strings by bytes).
    LessThan(&'static str, Value),
    /// The attribute is absent or different from the value.
    NotEquals(&'static str, Value),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
}

impl Condition {
    pub fn and(self, other: Condition) -> Condition {
        Condition::And(Box::new(self), Box::new(other))
    }

    pub fn or(self, other: Condition) -> Condition {
        Condition::Or(Box::new(self), Box::new(other))
    }

    /// Evaluates the condition against the stored item, as DynamoDB would.
    pub fn holds(&self, stored: Option<&Item>) -> bool {
        match self {
            Condition::NotExists => stored.is_none(),
            Condition::Exists => stored.is_some(),
            Condition::Equals(name, value) => stored.and_then(|item| item.get(*name)) == Some(value),
            Condition::NotEquals(name, value) => stored.and_then(|item| item.get(*name)) != Some(value),
            Condition::LessThan(name, value) => {
                stored.and_then(|item| item.get(*name)).is_some_and(|current| less_than(current, value))
            }
            Condition::And(a, b) => a.holds(stored) && b.holds(stored),
            Condition::Or(a, b) => a.holds(stored) || b.holds(stored),
        }
    }
}

fn less_than(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(a), Some(b)) => a < b,
            _ => a.as_f64().zip(b.as_f64()).is_some_and(|(a, b)| a < b),
        },
        (Value::String(a), Value::String(b)) => a.as_bytes() < b.as_bytes(),
        _ => false,
    }
}

/// One write of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum TxWrite {
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    /// Asserts a condition on an item without writing it.
    Check {
        key: Key,
        condition: Condition,
    },
}

/// Which sort keys a query reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKeyRange {
    All,
    BeginsWith(String),
    /// Inclusive at both ends.
    Between(String, String),
    AtMost(String),
    AtLeast(String),
}

/// A query over one partition of the table or of an index.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub sk: SortKeyRange,
    /// Applied after reading, as DynamoDB's filter expressions are (they save no reads).
    pub filter: Option<Condition>,
    pub ascending: bool,
    pub limit: Option<u32>,
    pub start_after: Option<Item>,
}

impl Query {
    pub fn new(index: Index, pk: impl Into<String>, sk: SortKeyRange) -> Self {
        Self { index, pk: pk.into(), sk, filter: None, ascending: true, limit: None, start_after: None }
    }

    pub fn descending(mut self) -> Self {
        self.ascending = false;
        self
    }

    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    pub fn filter(mut self, filter: Condition) -> Self {
        self.filter = Some(filter);
        self
    }

    pub fn start_after(mut self, key: Option<Item>) -> Self {
        self.start_after = key;
        self
    }
}

/// A walk over the whole table for items with one sort key (a Scan with a filter): for
/// one-off migrations that a schedule pages through, never for a request's work.
#[derive(Debug, Clone, PartialEq)]
pub struct Scan {
    pub sk: String,
    /// Items read per page (before the filter, as DynamoDB counts them).
    pub limit: u32,
    pub start_after: Option<Item>,
}

/// One page of a query: the items, and the key to continue after when there may be more.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    pub last_key: Option<Item>,
}

/// Failures at the item level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    #[error("condition failed")]
    ConditionFailed,
    /// The transaction was cancelled; these writes' conditions failed.
    #[error("transaction cancelled: conditions failed on writes {0:?}")]
    TransactionCancelled(Vec<usize>),
    #[error("throttled")]
    Throttled,
    #[error("storage unavailable")]
    Unavailable(#[source] Cause),
    /// The table is missing, the request malformed, or access denied: a deployment problem
    /// that retrying does not fix.
    #[error("storage is misconfigured")]
    Misconfigured(#[source] Cause),
    #[error("stored data is not what Guildbridge wrote")]
    Corrupt(#[source] Cause),
}

/// DynamoDB's operations as Guildbridge uses them. Adapters: `guildbridge_aws::dynamo::DynamoItems`
/// and [`super::embedded::EmbeddedItems`].
#[async_trait]
pub trait ItemStore: Send + Sync + 'static {
    /// GetItem (strongly consistent).
    async fn get(&self, key: &Key) -> Result<Option<Item>, ItemError>;
    /// BatchGetItem, 100 keys a call, unprocessed keys retried. Missing items are left out.
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, ItemError>;
    /// PutItem, replacing any item under the same key when the condition holds.
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), ItemError>;
    /// DeleteItem when the condition holds.
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), ItemError>;
    /// TransactWriteItems: all writes or none.
    async fn transact(&self, writes: Vec<TxWrite>) -> Result<(), ItemError>;
    /// BatchWriteItem puts, 25 a call, unprocessed items retried. Not atomic; no conditions.
    async fn put_many(&self, items: Vec<Item>) -> Result<(), ItemError>;
    /// Query one page.
    async fn query(&self, query: &Query) -> Result<Page, ItemError>;
    /// Query with `Select=COUNT`, following every page.
    async fn count(&self, query: &Query) -> Result<u64, ItemError>;
    /// Scan one page of the table (strongly consistent), keeping the items with `scan.sk`.
    async fn scan(&self, scan: &Scan) -> Result<Page, ItemError>;
    /// UpdateItem adding one to the number `attribute` of `key` (made at 1 when missing),
    /// only while it is below `limit` (`ConditionFailed` at the limit); sets `expires_at`.
    /// The count after the update.
    async fn count_up(&self, key: &Key, attribute: &str, limit: u64, expires_at: u64) -> Result<u64, ItemError>;
}

/// Reads a string attribute.
pub fn get_str<'a>(item: &'a Item, name: &str) -> Result<&'a str, ItemError> {
    item.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| ItemError::Corrupt(Cause::described(format!("missing string {name}"))))
}

/// Reads an integer attribute.
pub fn get_u64(item: &Item, name: &str) -> Result<u64, ItemError> {
    item.get(name)
        .and_then(Value::as_u64)
        .ok_or_else(|| ItemError::Corrupt(Cause::described(format!("missing number {name}"))))
}

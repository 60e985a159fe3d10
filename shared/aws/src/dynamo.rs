//! The DynamoDB adapter (`aws-sdk-dynamodb`). Conditions become condition expressions,
//! transactions `TransactWriteItems`, batches `BatchWriteItem`/`BatchGetItem` with their
//! unprocessed remainders retried with backoff. Every call is counted, so tests and
//! benchmarks can check what an operation costs.

use guildbridge_domain::error::Cause;
use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use async_trait::async_trait;
use aws_sdk_dynamodb::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    types::{ConditionCheck, Delete, KeysAndAttributes, Put, PutRequest, Select, TransactWriteItem, WriteRequest},
};
use serde_json::Value;

use guildbridge_store::{
    items::{Condition, Item, ItemError, ItemStore, Key, Page, Query, Scan, SortKeyRange, TxWrite},
    schema::{Index, attr},
};

mod expression;
mod table;

use self::expression::{Attributes, Expression, from_attributes, key_attributes, to_attributes};
pub use self::table::{create_table, table_differences};

const BATCH_WRITE_SIZE: usize = 25;
const BATCH_GET_SIZE: usize = 100;
const MAX_ATTEMPTS: u32 = 8;

/// How many calls of each kind this adapter has made.
#[derive(Debug, Default)]
pub struct CallCounts {
    pub get_item: AtomicU64,
    pub batch_get_item: AtomicU64,
    pub put_item: AtomicU64,
    pub delete_item: AtomicU64,
    pub update_item: AtomicU64,
    pub transact_write_items: AtomicU64,
    pub batch_write_item: AtomicU64,
    pub query: AtomicU64,
    pub scan: AtomicU64,
}

impl CallCounts {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Calls that write: PutItem, DeleteItem, UpdateItem, TransactWriteItems, BatchWriteItem.
    pub fn writes(&self) -> u64 {
        [&self.put_item, &self.delete_item, &self.update_item, &self.transact_write_items, &self.batch_write_item]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// Calls that read: GetItem, BatchGetItem, Query.
    pub fn reads(&self) -> u64 {
        [&self.get_item, &self.batch_get_item, &self.query].iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

#[derive(Debug)]
pub struct DynamoItems {
    client: Client,
    table: String,
    calls: CallCounts,
}

impl DynamoItems {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), calls: CallCounts::default() }
    }

    /// A client configured the AWS SDK's way (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials chain).
    pub async fn client_from_env() -> Client {
        Client::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
    }

    pub fn calls(&self) -> &CallCounts {
        &self.calls
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> ItemError {
    ItemError::Unavailable(Cause::new(error))
}

fn classify<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(error: SdkError<E>) -> ItemError {
    match error.code() {
        Some("ConditionalCheckFailedException") => ItemError::ConditionFailed,
        Some(
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TransactionInProgressException",
        ) => ItemError::Throttled,
        Some(code @ ("ValidationException" | "ResourceNotFoundException" | "AccessDeniedException")) => {
            let hint = match code {
                "ResourceNotFoundException" => "the table or index does not exist: check TABLE_NAME and the region",
                "AccessDeniedException" => "the function's role may not use the table: check its IAM policy",
                _ => "DynamoDB refused the request as invalid",
            };
            ItemError::Misconfigured(Cause::described(format!(
                "{code}: {hint} ({})",
                error.message().unwrap_or_default()
            )))
        }
        _ => ItemError::Unavailable(Cause::new(error)),
    }
}

/// Exponential backoff with full jitter: attempt 0 waits up to 25 ms, doubling to 1.6 s.
async fn backoff(attempt: u32) {
    let cap = 25u64 << attempt.min(6);
    tokio::time::sleep(Duration::from_millis(fastrand::u64(0..=cap))).await;
}

/// Repeats a batch call on what it left unprocessed, backing off between attempts, and
/// collects what each attempt returned. Gives up as throttled after `MAX_ATTEMPTS`.
async fn until_processed<T, R, F, Fut>(mut pending: Vec<T>, mut call: F) -> Result<Vec<R>, ItemError>
where
    F: FnMut(Vec<T>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<R>, Vec<T>), ItemError>>,
{
    let mut done = Vec::new();
    let mut attempt = 0;
    while !pending.is_empty() {
        if attempt >= MAX_ATTEMPTS {
            return Err(ItemError::Throttled);
        }
        if attempt > 0 {
            backoff(attempt).await;
        }
        attempt += 1;
        let (returned, unprocessed) = call(std::mem::take(&mut pending)).await?;
        done.extend(returned);
        pending = unprocessed;
    }
    Ok(done)
}

#[async_trait]
impl ItemStore for DynamoItems {
    /// 1 GetItem (consistent read).
    async fn get(&self, key: &Key) -> Result<Option<Item>, ItemError> {
        CallCounts::bump(&self.calls.get_item);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        output.item.map(from_attributes).transpose()
    }

    /// ⌈keys / 100⌉ BatchGetItem, plus retries of unprocessed keys.
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, ItemError> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_SIZE) {
            let pending: Vec<Attributes> = chunk.iter().map(key_attributes).collect();
            let items = until_processed(pending, |keys| async move {
                CallCounts::bump(&self.calls.batch_get_item);
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(unavailable)?;
                let output =
                    self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(classify)?;
                let items = output.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default();
                let unprocessed = output.unprocessed_keys.and_then(|mut r| r.remove(&self.table)).map(|u| u.keys);
                Ok((items, unprocessed.unwrap_or_default()))
            })
            .await?;
            for item in items {
                found.push(from_attributes(item)?);
            }
        }
        Ok(found)
    }

    /// 1 PutItem.
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), ItemError> {
        CallCounts::bump(&self.calls.put_item);
        let mut expression = Expression::default();
        let condition = condition.map(|c| expression.condition(&c)).transpose()?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_attributes(&item)?))
            .set_condition_expression(condition)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// 1 UpdateItem (ADD, conditional on the count being below the limit).
    async fn count_up(&self, key: &Key, attribute: &str, limit: u64, expires_at: u64) -> Result<u64, ItemError> {
        CallCounts::bump(&self.calls.update_item);
        let mut expression = Expression::default();
        let count = expression.name(attribute);
        let expiry = expression.name(guildbridge_store::schema::attr::EXPIRES_AT);
        let (one, below, until) =
            (expression.value(&1.into())?, expression.value(&limit.into())?, expression.value(&expires_at.into())?);
        let answer = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .update_expression(format!("ADD {count} {one} SET {expiry} = {until}"))
            .condition_expression(format!("attribute_not_exists({count}) OR {count} < {below}"))
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(classify)?;
        let updated = from_attributes(answer.attributes.unwrap_or_default())?;
        guildbridge_store::items::get_u64(&updated, attribute)
    }

    /// 1 DeleteItem.
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), ItemError> {
        CallCounts::bump(&self.calls.delete_item);
        let mut expression = Expression::default();
        let condition = condition.map(|c| expression.condition(&c)).transpose()?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// 1 TransactWriteItems (each write costs double); retried with backoff when it only
    /// collided with another transaction on the same items.
    async fn transact(&self, writes: Vec<TxWrite>) -> Result<(), ItemError> {
        let mut request = Vec::with_capacity(writes.len());
        for write in &writes {
            let mut expression = Expression::default();
            let entry = match write {
                TxWrite::Put { item, condition } => {
                    let condition = condition.as_ref().map(|c| expression.condition(c)).transpose()?;
                    TransactWriteItem::builder().put(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(to_attributes(item)?))
                            .set_condition_expression(condition)
                            .set_expression_attribute_names(expression.names())
                            .set_expression_attribute_values(expression.values())
                            .build()
                            .map_err(unavailable)?,
                    )
                }
                TxWrite::Delete { key, condition } => {
                    let condition = condition.as_ref().map(|c| expression.condition(c)).transpose()?;
                    TransactWriteItem::builder().delete(
                        Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(key_attributes(key)))
                            .set_condition_expression(condition)
                            .set_expression_attribute_names(expression.names())
                            .set_expression_attribute_values(expression.values())
                            .build()
                            .map_err(unavailable)?,
                    )
                }
                TxWrite::Check { key, condition } => {
                    let condition = expression.condition(condition)?;
                    TransactWriteItem::builder().condition_check(
                        ConditionCheck::builder()
                            .table_name(&self.table)
                            .set_key(Some(key_attributes(key)))
                            .condition_expression(condition)
                            .set_expression_attribute_names(expression.names())
                            .set_expression_attribute_values(expression.values())
                            .build()
                            .map_err(unavailable)?,
                    )
                }
            };
            request.push(entry.build());
        }
        for attempt in 0..MAX_ATTEMPTS {
            CallCounts::bump(&self.calls.transact_write_items);
            let result = self.client.transact_write_items().set_transact_items(Some(request.clone())).send().await;
            let Err(error) = result else { return Ok(()) };
            let Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
                cancelled,
            )) = error.as_service_error()
            else {
                return Err(classify(error));
            };
            let reasons = cancelled.cancellation_reasons();
            let failed: Vec<usize> = reasons
                .iter()
                .enumerate()
                .filter(|(_, reason)| reason.code() == Some("ConditionalCheckFailed"))
                .map(|(position, _)| position)
                .collect();
            if !failed.is_empty() {
                return Err(ItemError::TransactionCancelled(failed));
            }
            let collided = reasons.iter().any(|r| matches!(r.code(), Some("TransactionConflict")));
            if !collided {
                return Err(classify(error));
            }
            backoff(attempt).await;
        }
        Err(ItemError::Throttled)
    }

    /// ⌈items / 25⌉ BatchWriteItem, plus retries of unprocessed items.
    async fn put_many(&self, items: Vec<Item>) -> Result<(), ItemError> {
        for chunk in items.chunks(BATCH_WRITE_SIZE) {
            let pending = chunk
                .iter()
                .map(|item| {
                    let put =
                        PutRequest::builder().set_item(Some(to_attributes(item)?)).build().map_err(unavailable)?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, ItemError>>()?;
            until_processed(pending, |requests| async move {
                CallCounts::bump(&self.calls.batch_write_item);
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(classify)?;
                let unprocessed = output.unprocessed_items.and_then(|mut r| r.remove(&self.table));
                Ok((Vec::<()>::new(), unprocessed.unwrap_or_default()))
            })
            .await?;
        }
        Ok(())
    }

    /// 1 Query.
    async fn query(&self, query: &Query) -> Result<Page, ItemError> {
        let request = self.query_request(query)?;
        CallCounts::bump(&self.calls.query);
        let output = request.send().await.map_err(classify)?;
        let items = output.items.unwrap_or_default().into_iter().map(from_attributes).collect::<Result<_, _>>()?;
        let last_key = output.last_evaluated_key.map(from_attributes).transpose()?;
        Ok(Page { items, last_key })
    }

    /// 1 Scan.
    async fn scan(&self, scan: &Scan) -> Result<Page, ItemError> {
        self.scan_page(scan).await
    }

    /// 1 Query (`Select=COUNT`) per page of 1 MB read.
    async fn count(&self, query: &Query) -> Result<u64, ItemError> {
        let mut total = 0u64;
        let mut start = None;
        loop {
            let request = self.query_request(&query.clone().start_after(start))?;
            CallCounts::bump(&self.calls.query);
            let output = request.select(Select::Count).send().await.map_err(classify)?;
            total += output.count.max(0) as u64;
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(from_attributes(key)?),
                _ => return Ok(total),
            }
        }
    }
}

impl DynamoItems {
    /// 1 Scan (strongly consistent), filtered on the sort key.
    async fn scan_page(&self, scan: &Scan) -> Result<Page, ItemError> {
        let mut expression = Expression::default();
        let filter = format!("{} = {}", expression.name(attr::SK), expression.value(&Value::String(scan.sk.clone()))?);
        let start = scan.start_after.as_ref().map(to_attributes).transpose()?;
        CallCounts::bump(&self.calls.scan);
        let output = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .filter_expression(filter)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .limit(scan.limit.max(1) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(classify)?;
        let items = output.items.unwrap_or_default().into_iter().map(from_attributes).collect::<Result<_, _>>()?;
        let last_key = output.last_evaluated_key.filter(|key| !key.is_empty()).map(from_attributes).transpose()?;
        Ok(Page { items, last_key })
    }

    fn query_request(
        &self,
        query: &Query,
    ) -> Result<aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder, ItemError> {
        let mut expression = Expression::default();
        let (pk_attr, sk_attr) = query.index.key_attributes();
        let pk = format!("{} = {}", expression.name(pk_attr), expression.value(&Value::String(query.pk.clone()))?);
        let sk = match &query.sk {
            SortKeyRange::All => None,
            SortKeyRange::BeginsWith(prefix) => Some(format!(
                "begins_with({}, {})",
                expression.name(sk_attr),
                expression.value(&prefix.clone().into())?
            )),
            SortKeyRange::Between(low, high) => Some(format!(
                "{} BETWEEN {} AND {}",
                expression.name(sk_attr),
                expression.value(&low.clone().into())?,
                expression.value(&high.clone().into())?
            )),
            SortKeyRange::AtMost(high) => {
                Some(format!("{} <= {}", expression.name(sk_attr), expression.value(&high.clone().into())?))
            }
            SortKeyRange::AtLeast(low) => {
                Some(format!("{} >= {}", expression.name(sk_attr), expression.value(&low.clone().into())?))
            }
        };
        let key_condition = match sk {
            Some(sk) => format!("{pk} AND {sk}"),
            None => pk,
        };
        let filter = query.filter.as_ref().map(|f| expression.condition(f)).transpose()?;
        let start = query.start_after.as_ref().map(to_attributes).transpose()?;
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(query.index.name().map(str::to_owned))
            .consistent_read(query.index == Index::Table)
            .key_condition_expression(key_condition)
            .set_filter_expression(filter)
            .set_expression_attribute_names(expression.names())
            .set_expression_attribute_values(expression.values())
            .scan_index_forward(query.ascending)
            .set_limit(query.limit.map(|l| l as i32))
            .set_exclusive_start_key(start);
        Ok(request)
    }
}

//! The embedded adapter: the same items, conditions and transactions as DynamoDB, kept in
//! SQLite on local disk (WAL journal) for the local stack. One connection behind a mutex:
//! every operation, transactions included, runs alone, which is what makes conditions atomic.

use guildbridge_domain::error::Cause;
use std::{
    path::Path,
    sync::{Arc, Mutex, MutexGuard},
};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params_from_iter, types::Value as SqlValue};
use serde_json::Value;

use super::{
    items::{Condition, Item, ItemError, ItemStore, Key, Page, Query, Scan, SortKeyRange, TxWrite},
    schema::{GLOBAL_INDEXES, Index, attr},
};

#[derive(Debug, Clone)]
pub struct EmbeddedItems {
    conn: Arc<Mutex<Connection>>,
}

fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> ItemError {
    ItemError::Unavailable(Cause::new(error))
}

impl EmbeddedItems {
    /// Opens (creating when absent) the store in a file; data survives restarts.
    pub fn open(path: &Path) -> Result<Self, ItemError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(unavailable)?;
        }
        let conn = Connection::open(path).map_err(unavailable)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(unavailable)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(unavailable)?;
        Self::init(conn)
    }

    /// A store that lives as long as the value does (tests).
    pub fn in_memory() -> Result<Self, ItemError> {
        Self::init(Connection::open_in_memory().map_err(unavailable)?)
    }

    fn init(conn: Connection) -> Result<Self, ItemError> {
        let mut ddl = format!(
            "CREATE TABLE IF NOT EXISTS items (pk TEXT NOT NULL, sk TEXT NOT NULL, body TEXT NOT NULL, \
             {g1p} TEXT, {g1s} TEXT, {g2p} TEXT, {g2s} TEXT, PRIMARY KEY (pk, sk)) WITHOUT ROWID;",
            g1p = attr::GSI1_PK,
            g1s = attr::GSI1_SK,
            g2p = attr::GSI2_PK,
            g2s = attr::GSI2_SK,
        );
        for index in GLOBAL_INDEXES {
            let (pk, sk) = index.key_attributes();
            let name = index.name().unwrap_or_default();
            ddl.push_str(&format!(
                "CREATE INDEX IF NOT EXISTS {name} ON items ({pk}, {sk}, pk, sk) WHERE {pk} IS NOT NULL AND {sk} IS NOT NULL;"
            ));
        }
        conn.execute_batch(&ddl).map_err(unavailable)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs blocking SQLite work off the async executor.
    async fn with_conn<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, ItemError> + Send + 'static,
    ) -> Result<T, ItemError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || work(&mut lock(&conn)))
            .await
            .map_err(|e| ItemError::Unavailable(Cause::new(e)))?
    }
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock cannot leave a half-written transaction behind:
    // SQLite rolls back an uncommitted transaction when it is dropped.
    conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn parse_body(body: &str) -> Result<Item, ItemError> {
    serde_json::from_str(body).map_err(|e| ItemError::Corrupt(Cause::new(e)))
}

fn load(conn: &Connection, key: &Key) -> Result<Option<Item>, ItemError> {
    conn.query_row("SELECT body FROM items WHERE pk = ?1 AND sk = ?2", [&key.pk, &key.sk], |row| {
        row.get::<_, String>(0)
    })
    .optional()
    .map_err(unavailable)?
    .map(|body| parse_body(&body))
    .transpose()
}

fn key_of(item: &Item) -> Result<Key, ItemError> {
    Key::of(item).ok_or_else(|| ItemError::Corrupt(Cause::described("item without pk and sk")))
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn store(conn: &Connection, item: &Item) -> Result<(), ItemError> {
    let key = key_of(item)?;
    let body = serde_json::to_string(item).map_err(|e| ItemError::Corrupt(Cause::new(e)))?;
    conn.execute(
        &format!(
            "INSERT OR REPLACE INTO items (pk, sk, body, {}, {}, {}, {}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            attr::GSI1_PK,
            attr::GSI1_SK,
            attr::GSI2_PK,
            attr::GSI2_SK
        ),
        rusqlite::params![
            key.pk,
            key.sk,
            body,
            text(item, attr::GSI1_PK),
            text(item, attr::GSI1_SK),
            text(item, attr::GSI2_PK),
            text(item, attr::GSI2_SK)
        ],
    )
    .map_err(unavailable)?;
    Ok(())
}

fn remove(conn: &Connection, key: &Key) -> Result<(), ItemError> {
    conn.execute("DELETE FROM items WHERE pk = ?1 AND sk = ?2", [&key.pk, &key.sk]).map_err(unavailable)?;
    Ok(())
}

fn check(conn: &Connection, key: &Key, condition: Option<&Condition>) -> Result<bool, ItemError> {
    match condition {
        None => Ok(true),
        Some(condition) => Ok(condition.holds(load(conn, key)?.as_ref())),
    }
}

/// Reads one page of a query, in the index's sort order.
fn read_page(conn: &Connection, query: &Query, count_only: bool) -> Result<(Vec<Item>, bool), ItemError> {
    let (pk_col, sk_col) = query.index.key_attributes();
    let mut sql = format!("SELECT body FROM items WHERE {pk_col} = ?");
    let mut args: Vec<SqlValue> = vec![SqlValue::Text(query.pk.clone())];
    if query.index != Index::Table {
        sql.push_str(&format!(" AND {sk_col} IS NOT NULL"));
    }
    match &query.sk {
        SortKeyRange::All => {}
        SortKeyRange::BeginsWith(prefix) => {
            sql.push_str(&format!(" AND substr({sk_col}, 1, length(?)) = ?"));
            args.extend([SqlValue::Text(prefix.clone()), SqlValue::Text(prefix.clone())]);
        }
        SortKeyRange::Between(low, high) => {
            sql.push_str(&format!(" AND {sk_col} >= ? AND {sk_col} <= ?"));
            args.extend([SqlValue::Text(low.clone()), SqlValue::Text(high.clone())]);
        }
        SortKeyRange::AtMost(high) => {
            sql.push_str(&format!(" AND {sk_col} <= ?"));
            args.push(SqlValue::Text(high.clone()));
        }
        SortKeyRange::AtLeast(low) => {
            sql.push_str(&format!(" AND {sk_col} >= ?"));
            args.push(SqlValue::Text(low.clone()));
        }
    }
    let (order, after) = if query.ascending { ("ASC", ">") } else { ("DESC", "<") };
    if let Some(start) = &query.start_after {
        let start_key = key_of(start)?;
        let start_sk =
            text(start, sk_col).ok_or_else(|| ItemError::Corrupt(Cause::described("start key lacks sort key")))?;
        sql.push_str(&format!(" AND ({sk_col}, pk, sk) {after} (?, ?, ?)"));
        args.extend([SqlValue::Text(start_sk), SqlValue::Text(start_key.pk), SqlValue::Text(start_key.sk)]);
    }
    sql.push_str(&format!(" ORDER BY {sk_col} {order}, pk {order}, sk {order}"));
    if let Some(limit) = query.limit.filter(|_| !count_only) {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    let mut statement = conn.prepare_cached(&sql).map_err(unavailable)?;
    let bodies = statement
        .query_map(params_from_iter(args), |row| row.get::<_, String>(0))
        .map_err(unavailable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unavailable)?;
    let read = bodies.len();
    let items = bodies.iter().map(|body| parse_body(body)).collect::<Result<Vec<_>, _>>()?;
    let full_page = query.limit.is_some_and(|limit| read as u64 == u64::from(limit)) && !count_only;
    Ok((items, full_page))
}

/// The key DynamoDB would return as `LastEvaluatedKey` for this item in this index.
fn last_key(item: &Item, index: Index) -> Item {
    let mut names = vec![attr::PK, attr::SK];
    if index != Index::Table {
        let (pk, sk) = index.key_attributes();
        names.extend([pk, sk]);
    }
    names.into_iter().filter_map(|name| item.get(name).map(|value| (name.to_owned(), value.clone()))).collect()
}

#[async_trait]
impl ItemStore for EmbeddedItems {
    async fn get(&self, key: &Key) -> Result<Option<Item>, ItemError> {
        let key = key.clone();
        self.with_conn(move |conn| load(conn, &key)).await
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, ItemError> {
        let keys = keys.to_vec();
        self.with_conn(move |conn| {
            let mut found = Vec::with_capacity(keys.len());
            for key in &keys {
                found.extend(load(conn, key)?);
            }
            Ok(found)
        })
        .await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), ItemError> {
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(unavailable)?;
            if !check(&tx, &key_of(&item)?, condition.as_ref())? {
                return Err(ItemError::ConditionFailed);
            }
            store(&tx, &item)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn count_up(&self, key: &Key, attribute: &str, limit: u64, expires_at: u64) -> Result<u64, ItemError> {
        let (key, attribute) = (key.clone(), attribute.to_owned());
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(unavailable)?;
            let mut item = load(&tx, &key)?.unwrap_or_else(|| {
                let mut fresh = Item::new();
                fresh.insert(attr::PK.to_owned(), key.pk.clone().into());
                fresh.insert(attr::SK.to_owned(), key.sk.clone().into());
                fresh
            });
            let count = item.get(&attribute).and_then(Value::as_u64).unwrap_or(0);
            if count >= limit {
                return Err(ItemError::ConditionFailed);
            }
            item.insert(attribute, (count + 1).into());
            item.insert(attr::EXPIRES_AT.to_owned(), expires_at.into());
            store(&tx, &item)?;
            tx.commit().map_err(unavailable)?;
            Ok(count + 1)
        })
        .await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), ItemError> {
        let key = key.clone();
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(unavailable)?;
            if !check(&tx, &key, condition.as_ref())? {
                return Err(ItemError::ConditionFailed);
            }
            remove(&tx, &key)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn transact(&self, writes: Vec<TxWrite>) -> Result<(), ItemError> {
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(unavailable)?;
            let mut keys = std::collections::HashSet::new();
            let mut failed = Vec::new();
            for (position, write) in writes.iter().enumerate() {
                let (key, condition) = match write {
                    TxWrite::Put { item, condition } => (key_of(item)?, condition.as_ref()),
                    TxWrite::Delete { key, condition } => (key.clone(), condition.as_ref()),
                    TxWrite::Check { key, condition } => (key.clone(), Some(condition)),
                };
                // DynamoDB refuses a transaction that touches one item twice; so does this.
                if !keys.insert(key.clone()) {
                    return Err(ItemError::Unavailable(Cause::described("a transaction may touch each item once")));
                }
                if !check(&tx, &key, condition)? {
                    failed.push(position);
                }
            }
            if !failed.is_empty() {
                return Err(ItemError::TransactionCancelled(failed));
            }
            for write in &writes {
                match write {
                    TxWrite::Put { item, .. } => store(&tx, item)?,
                    TxWrite::Delete { key, .. } => remove(&tx, key)?,
                    TxWrite::Check { .. } => {}
                }
            }
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn put_many(&self, items: Vec<Item>) -> Result<(), ItemError> {
        self.with_conn(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            for item in &items {
                store(&tx, item)?;
            }
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn query(&self, query: &Query) -> Result<Page, ItemError> {
        let query = query.clone();
        self.with_conn(move |conn| {
            let (items, full_page) = read_page(conn, &query, false)?;
            let last_key = if full_page { items.last().map(|item| last_key(item, query.index)) } else { None };
            let items = match &query.filter {
                Some(filter) => items.into_iter().filter(|item| filter.holds(Some(item))).collect(),
                None => items,
            };
            Ok(Page { items, last_key })
        })
        .await
    }

    async fn count(&self, query: &Query) -> Result<u64, ItemError> {
        let query = query.clone();
        self.with_conn(move |conn| {
            let (items, _) = read_page(conn, &query, true)?;
            Ok(items.iter().filter(|item| query.filter.as_ref().is_none_or(|f| f.holds(Some(item)))).count() as u64)
        })
        .await
    }

    /// In key order, as a Scan's pages are in some fixed order; the limit counts matches.
    async fn scan(&self, scan: &Scan) -> Result<Page, ItemError> {
        let scan = scan.clone();
        self.with_conn(move |conn| {
            let start = scan.start_after.as_ref().map(key_of).transpose()?;
            let (pk, sk) = start.map(|key| (key.pk, key.sk)).unwrap_or_default();
            let mut statement = conn
                .prepare_cached("SELECT body FROM items WHERE sk = ?1 AND (pk, sk) > (?2, ?3) ORDER BY pk, sk LIMIT ?4")
                .map_err(unavailable)?;
            let bodies = statement
                .query_map(rusqlite::params![scan.sk, pk, sk, i64::from(scan.limit.max(1))], |row| {
                    row.get::<_, String>(0)
                })
                .map_err(unavailable)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(unavailable)?;
            let full = bodies.len() as u64 == u64::from(scan.limit.max(1));
            let items = bodies.iter().map(|body| parse_body(body)).collect::<Result<Vec<_>, _>>()?;
            let last_key = if full { items.last().map(|item| last_key(item, Index::Table)) } else { None };
            Ok(Page { items, last_key })
        })
        .await
    }
}

//! Pages of a query, and the cursors that continue them. A cursor is the last key read,
//! encoded; it is only accepted by the query it came from (same partition, same sort-key
//! prefix), so one guild's cursor never reads another guild's items and a cursor of one
//! listing never continues another.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::{
    StoreError, from_item,
    items::{Item, Page, Query, SortKeyRange},
};

/// One page of a listing, and the cursor for the next when there may be more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T: serde::de::DeserializeOwned> Paged<T> {
    pub(super) fn of(page: Page) -> Result<Self, StoreError> {
        Ok(Self {
            items: page.items.into_iter().map(from_item).collect::<Result<_, _>>()?,
            next: page.last_key.map(|key| encode_cursor(&key)),
        })
    }
}

pub(super) fn encode_cursor(key: &Item) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::Value::Object(key.clone()).to_string())
}

/// The key a cursor continues after, when the cursor came from `query` (its partition and,
/// for a prefix query, its prefix); anything else is refused.
pub(super) fn decode_cursor(cursor: &str, query: &Query) -> Result<Item, StoreError> {
    let invalid = || StoreError::BadCursor;
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let key: Item = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let (pk, sk) = query.index.key_attributes();
    let text = |name: &str| key.get(name).and_then(serde_json::Value::as_str);
    let same_partition = text(pk) == Some(query.pk.as_str());
    let same_range = match &query.sk {
        SortKeyRange::BeginsWith(prefix) => text(sk).is_some_and(|sk| sk.starts_with(prefix.as_str())),
        _ => text(sk).is_some(),
    };
    if !(same_partition && same_range) {
        return Err(invalid());
    }
    Ok(key)
}

/// `query` continued after `cursor` (when given), `limit` items at most.
pub(super) fn continued(query: Query, limit: u32, cursor: Option<&str>) -> Result<Query, StoreError> {
    let start = cursor.map(|cursor| decode_cursor(cursor, &query)).transpose()?;
    Ok(query.limit(limit.max(1)).start_after(start))
}

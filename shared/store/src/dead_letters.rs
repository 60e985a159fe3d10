//! Jobs that gave up, recorded per guild where an admin (the tenant API, the settings page)
//! can list them and retry them: what the job was, why it failed, when, after how many attempts.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use twilight_model::id::{Id, marker::GuildMarker};

use super::{
    Store, StoreError, from_item,
    items::{ItemStore, Query, SortKeyRange},
    schema::{Index, keys, sortable_time},
    to_item,
};

/// One job given up on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterRecord {
    /// The queue it came from (`channel`, `sync`).
    pub queue: String,
    /// The job's type (`create_channels`, ...), or `unreadable` for a body that is not a job.
    pub job_type: String,
    /// The message body exactly as it was queued: retrying sends it again.
    pub body: String,
    pub reason: String,
    pub failed_at: u64,
    pub attempts: u32,
}

impl DeadLetterRecord {
    /// The guild a body names, when it can be read that far (even a job of an unknown type).
    pub fn guild_of(body: &str) -> Option<Id<GuildMarker>> {
        let value: serde_json::Value = serde_json::from_str(body).ok()?;
        match &value["guild_id"] {
            serde_json::Value::String(text) => guildbridge_domain::snowflake(text),
            other => other.as_u64().and_then(Id::new_checked),
        }
    }

    /// The record's id within its guild: when it failed and a hash of the body (the same
    /// body failing in the same second is one record).
    pub fn id(&self) -> String {
        format!("{}-{}", sortable_time(self.failed_at), body_hash(&self.body))
    }

    /// A record for a message body; its type is read from the body when it has one.
    pub fn for_body(queue: &str, body: &str, reason: &str, attempts: u32, failed_at: u64) -> Self {
        let job_type = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|value| value["type"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "unreadable".to_owned());
        Self {
            queue: queue.to_owned(),
            job_type,
            body: body.to_owned(),
            reason: reason.to_owned(),
            failed_at,
            attempts,
        }
    }
}

#[async_trait]
pub trait DeadLetterStore: Send + Sync {
    /// Records a job that gave up, under its guild (`None`: a body naming no guild).
    async fn record_dead_letter(
        &self,
        guild_id: Option<Id<GuildMarker>>,
        letter: &DeadLetterRecord,
    ) -> Result<(), StoreError>;
    /// One record by its [`DeadLetterRecord::id`], within the guild's records only.
    async fn dead_letter(&self, guild_id: Id<GuildMarker>, id: &str) -> Result<Option<DeadLetterRecord>, StoreError>;
    /// The most recent first.
    async fn dead_letters(
        &self,
        guild_id: Option<Id<GuildMarker>>,
        limit: u32,
    ) -> Result<Vec<DeadLetterRecord>, StoreError>;
    /// How many the guild has waiting.
    async fn count_dead_letters(&self, guild_id: Id<GuildMarker>) -> Result<u64, StoreError>;
}

fn body_hash(body: &str) -> String {
    hex::encode(&Sha256::digest(body.as_bytes())[..8])
}

fn partition(guild_id: Option<Id<GuildMarker>>) -> String {
    match guild_id {
        Some(guild) => keys::guild(guild.get()),
        None => keys::UNROUTED_DEAD_LETTERS.to_owned(),
    }
}

#[async_trait]
impl<I: ItemStore> DeadLetterStore for Store<I> {
    /// 1 PutItem (the same body failing in the same second is one record).
    async fn record_dead_letter(
        &self,
        guild_id: Option<Id<GuildMarker>>,
        letter: &DeadLetterRecord,
    ) -> Result<(), StoreError> {
        let key = keys::dead_letter(&partition(guild_id), letter.failed_at, &body_hash(&letter.body));
        Ok(self.items.put(to_item(&key, letter, &[])?, None).await?)
    }

    /// 1 GetItem (none for an id that is not one).
    async fn dead_letter(&self, guild_id: Id<GuildMarker>, id: &str) -> Result<Option<DeadLetterRecord>, StoreError> {
        let Some((failed_at, hash)) = id.split_once('-') else { return Ok(None) };
        let (Ok(failed_at), true) =
            (failed_at.parse::<u64>(), hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        else {
            return Ok(None);
        };
        let key = keys::dead_letter(&partition(Some(guild_id)), failed_at, hash);
        self.items.get(&key).await?.map(from_item).transpose()
    }

    /// 1 Query.
    async fn dead_letters(
        &self,
        guild_id: Option<Id<GuildMarker>>,
        limit: u32,
    ) -> Result<Vec<DeadLetterRecord>, StoreError> {
        let query = Query::new(
            Index::Table,
            partition(guild_id),
            SortKeyRange::BeginsWith(keys::DEAD_LETTER_PREFIX.to_owned()),
        )
        .descending()
        .limit(limit.max(1));
        self.items.query(&query).await?.items.into_iter().map(from_item).collect()
    }

    /// 1 Query (`Select=COUNT`) per 1 MB of records.
    async fn count_dead_letters(&self, guild_id: Id<GuildMarker>) -> Result<u64, StoreError> {
        let range = SortKeyRange::BeginsWith(keys::DEAD_LETTER_PREFIX.to_owned());
        Ok(self.items.count(&Query::new(Index::Table, partition(Some(guild_id)), range)).await?)
    }
}

//! What became of each job, for whoever asked for it (`GET /v1/jobs/{id}`): queued when the
//! API enqueues it, running while a worker has it, then done (with its result), failed (to
//! be tried again) or dead (given up, with the reason). Kept a week.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use twilight_model::id::{Id, marker::GuildMarker};

use super::{
    Store, StoreError, from_item,
    items::{Condition, ItemError, ItemStore},
    schema::{attr, keys},
    to_item,
};

/// How long a job's record is kept after its last change.
pub const JOB_RECORD_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    /// Failed this attempt; the queue tries it again.
    Failed,
    /// Given up: recorded as a dead letter too.
    Dead,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
            JobStatus::Dead => "dead",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The job's deduplication id (64 hex characters).
    pub id: String,
    pub job_type: String,
    pub status: JobStatus,
    pub attempts: u32,
    #[serde(default)]
    pub reason: Option<String>,
    /// What the job produced, such as the id of the message it posted.
    #[serde(default)]
    pub result: Option<serde_json::Value>,
    pub updated_at: u64,
}

impl JobRecord {
    /// `job`'s record as it stands now.
    pub fn of(job: &guildbridge_domain::Job, status: JobStatus, attempts: u32, now: u64) -> Self {
        Self {
            id: job.deduplication_id(),
            job_type: job.type_name().to_owned(),
            status,
            attempts,
            reason: None,
            result: None,
            updated_at: now,
        }
    }
}

#[async_trait]
pub trait JobRecordStore: Send + Sync {
    /// Records a job as queued unless it has a record already (asking again for work that
    /// is done does not make it look queued).
    async fn record_job_queued(&self, guild_id: Id<GuildMarker>, record: &JobRecord) -> Result<(), StoreError>;
    /// Records where a job is now.
    async fn record_job(&self, guild_id: Id<GuildMarker>, record: &JobRecord) -> Result<(), StoreError>;
    /// The guild's record of a job; `None` for an id that is not one.
    async fn job_record(&self, guild_id: Id<GuildMarker>, id: &str) -> Result<Option<JobRecord>, StoreError>;
}

fn item(guild_id: Id<GuildMarker>, record: &JobRecord) -> Result<super::items::Item, StoreError> {
    let expires_at = record.updated_at + JOB_RECORD_TTL.as_secs();
    to_item(&keys::job(guild_id.get(), &record.id), record, &[(attr::EXPIRES_AT, expires_at.into())])
}

/// Job ids are SHA-256 hex digests.
pub fn is_job_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[async_trait]
impl<I: ItemStore> JobRecordStore for Store<I> {
    /// 1 conditional PutItem.
    async fn record_job_queued(&self, guild_id: Id<GuildMarker>, record: &JobRecord) -> Result<(), StoreError> {
        match self.items.put(item(guild_id, record)?, Some(Condition::NotExists)).await {
            Err(ItemError::ConditionFailed) => Ok(()),
            other => Ok(other?),
        }
    }

    /// 1 PutItem.
    async fn record_job(&self, guild_id: Id<GuildMarker>, record: &JobRecord) -> Result<(), StoreError> {
        Ok(self.items.put(item(guild_id, record)?, None).await?)
    }

    /// 1 GetItem (none for an id that is not one).
    async fn job_record(&self, guild_id: Id<GuildMarker>, id: &str) -> Result<Option<JobRecord>, StoreError> {
        if !is_job_id(id) {
            return Ok(None);
        }
        self.items.get(&keys::job(guild_id.get(), id)).await?.map(from_item).transpose()
    }
}

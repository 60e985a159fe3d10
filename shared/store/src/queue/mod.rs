//! The queues that carry jobs (`domain::jobs`) to the workers. Adapters: SQS FIFO queues
//! (`guildbridge_aws::sqs::SqsQueues`) in AWS, and a persistent in-process queue
//! ([`embedded::EmbeddedQueue`]) for the local stack.

#[cfg(feature = "embedded")]
pub mod embedded;

use std::time::Duration;

use async_trait::async_trait;

use guildbridge_domain::{Job, JobFormatError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The queue could not be reached or refused for now: retry.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// The message is not a job Guildbridge can read: retrying will not help.
    #[error("invalid job: {0}")]
    Invalid(String),
}

/// Hands jobs to workers.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Enqueues a job, collapsing a duplicate of the same key within the deduplication window.
    async fn enqueue(&self, job: &Job) -> Result<(), QueueError>;
}

impl From<JobFormatError> for QueueError {
    fn from(error: JobFormatError) -> Self {
        QueueError::Invalid(error.0)
    }
}

/// Hands a received message back to its queue after a delay (SQS ChangeMessageVisibility).
#[async_trait]
pub trait Redelivery: Send + Sync {
    async fn redeliver_after(&self, receipt_handle: &str, delay: Duration);
}

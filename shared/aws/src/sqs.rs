//! SQS FIFO queues (`aws-sdk-sqs`): the guild is the message group (one guild's jobs run in
//! order, guilds in parallel; a tenant's webhook deliveries likewise), the job's key the
//! deduplication id.

use async_trait::async_trait;
use aws_sdk_sqs::Client;

use guildbridge_domain::{Job, QueueKind};
use guildbridge_store::queue::{JobQueue, QueueError};

#[derive(Debug, Clone)]
pub struct SqsQueues {
    client: Client,
    channel_queue_url: String,
    sync_queue_url: String,
    webhook_queue_url: String,
}

impl SqsQueues {
    pub fn new(
        client: Client,
        channel_queue_url: impl Into<String>,
        sync_queue_url: impl Into<String>,
        webhook_queue_url: impl Into<String>,
    ) -> Self {
        Self {
            client,
            channel_queue_url: channel_queue_url.into(),
            sync_queue_url: sync_queue_url.into(),
            webhook_queue_url: webhook_queue_url.into(),
        }
    }

    /// A client configured the AWS SDK's way (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials chain).
    pub async fn client_from_env() -> Client {
        Client::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
    }

    fn url(&self, queue: QueueKind) -> &str {
        match queue {
            QueueKind::Channel => &self.channel_queue_url,
            QueueKind::Sync => &self.sync_queue_url,
            QueueKind::Webhook => &self.webhook_queue_url,
        }
    }
}

#[async_trait]
impl JobQueue for SqsQueues {
    /// 1 SendMessage.
    async fn enqueue(&self, job: &Job) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(self.url(job.queue()))
            .message_body(job.to_body()?)
            .message_group_id(job.message_group())
            .message_deduplication_id(job.deduplication_id())
            .send()
            .await
            .map_err(|e| QueueError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }
}

/// Hands messages back to one of the queues (ChangeMessageVisibility).
#[derive(Debug, Clone)]
pub struct SqsRedelivery {
    client: Client,
    queue_url: String,
}

impl SqsQueues {
    pub fn redelivery(&self, queue: QueueKind) -> SqsRedelivery {
        SqsRedelivery { client: self.client.clone(), queue_url: self.url(queue).to_owned() }
    }
}

#[async_trait]
impl guildbridge_store::queue::Redelivery for SqsRedelivery {
    /// 1 ChangeMessageVisibility. If it fails the message comes back after the queue's own
    /// visibility timeout instead, which is later but loses nothing.
    async fn redeliver_after(&self, receipt_handle: &str, delay: std::time::Duration) {
        let seconds = i32::try_from(delay.as_secs()).unwrap_or(i32::MAX).min(MAX_VISIBILITY_SECONDS);
        let result = self
            .client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await;
        if let Err(error) = result {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "could not shorten the message's visibility");
        }
    }
}

/// SQS's limit on a visibility timeout: 12 hours.
pub const MAX_VISIBILITY_SECONDS: i32 = 43_200;

//! SQS FIFO queues (`aws-sdk-sqs`): the guild is the message group (one guild's jobs run in
//! order, guilds in parallel), the job's key the deduplication id.

use async_trait::async_trait;
use aws_sdk_sqs::Client;

use super::{Job, JobQueue, QueueError, QueueKind};

#[derive(Debug, Clone)]
pub struct SqsQueues {
    client: Client,
    channel_queue_url: String,
    sync_queue_url: String,
}

impl SqsQueues {
    pub fn new(client: Client, channel_queue_url: impl Into<String>, sync_queue_url: impl Into<String>) -> Self {
        Self { client, channel_queue_url: channel_queue_url.into(), sync_queue_url: sync_queue_url.into() }
    }

    /// A client configured the AWS SDK's way (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials chain).
    pub async fn client_from_env() -> Client {
        Client::new(&aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await)
    }

    fn url(&self, queue: QueueKind) -> &str {
        match queue {
            QueueKind::Channel => &self.channel_queue_url,
            QueueKind::Sync => &self.sync_queue_url,
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
            .message_group_id(job.guild_id().to_string())
            .message_deduplication_id(job.deduplication_id())
            .send()
            .await
            .map_err(|e| QueueError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }
}

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

/// How a job queue differs from what the workers expect: FIFO (a guild's jobs in order), and
/// a redrive policy to a dead-letter queue that exists, after `max_receives` receives (the
/// workers record why a job gave up on its last receive, so the two must agree). Empty when
/// it is as expected; an error when it cannot be read (missing, or no permission).
pub async fn queue_differences(client: &Client, url: &str, max_receives: u32) -> Result<Vec<String>, QueueError> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let unavailable = |error: aws_sdk_sqs::error::SdkError<_>| {
        QueueError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(error).to_string())
    };
    let read = client.get_queue_attributes().queue_url(url).attribute_names(QueueAttributeName::All).send().await;
    let attributes = read.map_err(unavailable)?.attributes.unwrap_or_default();
    let mut differences = Vec::new();
    if attributes.get(&QueueAttributeName::FifoQueue).map(String::as_str) != Some("true") {
        differences.push("it is not a FIFO queue".to_owned());
    }
    let redrive = attributes.get(&QueueAttributeName::RedrivePolicy);
    let policy: Option<serde_json::Value> = redrive.and_then(|text| serde_json::from_str(text).ok());
    let Some(policy) = policy else {
        differences.push("it has no redrive policy, so a job that keeps failing is retried forever".to_owned());
        return Ok(differences);
    };
    let receives = policy["maxReceiveCount"].as_u64().or_else(|| policy["maxReceiveCount"].as_str()?.parse().ok());
    if receives != Some(u64::from(max_receives)) {
        differences.push(format!(
            "its redrive policy dead-letters after {} receives, the workers after {max_receives} (MAX_RECEIVES)",
            receives.map_or("?".to_owned(), |n| n.to_string())
        ));
    }
    let target = policy["deadLetterTargetArn"].as_str().and_then(|arn| arn.rsplit(':').next()).unwrap_or_default();
    if client.get_queue_url().queue_name(target).send().await.is_err() {
        differences.push(format!("its dead-letter queue {target:?} does not exist"));
    }
    Ok(differences)
}

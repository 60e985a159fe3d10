//! Creating what the functions need at an AWS-compatible endpoint (moto's server,
//! LocalStack): the table from the code's one definition, and the FIFO job queues, each
//! with its dead-letter queue and redrive. Production gets the same from the SAM template.

use aws_sdk_sqs::types::QueueAttributeName;

use crate::{aws::dynamo::create_table, config, domain::QueueKind, store::items::ItemError};

/// SQS's maximum message retention (14 days): dead letters wait that long for an admin.
const DEAD_LETTER_RETENTION_SECONDS: &str = "1209600";
/// Longer than a worker's timeout, so a running job is not handed out twice.
const VISIBILITY_TIMEOUT_SECONDS: &str = "180";

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Table(#[from] ItemError),
    #[error("queue {name}: {reason}")]
    Queue { name: String, reason: String },
}

pub use super::config::WEBHOOK_MAX_RECEIVES;

/// What was created, as the functions' environment names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    pub table_name: String,
    pub channel_queue_url: String,
    pub channel_dead_letter_url: String,
    pub sync_queue_url: String,
    pub sync_dead_letter_url: String,
    pub webhook_queue_url: String,
    pub webhook_dead_letter_url: String,
    pub max_receives: u32,
}

impl Provisioned {
    /// `KEY=value` pairs for the functions.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (config::TABLE_NAME, self.table_name.clone()),
            (config::CHANNEL_QUEUE_URL, self.channel_queue_url.clone()),
            (config::SYNC_QUEUE_URL, self.sync_queue_url.clone()),
            (config::WEBHOOK_QUEUE_URL, self.webhook_queue_url.clone()),
            (config::MAX_RECEIVES, self.max_receives.to_string()),
        ]
    }
}

/// Whether creating the table failed because it is already there (DynamoDB's
/// `ResourceInUseException`, somewhere in the cause's chain).
fn table_exists(cause: &crate::domain::error::Cause) -> bool {
    let text = crate::domain::error::Report(cause).to_string();
    text.contains("ResourceInUse") || text.contains("already exists")
}

/// Creates `{prefix}` (the table), `{prefix}-channel.fifo`, `{prefix}-sync.fifo` and their
/// `-dlq.fifo` queues. Existing ones are kept (SQS's CreateQueue is idempotent for equal
/// attributes; an existing table is left as it is).
pub async fn provision(
    dynamo: &aws_sdk_dynamodb::Client,
    sqs: &aws_sdk_sqs::Client,
    prefix: &str,
    max_receives: u32,
) -> Result<Provisioned, ProvisionError> {
    match create_table(dynamo, prefix).await {
        Ok(()) => {}
        Err(ItemError::Unavailable(cause)) if table_exists(&cause) => {}
        Err(error) => return Err(error.into()),
    }
    let (channel_queue_url, channel_dead_letter_url) =
        queue_with_dead_letters(sqs, prefix, QueueKind::Channel, max_receives).await?;
    let (sync_queue_url, sync_dead_letter_url) =
        queue_with_dead_letters(sqs, prefix, QueueKind::Sync, max_receives).await?;
    // Deliveries retry on their own schedule (up to a day); the redrive is only a backstop.
    let (webhook_queue_url, webhook_dead_letter_url) =
        queue_with_dead_letters(sqs, prefix, QueueKind::Webhook, WEBHOOK_MAX_RECEIVES).await?;
    Ok(Provisioned {
        table_name: prefix.to_owned(),
        channel_queue_url,
        channel_dead_letter_url,
        sync_queue_url,
        sync_dead_letter_url,
        webhook_queue_url,
        webhook_dead_letter_url,
        max_receives,
    })
}

async fn queue_with_dead_letters(
    sqs: &aws_sdk_sqs::Client,
    prefix: &str,
    kind: QueueKind,
    max_receives: u32,
) -> Result<(String, String), ProvisionError> {
    let name = format!("{prefix}-{}", kind.as_str());
    let dead_letters = create_fifo(
        sqs,
        &format!("{name}-dlq.fifo"),
        &[(QueueAttributeName::MessageRetentionPeriod, DEAD_LETTER_RETENTION_SECONDS.to_owned())],
    )
    .await?;
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&dead_letters)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| queue_error(&name, e))?
        .attributes
        .and_then(|attributes| attributes.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or_else(|| ProvisionError::Queue {
            name: name.clone(),
            reason: "no ARN for the dead-letter queue".into(),
        })?;
    let redrive = serde_json::json!({ "deadLetterTargetArn": arn, "maxReceiveCount": max_receives }).to_string();
    let queue = create_fifo(
        sqs,
        &format!("{name}.fifo"),
        &[
            (QueueAttributeName::RedrivePolicy, redrive),
            (QueueAttributeName::VisibilityTimeout, VISIBILITY_TIMEOUT_SECONDS.to_owned()),
        ],
    )
    .await?;
    Ok((queue, dead_letters))
}

async fn create_fifo(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> Result<String, ProvisionError> {
    let mut request = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::ContentBasedDeduplication, "false");
    for (key, value) in attributes {
        request = request.attributes(key.clone(), value);
    }
    let created = request.send().await.map_err(|e| queue_error(name, e))?;
    created
        .queue_url
        .ok_or_else(|| ProvisionError::Queue { name: name.to_owned(), reason: "no URL in the answer".to_owned() })
}

fn queue_error<E: std::error::Error + 'static>(name: &str, error: E) -> ProvisionError {
    ProvisionError::Queue { name: name.to_owned(), reason: aws_sdk_sqs::error::DisplayErrorContext(&error).to_string() }
}

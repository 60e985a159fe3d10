//! Building the adapters once, the same way for every host: the Lambda functions use
//! [`Backends::aws`], the local stack and tests [`Backends::embedded`]. Use cases receive
//! only the ports, so a function behaves the same whichever host runs it.

use std::{path::Path, sync::Arc, time::Duration};

use twilight_model::id::Id;

use crate::{
    channels::ChannelWorker,
    config::{ConfigError, DiscordConfig, QueueConfig, StoreConfig, WorkerConfig},
    discord::rest::{DiscordClient, DiscordError},
    queue::{JobQueue, QueueError, embedded::EmbeddedQueue, lambda::BatchPolicy, sqs::SqsQueues},
    secrets::HostEnv,
    store::{DomainStore, Store, dynamo::DynamoItems, embedded::EmbeddedItems, items::ItemError},
    sync::SyncWorker,
};

/// Why a host could not start.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("store: {0}")]
    Store(#[from] ItemError),
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
    #[error("Discord client: {0}")]
    Discord(#[from] DiscordError),
}

/// The store and the job queue every function shares.
#[derive(Clone)]
pub struct Backends {
    pub store: Arc<dyn DomainStore>,
    pub queue: Arc<dyn JobQueue>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends").finish_non_exhaustive()
    }
}

impl Backends {
    /// DynamoDB and SQS, configured the AWS SDK's way (`AWS_REGION`, `AWS_ENDPOINT_URL`, ...).
    pub async fn aws(store: &StoreConfig, queues: &QueueConfig) -> (Self, SqsQueues) {
        let shared_config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let items = DynamoItems::new(aws_sdk_dynamodb::Client::new(&shared_config), store.table_name.clone());
        let sqs = SqsQueues::new(
            aws_sdk_sqs::Client::new(&shared_config),
            queues.channel_queue_url.clone(),
            queues.sync_queue_url.clone(),
        );
        (Self { store: Arc::new(Store::new(items)), queue: Arc::new(sqs.clone()) }, sqs)
    }

    /// The embedded store and queue under `dir` (the local stack's data folder).
    pub fn embedded(dir: &Path) -> Result<(Self, EmbeddedQueue), WiringError> {
        let store = Store::new(EmbeddedItems::open(&dir.join("store.sqlite3"))?);
        let queue = EmbeddedQueue::open(&dir.join("queue.sqlite3"))?;
        Ok((Self { store: Arc::new(store), queue: Arc::new(queue.clone()) }, queue))
    }

    /// Both in memory: for tests.
    pub fn in_memory() -> Result<(Self, EmbeddedQueue), WiringError> {
        let store = Store::new(EmbeddedItems::in_memory()?);
        let queue = EmbeddedQueue::in_memory()?;
        Ok((Self { store: Arc::new(store), queue: Arc::new(queue.clone()) }, queue))
    }
}

/// Everything a worker function reads at init: its store and queues in AWS, Discord, and
/// how it runs jobs. Every missing or malformed variable is named at once.
#[derive(Debug)]
pub struct WorkerHost {
    pub backends: Backends,
    pub sqs: SqsQueues,
    pub discord: DiscordConfig,
    pub worker: WorkerConfig,
}

impl WorkerHost {
    /// The process environment, with secrets from `SECRETS_ARN`.
    pub async fn from_env() -> Result<Self, String> {
        let env = HostEnv::load().await.map_err(|error| error.to_string())?;
        match (
            StoreConfig::from_source(&env),
            QueueConfig::from_source(&env),
            DiscordConfig::from_source(&env),
            WorkerConfig::from_source(&env),
        ) {
            (Ok(store), Ok(queues), Ok(discord), Ok(worker)) => {
                let (backends, sqs) = Backends::aws(&store, &queues).await;
                Ok(Self { backends, sqs, discord, worker })
            }
            (store, queues, discord, worker) => {
                Err(ConfigError::join([store.err(), queues.err(), discord.err(), worker.err()]))
            }
        }
    }
}

/// The channel worker over the given store, talking to Discord as configured.
pub fn channel_worker(
    store: Arc<dyn DomainStore>,
    discord: &DiscordConfig,
    worker: &WorkerConfig,
) -> Result<ChannelWorker, WiringError> {
    let client = DiscordClient::new(discord.api_base_url.clone(), discord.bot_token.clone())?;
    Ok(ChannelWorker::new(store, client, Id::new(worker.application_id.max(1)))
        .with_claim_stale_after(worker.claim_stale_after))
}

/// The sync worker over the given store and queue (for continuations).
pub fn sync_worker(backends: &Backends, discord: &DiscordConfig) -> Result<SyncWorker, WiringError> {
    let client = DiscordClient::new(discord.api_base_url.clone(), discord.bot_token.clone())?;
    Ok(SyncWorker::new(backends.store.clone(), backends.queue.clone(), client))
}

/// How long one channel-worker invocation may run (the Lambda function's timeout; the local
/// stack gives each job the same). `infra/template.yaml` must agree; a test checks it.
pub const CHANNEL_WORKER_TIMEOUT: Duration = Duration::from_secs(60);
/// The sync worker's: a run longer than this continues in a follow-up job.
pub const SYNC_WORKER_TIMEOUT: Duration = Duration::from_secs(300);

/// How a worker function runs its SQS batches.
pub fn batch_policy(worker: &WorkerConfig) -> BatchPolicy {
    BatchPolicy { max_receives: worker.max_receives, max_delay: Duration::from_secs(15 * 60) }
}

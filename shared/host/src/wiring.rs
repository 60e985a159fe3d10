//! Building the adapters once, the same way for every host: the Lambda functions use
//! [`Backends::aws`], the local stack and tests [`Backends::embedded`]. Use cases receive
//! only the ports, so a function behaves the same whichever host runs it.

use std::{sync::Arc, time::Duration};

#[cfg(feature = "web")]
mod web;
#[cfg(feature = "web")]
pub use web::{WEB_CALLS, connector, settings_pages, web_router};

use crate::config::{DiscordConfig, InteractionsConfig, WebhookConfig, WorkerConfig};
use crate::{
    channels::ChannelWorker,
    discord::{
        rest::{DiscordClient, DiscordError},
        signature::SignatureVerifier,
    },
    domain::QueueKind,
    interactions::{
        InteractionService,
        commands::{CommandDeps, RegistryError},
    },
    outbox::{AnnouncingLedger, EventSink, Outbox},
    queue::{JobQueue, QueueError},
    relay::RelayPoller,
    store::{DomainStore, JobLedger, items::ItemError},
    sync::SyncWorker,
    webhooks::{HttpSender, WebhookWorker},
    worker::lambda::BatchPolicy,
};

#[cfg(feature = "embedded")]
use crate::{
    queue::embedded::EmbeddedQueue,
    store::{Store, embedded::EmbeddedItems},
};

/// Why the adapters could not be built.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error(transparent)]
    Store(#[from] ItemError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Discord(#[from] DiscordError),
    #[cfg(feature = "web")]
    #[error("settings page: {0}")]
    Pages(String),
    #[error("webhooks: {0}")]
    Webhooks(String),
}

/// The store and the job queue every function shares, the outbox over them (where domain
/// events go), and the workers' ledger (which announces dead letters through it).
#[derive(Clone)]
pub struct Backends {
    pub store: Arc<dyn DomainStore>,
    pub queue: Arc<dyn JobQueue>,
    pub outbox: Arc<dyn EventSink>,
    pub ledger: Arc<dyn JobLedger>,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends").finish_non_exhaustive()
    }
}

impl Backends {
    /// The ports over one store and queue.
    pub fn over(store: Arc<dyn DomainStore>, queue: Arc<dyn JobQueue>) -> Self {
        let outbox: Arc<dyn EventSink> = Arc::new(Outbox::new(store.clone(), queue.clone()));
        let ledger = Arc::new(AnnouncingLedger::new(store.clone(), outbox.clone()));
        Self { store, queue, outbox, ledger }
    }

    /// DynamoDB and SQS, configured the AWS SDK's way (`AWS_REGION`, `AWS_ENDPOINT_URL`, ...),
    /// with the time limits a worker can afford.
    #[cfg(feature = "aws")]
    pub async fn aws(
        store: &super::config::StoreConfig,
        queues: &super::config::QueueConfig,
    ) -> (Self, crate::aws::sqs::SqsQueues) {
        Self::aws_within(store, queues, WORKER_CALLS).await
    }

    /// The same, each store and queue call bounded by `limits` (the interactions function
    /// answers within Discord's 3 seconds, so its calls get far less than a worker's).
    #[cfg(feature = "aws")]
    pub async fn aws_within(
        store: &super::config::StoreConfig,
        queues: &super::config::QueueConfig,
        limits: CallLimits,
    ) -> (Self, crate::aws::sqs::SqsQueues) {
        use crate::aws::{dynamo::DynamoItems, sqs::SqsQueues};
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(limits.connect)
            .operation_attempt_timeout(limits.attempt)
            .operation_timeout(limits.operation)
            .build();
        let shared_config =
            aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(timeouts).load().await;
        let items = DynamoItems::new(aws_sdk_dynamodb::Client::new(&shared_config), store.table_name.clone());
        let sqs = SqsQueues::new(
            aws_sdk_sqs::Client::new(&shared_config),
            queues.channel_queue_url.clone(),
            queues.sync_queue_url.clone(),
            queues.webhook_queue_url.clone(),
        );
        (Self::over(Arc::new(crate::store::Store::new(items)), Arc::new(sqs.clone())), sqs)
    }
}

/// The embedded adapters (SQLite): the local stack and tests.
#[cfg(feature = "embedded")]
impl Backends {
    /// The embedded store and queue under `dir` (the local stack's data folder).
    pub fn embedded(dir: &std::path::Path) -> Result<(Self, EmbeddedQueue), WiringError> {
        let store = Store::new(EmbeddedItems::open(&dir.join("store.sqlite3"))?);
        let queue = EmbeddedQueue::open(&dir.join("queue.sqlite3"))?;
        Ok((Self::over(Arc::new(store), Arc::new(queue.clone())), queue))
    }

    /// Both in memory: for tests.
    pub fn in_memory() -> Result<(Self, EmbeddedQueue), WiringError> {
        let store = Store::new(EmbeddedItems::in_memory()?);
        let queue = EmbeddedQueue::in_memory()?;
        Ok((Self::over(Arc::new(store), Arc::new(queue.clone())), queue))
    }
}

/// Time limits on every AWS call: connecting, one attempt, and the call with its retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    pub connect: Duration,
    pub attempt: Duration,
    pub operation: Duration,
}

/// Workers have minutes: a stalled call is cut off and retried well before their timeout.
pub const WORKER_CALLS: CallLimits = CallLimits {
    connect: Duration::from_secs(3),
    attempt: Duration::from_secs(10),
    operation: Duration::from_secs(30),
};

/// The interactions path answers within Discord's 3 s (its handler's own budget is 2.5 s):
/// one slow attempt is cut off quickly and retried once or twice inside that.
pub const INTERACTION_CALLS: CallLimits = CallLimits {
    connect: Duration::from_millis(500),
    attempt: Duration::from_millis(800),
    operation: Duration::from_millis(2_000),
};

/// How many processes may call Discord with the bot token at once: the channel and sync
/// workers' `MaximumConcurrency` in `infra/template.yaml` added up (a test checks it). The
/// interactions function never calls Discord's REST API; the scheduler only enqueues.
pub const DISCORD_PROCESSES: usize = 4;

/// Each worker process's share of Discord's global 50 requests a second, after the relay's
/// and the gateway ingest's fixed shares, so the whole fleet stays under the limit without a
/// shared counter (see the README's "Discord's rate limits").
pub const GLOBAL_SHARE_PER_PROCESS: usize = (crate::discord::rest::ratelimit::GLOBAL_PER_SECOND
    - crate::relay::RELAY_REQUESTS_PER_SECOND
    - crate::relay::GATEWAY_REQUESTS_PER_SECOND)
    / DISCORD_PROCESSES;

/// A Discord client as every worker process gets it: its share of the global limit.
pub fn discord_client(discord: &DiscordConfig) -> Result<DiscordClient, WiringError> {
    Ok(DiscordClient::new(discord.api_base_url.clone(), discord.bot_token.clone())?
        .with_global_share(GLOBAL_SHARE_PER_PROCESS))
}

/// The channel worker over the given store, talking to Discord as configured.
pub fn channel_worker(
    store: Arc<dyn DomainStore>,
    discord: &DiscordConfig,
    worker: &WorkerConfig,
) -> Result<ChannelWorker, WiringError> {
    let client = discord_client(discord)?;
    Ok(ChannelWorker::new(store, client, worker.application_id.cast(), worker.state_key.clone())
        .with_claim_stale_after(worker.claim_stale_after))
}

/// The interactions endpoint's router: Guildbridge's commands and their buttons.
pub fn interaction_service(
    config: &InteractionsConfig,
    backends: &Backends,
) -> Result<InteractionService, RegistryError> {
    let deps = CommandDeps {
        settings_url: config.settings_url.clone(),
        store: backends.store.clone(),
        queue: backends.queue.clone(),
        clock: crate::clock::system(),
        state_key: config.state_key.clone(),
    };
    InteractionService::guildbridge(
        SignatureVerifier::new(config.public_key, config.signature_max_age),
        &deps,
        config.state_key.clone(),
    )
}

/// The sync worker over the given store and queue (for continuations).
pub fn sync_worker(
    backends: &Backends,
    discord: &DiscordConfig,
    worker: &WorkerConfig,
) -> Result<SyncWorker, WiringError> {
    let client = discord_client(discord)?;
    Ok(SyncWorker::new(backends.store.clone(), backends.queue.clone(), client, worker.application_id)
        .with_events(backends.outbox.clone()))
}

/// The webhook worker: deliveries over HTTP, on the configured schedule.
pub fn webhook_worker(backends: &Backends, config: &WebhookConfig) -> Result<WebhookWorker, WiringError> {
    let sender = HttpSender::new(config.targets).map_err(WiringError::Webhooks)?;
    Ok(WebhookWorker::new(backends.store.clone(), Arc::new(sender), config.targets)
        .with_schedule(config.schedule.clone()))
}

/// The relay poller: its own Discord client, holding the relay's fixed share of the global
/// limit and of the invalid-request budget (one relay process at a time: the template's
/// reserved concurrency).
pub fn relay_poller(
    backends: &Backends,
    discord: &DiscordConfig,
    worker: &WorkerConfig,
) -> Result<RelayPoller, WiringError> {
    let client = DiscordClient::new(discord.api_base_url.clone(), discord.bot_token.clone())?
        .with_global_share(crate::relay::RELAY_REQUESTS_PER_SECOND)
        .with_invalid_request_budget(crate::discord::rest::ratelimit::InvalidRequestBudget::new(
            crate::relay::RELAY_INVALID_REQUESTS,
            Duration::from_secs(600),
        ));
    Ok(RelayPoller::new(backends.store.clone(), client, backends.outbox.clone(), worker.application_id.cast()))
}

/// The gateway ingest's use case, with the Discord client of its share (one process per shard
/// range; each range's own share is this one divided by the processes).
pub fn gateway_ingest(
    backends: &Backends,
    discord: &DiscordConfig,
    worker: &WorkerConfig,
) -> Result<(crate::relay::GatewayIngest, DiscordClient), WiringError> {
    let client = DiscordClient::new(discord.api_base_url.clone(), discord.bot_token.clone())?
        .with_global_share(crate::relay::GATEWAY_REQUESTS_PER_SECOND);
    let reader = crate::relay::ChannelReader::new(
        backends.store.clone(),
        client.clone(),
        backends.outbox.clone(),
        worker.application_id.cast(),
        crate::clock::system(),
    );
    Ok((crate::relay::GatewayIngest::new(reader), client))
}

pub use crate::config::{CHANNEL_WORKER_TIMEOUT, SYNC_WORKER_TIMEOUT, WEBHOOK_WORKER_BATCH, WEBHOOK_WORKER_TIMEOUT};

/// How a worker function runs its SQS batches.
pub fn batch_policy(queue: QueueKind, worker: &WorkerConfig) -> BatchPolicy {
    BatchPolicy { queue, max_receives: worker.max_receives, max_delay: Duration::from_secs(15 * 60) }
}

/// How the webhook worker runs its batches: its own redrive limit, and waits up to SQS's
/// 12-hour visibility limit (the delivery schedule's longest wait is 10 hours).
pub fn webhook_batch_policy() -> BatchPolicy {
    BatchPolicy {
        queue: QueueKind::Webhook,
        max_receives: super::config::WEBHOOK_MAX_RECEIVES,
        max_delay: Duration::from_secs(12 * 3600 - 60),
    }
}

//! Building the adapters once, the same way for every host: the Lambda functions use
//! [`Backends::aws`], the local stack and tests [`Backends::embedded`]. Use cases receive
//! only the ports, so a function behaves the same whichever host runs it.

use std::{path::Path, sync::Arc, time::Duration};

use super::config::{DiscordConfig, InteractionsConfig, WebConfig, WebhookConfig, WorkerConfig};
use crate::{
    api::connect::{ClientSecret, Connector},
    channels::ChannelWorker,
    discord::{
        rest::{BotToken, DiscordClient, DiscordError},
        signature::SignatureVerifier,
    },
    domain::QueueKind,
    events::{AnnouncingLedger, EventSink, Outbox},
    interactions::{
        InteractionService,
        commands::{CommandDeps, RegistryError},
    },
    queue::{JobQueue, QueueError, embedded::EmbeddedQueue},
    relay::RelayPoller,
    store::{DomainStore, JobLedger, Store, embedded::EmbeddedItems, items::ItemError},
    sync::SyncWorker,
    webhooks::{HttpSender, WebhookWorker},
    worker::lambda::BatchPolicy,
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
    pub events: Arc<dyn EventSink>,
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
        let events: Arc<dyn EventSink> = Arc::new(Outbox::new(store.clone(), queue.clone()));
        let ledger = Arc::new(AnnouncingLedger::new(store.clone(), events.clone()));
        Self { store, queue, events, ledger }
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
        (Self::over(Arc::new(Store::new(items)), Arc::new(sqs.clone())), sqs)
    }

    /// The embedded store and queue under `dir` (the local stack's data folder).
    pub fn embedded(dir: &Path) -> Result<(Self, EmbeddedQueue), WiringError> {
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
/// fixed share, so the whole fleet stays under the limit without a shared counter (see the
/// README's "Discord's rate limits").
pub const GLOBAL_SHARE_PER_PROCESS: usize =
    (crate::discord::rest::ratelimit::GLOBAL_PER_SECOND - crate::relay::RELAY_REQUESTS_PER_SECOND) / DISCORD_PROCESSES;

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

/// The `web` function's router: the tenant API over the store and the queue.
pub fn web_router(backends: &Backends, web: &WebConfig) -> Result<axum::Router, WiringError> {
    let api = crate::api::router(crate::api::Api {
        store: backends.store.clone(),
        queue: backends.queue.clone(),
        clock: crate::clock::system(),
        connect: connector(web)?,
        webhook_targets: web.webhook_targets,
        bot: web_bot(web)?,
        limits: web.request_limits,
    });
    Ok(api.merge(settings_pages(backends, web)?))
}

/// The settings page: people log in through the same OAuth2 application that installs the
/// bot; the pickers use the bot's token when the function has it.
pub fn settings_pages(backends: &Backends, web: &WebConfig) -> Result<axum::Router, WiringError> {
    let connect = connector(web)?;
    let login = crate::pages::LoginClient::new(
        web.application_id,
        &web.client_secret,
        &web.authorize_url(),
        &web.api_base_url,
        connect.discord.clone(),
    )
    .map_err(WiringError::Pages)?;
    let bot = web_bot(web)?;
    Ok(crate::pages::router(crate::pages::Pages {
        store: backends.store.clone(),
        queue: backends.queue.clone(),
        clock: crate::clock::system(),
        login,
        cookies: crate::pages::CookiePolicy::for_site(web.public_url.as_ref()),
        connect,
        bot,
        pickers: crate::pages::Pickers::new(web.application_id),
        webhook_targets: web.webhook_targets,
    }))
}

/// The bot's client in `web`: the pickers and the checks of settings ids. Without a token
/// Discord refuses every call, so ids cannot be saved and the pickers are plain fields.
fn web_bot(web: &WebConfig) -> Result<DiscordClient, WiringError> {
    let bot_token = web.bot_token.clone().unwrap_or_else(|| BotToken::new(""));
    Ok(DiscordClient::new(web.api_base_url.clone(), bot_token)?)
}

/// The connect flow's parts. Its Discord client only exchanges OAuth2 codes (the client
/// secret authenticates those), so it holds no bot token.
pub fn connector(web: &WebConfig) -> Result<Connector, WiringError> {
    Ok(Connector {
        application_id: web.application_id,
        client_secret: ClientSecret::new(web.client_secret.clone()),
        state_key: web.state_key.clone(),
        authorize_url: web.authorize_url(),
        public_url: web.public_url.clone(),
        discord: DiscordClient::new(web.api_base_url.clone(), BotToken::new(""))?,
    })
}

/// The web function answers people and platforms waiting on it: calls are cut off well
/// inside a browser's or an HTTP client's patience, and retried once or twice inside that.
pub const WEB_CALLS: CallLimits = CallLimits {
    connect: Duration::from_millis(1_000),
    attempt: Duration::from_millis(2_000),
    operation: Duration::from_millis(5_000),
};

/// The sync worker over the given store and queue (for continuations).
pub fn sync_worker(
    backends: &Backends,
    discord: &DiscordConfig,
    worker: &WorkerConfig,
) -> Result<SyncWorker, WiringError> {
    let client = discord_client(discord)?;
    Ok(SyncWorker::new(backends.store.clone(), backends.queue.clone(), client, worker.application_id)
        .with_events(backends.events.clone()))
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
    Ok(RelayPoller::new(backends.store.clone(), client, backends.events.clone(), worker.application_id.cast()))
}

pub use crate::host::config::{
    CHANNEL_WORKER_TIMEOUT, SYNC_WORKER_TIMEOUT, WEBHOOK_WORKER_BATCH, WEBHOOK_WORKER_TIMEOUT,
};

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

//! `guildbridge local`: every function in one process, wired exactly as in Lambda. The
//! interactions endpoint over HTTP, the channel and sync workers on the embedded (persisted)
//! queue, the scheduler on a timer, the embedded store, and the Discord sandbox with a demo
//! guild unless real Discord settings are given.

use std::{collections::HashMap, net::SocketAddr, path::Path, sync::Arc, time::Duration};

use anyhow::Context;
use guildbridge_core::{
    clock::{Clock, SystemClock},
    discord::rest::DiscordClient,
    domain::{BotInstall, QueueKind, Tenant, TenantId},
    interactions,
    queue::embedded::EmbeddedQueue,
    store::StoreError,
    test_support::interactions::Invoker,
    tick::run_tick,
    worker::Consumer,
};
use guildbridge_host::{
    config::{
        self, ConfigError, DiscordConfig, EnvSource, InteractionsConfig, ProcessEnv, WebConfig, WebhookConfig,
        WorkerConfig,
    },
    telemetry,
    wiring::{self, Backends},
};
use tokio::{sync::watch, task::JoinSet};
use twilight_model::{guild::Permissions, id::Id};

use crate::{
    demo,
    dev_keys::DevKeys,
    local_sandbox::{self, LocalSandbox},
    session::Session,
};

/// The process environment first, then local defaults: real Discord settings win when given.
struct WithDefaults(HashMap<String, String>);

impl EnvSource for WithDefaults {
    fn get(&self, name: &str) -> Option<String> {
        ProcessEnv.get(name).or_else(|| self.0.get(name).cloned())
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub addr: SocketAddr,
    pub sandbox_addr: SocketAddr,
    pub demo_members: u64,
    pub schedule_every: Duration,
    /// The gateway ingest beside the poller.
    pub gateway: bool,
}

/// Everything the hosts read at start, with local defaults where the environment is silent.
struct LocalConfig {
    interactions: InteractionsConfig,
    discord: DiscordConfig,
    worker: WorkerConfig,
    web: WebConfig,
    webhooks: WebhookConfig,
    using_dev_key: bool,
}

impl LocalConfig {
    fn read(keys: &DevKeys, addr: SocketAddr, sandbox: Option<&LocalSandbox>) -> anyhow::Result<Self> {
        let mut defaults = HashMap::from([
            (config::DISCORD_PUBLIC_KEY.to_owned(), keys.public_key_hex()),
            (config::STATE_SIGNING_KEY.to_owned(), keys.state_secret.clone()),
            (config::SETTINGS_URL.to_owned(), format!("http://{addr}/settings")),
            // The connect flow sends people back to this address (plain http on loopback).
            (config::WEB_PUBLIC_URL.to_owned(), format!("http://{addr}")),
            // A platform on this machine may receive webhooks over plain http.
            (config::WEBHOOK_ALLOW_LOOPBACK.to_owned(), "true".to_owned()),
        ]);
        if let Some(sandbox) = sandbox {
            defaults.insert(config::DISCORD_BOT_TOKEN.to_owned(), local_sandbox::BOT_TOKEN.to_owned());
            defaults.insert(config::DISCORD_API_BASE_URL.to_owned(), sandbox.api_base_url());
            defaults.insert(config::DISCORD_APPLICATION_ID.to_owned(), Invoker::default().application_id.to_string());
            defaults.insert(config::DISCORD_CLIENT_SECRET.to_owned(), local_sandbox::CLIENT_SECRET.to_owned());
        }
        let env = WithDefaults(defaults);
        // Every missing or malformed variable named at once, as the functions do.
        let (interactions, discord, worker, web, webhooks) = match (
            InteractionsConfig::from_source(&env),
            DiscordConfig::from_source(&env),
            WorkerConfig::from_source(&env),
            WebConfig::from_source(&env),
            WebhookConfig::from_source(&env),
        ) {
            (Ok(interactions), Ok(discord), Ok(worker), Ok(web), Ok(webhooks)) => {
                (interactions, discord, worker, web, webhooks)
            }
            (interactions, discord, worker, web, webhooks) => {
                let problems = [interactions.err(), discord.err(), worker.err(), web.err(), webhooks.err()];
                return Err(ConfigError::join(problems).into());
            }
        };
        let using_dev_key = interactions.public_key == keys.signing.verifying_key();
        Ok(Self { interactions, discord, worker, web, webhooks, using_dev_key })
    }
}

pub async fn run(data_dir: &Path, options: Options) -> anyhow::Result<()> {
    telemetry::init_json_logs();
    let keys = DevKeys::load_or_create(data_dir)?;
    let state_dir = data_dir.join("data");
    // Real Discord when a bot token is given; otherwise the sandbox plays it.
    let sandbox = match ProcessEnv.get(config::DISCORD_BOT_TOKEN) {
        Some(_) => None,
        None => Some(LocalSandbox::start(&state_dir, options.sandbox_addr, options.demo_members).await?),
    };
    // Bind first: with port 0 the address that links point at is only known afterwards.
    let listener =
        tokio::net::TcpListener::bind(options.addr).await.with_context(|| format!("binding {}", options.addr))?;
    let addr = listener.local_addr()?;
    let config = LocalConfig::read(&keys, addr, sandbox.as_ref())?;

    let (stop_tx, stop) = watch::channel(false);
    let metrics = guildbridge_host::metrics::prometheus(stop.clone())?;
    let (backends, queue) = Backends::embedded(&state_dir)?;
    let service = wiring::interaction_service(&config.interactions, &backends)?;
    let landing = demo::Landing { base: format!("http://{addr}"), sandbox: sandbox.as_ref().map(LocalSandbox::url) };
    let landing = axum::response::Html(landing.html());
    let app = wiring::web_router(&backends, &config.web)?
        .merge(interactions::http::routes(Arc::new(service)))
        .route("/", axum::routing::get(move || std::future::ready(landing.clone())))
        .route("/metrics", axum::routing::get(move || std::future::ready(metrics.render())));
    let demo_key = match &sandbox {
        Some(_) => Some(demo_tenant(&backends, &state_dir).await?),
        None => None,
    };
    let seeded = match &demo_key {
        Some(key) => demo::seed(&app, key, &state_dir, SystemClock.now()).await?,
        None => false,
    };
    let mut tasks = spawn_workers(&backends, &queue, &config, stop.clone())?;
    tasks.spawn(scheduler(backends.clone(), options.schedule_every, stop.clone()));
    if options.gateway {
        let (ingest, client) = wiring::gateway_ingest(&backends, &config.discord, &config.worker)?;
        let (token, stopped) = (config.discord.bot_token.clone(), stop.clone());
        tasks.spawn(async move {
            let options = guildbridge_host::gateway::GatewayOptions::default();
            if let Err(error) = guildbridge_host::gateway::run(ingest, client, &token, options, stopped).await {
                tracing::error!(error = %guildbridge_core::domain::error::Report(&error), "the gateway ingest stopped; the poller relays alone");
            }
        });
    }
    if let Some(sandbox) = &sandbox {
        tasks.spawn(sandbox.keep_saved(stop));
    }

    let endpoint = format!("http://{addr}/interactions");
    if let Some(sandbox) = &sandbox {
        // As a developer sets up their application: its endpoint, its redirects, its commands.
        sandbox.configure_application(&endpoint, &format!("http://{addr}"));
        register_in_sandbox(&config).await?;
    }
    let session = Session {
        endpoint: endpoint.clone(),
        sandbox_url: sandbox.as_ref().map(LocalSandbox::url),
        application_id: config.worker.application_id.get(),
    };
    session.save(data_dir)?;
    let tenant_api = demo_key.map(|key| (format!("http://{addr}/v1"), key));
    print_banner(&endpoint, tenant_api.as_ref(), sandbox.as_ref(), &config, &state_dir, seeded);

    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    if let Some(sandbox) = &sandbox {
        sandbox.save()?;
    }
    Session::remove(data_dir);
    println!("Stopped.");
    Ok(())
}

/// The command manifest into the sandbox's application, as `register-commands` sends it.
async fn register_in_sandbox(config: &LocalConfig) -> anyhow::Result<()> {
    let client = DiscordClient::new(config.discord.api_base_url.clone(), config.discord.bot_token.clone())?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let commands = guildbridge_core::interactions::commands::manifest();
    client.bulk_overwrite_commands(config.worker.application_id, None, &commands, deadline).await?;
    Ok(())
}

/// The demo tenant: created and connected to the sandbox's demo guild on first start. Its
/// key is kept in the data folder (the store has only its hash), so it stays the same
/// across starts until that folder is removed.
pub const DEMO_TENANT: &str = "demo";
const DEMO_KEY_FILE: &str = "demo-api-key";

async fn demo_tenant(backends: &Backends, data_dir: &Path) -> anyhow::Result<String> {
    let store = backends.store.as_ref();
    let tenant_id = TenantId::from(DEMO_TENANT);
    let now = SystemClock.now();
    let tenant =
        Tenant { tenant_id: tenant_id.clone(), allowed_origins: vec!["http://127.0.0.1".to_owned()], created_at: now };
    match store.create_tenant(&tenant).await {
        Ok(()) | Err(StoreError::AlreadyExists(_)) => {}
        Err(error) => return Err(error.into()),
    }
    let guild = Id::new(local_sandbox::DEMO_GUILD);
    let mut connected = store.connect(&tenant_id, guild, local_sandbox::DEMO_GUILD_NAME, now).await;
    if let Err(StoreError::Conflict(_)) = connected {
        // The demo guild was disconnected and its data is still being deleted: finish that.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        guildbridge_core::forget::forget_guild(store, guild, deadline).await?;
        connected = store.connect(&tenant_id, guild, local_sandbox::DEMO_GUILD_NAME, now).await;
    }
    match connected {
        Ok(()) | Err(StoreError::AlreadyExists(_)) => {}
        Err(error) => return Err(error.into()),
    }
    let install = BotInstall { invited: true, permissions: Permissions::all().bits(), updated_at: now };
    store.record_bot_install(guild, install).await?;
    let path = data_dir.join(DEMO_KEY_FILE);
    if let Ok(kept) = std::fs::read_to_string(&path)
        && store.tenant_for_key(kept.trim(), now).await?.is_some_and(|(owner, _)| owner == tenant_id)
    {
        return Ok(kept.trim().to_owned());
    }
    let key = store.issue_api_key(&tenant_id, now).await?.secret;
    std::fs::write(&path, &key).with_context(|| format!("writing {}", path.display()))?;
    Ok(key)
}

/// The SQS event sources' stand-ins: one loop per queue, each job given a Lambda timeout.
fn spawn_workers(
    backends: &Backends,
    queue: &EmbeddedQueue,
    config: &LocalConfig,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<JoinSet<()>> {
    let channel_worker = wiring::channel_worker(backends.store.clone(), &config.discord, &config.worker)?
        .with_events(backends.outbox.clone());
    let sync_worker = wiring::sync_worker(backends, &config.discord, &config.worker)?;
    let webhook_worker = wiring::webhook_worker(backends, &config.webhooks)?;
    let relay = wiring::relay_poller(backends, &config.discord, &config.worker)?;
    let max_receives = config.worker.max_receives;
    let mut tasks = JoinSet::new();
    let (q, s, ledger) = (queue.clone(), stop.clone(), backends.ledger.clone());
    tasks.spawn(async move {
        Consumer::new(&q, QueueKind::Channel, &channel_worker, ledger.as_ref())
            .limits(max_receives, wiring::CHANNEL_WORKER_TIMEOUT)
            .work_until_stopped(s)
            .await;
    });
    let (q, s, ledger) = (queue.clone(), stop.clone(), backends.ledger.clone());
    tasks.spawn(async move {
        Consumer::new(&q, QueueKind::Sync, &sync_worker, ledger.as_ref())
            .limits(max_receives, wiring::SYNC_WORKER_TIMEOUT)
            .work_until_stopped(s)
            .await;
    });
    let (q, s, ledger) = (queue.clone(), stop.clone(), backends.ledger.clone());
    tasks.spawn(async move {
        let policy = wiring::webhook_batch_policy();
        Consumer::new(&q, QueueKind::Webhook, &webhook_worker, ledger.as_ref())
            .limits(policy.max_receives, wiring::WEBHOOK_WORKER_TIMEOUT)
            .work_until_stopped(s)
            .await;
    });
    // The relay's schedule, as in Lambda: passes until stopped.
    tasks.spawn(async move {
        let far = tokio::time::Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600);
        relay.run_until(far, stop).await;
    });
    Ok(tasks)
}

fn print_banner(
    endpoint: &str,
    tenant_api: Option<&(String, String)>,
    sandbox: Option<&LocalSandbox>,
    config: &LocalConfig,
    state_dir: &Path,
    seeded: bool,
) {
    let base = endpoint.trim_end_matches("/interactions");
    println!("Guildbridge is running locally: {base}/ lists what runs where.");
    println!("  interactions endpoint  {endpoint}");
    println!("  settings page          {base}/settings");
    println!("  metrics (Prometheus)   {base}/metrics");
    if let Some((url, key)) = tenant_api {
        println!("  tenant API             {url}");
        println!("  demo tenant's API key  {key}  (tenant {DEMO_TENANT}, connected to the demo guild)");
    }
    match sandbox {
        Some(sandbox) => {
            println!("  Discord sandbox        {} (demo guild {})", sandbox.url(), local_sandbox::DEMO_GUILD);
            println!("  demo logins            demo-admin (Manage Server), demo-member, second-admin (another guild)");
            let when = if seeded { "made just now" } else { "made on the first start" };
            println!(
                "  demo data              event {}, with team red, and lead {} ({when})",
                demo::DEMO_EVENT,
                demo::DEMO_LEAD
            );
        }
        None => println!("  Discord                {}", config.discord.api_base_url),
    }
    println!("  data                   {}  (stop, delete it, and start again for a fresh demo)", state_dir.display());
    println!("  public key             {}", hex::encode(config.interactions.public_key.as_bytes()));
    if config.using_dev_key {
        println!("Try it:  cargo run -p guildbridge -- interact '/channel create name:demo'");
    }
    println!("Ctrl-C stops it; queued jobs wait in the data folder for the next start.");
}

/// The EventBridge schedule's stand-in: the same tick on a timer.
async fn scheduler(backends: Backends, every: Duration, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        run_tick(backends.store.as_ref(), backends.queue.as_ref(), SystemClock.now()).await;
        let _ = tokio::time::timeout(every, stop.changed()).await;
    }
}

//! Lead messages end to end with the Gateway ingest beside the poller, and with the poller
//! alone: 50 lead channels made through the API and the channel worker, a member posting in
//! them, the webhook worker delivering to the independent Standard Webhooks receiver. The
//! gateway's connection is dropped (a resume), its session invalidated (a new READY and a
//! catch-up), and the process stopped (the poller takes over) and started again; every
//! message reaches the CRM exactly once.

use std::{collections::HashMap, sync::Arc, time::Duration};

use e2e::stack;
use guildbridge_core::{
    domain::{QueueKind, RetrySchedule, TargetPolicy},
    relay::PollPolicy,
    worker::lambda::BatchPolicy,
};
use guildbridge_host::{
    config::WebhookConfig,
    gateway::{self, GatewayOptions},
    wiring,
};
use serde_json::json;
use tokio::{sync::watch, task::JoinHandle, time::Instant};
use twilight_model::id::Id;

use super::webhooks_e2e::{GUILD, LEAD, Receiver, World, body};

const LEADS: usize = 50;
/// The poller counts the gateway as gone after this long without a heartbeat (short here, so
/// the test waits seconds, not the production half-minute).
const STALE: Duration = Duration::from_secs(3);

/// A CRM with 50 lead channels and a receiver hearing `message.received`; the webhook worker
/// delivering in the background until the returned sender says stop.
async fn crm_with_leads() -> (Arc<World>, Receiver, Vec<u64>, watch::Sender<bool>) {
    let world = Arc::new(World::new().await);
    let receiver = Receiver::start();
    let hooks = json!({ "url": receiver.url("crm"), "events": ["message.received"] });
    let (status, endpoint) = world.call(0, reqwest::Method::PUT, "/v1/webhook", Some(hooks)).await;
    assert_eq!(status, 201, "{endpoint}");
    receiver.configure("crm", endpoint["secret"].as_str().expect("secret"), 0).await;
    for n in 0..LEADS {
        let lead = json!({ "name": format!("Lead {n}"), "discord_user_id": LEAD.to_string() });
        assert_eq!(world.call(0, reqwest::Method::PUT, &format!("/v1/subjects/lead/{n}"), Some(lead)).await.0, 201);
        let made = world.call(0, reqwest::Method::POST, &format!("/v1/subjects/lead/{n}/channel"), None).await;
        assert_eq!(made.0, 202, "{}", made.1);
    }
    let config = stack::worker_config(5, 60);
    let channel_worker =
        wiring::channel_worker(world.backends.store.clone(), &stack::discord_config(&world.sandbox), &config)
            .expect("worker")
            .with_events(world.backends.outbox.clone());
    let policy = wiring::batch_policy(QueueKind::Channel, &config);
    world.run(&world.provisioned.channel_queue_url, &channel_worker, policy, 240).await;
    let relayed = world.backends.store.guild_relays(Id::new(GUILD)).await.expect("relays");
    let channels: Vec<u64> = relayed.iter().map(|channel| channel.channel_id.get()).collect();
    assert_eq!(channels.len(), LEADS, "every lead's channel is relayed");

    let (stop, mut stopped) = watch::channel(false);
    let delivering = world.clone();
    tokio::spawn(async move {
        let quick = WebhookConfig {
            targets: TargetPolicy { allow_loopback: true },
            schedule: RetrySchedule::parse("1,1,1").expect("schedule"),
        };
        let worker = wiring::webhook_worker(&delivering.backends, &quick).expect("webhook worker");
        let policy = BatchPolicy { max_delay: Duration::from_secs(1), ..wiring::webhook_batch_policy() };
        while !*stopped.borrow() {
            delivering.run(&delivering.provisioned.webhook_queue_url, &worker, policy, 5).await;
            let _ = tokio::time::timeout(Duration::from_millis(200), stopped.changed()).await;
        }
    });
    (world, receiver, channels, stop)
}

/// The relay poller, running until stopped, counting the gateway as gone after [`STALE`].
fn start_poller(world: &World) -> (watch::Sender<bool>, JoinHandle<()>) {
    let poller =
        wiring::relay_poller(&world.backends, &stack::discord_config(&world.sandbox), &stack::worker_config(5, 60))
            .expect("poller")
            .with_policy(PollPolicy { gateway_stale: STALE, ..PollPolicy::default() });
    let (stop, stopped) = watch::channel(false);
    let far = Instant::now() + Duration::from_secs(3600);
    (
        stop,
        tokio::spawn(async move {
            poller.run_until(far, stopped).await;
        }),
    )
}

/// The gateway ingest's process, running until stopped.
fn start_gateway(world: &World) -> (watch::Sender<bool>, JoinHandle<Result<(), gateway::GatewayError>>) {
    let discord = stack::discord_config(&world.sandbox);
    let (ingest, client) =
        wiring::gateway_ingest(&world.backends, &discord, &stack::worker_config(5, 60)).expect("ingest");
    let options = GatewayOptions { pulse_every: Duration::from_secs(1), ..GatewayOptions::default() };
    let (stop, stopped) = watch::channel(false);
    let token = discord.bot_token.clone();
    (stop, tokio::spawn(async move { gateway::run(ingest, client, &token, options, stopped).await }))
}

async fn until(what: &str, limit: Duration, mut holds: impl FnMut() -> bool) {
    let give_up = Instant::now() + limit;
    while !holds() {
        assert!(Instant::now() < give_up, "waited {limit:?} for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Posts `count` messages round-robin over `channels`; their ids with when they were posted.
fn post(world: &World, channels: &[u64], round: &str, count: usize) -> Vec<(String, Instant)> {
    (0..count)
        .map(|n| {
            let channel = channels[n % channels.len()];
            let id = world.sandbox.post_as(channel, LEAD, &format!("{round} {n}"), None).expect("posted");
            (id, Instant::now())
        })
        .collect()
}

/// Every delivery of `message.received` by message id: (how many answered 204, all verified,
/// when the first arrived).
async fn delivered(receiver: &Receiver) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for delivery in receiver.received("crm", "message.received").await {
        assert_eq!(delivery["verified"], true, "{delivery}");
        if delivery["answered"] == 204 {
            let id = body(&delivery)["data"]["message_id"].as_str().unwrap_or_default().to_owned();
            *counts.entry(id).or_insert(0) += 1;
        }
    }
    counts
}

async fn all_delivered(receiver: &Receiver, posted: &[(String, Instant)], limit: Duration) {
    let give_up = Instant::now() + limit;
    loop {
        let got = delivered(receiver).await;
        let missing: Vec<&String> = posted.iter().map(|(id, _)| id).filter(|id| !got.contains_key(*id)).collect();
        if missing.is_empty() {
            return;
        }
        assert!(Instant::now() < give_up, "{} of {} not delivered: {missing:?}", missing.len(), posted.len());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn exactly_once(receiver: &Receiver, posted: &[(String, Instant)]) {
    // Time for any second delivery to show up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = delivered(receiver).await;
    let twice: Vec<(&String, &usize)> = got.iter().filter(|(_, count)| **count > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(got.len(), posted.len(), "every message once, and nothing else");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_the_gateway_every_message_arrives_once_through_a_resume_an_invalid_session_and_a_restart() {
    let (world, receiver, channels, delivering) = crm_with_leads().await;
    let (gateway_stop, running) = start_gateway(&world);
    until("the gateway's session", Duration::from_secs(20), || world.sandbox.gateway_stats().live == 1).await;
    // Its heartbeat, once it has caught up with every channel (read the bot's first message in each).
    until("the gateway's catch-up", Duration::from_secs(60), || {
        futures_now(world.backends.store.gateway_pulse()).is_some_and(|pulse| pulse.behind == 0)
    })
    .await;
    // The poller beside it: its first check finds the heartbeat fresh and puts the guild on
    // the safety net's slow cadence.
    let (poller_stop, poller) = start_poller(&world);
    until("the poller's first check, put on the safety net", Duration::from_secs(30), || {
        let now = guildbridge_core::clock::system().now();
        futures_ok(world.backends.store.relay_guilds_between(now + 60, now + 600, 10))
            .is_some_and(|slow| !slow.is_empty())
    })
    .await;
    world.sandbox.clear_requests();

    // Dropped mid-run: twilight resumes, and the sandbox replays what the session missed.
    let mut posted = post(&world, &channels, "before the drop", 25);
    world.sandbox.gateway_drop();
    posted.extend(post(&world, &channels, "while dropped", 25));
    until("a resume", Duration::from_secs(20), || world.sandbox.gateway_stats().resumes >= 1).await;
    all_delivered(&receiver, &posted, Duration::from_secs(30)).await;
    let reads = world.sandbox.requests().iter().filter(|r| r.template == "/channels/{channel_id}/messages").count();
    assert_eq!(reads, 0, "the gateway handed every message over, the missed ones replayed: no channel was read");
    // Invalidated: a new session, READY, and a catch-up of every channel.
    posted.extend(post(&world, &channels, "before the invalid session", 25));
    world.sandbox.gateway_invalidate();
    posted.extend(post(&world, &channels, "after the invalid session", 25));
    until("a second IDENTIFY", Duration::from_secs(20), || world.sandbox.gateway_stats().identifies >= 2).await;
    all_delivered(&receiver, &posted, Duration::from_secs(60)).await;
    let stats = world.sandbox.gateway_stats();
    assert!(stats.problems.is_empty(), "the client sent only what Discord documents: {:?}", stats.problems);

    // Stopped: the poller takes over once the heartbeat is stale.
    let _ = gateway_stop.send(true);
    running.await.expect("joined").expect("stopped cleanly");
    let stopped_at = Instant::now();
    let while_down = post(&world, &channels, "while the gateway is down", 20);
    all_delivered(&receiver, &while_down, STALE + Duration::from_secs(20)).await;
    assert!(
        stopped_at.elapsed() < STALE + Duration::from_secs(20),
        "the poller took over within its stale window and a few of its checks"
    );
    posted.extend(while_down);

    // Started again: a new session and its catch-up change nothing twice.
    let (gateway_stop, running) = start_gateway(&world);
    until("the new session", Duration::from_secs(20), || world.sandbox.gateway_stats().identifies >= 3).await;
    posted.extend(post(&world, &channels, "after the restart", 30));
    all_delivered(&receiver, &posted, Duration::from_secs(60)).await;
    exactly_once(&receiver, &posted).await;

    let _ = gateway_stop.send(true);
    running.await.expect("joined").expect("stopped cleanly");
    let _ = poller_stop.send(true);
    poller.await.expect("poller");
    let _ = delivering.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_the_gateway_off_the_guild_level_poller_relays_the_same_run_exactly_once() {
    let (world, receiver, channels, delivering) = crm_with_leads().await;
    let (poller_stop, poller) = start_poller(&world);
    world.sandbox.clear_requests();
    let mut posted = Vec::new();
    for round in ["first", "second", "third", "fourth"] {
        posted.extend(post(&world, &channels, round, 25));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    all_delivered(&receiver, &posted, Duration::from_secs(60)).await;
    exactly_once(&receiver, &posted).await;
    let requests = world.sandbox.requests();
    let lists = requests.iter().filter(|r| r.template == "/guilds/{guild_id}/channels").count();
    let reads =
        requests.iter().filter(|r| r.template == "/channels/{channel_id}/messages" && r.method == "GET").count();
    assert!(lists > 0, "the poller reads the guild's list");
    assert!(reads <= posted.len(), "only channels that changed are read: {reads} reads for {} messages", posted.len());
    let _ = poller_stop.send(true);
    poller.await.expect("poller");
    let _ = delivering.send(true);
}

/// Runs a store read to completion from a synchronous condition.
fn futures_ok<T>(read: impl std::future::Future<Output = Result<T, guildbridge_core::store::StoreError>>) -> Option<T> {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(read)).ok()
}

/// Runs a store read of something that may be missing to completion.
fn futures_now<T>(
    read: impl std::future::Future<Output = Result<Option<T>, guildbridge_core::store::StoreError>>,
) -> Option<T> {
    futures_ok(read).flatten()
}

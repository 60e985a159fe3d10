//! Relay latency and cost under Discord-like limits: relayed channels in the sandbox
//! (Discord's per-route buckets and global limit), the relay holding its share of the global
//! limit, the webhook worker delivering to a receiver on loopback. A few channels are busy:
//! messages are posted round-robin across them, and each one's time from post to delivery is
//! measured. Then everything goes quiet and the requests of an idle stretch are counted.
//!
//! `cargo bench -p e2e --bench relay`, with GUILDS=1 CHANNELS=500 BUSY=20 (channels per guild;
//! the busy ones spread over the guilds), ACTIVE_SECS=90 EVERY_MS=500 IDLE_SECS=180 unless given;
//! MODE=gateway runs the gateway ingest beside the poller (MODE=poller, the default, without).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use discord_sandbox::{GuildSeed, RateLimits};
use e2e::stack;
use guildbridge_core::{
    domain::{
        EventType, QueueKind, SigningSecret, SubjectKind, SubjectRef, TargetPolicy, Tenant, TenantId, WebhookEndpoint,
    },
    store::RelayedChannel,
    worker::Consumer,
};
use guildbridge_host::{config::WebhookConfig, wiring};
use twilight_model::id::Id;

const FIRST_GUILD: u64 = 1_100_000_000_000_900_001;
const FIRST_MEMBER: u64 = 1_100_000_000_000_910_000;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// The relay's Discord requests so far: guild lists and channel reads.
fn requests(sandbox: &discord_sandbox::Sandbox) -> usize {
    sandbox
        .requests()
        .iter()
        .filter(|r| {
            r.method == "GET"
                && matches!(r.template.as_str(), "/channels/{channel_id}/messages" | "/guilds/{guild_id}/channels")
        })
        .count()
}

#[tokio::main]
async fn main() {
    let (guilds, per_guild, busy) = (env("GUILDS", 1), env("CHANNELS", 500), env("BUSY", 20));
    let (active_secs, every_ms, idle_secs) = (env("ACTIVE_SECS", 90), env("EVERY_MS", 500), env("IDLE_SECS", 180));
    let channels = guilds * per_guild;
    let sandbox = stack::sandbox_with(RateLimits::discord_like(), seed(FIRST_GUILD, per_guild)).await;
    for g in 1..guilds {
        sandbox.seed_guild(seed(FIRST_GUILD + g, per_guild));
    }
    let dir = std::env::temp_dir().join(format!("gb-relay-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (backends, queue) = wiring::Backends::embedded(&dir).expect("backends");

    // The platform: records when each relayed message arrived.
    let arrived: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let state = arrived.clone();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move |body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                if let Some(id) = event["data"]["message_id"].as_str() {
                    state.lock().unwrap().entry(id.to_owned()).or_insert_with(Instant::now);
                }
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    // Every guild is one tenant's; its channels are relayed as the channel worker would.
    let mut relayed = Vec::new();
    for g in 0..guilds {
        let guild = FIRST_GUILD + g;
        let tenant = TenantId::from(format!("crm-{g}").as_str());
        let profile = Tenant { tenant_id: tenant.clone(), allowed_origins: vec![], created_at: 1 };
        backends.store.create_tenant(&profile).await.unwrap();
        backends.store.connect(&tenant, Id::new(guild), "Relay bench", 1).await.unwrap();
        let endpoint = WebhookEndpoint {
            tenant_id: tenant.clone(),
            url: url.clone(),
            events: vec![EventType::MessageReceived],
            secret: SigningSecret::from_bytes(&[3; 32]),
            previous_secret: None,
            previous_until: None,
            paused: None,
            updated_at: 1,
            version: 0,
        };
        backends.store.put_webhook(&endpoint).await.unwrap();
        for n in 0..per_guild {
            let channel = stack::existing_text_channel(&sandbox, guild, &format!("lead-{n}"));
            let author = FIRST_MEMBER + g * per_guild + n;
            let entry = RelayedChannel {
                guild_id: Id::new(guild),
                subject: SubjectRef::new(SubjectKind::Lead, n.to_string()),
                channel_id: Id::new(channel),
                cursor: Id::new(channel),
                next_poll_at: now,
                interval: 0,
                last_message_at: None,
                subject_user: Some(Id::new(author)),
                conversation_joined_at: None,
                parked: false,
                parked_reason: None,
            };
            backends.store.watch_relay(&entry).await.unwrap();
            relayed.push((g, n, channel, author));
        }
    }
    // The busy channels: the first of each guild in turn, then the second, and so on.
    relayed.sort_by_key(|(g, n, _, _)| (*n, *g));
    let busy: Vec<(u64, u64)> =
        relayed.iter().take(busy as usize).map(|(_, _, channel, author)| (*channel, *author)).collect();

    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let gateway_mode = std::env::var("MODE").is_ok_and(|mode| mode == "gateway");
    if gateway_mode {
        let discord = stack::discord_config(&sandbox);
        let (ingest, client) = wiring::gateway_ingest(&backends, &discord, &stack::worker_config(5, 60)).unwrap();
        let stop = stop.clone();
        tokio::spawn(async move {
            let options = guildbridge_host::gateway::GatewayOptions::default();
            guildbridge_host::gateway::run(ingest, client, &discord.bot_token, options, stop).await
        });
        // Caught up with every channel (nothing to read: one list per guild).
        let give_up = Instant::now() + Duration::from_secs(120);
        while backends.store.gateway_pulse().await.unwrap().is_none_or(|pulse| pulse.behind > 0) {
            assert!(Instant::now() < give_up, "the gateway caught up");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let poller =
        wiring::relay_poller(&backends, &stack::discord_config(&sandbox), &stack::worker_config(5, 60)).unwrap();
    let far = tokio::time::Instant::now() + Duration::from_secs(24 * 3600);
    let relay_task = tokio::spawn({
        let stop = stop.clone();
        async move { poller.run_until(far, stop).await }
    });
    let config = WebhookConfig { targets: TargetPolicy { allow_loopback: true }, schedule: Default::default() };
    let worker = wiring::webhook_worker(&backends, &config).unwrap();
    let ledger = backends.ledger.clone();
    let deliver_task = tokio::spawn({
        let (queue, stop) = (queue.clone(), stop.clone());
        async move {
            Consumer::new(&queue, QueueKind::Webhook, &worker, ledger.as_ref())
                .limits(12, Duration::from_secs(60))
                .work_until_stopped(stop)
                .await
        }
    });

    // Active: one message every EVERY_MS, round-robin over the channels.
    let mut posted: Vec<(String, Instant)> = Vec::new();
    let polls_before = requests(&sandbox);
    let started = Instant::now();
    let mut n = 0usize;
    while started.elapsed() < Duration::from_secs(active_secs) {
        let (channel, author) = busy[n % busy.len()];
        let id = sandbox.post_as(channel, author, &format!("message {n}"), None).expect("posted");
        posted.push((id, Instant::now()));
        n += 1;
        tokio::time::sleep(Duration::from_millis(every_ms)).await;
    }
    let active_elapsed = started.elapsed();
    let active_polls = requests(&sandbox) - polls_before;
    // Let the last messages arrive (a quiet channel is polled at least every idle_max).
    let settle = Instant::now();
    while arrived.lock().unwrap().len() < posted.len() && settle.elapsed() < Duration::from_secs(90) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut latencies: Vec<Duration> = {
        let arrived = arrived.lock().unwrap();
        posted.iter().filter_map(|(id, at)| arrived.get(id).map(|got| got.duration_since(*at))).collect()
    };
    latencies.sort();
    let lost = posted.len() - latencies.len();

    // Idle: nobody writes; count the polls.
    tokio::time::sleep(Duration::from_secs(60)).await; // intervals grow to their cap first
    let idle_before = requests(&sandbox);
    let idle_started = Instant::now();
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let idle_polls = requests(&sandbox) - idle_before;
    let idle_elapsed = idle_started.elapsed();
    let _ = stop_tx.send(true);
    let _ = relay_task.await;
    let _ = deliver_task.await;
    let _ = std::fs::remove_dir_all(&dir);

    let per_hour = |count: usize, elapsed: Duration| count as f64 / channels as f64 * 3600.0 / elapsed.as_secs_f64();
    println!(
        "relay ({}): {guilds} guild(s) x {per_guild} channels, {} busy, Discord-like limits, relay share {} req/s",
        if gateway_mode { "gateway ingest + poller" } else { "poller alone" },
        busy.len(),
        guildbridge_core::relay::RELAY_REQUESTS_PER_SECOND
    );
    println!(
        "active ({} messages over {:.0} s, one every {every_ms} ms round-robin over the busy channels): latency p50 {:.2} s, p90 {:.2} s, p99 {:.2} s, max {:.2} s, lost {lost}",
        posted.len(),
        active_elapsed.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64(),
        percentile(&latencies, 0.9).as_secs_f64(),
        percentile(&latencies, 0.99).as_secs_f64(),
        latencies.last().copied().unwrap_or_default().as_secs_f64(),
    );
    println!(
        "Discord requests: active {:.1}/s ({:.1} per channel-hour; each busy channel getting a message every {:.0} s), idle {:.2}/s ({:.2} per channel-hour)",
        active_polls as f64 / active_elapsed.as_secs_f64(),
        per_hour(active_polls, active_elapsed),
        every_ms as f64 * busy.len() as f64 / 1000.0,
        idle_polls as f64 / idle_elapsed.as_secs_f64(),
        per_hour(idle_polls, idle_elapsed),
    );
    assert_eq!(lost, 0, "every posted message was delivered");
}

fn seed(id: u64, members: u64) -> GuildSeed {
    GuildSeed {
        id,
        name: "Relay bench".to_owned(),
        bot_permissions: stack::ADMIN,
        roles: vec![],
        members,
        first_member_id: FIRST_MEMBER + (id - FIRST_GUILD) * members,
        bot_every: None,
    }
}

//! Loopback load on the tenant API: the `web` router served over TCP on 127.0.0.1 on the
//! embedded store (SQLite on disk, as the local stack keeps it), clients over HTTP/1.1 with
//! keep-alive. Prints p50/p99 for `PUT` of a subject and `GET` of a subject's channel, then
//! the time from `PUT` with auto-create on to the channel being active, with the channel
//! worker running against the Discord sandbox with Discord-like rate limits.
//!
//! `cargo bench -p e2e --bench tenant_api` (REQUESTS=2000 and CLIENTS=8 unless given).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use discord_sandbox::RateLimits;
use e2e::stack::{self, ADMIN};
use guildbridge_core::{
    domain::{ChannelIds, GuildSettings, QueueKind, SubjectKind, SubjectRef, Tenant, TenantId},
    worker::Consumer,
};
use guildbridge_host::wiring::{self, Backends};
use serde_json::{Value, json};
use twilight_model::id::Id;

const LOAD_GUILD: u64 = 1_300_000_000_000_000_001;
const SANDBOX_GUILD: u64 = 1_100_000_000_000_000_100;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

async fn tenant(backends: &Backends, id: &str, guild: u64) -> String {
    let store = backends.store.as_ref();
    let tenant_id = TenantId::from(id);
    store
        .create_tenant(&Tenant { tenant_id: tenant_id.clone(), allowed_origins: vec![], created_at: 1 })
        .await
        .unwrap();
    store.connect(&tenant_id, Id::new(guild), "Club", 1).await.unwrap();
    store.issue_api_key(&tenant_id, 1).await.unwrap().secret
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// `requests` calls spread over `clients` connections; each call's latency, sorted.
async fn load<F>(clients: usize, requests: usize, call: F) -> (Vec<Duration>, Duration)
where
    F: Fn(reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let call = Arc::new(call);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client_n in 0..clients {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
            let mut latencies = Vec::new();
            for n in (client_n..requests).step_by(clients) {
                let sent = Instant::now();
                let response = call(client.clone(), n).send().await.expect("answer");
                assert!(response.status().is_success(), "{}", response.status());
                response.bytes().await.unwrap();
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    (all, started.elapsed())
}

fn report(name: &str, (latencies, wall): &(Vec<Duration>, Duration)) {
    println!(
        "tenant_api: {name}: {} requests in {:.2} s ({:.0}/s), p50 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        wall.as_secs_f64(),
        latencies.len() as f64 / wall.as_secs_f64(),
        percentile(latencies, 0.50).as_secs_f64() * 1e3,
        percentile(latencies, 0.99).as_secs_f64() * 1e3,
    );
}

#[tokio::main]
async fn main() {
    let (requests, clients) = (env("REQUESTS", 2000), env("CLIENTS", 8));
    let dir = std::env::temp_dir().join(format!("guildbridge-bench-api-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (backends, queue) = Backends::embedded(&dir).expect("backends");
    let key = tenant(&backends, "load", LOAD_GUILD).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let router = wiring::web_router(&backends, &e2e::stack::web_config("http://127.0.0.1:9/api/v10")).unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let (url, bearer) = (base.clone(), key.clone());
    let puts = load(clients, requests, move |client, n| {
        let body = json!({ "name": format!("Round {n}"), "fields": { "series_name": "Bench" }, "starts_at": 1_900_000_000 + n });
        client.put(format!("{url}/subjects/event/load-{n}")).bearer_auth(&bearer).json(&body)
    })
    .await;
    report("PUT /v1/subjects/{kind}/{id}", &puts);

    // Every subject's channel, as the worker would have made it.
    let store = backends.store.as_ref();
    for n in 0..requests {
        let subject = SubjectRef::new(SubjectKind::Event, format!("load-{n}"));
        let token = format!("bench-{n}").into();
        store.claim(Id::new(LOAD_GUILD), &subject, &token, None, 1).await.unwrap();
        let channels = ChannelIds { text: Some(Id::new(1_400_000_000_000_000_000 + n as u64)), ..Default::default() };
        store.complete(Id::new(LOAD_GUILD), &subject, &token, channels, 2).await.unwrap();
    }
    let (url, bearer) = (base.clone(), key.clone());
    let gets = load(clients, requests, move |client, n| {
        client.get(format!("{url}/subjects/event/load-{n}/channel")).bearer_auth(&bearer)
    })
    .await;
    report("GET /v1/subjects/{kind}/{id}/channel", &gets);

    // PUT with auto-create on, to the channel active in the sandbox.
    let sandbox = stack::sandbox(RateLimits::discord_like(), SANDBOX_GUILD, ADMIN).await;
    let club = tenant(&backends, "club", SANDBOX_GUILD).await;
    let settings = GuildSettings { auto_create_channels: true, ..GuildSettings::default() };
    store.update_settings(Id::new(SANDBOX_GUILD), 0, &settings).await.unwrap();
    let worker =
        wiring::channel_worker(backends.store.clone(), &stack::discord_config(&sandbox), &stack::worker_config(5, 120))
            .expect("worker");
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let worker_store = backends.store.clone();
    let consumer = tokio::spawn(async move {
        Consumer::new(&queue, QueueKind::Channel, &worker, worker_store.as_ref())
            .limits(5, Duration::from_secs(60))
            .work_until_stopped(stop)
            .await;
    });
    let client = reqwest::Client::new();
    let mut to_active = Vec::new();
    for n in 0..env("CHANNELS", 20) {
        let started = Instant::now();
        let subject = format!("{base}/subjects/event/race-{n}");
        let put =
            client.put(&subject).bearer_auth(&club).json(&json!({ "name": format!("Race {n}") })).send().await.unwrap();
        assert_eq!(put.status().as_u16(), 201);
        loop {
            let read: Value =
                client.get(format!("{subject}/channel")).bearer_auth(&club).send().await.unwrap().json().await.unwrap();
            if read["status"] == "active" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        to_active.push(started.elapsed());
    }
    to_active.sort();
    println!(
        "tenant_api: PUT (auto-create) to channel active: {} channels one after another, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (Create Guild Channel: 5 per 5 s per guild)",
        to_active.len(),
        percentile(&to_active, 0.50).as_secs_f64() * 1e3,
        percentile(&to_active, 0.99).as_secs_f64() * 1e3,
        to_active.last().unwrap().as_secs_f64() * 1e3,
    );
    let _ = stop_tx.send(true);
    let _ = consumer.await;
    let _ = std::fs::remove_dir_all(&dir);
}

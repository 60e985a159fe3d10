//! Loopback load: a 200-event season with 4 teams each, set up through the tenant API (in
//! process, on the embedded store and queue) and carried out by the channel worker against
//! the Discord sandbox with Discord-like rate limits. Prints the wall time against the floor
//! the limits impose and checks that nothing is duplicated and nothing is lost: one channel
//! per event, one thread per team with exactly its linked members, no dead letters.
//!
//! `cargo bench -p e2e --bench season` (EVENTS=20 for a shorter run).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use discord_sandbox::{GuildSeed, RateLimits};
use e2e::stack::{self, ADMIN};
use guildbridge_core::{
    domain::{QueueKind, Tenant, TenantId},
    worker::{Consumer, JobOutcome},
};
use guildbridge_host::wiring::{self, Backends};
use serde_json::json;
use twilight_model::id::Id;

const GUILD: u64 = 1_100_000_000_000_000_300;
const FIRST_MEMBER: u64 = 1_100_000_000_000_030_000;
const TEAMS: usize = 4;
const DRIVERS_PER_TEAM: usize = 2;
const DRIVERS: u64 = 16;
const BOT: u64 = 1_100_000_000_000_000_001;

#[tokio::main]
async fn main() {
    let events: usize = std::env::var("EVENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    let limits = RateLimits::discord_like();
    let create = limits.routes.iter().find(|r| r.route == "POST /guilds/{guild_id}/channels").expect("route").clone();
    let global = limits.global_per_second;
    let seed = GuildSeed {
        id: GUILD,
        name: "Season".to_owned(),
        bot_permissions: ADMIN,
        roles: Vec::new(),
        members: DRIVERS,
        first_member_id: FIRST_MEMBER,
        bot_every: None,
    };
    let sandbox = stack::sandbox_with(limits, seed).await;
    let (backends, queue) = Backends::in_memory().expect("backends");
    let tenant_id = TenantId::from("season");
    let tenant = Tenant { tenant_id: tenant_id.clone(), allowed_origins: vec![], created_at: 1 };
    backends.store.create_tenant(&tenant).await.expect("tenant");
    backends.store.connect(&tenant_id, Id::new(GUILD), "Season", 1).await.expect("connect");
    let key = backends.store.issue_api_key(&tenant_id, 1).await.expect("key").secret;
    let router = wiring::web_router(&backends, &stack::web_config(&sandbox.base_url())).expect("router");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let api = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: String, body: serde_json::Value| {
        let request = http.request(method, format!("{api}{path}")).bearer_auth(&key).json(&body);
        async move {
            let response = request.send().await.expect("api");
            let status = response.status().as_u16();
            assert!(status < 300, "{path}: {status} {}", response.text().await.unwrap_or_default());
        }
    };
    let settings = json!({ "auto_create_channels": true });
    let response = http
        .put(format!("{api}/v1/settings"))
        .bearer_auth(&key)
        .header("If-Match", "*")
        .json(&settings)
        .send()
        .await
        .expect("settings");
    assert_eq!(response.status().as_u16(), 200);
    for n in 0..DRIVERS {
        let body = json!({ "discord_user_id": (FIRST_MEMBER + n).to_string() });
        call(reqwest::Method::PUT, format!("/v1/links/driver-{n}"), body).await;
    }

    let started = Instant::now();
    let driver =
        |event: usize, team: usize, seat: usize| ((event * TEAMS + team) * DRIVERS_PER_TEAM + seat) as u64 % DRIVERS;
    for event in 0..events {
        let body = json!({ "name": format!("Round {event}"), "starts_at": 1_900_000_000 + event as u64 * 86_400 });
        call(reqwest::Method::PUT, format!("/v1/subjects/event/round-{event}"), body).await;
        for team in 0..TEAMS {
            let members: Vec<String> =
                (0..DRIVERS_PER_TEAM).map(|seat| format!("driver-{}", driver(event, team, seat))).collect();
            let body = json!({ "name": format!("Team {team}"), "members": members });
            call(reqwest::Method::PUT, format!("/v1/subjects/event/round-{event}/teams/team-{team}"), body).await;
        }
    }
    let set_up = started.elapsed();
    let worker =
        wiring::channel_worker(backends.store.clone(), &stack::discord_config(&sandbox), &stack::worker_config(5, 120))
            .expect("worker");
    let mut handed_back = 0;
    while let Some(outcome) = Consumer::new(&queue, QueueKind::Channel, &worker, backends.store.as_ref())
        .limits(5, Duration::from_secs(60))
        .work_one()
        .await
        .expect("queue")
    {
        if !matches!(outcome, JobOutcome::Done | JobOutcome::DoneWith(_)) {
            handed_back += 1;
        }
    }
    let wall = started.elapsed();

    let (channels, threads) = sandbox.with_world(|world| {
        let all: Vec<_> = world.guild_channels(GUILD).cloned().collect();
        let channels: Vec<u64> = all.iter().filter(|c| c.kind == 0).map(|c| c.id).collect();
        let threads: Vec<_> = all.into_iter().filter(|c| c.thread.is_some()).collect();
        (channels, threads)
    });
    let requests = sandbox.requests().len();
    // Exactly the bot and the team's two drivers in each thread; exactly 4 threads per channel.
    let wrong_members = threads
        .iter()
        .filter_map(|thread| thread.thread.as_ref())
        .filter(|t| t.members.len() != DRIVERS_PER_TEAM + 1 || !t.members.contains(&BOT))
        .count();
    let wrong_thread_counts = channels
        .iter()
        .filter(|channel| threads.iter().filter(|t| t.parent_id == Some(**channel)).count() != TEAMS)
        .count();
    let channels = channels.len();
    let dead = queue.dead_letters(QueueKind::Channel).await.expect("dead letters").len();
    // Channel creation admits `limit` per window; everything shares the global limit.
    let windows = events.div_ceil(create.limit as usize) as u32;
    let channel_floor = create.window * windows.saturating_sub(1);
    let global_floor = Duration::from_secs_f64(requests as f64 / f64::from(global));
    let floor = channel_floor.max(global_floor);
    println!(
        "season: {events} events, {channels} channels, {} threads ({} expected), {wrong_members} with wrong members, {wrong_thread_counts} channels without exactly {TEAMS} threads, {dead} dead letters, {handed_back} hand-backs, {requests} Discord requests",
        threads.len(),
        events * TEAMS
    );
    println!(
        "season: set up through the API in {:.1} s; wall {:.1} s; floor {:.1} s (channels {:.1} s at {} per {:?}, requests {:.1} s at {global}/s); ratio {:.3}",
        set_up.as_secs_f64(),
        wall.as_secs_f64(),
        floor.as_secs_f64(),
        channel_floor.as_secs_f64(),
        create.limit,
        create.window,
        global_floor.as_secs_f64(),
        wall.as_secs_f64() / floor.as_secs_f64().max(f64::EPSILON)
    );
    assert_eq!((channels, threads.len(), wrong_members, wrong_thread_counts, dead), (events, events * TEAMS, 0, 0, 0));
}

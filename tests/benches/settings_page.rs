//! Loopback load on the settings page: the `web` router (tenant API and pages) served over
//! TCP on 127.0.0.1 on the embedded store (SQLite on disk, as the local stack keeps it), the
//! Discord sandbox playing the login and the bot. One admin logs in; then clients with
//! keep-alive load each page with that session. Discord is asked only when its answers are
//! older than their caches (the person's guilds: 60 s; the pickers: 30 s), so a run measures
//! the pages themselves. Prints p50/p99 per page.
//!
//! `cargo bench -p e2e --bench settings_page` (REQUESTS=2000 and CLIENTS=8 unless given).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use discord_sandbox::{GuildSeed, RateLimits, demo};
use e2e::stack;
use guildbridge_core::domain::{Tenant, TenantId};
use guildbridge_host::{
    config::WebConfig,
    wiring::{self, Backends},
};
use twilight_model::id::Id;

const GUILD: u64 = 1_100_000_000_000_000_100;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// `requests` GETs of `url` with `cookie`, spread over `clients` connections.
async fn load(clients: usize, requests: usize, url: String, cookie: String) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client_n in 0..clients {
        let (url, cookie) = (url.clone(), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
            let mut latencies = Vec::new();
            for _ in (client_n..requests).step_by(clients) {
                let sent = Instant::now();
                let response = client.get(&url).header("cookie", &cookie).send().await.expect("answer");
                assert_eq!(response.status().as_u16(), 200, "{url}");
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

/// Logs `user` in through the sandbox; the session cookie.
async fn login(site: &str, user: u64) -> String {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let start = http.get(format!("{site}/settings/login")).send().await.unwrap();
    let login_cookie = start.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let authorize = start.headers()["location"].to_str().unwrap().to_owned();
    let back = http.get(format!("{authorize}&user_id={user}")).send().await.unwrap();
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    let done = http.get(callback).header("cookie", login_cookie).send().await.unwrap();
    assert_eq!(done.status().as_u16(), 303);
    done.headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap())
        .find(|value| value.starts_with("gb_session="))
        .map(|value| value.split(';').next().unwrap().to_owned())
        .expect("a session cookie")
}

#[tokio::main]
async fn main() {
    let (requests, clients) = (env("REQUESTS", 2000), env("CLIENTS", 8));
    let dir = std::env::temp_dir().join(format!("guildbridge-bench-pages-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sandbox = stack::sandbox_with(
        RateLimits::discord_like(),
        GuildSeed {
            id: GUILD,
            name: "Bench Club".to_owned(),
            bot_permissions: stack::ADMIN,
            roles: vec![(GUILD + 400, "Member".to_owned())],
            members: 10,
            first_member_id: 1_100_000_000_000_010_000,
            bot_every: None,
        },
    )
    .await;
    sandbox.seed_demo_people(GUILD);
    let (backends, _queue) = Backends::embedded(&dir).expect("backends");
    let tenant_id = TenantId::from("bench");
    let store = backends.store.as_ref();
    store
        .create_tenant(&Tenant { tenant_id: tenant_id.clone(), allowed_origins: vec![], created_at: 1 })
        .await
        .unwrap();
    store.connect(&tenant_id, Id::new(GUILD), "Bench Club", 1).await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = format!("http://{}", listener.local_addr().unwrap());
    let web: HashMap<String, String> = [
        ("DISCORD_APPLICATION_ID", "1100000000000000001".to_owned()),
        ("DISCORD_CLIENT_SECRET", stack::CLIENT_SECRET.to_owned()),
        ("STATE_SIGNING_KEY", "bench-state-signing-key-of-32-bytes!".to_owned()),
        ("DISCORD_API_BASE_URL", sandbox.base_url()),
        ("WEB_PUBLIC_URL", site.clone()),
        ("DISCORD_BOT_TOKEN", stack::BOT_TOKEN.to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let router = wiring::web_router(&backends, &WebConfig::from_source(&web).expect("config")).unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let cookie = login(&site, demo::ADMIN).await;
    let pages = [
        ("GET /settings (the guild picker)", "/settings".to_owned()),
        ("GET /settings/guilds/{id} (the settings form)", format!("/settings/guilds/{GUILD}")),
        ("GET /settings/guilds/{id}/channels", format!("/settings/guilds/{GUILD}/channels")),
        ("GET /settings/guilds/{id}/sync", format!("/settings/guilds/{GUILD}/sync")),
        ("GET /settings/guilds/{id}/keys", format!("/settings/guilds/{GUILD}/keys")),
    ];
    let cookie = Arc::new(cookie);
    for (name, path) in pages {
        // One warm-up request fills the caches the page relies on.
        load(1, 1, format!("{site}{path}"), cookie.to_string()).await;
        let (latencies, wall) = load(clients, requests, format!("{site}{path}"), cookie.to_string()).await;
        println!(
            "settings_page: {name}: {} requests in {:.2} s ({:.0}/s), p50 {:.2} ms, p99 {:.2} ms",
            latencies.len(),
            wall.as_secs_f64(),
            latencies.len() as f64 / wall.as_secs_f64(),
            percentile(&latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

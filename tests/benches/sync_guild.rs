//! Loopback load: one member sync of a 100,000-member guild (every 10th a bot) from the
//! Discord sandbox (its own process, Discord-like limits) into DynamoDB on moto. Prints wall
//! time against the floor the List Guild Members limit imposes (10 per 10 s), this process's
//! peak memory, and DynamoDB write calls against N / 25.
//!
//! Needs moto (`AWS_ENDPOINT_URL`, as tools/test starts it) and the release sandbox:
//! `cargo build --release -p discord-sandbox && cargo bench -p e2e --bench sync_guild`.
//! `SYNC_BENCH_STORE=embedded` uses the embedded store (SQLite on disk) instead, for the
//! worker's own pace where moto's server cannot keep up (write calls are then not counted).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::{
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use e2e::{
    release_binary,
    stack::{self, Aws},
};
use guildbridge_aws::dynamo::DynamoItems;
use guildbridge_core::{
    discord::rest::BotToken,
    domain::{Job, QueueKind, SyncKind},
    store::{DomainStore, Store, embedded::EmbeddedItems},
    worker::{Consumer, JobOutcome},
};
use guildbridge_host::{
    config::DiscordConfig,
    wiring::{self, Backends},
};
use twilight_model::id::Id;

const GUILD: u64 = 1_100_000_000_000_000_100;
const MEMBERS: u64 = 100_000;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

#[tokio::main]
async fn main() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        listener.local_addr().expect("addr").port()
    };
    let mut sandbox = tokio::process::Command::new(release_binary("discord-sandbox"))
        .args(["--addr", &format!("127.0.0.1:{port}"), "--demo-members", &MEMBERS.to_string()])
        .env_remove("DISCORD_OPENAPI_PATH")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("sandbox");
    let base = format!("http://127.0.0.1:{port}/api/v10");
    for _ in 0..200 {
        if port_open(port).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let embedded_store = std::env::var("SYNC_BENCH_STORE").is_ok_and(|store| store == "embedded");
    let (store, dynamo): (Arc<dyn DomainStore>, Option<Arc<Store<DynamoItems>>>) = if embedded_store {
        let dir = std::env::temp_dir().join(format!("guildbridge-sync-bench-{}", std::process::id()));
        let items = EmbeddedItems::open(&dir.join("store.sqlite3")).expect("embedded store");
        (Arc::new(Store::new(items)), None)
    } else {
        let aws = Aws::connect();
        let provisioned = aws.provision(5).await;
        let dynamo = Arc::new(aws.store(&provisioned));
        (dynamo.clone(), Some(dynamo))
    };
    let (embedded, queue) = Backends::in_memory().expect("queue");
    let backends = Backends::over(store.clone(), embedded.queue);
    let discord =
        DiscordConfig { api_base_url: base.parse().expect("url"), bot_token: BotToken::new(stack::BOT_TOKEN) };
    let worker = wiring::sync_worker(&backends, &discord, &stack::worker_config(5, 60)).expect("worker");
    let job = Job::SyncMembers {
        guild_id: Id::new(GUILD),
        kind: SyncKind::Manual,
        request_id: "bench".into(),
        reply: None,
        after: None,
    };
    backends.queue.enqueue(&job).await.expect("enqueue");

    let writes = || dynamo.as_ref().map(|dynamo| dynamo.items().calls().writes());
    let writes_before = writes();
    let started = Instant::now();
    while let Some(outcome) = Consumer::new(&queue, QueueKind::Sync, &worker, backends.store.as_ref())
        .limits(5, Duration::from_secs(900))
        .work_one()
        .await
        .expect("queue")
    {
        assert_eq!(outcome, JobOutcome::Done, "{outcome:?}");
    }
    let wall = started.elapsed();
    let writes = writes().zip(writes_before).map(|(after, before)| after - before);
    let run = store.recent_runs(Id::new(GUILD), 1).await.expect("run").pop().expect("a run");
    sandbox.kill().await.ok();

    let requests = MEMBERS / 1000 + 1; // the last, empty page ends the run
    let floor = Duration::from_secs(10 * (requests.div_ceil(10) - 1));
    println!("sync_guild: {MEMBERS} members, counts {:?}, outcome {:?}", run.counts, run.outcome);
    println!(
        "sync_guild: wall {:.1} s, rate-limit floor {:.1} s ({requests} pages at 10 per 10 s), ratio {:.3}",
        wall.as_secs_f64(),
        floor.as_secs_f64(),
        wall.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "sync_guild: DynamoDB write calls {} (target <= 1.05 x N/25 = {:.0}), peak memory {:.1} MiB",
        writes.map_or_else(|| "not counted (embedded store)".to_owned(), |n| n.to_string()),
        1.05 * MEMBERS as f64 / 25.0,
        peak_rss_mib()
    );
}

async fn port_open(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
}

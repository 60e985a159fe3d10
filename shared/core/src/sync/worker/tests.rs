//! The sync worker over the in-memory store and queue, with the Discord sandbox on loopback:
//! a request is one run, continued across invocations, and a late redelivery changes nothing.

use std::{path::PathBuf, sync::Arc};

use discord_sandbox::{GuildSeed, RateLimits, Sandbox, SandboxConfig};
use twilight_model::id::Id;

use super::*;
use crate::{
    clock::{Clock, ManualClock},
    discord::rest::BotToken,
    domain::QueueKind,
    queue::embedded::EmbeddedQueue,
    store::{Store, SyncRunStore, embedded::EmbeddedItems},
    sync::{SyncRequest, SyncRequested, request_sync},
    worker::Consumer,
};

const GUILD: u64 = 1_100_000_000_000_000_100;
const TOKEN: &str = "unit-test-bot-token";
/// The sandbox's application (and bot user) id.
const APPLICATION: u64 = 1_100_000_000_000_000_001;

#[tokio::test]
async fn one_request_is_one_run_continued_page_by_page_and_a_late_redelivery_changes_nothing() {
    let openapi = std::env::var_os("DISCORD_OPENAPI_PATH").map(PathBuf::from);
    let sandbox = Sandbox::start(
        SandboxConfig::new(TOKEN, openapi, RateLimits::generous()),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("sandbox");
    sandbox.seed_guild(GuildSeed {
        id: GUILD,
        name: "Unit Racing".to_owned(),
        bot_permissions: 1 << 3,
        roles: Vec::new(),
        members: 25,
        first_member_id: 1_100_000_000_000_010_000,
        bot_every: None,
    });
    let store = Arc::new(Store::new(EmbeddedItems::in_memory().expect("store")));
    let queue = EmbeddedQueue::in_memory().expect("queue");
    let clock = ManualClock::starting_at(1_800_000_000);
    let discord = DiscordClient::new(sandbox.base_url().parse().expect("url"), BotToken::new(TOKEN)).expect("client");
    let worker = SyncWorker::new(store.clone(), Arc::new(queue.clone()), discord, Id::new(APPLICATION))
        .with_limits(SyncLimits { page_size: 10, pages_per_invocation: Some(1) })
        .with_clock(Arc::new(clock.clone()));
    let guild = Id::new(GUILD);

    let asked =
        request_sync(store.as_ref(), &queue, guild, SyncRequest::Interaction(Id::new(1)), None, clock.now()).await;
    let Ok(SyncRequested::Queued { run_id }) = asked else { panic!("not queued: {asked:?}") };
    let consumer = Consumer::new(&queue, QueueKind::Sync, &worker, store.as_ref());
    let mut invocations = 0;
    while consumer.work_one().await.expect("queue").is_some() {
        invocations += 1;
        clock.advance(5);
    }
    assert_eq!(invocations, 3, "25 members at one page of 10 per invocation");
    let run = store.run(guild, &run_id).await.expect("read").expect("the run");
    assert_eq!((run.outcome.clone(), run.counts.total), (SyncOutcome::Succeeded, 25));

    // The first job delivered again after the run finished: the same run, nothing counted twice.
    let late = Job::SyncMembers {
        guild_id: guild,
        kind: SyncKind::Manual,
        request_id: "interaction:1".into(),
        reply: None,
        after: None,
    };
    clock.advance(600);
    let attempt = Attempt {
        receives: 2,
        max_receives: 5,
        deadline: tokio::time::Instant::now() + std::time::Duration::from_secs(20),
    };
    assert_eq!(worker.handle(late, attempt).await, JobOutcome::Done);
    assert_eq!(store.recent_runs(guild, 10).await.expect("runs").len(), 1, "one run for one request");
    assert_eq!(store.run(guild, &run_id).await.expect("read"), Some(run));
}

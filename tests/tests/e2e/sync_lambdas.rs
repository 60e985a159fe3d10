//! The release `sync-worker` and `scheduler` binaries, started the way Lambda starts them,
//! answer every sample event under `events/sync-worker/` and `events/scheduler/` with the
//! answer recorded beside it, against moto and the Discord sandbox.

use discord_sandbox::{GuildSeed, RateLimits};
use e2e::{
    emf::{self, assert_emitted},
    events::samples_in,
    release_binary,
    runtime_api::{FunctionProcess, RuntimeApi},
    stack::{self, ADMIN, Aws},
};
use guildbridge_core::{
    domain::{SyncOutcome, metrics::*},
    store::{MemberStore, SyncRunStore, TenantStore},
    test_support::interactions::{self as fake_discord, Invoker},
};
use twilight_model::id::Id;

#[tokio::test]
async fn sync_worker_samples_sync_the_guild_and_refuse_what_is_not_theirs() {
    let guild_id = Invoker::default().guild_id.expect("demo guild");
    let aws = Aws::connect();
    let provisioned = aws.provision(5).await;
    let store = aws.store(&provisioned);
    let sandbox = stack::sandbox_with(
        RateLimits::discord_like(),
        GuildSeed {
            id: guild_id,
            name: "Sample Club".to_owned(),
            bot_permissions: ADMIN,
            roles: Vec::new(),
            members: 300,
            first_member_id: 1_100_000_000_000_100_000,
            bot_every: Some(10),
        },
    )
    .await;
    let api = RuntimeApi::start().await.expect("runtime API");
    let mut worker = FunctionProcess::spawn(
        &release_binary("sync-worker"),
        &api,
        &stack::worker_env(&sandbox, &provisioned, 120).await,
    )
    .expect("spawn");
    let samples = samples_in("sync-worker").expect("samples");
    assert_eq!(samples.len(), 2);
    for (name, event, expected) in samples {
        let response = api.invoke(event).await.expect("invocation");
        assert_eq!(response, expected["response"], "sample {name}");
    }
    let runs = store.recent_runs(Id::new(guild_id), 5).await.expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].outcome.clone(), runs[0].counts.total), (SyncOutcome::Succeeded, 270));
    assert_eq!(store.count_members(Id::new(guild_id)).await, Ok(270));
    assert!(!worker.exited(), "the function keeps serving");

    let found = emf::emitted(&worker.logs(), "Guildbridge");
    let function = "sync-worker";
    assert_emitted(&found, function, &SYNC_RUNS, &[("outcome", "succeeded")]);
    assert_emitted(&found, function, &SYNC_DURATION, &[]);
    assert_emitted(&found, function, &JOBS, &[("job", "sync_members"), ("outcome", "done")]);
    let members = [("route", "GET /guilds/{guild_id}/members"), ("status", "2xx")];
    assert_emitted(&found, function, &DISCORD_REQUESTS, &members);
    let seen: u64 = found.iter().filter(|e| e.name == SYNC_MEMBERS_SEEN.name).filter_map(|e| e.value.as_u64()).sum();
    assert_eq!(seen, 300, "every member read, the bots too");
}

#[tokio::test]
async fn the_scheduler_sample_starts_one_sync_per_due_guild() {
    let aws = Aws::connect();
    let provisioned = aws.provision(5).await;
    let store = aws.store(&provisioned);
    let guild = Id::new(Invoker::default().guild_id.expect("demo guild"));
    // Connected as the connect flow does it: the schedule is written with the connection.
    store.connect(&"club".into(), guild, "Club", fake_discord::unix_now() - 30).await.expect("connect");

    let mut env = stack::aws_env();
    env.extend(provisioned.env().into_iter().map(|(k, v)| (k.to_owned(), v)));
    let api = RuntimeApi::start().await.expect("runtime API");
    let mut scheduler = FunctionProcess::spawn(&release_binary("scheduler"), &api, &env).expect("spawn");
    let samples = samples_in("scheduler").expect("samples");
    assert_eq!(samples.len(), 1);
    let (name, event, expected) = &samples[0];
    let response = api.invoke(event.clone()).await.expect("invocation");
    assert_eq!(response, expected["response"], "sample {name}");
    let again = api.invoke(event.clone()).await.expect("invocation");
    assert_eq!(again["schedule"]["syncs"], 0, "delivered twice, started once: {again}");
    assert_eq!(aws.depth(&provisioned.sync_queue_url).await, 1, "one scheduled job");
    assert!(!scheduler.exited(), "the function keeps serving");

    let found = emf::emitted(&scheduler.logs(), "Guildbridge");
    for part in ["backfill", "schedule", "timeline", "forget"] {
        assert_emitted(&found, "scheduler", &TICK_PARTS, &[("part", part), ("outcome", "ok")]);
    }
    assert!(found.iter().all(|e| e.name != TICK_FAILURES.name || e.value == 0), "no part failed");
}

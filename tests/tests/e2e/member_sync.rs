//! Member sync end to end on moto (DynamoDB and SQS) and the Discord sandbox: `/sync` for a
//! guild of 10,000 members, one run for two `/sync`s at once, continuation from checkpoints,
//! a missing intent, and the schedule delivered twice.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use discord_sandbox::{GuildSeed, RateLimits, Sandbox};
use e2e::{
    endpoint::Endpoint,
    stack::{self, ADMIN, APPLICATION_ID, Aws},
};
use guildbridge_aws::sqs::SqsQueues;
use guildbridge_core::{
    domain::{GuildSettings, Member, QueueKind, SyncKind, SyncOutcome},
    interactions::commands::manifest,
    store::{DomainStore, MemberStore, ScheduleStore, SyncRunStore, TenantStore},
    sync::{SyncLimits, run_schedule},
    test_support::interactions::{self as fake_discord, Invoker},
    tick::run_tick,
    timeline::{plan_subject, run_timeline},
    worker::{
        Consumer, JobOutcome,
        lambda::{BatchPolicy, run_batch},
    },
};
use guildbridge_host::{
    provision::Provisioned,
    wiring::{self, Backends},
};
use serde_json::Value;
use tokio::time::Instant;
use twilight_model::id::Id;

const GUILD: u64 = 1_100_000_000_000_000_100;
const ROLE: u64 = 1_100_000_000_000_000_500;
const FIRST: u64 = 1_100_000_000_000_100_000;
const MEMBERS: u64 = 10_000;
const BOT_EVERY: u64 = 50;
/// Bot permissions: Manage Roles, on top of what the guild needs to be readable.
const MANAGE_ROLES: u64 = 1 << 28;

fn seed(members: u64) -> GuildSeed {
    GuildSeed {
        id: GUILD,
        name: "Big Club".to_owned(),
        bot_permissions: MANAGE_ROLES | (1 << 10),
        roles: vec![(ROLE, "Member".to_owned())],
        members,
        first_member_id: FIRST,
        bot_every: Some(BOT_EVERY),
    }
}

fn is_bot(n: u64) -> bool {
    n % BOT_EVERY == BOT_EVERY - 1
}

fn member(id: u64) -> Member {
    Member { user_id: Id::new(id), username: format!("m{id}"), display_name: None, roles: Vec::new() }
}

/// The guild as a club would set it up: the member role, removed when unlinked.
async fn prepare(store: &dyn DomainStore, sandbox: &Sandbox, members: u64) -> (BTreeSet<u64>, BTreeSet<u64>) {
    let guild = Id::new(GUILD);
    let settings = GuildSettings {
        member_role_id: Some(Id::new(ROLE)),
        remove_role_when_unlinked: true,
        ..GuildSettings::default()
    };
    store.update_settings(guild, 0, &settings).await.expect("settings");
    // 40 members linked to platform users (5 of them already have the role); 10 unlinked
    // members hold the role and lose it.
    let linked: BTreeSet<u64> = (0..40).map(|n| FIRST + (n * 211) % members).filter(|id| !is_bot(id - FIRST)).collect();
    for (n, id) in linked.iter().enumerate() {
        store.link(guild, Id::new(*id), &format!("platform-{n}"), 1).await.expect("link");
    }
    let stale_role: BTreeSet<u64> = (0..10)
        .map(|n| FIRST + (7 + n * 301) % members)
        .filter(|id| !is_bot(id - FIRST) && !linked.contains(id))
        .collect();
    sandbox.with_world(|world| {
        let guild = world.guilds.get_mut(&GUILD).expect("guild");
        for id in linked.iter().take(5).chain(stale_role.iter()) {
            guild.members.get_mut(id).expect("member").roles.push(ROLE);
        }
    });
    // A previous run saw 100 of today's members and 30 who have since left.
    let before: Vec<Member> = (0..100)
        .filter(|n| !is_bot(*n))
        .map(|n| member(FIRST + n))
        .chain((0..30).map(|n| member(FIRST + MEMBERS + 1000 + n)))
        .collect();
    store.upsert_members(guild, &"previous".into(), &before, 1).await.expect("previous run");
    (linked, stale_role)
}

async fn slash_sync(endpoint: &Endpoint, token: &str) -> Value {
    let invoker = Invoker { guild_id: Some(GUILD), permissions: ADMIN, ..Invoker::default() };
    let mut interaction =
        fake_discord::command("/sync", &manifest(), &invoker, fake_discord::new_snowflake()).expect("line");
    interaction["token"] = Value::String(token.to_owned());
    endpoint.send(interaction).await
}

/// Runs the sync queue on moto as Lambda would until it is empty.
async fn drain_sync_queue(
    aws: &Aws,
    provisioned: &Provisioned,
    worker: &guildbridge_core::sync::SyncWorker,
    queues: &SqsQueues,
) {
    let redelivery = queues.redelivery(QueueKind::Sync);
    let policy = BatchPolicy { queue: QueueKind::Sync, max_receives: 5, max_delay: Duration::from_secs(1) };
    let give_up = Instant::now() + Duration::from_secs(240);
    while aws.depth(&provisioned.sync_queue_url).await > 0 {
        assert!(Instant::now() < give_up, "the sync queue never drained");
        let batch = aws.receive_batch(&provisioned.sync_queue_url, 1).await;
        let deadline = Instant::now() + Duration::from_secs(120);
        let response = run_batch(batch.clone(), worker, &redelivery, &aws.store(provisioned), policy, deadline).await;
        aws.settle_batch(&provisioned.sync_queue_url, &batch, &response).await;
    }
}

/// Runs the queue's jobs until none is left.
async fn work_all(consumer: Consumer<'_>) {
    while consumer.work_one().await.expect("queue").is_some() {}
}

#[tokio::test]
async fn slash_sync_of_ten_thousand_members_matches_the_sandbox_and_two_at_once_are_one_run() {
    let aws = Aws::connect();
    let provisioned = aws.provision(5).await;
    let store = Arc::new(aws.store(&provisioned));
    let queues = SqsQueues::new(
        aws.sqs.clone(),
        &provisioned.channel_queue_url,
        &provisioned.sync_queue_url,
        &provisioned.webhook_queue_url,
    );
    let backends = Backends::over(store.clone(), Arc::new(queues.clone()));
    let sandbox = stack::sandbox_with(RateLimits::generous(), seed(MEMBERS)).await;
    let (linked, stale_role) = prepare(store.as_ref(), &sandbox, MEMBERS).await;
    let endpoint = Endpoint::new(&backends);
    let worker =
        wiring::sync_worker(&backends, &stack::discord_config(&sandbox), &stack::worker_config(5, 60)).expect("worker");

    let (first_token, second_token) =
        (sandbox.issue_interaction_token(APPLICATION_ID), sandbox.issue_interaction_token(APPLICATION_ID));
    let (first, second) = tokio::join!(slash_sync(&endpoint, &first_token), slash_sync(&endpoint, &second_token));
    let kinds = [first["type"].as_u64(), second["type"].as_u64()];
    assert!(kinds.contains(&Some(5)) && kinds.contains(&Some(4)), "one deferred, one told at once: {first} {second}");
    let told = if first["type"] == 4 { &first } else { &second };
    assert!(told["data"]["content"].as_str().unwrap_or_default().contains("already running"), "{told}");

    drain_sync_queue(&aws, &provisioned, &worker, &queues).await;

    let guild = Id::new(GUILD);
    let runs = store.recent_runs(guild, 10).await.expect("runs");
    assert_eq!(runs.len(), 1, "one run for two /syncs: {runs:?}");
    let run = &runs[0];
    assert_eq!(run.outcome, SyncOutcome::Succeeded);
    assert_eq!(run.kind, SyncKind::Manual);
    let humans = (0..MEMBERS).filter(|n| !is_bot(*n)).count() as u64;
    let known_before = (0..100).filter(|n| !is_bot(*n)).count() as u64;
    assert_eq!(run.counts.total, humans, "bots are skipped");
    assert_eq!(run.counts.matched, linked.len() as u64);
    assert_eq!(run.counts.new, humans - known_before);
    assert_eq!(run.counts.left, 30);
    assert_eq!(run.counts.errors, 0);
    assert_eq!(store.count_members(guild).await, Ok(humans), "stored members are the sandbox's humans");
    let departed = store.member(guild, Id::new(FIRST + MEMBERS + 1000)).await.expect("read").expect("kept");
    assert!(departed.left);

    let roles: Vec<(u64, bool)> = sandbox.with_world(|world| {
        world.guilds[&GUILD].members.values().map(|m| (m.user_id, m.roles.contains(&ROLE))).collect()
    });
    for (user, has_role) in roles {
        assert_eq!(has_role, linked.contains(&user), "user {user}: the role follows the link");
    }
    assert!(!stale_role.is_empty());

    let deferred_token = if first["type"] == 5 { &first_token } else { &second_token };
    let original = sandbox.with_world(|world| world.interactions.get(deferred_token).and_then(|i| i.original.clone()));
    let text = original.expect("@original edited")["content"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        text,
        format!(
            "Synced {humans} members: {} matched to platform users, {} new, 30 left, 0 errors.",
            linked.len(),
            humans - known_before
        )
    );
}

/// Runs one sync on the embedded backends with the given limits, draining continuations.
async fn embedded_sync(
    limits: SyncLimits,
) -> (guildbridge_core::domain::SyncRun, u64, Vec<guildbridge_core::store::StoredMember>) {
    let (backends, queue) = Backends::in_memory().expect("backends");
    let sandbox = stack::sandbox_with(RateLimits::generous(), seed(2_500)).await;
    prepare(backends.store.as_ref(), &sandbox, 2_500).await;
    let worker = wiring::sync_worker(&backends, &stack::discord_config(&sandbox), &stack::worker_config(5, 60))
        .expect("worker")
        .with_limits(limits);
    let job = guildbridge_core::domain::Job::SyncMembers {
        guild_id: Id::new(GUILD),
        kind: SyncKind::Webhook,
        request_id: "platform:1".into(),
        reply: None,
        after: None,
    };
    backends.queue.enqueue(&job).await.expect("enqueue");
    let mut invocations = 0;
    while let Some(outcome) = Consumer::new(&queue, QueueKind::Sync, &worker, backends.store.as_ref())
        .limits(5, Duration::from_secs(60))
        .work_one()
        .await
        .expect("queue")
    {
        assert_eq!(outcome, JobOutcome::Done);
        invocations += 1;
    }
    let runs = backends.store.recent_runs(Id::new(GUILD), 5).await.expect("runs");
    assert_eq!(runs.len(), 1);
    let mut members = Vec::new();
    for n in 0..2_500 {
        if let Some(stored) = backends.store.member(Id::new(GUILD), Id::new(FIRST + n)).await.expect("read") {
            members.push(stored);
        }
    }
    (runs[0].clone(), invocations, members)
}

#[tokio::test]
async fn a_checkpoint_every_page_gives_what_one_uninterrupted_run_gives() {
    let (whole, whole_invocations, whole_members) = embedded_sync(SyncLimits::default()).await;
    let (pieces, piece_invocations, piece_members) =
        embedded_sync(SyncLimits { page_size: 100, pages_per_invocation: Some(1) }).await;
    assert_eq!(whole_invocations, 1);
    assert_eq!(piece_invocations, 26, "25 full pages of 100, then the empty page that ends the run");
    assert_eq!(pieces.counts, whole.counts, "nothing counted twice, nothing missed");
    assert_eq!(pieces.outcome, SyncOutcome::Succeeded);
    let strip = |members: Vec<guildbridge_core::store::StoredMember>| -> Vec<(u64, bool, Vec<u64>)> {
        members
            .into_iter()
            .map(|m| (m.member.user_id.get(), m.left, m.member.roles.iter().map(|r| r.get()).collect()))
            .collect()
    };
    assert_eq!(strip(piece_members), strip(whole_members));
}

#[tokio::test]
async fn without_the_server_members_intent_the_run_fails_visibly_and_is_not_retried() {
    let (backends, queue) = Backends::in_memory().expect("backends");
    let sandbox = stack::sandbox_with(RateLimits::generous(), seed(100)).await;
    sandbox.with_world(|world| world.guilds.get_mut(&GUILD).expect("guild").members_intent = false);
    let worker =
        wiring::sync_worker(&backends, &stack::discord_config(&sandbox), &stack::worker_config(5, 60)).expect("worker");
    backends
        .queue
        .enqueue(&guildbridge_core::domain::Job::SyncMembers {
            guild_id: Id::new(GUILD),
            kind: SyncKind::Scheduled,
            request_id: "due:1".into(),
            reply: None,
            after: None,
        })
        .await
        .expect("enqueue");
    let outcome = Consumer::new(&queue, QueueKind::Sync, &worker, backends.store.as_ref())
        .limits(5, Duration::from_secs(30))
        .work_one()
        .await
        .expect("queue");
    assert_eq!(outcome, Some(JobOutcome::Done), "not retried");
    let runs = backends.store.recent_runs(Id::new(GUILD), 5).await.expect("runs");
    let SyncOutcome::Failed(reason) = &runs[0].outcome else { panic!("failed run: {runs:?}") };
    assert!(reason.contains("Server Members intent"), "{reason}");
    assert_eq!(backends.store.lease(Id::new(GUILD), fake_discord::unix_now()).await, Ok(None), "the lease is released");
}

#[tokio::test]
async fn a_member_role_that_gained_power_after_it_was_saved_is_never_granted_or_taken() {
    let (backends, queue) = Backends::in_memory().expect("backends");
    let sandbox = stack::sandbox_with(RateLimits::generous(), seed(300)).await;
    let (linked, stale_role) = prepare(backends.store.as_ref(), &sandbox, 300).await;
    // Someone with Manage Roles gives the member role Kick Members after it was chosen.
    const KICK_MEMBERS: u64 = 1 << 1;
    sandbox.with_world(|world| {
        world.guilds.get_mut(&GUILD).expect("guild").roles.get_mut(&ROLE).expect("role").permissions = KICK_MEMBERS;
    });
    let holders = || -> BTreeSet<u64> {
        sandbox.with_world(|world| {
            world.guilds[&GUILD].members.values().filter(|m| m.roles.contains(&ROLE)).map(|m| m.user_id).collect()
        })
    };
    let before = holders();
    let worker =
        wiring::sync_worker(&backends, &stack::discord_config(&sandbox), &stack::worker_config(5, 60)).expect("worker");
    let job = guildbridge_core::domain::Job::SyncMembers {
        guild_id: Id::new(GUILD),
        kind: SyncKind::Webhook,
        request_id: "platform:power".to_owned().into(),
        reply: None,
        after: None,
    };
    backends.queue.enqueue(&job).await.expect("enqueue");
    work_all(
        Consumer::new(&queue, QueueKind::Sync, &worker, backends.store.as_ref()).limits(5, Duration::from_secs(30)),
    )
    .await;
    let runs = backends.store.recent_runs(Id::new(GUILD), 1).await.expect("runs");
    let SyncOutcome::Failed(reason) = &runs[0].outcome else { panic!("refused visibly: {runs:?}") };
    assert!(reason.contains("carries kick members") && reason.contains("no role was granted or removed"), "{reason}");
    assert_eq!(holders(), before, "nobody gained or lost the role");
    assert!(linked.iter().any(|user| !before.contains(user)) && !stale_role.is_empty(), "there was work to refuse");
    let grants = sandbox.requests().iter().filter(|r| r.path.contains("/roles/")).count();
    assert_eq!(grants, 0, "not one grant or removal was even tried");
}

#[tokio::test]
async fn a_schedule_event_delivered_twice_yields_one_scheduled_job_per_due_guild() {
    let aws = Aws::connect();
    let provisioned = aws.provision(5).await;
    let store = Arc::new(aws.store(&provisioned));
    let queues = SqsQueues::new(
        aws.sqs.clone(),
        &provisioned.channel_queue_url,
        &provisioned.sync_queue_url,
        &provisioned.webhook_queue_url,
    );
    let now = fake_discord::unix_now();
    // Connecting writes each guild's schedule, its initial sync due at the connection.
    for n in 0..3u64 {
        store.connect(&format!("t{n}").into(), Id::new(GUILD + n), "G", now - 60 - n).await.expect("connect");
    }
    store.connect(&"later".into(), Id::new(GUILD + 10), "G", now + 3600).await.expect("not due");
    let (a, b) = tokio::join!(run_schedule(store.as_ref(), &queues, now), run_schedule(store.as_ref(), &queues, now));
    let (a, b) = (a.expect("schedule"), b.expect("schedule"));
    assert_eq!(a.syncs + b.syncs, 3, "each due time started once: {a:?} {b:?}");
    let again = run_schedule(store.as_ref(), &queues, now).await.expect("schedule");
    assert_eq!((again.due, again.syncs), (0, 0), "advanced past now");
    assert_eq!(aws.depth(&provisioned.sync_queue_url).await, 3, "one scheduled job per due guild");
    let next = store.due_syncs(now + 24 * 3600, 10).await.expect("due");
    assert_eq!(next.len(), 4, "each guild is due again one interval on");
}

#[tokio::test]
async fn the_retention_archives_channels_of_subjects_past_it_once() {
    let (backends, queue) = Backends::in_memory().expect("backends");
    let store = backends.store.as_ref();
    let guild = Id::new(GUILD);
    let now = fake_discord::unix_now();
    let settings = GuildSettings { archive_retention_hours: 24, ..GuildSettings::default() };
    store.update_settings(guild, 0, &settings).await.expect("settings");
    let race = |id: &str, starts_at: u64| guildbridge_core::domain::Subject {
        signups: None,
        relay: None,
        subject: guildbridge_core::domain::SubjectRef::new(guildbridge_core::domain::SubjectKind::Event, id),
        name: format!("Race {id}"),
        fields: Default::default(),
        signup_url: None,
        starts_at: Some(starts_at),
        discord_user_id: None,
        ends_at: None,
    };
    for (n, subject) in [race("old", now - 3 * 24 * 3600), race("recent", now - 3600)].iter().enumerate() {
        store.upsert_subject(guild, subject).await.expect("subject");
        let token = format!("t{n}");
        store.claim(guild, &subject.subject, &token.to_string().into(), None, now).await.expect("claim");
        let channels =
            guildbridge_core::domain::ChannelIds { text: Some(Id::new(900 + n as u64)), ..Default::default() };
        store.complete(guild, &subject.subject, &token.to_string().into(), channels, now).await.expect("complete");
        plan_subject(store, backends.queue.as_ref(), guild, subject, false, now).await.expect("planned as a put does");
    }

    let report = run_tick(store, backends.queue.as_ref(), now).await.timeline.expect("timeline");
    assert_eq!(report.archives, 1, "{report:?}");
    let again = run_tick(store, backends.queue.as_ref(), now).await.timeline.expect("timeline");
    assert_eq!(again.archives, 0, "a repeated tick changes nothing: {again:?}");
    let mut jobs = Vec::new();
    while let Some(received) = queue.receive(QueueKind::Channel, Duration::from_secs(30)).await.expect("receive") {
        queue.delete(received.receipt).await.expect("delete");
        jobs.push(received.job);
    }
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let guildbridge_core::domain::Job::ArchiveChannel { subject, reason, .. } = &jobs[0] else { panic!("{jobs:?}") };
    assert_eq!(subject.id, "old");
    assert!(reason.contains("retention"), "{reason}");
}

/// A guild of 100 on the embedded backends whose log channel hears of every finished sync.
struct LoggedGuild {
    backends: Backends,
    queue: guildbridge_core::queue::embedded::EmbeddedQueue,
    sandbox: Arc<Sandbox>,
    log_channel: u64,
    settings: GuildSettings,
    worker: guildbridge_core::sync::SyncWorker,
}

async fn logged_guild() -> LoggedGuild {
    let (backends, queue) = Backends::in_memory().expect("backends");
    let sandbox = stack::sandbox_with(RateLimits::generous(), seed(100)).await;
    let log_channel = stack::existing_text_channel(&sandbox, GUILD, "guildbridge-log");
    let mut settings = GuildSettings::default();
    settings.notifications.log_channel_id = Some(Id::new(log_channel));
    settings.notifications.on_sync_finished = true;
    backends.store.update_settings(Id::new(GUILD), 0, &settings).await.expect("settings");
    let worker =
        wiring::sync_worker(&backends, &stack::discord_config(&sandbox), &stack::worker_config(5, 60)).expect("worker");
    LoggedGuild { backends, queue, sandbox, log_channel, settings, worker }
}

#[tokio::test]
async fn the_log_channel_hears_of_finished_syncs_and_of_failed_ones_as_the_settings_say() {
    let LoggedGuild { backends, queue, sandbox, log_channel, mut settings, worker } = logged_guild().await;
    let log = || stack::messages_in(&sandbox, log_channel);
    let guild = Id::new(GUILD);
    let sync = |request_id: &str| guildbridge_core::domain::Job::SyncMembers {
        guild_id: guild,
        kind: SyncKind::Webhook,
        request_id: request_id.to_owned().into(),
        reply: None,
        after: None,
    };

    backends.queue.enqueue(&sync("platform:1")).await.expect("enqueue");
    work_all(
        Consumer::new(&queue, QueueKind::Sync, &worker, backends.store.as_ref()).limits(5, Duration::from_secs(30)),
    )
    .await;
    assert_eq!(log().len(), 1, "{:?}", log());
    assert!(log()[0].starts_with("Synced 98 members"), "{:?}", log());

    // Only failures now: a successful run says nothing, a failed one says why.
    settings.notifications.on_sync_finished = false;
    backends.store.update_settings(guild, 1, &settings).await.expect("settings");
    backends.queue.enqueue(&sync("platform:2")).await.expect("enqueue");
    work_all(
        Consumer::new(&queue, QueueKind::Sync, &worker, backends.store.as_ref()).limits(5, Duration::from_secs(30)),
    )
    .await;
    assert_eq!(log().len(), 1, "a successful run is not announced: {:?}", log());
    sandbox.with_world(|world| world.guilds.get_mut(&GUILD).expect("guild").members_intent = false);
    backends.queue.enqueue(&sync("platform:3")).await.expect("enqueue");
    work_all(
        Consumer::new(&queue, QueueKind::Sync, &worker, backends.store.as_ref()).limits(5, Duration::from_secs(30)),
    )
    .await;
    assert_eq!(log().len(), 2, "{:?}", log());
    assert!(log()[1].contains("Server Members intent"), "{:?}", log());
}

#[tokio::test]
async fn a_log_channel_in_another_tenants_guild_never_hears_of_this_guilds_syncs() {
    let LoggedGuild { backends, queue, sandbox, log_channel, mut settings, worker } = logged_guild().await;
    // Another tenant's guild, where the bot is too, with a channel of its own.
    let other_guild = GUILD + 77;
    sandbox.seed_guild(GuildSeed { id: other_guild, first_member_id: FIRST + 50_000, members: 2, ..seed(2) });
    let theirs = stack::existing_text_channel(&sandbox, other_guild, "their-general");
    let guild = Id::new(GUILD);
    // This guild's settings name that channel (nothing at save time knows better yet).
    settings.notifications.log_channel_id = Some(Id::new(theirs));
    backends.store.update_settings(guild, 1, &settings).await.expect("settings");
    let sync = guildbridge_core::domain::Job::SyncMembers {
        guild_id: guild,
        kind: SyncKind::Webhook,
        request_id: "platform:cross".to_owned().into(),
        reply: None,
        after: None,
    };
    backends.queue.enqueue(&sync).await.expect("enqueue");
    work_all(
        Consumer::new(&queue, QueueKind::Sync, &worker, backends.store.as_ref()).limits(5, Duration::from_secs(30)),
    )
    .await;
    let runs = backends.store.recent_runs(guild, 1).await.expect("runs");
    assert_eq!(runs[0].outcome, SyncOutcome::Succeeded, "the sync itself ran");
    assert_eq!(stack::messages_in(&sandbox, theirs), Vec::<String>::new(), "nothing posted in the other guild");
    let problems = backends.store.settings_problems(guild).await.expect("problems");
    assert_eq!(problems.first().map(|problem| problem.field.as_str()), Some("notifications.log_channel_id"));
    assert_eq!(stack::messages_in(&sandbox, log_channel), Vec::<String>::new());
}

#[tokio::test]
async fn a_finished_slash_sync_delivered_again_later_is_not_run_or_announced_twice() {
    let LoggedGuild { backends, queue, sandbox, log_channel, worker, .. } = logged_guild().await;
    let log = || stack::messages_in(&sandbox, log_channel);
    let guild = Id::new(GUILD);
    let endpoint = Endpoint::new(&backends);
    let token = sandbox.issue_interaction_token(APPLICATION_ID);
    let answer = slash_sync(&endpoint, &token).await;
    assert_eq!(answer["type"], 5, "deferred: {answer}");
    let received = queue.receive(QueueKind::Sync, Duration::ZERO).await.expect("receive").expect("the /sync job");
    let body = received.job.to_body().expect("body");

    // The worker runs a second or more after the command took the lease.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    work_all(
        Consumer::new(&queue, QueueKind::Sync, &worker, backends.store.as_ref()).limits(5, Duration::from_secs(60)),
    )
    .await;
    assert_eq!(log().len(), 1, "{:?}", log());
    let edits_before = sandbox.requests().iter().filter(|r| r.method == "PATCH" && r.path.contains(&token)).count();

    // SQS delivers the same job again, long after the run finished (and its lease is gone).
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    queue.enqueue_body(QueueKind::Sync, "late-redelivery", &body).await.expect("redeliver");
    let outcome = Consumer::new(&queue, QueueKind::Sync, &worker, backends.store.as_ref())
        .limits(5, Duration::from_secs(60))
        .work_one()
        .await
        .expect("queue");
    assert_eq!(outcome, Some(JobOutcome::Done));
    let runs = backends.store.recent_runs(guild, 10).await.expect("runs");
    assert_eq!(runs.len(), 1, "one request, one run: {runs:?}");
    assert_eq!(runs[0].outcome, SyncOutcome::Succeeded);
    assert_eq!(log().len(), 1, "announced once: {:?}", log());
    let edits_after = sandbox.requests().iter().filter(|r| r.method == "PATCH" && r.path.contains(&token)).count();
    assert!(edits_after <= edits_before + 1, "at most the same answer again");
    let original = sandbox.with_world(|world| world.interactions.get(&token).and_then(|i| i.original.clone()));
    let content = original.expect("answered")["content"].as_str().unwrap_or_default().to_owned();
    assert!(content.starts_with("Synced"), "the run's result: {content}");
}

#[tokio::test]
async fn a_sync_that_loses_its_lease_mid_run_ends_failed_naming_its_successor_and_says_so() {
    let (backends, queue) = Backends::in_memory().expect("backends");
    let sandbox = stack::sandbox_with(RateLimits::generous(), seed(3_000)).await;
    let guild = Id::new(GUILD);
    let worker = wiring::sync_worker(&backends, &stack::discord_config(&sandbox), &stack::worker_config(5, 60))
        .expect("worker")
        .with_limits(SyncLimits { page_size: 1_000, pages_per_invocation: Some(1) });
    let token = sandbox.issue_interaction_token(APPLICATION_ID);
    let reply = guildbridge_core::domain::InteractionReply {
        application_id: Id::new(APPLICATION_ID),
        interaction_id: Id::new(91),
        token: token.clone(),
        received_at: fake_discord::unix_now(),
    };
    let job = guildbridge_core::domain::Job::SyncMembers {
        guild_id: guild,
        kind: SyncKind::Manual,
        request_id: "platform:lost".into(),
        reply: Some(reply),
        after: None,
    };
    backends.queue.enqueue(&job).await.expect("enqueue");
    // First invocation: one page, then a continuation job.
    let first = Consumer::new(&queue, QueueKind::Sync, &worker, backends.store.as_ref())
        .limits(5, Duration::from_secs(60))
        .work_one();
    assert_eq!(first.await.expect("queue"), Some(JobOutcome::Done));
    // Meanwhile the lease ran out and another run took it.
    let later = fake_discord::unix_now() + guildbridge_core::sync::LEASE.as_secs() + 5;
    backends
        .store
        .start_run(guild, &"due:999".into(), SyncKind::Scheduled, later, Duration::from_secs(60))
        .await
        .expect("the other run");
    // The continuation finds the lease held by the other run: this run is superseded.
    let next = Consumer::new(&queue, QueueKind::Sync, &worker, backends.store.as_ref())
        .limits(5, Duration::from_secs(60))
        .work_one();
    assert_eq!(next.await.expect("queue"), Some(JobOutcome::Done));
    let runs = backends.store.recent_runs(guild, 5).await.expect("runs");
    let lost = runs.iter().find(|r| r.run_id.starts_with("platform")).expect("the run");
    let SyncOutcome::Failed(reason) = &lost.outcome else { panic!("not left running: {lost:?}") };
    assert!(reason.contains("superseded by run due:999"), "{reason}");
    let original = sandbox.with_world(|world| world.interactions.get(&token).and_then(|i| i.original.clone()));
    let content = original.expect("the answer was edited")["content"].as_str().unwrap_or_default().to_owned();
    assert!(content.contains("superseded"), "{content}");
}

#[tokio::test]
async fn a_guild_whose_settings_cannot_be_read_does_not_stop_the_schedule_for_the_others() {
    use guildbridge_core::store::{Store, embedded::EmbeddedItems, items::ItemStore, schema::keys};
    let store = Store::new(EmbeddedItems::in_memory().expect("store"));
    let (embedded, queue) = Backends::in_memory().expect("queue");
    let now = fake_discord::unix_now();
    let (broken, fine) = (Id::new(GUILD + 1), Id::new(GUILD + 2));
    // The broken guild is due first, so a schedule that stops at its error reaches nobody.
    store.connect(&"broken".into(), broken, "B", now - 120).await.expect("due");
    store.connect(&"fine".into(), fine, "F", now - 60).await.expect("due");
    let mut corrupt = serde_json::Map::new();
    let key = keys::settings(broken.get());
    corrupt.insert("pk".to_owned(), key.pk.into());
    corrupt.insert("sk".to_owned(), key.sk.into());
    corrupt.insert("version".to_owned(), "not a number".into());
    store.items().put(corrupt, None).await.expect("corrupt settings");

    let report = run_schedule(&store, embedded.queue.as_ref(), now).await.expect("the schedule itself runs");
    assert_eq!((report.due, report.syncs, report.failed), (2, 1, 1), "{report:?}");
    let job =
        queue.receive(QueueKind::Sync, Duration::from_secs(30)).await.expect("receive").expect("the fine guild's sync");
    assert_eq!(job.job.guild_id(), fine);
    let failing = store.sync_schedule(broken).await.expect("read").expect("schedule");
    assert_eq!(failing.failures, 1);
    assert!(failing.last_error.as_deref().is_some_and(|e| e.contains("failed")), "{failing:?}");
    assert!(failing.next_at > now, "retried later, not every minute");

    // It keeps failing: after a few tries it is parked for a day, with the reason.
    let mut at = now;
    for _ in 1..guildbridge_core::sync::schedule::PARK_AFTER_FAILURES {
        at = store.sync_schedule(broken).await.expect("read").expect("schedule").next_at;
        run_schedule(&store, embedded.queue.as_ref(), at).await.expect("runs");
    }
    let parked = store.sync_schedule(broken).await.expect("read").expect("schedule");
    assert!(parked.last_error.as_deref().is_some_and(|e| e.starts_with("parked")), "{parked:?}");
    assert!(parked.next_at >= at + guildbridge_core::sync::schedule::PARKED_FOR.as_secs(), "{parked:?}");
}

#[tokio::test]
async fn retention_reaches_every_mapping_however_many_there_are() {
    let (backends, queue) = Backends::in_memory().expect("backends");
    let store = backends.store.as_ref();
    let guild = Id::new(GUILD);
    let now = fake_discord::unix_now();
    let settings = GuildSettings { archive_retention_hours: 1, ..GuildSettings::default() };
    store.update_settings(guild, 0, &settings).await.expect("settings");
    for n in 0..130u64 {
        let subject = guildbridge_core::domain::Subject {
            signups: None,
            relay: None,
            subject: guildbridge_core::domain::SubjectRef::new(
                guildbridge_core::domain::SubjectKind::Event,
                format!("e{n}"),
            ),
            name: format!("Race {n}"),
            fields: Default::default(),
            signup_url: None,
            starts_at: Some(now - 3 * 3600),
            discord_user_id: None,
            ends_at: None,
        };
        store.upsert_subject(guild, &subject).await.expect("subject");
        let token = format!("t{n}");
        store.claim(guild, &subject.subject, &token.to_string().into(), None, now).await.expect("claim");
        let channels = guildbridge_core::domain::ChannelIds { text: Some(Id::new(5_000 + n)), ..Default::default() };
        store.complete(guild, &subject.subject, &token.to_string().into(), channels, now).await.expect("complete");
        plan_subject(store, backends.queue.as_ref(), guild, &subject, false, now).await.expect("planned");
    }
    let report = run_timeline(store, backends.queue.as_ref(), now).await.expect("timeline");
    assert_eq!(report.archives, 130, "{report:?}");
    assert_eq!(queue.len(QueueKind::Channel).await, Ok(130));
}

//! The channel worker against real local services: DynamoDB and SQS on moto's server, and
//! the Discord sandbox. Exactly one channel per subject through duplicates, crashes and
//! faults; permanent errors become visible errors.

use std::{sync::Arc, time::Duration};

use discord_sandbox::{Faults, RateLimits, Sandbox, world::ChannelRecord};
use e2e::stack::{self, ADMIN, APPLICATION_ID, Aws};
use guildbridge_aws::sqs::SqsQueues;
use guildbridge_core::{
    channels::{ChannelWorker, plan, register_subject},
    discord::rest::{CreateChannel, DiscordClient},
    domain::{GuildSettings, InteractionReply, Job, MappingStatus, Subject, SubjectKind, SubjectRef},
    queue::JobQueue,
    store::{ClaimOutcome, DomainStore},
    worker::{
        Attempt, JobHandler, JobOutcome,
        lambda::{BatchPolicy, run_batch},
    },
};
use guildbridge_host::wiring;
use tokio::time::Instant;
use twilight_model::{channel::ChannelType, id::Id};

const GUILD: u64 = 1_100_000_000_000_000_100;

fn event(id: &str) -> Subject {
    Subject {
        signups: None,
        relay: None,
        subject: SubjectRef::new(SubjectKind::Event, id),
        name: format!("Race {id}"),
        fields: Default::default(),
        signup_url: None,
        starts_at: None,
        discord_user_id: None,
        ends_at: None,
    }
}

fn create_job(subject: &Subject) -> Job {
    Job::CreateChannels {
        retry: None,
        guild_id: Id::new(GUILD),
        subject: subject.subject.clone(),
        requested_by: None,
        reply: None,
    }
}

fn attempt(receives: u32) -> Attempt {
    Attempt { receives, max_receives: 5, deadline: Instant::now() + Duration::from_secs(20) }
}

/// Text channels in the sandbox whose topic carries the subject's marker.
fn channels_for(sandbox: &Sandbox, subject: &SubjectRef) -> Vec<ChannelRecord> {
    let marker = plan::topic_marker(subject);
    sandbox.with_world(|world| {
        world
            .guild_channels(GUILD)
            .filter(|c| c.topic.as_deref().is_some_and(|topic| topic.contains(&marker)))
            .cloned()
            .collect()
    })
}

struct Setup {
    aws: Aws,
    provisioned: guildbridge_host::provision::Provisioned,
    store: Arc<dyn DomainStore>,
    sandbox: Arc<Sandbox>,
    worker: ChannelWorker,
}

async fn setup(limits: RateLimits, claim_stale_seconds: u64, max_receives: u32) -> Setup {
    let aws = Aws::connect();
    let provisioned = aws.provision(max_receives).await;
    let store: Arc<dyn DomainStore> = Arc::new(aws.store(&provisioned));
    let sandbox = stack::sandbox(limits, GUILD, ADMIN).await;
    let worker = wiring::channel_worker(
        store.clone(),
        &stack::discord_config(&sandbox),
        &stack::worker_config(max_receives, claim_stale_seconds),
    )
    .expect("worker");
    Setup { aws, provisioned, store, sandbox, worker }
}

/// Runs a job until it is done, as redelivery would (waiting out hand-backs).
async fn run_to_completion(worker: &ChannelWorker, job: Job) {
    for receives in 1..=20 {
        match worker.handle(job.clone(), attempt(receives)).await {
            JobOutcome::Done | JobOutcome::DoneWith(_) => return,
            JobOutcome::Retry { after, .. } => tokio::time::sleep(after.min(Duration::from_secs(1))).await,
            JobOutcome::Reject { reason } => panic!("rejected: {reason}"),
        }
    }
    panic!("job never finished");
}

#[tokio::test]
async fn duplicates_out_of_order_and_a_crash_leave_one_channel_and_one_mapping_per_subject() {
    let Setup { store, sandbox, worker, .. } = setup(RateLimits::generous(), 2, 5).await;
    let guild = Id::new(GUILD);
    let subjects: Vec<Subject> = (1..=6).map(|n| event(&n.to_string())).collect();
    for subject in &subjects {
        store.upsert_subject(guild, subject).await.expect("subject");
    }

    // A worker that created the Discord channel and died before recording the mapping.
    let crashed = &subjects[0];
    let ClaimOutcome::Claimed(_) =
        store.claim(guild, &crashed.subject, &"crashed-attempt".into(), None, now()).await.unwrap()
    else {
        panic!("first claim");
    };
    let planned = plan::plan(crashed, &GuildSettings::default(), guild, Id::new(APPLICATION_ID)).expect("plan");
    let client = DiscordClient::new(
        sandbox.base_url().parse().unwrap(),
        guildbridge_core::discord::rest::BotToken::new(stack::BOT_TOKEN),
    )
    .expect("client");
    let body = CreateChannel {
        name: planned.text.clone().expect("text"),
        kind: ChannelType::GuildText,
        parent_id: None,
        topic: Some(planned.topic.clone()),
        permission_overwrites: Vec::new(),
    };
    client.create_guild_channel(guild, &body, None, Instant::now() + Duration::from_secs(5)).await.expect("orphan");

    // Every job three times, shuffled, all at once.
    let mut deliveries: Vec<Job> = subjects.iter().flat_map(|s| std::iter::repeat_n(create_job(s), 3)).collect();
    fastrand::shuffle(&mut deliveries);
    let worker = Arc::new(worker);
    let tasks: Vec<_> = deliveries
        .into_iter()
        .map(|job| {
            let worker = worker.clone();
            tokio::spawn(async move { run_to_completion(&worker, job).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("delivery finished");
    }

    for subject in &subjects {
        let found = channels_for(&sandbox, &subject.subject);
        assert_eq!(found.len(), 1, "{}: exactly one Discord channel", subject.subject);
        let mapping = store.mapping(guild, &subject.subject).await.expect("read").expect("mapping");
        assert_eq!(mapping.status, MappingStatus::Active, "{}", subject.subject);
        assert_eq!(mapping.channels.text.map(|id| id.get()), Some(found[0].id), "the mapping names that channel");
        let owner = store.mapping_for_channel(guild, Id::new(found[0].id)).await.expect("read").expect("owner");
        assert_eq!(owner.subject, subject.subject, "one mapping, both directions");
    }
    assert_eq!(store.count_active(guild).await, Ok(subjects.len() as u64));
}

fn now() -> u64 {
    guildbridge_core::test_support::interactions::unix_now()
}

#[tokio::test]
async fn with_5xx_and_a_429_storm_every_job_ends_done_or_dead_lettered_with_its_reason() {
    const MAX_RECEIVES: u32 = 4;
    let Setup { aws, provisioned, store: store_here, sandbox, worker } =
        setup(RateLimits::generous(), 1, MAX_RECEIVES).await;
    let queues = SqsQueues::new(
        aws.sqs.clone(),
        &provisioned.channel_queue_url,
        &provisioned.sync_queue_url,
        &provisioned.webhook_queue_url,
    );
    let guild = Id::new(GUILD);
    let subjects: Vec<Subject> = (1..=24).map(|n| event(&format!("f{n}"))).collect();
    for subject in &subjects {
        store_here.upsert_subject(guild, subject).await.expect("subject");
        queues.enqueue(&create_job(subject)).await.expect("enqueue");
        // A duplicate enqueue inside the window collapses in the queue itself.
        queues.enqueue(&create_job(subject)).await.expect("enqueue");
    }
    sandbox.set_faults(Faults {
        server_error_rate: 0.2,
        storm_requests: 15,
        storm_retry_after: Duration::from_secs(2),
        ..Faults::default()
    });

    let redelivery = queues.redelivery(guildbridge_core::domain::QueueKind::Channel);
    let policy = BatchPolicy {
        queue: guildbridge_core::domain::QueueKind::Channel,
        max_receives: MAX_RECEIVES,
        max_delay: Duration::from_secs(1),
    };
    let give_up = Instant::now() + Duration::from_secs(120);
    while aws.depth(&provisioned.channel_queue_url).await > 0 {
        assert!(Instant::now() < give_up, "the queue never drained");
        let batch = aws.receive_batch(&provisioned.channel_queue_url, 1).await;
        if batch.records.is_empty() {
            continue;
        }
        // An invocation's time for the batch: the storm's 2 s waits fit and are slept (waits that
        // do not fit go back to the queue: tested on their own below). Generous, so a busy
        // machine does not turn every job into a dead letter.
        let deadline = Instant::now() + Duration::from_secs(20);
        let response = run_batch(batch.clone(), &worker, &redelivery, store_here.as_ref(), policy, deadline).await;
        aws.settle_batch(&provisioned.channel_queue_url, &batch, &response).await;
    }
    sandbox.set_faults(Faults::default());

    let dead: Vec<SubjectRef> = aws
        .drain_messages(&provisioned.channel_dead_letter_url)
        .await
        .iter()
        .map(|body| match Job::from_body(body) {
            Ok(Job::CreateChannels { subject, .. }) => subject,
            other => panic!("not a channel job in the dead-letter queue: {other:?}"),
        })
        .collect();
    let mut done = 0;
    for subject in &subjects {
        let found = channels_for(&sandbox, &subject.subject);
        assert!(found.len() <= 1, "{}: {} channels", subject.subject, found.len());
        let mapping = store_here.mapping(guild, &subject.subject).await.expect("read").expect("claimed");
        let dead_lettered = dead.iter().filter(|d| **d == subject.subject).count();
        match mapping.status {
            MappingStatus::Active => {
                assert_eq!(found.len(), 1, "{}: an active mapping has its channel", subject.subject);
                assert_eq!(dead_lettered, 0, "{}: done, yet dead-lettered", subject.subject);
                done += 1;
            }
            MappingStatus::Error => {
                let reason = mapping.reason.unwrap_or_default();
                assert!(
                    reason.starts_with(&format!("gave up after {MAX_RECEIVES} attempts")),
                    "{}: {reason}",
                    subject.subject
                );
                assert_eq!(dead_lettered, 1, "{}: given up, so dead-lettered once ({reason})", subject.subject);
            }
            other => panic!("{}: left {other:?}", subject.subject),
        }
    }
    assert_eq!(done + dead.len(), subjects.len(), "every job is done or dead-lettered; none lost");
    assert!(done > 0, "faults at this rate still let work through");

    // What an admin sees: a record per job given up on, in its guild, with why and how often.
    let records = store_here.dead_letters(Some(guild), 100).await.expect("dead letters");
    for subject in &dead {
        let record = records
            .iter()
            .find(|r| Job::from_body(&r.body).is_ok_and(|job| job == create_job(&event(&subject.id))))
            .unwrap_or_else(|| panic!("{subject}: dead-lettered without a record: {records:#?}"));
        assert_eq!((record.queue.as_str(), record.job_type.as_str()), ("channel", "create_channels"));
        assert_eq!(record.attempts, MAX_RECEIVES);
        assert!(record.reason.starts_with(&format!("gave up after {MAX_RECEIVES} attempts")), "{}", record.reason);
    }
}

#[tokio::test]
async fn a_poison_message_is_recorded_as_dead_on_its_first_receive_not_recycled() {
    let Setup { aws, provisioned, store, worker, .. } = setup(RateLimits::generous(), 60, 5).await;
    let queues = SqsQueues::new(
        aws.sqs.clone(),
        &provisioned.channel_queue_url,
        &provisioned.sync_queue_url,
        &provisioned.webhook_queue_url,
    );
    let poison = [
        (format!("{{\"type\":\"teleport\",\"guild_id\":\"{GUILD}\"}}"), Some(Id::new(GUILD))),
        ("not json at all".to_owned(), None),
    ];
    for (n, (body, _)) in poison.iter().enumerate() {
        aws.sqs
            .send_message()
            .queue_url(&provisioned.channel_queue_url)
            .message_body(body)
            .message_group_id("g")
            .message_deduplication_id(format!("poison-{n}"))
            .send()
            .await
            .expect("send");
    }
    let redelivery = queues.redelivery(guildbridge_core::domain::QueueKind::Channel);
    let policy = BatchPolicy {
        queue: guildbridge_core::domain::QueueKind::Channel,
        max_receives: 5,
        max_delay: Duration::from_secs(1),
    };
    let batch = aws.receive_batch(&provisioned.channel_queue_url, 1).await;
    assert_eq!(batch.records.len(), 2);
    let deadline = Instant::now() + Duration::from_secs(20);
    let response = run_batch(batch.clone(), &worker, &redelivery, store.as_ref(), policy, deadline).await;
    assert!(response.batch_item_failures.is_empty(), "recorded and deleted, not handed back");
    aws.settle_batch(&provisioned.channel_queue_url, &batch, &response).await;
    assert_eq!(aws.depth(&provisioned.channel_queue_url).await, 0, "nothing comes back to be received again");
    for (body, guild) in &poison {
        let records = store.dead_letters(*guild, 10).await.expect("dead letters");
        let record = records.iter().find(|r| &r.body == body).unwrap_or_else(|| panic!("{body}: {records:?}"));
        assert_eq!(record.attempts, 1);
        assert!(record.reason.contains("not a Guildbridge job"), "{}", record.reason);
    }
}

#[tokio::test]
async fn the_500_channel_limit_is_a_clear_error_for_the_user_and_an_error_mapping() {
    let Setup { store, sandbox, worker, .. } = setup(RateLimits::generous(), 60, 5).await;
    let guild = Id::new(GUILD);
    for n in 0..500u64 {
        stack::existing_text_channel(&sandbox, GUILD, &format!("existing-{n}"));
    }
    let subject = event("full");
    store.upsert_subject(guild, &subject).await.expect("subject");
    let token = sandbox.issue_interaction_token(APPLICATION_ID);
    let job = Job::CreateChannels {
        retry: None,
        guild_id: guild,
        subject: subject.subject.clone(),
        requested_by: None,
        reply: Some(InteractionReply {
            application_id: Id::new(APPLICATION_ID),
            interaction_id: Id::new(77),
            token: token.clone(),
            received_at: now(),
        }),
    };
    assert_eq!(worker.handle(job, attempt(1)).await, JobOutcome::Done, "a permanent error is not retried");

    let mapping = store.mapping(guild, &subject.subject).await.expect("read").expect("mapping");
    assert_eq!(mapping.status, MappingStatus::Error);
    assert!(mapping.reason.as_deref().unwrap_or_default().contains("limit of 500 channels"), "{:?}", mapping.reason);
    let original = sandbox.with_world(|world| world.interactions.get(&token).and_then(|i| i.original.clone()));
    let content = original.expect("@original edited")["content"].as_str().unwrap_or_default().to_owned();
    assert!(content.contains("Couldn't create the channel") && content.contains("500 channels"), "{content}");
    assert!(channels_for(&sandbox, &subject.subject).is_empty());
}

#[tokio::test]
async fn a_rate_limit_wait_longer_than_the_invocation_goes_back_to_the_queue_and_a_retry_finishes() {
    let Setup { store, sandbox, worker, .. } = setup(RateLimits::generous(), 60, 5).await;
    let guild = Id::new(GUILD);
    let subject = event("slow");
    store.upsert_subject(guild, &subject).await.expect("subject");
    sandbox.set_faults(Faults { storm_requests: 1, storm_retry_after: Duration::from_secs(30), ..Faults::default() });

    let short = Attempt { receives: 1, max_receives: 5, deadline: Instant::now() + Duration::from_secs(2) };
    let started = Instant::now();
    let JobOutcome::Retry { after, reason } = worker.handle(create_job(&subject), short).await else {
        panic!("handed back");
    };
    assert!(started.elapsed() < Duration::from_secs(5), "it did not sleep through the wait");
    assert!(after >= Duration::from_secs(20), "visible again when Discord allows: {after:?} ({reason})");
    let mapping = store.mapping(guild, &subject.subject).await.expect("read").expect("mapping");
    assert_eq!(mapping.status, MappingStatus::Error);
    assert!(mapping.reason.unwrap_or_default().starts_with("will retry"));

    // The redelivery (a fresh invocation, once the wait is over) reclaims and finishes.
    let later = wiring::channel_worker(store.clone(), &stack::discord_config(&sandbox), &stack::worker_config(5, 60))
        .expect("worker");
    assert_eq!(later.handle(create_job(&subject), attempt(2)).await, JobOutcome::Done);
    assert_eq!(channels_for(&sandbox, &subject.subject).len(), 1);
    let mapping = store.mapping(guild, &subject.subject).await.expect("read").expect("mapping");
    assert_eq!((mapping.status, mapping.reason), (MappingStatus::Active, None));
}

#[tokio::test]
async fn settings_shape_the_channels_private_voice_series_category_and_delete_on_archive() {
    let Setup { store, sandbox, worker, .. } = setup(RateLimits::generous(), 60, 5).await;
    let guild = Id::new(GUILD);
    let settings = GuildSettings {
        private_channels: true,
        voice_channel: true,
        category_per_series: true,
        archive_mode: guildbridge_core::domain::ArchiveMode::Delete,
        ..GuildSettings::default()
    };
    store.update_settings(guild, 0, &settings).await.expect("settings");
    let owner = 1_100_000_000_000_010_003u64;
    let lead = Subject {
        signups: None,
        relay: None,
        subject: SubjectRef::new(SubjectKind::Lead, "L-7"),
        name: "Acme Corp".to_owned(),
        fields: [("series_name".to_owned(), "Q4 Leads".to_owned())].into(),
        signup_url: None,
        starts_at: None,
        discord_user_id: Some(Id::new(owner)),
        ends_at: None,
    };
    store.upsert_subject(guild, &lead).await.expect("subject");
    assert_eq!(worker.handle(create_job(&lead), attempt(1)).await, JobOutcome::Done);

    let all: Vec<ChannelRecord> = sandbox.with_world(|world| world.guild_channels(GUILD).cloned().collect());
    let category = all.iter().find(|c| c.kind == 4).expect("a category for the series");
    assert_eq!(category.name, "Q4 Leads");
    let text = all.iter().find(|c| c.kind == 0).expect("text channel");
    let voice = all.iter().find(|c| c.kind == 2).expect("voice channel");
    assert_eq!((text.parent_id, voice.parent_id), (Some(category.id), Some(category.id)));
    let overwrite = |id: u64| {
        text.overwrites
            .iter()
            .find(|o| o["id"].as_str().and_then(|s| s.parse::<u64>().ok()) == Some(id))
            .cloned()
            .expect("overwrite")
    };
    let bits = |value: &serde_json::Value| value.as_str().unwrap_or("0").parse::<u64>().unwrap_or(0);
    assert_ne!(bits(&overwrite(GUILD)["deny"]) & (1 << 10), 0, "@everyone cannot see it");
    assert_ne!(bits(&overwrite(APPLICATION_ID)["allow"]) & (1 << 10), 0, "the bot can");
    assert_ne!(bits(&overwrite(owner)["allow"]) & (1 << 10), 0, "the lead's owner can");

    let archive = Job::ArchiveChannel {
        guild_id: guild,
        subject: lead.subject.clone(),
        reason: "deal closed".to_owned(),
        reply: None,
    };
    assert_eq!(worker.handle(archive.clone(), attempt(1)).await, JobOutcome::Done);
    assert_eq!(worker.handle(archive, attempt(2)).await, JobOutcome::Done, "archiving twice is harmless");
    let left: Vec<u64> = sandbox.with_world(|world| world.guild_channels(GUILD).map(|c| c.id).collect());
    assert_eq!(left, [category.id], "the subject's channels are deleted; the shared category stays");
    let mapping = store.mapping(guild, &lead.subject).await.expect("read").expect("mapping");
    assert_eq!((mapping.status, mapping.reason.as_deref()), (MappingStatus::Archived, Some("deal closed")));
}

#[tokio::test]
async fn registering_a_subject_enqueues_its_channel_only_when_auto_create_is_on() {
    let (backends, queue) = guildbridge_host::wiring::Backends::in_memory().expect("backends");
    let guild = Id::new(GUILD);
    let first = event("auto-1");
    let enqueued = register_subject(backends.store.as_ref(), backends.queue.as_ref(), guild, &first).await;
    assert_eq!(enqueued.map(|done| done.channel_job.is_some()), Ok(false), "defaults: auto-create is off");
    assert_eq!(queue.len(guildbridge_core::domain::QueueKind::Channel).await, Ok(0));

    let settings = GuildSettings { auto_create_channels: true, ..GuildSettings::default() };
    backends.store.update_settings(guild, 0, &settings).await.expect("settings");
    let second = event("auto-2");
    let enqueued = register_subject(backends.store.as_ref(), backends.queue.as_ref(), guild, &second).await;
    assert_eq!(enqueued.map(|done| (done.created, done.channel_job.is_some())), Ok((true, true)));
    let received = queue
        .receive(guildbridge_core::domain::QueueKind::Channel, Duration::from_secs(30))
        .await
        .expect("receive")
        .expect("a job");
    assert_eq!(received.job, create_job(&second));
    assert!(backends.store.subject(guild, &second.subject).await.expect("read").is_some(), "the subject is stored");
}

#[tokio::test]
async fn the_log_channel_hears_of_every_created_channel_once_whoever_asked() {
    let Setup { store, sandbox, worker, .. } = setup(RateLimits::generous(), 60, 5).await;
    let guild = Id::new(GUILD);
    let log_channel = stack::existing_text_channel(&sandbox, GUILD, "guildbridge-log");
    let mut settings = GuildSettings::default();
    settings.notifications.log_channel_id = Some(Id::new(log_channel));
    settings.notifications.on_channel_created = true;
    store.update_settings(guild, 0, &settings).await.expect("settings");
    let log = || stack::messages_in(&sandbox, log_channel);

    // The platform asked (no interaction to answer): only the log channel can tell anyone.
    let platform = event("platform");
    store.upsert_subject(guild, &platform).await.expect("subject");
    assert_eq!(worker.handle(create_job(&platform), attempt(1)).await, JobOutcome::Done);
    assert_eq!(log().len(), 1, "{:?}", log());
    assert!(log()[0].starts_with("Created <#") && log()[0].contains("Race platform"), "{:?}", log());

    // A person asked: their answer is edited, and the log still hears of it, once.
    let asked = event("asked");
    store.upsert_subject(guild, &asked).await.expect("subject");
    let token = sandbox.issue_interaction_token(APPLICATION_ID);
    let reply = InteractionReply {
        application_id: Id::new(APPLICATION_ID),
        interaction_id: Id::new(78),
        token: token.clone(),
        received_at: now(),
    };
    let job = Job::CreateChannels {
        retry: None,
        guild_id: guild,
        subject: asked.subject.clone(),
        requested_by: None,
        reply: Some(reply.clone()),
    };
    assert_eq!(worker.handle(job, attempt(1)).await, JobOutcome::Done);
    let original = sandbox.with_world(|world| world.interactions.get(&token).and_then(|i| i.original.clone()));
    assert!(original.expect("@original edited")["content"].as_str().unwrap_or_default().contains("Race asked"));
    assert_eq!(log().len(), 2, "{:?}", log());

    // An answer whose token has expired is not posted twice to the log.
    let late = event("late");
    store.upsert_subject(guild, &late).await.expect("subject");
    let expired = InteractionReply { received_at: now() - 20 * 60, ..reply };
    let job = Job::CreateChannels {
        retry: None,
        guild_id: guild,
        subject: late.subject.clone(),
        requested_by: None,
        reply: Some(expired),
    };
    assert_eq!(worker.handle(job, attempt(1)).await, JobOutcome::Done);
    assert_eq!(log().iter().filter(|m| m.contains("Race late")).count(), 1, "{:?}", log());
}

#[tokio::test]
async fn a_failed_edit_of_the_answer_falls_back_to_the_log_channel() {
    let Setup { store, sandbox, worker, .. } = setup(RateLimits::generous(), 60, 5).await;
    let guild = Id::new(GUILD);
    let log_channel = stack::existing_text_channel(&sandbox, GUILD, "guildbridge-log");
    let mut settings = GuildSettings::default();
    settings.notifications.log_channel_id = Some(Id::new(log_channel));
    store.update_settings(guild, 0, &settings).await.expect("settings");
    let subject = event("edit-fails");
    store.upsert_subject(guild, &subject).await.expect("subject");
    // A token Discord does not know (deleted interaction, a new deployment's app): the edit fails.
    let reply = InteractionReply {
        application_id: Id::new(APPLICATION_ID),
        interaction_id: Id::new(79),
        token: "never-issued-token".to_owned(),
        received_at: now(),
    };
    let job = Job::CreateChannels {
        retry: None,
        guild_id: guild,
        subject: subject.subject.clone(),
        requested_by: None,
        reply: Some(reply),
    };
    assert_eq!(worker.handle(job, attempt(1)).await, JobOutcome::Done);
    let log = stack::messages_in(&sandbox, log_channel);
    assert!(log.iter().any(|m| m.contains("Race edit-fails")), "the person's answer went to the log instead: {log:?}");
}

#[tokio::test]
async fn a_channel_already_mapped_to_another_subject_ends_in_a_visible_error_not_endless_retries() {
    let Setup { store, sandbox, worker, .. } = setup(RateLimits::generous(), 60, 5).await;
    let guild = Id::new(GUILD);
    let subject = event("clash");
    store.upsert_subject(guild, &subject).await.expect("subject");
    // The id the sandbox hands out next already belongs to another subject's mapping.
    let next_id = sandbox.with_world(|world| world.new_id()) + 1;
    let other = SubjectRef::new(SubjectKind::Event, "other");
    store.claim(guild, &other, &"other-token".into(), None, now()).await.expect("claim");
    let taken = guildbridge_core::domain::ChannelIds { text: Some(Id::new(next_id)), ..Default::default() };
    store.complete(guild, &other, &"other-token".into(), taken, now()).await.expect("complete");

    let outcome = worker.handle(create_job(&subject), attempt(1)).await;
    assert_eq!(outcome, JobOutcome::Done, "not handed back as storage busy");
    let mapping = store.mapping(guild, &subject.subject).await.expect("read").expect("mapping");
    assert_eq!(mapping.status, MappingStatus::Error);
    assert!(mapping.reason.as_deref().is_some_and(|r| r.contains("already exists")), "{:?}", mapping.reason);
}

#[tokio::test]
async fn a_retry_never_adopts_a_members_voice_channel_that_only_shares_the_name() {
    let Setup { store, sandbox, worker, .. } = setup(RateLimits::generous(), 60, 5).await;
    let guild = Id::new(GUILD);
    let settings = GuildSettings { text_channel: false, voice_channel: true, ..GuildSettings::default() };
    store.update_settings(guild, 0, &settings).await.expect("settings");
    let subject = event("voice");
    store.upsert_subject(guild, &subject).await.expect("subject");
    let planned = plan::plan(&subject, &settings, guild, Id::new(APPLICATION_ID)).expect("plan");
    let name = planned.voice.clone().expect("a voice channel is planned");
    // A member's own voice channel with the very name, elsewhere in the guild.
    let members_own = stack::existing_channel(&sandbox, GUILD, &name, 2);
    // An earlier attempt failed before creating anything: this one reconciles.
    store.claim(guild, &subject.subject, &"failed-attempt".into(), None, now()).await.expect("claim");
    store
        .mark_error(guild, &subject.subject, &"failed-attempt".into(), "will retry: test", now())
        .await
        .expect("error");

    assert_eq!(worker.handle(create_job(&subject), attempt(2)).await, JobOutcome::Done);
    let mapping = store.mapping(guild, &subject.subject).await.expect("read").expect("mapping");
    let voice = mapping.channels.voice.expect("a voice channel").get();
    assert_ne!(voice, members_own, "the member's channel was adopted (and would be deleted on archive)");
    let voices = sandbox.with_world(|world| world.guild_channels(GUILD).filter(|c| c.kind == 2).count());
    assert_eq!(voices, 2, "the subject got its own channel beside the member's");
}

#[tokio::test]
async fn a_voice_channel_created_before_a_crash_is_found_again_through_the_claim() {
    let Setup { store, sandbox, worker, .. } = setup(RateLimits::generous(), 60, 5).await;
    let guild = Id::new(GUILD);
    let settings = GuildSettings { voice_channel: true, ..GuildSettings::default() };
    store.update_settings(guild, 0, &settings).await.expect("settings");
    let subject = event("crash-voice");
    store.upsert_subject(guild, &subject).await.expect("subject");
    // 499 channels: the voice channel is the 500th, so the text channel after it fails.
    let fillers: Vec<u64> =
        (0..499u64).map(|n| stack::existing_text_channel(&sandbox, GUILD, &format!("filler-{n}"))).collect();
    let first = worker.handle(create_job(&subject), attempt(1)).await;
    assert_eq!(first, JobOutcome::Done, "the limit is a permanent error");
    let mapping = store.mapping(guild, &subject.subject).await.expect("read").expect("mapping");
    assert_eq!(mapping.status, MappingStatus::Error, "{:?}", mapping.reason);
    sandbox.with_world(|world| world.channels.retain(|id, _| !fillers.contains(id)));
    assert_eq!(worker.handle(create_job(&subject), attempt(1)).await, JobOutcome::Done);
    let mapping = store.mapping(guild, &subject.subject).await.expect("read").expect("mapping");
    assert_eq!(mapping.status, MappingStatus::Active, "{:?}", mapping.reason);
    let voices = sandbox.with_world(|world| world.guild_channels(GUILD).filter(|c| c.kind == 2).count());
    assert_eq!(voices, 1, "the recorded voice channel was adopted, not made twice");
}

#[tokio::test]
async fn an_archived_private_channel_is_locked_for_its_owner_too() {
    let Setup { store, sandbox, worker, .. } = setup(RateLimits::generous(), 60, 5).await;
    let guild = Id::new(GUILD);
    let settings = GuildSettings { private_channels: true, ..GuildSettings::default() };
    store.update_settings(guild, 0, &settings).await.expect("settings");
    let owner = 1_100_000_000_000_010_004u64;
    let lead = Subject {
        signups: None,
        relay: None,
        subject: SubjectRef::new(SubjectKind::Lead, "L-9"),
        name: "Globex".to_owned(),
        fields: Default::default(),
        signup_url: None,
        starts_at: None,
        discord_user_id: Some(Id::new(owner)),
        ends_at: None,
    };
    store.upsert_subject(guild, &lead).await.expect("subject");
    assert_eq!(worker.handle(create_job(&lead), attempt(1)).await, JobOutcome::Done);
    let archive =
        Job::ArchiveChannel { guild_id: guild, subject: lead.subject.clone(), reason: "lost".to_owned(), reply: None };
    assert_eq!(worker.handle(archive, attempt(1)).await, JobOutcome::Done);

    let text = sandbox.with_world(|world| world.guild_channels(GUILD).find(|c| c.kind == 0).cloned()).expect("kept");
    let bits = |value: &serde_json::Value| value.as_str().unwrap_or("0").parse::<u64>().unwrap_or(0);
    const SEND: u64 = 1 << 11;
    for overwrite in &text.overwrites {
        let id = overwrite["id"].as_str().and_then(|s| s.parse::<u64>().ok()).unwrap_or_default();
        if id == APPLICATION_ID {
            continue;
        }
        assert_eq!(bits(&overwrite["allow"]) & SEND, 0, "{id} may still send: {overwrite}");
        assert_ne!(bits(&overwrite["deny"]) & SEND, 0, "{id} is not denied sending: {overwrite}");
    }
    assert!(
        text.overwrites.iter().any(|o| o["id"].as_str().and_then(|s| s.parse::<u64>().ok()) == Some(owner)),
        "the owner's overwrite was checked"
    );
}

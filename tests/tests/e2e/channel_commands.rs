//! `/channel`, `/events`, `/signup` and `/sync` through the interaction service with the
//! embedded store and queue: bad input gets a clear ephemeral answer and changes nothing; good
//! input enqueues one job per interaction and answers from the store. The buttons on the
//! answers ("Retry", "Show run") work end to end with the channel worker and the Discord
//! sandbox, and a tampered one is refused.

use std::time::Duration;

use e2e::{endpoint::Endpoint, stack};
use guildbridge_core::{
    domain::{MappingStatus, QueueKind, Subject, SubjectKind, SubjectRef},
    interactions::commands::manifest,
    queue::embedded::EmbeddedQueue,
    store::DomainStore,
    test_support::interactions::{self as fake_discord, Invoker},
    worker::{Consumer, JobOutcome},
};
use guildbridge_host::wiring::{self, Backends};
use serde_json::{Value, json};
use twilight_model::id::Id;

const GUILD: u64 = 1_100_000_000_000_000_100;

/// The endpoint on embedded backends, with the store and queue to inspect.
struct Stack {
    endpoint: Endpoint,
    store: std::sync::Arc<dyn DomainStore>,
    queue: EmbeddedQueue,
}

fn endpoint() -> Stack {
    let (backends, queue) = Backends::in_memory().expect("backends");
    Stack { endpoint: Endpoint::new(&backends), store: backends.store, queue }
}

impl Stack {
    async fn send(&self, interaction: Value) -> Value {
        self.endpoint.send(interaction).await
    }

    async fn run(&self, line: &str, invoker: &Invoker) -> Value {
        self.endpoint.run(line, invoker).await
    }

    async fn jobs(&self) -> u64 {
        self.queue.len(QueueKind::Channel).await.expect("queue")
    }
}

fn admin() -> Invoker {
    Invoker { guild_id: Some(GUILD), ..Invoker::default() }
}

fn ephemeral_text(answer: &Value) -> String {
    assert_eq!((answer["type"].as_u64(), answer["data"]["flags"].as_u64()), (Some(4), Some(64)), "{answer}");
    answer["data"]["content"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn bad_channel_requests_get_a_clear_ephemeral_answer_and_change_nothing() {
    let endpoint = endpoint();
    let cases: Vec<(String, Invoker, &str)> = vec![
        ("/channel create name:event:999".into(), admin(), "There is no event:999"),
        ("/channel create name:\"   \"".into(), admin(), "1 to 100 characters"),
        (format!("/channel create name:{}", "x".repeat(101)), admin(), "has 101"),
        ("/channel create name:\"!!!\"".into(), admin(), "can't be a channel name"),
        ("/channel create name:demo".into(), Invoker { guild_id: None, ..admin() }, "inside a server"),
        ("/channel create name:demo".into(), Invoker { permissions: 1 << 11, ..admin() }, "Manage Channels"),
        // Manage Channels from an overwrite on this one channel: not enough to create server-wide.
        ("/channel create name:demo".into(), Invoker { permissions: 1 << 4, ..admin() }, "Manage Server"),
        ("/channel archive".into(), admin(), "isn't managed by Guildbridge"),
        ("/channel info".into(), admin(), "isn't managed by Guildbridge"),
    ];
    for (line, invoker, expected) in cases {
        let text = ephemeral_text(&endpoint.run(&line, &invoker).await);
        assert!(text.contains(expected), "{line}: {text}");
    }
    assert_eq!(endpoint.jobs().await, 0, "no job was enqueued");
    let guild = Id::new(GUILD);
    assert_eq!(endpoint.store.search_subjects(guild, "", 25).await.map(|s| s.len()), Ok(0), "no subject was written");
}

#[tokio::test]
async fn channel_create_defers_and_enqueues_once_per_interaction() {
    let endpoint = endpoint();
    let interaction =
        fake_discord::command("/channel create name:\"Race Night\"", &manifest(), &admin(), 4242).expect("line");
    for _ in 0..3 {
        let answer = endpoint.send(interaction.clone()).await;
        assert_eq!((answer["type"].as_u64(), answer["data"]["flags"].as_u64()), (Some(5), Some(64)), "{answer}");
    }
    assert_eq!(endpoint.jobs().await, 1, "the same interaction, delivered three times, is one job");
    let subject = endpoint.store.subject(Id::new(GUILD), &SubjectRef::new(SubjectKind::Adhoc, "race-night")).await;
    assert_eq!(subject.expect("read").map(|s| s.name), Some("Race Night".to_owned()));

    let again =
        fake_discord::command("/channel create name:\"Race Night\"", &manifest(), &admin(), 4243).expect("line");
    endpoint.send(again).await;
    assert_eq!(endpoint.jobs().await, 2, "someone else asking is answered too (the worker finds the channel made)");
}

fn race(id: &str, name: &str, starts_at: u64, signup: Option<&str>) -> Subject {
    Subject {
        signups: None,
        relay: None,
        subject: SubjectRef::new(SubjectKind::Event, id),
        name: name.to_owned(),
        fields: Default::default(),
        signup_url: signup.map(str::to_owned),
        starts_at: Some(starts_at),
        discord_user_id: None,
        ends_at: None,
    }
}

#[tokio::test]
async fn events_and_signup_answer_from_the_store_with_autocomplete() {
    let endpoint = endpoint();
    let guild = Id::new(GUILD);
    let soon = fake_discord::unix_now() + 3600;
    endpoint
        .store
        .upsert_subject(guild, &race("1", "Spa 24 Hours", soon, Some("https://club.example/spa")))
        .await
        .unwrap();
    endpoint.store.upsert_subject(guild, &race("2", "Sebring 12", soon + 60, None)).await.unwrap();
    endpoint.store.upsert_subject(guild, &race("3", "Spa Sprint", 1_000, None)).await.unwrap();
    for n in 0..30 {
        endpoint
            .store
            .upsert_subject(guild, &race(&format!("s{n}"), &format!("Spa practice {n}"), soon, None))
            .await
            .unwrap();
    }

    let events = ephemeral_text(&endpoint.run("/events", &admin()).await);
    assert!(events.starts_with("Upcoming events:") && events.contains("**Spa 24 Hours**"), "{events}");
    assert!(
        events.contains("[sign up](https://club.example/spa)") && !events.contains("Spa Sprint"),
        "past events are left out: {events}"
    );

    let signup = endpoint.run("/signup event:event:1", &admin()).await;
    assert!(ephemeral_text(&signup).contains("https://club.example/spa"));
    assert_eq!(signup["data"]["components"][0]["components"][0]["url"], "https://club.example/spa");
    assert!(ephemeral_text(&endpoint.run("/signup event:event:2", &admin()).await).contains("no sign-up link"));
    assert!(ephemeral_text(&endpoint.run("/signup event:event:404", &admin()).await).contains("No such event"));

    let mut typing =
        fake_discord::command("/signup event:spa", &manifest(), &admin(), fake_discord::new_snowflake()).expect("line");
    typing["type"] = json!(4);
    typing["data"]["options"][0]["focused"] = json!(true);
    let suggestions = endpoint.send(typing).await;
    assert_eq!(suggestions["type"], 8, "{suggestions}");
    let choices = suggestions["data"]["choices"].as_array().expect("choices");
    assert_eq!(choices.len(), 25, "at most 25 suggestions");
    assert!(
        choices.iter().all(|c| c["name"].as_str().unwrap_or_default().to_lowercase().starts_with("spa")),
        "{choices:?}"
    );
    assert!(!choices.iter().any(|c| c["name"] == "Sebring 12"));
}

/// The `@original` answer of the interaction behind `token`, as the sandbox holds it.
fn original_answer(sandbox: &discord_sandbox::Sandbox, token: &str) -> Value {
    sandbox
        .with_world(|world| world.interactions.get(token).and_then(|i| i.original.clone()))
        .expect("@original edited")
}

/// A signed state with one character changed: what a client that edits the button sends.
fn tampered(custom_id: &str) -> String {
    let mut chars: Vec<char> = custom_id.chars().collect();
    let last = chars.len() - 1;
    chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[tokio::test]
async fn a_failed_channel_create_offers_retry_which_works_once_fixed_and_a_tampered_button_is_refused() {
    let (backends, queue) = Backends::in_memory().expect("backends");
    let endpoint = Endpoint::new(&backends);
    let sandbox = stack::sandbox(discord_sandbox::RateLimits::generous(), GUILD, stack::ADMIN).await;
    for n in 0..500u64 {
        stack::existing_text_channel(&sandbox, GUILD, &format!("existing-{n}"));
    }
    let worker =
        wiring::channel_worker(backends.store.clone(), &stack::discord_config(&sandbox), &stack::worker_config(5, 120))
            .expect("worker");
    let work = || {
        Consumer::new(&queue, QueueKind::Channel, &worker, backends.store.as_ref())
            .limits(5, Duration::from_secs(60))
            .work_one()
    };
    let with_token = |mut interaction: Value, token: &str| {
        interaction["token"] = json!(token);
        interaction
    };

    // The guild is full: the worker says so, with a Retry button carrying the subject.
    let token = sandbox.issue_interaction_token(stack::APPLICATION_ID);
    let create =
        fake_discord::command("/channel create name:\"Race Night\"", &manifest(), &admin(), 5001).expect("line");
    assert_eq!(endpoint.send(with_token(create, &token)).await["type"], 5, "deferred");
    assert_eq!(work().await.expect("worked"), Some(JobOutcome::Done), "a permanent error is not retried");
    let failed = original_answer(&sandbox, &token);
    let text = failed["content"].as_str().unwrap_or_default();
    assert!(text.contains("Couldn't create the channel") && text.contains("500 channels"), "{text}");
    let button = &failed["components"][0]["components"][0];
    assert_eq!((button["type"].as_u64(), button["label"].as_str()), (Some(2), Some("Retry")), "{failed}");
    let custom_id = button["custom_id"].as_str().expect("custom_id").to_owned();

    // A tampered button, or one clicked by a member who may not create channels: an
    // ephemeral refusal, and nothing is queued.
    let forged = fake_discord::button_click(&admin(), 5002, &tampered(&custom_id), failed.clone());
    assert!(ephemeral_text(&endpoint.send(forged).await).contains("not valid any more"));
    let member = Invoker { permissions: 1 << 11, ..admin() };
    let not_allowed = fake_discord::button_click(&member, 5003, &custom_id, failed.clone());
    assert!(ephemeral_text(&endpoint.send(not_allowed).await).contains("Manage Server"));
    assert_eq!(queue.len(QueueKind::Channel).await.expect("queue"), 0, "refused clicks queue nothing");

    // The admin makes room and clicks Retry: the channel is made, and the click's answer links it.
    sandbox.with_world(|world| {
        let full = world.guild_channels(GUILD).find(|c| c.name == "existing-0").map(|c| c.id).expect("a channel");
        world.channels.remove(&full);
    });
    let retry_token = sandbox.issue_interaction_token(stack::APPLICATION_ID);
    let retry = fake_discord::button_click(&admin(), 5004, &custom_id, failed);
    assert_eq!(endpoint.send(with_token(retry, &retry_token)).await["type"], 5, "deferred");
    assert_eq!(work().await.expect("worked"), Some(JobOutcome::Done));
    let made = original_answer(&sandbox, &retry_token);
    let channel = sandbox
        .with_world(|world| world.guild_channels(GUILD).find(|c| c.name == "race-night").map(|c| c.id))
        .expect("the channel exists now");
    let text = made["content"].as_str().unwrap_or_default();
    assert!(text.contains(&format!("Created <#{channel}>")), "{text}");
    let mapping = backends.store.mapping(Id::new(GUILD), &SubjectRef::new(SubjectKind::Adhoc, "race-night")).await;
    assert_eq!(mapping.expect("read").map(|m| m.status), Some(MappingStatus::Active));
}

#[tokio::test]
async fn a_sync_asked_for_while_another_runs_shows_that_run_on_a_button() {
    let endpoint = endpoint();
    let first = endpoint.run("/sync", &admin()).await;
    assert_eq!(first["type"], 5, "the first /sync is deferred to its worker: {first}");
    let second = endpoint.run("/sync", &admin()).await;
    assert!(ephemeral_text(&second).contains("already running"), "{second}");
    let button = &second["data"]["components"][0]["components"][0];
    assert_eq!(button["label"], "Show run", "{second}");
    let custom_id = button["custom_id"].as_str().expect("custom_id");

    let message = json!({
        "id": "1100000000000000501", "channel_id": admin().channel_id.to_string(), "type": 0,
        "content": second["data"]["content"], "timestamp": "2026-12-01T00:00:00.000000+00:00",
        "edited_timestamp": null, "tts": false, "mention_everyone": false, "mentions": [],
        "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "flags": 64,
        "components": second["data"]["components"],
        "author": { "id": admin().application_id.to_string(), "username": "guildbridge", "discriminator": "0", "avatar": null, "bot": true },
    });
    let shown = endpoint.send(fake_discord::button_click(&admin(), 6001, custom_id, message.clone())).await;
    assert!(ephemeral_text(&shown).contains("The member sync is running"), "{shown}");
    let forged = fake_discord::button_click(&admin(), 6002, &tampered(custom_id), message);
    assert!(ephemeral_text(&endpoint.send(forged).await).contains("not valid any more"));
}

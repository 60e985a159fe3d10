//! `/channel`, `/events` and `/signup` through the interaction service with the embedded
//! store and queue: bad input gets a clear ephemeral answer and changes nothing; good input
//! enqueues one job per interaction and answers from the store.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use e2e::endpoint::Endpoint;
use guildbridge_core::{
    domain::{QueueKind, Subject, SubjectKind, SubjectRef},
    host::wiring::Backends,
    interactions::commands::manifest,
    queue::embedded::EmbeddedQueue,
    store::DomainStore,
    test_support::interactions::{self as fake_discord, Invoker},
};
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
        subject: SubjectRef::new(SubjectKind::Event, id),
        name: name.to_owned(),
        fields: Default::default(),
        signup_url: signup.map(str::to_owned),
        starts_at: Some(starts_at),
        discord_user_id: None,
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

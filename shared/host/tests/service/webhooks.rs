//! Two-way messaging, in process on the embedded store and queue, with the sandbox playing
//! Discord and a receiver on loopback playing the platform: the webhook endpoint's API
//! (secret shown once, bad input refused), signed deliveries retried until the receiver
//! recovers, given up on (dead letter, endpoint paused) when it never does, tenants kept
//! apart, the relay with two pollers at once, replies, the Message Content intent, a lead's
//! account let into the channel, and invites.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, http::Method};
use base64::Engine;
use discord_sandbox::{GuildSeed, RateLimits, Sandbox, SandboxConfig};
use guildbridge_core::{
    channels::ChannelWorker,
    clock::ManualClock,
    discord::{
        custom_id::StateKey,
        rest::{BotToken, DiscordClient},
    },
    domain::{QueueKind, RetrySchedule, TargetPolicy, Tenant, TenantId},
    queue::embedded::EmbeddedQueue,
    relay::RelayPoller,
    store::{Store, embedded::EmbeddedItems},
    webhooks::{HttpSender, WebhookWorker},
    worker::{Attempt, Consumer, JobHandler, JobOutcome},
};
use guildbridge_host::wiring::Backends;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use twilight_model::id::Id;

use super::tenant_api::{APPLICATION, GUILD_A, GUILD_B, api_router, call};

const BOT_TOKEN: &str = "webhook-tests-bot-token";
const LEAD_USER: u64 = 1_200_000_000_000_030_000;
const OTHER_USER: u64 = 1_200_000_000_000_030_001;

/// One delivery as the receiver got it.
#[derive(Debug, Clone)]
struct Delivery {
    id: String,
    timestamp: String,
    signature: String,
    raw: Vec<u8>,
}

impl Delivery {
    fn body(&self) -> Value {
        serde_json::from_slice(&self.raw).unwrap_or(Value::Null)
    }

    /// Checks the signature the way a receiver would (HMAC-SHA256 written out here, not
    /// Guildbridge's signer): true when one of the `v1,` signatures matches `secret`.
    fn verifies(&self, secret: &str) -> bool {
        let engine = base64::engine::general_purpose::STANDARD;
        let key = engine.decode(secret.trim_start_matches("whsec_")).expect("key");
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("hmac");
        mac.update(format!("{}.{}.", self.id, self.timestamp).as_bytes());
        mac.update(&self.raw);
        let expected = format!("v1,{}", engine.encode(mac.finalize().into_bytes()));
        self.signature.split(' ').any(|signature| signature == expected)
    }
}

/// The platform's receiver: records what came, answers 500 while `failures` is above 0.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Delivery>>>,
    failures: Arc<AtomicUsize>,
    url: String,
}

impl Receiver {
    async fn start() -> Self {
        let mut receiver = Receiver::default();
        let state = receiver.clone();
        let app = Router::new().route(
            "/hooks",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let state = state.clone();
                async move {
                    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    state.got.lock().unwrap().push(Delivery {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signature: header("webhook-signature"),
                        raw: body.to_vec(),
                    });
                    let failing = state.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
                    if failing.is_ok() {
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        axum::http::StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        receiver.url = format!("http://{}/hooks", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    fn of_type(&self, kind: &str) -> Vec<Delivery> {
        self.got.lock().unwrap().iter().filter(|d| d.body()["type"] == kind).cloned().collect()
    }
}

struct Club {
    sandbox: Sandbox,
    backends: Backends,
    queue: EmbeddedQueue,
    clock: ManualClock,
    router: Router,
    key_a: String,
    key_b: String,
    channels: ChannelWorker,
    webhooks: WebhookWorker,
    relay: RelayPoller,
}

impl Club {
    async fn new() -> Self {
        let openapi = std::env::var_os("DISCORD_OPENAPI_PATH").map(std::path::PathBuf::from);
        let sandbox =
            Sandbox::start(SandboxConfig::new(BOT_TOKEN, openapi, RateLimits::generous()), ([127, 0, 0, 1], 0).into())
                .await
                .expect("sandbox");
        for (id, first) in [(GUILD_A, LEAD_USER), (GUILD_B, 1_200_000_000_000_040_000)] {
            sandbox.seed_guild(GuildSeed {
                id,
                name: "Club".to_owned(),
                bot_permissions: 1 << 3,
                roles: vec![],
                members: 3,
                first_member_id: first,
                bot_every: None,
            });
        }
        let clock = ManualClock::starting_at(1_800_000_000);
        let shared_clock: guildbridge_core::clock::SharedClock = Arc::new(clock.clone());
        let queue = EmbeddedQueue::in_memory().expect("queue").with_clock(shared_clock.clone());
        let backends =
            Backends::over(Arc::new(Store::new(EmbeddedItems::in_memory().expect("store"))), Arc::new(queue.clone()));
        let mut keys = Vec::new();
        for (tenant, guild) in [("crm-a", GUILD_A), ("crm-b", GUILD_B)] {
            let tenant_id = TenantId::from(tenant);
            let record = Tenant { tenant_id: tenant_id.clone(), allowed_origins: vec![], created_at: 1 };
            backends.store.create_tenant(&record).await.expect("tenant");
            backends.store.connect(&tenant_id, Id::new(guild), "Club", 1).await.expect("connect");
            keys.push(backends.store.issue_api_key(&tenant_id, 1).await.expect("key").secret);
        }
        let router =
            api_router(&backends, shared_clock.clone(), &sandbox.base_url(), TargetPolicy { allow_loopback: true });
        let discord =
            DiscordClient::new(sandbox.base_url().parse().expect("url"), BotToken::new(BOT_TOKEN)).expect("client");
        let state_key = StateKey::new(b"webhook-tests-state-key-32-bytes").expect("key");
        let channels = ChannelWorker::new(backends.store.clone(), discord.clone(), Id::new(APPLICATION), state_key)
            .with_events(backends.outbox.clone())
            .with_clock(shared_clock.clone());
        let webhooks = WebhookWorker::new(
            backends.store.clone(),
            Arc::new(HttpSender::new(TargetPolicy { allow_loopback: true }).expect("sender")),
            TargetPolicy { allow_loopback: true },
        )
        .with_schedule(RetrySchedule::parse("1,1,1").expect("schedule"))
        .with_clock(shared_clock.clone());
        let relay = RelayPoller::new(backends.store.clone(), discord, backends.outbox.clone(), Id::new(APPLICATION))
            .with_clock(shared_clock);
        let key_b = keys.pop().expect("b");
        let key_a = keys.pop().expect("a");
        Self { sandbox, backends, queue, clock, router, key_a, key_b, channels, webhooks, relay }
    }

    async fn api(&self, method: Method, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
        let answer = call(&self.router, method, path, Some(key), body).await;
        (answer.status, answer.json())
    }

    /// Runs one queue's visible jobs until none is left; their outcomes.
    async fn drain(&self, kind: QueueKind) -> Vec<JobOutcome> {
        let handler: &dyn JobHandler = match kind {
            QueueKind::Webhook => &self.webhooks,
            _ => &self.channels,
        };
        let mut outcomes = Vec::new();
        while let Some(outcome) = Consumer::new(&self.queue, kind, handler, self.backends.ledger.as_ref())
            .limits(12, Duration::from_secs(30))
            .work_one()
            .await
            .expect("queue")
        {
            outcomes.push(outcome);
        }
        outcomes
    }

    /// A webhook endpoint for the tenant; its secret.
    async fn subscribe(&self, key: &str, receiver: &Receiver, events: &[&str]) -> String {
        let (status, body) =
            self.api(Method::PUT, "/v1/webhook", key, Some(json!({ "url": receiver.url, "events": events }))).await;
        assert_eq!(status, 201, "{body}");
        body["secret"].as_str().expect("the secret, shown once").to_owned()
    }

    /// `lead:{id}` with its Discord user, and its channel made; the text channel's id.
    async fn lead_channel(&self, key: &str, id: &str, user: u64) -> u64 {
        let subject = json!({ "name": format!("Lead {id}"), "discord_user_id": user.to_string() });
        let (status, body) = self.api(Method::PUT, &format!("/v1/subjects/lead/{id}"), key, Some(subject)).await;
        assert!(status == 201 || status == 200, "{body}");
        let (status, body) = self.api(Method::POST, &format!("/v1/subjects/lead/{id}/channel"), key, None).await;
        assert_eq!(status, 202, "{body}");
        self.drain(QueueKind::Channel).await;
        let (_, subject) = self.api(Method::GET, &format!("/v1/subjects/lead/{id}"), key, None).await;
        subject["channel"]["text_channel_id"].as_str().and_then(|id| id.parse().ok()).expect("a text channel")
    }
}

#[tokio::test]
async fn a_channel_event_is_signed_and_a_receiver_that_fails_three_times_gets_it_once_more_after() {
    let club = Club::new().await;
    let receiver = Receiver::start().await;
    let secret = club.subscribe(&club.key_a, &receiver, &["subject.channel.created", "message.received"]).await;
    let (_, shown) = club.api(Method::GET, "/v1/webhook", &club.key_a, None).await;
    assert!(shown.get("secret").is_none(), "the secret is shown once: {shown}");

    receiver.failures.store(3, Ordering::SeqCst);
    let channel = club.lead_channel(&club.key_a, "7", LEAD_USER).await;
    for _ in 0..6 {
        club.drain(QueueKind::Webhook).await;
        club.clock.advance(2);
    }
    let created = receiver.of_type("subject.channel.created");
    assert_eq!(created.len(), 4, "three 500s, then the delivery that counts");
    assert!(created.iter().all(|d| d.id == created[0].id), "every try has the same webhook-id");
    assert!(created.iter().all(|d| d.verifies(&secret)), "signed with the tenant's secret");
    let body = created[3].body();
    assert_eq!(body["subject"], "lead:7");
    assert_eq!(body["tenant_id"], "crm-a");
    assert_eq!(body["data"]["channels"]["text"], channel.to_string());
    assert_eq!(body["id"], created[0].id);

    let (_, log) = club.api(Method::GET, "/v1/webhook/deliveries", &club.key_a, None).await;
    let outcomes: Vec<&str> = log["items"].as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["delivered", "failed", "failed", "failed"], "most recent first: {log}");
    assert_eq!(log["items"][1]["status"], 500);

    // The same channel asked for again: the event's id is the same, and it is not delivered twice.
    club.api(Method::POST, "/v1/subjects/lead/7/channel", &club.key_a, None).await;
    club.drain(QueueKind::Channel).await;
    club.drain(QueueKind::Webhook).await;
    assert_eq!(receiver.of_type("subject.channel.created").len(), 4);
}

#[tokio::test]
async fn a_receiver_that_never_recovers_ends_in_the_dead_letters_and_its_endpoint_is_paused() {
    let club = Club::new().await;
    let receiver = Receiver::start().await;
    club.subscribe(&club.key_a, &receiver, &["subject.channel.created"]).await;
    receiver.failures.store(usize::MAX, Ordering::SeqCst);
    club.lead_channel(&club.key_a, "8", LEAD_USER).await;
    for _ in 0..6 {
        club.drain(QueueKind::Webhook).await;
        club.clock.advance(2);
    }
    assert_eq!(receiver.of_type("subject.channel.created").len(), 4, "the first try and three retries");
    let letters = club.backends.store.dead_letters(Some(Id::new(GUILD_A)), 10).await.expect("dead letters");
    let letter =
        letters.iter().find(|letter| letter.job_type == "deliver_webhook").expect("the delivery's dead letter");
    assert!(letter.reason.contains("gave up after 4 attempts") && letter.reason.contains("500"), "{}", letter.reason);
    let (_, endpoint) = club.api(Method::GET, "/v1/webhook", &club.key_a, None).await;
    assert!(endpoint["paused"]["reason"].as_str().is_some_and(|r| r.contains("gave up")), "{endpoint}");

    // Paused: a test event is given up on at once, not sent.
    club.api(Method::POST, "/v1/webhook/test", &club.key_a, None).await;
    club.drain(QueueKind::Webhook).await;
    assert!(receiver.of_type("webhook.test").is_empty());
    // Resumed and recovered: the dead letter's retry delivers, under the same id.
    receiver.failures.store(0, Ordering::SeqCst);
    let (status, resumed) = club.api(Method::POST, "/v1/webhook/resume", &club.key_a, None).await;
    assert_eq!((status, resumed["paused"].clone()), (200, Value::Null));
    let id = letter.id();
    let (status, _) = club.api(Method::POST, &format!("/v1/dead-letters/{id}/retry"), &club.key_a, None).await;
    assert_eq!(status, 202);
    club.drain(QueueKind::Webhook).await;
    let created = receiver.of_type("subject.channel.created");
    assert_eq!(created.len(), 5);
    assert_eq!(created[4].id, created[0].id);
}

#[tokio::test]
async fn tenant_b_never_receives_tenant_a_events() {
    let club = Club::new().await;
    let (a, b) = (Receiver::start().await, Receiver::start().await);
    let everything = ["subject.channel.created", "message.received", "member.linked"];
    club.subscribe(&club.key_a, &a, &everything).await;
    club.subscribe(&club.key_b, &b, &everything).await;
    let channel = club.lead_channel(&club.key_a, "9", LEAD_USER).await;
    let (status, _) = club
        .api(Method::PUT, "/v1/links/user-1", &club.key_a, Some(json!({ "discord_user_id": LEAD_USER.to_string() })))
        .await;
    assert_eq!(status, 201);
    club.sandbox.post_as(channel, LEAD_USER, "hello", None).expect("posted");
    club.relay.pass(true, tokio::time::Instant::now() + Duration::from_secs(10)).await.expect("pass");
    club.drain(QueueKind::Webhook).await;
    assert_eq!(a.got.lock().unwrap().len(), 3, "created, linked, received");
    assert!(b.got.lock().unwrap().is_empty(), "tenant B's endpoint hears nothing of tenant A");
    // And B cannot address A's subject.
    let (status, _) =
        club.api(Method::POST, "/v1/subjects/lead/9/messages", &club.key_b, Some(json!({ "content": "hi" }))).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn two_pollers_at_once_relay_each_message_once_attributed_and_the_reply_lands_as_a_reply() {
    let club = Club::new().await;
    let receiver = Receiver::start().await;
    club.subscribe(&club.key_a, &receiver, &["message.received"]).await;
    let channel = club.lead_channel(&club.key_a, "7", LEAD_USER).await;
    club.api(
        Method::PUT,
        "/v1/links/crm-user-7",
        &club.key_a,
        Some(json!({ "discord_user_id": LEAD_USER.to_string() })),
    )
    .await;
    let first = club.sandbox.post_as(channel, LEAD_USER, "Hi, about the quote", None).expect("posted");
    club.sandbox.post_as(channel, OTHER_USER, "I'm their colleague", None).expect("posted");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let (one, two) = tokio::join!(club.relay.pass(true, deadline), club.relay.pass(true, deadline));
    assert_eq!(one.expect("pass").relayed + two.expect("pass").relayed, 2, "the two messages, by one poller");
    // A second round after the claim's lease: the cursor has moved, nothing is emitted again.
    club.clock.advance(120);
    let (one, two) = tokio::join!(club.relay.pass(true, deadline), club.relay.pass(true, deadline));
    assert_eq!(one.expect("pass").relayed + two.expect("pass").relayed, 0);
    club.drain(QueueKind::Webhook).await;
    let received = receiver.of_type("message.received");
    assert_eq!(received.len(), 2, "each message once");
    let lead = received[0].body();
    assert_eq!(lead["data"]["message_id"], first);
    assert_eq!(lead["platform_user"], "crm-user-7");
    assert_eq!(lead["data"]["from_subject_user"], true);
    assert_eq!(lead["data"]["content"], "Hi, about the quote");
    assert_eq!(received[1].body()["data"]["from_subject_user"], false);
    let (_, subject) = club.api(Method::GET, "/v1/subjects/lead/7", &club.key_a, None).await;
    assert!(subject["discord_user"]["joined_conversation_at"].is_u64(), "{subject}");
    assert_eq!(subject["discord_user"]["linked_platform_user"], "crm-user-7");

    let reply = json!({ "content": "Thanks! Here it is.", "reply_to": first });
    let (status, body) = club.api(Method::POST, "/v1/subjects/lead/7/messages", &club.key_a, Some(reply)).await;
    assert_eq!(status, 202, "{body}");
    club.drain(QueueKind::Channel).await;
    let posted = club.sandbox.with_world(|world| world.messages[&channel].last().cloned()).expect("a message");
    assert_eq!(posted["content"], "Thanks! Here it is.");
    assert_eq!(posted["message_reference"]["message_id"], first, "a reply to the lead's message");
    // The bot's own reply is not relayed back.
    club.clock.advance(120);
    club.relay.pass(true, deadline).await.expect("pass");
    club.drain(QueueKind::Webhook).await;
    assert_eq!(receiver.of_type("message.received").len(), 2);
}

#[tokio::test]
async fn without_the_message_content_intent_the_tenant_is_told_and_mentions_still_relay_their_content() {
    let club = Club::new().await;
    let receiver = Receiver::start().await;
    club.subscribe(&club.key_a, &receiver, &["message.received"]).await;
    let channel = club.lead_channel(&club.key_a, "7", LEAD_USER).await;
    let (_, tenant) = club.api(Method::GET, "/v1/tenant", &club.key_a, None).await;
    assert_eq!(tenant["message_content_intent"], "unknown");
    club.sandbox.set_message_content_intent(false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let status = club.relay.check_intents(deadline).await.expect("intents");
    assert!(!status.message_content);
    let (_, tenant) = club.api(Method::GET, "/v1/tenant", &club.key_a, None).await;
    assert_eq!(tenant["message_content_intent"], "missing");

    club.sandbox.post_as(channel, LEAD_USER, "a plain message", None).expect("posted");
    club.sandbox.post_as(channel, LEAD_USER, &format!("<@{APPLICATION}> can you help?"), None).expect("posted");
    club.relay.pass(false, deadline).await.expect("pass");
    club.drain(QueueKind::Webhook).await;
    let received = receiver.of_type("message.received");
    assert_eq!(received.len(), 2, "both messages are relayed, as facts at least");
    assert_eq!(received[0].body()["data"]["content"], "");
    assert_eq!(received[0].body()["data"]["content_withheld"], true);
    assert_eq!(received[1].body()["data"]["content"], format!("<@{APPLICATION}> can you help?"));
    assert_eq!(received[1].body()["data"]["content_withheld"], false);
}

#[tokio::test]
async fn a_new_discord_account_is_let_into_the_channel_and_the_old_one_out() {
    let club = Club::new().await;
    let channel = club.lead_channel(&club.key_a, "7", LEAD_USER).await;
    let overwrites = |club: &Club| -> Vec<String> {
        club.sandbox.with_world(|world| {
            world.channels[&channel].overwrites.iter().filter_map(|o| o["id"].as_str().map(str::to_owned)).collect()
        })
    };
    assert!(overwrites(&club).contains(&LEAD_USER.to_string()));
    let moved = json!({ "name": "Lead 7", "discord_user_id": OTHER_USER.to_string() });
    let (status, _) = club.api(Method::PUT, "/v1/subjects/lead/7", &club.key_a, Some(moved.clone())).await;
    assert_eq!(status, 200);
    club.drain(QueueKind::Channel).await;
    // Delivered twice: the overwrites are the same.
    club.backends
        .queue
        .enqueue(&guildbridge_core::domain::Job::UpdateSubjectAccess {
            guild_id: Id::new(GUILD_A),
            subject: guildbridge_core::domain::SubjectRef::parse("lead:7").expect("subject"),
            add: Some(Id::new(OTHER_USER)),
            remove: Some(Id::new(LEAD_USER)),
        })
        .await
        .expect("enqueue");
    club.drain(QueueKind::Channel).await;
    let now = overwrites(&club);
    assert!(now.contains(&OTHER_USER.to_string()), "{now:?}");
    assert!(!now.contains(&LEAD_USER.to_string()), "{now:?}");
    let (_, subject) = club.api(Method::GET, "/v1/subjects/lead/7", &club.key_a, None).await;
    assert_eq!(subject["discord_user"]["id"], OTHER_USER.to_string());
    assert_eq!(subject["discord_user"]["in_guild"], Value::Null, "no member sync has run");

    let (status, accepted) = club.api(Method::POST, "/v1/subjects/lead/7/invite", &club.key_a, None).await;
    assert_eq!(status, 202, "{accepted}");
    club.drain(QueueKind::Channel).await;
    let job = accepted["job"]["id"].as_str().expect("job id");
    let (_, record) = club.api(Method::GET, &format!("/v1/jobs/{job}"), &club.key_a, None).await;
    assert_eq!(record["status"], "done", "{record}");
    assert!(record["result"]["url"].as_str().is_some_and(|url| url.starts_with("https://discord.gg/")), "{record}");
    assert_eq!(club.sandbox.with_world(|world| world.invites[0]["max_uses"].clone()), 1);
    let (status, _) = club.api(Method::POST, "/v1/subjects/lead/404/invite", &club.key_a, None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_bad_endpoint_is_refused_with_every_problem_named_and_nothing_stored() {
    let club = Club::new().await;
    let strict =
        api_router(&club.backends, Arc::new(club.clock.clone()), &club.sandbox.base_url(), TargetPolicy::default());
    let body = json!({ "url": "http://127.0.0.1:9/hooks", "events": ["message.received", "lead.teleported"] });
    let answer = call(&strict, Method::PUT, "/v1/webhook", Some(&club.key_a), Some(body)).await;
    assert_eq!(answer.status, 422, "{}", answer.text);
    let errors = &answer.json()["errors"];
    assert!(errors["url"].is_string() && errors["events[1]"].is_string(), "{errors}");
    let answer = call(
        &strict,
        Method::PUT,
        "/v1/webhook",
        Some(&club.key_a),
        Some(json!({ "url": "https://crm.example/", "events": [] })),
    )
    .await;
    assert_eq!(answer.status, 422);
    assert_eq!(call(&strict, Method::GET, "/v1/webhook", Some(&club.key_a), None).await.status, 404, "nothing stored");
    assert_eq!(call(&strict, Method::POST, "/v1/webhook/test", Some(&club.key_a), None).await.status, 404);
}

#[tokio::test]
async fn a_channel_the_bot_can_no_longer_read_is_parked_with_its_reason_and_never_polled_again() {
    let club = Club::new().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let kicked = club.lead_channel(&club.key_a, "gone", LEAD_USER).await;
    let healthy = club.lead_channel(&club.key_a, "fine", LEAD_USER).await;
    let first = club.relay.pass(true, deadline).await.expect("pass");
    assert_eq!((first.due, first.checked, first.parked), (1, 1, 0), "one guild, one list: {first:?}");

    // The channel is deleted in Discord (or the bot kicked from it): it leaves the guild's
    // list, is read on its own, and answers 404 Unknown Channel.
    club.sandbox.with_world(|world| world.channels.remove(&kicked));
    club.sandbox.post_as(healthy, LEAD_USER, "still here", None).expect("posted");
    club.clock.advance(120);
    let second = club.relay.pass(true, deadline).await.expect("pass");
    assert_eq!((second.polled, second.parked, second.relayed), (1, 1, 1), "{second:?}");
    let (_, subject) = club.api(Method::GET, "/v1/subjects/lead/gone", &club.key_a, None).await;
    let reason = subject["relay_parked"].as_str().unwrap_or_default();
    assert!(reason.contains("relaying stopped") && reason.contains("no longer exists"), "{subject}");
    let (_, fine) = club.api(Method::GET, "/v1/subjects/lead/fine", &club.key_a, None).await;
    assert!(fine.get("relay_parked").is_none(), "{fine}");

    // From then on the guild's list is read and nothing else: the parked channel costs
    // Discord nothing, and the quiet one is not read until it changes.
    let reads = |club: &Club| {
        club.sandbox.requests().iter().filter(|r| r.template == "/channels/{channel_id}/messages").count()
    };
    let before = reads(&club);
    for _ in 0..3 {
        club.clock.advance(120);
        let later = club.relay.pass(true, deadline).await.expect("pass");
        assert_eq!((later.checked, later.polled, later.parked), (1, 0, 0), "{later:?}");
    }
    assert_eq!(reads(&club), before, "no channel read while nothing changed");
}

#[tokio::test]
async fn a_guild_the_bot_was_removed_from_has_every_relayed_channel_parked() {
    let club = Club::new().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    club.lead_channel(&club.key_a, "1", LEAD_USER).await;
    club.lead_channel(&club.key_a, "2", LEAD_USER).await;
    club.sandbox.with_world(|world| world.guilds.remove(&GUILD_A));
    let pass = club.relay.pass(true, deadline).await.expect("pass");
    assert_eq!((pass.due, pass.checked, pass.parked), (1, 0, 2), "{pass:?}");
    let (_, subject) = club.api(Method::GET, "/v1/subjects/lead/2", &club.key_a, None).await;
    assert!(subject["relay_parked"].as_str().is_some_and(|reason| reason.contains("relaying stopped")), "{subject}");
    club.clock.advance(600);
    let after = club.relay.pass(true, deadline).await.expect("pass");
    assert_eq!(after.due, 0, "the guild is no longer checked: {after:?}");
}

#[tokio::test]
async fn a_delivery_that_could_outlast_the_invocation_is_handed_back_untried() {
    let club = Club::new().await;
    let receiver = Receiver::start().await;
    club.subscribe(&club.key_a, &receiver, &["message.received"]).await;
    let (status, body) = club.api(Method::POST, "/v1/webhook/test", &club.key_a, None).await;
    assert_eq!(status, 202, "{body}");
    let received = club.queue.receive(QueueKind::Webhook, Duration::from_secs(30)).await.expect("queue").expect("job");
    // Five seconds left: less than one delivery's ten.
    let short =
        Attempt { receives: 1, max_receives: 12, deadline: tokio::time::Instant::now() + Duration::from_secs(5) };
    let outcome = club.webhooks.handle(received.job.clone(), short).await;
    let JobOutcome::Retry { reason, .. } = outcome else { panic!("handed back: {outcome:?}") };
    assert!(reason.contains("untried"), "{reason}");
    assert_eq!(receiver.got.lock().unwrap().len(), 0, "nothing was sent");
    let (_, log) = club.api(Method::GET, "/v1/webhook/deliveries", &club.key_a, None).await;
    assert_eq!(log["items"], json!([]), "no attempt counted against the tenant: {log}");
    let enough = Attempt { deadline: tokio::time::Instant::now() + Duration::from_secs(30), ..short };
    assert!(matches!(club.webhooks.handle(received.job, enough).await, JobOutcome::DoneWith(_)));
    assert_eq!(receiver.got.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_disconnected_guilds_channels_are_no_longer_relayed() {
    let club = Club::new().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    club.lead_channel(&club.key_a, "7", LEAD_USER).await;
    assert_eq!(club.relay.pass(true, deadline).await.expect("pass").checked, 1);
    let (status, body) = club.api(Method::DELETE, "/v1/guild", &club.key_a, None).await;
    assert_eq!(status, 202, "{body}");
    club.drain(QueueKind::Channel).await;
    let reference = guildbridge_core::domain::SubjectRef::new(guildbridge_core::domain::SubjectKind::Lead, "7");
    let left = club.backends.store.relayed(Id::new(GUILD_A), &reference).await.expect("read");
    assert_eq!(left, None, "the relay entry is gone with the tenant");
    club.clock.advance(120);
    let after = club.relay.pass(true, deadline).await.expect("pass");
    assert_eq!((after.due, after.checked, after.polled), (0, 0, 0), "nothing of that guild is polled: {after:?}");
}

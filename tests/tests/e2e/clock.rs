//! The clock, through the product's own doors only (the connect flow, the tenant API, the
//! scheduled tick), on moto's DynamoDB and SQS and the sandbox, with the tick's time
//! advanced rather than slept and nothing written to the store by hand: a connected guild
//! syncs without anyone asking, an event is archived once at its end plus retention, and a
//! moved start never posts a reminder or the start message twice.

use std::{sync::Arc, time::Duration};

use discord_sandbox::{GuildSeed, RateLimits};
use e2e::stack::{self, Aws};
use guildbridge_aws::sqs::SqsQueues;
use guildbridge_core::{
    channels::ChannelWorker,
    domain::{QueueKind, Tenant, TenantId},
    sync::SyncWorker,
    tick::run_tick,
    worker::{
        JobHandler,
        lambda::{BatchPolicy, run_batch},
    },
};
use guildbridge_host::{
    provision::Provisioned,
    wiring::{self, Backends},
};
use serde_json::{Value, json};
use tokio::time::Instant;

const GUILD: u64 = 1_100_000_000_000_900_001;
const MEMBER: u64 = 1_100_000_000_000_910_000;
const HOUR: u64 = 3600;
const SEND_MESSAGES: u64 = 1 << 11;

struct Clockwork {
    aws: Aws,
    provisioned: Provisioned,
    backends: Backends,
    queues: SqsQueues,
    api: String,
    http: reqwest::Client,
    key: String,
    sandbox: Arc<discord_sandbox::Sandbox>,
    channels: ChannelWorker,
    syncs: SyncWorker,
}

impl Clockwork {
    /// A tenant as `guildbridge tenant create` makes it (its key, an allowed origin), the web
    /// function's router, the workers, and a guild on the sandbox to connect.
    async fn new() -> Self {
        let aws = Aws::connect();
        let (provisioned, queues, backends) = aws.stack(5).await;
        let seed = GuildSeed {
            id: GUILD,
            name: "Endurance Club".to_owned(),
            bot_permissions: stack::ADMIN,
            roles: vec![],
            members: 6,
            first_member_id: MEMBER,
            bot_every: None,
        };
        let sandbox = stack::sandbox_with(RateLimits::generous(), seed).await;
        let tenant_id = TenantId::from("endurance");
        let origins = vec!["https://club.example".to_owned()];
        let record = Tenant { tenant_id: tenant_id.clone(), allowed_origins: origins, created_at: 1 };
        backends.store.create_tenant(&record).await.expect("tenant");
        let key = backends.store.issue_api_key(&tenant_id, 1).await.expect("key").secret;
        let router = wiring::web_router(&backends, &stack::web_config(&sandbox.base_url())).expect("router");
        let api = stack::serve(router).await;
        let discord = stack::discord_config(&sandbox);
        let channels =
            wiring::channel_worker(backends.store.clone(), &discord, &stack::worker_config(5, 60)).expect("worker");
        let syncs = wiring::sync_worker(&backends, &discord, &stack::worker_config(5, 60)).expect("sync worker");
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { aws, provisioned, backends, queues, api, http, key, sandbox, channels, syncs }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.api)).bearer_auth(&self.key);
        if method == reqwest::Method::PUT && path == "/v1/settings" {
            request = request.header("If-Match", "*");
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("api");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The connect flow as a person goes through it: the platform asks for the link, the
    /// person picks the guild on Discord's page (the sandbox's), Discord sends them to the
    /// callback, they press Connect, and they are sent back to the platform.
    async fn connect(&self) {
        let body = json!({ "return_url": "https://club.example/discord" });
        let (status, started) = self.call(reqwest::Method::POST, "/v1/connect", Some(body)).await;
        assert_eq!(status, 200, "{started}");
        let mut link = url::Url::parse(started["authorize_url"].as_str().expect("link")).expect("url");
        link.query_pairs_mut().append_pair("guild_id", &GUILD.to_string());
        let page = self.http.get(link).send().await.expect("authorize");
        let callback = url::Url::parse(page.headers()["location"].to_str().expect("location")).expect("url");
        let target = format!("{}{}?{}", self.api, callback.path(), callback.query().unwrap_or_default());
        let review = self.http.get(target).send().await.expect("callback").text().await.expect("page");
        let token = stack::connect_confirmation(&review).unwrap_or_else(|| panic!("a Connect button: {review}"));
        let form = url::form_urlencoded::Serializer::new(String::new()).append_pair("confirm", &token).finish();
        let answer = self
            .http
            .post(format!("{}{}", self.api, callback.path()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("confirm");
        let back = answer.headers()["location"].to_str().expect("back to the platform").to_owned();
        assert!(back.starts_with("https://club.example/discord?guildbridge_connect=connected"), "{back}");
    }

    /// A queue's batches handed to its worker, as Lambda's event source does, until empty.
    async fn drain(&self, queue_url: &str, handler: &dyn JobHandler, policy: BatchPolicy) {
        let redelivery = self.queues.redelivery(policy.queue);
        let give_up = Instant::now() + Duration::from_secs(60);
        while self.aws.depth(queue_url).await > 0 && Instant::now() < give_up {
            let batch = self.aws.receive_batch(queue_url, 1).await;
            if batch.records.is_empty() {
                continue;
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            let ledger = self.backends.ledger.as_ref();
            let answer = run_batch(batch.clone(), handler, &redelivery, ledger, policy, deadline).await;
            self.aws.settle_batch(queue_url, &batch, &answer).await;
        }
        assert_eq!(self.aws.depth(queue_url).await, 0, "{queue_url} drained");
    }

    async fn work(&self) {
        let worker = stack::worker_config(5, 60);
        let channel_policy = wiring::batch_policy(QueueKind::Channel, &worker);
        self.drain(&self.provisioned.channel_queue_url, &self.channels, channel_policy).await;
        let sync_policy = wiring::batch_policy(QueueKind::Sync, &worker);
        self.drain(&self.provisioned.sync_queue_url, &self.syncs, sync_policy).await;
        self.drain(&self.provisioned.channel_queue_url, &self.channels, channel_policy).await;
    }

    /// The scheduled tick fires at `now`, twice at once (EventBridge delivers at least once),
    /// and the workers take what it queued.
    async fn tick_twice(&self, now: u64) -> Value {
        let store = self.backends.store.as_ref();
        let queue = self.backends.queue.as_ref();
        let (one, two) = tokio::join!(run_tick(store, queue, now), run_tick(store, queue, now));
        assert_eq!((one.failed(), two.failed()), (vec![], vec![]), "{} {}", one.to_json(), two.to_json());
        self.work().await;
        json!([one.to_json(), two.to_json()])
    }

    async fn runs(&self) -> Vec<Value> {
        let (status, runs) = self.call(reqwest::Method::GET, "/v1/syncs", None).await;
        assert_eq!(status, 200, "{runs}");
        runs["items"].as_array().cloned().unwrap_or_default()
    }

    fn texts(&self, channel: u64) -> Vec<String> {
        self.sandbox.with_world(|w| {
            w.messages
                .get(&channel)
                .into_iter()
                .flatten()
                .filter_map(|m| m["content"].as_str().map(str::to_owned))
                .collect()
        })
    }

    async fn put_event(&self, id: &str, body: Value) -> u64 {
        let (status, answer) = self.call(reqwest::Method::PUT, &format!("/v1/subjects/event/{id}"), Some(body)).await;
        assert!(status == 200 || status == 201, "{answer}");
        self.work().await;
        let (_, subject) = self.call(reqwest::Method::GET, &format!("/v1/subjects/event/{id}"), None).await;
        id_of(&subject["channel"]["text_channel_id"])
    }
}

fn id_of(value: &Value) -> u64 {
    value.as_str().and_then(|text| text.parse().ok()).unwrap_or_else(|| panic!("an id: {value}"))
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

#[tokio::test]
async fn a_connected_guild_syncs_without_anyone_asking_first_at_once_then_every_interval() {
    let world = Clockwork::new().await;
    world.connect().await;
    let connected = now();
    let (_, tenant) = world.call(reqwest::Method::GET, "/v1/tenant", None).await;
    let first_due = tenant["guild"]["next_sync_at"].as_u64().expect("a sync is scheduled at connect");
    assert!(first_due <= connected, "the initial sync is due at once: {tenant}");

    world.tick_twice(connected).await;
    let runs = world.runs().await;
    assert_eq!(runs.len(), 1, "one initial sync, however often the tick fired: {runs:?}");
    assert_eq!((runs[0]["kind"].clone(), runs[0]["status"].clone()), (json!("scheduled"), json!("succeeded")));
    assert!(runs[0]["counts"]["total"].as_u64() >= Some(6), "the guild's members: {runs:?}");
    let (_, tenant) = world.call(reqwest::Method::GET, "/v1/tenant", None).await;
    let next = tenant["guild"]["next_sync_at"].as_u64().expect("next");
    assert_eq!(next, first_due + 24 * HOUR, "then one interval on (24 hours by default)");

    // A shorter interval moves the next sync to one new interval from now.
    let (status, saved) =
        world.call(reqwest::Method::PUT, "/v1/settings", Some(json!({ "sync_interval_hours": 1 }))).await;
    assert_eq!(status, 200, "{saved}");
    let (_, tenant) = world.call(reqwest::Method::GET, "/v1/tenant", None).await;
    let moved = tenant["guild"]["next_sync_at"].as_u64().expect("next");
    assert!(moved <= now() + HOUR && moved >= connected + HOUR, "moved to an hour on: {moved}");

    world.tick_twice(moved - 60).await;
    assert_eq!(world.runs().await.len(), 1, "not due yet");
    world.tick_twice(moved + 5).await;
    let runs = world.runs().await;
    assert_eq!(runs.len(), 2, "the periodic sync: {runs:?}");
    assert!(runs.iter().all(|run| run["kind"] == "scheduled" && run["status"] == "succeeded"), "{runs:?}");

    // Disconnecting removes the schedule: the clock leaves the guild alone.
    assert_eq!(world.call(reqwest::Method::DELETE, "/v1/guild", None).await.0, 202);
    let report = world.tick_twice(moved + 5 * HOUR).await;
    assert_eq!(report[0]["schedule"]["due"], 0, "{report}");
}

#[tokio::test]
async fn an_event_with_teams_is_archived_once_at_its_end_plus_retention() {
    let world = Clockwork::new().await;
    world.connect().await;
    let settings = json!({ "auto_create_channels": true, "team_roles": true, "archive_retention_hours": 2 });
    assert_eq!(world.call(reqwest::Method::PUT, "/v1/settings", Some(settings)).await.0, 200);
    for n in 0..3u64 {
        let body = json!({ "discord_user_id": (MEMBER + n).to_string() });
        assert_eq!(world.call(reqwest::Method::PUT, &format!("/v1/links/driver-{n}"), Some(body)).await.0, 201);
    }
    let starts = now() + 24 * HOUR;
    let ends = starts + 6 * HOUR;
    let channel =
        world.put_event("le-mans", json!({ "name": "Le Mans 6h", "starts_at": starts, "ends_at": ends })).await;
    for (team, members) in [("red", json!(["driver-0", "driver-1"])), ("blue", json!(["driver-2"]))] {
        let body = json!({ "name": format!("Team {team}"), "members": members });
        let path = format!("/v1/subjects/event/le-mans/teams/{team}");
        assert_eq!(world.call(reqwest::Method::PUT, &path, Some(body)).await.0, 201);
    }
    world.work().await;
    let (_, teams) = world.call(reqwest::Method::GET, "/v1/subjects/event/le-mans/teams", None).await;
    let teams = teams.as_array().cloned().expect("teams");
    let threads: Vec<u64> = teams.iter().map(|t| id_of(&t["thread_id"])).collect();
    let roles: Vec<u64> = teams.iter().map(|t| id_of(&t["role_id"])).collect();
    assert_eq!((threads.len(), roles.len()), (2, 2), "{teams:?}");

    // The end: completed, and results are still taken.
    world.tick_twice(ends + 60).await;
    let (_, subject) = world.call(reqwest::Method::GET, "/v1/subjects/event/le-mans", None).await;
    assert_eq!(subject["channel"]["status"], "completed", "{subject}");
    let results = json!({ "content": "Red won, Blue second" });
    assert_eq!(world.call(reqwest::Method::POST, "/v1/subjects/event/le-mans/messages", Some(results)).await.0, 202);
    world.work().await;
    assert!(world.texts(channel).contains(&"Red won, Blue second".to_owned()), "results after the end");

    // Just before the retention runs out nothing happens; at it, the archive, once.
    world.tick_twice(ends + 2 * HOUR - 60).await;
    let (_, subject) = world.call(reqwest::Method::GET, "/v1/subjects/event/le-mans", None).await;
    assert_eq!(subject["channel"]["status"], "completed");
    world.tick_twice(ends + 2 * HOUR + 60).await;
    let (_, subject) = world.call(reqwest::Method::GET, "/v1/subjects/event/le-mans", None).await;
    assert_eq!(subject["channel"]["status"], "archived", "{subject}");
    let archive = subject["timeline"].as_array().into_iter().flatten().filter(|a| a["action"] == "archive").count();
    assert_eq!(archive, 1, "decided once: {subject}");
    let everyone = GUILD.to_string();
    let everyone_silenced = world.sandbox.with_world(|w| {
        w.channels[&channel].overwrites.iter().any(|o| {
            let deny = o["deny"].as_str().and_then(|d| d.parse::<u64>().ok()).unwrap_or(0);
            o["id"] == everyone.as_str() && deny & SEND_MESSAGES != 0
        })
    });
    assert!(everyone_silenced, "nobody may send in the archived channel");
    for thread in &threads {
        let meta = world.sandbox.with_world(|w| w.channels[thread].thread.clone()).expect("thread");
        assert!(meta.archived && meta.locked, "thread {thread} archived and locked");
    }
    for role in &roles {
        assert!(world.sandbox.with_world(|w| !w.guilds[&GUILD].roles.contains_key(role)), "team role {role} removed");
    }
    let later = world.tick_twice(ends + 30 * HOUR).await;
    assert_eq!(later[0]["timeline"]["archives"], 0, "nothing archived again: {later}");
}

#[tokio::test]
async fn a_moved_start_never_posts_a_reminder_or_the_start_message_twice() {
    let world = Clockwork::new().await;
    world.connect().await;
    let settings = json!({
        "auto_create_channels": true,
        "reminders": [
            { "before_minutes": 1440, "template": { "content": "{name}: tomorrow ({offset})" } },
            { "before_minutes": 60, "template": { "content": "{name}: {offset} to go" } },
        ],
        "start_message": { "content": "{name} is live!" },
    });
    assert_eq!(world.call(reqwest::Method::PUT, "/v1/settings", Some(settings)).await.0, 200);
    let starts = now() + 3 * 24 * HOUR;
    let event = |name: &str, starts_at: u64, track: &str| json!({ "name": name, "starts_at": starts_at, "ends_at": starts_at + 3 * HOUR, "fields": { "track": track } });
    let spa = world.put_event("spa", event("Spa", starts, "Spa")).await;
    // Another event at the same hour: its messages are its own (nonces name the event).
    let monza = world.put_event("monza", event("Monza", starts, "Monza")).await;

    world.tick_twice(starts - 24 * HOUR).await;
    assert_eq!(world.texts(spa), vec!["Spa: tomorrow (24 hours)"]);
    assert_eq!(world.texts(monza), vec!["Monza: tomorrow (24 hours)"], "the other event's reminder too");

    // The start moves three hours later, after the first reminder went out.
    let moved = starts + 3 * HOUR;
    world.put_event("spa", event("Spa", moved, "Spa")).await;
    world.tick_twice(moved - 24 * HOUR).await;
    world.tick_twice(starts - HOUR).await;
    assert_eq!(world.texts(spa), vec!["Spa: tomorrow (24 hours)"], "nothing again, nothing at the old times");
    world.tick_twice(moved - HOUR).await;
    world.tick_twice(moved).await;
    // An unrelated change after the start: nothing on the timeline moves or comes back.
    world.put_event("spa", event("Spa", moved, "Spa-Francorchamps")).await;
    world.tick_twice(moved + 10 * 60).await;
    world.tick_twice(moved + 30 * 60).await;
    assert_eq!(world.texts(spa), vec!["Spa: tomorrow (24 hours)", "Spa: 1 hour to go", "Spa is live!"]);
    let (_, subject) = world.call(reqwest::Method::GET, "/v1/subjects/event/spa", None).await;
    let timeline = subject["timeline"].as_array().cloned().unwrap_or_default();
    let due_at = |action: &str| timeline.iter().find(|a| a["action"] == action).map(|a| a["due_at"].clone());
    assert_eq!(due_at("reminder:1440"), Some(json!(starts - 24 * HOUR)), "decided for the time it was due then");
    assert_eq!(due_at("reminder:60"), Some(json!(moved - HOUR)), "the later reminder followed the new time");
    assert_eq!(due_at("start"), Some(json!(moved)));
}

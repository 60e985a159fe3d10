//! One event's whole life, driven through the tenant API and the schedule, on moto's DynamoDB
//! and SQS FIFO queues and the sandbox: teams become private threads with exactly their
//! linked members, reminders go out once however often (and late) the schedule fires, the
//! sign-up board is one message edited in place, results are an embed from the template, and
//! the end starts the retention clock that archives the channel and its threads.

use std::sync::Arc;

use discord_sandbox::{GuildSeed, RateLimits};
use e2e::stack::{self, Aws};
use guildbridge_aws::sqs::SqsQueues;
use guildbridge_core::{
    channels::ChannelWorker,
    domain::{QueueKind, Tenant, TenantId},
    tick::run_tick,
    worker::lambda::{BatchPolicy, run_batch},
};
use guildbridge_host::{
    provision::Provisioned,
    wiring::{self, Backends},
};
use serde_json::{Value, json};
use tokio::time::Instant;
use twilight_model::id::Id;

pub(crate) const GUILD: u64 = 1_100_000_000_000_800_001;
pub(crate) const MEMBER: u64 = 1_100_000_000_000_810_000;
pub(crate) const BOT: u64 = 1_100_000_000_000_000_001;
pub(crate) const HOUR: u64 = 3600;

pub(crate) struct World {
    aws: Aws,
    provisioned: Provisioned,
    backends: Backends,
    queues: SqsQueues,
    api: String,
    http: reqwest::Client,
    key: String,
    pub(crate) sandbox: Arc<discord_sandbox::Sandbox>,
    worker: ChannelWorker,
    policy: BatchPolicy,
}

impl World {
    pub(crate) async fn new() -> Self {
        let aws = Aws::connect();
        let (provisioned, queues, backends) = aws.stack(5).await;
        let seed = GuildSeed {
            id: GUILD,
            name: "Sim Racing Club".to_owned(),
            bot_permissions: stack::ADMIN,
            roles: vec![],
            members: 6,
            first_member_id: MEMBER,
            bot_every: None,
        };
        let sandbox = stack::sandbox_with(RateLimits::generous(), seed).await;
        let tenant_id = TenantId::from("club");
        let record = Tenant { tenant_id: tenant_id.clone(), allowed_origins: vec![], created_at: 1 };
        backends.store.create_tenant(&record).await.expect("tenant");
        backends.store.connect(&tenant_id, Id::new(GUILD), "Club", 1).await.expect("connect");
        let key = backends.store.issue_api_key(&tenant_id, 1).await.expect("key").secret;
        let router = wiring::web_router(&backends, &stack::web_config(&sandbox.base_url())).expect("router");
        let api = stack::serve(router).await;
        let worker = wiring::channel_worker(
            backends.store.clone(),
            &stack::discord_config(&sandbox),
            &stack::worker_config(5, 60),
        )
        .expect("worker");
        let policy = wiring::batch_policy(QueueKind::Channel, &stack::worker_config(5, 60));
        Self { aws, provisioned, backends, queues, api, http: reqwest::Client::new(), key, sandbox, worker, policy }
    }

    pub(crate) async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.api)).bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("api");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn put_settings(&self, settings: Value) -> (u16, Value) {
        let response = self
            .http
            .put(format!("{}/v1/settings", self.api))
            .bearer_auth(&self.key)
            .header("If-Match", "*")
            .json(&settings)
            .send()
            .await
            .expect("settings");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Runs the channel worker over the channel queue's batches, as Lambda would, until empty.
    pub(crate) async fn work(&self) {
        let url = &self.provisioned.channel_queue_url;
        let redelivery = self.queues.redelivery(QueueKind::Channel);
        let give_up = Instant::now() + std::time::Duration::from_secs(60);
        while self.aws.depth(url).await > 0 && Instant::now() < give_up {
            let batch = self.aws.receive_batch(url, 10).await;
            if batch.records.is_empty() {
                continue;
            }
            let deadline = Instant::now() + std::time::Duration::from_secs(30);
            let ledger = self.backends.ledger.as_ref();
            let answer = run_batch(batch.clone(), &self.worker, &redelivery, ledger, self.policy, deadline).await;
            self.aws.settle_batch(url, &batch, &answer).await;
        }
        assert_eq!(self.aws.depth(url).await, 0, "the channel queue drained");
    }

    /// The schedule's tick fires at `now`, twice at once.
    pub(crate) async fn fire_twice(&self, now: u64) {
        let store = self.backends.store.as_ref();
        let queue = self.backends.queue.as_ref();
        let (one, two) = tokio::join!(run_tick(store, queue, now), run_tick(store, queue, now));
        assert_eq!((one.failed(), two.failed()), (vec![], vec![]), "{:?} {:?}", one.to_json(), two.to_json());
        self.work().await;
    }

    pub(crate) fn messages(&self, channel: u64) -> Vec<Value> {
        self.sandbox.with_world(|w| w.messages.get(&channel).cloned().unwrap_or_default())
    }

    fn thread_members(&self, thread: u64) -> Vec<u64> {
        let mut members = self.sandbox.with_world(|w| {
            w.channels.get(&thread).and_then(|c| c.thread.clone()).map(|t| t.members).unwrap_or_default()
        });
        members.sort_unstable();
        members
    }
}

pub(crate) fn id_of(value: &Value) -> u64 {
    value.as_str().and_then(|text| text.parse().ok()).unwrap_or_else(|| panic!("an id: {value}"))
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

#[tokio::test]
async fn an_event_lives_its_whole_life_in_discord_driven_by_the_api_and_the_schedule() {
    let world = World::new().await;
    let settings = json!({
        "auto_create_channels": true,
        "team_roles": true,
        "signup_update_hours": 6,
        "archive_retention_hours": 1,
        "reminders": [
            { "before_minutes": 1440, "template": { "content": "{name} starts {starts_in} (in {offset})" } },
            { "before_minutes": 60, "template": { "content": "{name}: {offset} to go" } },
            { "before_minutes": 15, "template": { "content": "{name}: {offset} to go" } },
        ],
        "start_message": { "content": "{name} is live!" },
        "results_template": { "embed": {
            "title": "Results: {name}",
            "fields": [ { "name": "Winner", "value": "{result.winner}", "inline": true },
                        { "name": "Fastest lap", "value": "{result.fastest_lap}", "inline": true } ],
        } },
    });
    let (status, saved) = world.put_settings(settings.clone()).await;
    assert_eq!(status, 200, "{saved}");

    // Bad templates are refused with every problem named, and nothing changes.
    let mut broken = settings.clone();
    broken["reminders"][0]["template"]["content"] = json!("{name} on {track}");
    broken["board_template"] = json!({ "content": format!("{}{{signup_list}}", "x".repeat(1500)) });
    let (status, problem) = world.put_settings(broken).await;
    assert_eq!(status, 422, "{problem}");
    let text = problem.to_string();
    assert!(text.contains("unknown placeholder {track}"), "{text}");
    assert!(text.contains("board_template") && text.contains("Discord allows 2000"), "{text}");
    let (_, stored) = world.call(reqwest::Method::GET, "/v1/settings", None).await;
    assert_eq!(stored["reminders"], saved["reminders"], "the stored settings are unchanged");
    assert_eq!(stored["board_template"], saved["board_template"]);

    for n in 0..4u64 {
        let body = json!({ "discord_user_id": (MEMBER + n).to_string() });
        let (status, link) = world.call(reqwest::Method::PUT, &format!("/v1/links/driver-{n}"), Some(body)).await;
        assert_eq!(status, 201, "{link}");
    }
    let starts = now() + 2 * 24 * HOUR;
    let ends = starts + 6 * HOUR;
    let event = |count: u32, significant: bool| {
        let entries = &["Ana", "Ben", "Cleo", "Dan", "Eve"][..count as usize];
        json!({
            "name": "Spa 6 Hours", "starts_at": starts, "ends_at": ends,
            "signup_url": "https://club.example/events/spa",
            "signups": { "count": count, "capacity": 20, "entries": entries, "significant": significant },
        })
    };
    assert_eq!(world.call(reqwest::Method::PUT, "/v1/subjects/event/spa", Some(event(3, false))).await.0, 201);
    world.work().await;
    let (_, subject) = world.call(reqwest::Method::GET, "/v1/subjects/event/spa", None).await;
    let channel = id_of(&subject["channel"]["text_channel_id"]);
    let board = id_of(&subject["board_message_id"]);
    let board_message = |world: &World| world.messages(channel).into_iter().find(|m| id_of(&m["id"]) == board);
    let posted = board_message(&world).expect("the board");
    assert_eq!(posted["pinned"], true);
    assert!(posted["content"].as_str().unwrap_or_default().contains("3 of 20"), "{posted}");
    assert_eq!(posted["components"][0]["components"][0]["url"], "https://club.example/events/spa");

    // Two teams: threads with exactly their linked members; the unlinked one is reported.
    let red = json!({ "name": "Red Racing", "members": ["driver-0", "driver-1", "ghost"] });
    let (status, team) = world.call(reqwest::Method::PUT, "/v1/subjects/event/spa/teams/red", Some(red)).await;
    assert_eq!((status, team["unlinked"].clone()), (201, json!(["ghost"])), "{team}");
    let blue = json!({ "name": "Blue Motorsport", "members": ["driver-2"] });
    assert_eq!(world.call(reqwest::Method::PUT, "/v1/subjects/event/spa/teams/blue", Some(blue)).await.0, 201);
    world.work().await;
    let (_, teams) = world.call(reqwest::Method::GET, "/v1/subjects/event/spa/teams", None).await;
    let thread_of = |name: &str| {
        let team = teams.as_array().and_then(|t| t.iter().find(|t| t["team_id"] == name)).expect("team").clone();
        assert_eq!(team["status"], "active", "{team}");
        assert!(team["thread_url"].as_str().unwrap_or_default().ends_with(team["thread_id"].as_str().unwrap_or("?")));
        (id_of(&team["thread_id"]), team)
    };
    let (red_thread, red_team) = thread_of("red");
    let (blue_thread, _) = thread_of("blue");
    assert_eq!(red_team["unlinked"], json!(["ghost"]));
    assert_eq!(world.thread_members(red_thread), vec![BOT, MEMBER, MEMBER + 1]);
    assert_eq!(world.thread_members(blue_thread), vec![BOT, MEMBER + 2]);
    let thread = world.sandbox.with_world(|w| w.channels[&red_thread].clone());
    let meta = thread.thread.expect("a thread");
    assert_eq!(
        (thread.kind, thread.parent_id, meta.invitable, meta.auto_archive_duration),
        (12, Some(channel), false, 10080)
    );
    let role = id_of(&red_team["role_id"]);
    let holds_role = |user: u64| world.sandbox.with_world(|w| w.guilds[&GUILD].members[&user].roles.contains(&role));
    assert!(holds_role(MEMBER) && holds_role(MEMBER + 1) && !holds_role(MEMBER + 2));

    // The member list changes and the team is renamed: the thread and the role follow.
    let red = json!({ "name": "Red Racing Team", "members": ["driver-0", "driver-3"] });
    assert_eq!(world.call(reqwest::Method::PUT, "/v1/subjects/event/spa/teams/red", Some(red)).await.0, 200);
    world.work().await;
    assert_eq!(world.thread_members(red_thread), vec![BOT, MEMBER, MEMBER + 3]);
    assert_eq!(world.sandbox.with_world(|w| w.channels[&red_thread].name.clone()), "Red Racing Team");
    let role_name = world.sandbox.with_world(|w| w.guilds[&GUILD].roles.get(&role).map(|role| role.name.clone()));
    assert_eq!(role_name.as_deref(), Some("Red Racing Team"));
    assert!(holds_role(MEMBER + 3) && !holds_role(MEMBER + 1));

    // A pit call to the team's thread, sent twice with one key: posted once.
    for _ in 0..2 {
        let response = world
            .http
            .post(format!("{}/v1/subjects/event/spa/teams/red/messages", world.api))
            .bearer_auth(&world.key)
            .header("Idempotency-Key", "pit-lap-42")
            .json(&json!({ "content": "Box this lap" }))
            .send()
            .await
            .expect("team message");
        assert_eq!(response.status().as_u16(), 202);
    }
    world.work().await;
    let pit_calls = world.messages(red_thread).into_iter().filter(|m| m["content"] == "Box this lap").count();
    assert_eq!(pit_calls, 1);

    // The board: a small change waits for its turn; its turn edits the one message in place;
    // a significant change edits it at once.
    assert_eq!(world.call(reqwest::Method::PUT, "/v1/subjects/event/spa", Some(event(4, false))).await.0, 200);
    world.work().await;
    assert!(board_message(&world).expect("board")["content"].as_str().unwrap_or_default().contains("3 of 20"));
    world.fire_twice(now() + 7 * HOUR).await;
    assert!(board_message(&world).expect("board")["content"].as_str().unwrap_or_default().contains("4 of 20"));
    assert_eq!(world.call(reqwest::Method::PUT, "/v1/subjects/event/spa", Some(event(5, true))).await.0, 200);
    world.work().await;
    let shown = board_message(&world).expect("board");
    assert!(shown["content"].as_str().unwrap_or_default().contains("5 of 20"), "{shown}");
    assert!(shown["content"].as_str().unwrap_or_default().contains("Eve"), "{shown}");
    let boards = world
        .messages(channel)
        .into_iter()
        .filter(|m| m["content"].as_str().unwrap_or("").contains("Sign-ups"))
        .count();
    assert_eq!(boards, 1, "one board message, edited in place");

    // A reminder added to the settings after the event was put is planned for it too.
    let mut more = settings.clone();
    more["reminders"]
        .as_array_mut()
        .expect("reminders")
        .push(json!({ "before_minutes": 30, "template": { "content": "{name}: half an hour ({offset})" } }));
    assert_eq!(world.put_settings(more).await.0, 200);

    // driver-0 (on Red) pressed "Remind me": the reminders reach them by DM too; their
    // teammate driver-3 and Blue's driver-2 did not, and get none.
    let opted = world.backends.store.set_reminder_dms(Id::new(GUILD), Id::new(MEMBER), true).await.expect("opt in");
    assert!(opted.is_some(), "driver-0 is linked");

    // Reminders: twice at each due time, then late.
    world.fire_twice(starts - 24 * HOUR).await;
    world.fire_twice(starts - HOUR).await;
    world.fire_twice(starts - 30 * 60).await;
    world.fire_twice(starts + 20 * 60).await;
    let texts: Vec<String> =
        world.messages(channel).iter().filter_map(|m| m["content"].as_str().map(str::to_owned)).collect();
    let count = |needle: &str| texts.iter().filter(|text| text.contains(needle)).count();
    assert_eq!(count("(in 24 hours)"), 1, "{texts:?}");
    assert_eq!(count("1 hour to go"), 1, "{texts:?}");
    assert_eq!(count("15 minutes to go"), 0, "too late: skipped");
    assert_eq!(count("half an hour (30 minutes)"), 1, "the reminder added later: {texts:?}");
    let dms = |user: u64| {
        world
            .sandbox
            .with_world(|w| w.dm_channels.get(&user).and_then(|c| w.messages.get(c)).cloned().unwrap_or_default())
    };
    let reminded: Vec<String> = dms(MEMBER).iter().filter_map(|m| m["content"].as_str().map(str::to_owned)).collect();
    assert_eq!(reminded.len(), 3, "each reminder once by DM: {reminded:?}");
    assert!(reminded.iter().any(|text| text.contains("(in 24 hours)")), "{reminded:?}");
    assert!(dms(MEMBER).iter().all(|m| !m["components"].to_string().contains("v2:remind")), "no button in DMs");
    assert!(dms(MEMBER + 3).is_empty() && dms(MEMBER + 2).is_empty(), "only who asked");
    assert_eq!(count("is live!"), 1, "the start message");
    let reminder = world
        .messages(channel)
        .into_iter()
        .find(|m| m["content"].as_str().unwrap_or_default().contains("(in 24 hours)"))
        .expect("the 24 h reminder");
    let buttons: Vec<Value> = reminder["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(buttons.iter().any(|b| b["url"] == "https://club.example/events/spa"), "{reminder}");
    assert!(
        buttons.iter().any(|b| b["custom_id"].as_str().is_some_and(|id| id.starts_with("v2:remind:on:"))),
        "{reminder}"
    );
    let (_, subject) = world.call(reqwest::Method::GET, "/v1/subjects/event/spa", None).await;
    let timeline = subject["timeline"].as_array().expect("timeline").clone();
    let decided = |action: &str| timeline.iter().find(|a| a["action"] == action).cloned().unwrap_or(Value::Null);
    assert_eq!(decided("reminder:15")["outcome"], "skipped", "{timeline:?}");
    assert!(decided("reminder:15")["reason"].as_str().unwrap_or_default().contains("late"));
    assert_eq!(decided("reminder:1440")["outcome"], "posted");

    // Results: an embed from the template; a value the template needs is asked for.
    let (status, problem) = world
        .call(
            reqwest::Method::POST,
            "/v1/subjects/event/spa/messages",
            Some(json!({ "template": "results", "results": { "winner": "Ana" } })),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("results.fastest_lap"), "{problem}");
    let results = json!({ "template": "results", "results": { "winner": "Ana", "fastest_lap": "Ben 2:17.4" } });
    assert_eq!(world.call(reqwest::Method::POST, "/v1/subjects/event/spa/messages", Some(results)).await.0, 202);
    world.work().await;
    let last = world.messages(channel).last().cloned().expect("results");
    assert_eq!(last["embeds"][0]["title"], "Results: Spa 6 Hours", "{last}");
    assert_eq!(last["embeds"][0]["fields"][0]["value"], "Ana");
    assert_eq!(last["embeds"][0]["fields"][1]["value"], "Ben 2:17.4");

    // The end, then the retention (its own due time, an hour on): the channel and its threads
    // are archived, roles deleted.
    world.fire_twice(ends + 60).await;
    let (_, subject) = world.call(reqwest::Method::GET, "/v1/subjects/event/spa", None).await;
    assert_eq!(subject["channel"]["status"], "completed");
    world.fire_twice(ends + HOUR + 60).await;
    let (_, subject) = world.call(reqwest::Method::GET, "/v1/subjects/event/spa", None).await;
    assert_eq!(subject["channel"]["status"], "archived");
    for thread in [red_thread, blue_thread] {
        let meta = world.sandbox.with_world(|w| w.channels[&thread].thread.clone()).expect("thread");
        assert!(meta.archived && meta.locked, "thread {thread} archived and locked");
    }
    assert!(world.sandbox.with_world(|w| !w.guilds[&GUILD].roles.contains_key(&role)), "the team role is gone");
    let (_, teams) = world.call(reqwest::Method::GET, "/v1/subjects/event/spa/teams", None).await;
    assert!(teams.as_array().is_some_and(|t| t.iter().all(|t| t["role_id"].is_null())), "{teams}");
}

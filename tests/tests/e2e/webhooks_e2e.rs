//! Two-way messaging end to end on moto's DynamoDB and SQS FIFO queues and the sandbox: a
//! CRM's receiver on loopback verifies every delivery with the `standardwebhooks` package
//! from PyPI (tests/webhooks/receiver.py), independent of Guildbridge's signer. The channel
//! and webhook workers run their SQS batches the way Lambda hands them over.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

use discord_sandbox::{GuildSeed, RateLimits};
use e2e::stack::{self, Aws};
use guildbridge_aws::sqs::SqsQueues;
use guildbridge_core::{
    domain::{QueueKind, RetrySchedule, TargetPolicy, Tenant, TenantId},
    relay::RelayPoller,
    worker::{
        JobHandler,
        lambda::{BatchPolicy, run_batch},
    },
};
use guildbridge_host::{
    config::WebhookConfig,
    provision::Provisioned,
    wiring::{self, Backends},
};
use serde_json::{Value, json};
use tokio::time::Instant;
use twilight_model::id::Id;

pub(crate) const GUILD: u64 = 1_100_000_000_000_700_001;
const GUILD_B: u64 = 1_100_000_000_000_700_002;
pub(crate) const LEAD: u64 = 1_100_000_000_000_710_000;

/// The independent receiver, killed when dropped.
pub(crate) struct Receiver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    pub(crate) fn start() -> Self {
        let python = std::env::var("STANDARDWEBHOOKS_PYTHON").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../target/test-tools/standardwebhooks-1.1.0/bin/python").to_owned()
        });
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/webhooks/receiver.py");
        let mut child = Command::new(&python).arg(script).stdout(Stdio::piped()).spawn().unwrap_or_else(|e| {
            panic!("the standardwebhooks receiver ({python}) must run; tools/test installs it: {e}")
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("the receiver's port");
        let port: u16 = line.trim().parse().expect("a port");
        Self { child, base: format!("http://127.0.0.1:{port}"), http: reqwest::Client::new() }
    }

    pub(crate) fn url(&self, name: &str) -> String {
        format!("{}/hooks/{name}", self.base)
    }

    pub(crate) async fn configure(&self, name: &str, secret: &str, fail: u64) {
        let body = json!({ "secret": secret, "fail": fail });
        self.http.post(format!("{}/configure/{name}", self.base)).json(&body).send().await.expect("configure");
    }

    /// Deliveries to `name` of event type `kind`.
    pub(crate) async fn received(&self, name: &str, kind: &str) -> Vec<Value> {
        let all: Vec<Value> = self
            .http
            .get(format!("{}/received", self.base))
            .send()
            .await
            .expect("received")
            .json()
            .await
            .expect("json");
        all.into_iter()
            .filter(|d| d["receiver"] == name)
            .filter(|d| {
                serde_json::from_str::<Value>(d["body"].as_str().unwrap_or("{}")).unwrap_or_default()["type"] == kind
            })
            .collect()
    }

    async fn accepts(&self, secret: &str, delivery: &Value, signature: &str) -> bool {
        let headers = json!({
            "webhook-id": delivery["webhook_id"], "webhook-timestamp": delivery["timestamp"], "webhook-signature": signature,
        });
        let request = json!({ "secret": secret, "headers": headers, "body": delivery["body"] });
        let answer: Value = self
            .http
            .post(format!("{}/verify", self.base))
            .json(&request)
            .send()
            .await
            .expect("verify")
            .json()
            .await
            .expect("json");
        answer["ok"] == true
    }
}

pub(crate) fn body(delivery: &Value) -> Value {
    serde_json::from_str(delivery["body"].as_str().unwrap_or("{}")).unwrap_or_default()
}

pub(crate) struct World {
    pub(crate) aws: Aws,
    pub(crate) provisioned: Provisioned,
    pub(crate) backends: Backends,
    queues: SqsQueues,
    api: String,
    http: reqwest::Client,
    keys: Vec<String>,
    pub(crate) sandbox: Arc<discord_sandbox::Sandbox>,
}

impl World {
    pub(crate) async fn new() -> Self {
        let aws = Aws::connect();
        let (provisioned, queues, backends) = aws.stack(5).await;
        let sandbox = stack::sandbox_with(
            RateLimits::generous(),
            GuildSeed {
                id: GUILD,
                name: "CRM".to_owned(),
                bot_permissions: stack::ADMIN,
                roles: vec![],
                members: 3,
                first_member_id: LEAD,
                bot_every: None,
            },
        )
        .await;
        sandbox.seed_guild(GuildSeed {
            id: GUILD_B,
            name: "Other CRM".to_owned(),
            bot_permissions: stack::ADMIN,
            roles: vec![],
            members: 2,
            first_member_id: LEAD + 100,
            bot_every: None,
        });
        let mut keys = Vec::new();
        for (tenant, guild) in [("crm", GUILD), ("crm-b", GUILD_B)] {
            let tenant_id = TenantId::from(tenant);
            let record = Tenant { tenant_id: tenant_id.clone(), allowed_origins: vec![], created_at: 1 };
            backends.store.create_tenant(&record).await.expect("tenant");
            backends.store.connect(&tenant_id, Id::new(guild), "CRM", 1).await.expect("connect");
            keys.push(backends.store.issue_api_key(&tenant_id, 1).await.expect("key").secret);
        }
        let mut web = stack::web_config(&sandbox.base_url());
        web.webhook_targets = TargetPolicy { allow_loopback: true };
        let router = wiring::web_router(&backends, &web).expect("router");
        let api = stack::serve(router).await;
        Self { aws, provisioned, backends, queues, api, http: reqwest::Client::new(), keys, sandbox }
    }

    pub(crate) async fn call(
        &self,
        tenant: usize,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.api)).bearer_auth(&self.keys[tenant]);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("api");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Runs `handler` over `queue_url`'s batches, as Lambda's event source would, until the
    /// queue is empty or `until` holds.
    pub(crate) async fn run(&self, queue_url: &str, handler: &dyn JobHandler, policy: BatchPolicy, seconds: u64) {
        let redelivery = self.queues.redelivery(policy.queue);
        let give_up = Instant::now() + Duration::from_secs(seconds);
        while self.aws.depth(queue_url).await > 0 && Instant::now() < give_up {
            let batch = self.aws.receive_batch(queue_url, 1).await;
            if batch.records.is_empty() {
                continue;
            }
            let deadline = Instant::now() + Duration::from_secs(30);
            let answer =
                run_batch(batch.clone(), handler, &redelivery, self.backends.ledger.as_ref(), policy, deadline).await;
            self.aws.settle_batch(queue_url, &batch, &answer).await;
        }
    }
}

#[tokio::test]
async fn a_crm_hears_its_lead_verified_by_an_independent_receiver_through_failures_and_replies_in_the_thread() {
    let world = World::new().await;
    let receiver = Receiver::start();
    let all = ["subject.channel.created", "message.received", "member.linked", "job.dead_lettered"];
    let mut secrets = Vec::new();
    for (tenant, name) in [(0, "a"), (1, "b")] {
        let (status, endpoint) = world
            .call(
                tenant,
                reqwest::Method::PUT,
                "/v1/webhook",
                Some(json!({ "url": receiver.url(name), "events": all })),
            )
            .await;
        assert_eq!(status, 201, "{endpoint}");
        secrets.push(endpoint["secret"].as_str().expect("secret").to_owned());
    }
    receiver.configure("a", &secrets[0], 0).await;
    receiver.configure("b", &secrets[1], 0).await;

    let channel_worker = wiring::channel_worker(
        world.backends.store.clone(),
        &stack::discord_config(&world.sandbox),
        &stack::worker_config(5, 60),
    )
    .expect("worker")
    .with_events(world.backends.outbox.clone());
    let quick = WebhookConfig {
        targets: TargetPolicy { allow_loopback: true },
        schedule: RetrySchedule::parse("1,1,1").expect("schedule"),
    };
    let webhook_worker = wiring::webhook_worker(&world.backends, &quick).expect("webhook worker");
    let channel_policy = wiring::batch_policy(QueueKind::Channel, &stack::worker_config(5, 60));
    let webhook_policy = BatchPolicy { max_delay: Duration::from_secs(2), ..wiring::webhook_batch_policy() };

    let lead = json!({ "name": "Lead 7 (Acme Ltd)", "discord_user_id": LEAD.to_string() });
    assert_eq!(world.call(0, reqwest::Method::PUT, "/v1/subjects/lead/7", Some(lead)).await.0, 201);
    let link = json!({ "discord_user_id": LEAD.to_string() });
    assert_eq!(world.call(0, reqwest::Method::PUT, "/v1/links/crm-user-7", Some(link)).await.0, 201);
    world.run(&world.provisioned.webhook_queue_url, &webhook_worker, webhook_policy, 30).await;
    assert_eq!(receiver.received("a", "member.linked").await.len(), 1);
    receiver.configure("a", &secrets[0], 3).await;
    assert_eq!(world.call(0, reqwest::Method::POST, "/v1/subjects/lead/7/channel", None).await.0, 202);
    world.run(&world.provisioned.channel_queue_url, &channel_worker, channel_policy, 30).await;
    world.run(&world.provisioned.webhook_queue_url, &webhook_worker, webhook_policy, 60).await;

    // Three 500s, then the one that counts: the same webhook-id every time, all verified.
    let created = receiver.received("a", "subject.channel.created").await;
    assert_eq!(created.len(), 4, "{created:?}");
    assert!(created.iter().all(|d| d["verified"] == true && d["webhook_id"] == created[0]["webhook_id"]));
    assert_eq!(created.iter().filter(|d| d["answered"] == 204).count(), 1, "delivered exactly once after recovery");
    assert_eq!(body(&created[3])["subject"], "lead:7");
    assert_eq!(body(&created[3])["platform_user"], "crm-user-7", "the lead's linked platform user");
    let channel: u64 =
        body(&created[3])["data"]["channels"]["text"].as_str().and_then(|c| c.parse().ok()).expect("channel");

    // The lead writes; two relay pollers run at once; the CRM hears it once, attributed.
    let message = world.sandbox.post_as(channel, LEAD, "Can you send the quote?", None).expect("posted");
    let discord = stack::discord_config(&world.sandbox);
    let pollers: Vec<RelayPoller> = (0..2)
        .map(|_| wiring::relay_poller(&world.backends, &discord, &stack::worker_config(5, 60)).expect("poller"))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (one, two) = tokio::join!(pollers[0].pass(true, deadline), pollers[1].pass(true, deadline));
    assert_eq!(one.expect("pass").relayed + two.expect("pass").relayed, 1);
    world.run(&world.provisioned.webhook_queue_url, &webhook_worker, webhook_policy, 30).await;
    let received = receiver.received("a", "message.received").await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["verified"], true);
    let event = body(&received[0]);
    assert_eq!(event["platform_user"], "crm-user-7");
    assert_eq!(event["data"]["message_id"], message);
    assert_eq!(event["data"]["content"], "Can you send the quote?");

    // The CRM replies through the API: a reply to the lead's message in the channel.
    let reply = json!({ "content": "Here it is: https://crm.example/q/7", "reply_to": message });
    assert_eq!(world.call(0, reqwest::Method::POST, "/v1/subjects/lead/7/messages", Some(reply)).await.0, 202);
    world.run(&world.provisioned.channel_queue_url, &channel_worker, channel_policy, 30).await;
    let posted = world.sandbox.with_world(|w| w.messages[&channel].last().cloned()).expect("posted");
    assert_eq!(posted["message_reference"]["message_id"], message);
    assert_eq!(posted["type"], 19);

    // The lead's Discord account changes: the access job lets the new one in, and the relay
    // follows it, so its messages are the lead's side of the conversation.
    let (_, before) = world.call(0, reqwest::Method::GET, "/v1/subjects/lead/7", None).await;
    assert!(before["discord_user"]["joined_conversation_at"].is_u64(), "the first account wrote: {before}");
    let moved = json!({ "name": "Lead 7 (Acme Ltd)", "discord_user_id": (LEAD + 1).to_string() });
    assert_eq!(world.call(0, reqwest::Method::PUT, "/v1/subjects/lead/7", Some(moved)).await.0, 200);
    world.run(&world.provisioned.channel_queue_url, &channel_worker, channel_policy, 30).await;
    let (_, after) = world.call(0, reqwest::Method::GET, "/v1/subjects/lead/7", None).await;
    assert_eq!(after["discord_user"]["id"], (LEAD + 1).to_string(), "{after}");
    assert!(after["discord_user"]["joined_conversation_at"].is_null(), "not yet, for the new account: {after}");
    let from_new = world.sandbox.post_as(channel, LEAD + 1, "It's me, from my work account", None).expect("posted");
    let deadline = Instant::now() + Duration::from_secs(20);
    assert_eq!(pollers[0].pass(true, deadline).await.expect("pass").relayed, 1);
    world.run(&world.provisioned.webhook_queue_url, &webhook_worker, webhook_policy, 30).await;
    let relayed = receiver.received("a", "message.received").await;
    let event = relayed.iter().map(body).find(|e| e["data"]["message_id"] == from_new).expect("relayed");
    assert_eq!(event["data"]["from_subject_user"], true, "{event}");
    let (_, after) = world.call(0, reqwest::Method::GET, "/v1/subjects/lead/7", None).await;
    assert!(after["discord_user"]["joined_conversation_at"].is_u64(), "the new account joined: {after}");

    // A tampered signature fails the independent verifier; the real one passes.
    let signature = received[0]["signature"].as_str().expect("signature");
    assert!(receiver.accepts(&secrets[0], &received[0], signature).await);
    let tampered = signature.replacen("v1,", "v1,A", 1);
    assert!(!receiver.accepts(&secrets[0], &received[0], &tampered).await);
    assert!(!receiver.accepts(&secrets[1], &received[0], signature).await, "another tenant's secret");

    // Tenant B's endpoint never heard tenant A's events.
    for kind in all {
        assert!(receiver.received("b", kind).await.is_empty(), "{kind} reached tenant B");
    }

    // A receiver that never recovers: the event ends in the dead-letter records.
    receiver.configure("a", &secrets[0], 1_000).await;
    assert_eq!(world.call(0, reqwest::Method::POST, "/v1/webhook/test", None).await.0, 202);
    world.run(&world.provisioned.webhook_queue_url, &webhook_worker, webhook_policy, 60).await;
    let (_, letters) = world.call(0, reqwest::Method::GET, "/v1/dead-letters", None).await;
    let dead = letters["items"].as_array().expect("items").iter().find(|l| l["job_type"] == "deliver_webhook").cloned();
    let dead = dead.unwrap_or_else(|| panic!("the delivery's dead letter: {letters}"));
    assert!(dead["reason"].as_str().is_some_and(|r| r.contains("gave up after 4 attempts")), "{dead}");
    let (_, endpoint) = world.call(0, reqwest::Method::GET, "/v1/webhook", None).await;
    assert!(endpoint["paused"].is_object(), "{endpoint}");
}

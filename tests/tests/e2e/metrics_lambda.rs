//! The relay and webhook functions' metrics as CloudWatch reads them: the release binaries,
//! started the way Lambda starts them, print embedded-format documents under the stack's
//! namespace, with the names and dimensions of the one list in the code. (The other
//! functions' documents are checked by their own Lambda tests.)

use std::time::Duration;

use e2e::{
    emf::{self, assert_emitted},
    release_binary,
    runtime_api::{FunctionProcess, RuntimeApi},
    stack,
};
use guildbridge_core::domain::{QueueKind, metrics::*};
use guildbridge_host::wiring;
use serde_json::json;
use tokio::time::Instant;

use super::webhooks_e2e::{LEAD, Receiver, World};

const NAMESPACE: &str = "Guildbridge/e2e-stack";

#[tokio::test]
async fn the_relay_and_webhook_functions_print_their_figures_for_cloudwatch() {
    let world = World::new().await;
    let receiver = Receiver::start();
    let webhook = json!({ "url": receiver.url("m"), "events": ["message.received"] });
    let (status, endpoint) = world.call(0, reqwest::Method::PUT, "/v1/webhook", Some(webhook)).await;
    assert_eq!(status, 201, "{endpoint}");
    receiver.configure("m", endpoint["secret"].as_str().expect("secret"), 0).await;

    // A lead's channel, made through the API and the channel worker.
    let lead = json!({ "name": "Lead 9", "discord_user_id": LEAD.to_string() });
    assert_eq!(world.call(0, reqwest::Method::PUT, "/v1/subjects/lead/9", Some(lead)).await.0, 201);
    assert_eq!(world.call(0, reqwest::Method::POST, "/v1/subjects/lead/9/channel", None).await.0, 202);
    let worker_config = stack::worker_config(5, 60);
    let channel_worker =
        wiring::channel_worker(world.backends.store.clone(), &stack::discord_config(&world.sandbox), &worker_config)
            .expect("worker")
            .with_events(world.backends.outbox.clone());
    let policy = wiring::batch_policy(QueueKind::Channel, &worker_config);
    world.run(&world.provisioned.channel_queue_url, &channel_worker, policy, 30).await;
    let (_, channel) = world.call(0, reqwest::Method::GET, "/v1/subjects/lead/9/channel", None).await;
    let channel_id: u64 = channel["url"]
        .as_str()
        .and_then(|url| url.rsplit('/').next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("an active channel: {channel}"));
    world.sandbox.post_as(channel_id, LEAD, "Is the quote ready?", None).expect("posted");

    let mut env = stack::worker_env(&world.sandbox, &world.provisioned, 120).await;
    env.push(("METRICS_NAMESPACE".to_owned(), NAMESPACE.to_owned()));
    env.push(("WEBHOOK_ALLOW_LOOPBACK".to_owned(), "true".to_owned()));

    // The relay's scheduled invocation reads the lead's message and emits its event.
    let relay_api = RuntimeApi::start().await.expect("runtime API");
    let relay = FunctionProcess::spawn(&release_binary("relay-worker"), &relay_api, &env).expect("spawn relay");
    let tick = json!({ "source": "aws.events", "detail-type": "Scheduled Event", "detail": {} });
    let answer = relay_api.invoke_within(tick, Duration::from_secs(8)).await;
    let answer = answer.unwrap_or_else(|error| panic!("relay invocation: {error}\n{}", relay.logs().join("\n")));
    assert_eq!(answer["relayed"], 1, "{answer}");

    // The webhook function delivers it.
    let hooks_api = RuntimeApi::start().await.expect("runtime API");
    let hooks = FunctionProcess::spawn(&release_binary("webhook-worker"), &hooks_api, &env).expect("spawn webhooks");
    let give_up = Instant::now() + Duration::from_secs(30);
    while receiver.received("m", "message.received").await.is_empty() && Instant::now() < give_up {
        let batch = world.aws.receive_batch(&world.provisioned.webhook_queue_url, 1).await;
        if batch.records.is_empty() {
            continue;
        }
        let response = hooks_api.invoke(serde_json::to_value(&batch).expect("event")).await.expect("invocation");
        let settled = serde_json::from_value(response).expect("a batch response");
        world.aws.settle_batch(&world.provisioned.webhook_queue_url, &batch, &settled).await;
    }
    assert_eq!(receiver.received("m", "message.received").await.len(), 1);

    let relay_found = emf::emitted(&relay.logs(), NAMESPACE);
    assert_emitted(&relay_found, "relay-worker", &RELAY_POLLS, &[("kind", "guild")]);
    assert_emitted(&relay_found, "relay-worker", &RELAY_POLLS, &[("kind", "channel")]);
    assert_emitted(&relay_found, "relay-worker", &RELAY_LAG, &[]);
    let list = [("route", "GET /guilds/{guild_id}/channels"), ("status", "2xx")];
    assert_emitted(&relay_found, "relay-worker", &DISCORD_REQUESTS, &list);
    let lag = relay_found.iter().find(|e| e.name == RELAY_LAG.name).map(|e| e.value.clone()).expect("lag");
    let lag = lag.as_array().and_then(|values| values.first()).and_then(|v| v.as_f64()).expect("one lag value");
    assert!((0.0..60_000.0).contains(&lag), "the message's lag in milliseconds: {lag}");

    let hooks_found = emf::emitted(&hooks.logs(), NAMESPACE);
    assert_emitted(&hooks_found, "webhook-worker", &WEBHOOK_DELIVERIES, &[("outcome", "delivered")]);
    assert_emitted(&hooks_found, "webhook-worker", &WEBHOOK_LATENCY, &[]);
    assert_emitted(&hooks_found, "webhook-worker", &JOBS, &[("job", "deliver_webhook"), ("outcome", "done")]);
    assert_emitted(&hooks_found, "webhook-worker", &JOB_AGE, &[("job", "deliver_webhook")]);
}

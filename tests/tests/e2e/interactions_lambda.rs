//! The release `interactions` binary, started the way Lambda starts it (Runtime API), answers
//! Discord's requests, refuses every signature defect, and keeps secrets out of its logs.

use std::time::Duration;

use e2e::{
    emf::{self, assert_emitted},
    events::{Host, HttpPost, http_answer, interaction_samples, sample_env, test_signing_key},
    release_binary,
    runtime_api::{FunctionProcess, RuntimeApi},
    stack::{self, Aws},
};
use guildbridge_core::{
    domain::metrics::*,
    interactions::commands::manifest,
    test_support::interactions::{self as fake_discord, Invoker, SignedRequest},
};
use serde_json::{Value, json};

/// The samples' configuration, less some variables.
fn env_without(names: &[&str]) -> Vec<(String, String)> {
    let mut env = sample_env().expect("events/interactions.env");
    env.retain(|(k, _)| !names.contains(&k.as_str()));
    env
}

async fn start(env: &[(String, String)]) -> (RuntimeApi, FunctionProcess) {
    let api = RuntimeApi::start().await.expect("runtime API");
    let process = FunctionProcess::spawn(&release_binary("interactions"), &api, env).expect("spawn");
    (api, process)
}

async fn answer(api: &RuntimeApi, event: Value) -> (u16, Value) {
    http_answer(&api.invoke(event).await.expect("invocation")).expect("HTTP answer")
}

#[tokio::test]
async fn every_sample_event_gets_the_answer_recorded_beside_it() {
    // The samples that read the store or enqueue get a fresh table and queues on moto.
    let aws = Aws::connect();
    let provisioned = aws.provision(5).await;
    // The state-signing key comes from Secrets Manager, as the template deploys it: the
    // recorded answers (signed component state) only match if it was read.
    let samples_env = sample_env().expect("events/interactions.env");
    let state_key = samples_env.iter().find(|(k, _)| k == "STATE_SIGNING_KEY").expect("sample key").1.clone();
    let secret = aws.secret(&[("STATE_SIGNING_KEY", &state_key)]).await;
    let mut env =
        env_without(&["TABLE_NAME", "CHANNEL_QUEUE_URL", "SYNC_QUEUE_URL", "WEBHOOK_QUEUE_URL", "STATE_SIGNING_KEY"]);
    env.extend(stack::aws_env());
    env.extend(provisioned.env().into_iter().map(|(k, v)| (k.to_owned(), v)));
    env.push(("SECRETS_ARN".to_owned(), secret));
    let (api, mut process) = start(&env).await;
    let samples = interaction_samples().expect("samples");
    assert!(samples.len() >= 12, "samples: {}", samples.len());
    for sample in samples {
        let (status, body) = answer(&api, sample.event).await;
        assert_eq!((status, &body), (sample.expected_status, &sample.expected_body), "sample {}", sample.name);
    }
    assert!(!process.exited(), "the function keeps serving");

    // Each invocation's figures, printed for CloudWatch.
    let found = emf::emitted(&process.logs(), "Guildbridge");
    let function = "interactions";
    for (command, response) in [
        ("none", "pong"),
        ("events", "message"),
        ("channel", "deferred"),
        ("signup", "autocomplete"),
        ("unknown", "message"),
    ] {
        assert_emitted(&found, function, &INTERACTIONS, &[("command", command), ("response", response)]);
    }
    assert_emitted(&found, function, &INTERACTION_LATENCY, &[]);
    assert_emitted(&found, function, &SIGNATURE_FAILURES, &[]);
}

fn fresh_settings(signed_at: u64) -> SignedRequest {
    let interaction =
        fake_discord::command("/settings", &manifest(), &Invoker::default(), fake_discord::new_snowflake())
            .expect("line");
    fake_discord::sign(&test_signing_key().expect("key"), signed_at, interaction.to_string().into_bytes())
}

#[tokio::test]
async fn every_signature_defect_is_a_401_with_the_default_window() {
    let (api, mut process) = start(&env_without(&["SIGNATURE_MAX_AGE_SECS"])).await;
    let now = fake_discord::unix_now();
    let good = fresh_settings(now);
    let post = || HttpPost::signed("/", &good);

    let (status, body) = answer(&api, post().event(Host::FunctionUrl)).await;
    assert_eq!((status, body["data"]["flags"].clone()), (200, json!(64)), "the untouched request is answered");

    let mut flipped = hex::decode(&good.signature).expect("hex");
    flipped[0] ^= 0x01;
    let mut body_changed = post();
    body_changed.body.push(b' ');
    let signed_then_retimed = post().with_header("x-signature-timestamp", &(now + 1).to_string());
    let stale = fresh_settings(now - 301);
    let defects = [
        ("missing signature", post().without_header("x-signature-ed25519")),
        ("missing timestamp", post().without_header("x-signature-timestamp")),
        ("non-hex signature", post().with_header("x-signature-ed25519", &"zz".repeat(64))),
        ("short signature", post().with_header("x-signature-ed25519", &good.signature[..126])),
        ("flipped bit", post().with_header("x-signature-ed25519", &hex::encode(flipped))),
        ("body changed after signing", body_changed),
        ("timestamp changed after signing", signed_then_retimed),
        ("stale timestamp", HttpPost::signed("/", &stale)),
    ];
    for (defect, request) in defects {
        for host in [Host::FunctionUrl, Host::RestApi] {
            let (status, body) = answer(&api, request.event(host)).await;
            assert_eq!(status, 401, "{defect} via {host:?}");
            assert_eq!(body["error"], "invalid_request_signature", "{defect} via {host:?}");
        }
    }
    assert!(!process.exited());
}

#[tokio::test]
async fn base64_bodies_verify_and_oversized_bodies_are_413() {
    let (api, _process) = start(&env_without(&["SIGNATURE_MAX_AGE_SECS"])).await;
    let mut encoded = HttpPost::signed("/", &fresh_settings(fake_discord::unix_now()));
    encoded.base64 = true;
    let (status, body) = answer(&api, encoded.event(Host::FunctionUrl)).await;
    assert_eq!((status, body["type"].clone()), (200, json!(4)));

    let big =
        fake_discord::sign(&test_signing_key().expect("key"), fake_discord::unix_now(), vec![b' '; 1024 * 1024 + 1]);
    let (status, body) = answer(&api, HttpPost::signed("/", &big).event(Host::FunctionUrl)).await;
    assert_eq!((status, body["error"].clone()), (413, json!("body_too_large")));
}

#[tokio::test]
async fn logs_say_what_happened_without_tokens_signatures_or_bodies() {
    let (api, process) = start(&env_without(&["SIGNATURE_MAX_AGE_SECS"])).await;
    let request = fresh_settings(fake_discord::unix_now());
    let interaction: Value = serde_json::from_slice(&request.body).expect("json");
    let token = interaction["token"].as_str().expect("token").to_owned();
    let (status, _) = answer(&api, HttpPost::signed("/", &request).event(Host::FunctionUrl)).await;
    assert_eq!(status, 200);
    let mut forged = HttpPost::signed("/", &request);
    forged.body = b"{\"type\":1}".to_vec();
    assert_eq!(answer(&api, forged.event(Host::FunctionUrl)).await.0, 401);

    // Logs are written asynchronously by the child; give the pipe a moment to drain.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = process.logs();
    let answered: Vec<Value> = logs
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["message"] == "interaction answered")
        .collect();
    assert_eq!(answered.len(), 1, "{logs:#?}");
    let line = &answered[0];
    assert_eq!(line["interaction_id"].as_u64().map(|id| id.to_string()), interaction["id"].as_str().map(str::to_owned));
    assert_eq!(line["guild_id"].as_u64().map(|id| id.to_string()), interaction["guild_id"].as_str().map(str::to_owned));
    assert_eq!((line["command"].clone(), line["interaction_type"].clone()), (json!("settings"), json!(2)));
    assert!(line["latency_us"].is_u64(), "{line}");
    assert!(logs.iter().any(|l| l.contains("signature does not match")), "the refusal's reason is logged: {logs:#?}");

    let all = logs.join("\n");
    for secret in [token.as_str(), &request.signature, "demo-admin", "settings.guildbridge.test"] {
        assert!(!all.contains(secret), "logs leak {secret:?}:\n{all}");
    }
}

#[tokio::test]
async fn missing_configuration_stops_init_naming_every_variable() {
    let api = RuntimeApi::start().await.expect("runtime API");
    let env = env_without(&["SETTINGS_URL", "STATE_SIGNING_KEY"]);
    let mut process = FunctionProcess::spawn(&release_binary("interactions"), &api, &env).expect("spawn");
    for _ in 0..100 {
        if process.exited() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(process.exited(), "init fails instead of serving with half a configuration");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let logs = process.logs().join("\n");
    assert!(logs.contains("SETTINGS_URL is not set") && logs.contains("STATE_SIGNING_KEY is not set"), "{logs}");
    assert!(!logs.contains("test-only-state"), "{logs}");
}

#[tokio::test]
async fn a_secret_that_cannot_be_read_stops_init_naming_it() {
    let api = RuntimeApi::start().await.expect("runtime API");
    let mut env = env_without(&["STATE_SIGNING_KEY"]);
    env.extend(stack::aws_env());
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:guildbridge-missing-AbCdEf";
    env.push(("SECRETS_ARN".to_owned(), missing.to_owned()));
    let mut process = FunctionProcess::spawn(&release_binary("interactions"), &api, &env).expect("spawn");
    for _ in 0..200 {
        if process.exited() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(process.exited(), "init fails instead of serving without its secrets");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let logs = process.logs().join("\n");
    assert!(logs.contains("reading the secret") && logs.contains(missing), "{logs}");
}

/// A DynamoDB "endpoint" that accepts connections and never answers (a stalled network path):
/// holds every connection open until the test ends.
async fn stalled_endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_stalled_store_still_gets_the_user_an_ephemeral_try_again() {
    let mut env = env_without(&[]);
    env.extend(stack::aws_env().into_iter().filter(|(k, _)| k != "AWS_ENDPOINT_URL"));
    env.push(("AWS_ENDPOINT_URL".to_owned(), stalled_endpoint().await));
    let (api, mut process) = start(&env).await;
    let now = fake_discord::unix_now();
    let invoker = Invoker::default();
    for line in ["/events", "/channel info"] {
        let interaction =
            fake_discord::command(line, &manifest(), &invoker, fake_discord::new_snowflake()).expect("line");
        let signed = fake_discord::sign(&test_signing_key().expect("key"), now, interaction.to_string().into_bytes());
        let (status, body) = answer(&api, HttpPost::signed("/", &signed).event(Host::FunctionUrl)).await;
        assert_eq!(status, 200, "{line}: {body}");
        assert_eq!((body["type"].clone(), body["data"]["flags"].clone()), (json!(4), json!(64)), "{line}: {body}");
        let content = body["data"]["content"].as_str().unwrap_or_default();
        assert!(content.to_lowercase().contains("try again"), "{line}: an answer, not silence: {content}");
    }
    assert!(!process.exited(), "the function keeps serving");
}

//! The real local services a test runs against: DynamoDB and SQS on moto's server (started by
//! tools/test, `AWS_ENDPOINT_URL`), and the Discord sandbox in process.

// Test harness: a setup that fails fails the test, loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::{collections::HashMap, net::SocketAddr, path::PathBuf, sync::Arc};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use discord_sandbox::{GuildSeed, RateLimits, Sandbox, SandboxConfig};
use guildbridge_aws::dynamo::DynamoItems;
use guildbridge_aws::sqs::SqsQueues;
use guildbridge_core::{discord::rest::BotToken, store::Store};
use guildbridge_host::moto::MotoClients;
use guildbridge_host::{
    config::{DiscordConfig, WebConfig, WorkerConfig},
    provision::{Provisioned, provision},
    wiring::Backends,
};

/// The sandbox's bot token (a test value, not a secret).
pub const BOT_TOKEN: &str = "sandbox-bot-token";
/// The sandbox's application id, which is also its bot user's id.
pub const APPLICATION_ID: u64 = 1_100_000_000_000_000_001;
/// Administrator.
pub const ADMIN: u64 = 1 << 3;
/// The sandbox application's OAuth2 client secret (a test value).
pub const CLIENT_SECRET: &str = "sandbox-client-secret";

/// Where moto's server is. Fails the test, never skips it, when it is not there.
pub fn moto_endpoint() -> String {
    guildbridge_host::moto::endpoint()
}

/// The environment a function process needs to reach moto.
pub fn aws_env() -> Vec<(String, String)> {
    vec![
        ("AWS_ENDPOINT_URL".to_owned(), moto_endpoint()),
        ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID".to_owned(), "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "test".to_owned()),
    ]
}

/// AWS clients pointed at moto.
#[derive(Debug, Clone)]
pub struct Aws {
    pub dynamo: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl Aws {
    pub fn connect() -> Self {
        let MotoClients { dynamo, sqs, secrets } = MotoClients::connect();
        Self { dynamo, sqs, secrets }
    }

    /// A Secrets Manager secret holding `variables` as the functions read it; its ARN.
    pub async fn secret(&self, variables: &[(&str, &str)]) -> String {
        let object: serde_json::Map<String, serde_json::Value> =
            variables.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v))).collect();
        let created = self
            .secrets
            .create_secret()
            .name(format!("guildbridge-test-{}", fastrand::u64(..)))
            .secret_string(serde_json::Value::Object(object).to_string())
            .send()
            .await
            .expect("create the secret on moto");
        created.arn().expect("an ARN").to_owned()
    }

    /// A fresh table and queues with a unique prefix, as `guildbridge provision` makes them.
    pub async fn provision(&self, max_receives: u32) -> Provisioned {
        let prefix = format!("gb-{}-{}", std::process::id(), fastrand::u64(..));
        provision(&self.dynamo, &self.sqs, &prefix, max_receives).await.expect("provision on moto")
    }

    pub fn store(&self, provisioned: &Provisioned) -> Store<DynamoItems> {
        Store::new(DynamoItems::new(self.dynamo.clone(), provisioned.table_name.clone()))
    }

    /// A fresh table and queues, and the backends every function builds over them.
    pub async fn stack(&self, max_receives: u32) -> (Provisioned, SqsQueues, Backends) {
        let provisioned = self.provision(max_receives).await;
        let queues = SqsQueues::new(
            self.sqs.clone(),
            &provisioned.channel_queue_url,
            &provisioned.sync_queue_url,
            &provisioned.webhook_queue_url,
        );
        let backends = Backends::over(Arc::new(self.store(&provisioned)), Arc::new(queues.clone()));
        (provisioned, queues, backends)
    }

    /// Receives up to 10 messages as Lambda's SQS event source would hand them over.
    pub async fn receive_batch(&self, queue_url: &str, wait_seconds: i32) -> SqsEvent {
        let received = self
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive from moto");
        let mut event = SqsEvent::default();
        event.records = received
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|message| {
                let attributes: HashMap<String, String> = message
                    .attributes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(name, value)| (name.as_str().to_owned(), value))
                    .collect();
                let mut record = SqsMessage::default();
                record.message_id = message.message_id;
                record.receipt_handle = message.receipt_handle;
                record.body = message.body;
                record.attributes = attributes;
                record.event_source = Some("aws:sqs".to_owned());
                record
            })
            .collect();
        event
    }

    /// What Lambda's event source does with a batch's answer: deletes every message not
    /// reported as failed (failed ones come back when their visibility ends).
    pub async fn settle_batch(&self, queue_url: &str, event: &SqsEvent, response: &SqsBatchResponse) {
        let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        for message in &event.records {
            if failed.contains(&message.message_id.as_deref().unwrap_or_default()) {
                continue;
            }
            if let Some(handle) = &message.receipt_handle {
                self.sqs.delete_message().queue_url(queue_url).receipt_handle(handle).send().await.expect("delete");
            }
        }
    }

    /// Receives and deletes every visible message of a queue; their bodies.
    pub async fn drain_messages(&self, queue_url: &str) -> Vec<String> {
        let mut bodies = Vec::new();
        loop {
            let batch = self.receive_batch(queue_url, 0).await;
            if batch.records.is_empty() {
                return bodies;
            }
            for message in batch.records {
                if let Some(handle) = &message.receipt_handle {
                    self.sqs.delete_message().queue_url(queue_url).receipt_handle(handle).send().await.expect("delete");
                }
                bodies.extend(message.body);
            }
        }
    }

    /// Messages waiting or in flight, as SQS approximates them.
    pub async fn depth(&self, queue_url: &str) -> u64 {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        [A::ApproximateNumberOfMessages, A::ApproximateNumberOfMessagesNotVisible]
            .iter()
            .map(|name| attributes.get(name).and_then(|n| n.parse::<u64>().ok()).unwrap_or(0))
            .sum()
    }
}

/// Discord's OpenAPI document, when tools/test found it (CI always has it).
pub fn openapi() -> Option<PathBuf> {
    let path = std::env::var_os("DISCORD_OPENAPI_PATH").map(PathBuf::from);
    assert!(
        path.is_some() || std::env::var_os("CI").is_none(),
        "DISCORD_OPENAPI_PATH is not set: CI validates every request against Discord's OpenAPI document"
    );
    path
}

/// A sandbox with one guild where the bot has `bot_permissions`.
pub async fn sandbox(limits: RateLimits, guild_id: u64, bot_permissions: u64) -> Arc<Sandbox> {
    sandbox_with(
        limits,
        GuildSeed {
            id: guild_id,
            name: "Test Racing Club".to_owned(),
            bot_permissions,
            roles: Vec::new(),
            members: 10,
            first_member_id: 1_100_000_000_000_010_000,
            bot_every: None,
        },
    )
    .await
}

/// A sandbox seeded with one guild as given.
pub async fn sandbox_with(limits: RateLimits, seed: GuildSeed) -> Arc<Sandbox> {
    let config = SandboxConfig::new(BOT_TOKEN, openapi(), limits);
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let sandbox = Sandbox::start(config, addr).await.expect("sandbox starts");
    sandbox.seed_guild(seed);
    Arc::new(sandbox)
}

/// A text channel that already exists in the guild (say, the guild's log channel); its id.
pub fn existing_text_channel(sandbox: &Sandbox, guild_id: u64, name: &str) -> u64 {
    existing_channel(sandbox, guild_id, name, 0)
}

/// A channel of Discord's `kind` (0 text, 2 voice, 4 category) that someone made in the guild
/// before Guildbridge looked; its id.
pub fn existing_channel(sandbox: &Sandbox, guild_id: u64, name: &str, kind: u8) -> u64 {
    sandbox.add_channel(guild_id, name, kind)
}

/// The contents of the messages posted in a channel, oldest first.
pub fn messages_in(sandbox: &Sandbox, channel_id: u64) -> Vec<String> {
    sandbox.with_world(|world| {
        let messages = world.messages.get(&channel_id).cloned().unwrap_or_default();
        messages.iter().map(|m| m["content"].as_str().unwrap_or_default().to_owned()).collect()
    })
}

/// How the worker reaches the sandbox.
pub fn discord_config(sandbox: &Sandbox) -> DiscordConfig {
    DiscordConfig { api_base_url: sandbox.base_url().parse().expect("url"), bot_token: BotToken::new(BOT_TOKEN) }
}

/// The state-signing key of every test host: the interactions endpoint verifies the buttons
/// the workers sign.
pub const STATE_SECRET: &str = "test-only-state-signing-key-not-a-secret";

pub fn state_key() -> guildbridge_core::discord::custom_id::StateKey {
    guildbridge_core::discord::custom_id::StateKey::new(STATE_SECRET.as_bytes()).expect("key")
}

pub fn worker_config(max_receives: u32, claim_stale_seconds: u64) -> WorkerConfig {
    WorkerConfig {
        application_id: twilight_model::id::Id::new(APPLICATION_ID),
        max_receives,
        claim_stale_after: std::time::Duration::from_secs(claim_stale_seconds),
        state_key: state_key(),
    }
}

/// The function environment for a sandbox-backed worker on moto.
/// A worker function's environment, as the template gives it: the bot token in a secret.
pub async fn worker_env(
    sandbox: &Sandbox,
    provisioned: &Provisioned,
    claim_stale_seconds: u64,
) -> Vec<(String, String)> {
    let mut env = aws_env();
    env.extend(provisioned.env().into_iter().map(|(k, v)| (k.to_owned(), v)));
    env.push(("DISCORD_API_BASE_URL".to_owned(), sandbox.base_url()));
    let secret = Aws::connect().secret(&[("DISCORD_BOT_TOKEN", BOT_TOKEN), ("STATE_SIGNING_KEY", STATE_SECRET)]).await;
    env.push(("SECRETS_ARN".to_owned(), secret));
    env.push(("DISCORD_APPLICATION_ID".to_owned(), APPLICATION_ID.to_string()));
    env.push(("CLAIM_STALE_SECS".to_owned(), claim_stale_seconds.to_string()));
    env
}

/// The `web` function's configuration against the Discord at `api_base`.
pub fn web_config(api_base: &str) -> WebConfig {
    let env: HashMap<String, String> = [
        ("DISCORD_APPLICATION_ID", APPLICATION_ID.to_string()),
        ("DISCORD_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("STATE_SIGNING_KEY", STATE_SECRET.to_owned()),
        ("DISCORD_API_BASE_URL", api_base.to_owned()),
        ("DISCORD_BOT_TOKEN", BOT_TOKEN.to_owned()),
        // Load benchmarks and flows measure the system, not the tenant budgets (which have
        // their own tests): every request is still counted, none refused.
        ("TENANT_REQUESTS_PER_MINUTE", "10000000".to_owned()),
        ("TENANT_OUTBOUND_REQUESTS_PER_MINUTE", "10000000".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    WebConfig::from_source(&env).expect("web config")
}

/// The `web` function's environment, as the template gives it: the client secret and the
/// state-signing key in a secret.
pub async fn web_env(sandbox: &Sandbox, provisioned: &Provisioned) -> Vec<(String, String)> {
    let mut env = aws_env();
    env.extend(provisioned.env().into_iter().map(|(k, v)| (k.to_owned(), v)));
    env.push(("DISCORD_API_BASE_URL".to_owned(), sandbox.base_url()));
    let secret =
        Aws::connect().secret(&[("DISCORD_CLIENT_SECRET", CLIENT_SECRET), ("STATE_SIGNING_KEY", STATE_SECRET)]).await;
    env.push(("SECRETS_ARN".to_owned(), secret));
    env.push(("DISCORD_APPLICATION_ID".to_owned(), APPLICATION_ID.to_string()));
    env
}

/// Serves `router` on a free loopback port, as the `web` function's URL; its base URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

/// The sealed confirmation in the connect callback's review page (what its Connect button
/// posts back), if the page has one.
pub fn connect_confirmation(review_html: &str) -> Option<String> {
    let needle = "name=\"confirm\" value=\"";
    let at = review_html.find(needle)? + needle.len();
    review_html[at..].split('"').next().map(str::to_owned)
}

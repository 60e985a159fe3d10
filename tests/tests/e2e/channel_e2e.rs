//! End to end on real local services: a signed `/channel create` through the release
//! `interactions` binary (store and queue: DynamoDB and SQS on moto), the release
//! `channel-worker` binary fed the SQS batch as Lambda feeds it, the channel made in the
//! Discord sandbox, the mapping in DynamoDB, and `@original` edited with the channel link.

use e2e::{
    events::{Host, HttpPost, http_answer, sample_env, test_signing_key},
    release_binary,
    runtime_api::{FunctionProcess, RuntimeApi},
    stack::{self, ADMIN, APPLICATION_ID, Aws},
};
use guildbridge_core::{
    domain::{MappingStatus, SubjectKind, SubjectRef},
    interactions::commands::manifest,
    store::ChannelStore,
    test_support::interactions::{self as fake_discord, Invoker},
};
use serde_json::Value;
use twilight_model::id::Id;

const GUILD: u64 = 1_100_000_000_000_000_100;

fn signed_command(line: &str, invoker: &Invoker, token: &str) -> HttpPost {
    let mut interaction =
        fake_discord::command(line, &manifest(), invoker, fake_discord::new_snowflake()).expect("line");
    interaction["token"] = Value::String(token.to_owned());
    let signed = fake_discord::sign(
        &test_signing_key().expect("key"),
        fake_discord::unix_now(),
        interaction.to_string().into_bytes(),
    );
    HttpPost::signed("/", &signed)
}

#[tokio::test]
async fn channel_create_goes_from_the_interaction_through_sqs_to_a_channel_in_discord() {
    let aws = Aws::connect();
    let provisioned = aws.provision(5).await;
    let sandbox = stack::sandbox(discord_sandbox::RateLimits::discord_like(), GUILD, ADMIN).await;

    let mut interactions_env = sample_env().expect("events/interactions.env");
    interactions_env.retain(|(name, _)| {
        !["TABLE_NAME", "CHANNEL_QUEUE_URL", "SYNC_QUEUE_URL", "WEBHOOK_QUEUE_URL"].contains(&name.as_str())
    });
    interactions_env.extend(stack::aws_env());
    interactions_env.extend(provisioned.env().into_iter().map(|(k, v)| (k.to_owned(), v)));
    let interactions_api = RuntimeApi::start().await.expect("runtime API");
    let mut interactions =
        FunctionProcess::spawn(&release_binary("interactions"), &interactions_api, &interactions_env).expect("spawn");

    let worker_api = RuntimeApi::start().await.expect("runtime API");
    let worker_env = stack::worker_env(&sandbox, &provisioned, 120).await;
    let mut worker =
        FunctionProcess::spawn(&release_binary("channel-worker"), &worker_api, &worker_env).expect("spawn");

    let invoker = Invoker { guild_id: Some(GUILD), permissions: ADMIN, ..Invoker::default() };
    let token = sandbox.issue_interaction_token(APPLICATION_ID);
    let request = signed_command("/channel create name:demo", &invoker, &token);
    let answer = interactions_api.invoke(request.event(Host::FunctionUrl)).await.expect("invocation");
    let (status, body) = http_answer(&answer).expect("HTTP answer");
    assert_eq!((status, body["type"].as_u64(), body["data"]["flags"].as_u64()), (200, Some(5), Some(64)), "{body}");

    let batch = aws.receive_batch(&provisioned.channel_queue_url, 5).await;
    assert_eq!(batch.records.len(), 1, "one job for one interaction");
    let response = worker_api.invoke(serde_json::to_value(&batch).expect("event")).await.expect("worker invocation");
    assert_eq!(response["batchItemFailures"], serde_json::json!([]), "{response}");

    let channels: Vec<_> = sandbox.with_world(|world| world.guild_channels(GUILD).cloned().collect());
    assert_eq!(channels.len(), 1, "{channels:?}");
    assert_eq!(channels[0].name, "demo");
    let original = sandbox.with_world(|world| world.interactions.get(&token).and_then(|i| i.original.clone()));
    let content = original.expect("@original edited")["content"].as_str().unwrap_or_default().to_owned();
    assert!(content.contains(&format!("<#{}>", channels[0].id)), "the answer links the channel: {content}");

    let store = aws.store(&provisioned);
    let subject = SubjectRef::new(SubjectKind::Adhoc, "demo");
    let mapping = store.mapping(Id::new(GUILD), &subject).await.expect("read").expect("mapping in DynamoDB");
    assert_eq!((mapping.status, mapping.channels.text.map(|c| c.get())), (MappingStatus::Active, Some(channels[0].id)));
    assert_eq!(mapping.requested_by.map(|u| u.get()), Some(invoker.user_id));

    // Asked in the new channel, /channel info finds what it is for.
    let inside = Invoker { channel_id: channels[0].id, ..invoker.clone() };
    let request = signed_command("/channel info", &inside, "info-token");
    let (_, body) =
        http_answer(&interactions_api.invoke(request.event(Host::FunctionUrl)).await.expect("info")).expect("answer");
    let info = body["data"]["content"].as_str().unwrap_or_default();
    assert!(info.contains("adhoc:demo") && info.contains("Status: active"), "{info}");

    assert!(!interactions.exited() && !worker.exited(), "both functions keep serving");
}

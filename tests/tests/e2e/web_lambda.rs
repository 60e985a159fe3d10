//! The release `web` binary, started the way Lambda starts it (Runtime API, Function URL
//! events), on DynamoDB and SQS on moto, with the release `channel-worker` doing the Discord
//! work in the sandbox: two tenants connect their guilds through the connect flow; a
//! platform registers a lead, asks for its channel three times and gets one private
//! channel; a message sent twice under one key posts once, and its job shows the message's
//! id; the archive reason shows on the mapping; the other tenant sees none of it.

use aws_lambda_events::event::sqs::SqsBatchResponse;
use discord_sandbox::{GuildSeed, Sandbox};
use e2e::{
    emf::{self, assert_emitted},
    release_binary,
    runtime_api::{FunctionProcess, RuntimeApi},
    stack::{self, ADMIN, APPLICATION_ID, Aws},
};
use guildbridge_core::{
    domain::{Tenant, TenantId, metrics::*},
    store::{ApiKeyStore, TenantStore},
};
use guildbridge_host::provision::Provisioned;
use serde_json::{Value, json};

/// The `Host` the Function URL is reached at: the connect flow's redirect URI names it.
const HOST: &str = "guildbridgeweb.lambda-url.us-east-1.on.aws";

const GUILD_A: u64 = 1_100_000_000_000_000_100;
const GUILD_B: u64 = 1_100_000_000_000_000_900;
const LEAD: u64 = 1_100_000_000_000_010_003;
const VIEW_CHANNEL: u64 = 1 << 10;

/// A Function URL event (payload 2.0) for one request.
fn request(method: &str, target: &str, key: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Value {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut all = serde_json::Map::new();
    all.insert("authorization".to_owned(), json!(format!("Bearer {key}")));
    if body.is_some() {
        all.insert("content-type".to_owned(), json!("application/json"));
    }
    for (name, value) in headers {
        all.insert(name.to_ascii_lowercase(), json!(value));
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": all,
        "requestContext": {
            "accountId": "anonymous", "apiId": "guildbridgeweb",
            "domainName": "guildbridgeweb.lambda-url.us-east-1.on.aws", "domainPrefix": "guildbridgeweb",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.20", "userAgent": "club-site/1.0" },
            "requestId": "00000000-0000-4000-8000-000000000010", "routeKey": "$default", "stage": "$default",
            "time": "02/Dec/2026:09:00:00 +0000", "timeEpoch": 1_796_202_000_000u64
        },
        "body": body.map(|b| b.to_string()).unwrap_or_default(),
        "isBase64Encoded": false
    })
}

struct Web {
    api: RuntimeApi,
    process: FunctionProcess,
}

impl Web {
    async fn call(
        &self,
        method: &str,
        target: &str,
        key: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let answer = self.api.invoke(request(method, target, key, body, headers)).await.expect("invocation");
        e2e::events::http_answer(&answer).expect("an HTTP answer")
    }
}

/// A tenant as `guildbridge tenant create` makes it: its key, not yet connected.
async fn tenant_with_key(aws: &Aws, provisioned: &Provisioned, tenant: &str) -> String {
    let store = aws.store(provisioned);
    let tenant_id = TenantId::from(tenant);
    let record =
        Tenant { tenant_id: tenant_id.clone(), allowed_origins: vec!["https://crm.example".to_owned()], created_at: 1 };
    store.create_tenant(&record).await.expect("tenant");
    store.issue_api_key(&tenant_id, 1).await.expect("key").secret
}

/// The connect flow as a person goes through it: the platform asks for the link, the
/// person picks `guild` on Discord's page (the sandbox's), Discord's redirect lands on the
/// function's callback, they press Connect, and it sends them back to the platform.
async fn connect(web: &Web, sandbox: &Sandbox, key: &str, guild: u64) {
    let host = [("host", HOST)];
    let body = json!({ "return_url": "https://crm.example/settings/discord" });
    let (status, started) = web.call("POST", "/v1/connect", key, Some(body), &host).await;
    assert_eq!(status, 200, "{started}");
    let mut link = url::Url::parse(started["authorize_url"].as_str().expect("link")).expect("url");
    assert!(link.as_str().starts_with(&sandbox.base_url()), "the sandbox plays Discord's page: {link}");
    link.query_pairs_mut().append_pair("guild_id", &guild.to_string());
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let page = no_redirects.get(link).send().await.expect("authorize");
    let discord_sends_back = url::Url::parse(page.headers()["location"].to_str().expect("location")).expect("url");
    assert_eq!(discord_sends_back.host_str(), Some(HOST));
    let target = format!("{}?{}", discord_sends_back.path(), discord_sends_back.query().unwrap_or_default());
    let review = web.api.invoke(request("GET", &target, "", None, &[])).await.expect("invocation");
    assert_eq!(review["statusCode"], 200, "{review}");
    let token = stack::connect_confirmation(review["body"].as_str().unwrap_or_default()).expect("a Connect button");
    let form = url::form_urlencoded::Serializer::new(String::new()).append_pair("confirm", &token).finish();
    let mut confirm = request("POST", discord_sends_back.path(), "", None, &[]);
    confirm["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
    confirm["body"] = json!(form);
    let answer = web.api.invoke(confirm).await.expect("invocation");
    assert_eq!(answer["statusCode"], 303, "{answer}");
    let back = answer["headers"]["location"].as_str().expect("location");
    assert!(back.starts_with("https://crm.example/settings/discord?guildbridge_connect=connected"), "{back}");
    let (_, tenant) = web.call("GET", "/v1/tenant", key, None, &[]).await;
    assert_eq!(tenant["guild"]["id"], guild.to_string(), "{tenant}");
}

/// Hands the channel queue's waiting jobs to the worker as Lambda would; how many there were.
async fn work(aws: &Aws, provisioned: &Provisioned, worker: &RuntimeApi) -> usize {
    let batch = aws.receive_batch(&provisioned.channel_queue_url, 2).await;
    let jobs = batch.records.len();
    if jobs > 0 {
        let response = worker.invoke(serde_json::to_value(&batch).expect("event")).await.expect("worker");
        assert_eq!(response["batchItemFailures"], json!([]), "{response}");
        let settled: SqsBatchResponse = serde_json::from_value(response).expect("a batch response");
        aws.settle_batch(&provisioned.channel_queue_url, &batch, &settled).await;
    }
    jobs
}

#[tokio::test]
async fn a_platform_gets_one_private_channel_one_message_and_an_archive_reason_through_the_lambda() {
    let aws = Aws::connect();
    let provisioned = aws.provision(5).await;
    let sandbox = stack::sandbox(discord_sandbox::RateLimits::discord_like(), GUILD_A, ADMIN).await;
    // A second guild with the same owner, who may add the bot to either.
    sandbox.seed_guild(GuildSeed {
        id: GUILD_B,
        name: "Other CRM's server".to_owned(),
        bot_permissions: 0,
        roles: Vec::new(),
        members: 2,
        first_member_id: 1_100_000_000_000_010_000,
        bot_every: None,
    });
    let key_a = tenant_with_key(&aws, &provisioned, "crm-a").await;
    let key_b = tenant_with_key(&aws, &provisioned, "crm-b").await;

    let env = stack::web_env(&sandbox, &provisioned).await;
    let api = RuntimeApi::start().await.expect("runtime API");
    let process = FunctionProcess::spawn(&release_binary("web"), &api, &env).expect("spawn web");
    let web = Web { api, process };
    let worker_api = RuntimeApi::start().await.expect("runtime API");
    let worker_env = stack::worker_env(&sandbox, &provisioned, 120).await;
    let worker = FunctionProcess::spawn(&release_binary("channel-worker"), &worker_api, &worker_env).expect("spawn");
    connect(&web, &sandbox, &key_a, GUILD_A).await;
    connect(&web, &sandbox, &key_b, GUILD_B).await;

    let lead = json!({ "name": "Grace Hopper", "fields": { "company": "Navy" }, "discord_user_id": LEAD.to_string() });
    let (status, body) = web.call("PUT", "/v1/subjects/lead/42", &key_a, Some(lead), &[]).await;
    assert_eq!(status, 201, "{body}");
    let mut job_ids = Vec::new();
    for _ in 0..3 {
        let (status, body) = web.call("POST", "/v1/subjects/lead/42/channel", &key_a, None, &[]).await;
        assert_eq!(status, 202, "{body}");
        job_ids.push(body["job"]["id"].clone());
    }
    assert!(job_ids.windows(2).all(|pair| pair[0] == pair[1]), "{job_ids:?}");
    assert_eq!(work(&aws, &provisioned, &worker_api).await, 1, "three asks, one job");

    let channels: Vec<_> = sandbox.with_world(|world| world.guild_channels(GUILD_A).cloned().collect());
    assert_eq!(channels.len(), 1, "one channel: {channels:?}");
    let sees = |who: u64| {
        channels[0].overwrites.iter().any(|overwrite| {
            let allow = overwrite["allow"].as_str().and_then(|bits| bits.parse::<u64>().ok()).unwrap_or(0);
            overwrite["id"] == who.to_string().as_str() && allow & VIEW_CHANNEL != 0
        })
    };
    assert!(sees(LEAD) && sees(APPLICATION_ID), "the lead and the bot see it: {:?}", channels[0].overwrites);
    let everyone_denied = channels[0].overwrites.iter().any(|overwrite| {
        let deny = overwrite["deny"].as_str().and_then(|bits| bits.parse::<u64>().ok()).unwrap_or(0);
        overwrite["id"] == GUILD_A.to_string().as_str() && deny & VIEW_CHANNEL != 0
    });
    assert!(everyone_denied, "private: {:?}", channels[0].overwrites);
    let (status, channel) = web.call("GET", "/v1/subjects/lead/42/channel", &key_a, None, &[]).await;
    assert_eq!((status, channel["status"].clone()), (200, json!("active")), "{channel}");
    assert_eq!(channel["url"], format!("https://discord.com/channels/{GUILD_A}/{}", channels[0].id));

    let message = json!({ "content": "Hello Grace, thanks for your interest." });
    let key = [("idempotency-key", "welcome-42")];
    let first = web.call("POST", "/v1/subjects/lead/42/messages", &key_a, Some(message.clone()), &key).await;
    let again = web.call("POST", "/v1/subjects/lead/42/messages", &key_a, Some(message), &key).await;
    assert_eq!(first.0, 202, "{}", first.1);
    assert_eq!(again, first, "the replay answers as the first time");
    assert_eq!(work(&aws, &provisioned, &worker_api).await, 1, "one message job");
    let posted = sandbox.with_world(|world| world.messages.get(&channels[0].id).cloned().unwrap_or_default());
    let ours: Vec<_> =
        posted.iter().filter(|m| m["content"].as_str().is_some_and(|c| c.starts_with("Hello Grace"))).collect();
    assert_eq!(ours.len(), 1, "exactly one Discord message: {posted:?}");
    let job_id = first.1["job"]["id"].as_str().expect("job id");
    let (status, job) = web.call("GET", &format!("/v1/jobs/{job_id}"), &key_a, None, &[]).await;
    assert_eq!((status, job["status"].clone()), (200, json!("done")), "{job}");
    assert_eq!(job["result"]["message_id"], ours[0]["id"], "the job names the message it posted: {job}");

    let reason = json!({ "reason": "deal closed" });
    let (status, _) = web.call("DELETE", "/v1/subjects/lead/42/channel", &key_a, Some(reason), &[]).await;
    assert_eq!(status, 202);
    assert_eq!(work(&aws, &provisioned, &worker_api).await, 1);
    let (_, channel) = web.call("GET", "/v1/subjects/lead/42/channel", &key_a, None, &[]).await;
    assert_eq!((channel["status"].clone(), channel["reason"].clone()), (json!("archived"), json!("deal closed")));

    // The other tenant: 404 for A's lead, and its own empty listing.
    let (status, _) = web.call("GET", "/v1/subjects/lead/42", &key_b, None, &[]).await;
    assert_eq!(status, 404);
    let (status, listed) = web.call("GET", "/v1/channels?status=archived", &key_b, None, &[]).await;
    assert_eq!((status, listed["items"].clone()), (200, json!([])));
    let (status, _) = web.call("GET", "/v1/tenant", "gbk_revoked-or-never-issued", None, &[]).await;
    assert_eq!(status, 401);

    let found = emf::emitted(&web.process.logs(), "Guildbridge");
    for class in ["2xx", "3xx", "4xx"] {
        assert_emitted(&found, "web", &WEB_RESPONSES, &[("status", class)]);
    }
    let archived = emf::emitted(&worker.logs(), "Guildbridge");
    assert_emitted(&archived, "channel-worker", &JOBS, &[("job", "archive_channel"), ("outcome", "done")]);
}

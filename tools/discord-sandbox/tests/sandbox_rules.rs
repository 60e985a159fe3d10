//! The sandbox itself: it refuses what Discord refuses, in Discord's format.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;

use discord_sandbox::{GuildSeed, RateLimits, Sandbox, SandboxConfig};
use serde_json::{Value, json};

const GUILD: u64 = 1_200_000_000_000_000_001;

async fn start(openapi: Option<PathBuf>) -> Sandbox {
    let config = SandboxConfig::new("t", openapi, RateLimits::generous());
    let sandbox = Sandbox::start(config, "127.0.0.1:0".parse().expect("addr")).await.expect("start");
    sandbox.seed_guild(GuildSeed {
        id: GUILD,
        name: "g".to_owned(),
        bot_permissions: 1 << 3,
        roles: Vec::new(),
        members: 10,
        first_member_id: 1_000,
        bot_every: None,
    });
    sandbox
}

async fn post(sandbox: &Sandbox, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", sandbox.base_url()))
        .header("authorization", "Bot t")
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let json = response.json().await.unwrap_or(Value::Null);
    if status < 300 {
        assert!(headers.contains_key("x-ratelimit-bucket") && headers.contains_key("x-ratelimit-remaining"));
    }
    (status, json)
}

#[tokio::test]
async fn bodies_that_break_the_openapi_document_are_refused() {
    let Some(path) = std::env::var_os("DISCORD_OPENAPI_PATH").map(PathBuf::from) else {
        assert!(std::env::var_os("CI").is_none(), "CI validates against Discord's OpenAPI document");
        eprintln!("DISCORD_OPENAPI_PATH is not set: request validation is off for this run");
        return;
    };
    let sandbox = start(Some(path)).await;
    assert!(sandbox.validates());
    let channels = format!("/guilds/{GUILD}/channels");
    let (status, body) = post(&sandbox, &channels, json!({ "name": "ok", "type": "text" })).await;
    assert_eq!((status, body["code"].clone()), (400, json!(50035)), "{body}");
    let (status, body) = post(&sandbox, &channels, json!({ "name": "ok", "bogus_type_field": 1, "topic": 5 })).await;
    assert_eq!(status, 400, "{body}");
    let overwrite = json!({ "id": GUILD.to_string(), "type": 0, "allow": "0", "deny": "1024" });
    let (status, body) =
        post(&sandbox, &channels, json!({ "name": "private", "permission_overwrites": [overwrite] })).await;
    assert_eq!(status, 201, "string bit sets, as Discord documents and accepts them: {body}");
    let bad = json!({ "id": GUILD.to_string(), "type": 0, "allow": "lots", "deny": "0" });
    let (status, _) = post(&sandbox, &channels, json!({ "name": "private", "permission_overwrites": [bad] })).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn discord_rules_and_error_codes() {
    let sandbox = start(None).await;
    let channels = format!("/guilds/{GUILD}/channels");
    let (status, body) = post(&sandbox, &channels, json!({ "name": "x".repeat(101) })).await;
    assert_eq!((status, body["code"].clone()), (400, json!(50035)));
    let (status, body) = post(&sandbox, "/guilds/1/channels", json!({ "name": "x" })).await;
    assert_eq!((status, body["code"].clone()), (404, json!(10004)));
    let (status, category) = post(&sandbox, &channels, json!({ "name": "Series", "type": 4 })).await;
    assert_eq!(status, 201);
    let parent = category["id"].as_str().expect("id").to_owned();
    for n in 0..50 {
        let (status, body) = post(&sandbox, &channels, json!({ "name": format!("C {n}"), "parent_id": parent })).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["name"], format!("c-{n}"), "text channel names are normalised");
    }
    let (status, body) = post(&sandbox, &channels, json!({ "name": "fifty-first", "parent_id": parent })).await;
    assert_eq!((status, body["code"].clone()), (400, json!(50035)));
    assert!(body["errors"]["parent_id"].to_string().contains("CHANNEL_PARENT_MAX_CHANNELS"), "{body}");

    let members = reqwest::Client::new()
        .get(format!("{}/guilds/{GUILD}/members?limit=1001", sandbox.base_url()))
        .header("authorization", "Bot t")
        .send()
        .await
        .expect("send");
    assert_eq!(members.status().as_u16(), 400, "pages are 1..=1000 members");
    let unauthorized =
        reqwest::Client::new().get(format!("{}/guilds/{GUILD}", sandbox.base_url())).send().await.expect("send");
    assert_eq!(unauthorized.status().as_u16(), 401);
}

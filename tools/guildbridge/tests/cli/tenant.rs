//! `guildbridge tenant ...` and the local stack's tenant API: an operator makes a tenant and
//! its keys; the demo tenant's key from the banner drives a subject to an active channel in
//! the sandbox; a key revoked from the command line is refused at once by the running stack.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::Command;

use super::{
    BIN,
    local::{Local, TempDir},
};

async fn tenant(data_dir: &TempDir, args: &[&str]) -> (bool, String) {
    let output = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data_dir.0)
        .arg("tenant")
        .args(args)
        .env_remove("TABLE_NAME")
        .output()
        .await
        .expect("run tenant");
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

fn printed(text: &str, label: &str) -> String {
    text.lines().find_map(|line| line.split(label).nth(1)).unwrap_or_default().trim().to_owned()
}

#[tokio::test]
async fn an_operator_creates_a_tenant_with_one_key_shown_once_and_manages_its_keys() {
    let dir = TempDir::new("tenant-cli");
    let (ok, text) = tenant(&dir, &["create", "club", "--allowed-origin", "https://club.example"]).await;
    assert!(ok, "{text}");
    let key = printed(&text, "API key (shown once):");
    assert!(key.starts_with("gbk_") && key.len() > 40, "{text}");
    let (ok, again) = tenant(&dir, &["create", "club", "--allowed-origin", "https://club.example"]).await;
    assert!(!ok && again.contains("already exists"), "{again}");
    let (ok, bad) = tenant(&dir, &["create", "other", "--allowed-origin", "https://club.example/back"]).await;
    assert!(!ok && bad.contains("not an origin"), "{bad}");

    assert!(tenant(&dir, &["key", "create", "club"]).await.0);
    let (ok, listed) = tenant(&dir, &["key", "list", "club"]).await;
    assert!(ok, "{listed}");
    assert_eq!(listed.lines().filter(|line| line.contains("active")).count(), 2, "{listed}");
    assert!(!listed.contains("gbk_"), "a listing never shows a key: {listed}");
    let key_id = listed.split_whitespace().next().expect("an id").to_owned();
    assert!(tenant(&dir, &["key", "revoke", "club", &key_id]).await.0);
    let (_, listed) = tenant(&dir, &["key", "list", "club"]).await;
    assert_eq!(listed.lines().filter(|line| line.contains("revoked")).count(), 1, "{listed}");
    let (ok, missing) = tenant(&dir, &["key", "list", "nobody"]).await;
    assert!(!ok && missing.contains("no tenant nobody"), "{missing}");
}

async fn send(method: reqwest::Method, url: &str, key: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the local stack answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_demo_tenant_drives_a_subject_to_an_active_channel_until_its_key_is_revoked() {
    let dir = TempDir::new("tenant-api");
    let local = Local::start(&dir).await;
    let key = printed(&local.banner, "demo tenant's API key").split_whitespace().next().unwrap_or_default().to_owned();
    assert!(key.starts_with("gbk_"), "{}", local.banner);
    let api = local.endpoint.replace("/interactions", "/v1");
    let (status, me) = send(reqwest::Method::GET, &format!("{api}/tenant"), &key, None).await;
    assert_eq!((status, me["tenant_id"].clone()), (200, json!("demo")), "{me}");
    assert_eq!(me["permissions"]["missing"], json!([]), "the sandbox bot has what it needs");

    let subject = json!({ "name": "Lead Forty-Two", "discord_user_id": "1100000000000000201" });
    let (status, _) = send(reqwest::Method::PUT, &format!("{api}/subjects/lead/42"), &key, Some(subject)).await;
    assert_eq!(status, 201);
    let (status, asked) = send(reqwest::Method::POST, &format!("{api}/subjects/lead/42/channel"), &key, None).await;
    assert_eq!(status, 202, "{asked}");
    let mut channel = Value::Null;
    for _ in 0..120 {
        let (_, read) = send(reqwest::Method::GET, &format!("{api}/subjects/lead/42/channel"), &key, None).await;
        if read["status"] == "active" {
            channel = read;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let text_id = channel["text_channel_id"].as_str().expect("the channel became active").to_owned();
    let channels = local.channels().await;
    let made = channels.iter().find(|c| c["id"] == text_id.as_str()).expect("the sandbox has it");
    let lead_sees = made["permission_overwrites"].as_array().expect("overwrites").iter().any(|overwrite| {
        let allow = overwrite["allow"].as_str().and_then(|bits| bits.parse::<u64>().ok()).unwrap_or(0);
        overwrite["id"] == "1100000000000000201" && allow & (1 << 10) != 0
    });
    assert!(lead_sees, "a private channel the lead can see: {made}");

    let (_, listed) = tenant(&dir, &["key", "list", "demo"]).await;
    let key_id = listed.split_whitespace().next().expect("the demo key's id").to_owned();
    assert!(tenant(&dir, &["key", "revoke", "demo", &key_id]).await.0);
    let (status, _) = send(reqwest::Method::GET, &format!("{api}/tenant"), &key, None).await;
    assert_eq!(status, 401, "revoked from the command line, refused by the running stack at once");
    local.stop().await;
}

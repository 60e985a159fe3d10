//! `guildbridge interact`: play Discord. Build the interaction a user's command line would
//! produce, sign it with the development key, send it, show the answer, and follow a
//! deferred answer until the worker edits it.

use std::{path::Path, time::Duration};

use anyhow::Context;
use guildbridge_core::{
    interactions::commands::manifest,
    test_support::interactions::{self as fake_discord, Invoker},
};
use serde_json::Value;

use crate::{dev_keys::DevKeys, render, session::Session};

const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8787/interactions";
/// Discord's message flag for a deferred answer still "thinking".
const LOADING: u64 = 1 << 7;

#[derive(Debug, Clone)]
pub struct Options {
    /// `None`: the running local stack's endpoint, else the default address.
    pub endpoint: Option<String>,
    pub dm: bool,
    pub json: bool,
    /// The channel the command is typed in (e.g. `/channel info` in a created channel).
    pub channel: Option<u64>,
    /// How long to wait for a deferred answer's edit.
    pub wait: Duration,
}

pub async fn run(data_dir: &Path, line: &str, options: Options) -> anyhow::Result<()> {
    let keys = DevKeys::load_or_create(data_dir)?;
    let session = Session::load(data_dir);
    let endpoint = options
        .endpoint
        .clone()
        .or_else(|| session.as_ref().map(|s| s.endpoint.clone()))
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
    let defaults = Invoker::default();
    let invoker = Invoker {
        guild_id: if options.dm { None } else { defaults.guild_id },
        channel_id: options.channel.unwrap_or(defaults.channel_id),
        application_id: session.as_ref().map_or(defaults.application_id, |s| s.application_id),
        ..defaults
    };
    let client = reqwest::Client::new();
    // With the sandbox playing Discord, the interaction carries a token it knows, so the
    // worker's edit of the deferred answer can be read back.
    let sandbox = session.as_ref().and_then(|s| s.sandbox_url.clone());
    let token = match &sandbox {
        Some(sandbox) => Some(issue_token(&client, sandbox, &invoker).await?),
        None => None,
    };
    let interaction_id = fake_discord::new_snowflake();
    let mut interaction = fake_discord::command(line, &manifest(), &invoker, interaction_id)?;
    if let Some(token) = &token {
        interaction["token"] = Value::from(token.clone());
    }
    let signed = fake_discord::sign(&keys.signing, fake_discord::unix_now(), serde_json::to_vec(&interaction)?);

    let response = client
        .post(&endpoint)
        .header("content-type", "application/json")
        .header("x-signature-ed25519", &signed.signature)
        .header("x-signature-timestamp", &signed.timestamp)
        .body(signed.body)
        .send()
        .await
        .with_context(|| format!("sending to {endpoint} (is `guildbridge local` running?)"))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    show(&body, status.as_u16(), options.json)?;
    if !status.is_success() {
        anyhow::bail!("the endpoint answered HTTP {status}");
    }
    if body["type"].as_u64() != Some(5) {
        return Ok(());
    }
    let (Some(sandbox), Some(token)) = (sandbox, token) else {
        println!("(deferred: the answer is edited in Discord; only a local stack's sandbox can be followed here)");
        return Ok(());
    };
    let url = format!("{sandbox}/api/v10/webhooks/{}/{token}/messages/@original", invoker.application_id);
    let edited = follow(&client, &url, options.wait).await?;
    if options.json {
        println!("{}", serde_json::to_string_pretty(&edited)?);
    } else {
        println!("{}", render::edited(&edited));
    }
    Ok(())
}

fn show(body: &Value, status: u16, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(body)?);
    } else {
        println!("{}", render::answer(status, body));
    }
    Ok(())
}

async fn issue_token(client: &reqwest::Client, sandbox: &str, invoker: &Invoker) -> anyhow::Result<String> {
    let request = serde_json::json!({
        "application_id": invoker.application_id.to_string(),
        "channel_id": invoker.channel_id.to_string(),
    });
    let answer: Value = client
        .post(format!("{sandbox}/sandbox/interactions"))
        .json(&request)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .with_context(|| format!("asking the sandbox at {sandbox} for a token (is `guildbridge local` running?)"))?
        .json()
        .await?;
    answer["token"].as_str().map(str::to_owned).context("the sandbox issued no token")
}

/// Polls the original response until it is no longer "thinking" (Discord's own endpoint:
/// `GET /webhooks/{application}/{token}/messages/@original`).
async fn follow(client: &reqwest::Client, url: &str, wait: Duration) -> anyhow::Result<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let response = client.get(url).send().await.context("reading the deferred answer")?;
        if response.status().is_success() {
            let message: Value = response.json().await?;
            if message["flags"].as_u64().unwrap_or(0) & LOADING == 0 {
                return Ok(message);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("no edited answer within {} s (is the worker running? see its logs)", wait.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

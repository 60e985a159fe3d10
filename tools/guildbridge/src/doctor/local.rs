//! The running local stack: its endpoint answers a signed PING, and Discord (the sandbox,
//! or real Discord with a bot token) is set up for it as for a deployment.

use std::path::Path;

use guildbridge_core::{
    discord::rest::{BotToken, DiscordClient},
    test_support::interactions as fake_discord,
};
use guildbridge_host::{
    config::{self, EnvSource, ProcessEnv},
    wiring::Backends,
};
use twilight_model::id::Id;

use super::{Deployment, Finding, discord};
use crate::{dev_keys::DevKeys, local_sandbox, session::Session};

pub async fn check(data_dir: &Path) -> Vec<Finding> {
    let Some(session) = Session::load(data_dir) else {
        return vec![Finding::problem(
            "local stack",
            format!("no `guildbridge local` is running from {}", data_dir.display()),
            "start it (`cargo run -p guildbridge -- local`), or name a deployment (`doctor --help`)",
        )];
    };
    let mut findings = vec![ping(data_dir, &session.endpoint).await];
    let (base, token) = match &session.sandbox_url {
        Some(sandbox) => (format!("{sandbox}/api/v10"), local_sandbox::BOT_TOKEN.to_owned()),
        None => match (ProcessEnv.get(config::DISCORD_API_BASE_URL), ProcessEnv.get(config::DISCORD_BOT_TOKEN)) {
            (base, Some(token)) => (base.unwrap_or_else(|| "https://discord.com/api/v10".to_owned()), token),
            (_, None) => {
                findings.push(Finding::skipped(
                    "Discord",
                    "the stack runs against real Discord: set DISCORD_BOT_TOKEN to check it",
                ));
                return findings;
            }
        },
    };
    let client = match url::Url::parse(&base).map(|url| DiscordClient::new(url, BotToken::new(token))) {
        Ok(Ok(client)) => client,
        _ => {
            findings.push(Finding::problem(
                "Discord",
                format!("{base} is not a usable address"),
                "check DISCORD_API_BASE_URL",
            ));
            return findings;
        }
    };
    let backends = match Backends::embedded(&data_dir.join("data")) {
        Ok((backends, _)) => backends,
        Err(error) => {
            findings.push(Finding::problem(
                "store",
                format!("the local store did not open: {error}"),
                "stop the stack, then start it again",
            ));
            return findings;
        }
    };
    let web = session.endpoint.trim_end_matches("/interactions").to_owned();
    let expect = Deployment { interactions_url: Some(session.endpoint.clone()), web_url: Some(web) };
    findings.extend(discord::check(&client, backends.store.as_ref(), Id::new(session.application_id), &expect).await);
    findings
}

/// Discord's first request to a new endpoint: a PING, signed with the development key.
async fn ping(data_dir: &Path, endpoint: &str) -> Finding {
    let check = "interactions endpoint answers";
    let keys = match DevKeys::load_or_create(data_dir) {
        Ok(keys) => keys,
        Err(error) => {
            return Finding::problem(
                check,
                format!("the development keys: {error:#}"),
                "delete them and restart the stack",
            );
        }
    };
    let body = serde_json::json!({ "type": 1, "id": "1", "application_id": "1", "token": "doctor", "version": 1 });
    let signed = fake_discord::sign(&keys.signing, fake_discord::unix_now(), body.to_string().into_bytes());
    let answer = reqwest::Client::new()
        .post(endpoint)
        .header("content-type", "application/json")
        .header("x-signature-ed25519", &signed.signature)
        .header("x-signature-timestamp", &signed.timestamp)
        .body(signed.body)
        .send()
        .await;
    let pong = match answer {
        Ok(answer) => answer.json::<serde_json::Value>().await.ok(),
        Err(error) => {
            return Finding::problem(
                check,
                format!("{endpoint} did not answer: {error}"),
                "is `guildbridge local` still running?",
            );
        }
    };
    match pong {
        Some(pong) if pong["type"] == 1 => Finding::ok(check, format!("{endpoint} answers a signed PING")),
        other => Finding::problem(
            check,
            format!("{endpoint} answered a signed PING with {other:?}"),
            "the stack's public key is not the development key's: unset DISCORD_PUBLIC_KEY or restart it",
        ),
    }
}

//! `guildbridge interact`: play Discord. Build the interaction a user's command line would
//! produce, sign it with the development key, send it, and show the answer.

use std::path::Path;

use anyhow::Context;
use shared::discord::{
    commands::manifest,
    simulate::{self, Invoker},
};

use crate::{dev_keys::DevKeys, render};

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub dm: bool,
    pub json: bool,
}

pub async fn run(data_dir: &Path, line: &str, endpoint: &str, options: Options) -> anyhow::Result<()> {
    let keys = DevKeys::load_or_create(data_dir)?;
    let invoker =
        Invoker { guild_id: if options.dm { None } else { Invoker::default().guild_id }, ..Invoker::default() };
    let interaction_id = simulate::new_snowflake();
    let interaction = simulate::command(line, &manifest(), &invoker, interaction_id)?;
    let signed = simulate::sign(&keys.signing, simulate::unix_now(), serde_json::to_vec(&interaction)?);

    let response = reqwest::Client::new()
        .post(endpoint)
        .header("content-type", "application/json")
        .header("x-signature-ed25519", &signed.signature)
        .header("x-signature-timestamp", &signed.timestamp)
        .body(signed.body)
        .send()
        .await
        .with_context(|| format!("sending to {endpoint} (is `guildbridge local` running?)"))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
    if options.json {
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        println!("{}", render::answer(status.as_u16(), &body));
    }
    if !status.is_success() {
        anyhow::bail!("the endpoint answered HTTP {status}");
    }
    Ok(())
}

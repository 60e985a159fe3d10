//! `guildbridge register-commands`: bulk-overwrites the application's commands from the one
//! command manifest (`guildbridge_core::interactions::commands`). Discord allows 200 command creations a
//! day per application, so a hash of what was last registered, per application and guild, is
//! kept in the data folder and an unchanged manifest sends nothing.

use std::{
    collections::{BTreeMap, HashMap},
    fs,
    path::Path,
    time::Duration,
};

use anyhow::Context;
use guildbridge_core::{discord::rest::DiscordClient, interactions::commands::manifest};
use guildbridge_host::config::{self, DiscordConfig, EnvSource, ProcessEnv};
use sha2::Digest;
use twilight_model::id::Id;

use crate::{local_sandbox, session::Session};

const HASHES_FILE: &str = "registered-commands.json";

#[derive(Debug, Clone)]
pub struct Options {
    pub guild: Option<u64>,
    pub dry_run: bool,
    pub force: bool,
}

/// Where commands go: Discord from the environment, else a running local stack's sandbox.
struct Target {
    discord: DiscordConfig,
    application_id: u64,
}

impl Target {
    fn resolve(data_dir: &Path) -> anyhow::Result<Self> {
        if ProcessEnv.get(config::DISCORD_BOT_TOKEN).is_none()
            && let Some(session) = Session::load(data_dir)
            && let Some(sandbox) = session.sandbox_url
        {
            let env = HashMap::from([
                (config::DISCORD_BOT_TOKEN.to_owned(), local_sandbox::BOT_TOKEN.to_owned()),
                (config::DISCORD_API_BASE_URL.to_owned(), format!("{sandbox}/api/v10")),
            ]);
            return Ok(Self { discord: DiscordConfig::from_source(&env)?, application_id: session.application_id });
        }
        let discord = DiscordConfig::from_env()?;
        let application_id = ProcessEnv
            .get(config::DISCORD_APPLICATION_ID)
            .and_then(|raw| raw.parse::<u64>().ok())
            .filter(|id| *id > 0)
            .with_context(|| format!("{} must be the application's id", config::DISCORD_APPLICATION_ID))?;
        Ok(Self { discord, application_id })
    }

    /// One hash slot per API, application and guild (global when `None`).
    fn key(&self, guild: Option<u64>) -> String {
        let scope = guild.map_or("global".to_owned(), |guild| format!("guild:{guild}"));
        format!("{} application:{} {scope}", self.discord.api_base_url, self.application_id)
    }
}

pub async fn run(data_dir: &Path, options: Options) -> anyhow::Result<()> {
    let commands = manifest();
    let body = serde_json::to_string_pretty(&commands)?;
    if options.dry_run {
        println!("{body}");
        return Ok(());
    }
    let target = Target::resolve(data_dir)?;
    let key = target.key(options.guild);
    let hash = hex::encode(sha2::Sha256::digest(body.as_bytes()));
    let mut hashes = load_hashes(data_dir);
    if !options.force && hashes.get(&key) == Some(&hash) {
        println!("Commands unchanged since the last registration ({key}); nothing sent. --force sends anyway.");
        return Ok(());
    }
    let client = DiscordClient::new(target.discord.api_base_url.clone(), target.discord.bot_token.clone())?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let registered = client
        .bulk_overwrite_commands(Id::new(target.application_id), options.guild.map(Id::new), &commands, deadline)
        .await
        .map_err(|error| anyhow::anyhow!("Discord refused the commands: {}", error.explain()))?;
    hashes.insert(key.clone(), hash);
    save_hashes(data_dir, &hashes)?;
    let names: Vec<String> = registered.iter().map(|command| format!("/{}", command.name)).collect();
    println!("Registered {} commands ({key}): {}", registered.len(), names.join(", "));
    Ok(())
}

fn load_hashes(data_dir: &Path) -> BTreeMap<String, String> {
    fs::read(data_dir.join(HASHES_FILE)).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default()
}

fn save_hashes(data_dir: &Path, hashes: &BTreeMap<String, String>) -> anyhow::Result<()> {
    fs::create_dir_all(data_dir)?;
    let path = data_dir.join(HASHES_FILE);
    fs::write(&path, serde_json::to_vec_pretty(hashes)?).with_context(|| format!("writing {}", path.display()))
}

//! `guildbridge local`: the interactions endpoint on 127.0.0.1, wired exactly as in Lambda.

use std::{collections::HashMap, net::SocketAddr, path::Path, sync::Arc};

use anyhow::Context;
use shared::{
    config::{self, EnvSource, InteractionsConfig, ProcessEnv},
    interactions::{self, InteractionService},
    telemetry,
    wiring::Backends,
};

use crate::dev_keys::DevKeys;

/// The process environment first, then local defaults: real Discord settings win when given.
struct WithDefaults(HashMap<String, String>);

impl EnvSource for WithDefaults {
    fn get(&self, name: &str) -> Option<String> {
        ProcessEnv.get(name).or_else(|| self.0.get(name).cloned())
    }
}

pub async fn run(data_dir: &Path, addr: SocketAddr) -> anyhow::Result<()> {
    telemetry::init_json_logs();
    let keys = DevKeys::load_or_create(data_dir)?;
    // Bind first: with port 0 the address that links point at is only known afterwards.
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let addr = listener.local_addr()?;
    let defaults = WithDefaults(HashMap::from([
        (config::DISCORD_PUBLIC_KEY.to_owned(), keys.public_key_hex()),
        (config::STATE_SIGNING_KEY.to_owned(), keys.state_secret.clone()),
        (config::SETTINGS_URL.to_owned(), format!("http://{addr}/settings")),
    ]));
    let config = InteractionsConfig::from_source(&defaults)?;
    let using_dev_key = config.public_key == keys.signing.verifying_key();
    let (backends, _queue) = Backends::embedded(&data_dir.join("data"))?;
    let service = InteractionService::from_config(&config, &backends)?;
    let app = interactions::http::router(Arc::new(service));

    println!("Guildbridge is running locally.");
    println!("  interactions endpoint  http://{addr}/interactions");
    println!("  public key             {}", hex::encode(config.public_key.as_bytes()));
    if using_dev_key {
        println!("  signing key            {} (development only)", data_dir.join("dev-signing-key.hex").display());
        println!("Try it:  cargo run -p guildbridge -- interact '/settings' --endpoint http://{addr}/interactions");
    }
    println!("Ctrl-C stops it.");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    println!("Stopped.");
    Ok(())
}

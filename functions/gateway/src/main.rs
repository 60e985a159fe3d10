//! The optional Gateway ingest: a long-running process (an ECS Fargate task), not a Lambda.
//! Thin glue: the store, the outbox and the Discord client built once; the shards run until
//! SIGTERM (ECS stops a task so) or Ctrl-C. `GATEWAY_SHARDS` (`first..end`) and
//! `GATEWAY_SHARD_TOTAL` split the shards over several tasks; unset, one task runs Discord's
//! recommendation.

use guildbridge_host::{gateway, startup, telemetry, wiring};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    telemetry::init_json_logs();
    startup::metrics("gateway", Some(guildbridge_host::metrics::LONG_RUN_FLUSH)).map_err(startup::cannot_start)?;
    let host = startup::worker().await.map_err(startup::cannot_start)?;
    let options = gateway::GatewayOptions::from_env(
        std::env::var("GATEWAY_SHARDS").ok().as_deref(),
        std::env::var("GATEWAY_SHARD_TOTAL").ok().as_deref(),
    )?;
    let (ingest, client) = wiring::gateway_ingest(&host.backends, &host.discord, &host.worker)?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        gateway::terminated().await;
        tracing::info!("stopping the gateway ingest");
        let _ = stop.send(true);
    });
    gateway::run(ingest, client, &host.discord.bot_token, options, stopped).await.inspect_err(|error| {
        tracing::error!(error = %guildbridge_core::domain::error::Report(error), "the gateway ingest stopped");
    })?;
    Ok(())
}

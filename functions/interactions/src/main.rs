//! Lambda function for Discord's interactions webhook. Thin glue: configuration, adapters and
//! the router are built once at init; each event goes to `shared`'s interaction service.

use std::sync::Arc;

use shared::{
    config::{InteractionsConfig, QueueConfig, StoreConfig},
    interactions,
    interactions::InteractionService,
    secrets::HostEnv,
    telemetry,
    wiring::{self, Backends},
};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_json_logs();
    let env = HostEnv::load().await.inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let config = InteractionsConfig::from_source(&env).inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let store = StoreConfig::from_source(&env).inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let queues = QueueConfig::from_source(&env).inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let (backends, _) = Backends::aws_within(&store, &queues, wiring::INTERACTION_CALLS).await;
    let service = InteractionService::from_config(&config, &backends)
        .inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    lambda_http::run(interactions::http::router(Arc::new(service))).await
}

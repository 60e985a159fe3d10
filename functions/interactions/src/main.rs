//! Lambda function for Discord's interactions webhook. Thin glue: configuration and the
//! router are built once at init; each event goes to `shared`'s interaction service.

use std::sync::Arc;

use shared::{config::InteractionsConfig, interactions, interactions::InteractionService, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_json_logs();
    let config = InteractionsConfig::from_env().inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let service =
        InteractionService::from_config(&config).inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    lambda_http::run(interactions::http::router(Arc::new(service))).await
}

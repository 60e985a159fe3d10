//! Lambda function for Discord's interactions webhook. Thin glue: configuration, adapters and
//! the router are built once at init; each event goes to the core's interaction service.

use std::sync::Arc;

use guildbridge_core::interactions;
use guildbridge_host::{startup, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_json_logs();
    let service = startup::interactions().await.map_err(startup::cannot_start)?;
    lambda_http::run(interactions::http::router(Arc::new(service))).await
}

//! Lambda function for Discord's interactions webhook. Thin glue: configuration, adapters and
//! the router are built once at init; each event goes to the core's interaction service.

use std::sync::Arc;

use guildbridge_core::interactions;
use guildbridge_host::{metrics, startup, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_json_logs();
    let flush = startup::metrics("interactions", None).map_err(startup::cannot_start)?;
    let service = startup::interactions().await.map_err(startup::cannot_start)?;
    let router = interactions::http::router(Arc::new(service));
    lambda_http::run(metrics::Flushing::new(flush, router)).await
}

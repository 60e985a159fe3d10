//! Lambda function for the tenant REST API (`/v1`), the connect callback and the settings page
//! (`/settings`). Thin glue:
//! configuration, adapters and the router are built once at init; each request goes to the
//! core's API router.

use guildbridge_host::{metrics, startup, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_json_logs();
    let flush = startup::metrics("web", None).map_err(startup::cannot_start)?;
    let app = startup::web().await.map_err(startup::cannot_start)?;
    lambda_http::run(metrics::Flushing::new(flush, app)).await
}

//! Lambda function for platform webhook deliveries. Thin glue: configuration, adapters and
//! the worker are built once at init; each SQS batch goes to the core's batch runner.

use guildbridge_host::{startup, telemetry};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_json_logs();
    startup::serve_webhooks().await
}

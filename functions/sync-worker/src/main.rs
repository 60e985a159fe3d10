//! Lambda function for member sync jobs. Thin glue: configuration, adapters and the worker
//! are built once at init; each SQS batch goes to the core's batch runner.

use guildbridge_core::domain::QueueKind;
use guildbridge_host::{startup, telemetry, wiring};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_json_logs();
    startup::serve_worker(QueueKind::Sync, |host| wiring::sync_worker(&host.backends, &host.discord, &host.worker))
        .await
}

//! Lambda function for channel jobs. Thin glue: configuration, adapters and the worker are
//! built once at init; each SQS batch goes to the core's batch runner, which answers with
//! partial batch failures.

use guildbridge_core::domain::QueueKind;
use guildbridge_host::{startup, telemetry, wiring};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_json_logs();
    startup::serve_worker(QueueKind::Channel, |host| {
        wiring::channel_worker(host.backends.store.clone(), &host.discord, &host.worker)
    })
    .await
}

//! Lambda function for member sync jobs. Thin glue: configuration, adapters and the worker
//! are built once at init; each SQS batch goes to the core's batch runner.

use guildbridge_core::{
    domain::QueueKind,
    host::{startup, telemetry, wiring},
    worker::lambda,
};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_json_logs();
    let host = startup::worker().await.map_err(startup::cannot_start)?;
    let worker =
        wiring::sync_worker(&host.backends, &host.discord).map_err(|error| startup::cannot_start(error.into()))?;
    let redelivery = host.sqs.redelivery(QueueKind::Sync);
    let policy = wiring::batch_policy(QueueKind::Sync, &host.worker);
    lambda::serve(&worker, &redelivery, host.backends.store.as_ref(), policy).await
}

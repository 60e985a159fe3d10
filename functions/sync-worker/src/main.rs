//! Lambda function for member sync jobs. Thin glue: configuration, adapters and the worker
//! are built once at init; each SQS batch goes to `shared`'s batch runner.

use shared::{
    queue::{QueueKind, lambda},
    telemetry,
    wiring::{self, WorkerHost},
};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_json_logs();
    let host = WorkerHost::from_env().await.inspect_err(|problems| tracing::error!(%problems, "cannot start"))?;
    let worker = wiring::sync_worker(&host.backends, &host.discord)
        .inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    lambda::serve(&worker, &host.sqs.redelivery(QueueKind::Sync), wiring::batch_policy(&host.worker)).await
}

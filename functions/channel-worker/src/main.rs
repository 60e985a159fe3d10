//! Lambda function for channel jobs. Thin glue: configuration, adapters and the worker are
//! built once at init; each SQS batch goes to `shared`'s batch runner, which answers with
//! partial batch failures.

use shared::{
    queue::{QueueKind, lambda},
    telemetry,
    wiring::{self, WorkerHost},
};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_json_logs();
    let host = WorkerHost::from_env().await.inspect_err(|problems| tracing::error!(%problems, "cannot start"))?;
    let worker = wiring::channel_worker(host.backends.store.clone(), &host.discord, &host.worker)
        .inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let redelivery = host.sqs.redelivery(QueueKind::Channel);
    let policy = wiring::batch_policy(QueueKind::Channel, &host.worker);
    lambda::serve(&worker, &redelivery, host.backends.store.as_ref(), policy).await
}

//! Lambda function for member sync jobs. Thin glue: configuration, adapters and the worker
//! are built once at init; each SQS batch goes to `shared`'s batch runner.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use shared::{
    config::{ConfigError, DiscordConfig, QueueConfig, StoreConfig, WorkerConfig},
    queue::{QueueKind, lambda},
    telemetry,
    wiring::{self, Backends},
};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_json_logs();
    let configs =
        (StoreConfig::from_env(), QueueConfig::from_env(), DiscordConfig::from_env(), WorkerConfig::from_env());
    let (store, queues, discord, worker_config) = match configs {
        (Ok(store), Ok(queues), Ok(discord), Ok(worker)) => (store, queues, discord, worker),
        (store, queues, discord, worker) => {
            let problems = ConfigError::join([store.err(), queues.err(), discord.err(), worker.err()]);
            tracing::error!(%problems, "cannot start");
            return Err(problems.into());
        }
    };
    let (backends, sqs) = Backends::aws(&store, &queues).await;
    let worker =
        wiring::sync_worker(&backends, &discord).inspect_err(|error| tracing::error!(%error, "cannot start"))?;
    let redelivery = sqs.redelivery(QueueKind::Sync);
    let policy = wiring::batch_policy(&worker_config);
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let (worker, redelivery) = (&worker, &redelivery);
        async move {
            let deadline = lambda::deadline_from_epoch_millis(event.context.deadline);
            Ok::<_, lambda_runtime::Error>(lambda::run_batch(event.payload, worker, redelivery, policy, deadline).await)
        }
    }))
    .await
}

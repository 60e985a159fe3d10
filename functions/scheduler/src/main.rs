//! Lambda function for the EventBridge schedule. Thin glue: adapters built once at init;
//! each event (its content does not matter, only that it came) runs `shared`'s schedule.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};
use shared::{
    config::{ConfigError, QueueConfig, StoreConfig},
    discord::simulate::unix_now,
    sync::run_schedule,
    telemetry,
    wiring::Backends,
};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_json_logs();
    let (store, queues) = match (StoreConfig::from_env(), QueueConfig::from_env()) {
        (Ok(store), Ok(queues)) => (store, queues),
        (store, queues) => {
            let problems = ConfigError::join([store.err(), queues.err()]);
            tracing::error!(%problems, "cannot start");
            return Err(problems.into());
        }
    };
    let (backends, _) = Backends::aws(&store, &queues).await;
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| {
        let backends = &backends;
        async move {
            let report = run_schedule(backends.store.as_ref(), backends.queue.as_ref(), unix_now()).await?;
            tracing::info!(due = report.due, syncs = report.syncs, archives = report.archives, "schedule ran");
            Ok::<_, lambda_runtime::Error>(
                json!({ "due": report.due, "syncs": report.syncs, "archives": report.archives }),
            )
        }
    }))
    .await
}

//! Lambda function for the EventBridge schedule. Thin glue: adapters built once at init;
//! each event (its content does not matter, only that it came) runs one tick of the core:
//! the same function the local stack runs on its timer.

use guildbridge_core::{
    clock::{Clock, SystemClock},
    tick::run_tick,
};
use guildbridge_host::{metrics, startup, telemetry};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_json_logs();
    let flush = startup::metrics("scheduler", None).map_err(startup::cannot_start)?;
    let backends = startup::scheduler().await.map_err(startup::cannot_start)?;
    lambda_runtime::run(metrics::Flushing::new(
        flush,
        service_fn(|_event: LambdaEvent<Value>| {
            let backends = &backends;
            async move {
                // Every part runs and reports; a failing part is in the answer and the log, and
                // the next tick tries it again (each part is safe to repeat).
                let report = run_tick(backends.store.as_ref(), backends.queue.as_ref(), SystemClock.now()).await;
                Ok::<_, lambda_runtime::Error>(report.to_json())
            }
        }),
    ))
    .await
}

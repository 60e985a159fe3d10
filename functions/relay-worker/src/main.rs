//! Lambda function for the relay. Thin glue: adapters and the poller built once at init;
//! each scheduled event (every minute) checks the due guilds and reads their changed
//! channels until the invocation's deadline.

use guildbridge_core::worker::lambda::deadline_from_epoch_millis;
use guildbridge_host::{metrics, startup, telemetry};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_json_logs();
    // An invocation runs for minutes: its figures are flushed as it goes, and at its end.
    let flush = startup::metrics("relay-worker", Some(metrics::LONG_RUN_FLUSH)).map_err(startup::cannot_start)?;
    let (_backends, poller) = startup::relay().await.map_err(startup::cannot_start)?;
    let (_keep, stop) = tokio::sync::watch::channel(false);
    lambda_runtime::run(metrics::Flushing::new(
        flush,
        service_fn(|event: LambdaEvent<Value>| {
            let (poller, stop) = (&poller, stop.clone());
            async move {
                let deadline = deadline_from_epoch_millis(event.context.deadline);
                let report = poller.run_until(deadline, stop).await;
                tracing::info!(
                    checked = report.checked,
                    polled = report.polled,
                    relayed = report.relayed,
                    failed = report.failed,
                    parked = report.parked,
                    "relay ran"
                );
                let answer = json!({ "checked": report.checked, "polled": report.polled, "relayed": report.relayed });
                Ok::<_, lambda_runtime::Error>(answer)
            }
        }),
    ))
    .await
}

//! Lambda function for the EventBridge schedule. Thin glue: adapters built once at init;
//! each event (its content does not matter, only that it came) runs the core's schedule.

use guildbridge_core::{
    clock::{Clock, SystemClock},
    host::{startup, telemetry},
    sync::run_schedule,
    timeline::run_timeline,
};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_json_logs();
    let backends = startup::scheduler().await.map_err(startup::cannot_start)?;
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| {
        let backends = &backends;
        async move {
            let now = SystemClock.now();
            let report = run_schedule(backends.store.as_ref(), backends.queue.as_ref(), now).await?;
            tracing::info!(due = report.due, syncs = report.syncs, archives = report.archives, "schedule ran");
            let timeline = run_timeline(backends.store.as_ref(), backends.queue.as_ref(), now).await?;
            tracing::info!(
                due = timeline.due,
                posted = timeline.posted,
                skipped = timeline.skipped,
                completed = timeline.completed,
                "timeline ran"
            );
            Ok::<_, lambda_runtime::Error>(json!({
                "due": report.due,
                "syncs": report.syncs,
                "archives": report.archives,
                "reminders_posted": timeline.posted,
                "reminders_skipped": timeline.skipped,
                "completed": timeline.completed,
                "boards": timeline.boards,
                "reminder_dms": timeline.dms,
            }))
        }
    }))
    .await
}

//! One way to start, for every function: read the secret, read every variable (naming every
//! missing or malformed one at once), build the adapters and the use case. A failure is one
//! typed [`StartupError`], logged once by [`cannot_start`].

use super::{
    config::{ConfigError, DiscordConfig, InteractionsConfig, QueueConfig, StoreConfig, WebhookConfig, WorkerConfig},
    secrets::{HostEnv, SecretsError},
    wiring::{self, Backends, WiringError},
};
use crate::domain::error::Report;
use crate::{
    aws::sqs::SqsQueues,
    domain::QueueKind,
    interactions::{InteractionService, commands::RegistryError},
    worker::{JobHandler, lambda},
};

/// Why a host could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Wiring(#[from] WiringError),
    #[error(transparent)]
    Commands(#[from] RegistryError),
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
}

/// Logs the one "cannot start" line, and hands the error on for the runtime to report.
pub fn cannot_start(error: StartupError) -> StartupError {
    tracing::error!(error = %Report(&error), "cannot start");
    error
}

/// Both configurations, or every problem of both.
fn both<A, B>(a: Result<A, ConfigError>, b: Result<B, ConfigError>) -> Result<(A, B), ConfigError> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (a, b) => Err(ConfigError::join([a.err(), b.err()])),
    }
}

/// The interactions endpoint: the router over the store and the queues, with the tight time
/// limits of an answer due within Discord's 3 seconds.
pub async fn interactions() -> Result<InteractionService, StartupError> {
    let env = HostEnv::load().await?;
    let (config, (store, queues)) = both(
        InteractionsConfig::from_source(&env),
        both(StoreConfig::from_source(&env), QueueConfig::from_source(&env)),
    )?;
    let (backends, _) = Backends::aws_within(&store, &queues, wiring::INTERACTION_CALLS).await;
    Ok(wiring::interaction_service(&config, &backends)?)
}

/// Everything a worker function reads at init: its store and queues in AWS, Discord, and
/// how it runs jobs.
#[derive(Debug)]
pub struct WorkerHost {
    pub backends: Backends,
    pub sqs: SqsQueues,
    pub discord: DiscordConfig,
    pub worker: WorkerConfig,
}

/// A worker function's host (the channel and sync workers alike).
pub async fn worker() -> Result<WorkerHost, StartupError> {
    let env = HostEnv::load().await?;
    let ((store, queues), (discord, worker)) = both(
        both(StoreConfig::from_source(&env), QueueConfig::from_source(&env)),
        both(DiscordConfig::from_source(&env), WorkerConfig::from_source(&env)),
    )?;
    let (backends, sqs) = Backends::aws(&store, &queues).await;
    Ok(WorkerHost { backends, sqs, discord, worker })
}

/// A worker function: its host read, its handler built by `build`, then the queue's SQS
/// batches served (partial batch failures) for as long as the runtime runs.
pub async fn serve_worker<H: JobHandler>(
    kind: QueueKind,
    build: impl FnOnce(&WorkerHost) -> Result<H, WiringError>,
) -> Result<(), lambda_runtime::Error> {
    let host = worker().await.map_err(cannot_start)?;
    let handler = build(&host).map_err(|error| cannot_start(error.into()))?;
    let redelivery = host.sqs.redelivery(kind);
    let policy = wiring::batch_policy(kind, &host.worker);
    let ledger = host.backends.ledger.as_ref();
    serve_batches(&format!("{}-worker", kind.as_str()), |event| {
        lambda::answer(event, &handler, &redelivery, ledger, policy)
    })
    .await
}

/// The function's metrics recorder (CloudWatch's embedded format on stdout); `flush_every`
/// for a process that runs long.
pub fn metrics(
    function: &str,
    flush_every: Option<std::time::Duration>,
) -> Result<&'static crate::metrics::Collector, StartupError> {
    Ok(crate::metrics::cloudwatch(function, flush_every)?)
}

/// Serves SQS batches with metrics flushed after each.
async fn serve_batches<F>(
    function: &str,
    answer: impl FnMut(lambda_runtime::LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>) -> F,
) -> Result<(), lambda_runtime::Error>
where
    F: std::future::Future<Output = Result<aws_lambda_events::event::sqs::SqsBatchResponse, lambda_runtime::Error>>,
{
    let metrics = metrics(function, None).map_err(cannot_start)?;
    lambda_runtime::run(crate::metrics::Flushing::new(metrics, lambda_runtime::service_fn(answer))).await
}

/// The webhook worker's function: deliveries from the webhook queue.
pub async fn serve_webhooks() -> Result<(), lambda_runtime::Error> {
    let env = HostEnv::load().await.map_err(|error| cannot_start(error.into()))?;
    let ((store, queues), webhooks) =
        both(both(StoreConfig::from_source(&env), QueueConfig::from_source(&env)), WebhookConfig::from_source(&env))
            .map_err(|error| cannot_start(error.into()))?;
    let (backends, sqs) = Backends::aws(&store, &queues).await;
    let handler = wiring::webhook_worker(&backends, &webhooks).map_err(|error| cannot_start(error.into()))?;
    let redelivery = sqs.redelivery(QueueKind::Webhook);
    let (ledger, policy) = (backends.ledger.as_ref(), wiring::webhook_batch_policy());
    serve_batches("webhook-worker", |event| lambda::answer(event, &handler, &redelivery, ledger, policy)).await
}

/// The relay's function: the worker's configuration (Discord, the application id).
pub async fn relay() -> Result<(Backends, crate::relay::RelayPoller), StartupError> {
    let host = worker().await?;
    let poller = wiring::relay_poller(&host.backends, &host.discord, &host.worker)?;
    Ok((host.backends, poller))
}

/// The `web` function: the tenant API's router over the store and the queues.
#[cfg(feature = "web")]
pub async fn web() -> Result<axum::Router, StartupError> {
    let env = HostEnv::load().await?;
    let ((store, queues), web) = both(
        both(StoreConfig::from_source(&env), QueueConfig::from_source(&env)),
        super::config::WebConfig::from_source(&env),
    )?;
    let (backends, _) = Backends::aws_within(&store, &queues, wiring::WEB_CALLS).await;
    Ok(wiring::web_router(&backends, &web)?)
}

/// The scheduler's store and queues.
pub async fn scheduler() -> Result<Backends, StartupError> {
    let env = HostEnv::load().await?;
    let (store, queues) = both(StoreConfig::from_source(&env), QueueConfig::from_source(&env))?;
    Ok(Backends::aws(&store, &queues).await.0)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::{DISCORD_BOT_TOKEN, TABLE_NAME, VarProblem};

    #[test]
    fn every_problem_of_every_configuration_is_named_at_once() {
        let env = HashMap::from([(TABLE_NAME.to_owned(), "x".to_owned())]);
        let error = both(StoreConfig::from_source(&env), DiscordConfig::from_source(&env)).expect_err("both bad");
        let names: Vec<&str> = error.problems.iter().map(VarProblem::name).collect();
        assert_eq!(names, [TABLE_NAME, DISCORD_BOT_TOKEN]);
    }
}

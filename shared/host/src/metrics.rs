//! Where the metrics go. In AWS, CloudWatch's embedded metric format: one JSON document per
//! label set on stdout, flushed at the end of every invocation (and every few seconds in the
//! processes that run long), which CloudWatch Logs turns into metrics with no API call. In
//! the local stack, Prometheus's text format at `/metrics`. The names, units and labels are
//! `guildbridge_domain::metrics`, the one list the template's dashboard and alarms are
//! checked against.

use std::time::Duration;

use crate::domain::metrics::{ALL, MetricKind, MetricUnit};

/// `METRICS_NAMESPACE`: the CloudWatch namespace (the template sets `Guildbridge/<stack>`, so
/// two stacks in one account keep their figures apart).
pub const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";
/// The namespace when none is set.
pub const DEFAULT_NAMESPACE: &str = "Guildbridge";

/// Why metrics could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up metrics: {0}")]
pub struct MetricsError(String);

fn unit(unit: MetricUnit) -> metrics::Unit {
    match unit {
        MetricUnit::Count => metrics::Unit::Count,
        MetricUnit::Milliseconds => metrics::Unit::Milliseconds,
    }
}

/// Tells the installed recorder every metric's unit and meaning.
fn describe_all() {
    for metric in ALL {
        match metric.kind {
            MetricKind::Counter => metrics::describe_counter!(metric.name, unit(metric.unit), metric.help),
            MetricKind::Histogram => metrics::describe_histogram!(metric.name, unit(metric.unit), metric.help),
        }
    }
}

#[cfg(feature = "aws")]
pub use cloudwatch::*;

#[cfg(feature = "aws")]
mod cloudwatch {
    use std::{
        future::Future,
        pin::Pin,
        task::{Context, Poll, ready},
    };

    use super::*;
    pub use metrics_cloudwatch_embedded::Collector;

    /// How often a long-running process (the relay's invocation, the gateway) flushes, so
    /// its figures arrive while it runs and a histogram stays under the 100 values one
    /// document may hold (the collector drops the rest): a second's lead messages. An idle
    /// second writes nothing (only metrics with values are written).
    pub const LONG_RUN_FLUSH: Duration = Duration::from_secs(1);

    /// Installs the embedded-format recorder for one function, named in every document (a
    /// property, not a dimension: the alarms watch the stack's totals). A process that runs
    /// long flushes every `flush_every` (from a task, so this runs inside the runtime); every
    /// function also flushes at the end of each invocation ([`Flushing`]).
    pub fn cloudwatch(function: &str, flush_every: Option<Duration>) -> Result<&'static Collector, MetricsError> {
        let namespace = std::env::var(METRICS_NAMESPACE).unwrap_or_else(|_| DEFAULT_NAMESPACE.to_owned());
        let collector = metrics_cloudwatch_embedded::Builder::new()
            .cloudwatch_namespace(namespace)
            .init()
            .map_err(|error| MetricsError(error.to_string()))?;
        collector.set_property("function", function.to_owned());
        describe_all();
        if let Some(every) = flush_every {
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    flush(collector);
                }
            });
        }
        Ok(collector)
    }

    /// Writes what was recorded since the last flush, holding stdout's lock throughout so no
    /// log line lands inside a document.
    pub fn flush(collector: &Collector) {
        if let Err(error) = collector.flush(std::io::stdout().lock()) {
            tracing::warn!(%error, "could not write the metrics");
        }
    }

    /// A Lambda handler (an HTTP router or an event handler) whose every invocation ends with
    /// a flush, before the answer goes back to the runtime.
    #[derive(Clone)]
    pub struct Flushing<S> {
        collector: &'static Collector,
        inner: S,
    }

    impl<S> std::fmt::Debug for Flushing<S> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Flushing").finish_non_exhaustive()
        }
    }

    impl<S> Flushing<S> {
        pub fn new(collector: &'static Collector, inner: S) -> Self {
            Self { collector, inner }
        }
    }

    impl<S: tower::Service<Request>, Request> tower::Service<Request> for Flushing<S> {
        type Response = S::Response;
        type Error = S::Error;
        type Future = Flushed<S::Future>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, request: Request) -> Self::Future {
            Flushed { inner: self.inner.call(request), collector: self.collector }
        }
    }

    pin_project_lite::pin_project! {
        /// An invocation's future, flushing the metrics when it is done.
        pub struct Flushed<F> {
            #[pin]
            inner: F,
            collector: &'static Collector,
        }
    }

    impl<F: Future> Future for Flushed<F> {
        type Output = F::Output;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let this = self.project();
            let output = ready!(this.inner.poll(cx));
            flush(this.collector);
            Poll::Ready(output)
        }
    }
}

#[cfg(feature = "web")]
pub use web::*;

#[cfg(feature = "web")]
mod web {
    use axum::{extract::Request, middleware::Next, response::Response};

    use crate::domain::metrics::{WEB_RESPONSES, status_class};

    /// Counts the web function's answers by status class (the API and the settings page).
    pub async fn count_responses(request: Request, next: Next) -> Response {
        let response = next.run(request).await;
        metrics::counter!(WEB_RESPONSES.name, "status" => status_class(response.status().as_u16())).increment(1);
        response
    }
}

#[cfg(feature = "prometheus")]
pub use prometheus::*;

#[cfg(feature = "prometheus")]
mod prometheus {
    use super::*;
    pub use metrics_exporter_prometheus::PrometheusHandle;

    /// Installs the Prometheus recorder (the local stack's `/metrics`), and keeps its
    /// histograms trimmed while `stop` is false.
    pub fn prometheus(mut stop: tokio::sync::watch::Receiver<bool>) -> Result<PrometheusHandle, MetricsError> {
        let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .map_err(|error| MetricsError(error.to_string()))?;
        describe_all();
        let upkeep = handle.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => upkeep.run_upkeep(),
                    _ = stop.changed() => return,
                }
            }
        });
        Ok(handle)
    }
}

//! Structured JSON logs for every host (Lambda functions and the local runner).

use tracing_subscriber::{EnvFilter, fmt};

/// Installs a JSON log subscriber filtered by `RUST_LOG` (default `info`). Lambda sends stdout to
/// CloudWatch, where each line is one queryable event. Safe to call more than once.
pub fn init_json_logs() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .try_init();
}

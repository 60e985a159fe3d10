//! What the client records about its requests (names in `guildbridge_domain::metrics`):
//! labelled by route template and status class, never by an id.

use std::time::Duration;

use guildbridge_domain::metrics::{
    DISCORD_BUCKET_WAIT, DISCORD_INVALID_REQUESTS, DISCORD_RATE_LIMITED, DISCORD_REQUESTS, status_class,
};
use reqwest::header::HeaderMap;

use super::ratelimit::RouteKey;

/// An answer from Discord, whatever its status.
pub(super) fn answered(route: &RouteKey, status: u16) {
    metrics::counter!(DISCORD_REQUESTS.name, "route" => route.template.clone(), "status" => status_class(status))
        .increment(1);
    if matches!(status, 401 | 403 | 429) {
        metrics::counter!(DISCORD_INVALID_REQUESTS.name).increment(1);
    }
}

/// A request that got no answer (timed out, connection failed, or the body broke off).
pub(super) fn failed(route: &RouteKey) {
    metrics::counter!(DISCORD_REQUESTS.name, "route" => route.template.clone(), "status" => "failed").increment(1);
}

/// A 429 by its scope: `X-RateLimit-Scope` (user, shared, global), else global when the body
/// or `X-RateLimit-Global` says so, else user.
pub(super) fn rate_limited(headers: &HeaderMap, global: bool) {
    let scope = match headers.get("x-ratelimit-scope").and_then(|v| v.to_str().ok()) {
        Some("shared") => "shared",
        Some("global") => "global",
        _ if global => "global",
        _ => "user",
    };
    metrics::counter!(DISCORD_RATE_LIMITED.name, "scope" => scope).increment(1);
}

/// Time spent waiting for a bucket before sending.
pub(super) fn waited(wait: Duration) {
    if !wait.is_zero() {
        metrics::counter!(DISCORD_BUCKET_WAIT.name).increment(wait.as_millis() as u64);
    }
}

//! Every metric Guildbridge records, in one list: the code records by these names, the hosts
//! describe them to their exporter (CloudWatch's embedded format in AWS, Prometheus locally),
//! and the template tests check the dashboard and alarms against them.
//!
//! Labels stay low in cardinality: a command, a job type, a route template, an outcome. Never
//! a guild, tenant or user id (per-tenant figures are in the logs). A metric an alarm watches
//! has no labels, so the alarm names it exactly.

/// How a metric is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Adds up (per flush in CloudWatch; since start in Prometheus).
    Counter,
    /// Each value kept, for percentiles.
    Histogram,
}

/// A metric's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricUnit {
    Count,
    Milliseconds,
}

/// One metric: its name, kind, unit, the labels it is recorded with, and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub kind: MetricKind,
    pub unit: MetricUnit,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

const fn counter(name: &'static str, labels: &'static [&'static str], help: &'static str) -> Metric {
    Metric { name, kind: MetricKind::Counter, unit: MetricUnit::Count, labels, help }
}

const fn millis(name: &'static str, kind: MetricKind, labels: &'static [&'static str], help: &'static str) -> Metric {
    Metric { name, kind, unit: MetricUnit::Milliseconds, labels, help }
}

// Interactions.
pub const INTERACTIONS: Metric =
    counter("Interactions", &["command", "response"], "Interactions answered, by command and response type");
pub const INTERACTION_LATENCY: Metric = millis(
    "InteractionLatency",
    MetricKind::Histogram,
    &[],
    "Time from an interaction's arrival to its answer (Discord gives up at 3 s)",
);
pub const INTERACTIONS_BUSY: Metric =
    counter("InteractionsBusy", &[], "Answers cut off by the answer budget (\"busy, try again\")");
pub const SIGNATURE_FAILURES: Metric = counter("SignatureFailures", &[], "Requests refused for their signature");

// Jobs.
pub const JOBS: Metric = counter("Jobs", &["job", "outcome"], "Jobs run, by type and outcome (done, retried, dead)");
pub const DEAD_LETTERS: Metric = counter("DeadLetters", &[], "Jobs given up on and recorded as dead letters");
pub const JOB_AGE: Metric =
    millis("JobAge", MetricKind::Histogram, &["job"], "How long a job waited in its queue before it was taken");

// Discord's REST API.
pub const DISCORD_REQUESTS: Metric = counter(
    "DiscordRequests",
    &["route", "status"],
    "Requests to Discord, by route template and status class (2xx, 4xx, 429, 5xx, failed)",
);
pub const DISCORD_RATE_LIMITED: Metric =
    counter("DiscordRateLimited", &["scope"], "429s from Discord, by scope (user, shared, global)");
pub const DISCORD_BUCKET_WAIT: Metric =
    millis("DiscordBucketWait", MetricKind::Counter, &[], "Time spent waiting for rate-limit buckets before sending");
pub const DISCORD_INVALID_REQUESTS: Metric = counter(
    "DiscordInvalidRequests",
    &[],
    "Answers that count against Discord's invalid-request limit (401, 403, 429; 10,000 in 10 minutes bans the IP)",
);

// Member sync.
pub const SYNC_RUNS: Metric = counter("SyncRuns", &["outcome"], "Member sync runs finished, by outcome");
pub const SYNC_DURATION: Metric =
    millis("SyncDuration", MetricKind::Histogram, &[], "Time a sync run took from its start to its end");
pub const SYNC_MEMBERS_SEEN: Metric = counter("SyncMembersSeen", &[], "Guild members read by sync runs");

// Webhooks to the platform.
pub const WEBHOOK_DELIVERIES: Metric =
    counter("WebhookDeliveries", &["outcome"], "Webhook delivery attempts, by outcome");
pub const WEBHOOK_LATENCY: Metric = millis(
    "WebhookLatency",
    MetricKind::Histogram,
    &[],
    "Time from an event's creation to its delivery to the platform",
);
pub const WEBHOOK_ENDPOINTS_PAUSED: Metric =
    counter("WebhookEndpointsPaused", &[], "Webhook endpoints paused after failing for too long");

// The relay of lead messages.
pub const RELAY_LAG: Metric = millis(
    "RelayLag",
    MetricKind::Histogram,
    &[],
    "Time from a relayed message's timestamp to its event being emitted",
);
pub const RELAY_POLLS: Metric =
    counter("RelayPolls", &["kind"], "Relay reads of Discord: a guild's channel list, or a channel's messages");

// The scheduled tick.
pub const TICK_PARTS: Metric = counter("TickParts", &["part", "outcome"], "Parts of scheduled ticks run, by outcome");
pub const TICK_FAILURES: Metric = counter("TickFailures", &[], "Parts of scheduled ticks that failed");

// The tenant API and the settings page.
pub const WEB_RESPONSES: Metric =
    counter("WebResponses", &["status"], "Answers of the tenant API and settings page, by status class");

/// Every metric, in the order the dashboard shows them.
pub const ALL: &[Metric] = &[
    INTERACTIONS,
    INTERACTION_LATENCY,
    INTERACTIONS_BUSY,
    SIGNATURE_FAILURES,
    JOBS,
    DEAD_LETTERS,
    JOB_AGE,
    DISCORD_REQUESTS,
    DISCORD_RATE_LIMITED,
    DISCORD_BUCKET_WAIT,
    DISCORD_INVALID_REQUESTS,
    SYNC_RUNS,
    SYNC_DURATION,
    SYNC_MEMBERS_SEEN,
    WEBHOOK_DELIVERIES,
    WEBHOOK_LATENCY,
    WEBHOOK_ENDPOINTS_PAUSED,
    RELAY_LAG,
    RELAY_POLLS,
    TICK_PARTS,
    TICK_FAILURES,
    WEB_RESPONSES,
];

/// The metric of that name.
pub fn find(name: &str) -> Option<&'static Metric> {
    ALL.iter().find(|metric| metric.name == name)
}

/// An HTTP status as a low-cardinality class: `2xx`, `3xx`, `4xx`, `429` (kept apart: rate
/// limits are their own story) or `5xx`.
pub fn status_class(status: u16) -> &'static str {
    match status {
        429 => "429",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_cloudwatch_and_prometheus_safe() {
        for (i, metric) in ALL.iter().enumerate() {
            assert!(ALL[i + 1..].iter().all(|other| other.name != metric.name), "{} twice", metric.name);
            assert!(metric.name.chars().all(|c| c.is_ascii_alphanumeric()), "{}", metric.name);
            assert!(metric.labels.iter().all(|l| l.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
        }
    }

    #[test]
    fn ids_are_never_labels() {
        for metric in ALL {
            for label in metric.labels {
                assert!(!["guild", "tenant", "user", "channel"].iter().any(|id| label.contains(id)), "{label}");
            }
        }
    }

    #[test]
    fn status_classes() {
        assert_eq!(
            [200, 204, 302, 404, 429, 500, 503].map(status_class),
            ["2xx", "2xx", "3xx", "4xx", "429", "5xx", "5xx"]
        );
    }
}

//! The webhook worker: one delivery job is one attempt at one event. The first copy of an
//! event to claim its delivery owns it; a 2xx records it delivered; anything else is tried
//! again on the schedule until a day has passed, then the delivery is dead (a dead letter
//! the tenant can retry) and the endpoint is paused with the reason until resumed.

use crate::domain::error::Report;
use std::sync::Arc;

use async_trait::async_trait;

use super::{
    sender::{DELIVERY_TIMEOUT, WebhookSender},
    signing::{ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_header},
};
use crate::{
    clock::SharedClock,
    domain::{Job, Pause, PlatformEvent, RetrySchedule, TargetPolicy, TenantId, WebhookEndpoint},
    store::{DeliveryAttempt, DeliveryClaim, DeliveryOutcome, DeliveryStatus, StoreError, WebhookStore},
    worker::{Attempt, JobHandler, JobOutcome, store_failure},
};

/// What the worker was built with, once, at init.
#[derive(Clone)]
pub struct WebhookWorker {
    store: Arc<dyn WebhookStore>,
    sender: Arc<dyn WebhookSender>,
    schedule: RetrySchedule,
    targets: TargetPolicy,
    clock: SharedClock,
}

impl std::fmt::Debug for WebhookWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookWorker").field("schedule", &self.schedule).field("targets", &self.targets).finish()
    }
}

impl WebhookWorker {
    pub fn new(store: Arc<dyn WebhookStore>, sender: Arc<dyn WebhookSender>, targets: TargetPolicy) -> Self {
        Self { store, sender, schedule: RetrySchedule::default(), targets, clock: crate::clock::system() }
    }

    pub fn with_schedule(mut self, schedule: RetrySchedule) -> Self {
        self.schedule = schedule;
        self
    }

    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    async fn deliver(&self, tenant_id: &TenantId, event: &PlatformEvent, copy: &str) -> JobOutcome {
        let now = self.clock.now();
        let endpoint = match self.store.webhook(tenant_id).await {
            Ok(Some(endpoint)) => endpoint,
            Ok(None) => return JobOutcome::DoneWith(serde_json::json!({ "skipped": "no webhook endpoint" })),
            Err(error) => return store_failure(error),
        };
        if !endpoint.wants(event.kind) {
            return JobOutcome::DoneWith(serde_json::json!({ "skipped": "not subscribed" }));
        }
        let prior = match self.store.claim_delivery(tenant_id, &event.id, copy, now).await {
            Ok(DeliveryClaim::OtherCopy) => {
                return JobOutcome::DoneWith(serde_json::json!({ "skipped": "another copy delivers this event" }));
            }
            Ok(DeliveryClaim::Ours { status: DeliveryStatus::Delivered, .. }) => {
                return JobOutcome::DoneWith(serde_json::json!({ "skipped": "already delivered" }));
            }
            Ok(DeliveryClaim::Ours { attempts, .. }) => attempts,
            Err(error) => return store_failure(error),
        };
        let attempt = prior + 1;
        let record =
            |outcome: DeliveryOutcome, status: Option<u16>, latency_ms: u64, error: Option<String>| DeliveryAttempt {
                event_id: event.id.clone(),
                event_type: event.kind,
                attempt,
                outcome,
                status,
                latency_ms,
                error,
                at: now,
            };
        if let Some(pause) = &endpoint.paused {
            let reason = format!("the endpoint is paused ({}); resume it, then retry this dead letter", pause.reason);
            self.log(
                tenant_id,
                copy,
                &record(DeliveryOutcome::Paused, None, 0, Some(reason.clone())),
                DeliveryStatus::Dead,
            )
            .await;
            return JobOutcome::Reject { reason };
        }
        let url = match self.targets.check(&endpoint.url) {
            Ok(url) => url,
            Err(why) => {
                let reason = format!("the endpoint cannot be delivered to: {why}");
                self.log(
                    tenant_id,
                    copy,
                    &record(DeliveryOutcome::Dead, None, 0, Some(reason.clone())),
                    DeliveryStatus::Dead,
                )
                .await;
                return JobOutcome::Reject { reason };
            }
        };
        let body = match serde_json::to_vec(event) {
            Ok(body) => body,
            Err(error) => {
                return JobOutcome::Reject { reason: format!("the event cannot be written: {}", Report(&error)) };
            }
        };
        let signature = signature_header(&endpoint.signing_secrets(now), &event.id, now, &body);
        let headers =
            [(ID_HEADER, event.id.clone()), (TIMESTAMP_HEADER, now.to_string()), (SIGNATURE_HEADER, signature)];
        let sent = self.sender.post(&url, &headers, &body).await;
        let latency_ms = sent.latency.as_millis() as u64;
        if sent.delivered() {
            let since_event = now.saturating_sub(event.occurred_at) * 1000 + latency_ms;
            metrics::histogram!(crate::domain::metrics::WEBHOOK_LATENCY.name).record(since_event as f64);
            self.log(
                tenant_id,
                copy,
                &record(DeliveryOutcome::Delivered, sent.status, latency_ms, None),
                DeliveryStatus::Delivered,
            )
            .await;
            return JobOutcome::DoneWith(
                serde_json::json!({ "event_id": event.id, "attempt": attempt, "status": sent.status }),
            );
        }
        let error = sent.error.clone().unwrap_or_else(|| "not delivered".to_owned());
        match self.schedule.next_delay(attempt, event.occurred_at, now) {
            Some(after) => {
                let entry = record(DeliveryOutcome::Failed, sent.status, latency_ms, Some(error.clone()));
                self.log(tenant_id, copy, &entry, DeliveryStatus::Pending).await;
                JobOutcome::Retry { after, reason: format!("attempt {attempt}: {error}") }
            }
            None => {
                let reason = format!("gave up after {attempt} attempts: {error}");
                self.log(
                    tenant_id,
                    copy,
                    &record(DeliveryOutcome::Dead, sent.status, latency_ms, Some(reason.clone())),
                    DeliveryStatus::Dead,
                )
                .await;
                self.pause(&endpoint, &reason, now).await;
                JobOutcome::Reject { reason }
            }
        }
    }

    /// The log is for the tenant to read; a write that fails is logged, and the delivery's
    /// outcome stands (the queue, not the log, is what retries).
    async fn log(&self, tenant_id: &TenantId, copy: &str, attempt: &DeliveryAttempt, status: DeliveryStatus) {
        metrics::counter!(crate::domain::metrics::WEBHOOK_DELIVERIES.name, "outcome" => attempt.outcome.as_str())
            .increment(1);
        if let Err(error) = self.store.record_attempt(tenant_id, copy, attempt, status).await {
            tracing::warn!(error = %Report(&error), event_id = %attempt.event_id, "could not record the delivery attempt");
        }
    }

    /// An endpoint that failed every try for a day stops receiving until the tenant resumes it.
    async fn pause(&self, endpoint: &WebhookEndpoint, reason: &str, now: u64) {
        let paused = WebhookEndpoint { paused: Some(Pause { reason: reason.to_owned(), at: now }), ..endpoint.clone() };
        match self.store.replace_webhook(&paused, endpoint).await {
            Ok(()) => {
                metrics::counter!(crate::domain::metrics::WEBHOOK_ENDPOINTS_PAUSED.name).increment(1);
                tracing::warn!(tenant_id = %endpoint.tenant_id, "webhook endpoint paused")
            }
            // Changed meanwhile (a new URL, a rotation): the tenant's change wins.
            Err(StoreError::VersionConflict) => {}
            Err(error) => tracing::warn!(error = %Report(&error), "could not pause the webhook endpoint"),
        }
    }
}

#[async_trait]
impl JobHandler for WebhookWorker {
    async fn handle(&self, job: Job, attempt: Attempt) -> JobOutcome {
        // A delivery may take its whole timeout: one that could outlast the invocation is
        // handed back untried (no attempt counted against the tenant), so a batch of slow
        // endpoints never times the invocation out and takes other tenants' deliveries with it.
        if tokio::time::Instant::now() + DELIVERY_TIMEOUT > attempt.deadline {
            return JobOutcome::Retry {
                after: std::time::Duration::from_secs(1),
                reason: "handed back untried: the invocation has too little time left for a delivery".to_owned(),
            };
        }
        match job {
            Job::DeliverWebhook { tenant_id, event, copy, .. } => self.deliver(&tenant_id, &event, &copy).await,
            other => JobOutcome::Reject { reason: format!("a {} job reached the webhook queue", other.type_name()) },
        }
    }
}

//! The tenant's webhook endpoint: where Guildbridge posts events, signed the Standard
//! Webhooks way; its secret (shown once, rotated with an overlap), pause and resume, a test
//! event, and the log of recent delivery attempts.

use serde::Serialize;

use super::prelude::*;
use crate::{
    domain::WebhookEndpoint,
    store::{DeliveryAttempt, StoreError},
    webhooks::endpoint::{self, EndpointError},
};

/// Where events go, and which.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    /// An `https` URL (plain `http` on loopback only in the local stack). Redirects are not followed.
    #[schema(max_length = 2048)]
    pub url: String,
    /// Event types to receive, at least one: `subject.channel.created`,
    /// `subject.channel.failed`, `subject.channel.archived`, `message.received`,
    /// `sync.finished`, `member.joined`, `member.left`, `member.linked`, `job.dead_lettered`.
    #[schema(min_items = 1, max_items = 9)]
    pub events: Vec<String>,
}

/// The endpoint as the tenant sees it. `secret` only in the answer that made it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub url: String,
    pub events: Vec<String>,
    /// `whsec_...`: verify each delivery's `webhook-signature` with it. Shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Until when the secret before the last rotation still signs (Unix seconds).
    pub previous_secret_valid_until: Option<u64>,
    /// Set when deliveries stopped: why, and since when (Unix seconds). Resume to restart.
    pub paused: Option<PauseView>,
    pub updated_at: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PauseView {
    pub reason: String,
    pub at: u64,
}

impl WebhookView {
    fn of(endpoint: &WebhookEndpoint, now: u64, secret_shown: bool) -> Self {
        Self {
            url: endpoint.url.clone(),
            events: endpoint.events.iter().map(|kind| kind.as_str().to_owned()).collect(),
            secret: secret_shown.then(|| endpoint.secret.expose().to_owned()),
            previous_secret_valid_until: endpoint.previous_until.filter(|until| *until > now),
            paused: endpoint.paused.as_ref().map(|pause| PauseView { reason: pause.reason.clone(), at: pause.at }),
            updated_at: endpoint.updated_at,
        }
    }
}

fn no_endpoint() -> Problem {
    Problem::not_found("webhook endpoint")
}

/// Sets the endpoint: 201 with its new secret (shown once) when there was none, 200 when
/// the URL or events changed (the secret stays; a paused endpoint stays paused).
#[utoipa::path(put, path = "/v1/webhook", tag = "webhook", request_body = WebhookBody,
    responses(
        (status = 201, description = "created; the answer holds the secret, shown once", body = WebhookView),
        (status = 200, description = "updated", body = WebhookView),
    ))]
pub async fn put_webhook(
    caller: Caller,
    State(api): State<Arc<Api>>,
    JsonBody(body, _): JsonBody<WebhookBody>,
) -> Result<Response, Problem> {
    let now = api.clock.now();
    let (endpoint, created) =
        endpoint::set(api.store.as_ref(), api.webhook_targets, &caller.tenant_id, &body.url, &body.events, now)
            .await
            .map_err(problem)?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(WebhookView::of(&endpoint, now, created))).into_response())
}

fn problem(error: EndpointError) -> Problem {
    match error {
        EndpointError::Invalid(errors) => Problem::invalid(errors),
        EndpointError::NotFound => no_endpoint(),
        EndpointError::Store(error) => conflict(error),
        EndpointError::Queue(error) => error.into(),
    }
}

fn conflict(error: StoreError) -> Problem {
    match error {
        StoreError::VersionConflict => {
            Problem::conflict("changed-meanwhile", "the endpoint changed while this request ran; send it again")
        }
        other => other.into(),
    }
}

/// The endpoint (never its secret).
#[utoipa::path(get, path = "/v1/webhook", tag = "webhook",
    responses((status = 200, description = "the endpoint", body = WebhookView)))]
pub async fn get_webhook(caller: Caller, State(api): State<Arc<Api>>) -> Result<Json<WebhookView>, Problem> {
    let endpoint = api.store.webhook(&caller.tenant_id).await?.ok_or_else(no_endpoint)?;
    Ok(Json(WebhookView::of(&endpoint, api.clock.now(), false)))
}

/// Removes the endpoint: no more deliveries.
#[utoipa::path(delete, path = "/v1/webhook", tag = "webhook",
    responses((status = 204, description = "removed")))]
pub async fn delete_webhook(caller: Caller, State(api): State<Arc<Api>>) -> Result<StatusCode, Problem> {
    match api.store.delete_webhook(&caller.tenant_id).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(no_endpoint()),
    }
}

/// A new secret, shown once; the old one keeps signing alongside it for 24 hours, so the
/// receiver can switch without missing a delivery.
#[utoipa::path(post, path = "/v1/webhook/rotate", tag = "webhook",
    responses((status = 200, description = "rotated; the answer holds the new secret, shown once", body = WebhookView)))]
pub async fn rotate_secret(caller: Caller, State(api): State<Arc<Api>>) -> Result<Json<WebhookView>, Problem> {
    let now = api.clock.now();
    let rotated = endpoint::rotate(api.store.as_ref(), &caller.tenant_id, now).await.map_err(problem)?;
    Ok(Json(WebhookView::of(&rotated, now, true)))
}

/// Deliveries start again after a pause (events given up on meanwhile are in the dead letters).
#[utoipa::path(post, path = "/v1/webhook/resume", tag = "webhook",
    responses((status = 200, description = "resumed", body = WebhookView)))]
pub async fn resume_webhook(caller: Caller, State(api): State<Arc<Api>>) -> Result<Json<WebhookView>, Problem> {
    let now = api.clock.now();
    let resumed = endpoint::resume(api.store.as_ref(), &caller.tenant_id, now).await.map_err(problem)?;
    Ok(Json(WebhookView::of(&resumed, now, false)))
}

/// The queued test event.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestEventView {
    pub event_id: String,
}

/// Sends a `webhook.test` event to the endpoint (whatever it subscribes to): 202, then see
/// the deliveries.
#[utoipa::path(post, path = "/v1/webhook/test", tag = "webhook",
    responses((status = 202, description = "queued", body = TestEventView)))]
pub async fn send_test_event(caller: Connected, State(api): State<Arc<Api>>) -> Result<Response, Problem> {
    let now = api.clock.now();
    let event_id = endpoint::send_test(api.store.as_ref(), api.queue.as_ref(), &caller.tenant_id, caller.guild_id, now)
        .await
        .map_err(problem)?;
    Ok((StatusCode::ACCEPTED, Json(TestEventView { event_id })).into_response())
}

/// One delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub event_id: String,
    /// The event's type.
    pub event: String,
    pub attempt: u32,
    /// `delivered`, `failed` (tried again later), `dead` (given up) or `paused`.
    #[schema(value_type = String)]
    pub outcome: crate::store::DeliveryOutcome,
    /// What the endpoint answered, when it answered.
    pub status: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    pub at: u64,
}

impl From<DeliveryAttempt> for DeliveryView {
    fn from(attempt: DeliveryAttempt) -> Self {
        Self {
            event_id: attempt.event_id,
            event: attempt.event_type.as_str().to_owned(),
            attempt: attempt.attempt,
            outcome: attempt.outcome,
            status: attempt.status,
            latency_ms: attempt.latency_ms,
            error: attempt.error,
            at: attempt.at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// 1 to 100; 50 unless given.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// Recent delivery attempts, the most recent first (kept 7 days).
#[utoipa::path(get, path = "/v1/webhook/deliveries", tag = "webhook", params(DeliveriesQuery),
    responses((status = 200, description = "recent attempts", body = Page<DeliveryView>)))]
pub async fn list_deliveries(
    caller: Caller,
    State(api): State<Arc<Api>>,
    QueryParams(query): QueryParams<DeliveriesQuery>,
) -> Result<Json<Page<DeliveryView>>, Problem> {
    let attempts = api.store.delivery_attempts(&caller.tenant_id, page_limit(query.limit)?).await?;
    Ok(Json(Page { items: attempts.into_iter().map(DeliveryView::from).collect(), next_cursor: None }))
}

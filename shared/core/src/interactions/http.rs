//! The one HTTP router for the interactions endpoint. `lambda_http` hosts it in Lambda
//! (Function URL, API Gateway v1 and v2); axum's own server hosts it locally.

use crate::domain::error::Report;
use std::{sync::Arc, time::Instant};

use axum::{
    Json, Router,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Serialize;

use super::{
    InteractionService, MAX_BODY_BYTES, Rejection,
    webhook_events::{EventError, EventOutcome},
};
use crate::discord::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::domain::metrics::{INTERACTION_LATENCY, INTERACTIONS, SIGNATURE_FAILURES};
use twilight_model::http::interaction::InteractionResponseType;

/// An HTTP error body: a stable machine code and a sentence for people.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: &'static str,
    pub message: String,
}

pub fn error_response(status: StatusCode, error: &'static str, message: impl Into<String>) -> Response {
    (status, Json(ErrorBody { error, message: message.into() })).into_response()
}

/// POST `/` (Function URL), `/interactions`, and `/{stage}/` or `/{stage}/interactions`
/// (`lambda_http` puts an API Gateway REST stage in front of the path); Discord's Webhook
/// Events at `/events` (and `/{stage}/events`).
pub fn router(service: Arc<InteractionService>) -> Router {
    routes(service).fallback(|| async { error_response(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
}

/// The same routes without a fallback, for a host that merges them into another router
/// (the local stack serves them beside the tenant API).
pub fn routes(service: Arc<InteractionService>) -> Router {
    Router::new()
        .route("/", post(interactions))
        .route("/interactions", post(interactions))
        .route("/{stage}/", post(interactions))
        .route("/{stage}/interactions", post(interactions))
        .route("/events", post(webhook_events))
        .route("/{stage}/events", post(webhook_events))
        .route("/health", get(|| async { Json(serde_json::json!({ "status": "ok" })) }))
        .with_state(service)
}

/// The body, unless it is over [`MAX_BODY_BYTES`] (413, before anything is verified).
async fn read_body(headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes, Response> {
    let declared_too_large = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|length| length > MAX_BODY_BYTES);
    let body = match declared_too_large {
        true => None,
        false => axum::body::to_bytes(body, MAX_BODY_BYTES).await.ok(),
    };
    body.ok_or_else(|| {
        tracing::warn!(status = 413, "refused oversized body");
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("interaction bodies are limited to {MAX_BODY_BYTES} bytes"),
        )
    })
}

/// The body and Discord's signature headers (HeaderMap names are case-insensitive, whatever
/// case the event or client used).
async fn signed_body(
    headers: &HeaderMap,
    body: Body,
) -> Result<(axum::body::Bytes, Option<&[u8]>, Option<&[u8]>), Response> {
    let body = read_body(headers, body).await?;
    let signature = headers.get(SIGNATURE_HEADER).map(|value| value.as_bytes());
    let timestamp = headers.get(TIMESTAMP_HEADER).map(|value| value.as_bytes());
    Ok((body, signature, timestamp))
}

fn rejected(rejection: Rejection) -> Response {
    match rejection {
        Rejection::Unauthorized(reason) => {
            metrics::counter!(SIGNATURE_FAILURES.name).increment(1);
            tracing::warn!(reason = %reason, status = 401, "refused request signature");
            error_response(StatusCode::UNAUTHORIZED, "invalid_request_signature", "invalid request signature")
        }
        Rejection::Malformed(reason) => {
            tracing::warn!(reason = %reason, status = 400, "refused malformed request");
            error_response(StatusCode::BAD_REQUEST, "malformed_interaction", reason)
        }
    }
}

/// Discord's Webhook Events: 204 once handled (or ignored), so Discord stops retrying; 503
/// when the store is busy, so it retries.
async fn webhook_events(State(service): State<Arc<InteractionService>>, headers: HeaderMap, body: Body) -> Response {
    let Some(events) = service.events() else {
        return error_response(StatusCode::NOT_FOUND, "not_found", "no such endpoint");
    };
    let (body, signature, timestamp) = match signed_body(&headers, body).await {
        Ok(signed) => signed,
        Err(response) => return response,
    };
    match events.handle(signature, timestamp, &body).await {
        Ok(outcome) => {
            match &outcome {
                EventOutcome::BotConfirmed(guild) => tracing::info!(guild_id = guild.get(), "bot install confirmed"),
                EventOutcome::Ignored(kind) => tracing::info!(event = %kind, "webhook event ignored"),
                EventOutcome::Ping | EventOutcome::Repeated => tracing::info!(outcome = ?outcome, "webhook event"),
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Err(EventError::Rejected(rejection)) => rejected(rejection),
        Err(EventError::Busy(error)) => {
            tracing::warn!(error = %Report(&error), status = 503, "webhook event not recorded; Discord retries");
            error_response(StatusCode::SERVICE_UNAVAILABLE, "busy", "try again")
        }
    }
}

async fn interactions(State(service): State<Arc<InteractionService>>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let (body, signature, timestamp) = match signed_body(&headers, body).await {
        Ok(signed) => signed,
        Err(response) => return response,
    };
    match service.handle(signature, timestamp, &body).await {
        Ok((response, meta)) => {
            let command = meta.command.as_deref().filter(|name| service.commands().get(name).is_some());
            metrics::counter!(
                INTERACTIONS.name,
                "command" => command.unwrap_or(if meta.command.is_some() { "unknown" } else { "none" }).to_owned(),
                "response" => response_label(response.kind),
            )
            .increment(1);
            metrics::histogram!(INTERACTION_LATENCY.name).record(started.elapsed().as_secs_f64() * 1000.0);
            tracing::info!(
                interaction_id = meta.id,
                interaction_type = meta.kind,
                guild_id = meta.guild_id,
                command = meta.command.as_deref(),
                latency_us = started.elapsed().as_micros() as u64,
                status = 200,
                "interaction answered"
            );
            Json(response).into_response()
        }
        Err(rejection) => rejected(rejection),
    }
}

/// A response type as the `response` label: what the member saw.
fn response_label(kind: InteractionResponseType) -> &'static str {
    match kind {
        InteractionResponseType::Pong => "pong",
        InteractionResponseType::ChannelMessageWithSource => "message",
        InteractionResponseType::DeferredChannelMessageWithSource => "deferred",
        InteractionResponseType::DeferredUpdateMessage => "deferred_update",
        InteractionResponseType::UpdateMessage => "update",
        InteractionResponseType::ApplicationCommandAutocompleteResult => "autocomplete",
        InteractionResponseType::Modal => "modal",
        _ => "other",
    }
}

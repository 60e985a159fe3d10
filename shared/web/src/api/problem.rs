//! Errors as `application/problem+json` (RFC 9457): a status, a stable `type`, a title,
//! a sentence for people, and per-field `errors` where fields are at fault.

use crate::domain::error::Report;
use std::collections::BTreeMap;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::StoreError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer (boxed: it travels in every handler's `Err`), with the seconds of a
/// `Retry-After` header when the caller should wait.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem(Box<ProblemDetails>, Option<u64>);

/// The body of an error answer.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDetails {
    /// A URI naming the kind of problem (`urn:guildbridge:problem:not-found`).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Field name -> what is wrong with it, when fields are at fault.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, String>,
    /// What the request ran into (the running sync, the other link), when that helps.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub conflict: Option<serde_json::Value>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self(
            Box::new(ProblemDetails {
                kind: format!("urn:guildbridge:problem:{code}"),
                title: status.canonical_reason().unwrap_or("Error").to_owned(),
                status: status.as_u16(),
                detail: detail.into(),
                errors: BTreeMap::new(),
                conflict: None,
            }),
            None,
        )
    }

    /// 429: over the tenant's request limit until `retry_after` seconds from now.
    pub fn too_many_requests(budget: &str, retry_after: u64) -> Self {
        let mut problem = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            format!("over this tenant's {budget} request limit; try again in {retry_after} s"),
        );
        problem.1 = Some(retry_after);
        problem
    }

    /// What the body says.
    pub fn details(&self) -> &ProblemDetails {
        &self.0
    }

    pub fn with_conflict(mut self, conflict: serde_json::Value) -> Self {
        self.0.conflict = Some(conflict);
        self
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid API key is required: Authorization: Bearer <key>")
    }

    /// Anything that is not this tenant's looks exactly like something that does not exist.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", format!("{what} not found"))
    }

    pub fn not_connected() -> Self {
        Self::new(StatusCode::CONFLICT, "guild-not-connected", "connect a Discord server first (POST /v1/connect)")
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }

    pub fn conflict(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// Every invalid field at once.
    pub fn invalid(errors: BTreeMap<String, String>) -> Self {
        let mut problem = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", "some fields are not valid");
        problem.0.errors = errors;
        problem
    }

    pub fn invalid_field(field: &str, problem: impl Into<String>) -> Self {
        Self::invalid(BTreeMap::from([(field.to_owned(), problem.into())]))
    }

    fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, Json(self.0)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = self.1 {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// What a store failure means to whoever asked, the same at every door (the API, the page,
/// the connect callback): its status, a problem code and a sentence. Every kind is named, so
/// a new one cannot fall into "busy" or "ours" unnoticed. Logged here, once.
pub fn store_answer(error: &StoreError) -> (StatusCode, &'static str, String) {
    match error {
        StoreError::AlreadyExists(_) => (StatusCode::CONFLICT, "already-exists", error.to_string()),
        StoreError::VersionConflict => (StatusCode::CONFLICT, "version-conflict", error.to_string()),
        StoreError::LeaseHeld(_) => (StatusCode::CONFLICT, "sync-running", error.to_string()),
        StoreError::Conflict(reason) => (StatusCode::CONFLICT, "conflict", (*reason).to_owned()),
        StoreError::NotFound(what) => (StatusCode::NOT_FOUND, "not-found", format!("{what} not found")),
        StoreError::BadCursor => (StatusCode::BAD_REQUEST, "bad-request", error.to_string()),
        StoreError::InvalidSettings(errors) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid", errors.to_string()),
        StoreError::Retryable(_) => {
            tracing::warn!(error = %Report(&error), "store busy");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "storage is busy; try again shortly".to_owned())
        }
        StoreError::Corrupt(_) | StoreError::Misconfigured(_) => {
            tracing::error!(error = %Report(&error), "store failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal", "something went wrong on our side".to_owned())
        }
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => Self::not_found(what),
            StoreError::InvalidSettings(errors) => {
                Self::invalid(errors.0.into_iter().map(|(field, problem)| (field.to_owned(), problem)).collect())
            }
            other => {
                let (status, code, detail) = store_answer(&other);
                Self::new(status, code, detail)
            }
        }
    }
}

impl From<crate::timeline::TimelineError> for Problem {
    fn from(error: crate::timeline::TimelineError) -> Self {
        match error {
            crate::timeline::TimelineError::Store(error) => error.into(),
            crate::timeline::TimelineError::Queue(error) => error.into(),
        }
    }
}

impl From<crate::queue::QueueError> for Problem {
    fn from(error: crate::queue::QueueError) -> Self {
        tracing::warn!(error = %Report(&error), "queue unavailable");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the job queue is unavailable; try again shortly")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_store_failure_is_answered_as_what_it_is_not_as_busy() {
        let status = |error: StoreError| store_answer(&error).0;
        assert_eq!(status(StoreError::NotFound("tenant")), StatusCode::NOT_FOUND);
        assert_eq!(status(StoreError::BadCursor), StatusCode::BAD_REQUEST);
        assert_eq!(status(StoreError::Conflict("claimed")), StatusCode::CONFLICT);
        assert_eq!(status(StoreError::AlreadyExists("link")), StatusCode::CONFLICT);
        assert_eq!(
            status(StoreError::Retryable(crate::domain::error::Cause::described("throttled"))),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(StoreError::Corrupt(crate::domain::error::Cause::described("bad item"))),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            status(StoreError::Misconfigured(crate::domain::error::Cause::described("no table"))),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        let (_, _, detail) =
            store_answer(&StoreError::Corrupt(crate::domain::error::Cause::described("secret-looking detail")));
        assert!(!detail.contains("secret-looking"), "what is ours stays in the logs: {detail}");
    }
}

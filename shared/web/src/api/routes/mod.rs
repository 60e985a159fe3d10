//! The routes, one module per resource. Each handler names its caller first (so a request
//! without a valid key is 401 before anything else is read), then its path, query and body.

pub mod channels;
pub mod guild;
pub mod jobs;
pub mod keys;
pub mod links;
pub mod members;
mod prelude;
pub mod settings;
pub mod subjects;
pub mod syncs;
pub mod teams;
pub mod tenant;
pub mod webhook;

use serde::Deserialize;
use utoipa::IntoParams;

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};

use super::{
    Api,
    problem::Problem,
    views::{Accepted, JobView},
};
use crate::{
    domain::{Job, SubjectRef},
    store::{JobRecord, JobStatus, StoreError},
};

/// `/v1/subjects/{kind}/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SubjectPath {
    /// `event` or `lead`.
    #[param(pattern = "^(event|lead)$")]
    pub kind: String,
    /// The platform's id: letters, digits, `-`, `_`, `.` (1 to 100).
    #[param(pattern = "^[A-Za-z0-9._-]{1,100}$")]
    pub id: String,
}

impl SubjectPath {
    /// The subject named, or 404: a subject that cannot exist is not found.
    pub fn subject(&self) -> Result<SubjectRef, Problem> {
        match (self.kind.as_str(), SubjectRef::parse(&format!("{}:{}", self.kind, self.id))) {
            ("event" | "lead", Some(subject)) if subject.id == self.id => Ok(subject),
            _ => Err(Problem::not_found("subject")),
        }
    }
}

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 100;

/// `limit`, checked: 1 to 100, 50 unless given.
pub fn page_limit(limit: Option<u32>) -> Result<u32, Problem> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        limit @ 1..=MAX_LIMIT => Ok(limit),
        _ => Err(Problem::invalid_field("limit", format!("1 to {MAX_LIMIT}"))),
    }
}

/// Records `job` as queued (so `GET /v1/jobs/{id}` knows it at once), enqueues it, and
/// answers 202 with it.
pub async fn accepted(api: &Api, job: Job) -> Result<Response, Problem> {
    let record = JobRecord::of(&job, JobStatus::Queued, 0, api.clock.now());
    api.store.record_job_queued(job.guild_id(), &record).await?;
    api.queue.enqueue(&job).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { job: JobView::queued(&job) })).into_response())
}

/// A request id for work the caller did not key (no `Idempotency-Key`): unique, so the
/// request is its own job.
pub fn random_key() -> Result<String, Problem> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random)
        .map_err(|_| Problem::from(StoreError::Retryable(crate::domain::error::Cause::described("no randomness"))))?;
    Ok(hex::encode(random))
}

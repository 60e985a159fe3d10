//! `Idempotency-Key` on the POSTs that enqueue: a replay gets the first answer, the same key
//! with another body gets 422, and two requests at once with one key make one job (the work
//! itself is keyed by the idempotency key, and the first answer stored wins).

use std::{future::Future, time::Duration};

use axum::{
    Json,
    extract::FromRequestParts,
    http::{StatusCode, request::Parts},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Api, problem::Problem};
use crate::{domain::TenantId, store::FirstOrSeen};

pub const HEADER: &str = "idempotency-key";
/// How long a key's first answer is kept.
pub const KEPT_FOR: Duration = Duration::from_secs(24 * 60 * 60);
const MAX_KEY_LENGTH: usize = 255;

/// The request's `Idempotency-Key`, if it sent one (printable ASCII, 1 to 255 characters).
#[derive(Debug, Clone, Default)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        let Some(value) = parts.headers.get(HEADER) else { return Ok(Self(None)) };
        let key = value
            .to_str()
            .ok()
            .filter(|key| (1..=MAX_KEY_LENGTH).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()));
        match key {
            Some(key) => Ok(Self(Some(key.to_owned()))),
            None => Err(Problem::bad_request(format!(
                "Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
            ))),
        }
    }
}

/// A first answer, as kept.
#[derive(Debug, Serialize, Deserialize)]
struct Kept {
    fingerprint: String,
    status: u16,
    body: serde_json::Value,
}

impl Kept {
    fn replay(self, fingerprint: &str) -> Response {
        if self.fingerprint != fingerprint {
            return Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "this Idempotency-Key was used with a different request",
            )
            .into_response();
        }
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        (status, Json(self.body)).into_response()
    }
}

/// Runs `work` once per key: without a key, every time.
pub async fn once<F>(
    api: &Api,
    tenant_id: &TenantId,
    operation: &str,
    key: &IdempotencyKey,
    request: &[u8],
    work: F,
) -> Result<Response, Problem>
where
    F: Future<Output = Result<(StatusCode, serde_json::Value), Problem>>,
{
    let Some(key) = &key.0 else {
        let (status, body) = work.await?;
        return Ok((status, Json(body)).into_response());
    };
    // Tenants' keys never meet: the scope names the tenant and the operation.
    let scope = format!("api:{}:{operation}", hex::encode(Sha256::digest(tenant_id.as_bytes())));
    let fingerprint = hex::encode(Sha256::digest(request));
    let now = api.clock.now();
    if let Some(kept) = api.store.recall(&scope, key, now).await? {
        return Ok(read(kept)?.replay(&fingerprint));
    }
    let (status, body) = work.await?;
    let kept = Kept { fingerprint: fingerprint.clone(), status: status.as_u16(), body };
    let value = serde_json::to_value(&kept).map_err(|_| Problem::bad_request("unreadable answer"))?;
    match api.store.remember(&scope, key, value, now, KEPT_FOR).await? {
        FirstOrSeen::First => Ok((status, Json(kept.body)).into_response()),
        // Another request with this key answered first: its answer is the answer.
        FirstOrSeen::Seen(first) => Ok(read(first)?.replay(&fingerprint)),
    }
}

fn read(value: serde_json::Value) -> Result<Kept, Problem> {
    serde_json::from_value(value)
        .map_err(|error| Problem::from(crate::store::StoreError::Corrupt(crate::domain::error::Cause::new(error))))
}

//! What every route reads from a request, with every failure answered as a problem: the
//! caller (from the API key alone, within its tenant's request limits), the JSON body (64 KiB at most, JSON only, no unknown
//! fields), and path and query parameters.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{HeaderMap, StatusCode, header, request::Parts},
};
use serde::de::DeserializeOwned;
use twilight_model::id::{Id, marker::GuildMarker};

use super::{Api, problem::Problem};
use crate::{
    domain::{TenantId, limits::RequestClass},
    store::Admission,
};

/// Bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The tenant whose key came with the request. The tenant, and through it the guild, comes
/// from the key and nothing else.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant_id: TenantId,
    /// The id of the key it came with (what a key it makes records as its maker).
    pub key_id: String,
}

impl FromRequestParts<Arc<Api>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, api: &Arc<Api>) -> Result<Self, Problem> {
        let key = bearer(&parts.headers).ok_or_else(Problem::unauthorized)?;
        let found = api.store.tenant_for_key(key, api.clock.now()).await?;
        let Some((tenant_id, key_id)) = found else { return Err(Problem::unauthorized()) };
        admit(api, &tenant_id, RequestClass::of(&parts.method, parts.uri.path())).await?;
        Ok(Caller { tenant_id, key_id })
    }
}

/// Counts the request against its tenant's budgets: every request against the general one,
/// outbound ones against theirs too (checked first, so a refused action costs nothing more).
async fn admit(api: &Api, tenant_id: &TenantId, class: RequestClass) -> Result<(), Problem> {
    let now = api.clock.now();
    let mut budgets = vec![(RequestClass::Any, api.limits.per_minute.get())];
    if class == RequestClass::Outbound {
        budgets.insert(0, (RequestClass::Outbound, api.limits.outbound_per_minute.get()));
    }
    for (budget, limit) in budgets {
        if let Admission::Limited { retry_after } = api.store.admit(tenant_id, budget.as_str(), limit, now).await? {
            tracing::info!(tenant_id = %tenant_id, budget = budget.as_str(), "request over the tenant's limit");
            return Err(Problem::too_many_requests(budget.as_str(), retry_after));
        }
    }
    Ok(())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(key.trim()).filter(|key| !key.is_empty())
}

/// A caller whose tenant has connected its guild: 409 until it has.
#[derive(Debug, Clone)]
pub struct Connected {
    pub tenant_id: TenantId,
    pub guild_id: Id<GuildMarker>,
}

impl FromRequestParts<Arc<Api>> for Connected {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, api: &Arc<Api>) -> Result<Self, Problem> {
        let Caller { tenant_id, .. } = Caller::from_request_parts(parts, api).await?;
        match api.store.guild_of(&tenant_id).await? {
            Some(guild_id) => Ok(Connected { tenant_id, guild_id }),
            None => Err(Problem::not_connected()),
        }
    }
}

/// A JSON body: 415 unless the content type is JSON, 413 over [`MAX_BODY_BYTES`], 400 for
/// malformed JSON, anything but an object, or unknown fields (the body types deny them).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T, pub Bytes);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .map(|essence| {
                let essence = essence.trim().to_ascii_lowercase();
                essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "the body must be JSON (Content-Type: application/json)",
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|_| too_large())?;
        if bytes.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        // Every body the API takes is an object, and serde would also read a struct from an
        // array of its fields in order (`[]` is a struct whose fields all have defaults).
        if bytes.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
            return Err(Problem::bad_request("the body must be a JSON object"));
        }
        let value = serde_json::from_slice(&bytes).map_err(|error| Problem::bad_request(error.to_string()))?;
        Ok(JsonBody(value, bytes))
    }
}

pub fn too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        format!("bodies are limited to {MAX_BODY_BYTES} bytes"),
    )
}

/// Path parameters, refused as a problem (not axum's plain text) when they cannot be read.
#[derive(Debug, Clone)]
pub struct PathParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(PathParams(value)),
            Err(rejection) => Err(Problem::bad_request(rejection.body_text())),
        }
    }
}

/// Query parameters, likewise; unknown parameters are refused by the types that deny them.
#[derive(Debug, Clone)]
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(QueryParams(value)),
            Err(rejection) => Err(Problem::bad_request(rejection.body_text())),
        }
    }
}

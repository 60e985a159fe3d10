//! The platform's own API keys: made (shown once), listed and revoked with a key, so it can
//! rotate without an operator. A key never revokes the last usable one.

use super::prelude::*;
use crate::{
    domain::{ApiKeyRecord, KeyDoor, KeyGrant},
    store::StoreError,
};

/// Days a key may be made to live, at most.
pub const MAX_KEY_DAYS: u32 = 366;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    /// Days until the key stops working (1 to 366); without it the key works until revoked.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 366)]
    pub expires_in_days: Option<u32>,
}

/// A key just made: its record, and the key itself, shown this once.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct CreatedKey {
    pub key: ApiKeyRecord,
    pub secret: String,
}

/// The tenant's keys, newest last (none of the keys themselves).
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct KeyList {
    pub items: Vec<ApiKeyRecord>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct KeyPath {
    /// The key's id (16 hex digits), as listed.
    #[param(pattern = "^[0-9a-f]{16}$")]
    pub key_id: String,
}

/// Makes a key for this tenant; the answer is the only time it is shown. The key records
/// that it was made through the API, by the key that asked.
#[utoipa::path(post, path = "/v1/keys", tag = "keys", request_body = NewKeyBody,
    responses((status = 201, description = "made; `secret` is shown this once", body = CreatedKey)))]
pub async fn create_key(
    caller: Caller,
    State(api): State<Arc<Api>>,
    JsonBody(body, _): JsonBody<NewKeyBody>,
) -> Result<Response, Problem> {
    let days = match body.expires_in_days {
        None => None,
        Some(days @ 1..=MAX_KEY_DAYS) => Some(days),
        Some(_) => return Err(Problem::invalid_field("expires_in_days", format!("1 to {MAX_KEY_DAYS}"))),
    };
    let now = api.clock.now();
    let grant = KeyGrant {
        door: KeyDoor::Api,
        created_by: format!("key {}", caller.key_id),
        expires_at: days.map(|days| now + u64::from(days) * 86_400),
    };
    let issued = api.store.issue_key(&caller.tenant_id, grant, now).await?;
    tracing::info!(tenant_id = %caller.tenant_id, key_id = %issued.record.key_id, "API key made through the API");
    Ok((StatusCode::CREATED, Json(CreatedKey { key: issued.record, secret: issued.secret })).into_response())
}

/// The tenant's keys: who made each, through which door, and whether it still works.
#[utoipa::path(get, path = "/v1/keys", tag = "keys",
    responses((status = 200, description = "the keys", body = KeyList)))]
pub async fn list_keys(caller: Caller, State(api): State<Arc<Api>>) -> Result<Json<KeyList>, Problem> {
    Ok(Json(KeyList { items: api.store.api_keys(&caller.tenant_id).await? }))
}

/// Revokes a key (the one asking included). Refused with 409 when no other usable key
/// would be left: make the new key first, then revoke the old one.
#[utoipa::path(delete, path = "/v1/keys/{key_id}", tag = "keys", params(KeyPath),
    responses((status = 204, description = "revoked")))]
pub async fn revoke_key(
    caller: Caller,
    State(api): State<Arc<Api>>,
    PathParams(path): PathParams<KeyPath>,
) -> Result<StatusCode, Problem> {
    match api.store.revoke_api_key_keeping_one(&caller.tenant_id, &path.key_id, api.clock.now()).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(StoreError::NotFound(_)) => Err(Problem::not_found("key")),
        Err(StoreError::Conflict(reason)) => {
            Err(Problem::conflict("last-usable-key", format!("not revoked: {reason}")))
        }
        Err(error) => Err(error.into()),
    }
}

//! The tenant API's keys, as recorded (the key itself is never stored).

use serde::{Deserialize, Serialize};

use super::TenantId;

/// A tenant API key's record (the key itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyRecord {
    pub key_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub tenant_id: TenantId,
    pub created_at: u64,
    #[serde(default)]
    pub revoked_at: Option<u64>,
    /// Through which door it was made.
    #[serde(default)]
    pub door: KeyDoor,
    /// Who made it: the operator, a person on the page (their Discord name), or the key
    /// that asked for it through the API.
    #[serde(default)]
    pub created_by: Option<String>,
    /// After this (unix seconds) the key is refused like a revoked one.
    #[serde(default)]
    pub expires_at: Option<u64>,
}

impl ApiKeyRecord {
    /// Neither revoked nor past its expiry at `now`.
    pub fn usable_at(&self, now: u64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

/// The door a key was made through.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeyDoor {
    /// The operator's CLI (and keys made before doors were recorded).
    #[default]
    Operator,
    /// The settings page, by a standalone tenant's admin.
    Page,
    /// `POST /v1/keys`, by the platform with one of its keys.
    Api,
}

/// What a new key records of its making.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrant {
    pub door: KeyDoor,
    pub created_by: String,
    pub expires_at: Option<u64>,
}

impl KeyGrant {
    /// A key the operator makes, which never expires.
    pub fn operator() -> Self {
        Self { door: KeyDoor::Operator, created_by: "operator".to_owned(), expires_at: None }
    }
}

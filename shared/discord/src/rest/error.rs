//! What a Discord call can end in, sorted by what the caller should do about it.

use std::time::Duration;

use guildbridge_domain::error::Cause;
use serde::Deserialize;

/// Discord's JSON error codes Guildbridge acts on.
pub mod codes {
    pub const UNKNOWN_CHANNEL: u64 = 10003;
    pub const UNKNOWN_GUILD: u64 = 10004;
    pub const UNKNOWN_MEMBER: u64 = 10007;
    pub const UNKNOWN_MESSAGE: u64 = 10008;
    pub const UNKNOWN_ROLE: u64 = 10011;
    pub const UNKNOWN_WEBHOOK: u64 = 10015;
    pub const UNKNOWN_INTERACTION: u64 = 10062;
    pub const MAX_GUILD_CHANNELS: u64 = 30013;
    pub const UNAUTHORIZED: u64 = 40001;
    pub const MISSING_ACCESS: u64 = 50001;
    /// The user does not take DMs from the bot (closed DMs, no shared server, or blocked).
    pub const CANNOT_MESSAGE_USER: u64 = 50007;
    pub const MISSING_PERMISSIONS: u64 = 50013;
    pub const INVALID_FORM_BODY: u64 = 50035;
}

/// Discord's error body: `{"code": 50013, "message": "Missing Permissions", "errors": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub code: u64,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub errors: Option<serde_json::Value>,
}

/// Errors that will not go away by retrying: tell a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermanentKind {
    MissingPermissions,
    MissingAccess,
    UnknownGuild,
    UnknownChannel,
    UnknownWebhook,
    UnknownOther,
    MaxChannels,
    /// The request itself was wrong (invalid form body and other 400s).
    Validation,
    /// The bot token (or OAuth token) was refused.
    Unauthorized,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscordError {
    /// Retrying will not help.
    #[error("Discord refused the request ({status}, code {}): {}", .body.code, .body.message)]
    Permanent { kind: PermanentKind, status: u16, body: ErrorBody },
    /// Waiting would pass the caller's deadline: hand the work back and retry after this long.
    #[error("Discord asks to wait {after:?}, past this call's deadline")]
    RetryAfter { after: Duration },
    /// Transient trouble (5xx, timeout, dropped connection) that outlasted the retries allowed.
    #[error("Discord is having trouble")]
    Transient(#[source] Cause),
    /// Near Discord's invalid-request limit (10,000 401/403/429 per 10 minutes): stop before a ban.
    #[error("too many refused requests recently; pausing calls to avoid an IP ban")]
    InvalidRequestBudget { retry_after: Duration },
    /// A 2xx answer that is not what the API documents.
    #[error("unexpected answer from Discord: {0}")]
    Decode(String),
}

impl DiscordError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, DiscordError::Permanent { .. } | DiscordError::Decode(_))
    }

    /// How long to wait before trying again, for errors that may pass.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            DiscordError::RetryAfter { after } => Some(*after),
            DiscordError::InvalidRequestBudget { retry_after } => Some(*retry_after),
            DiscordError::Transient(_) => Some(Duration::from_secs(5)),
            DiscordError::Permanent { .. } | DiscordError::Decode(_) => None,
        }
    }

    /// Discord's JSON error code of a refusal (`10008` Unknown Message, ...).
    pub fn code(&self) -> Option<u64> {
        match self {
            DiscordError::Permanent { body, .. } => Some(body.code),
            _ => None,
        }
    }

    /// The category named as the parent already holds Discord's 50 channels (someone made
    /// one since the list was read): a form error on `parent_id`.
    pub fn is_category_full(&self) -> bool {
        match self {
            DiscordError::Permanent { body, .. } if body.code == codes::INVALID_FORM_BODY => body
                .errors
                .as_ref()
                .and_then(|errors| errors.pointer("/parent_id/_errors"))
                .and_then(serde_json::Value::as_array)
                .is_some_and(|errors| errors.iter().any(|e| e["code"] == "CHANNEL_PARENT_MAX_CHANNELS")),
            _ => false,
        }
    }

    pub fn permanent_kind(&self) -> Option<PermanentKind> {
        match self {
            DiscordError::Permanent { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Classifies a 4xx other than 429.
    pub fn from_status(status: u16, body: ErrorBody) -> Self {
        let kind = match (status, body.code) {
            (_, codes::MISSING_PERMISSIONS) => PermanentKind::MissingPermissions,
            (_, codes::MISSING_ACCESS) => PermanentKind::MissingAccess,
            (_, codes::UNKNOWN_GUILD) => PermanentKind::UnknownGuild,
            (_, codes::UNKNOWN_CHANNEL) => PermanentKind::UnknownChannel,
            (_, codes::UNKNOWN_WEBHOOK | codes::UNKNOWN_INTERACTION) => PermanentKind::UnknownWebhook,
            (_, codes::MAX_GUILD_CHANNELS) => PermanentKind::MaxChannels,
            (401, _) => PermanentKind::Unauthorized,
            (403, _) => PermanentKind::MissingPermissions,
            (404, _) => PermanentKind::UnknownOther,
            _ => PermanentKind::Validation,
        };
        DiscordError::Permanent { kind, status, body }
    }

    /// A sentence for an admin: what went wrong and what to do.
    pub fn explain(&self) -> String {
        match self.permanent_kind() {
            Some(PermanentKind::MissingPermissions) => {
                "Guildbridge lacks a permission it needs here (check its role: Manage Channels, Manage Roles, View Channel, Send Messages).".to_owned()
            }
            Some(PermanentKind::MissingAccess) => "Guildbridge cannot see that channel or server.".to_owned(),
            Some(PermanentKind::UnknownGuild) => "Guildbridge is no longer in that server.".to_owned(),
            Some(PermanentKind::UnknownChannel) => "That channel no longer exists.".to_owned(),
            Some(PermanentKind::MaxChannels) => {
                "The server has reached Discord's limit of 500 channels; archive or delete some first.".to_owned()
            }
            _ => guildbridge_domain::error::Report(self).to_string(),
        }
    }
}

/// A call to one route that failed in transit (no answer, an unreadable one, or a 5xx that
/// outlasted the retries), as the cause of a [`DiscordError::Transient`]. It names the route's
/// template, never its URL: an interaction webhook's URL holds its token.
#[derive(Debug, thiserror::Error)]
#[error("{route}: {what}")]
pub(crate) struct InTransit {
    route: String,
    what: String,
    #[source]
    source: Option<reqwest::Error>,
}

impl InTransit {
    pub(crate) fn failed(route: &super::Route, what: &str, error: reqwest::Error) -> DiscordError {
        let failure =
            Self { route: route.key.template.clone(), what: what.to_owned(), source: Some(error.without_url()) };
        DiscordError::Transient(Cause::new(failure))
    }

    pub(crate) fn answered(route: &super::Route, status: reqwest::StatusCode) -> DiscordError {
        let failure = Self { route: route.key.template.clone(), what: format!("answered {status}"), source: None };
        DiscordError::Transient(Cause::new(failure))
    }
}

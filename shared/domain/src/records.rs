//! What Guildbridge remembers, as the domain sees it.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};

use super::{ClaimToken, RunId, TenantId};
use twilight_model::id::{
    Id,
    marker::{ChannelMarker, GuildMarker, MessageMarker, RoleMarker, UserMarker},
};

/// The kind of platform thing a channel is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    Event,
    Lead,
    Adhoc,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Event => "event",
            SubjectKind::Lead => "lead",
            SubjectKind::Adhoc => "adhoc",
        }
    }
}

/// `event:42`, `lead:abc`: a subject within one guild.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SubjectRef {
    pub kind: SubjectKind,
    pub id: String,
}

impl SubjectRef {
    pub fn new(kind: SubjectKind, id: impl Into<String>) -> Self {
        Self { kind, id: id.into() }
    }
}

impl SubjectRef {
    /// Reads `event:42`, `lead:abc`, `adhoc:name`; anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let (kind, id) = text.trim().split_once(':')?;
        let kind = match kind {
            "event" => SubjectKind::Event,
            "lead" => SubjectKind::Lead,
            "adhoc" => SubjectKind::Adhoc,
            _ => return None,
        };
        // `.` and `..` are path segments, not names: a URL built from them would walk up.
        let valid = !id.is_empty()
            && id.len() <= 100
            && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !matches!(id, "." | "..");
        valid.then(|| Self::new(kind, id))
    }
}

impl fmt::Display for SubjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.id)
    }
}

/// A subject as the platform registered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub subject: SubjectRef,
    pub name: String,
    /// Fields the naming pattern can use (`series_name`, `event_name`, ...).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub signup_url: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub starts_at: Option<u64>,
    /// Unix seconds: when the subject is over (an event's finish).
    #[serde(default)]
    pub ends_at: Option<u64>,
    /// The Discord user the subject belongs to (a lead's owner), for private channels.
    #[serde(default)]
    pub discord_user_id: Option<Id<UserMarker>>,
    /// Whether messages in its channel are relayed to the platform (`None`: on for leads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<bool>,
    /// Who signed up, as the platform last said: what the sign-up board shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signups: Option<Signups>,
}

/// An event's sign-ups as the platform reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signups {
    pub count: u32,
    #[serde(default)]
    pub capacity: Option<u32>,
    /// Names or teams, in the platform's order.
    #[serde(default)]
    pub entries: Vec<String>,
    /// The platform says this change matters (the field is full, sign-ups closed): the board
    /// is updated now rather than at its next turn.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub significant: bool,
}

impl Signups {
    /// What the board shows, as a short hash: a board showing this needs no edit.
    pub fn digest(&self) -> String {
        use sha2::Digest;
        let shown = serde_json::json!([self.count, self.capacity, self.entries]);
        hex::encode(&sha2::Sha256::digest(shown.to_string().as_bytes())[..8])
    }
}

impl Subject {
    /// Whether its channel's messages go to the platform as `message.received`.
    pub fn relays(&self) -> bool {
        self.relay.unwrap_or(self.subject.kind == SubjectKind::Lead)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingStatus {
    Creating,
    Active,
    Completed,
    Archived,
    Error,
}

impl MappingStatus {
    /// The channel exists and is not archived: it takes messages (an event that ended takes
    /// its results) until retention archives it.
    pub fn is_open(self) -> bool {
        matches!(self, MappingStatus::Active | MappingStatus::Completed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MappingStatus::Creating => "creating",
            MappingStatus::Active => "active",
            MappingStatus::Completed => "completed",
            MappingStatus::Archived => "archived",
            MappingStatus::Error => "error",
        }
    }
}

/// The Discord channels made for one subject.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelIds {
    pub text: Option<Id<ChannelMarker>>,
    #[serde(default)]
    pub category: Option<Id<ChannelMarker>>,
    #[serde(default)]
    pub voice: Option<Id<ChannelMarker>>,
    #[serde(default)]
    pub practice_voice: Option<Id<ChannelMarker>>,
}

impl ChannelIds {
    /// Every channel that belongs to the subject alone (the category may be shared).
    pub fn owned(&self) -> impl Iterator<Item = Id<ChannelMarker>> {
        [self.text, self.voice, self.practice_voice].into_iter().flatten()
    }
}

/// Subject -> channel(s), with the lifecycle of their creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelMapping {
    pub subject: SubjectRef,
    pub status: MappingStatus,
    /// Who holds the claim while the status is `creating`: one job attempt's token.
    pub claim_token: ClaimToken,
    #[serde(default)]
    pub channels: ChannelIds,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub requested_by: Option<Id<UserMarker>>,
    pub created_at: u64,
    pub updated_at: u64,
    /// The sign-up board: one pinned message per event, edited in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board: Option<BoardMessage>,
}

/// The sign-up board's message and when it last changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardMessage {
    pub message_id: Id<MessageMarker>,
    /// Unix seconds of the last post or edit.
    pub edited_at: u64,
    /// A hash of the sign-ups it shows: an unchanged board is not edited again.
    pub shows: String,
    /// Times it was posted again after someone deleted it.
    #[serde(default)]
    pub recreated: u32,
}

/// A Discord user linked to a platform user (one to one, within a guild).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserLink {
    pub user_id: Id<UserMarker>,
    pub platform_user: String,
    pub linked_at: u64,
    /// They pressed "Remind me": reminders may also reach them by DM (kept on the Discord side).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reminder_dms: bool,
}

/// A platform-side owner, as an operator created it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub tenant_id: TenantId,
    /// The origins (`https://club.example`) its connect flow may send people back to.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    pub created_at: u64,
}

/// A tenant's connection to its guild.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildConnection {
    pub tenant_id: TenantId,
    pub guild_id: Id<GuildMarker>,
    /// The guild's name when it was connected (from Discord's token response).
    #[serde(default)]
    pub guild_name: String,
    pub connected_at: u64,
}

/// A guild member as last seen by a sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: Id<UserMarker>,
    pub username: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub roles: Vec<Id<RoleMarker>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncKind {
    Manual,
    Scheduled,
    Automatic,
    Webhook,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCounts {
    pub total: u64,
    pub matched: u64,
    pub new: u64,
    pub left: u64,
    pub errors: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum SyncOutcome {
    Running,
    Succeeded,
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRun {
    pub run_id: RunId,
    pub kind: SyncKind,
    pub started_at: u64,
    #[serde(default)]
    pub finished_at: Option<u64>,
    #[serde(default)]
    pub counts: SyncCounts,
    pub outcome: SyncOutcome,
    /// Where a continued run resumes: the highest user id seen so far.
    #[serde(default)]
    pub cursor: Option<Id<UserMarker>>,
}

/// The sync lease another run holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncLease {
    pub run_id: RunId,
    pub started_at: u64,
    pub expires_at: u64,
}

impl SyncLease {
    /// What a person asking for a sync is told while this lease is held.
    pub fn already_running(&self) -> String {
        format!("A member sync is already running (started <t:{}:R>).", self.started_at)
    }
}

/// The bot's installation in a guild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotInstall {
    pub invited: bool,
    /// The permission bits the bot was granted.
    pub permissions: u64,
    pub updated_at: u64,
}

/// Why a setting could not be used as saved, as a worker found it (shown until the
/// settings are saved again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SettingsProblem {
    /// The setting, as the settings document names it (`notifications.log_channel_id`).
    pub field: String,
    pub problem: String,
    /// When it was found (unix seconds).
    pub at: u64,
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_ids_are_names_never_path_segments() {
        assert_eq!(SubjectRef::parse("event:spa-24.h"), Some(SubjectRef::new(SubjectKind::Event, "spa-24.h")));
        for refused in ["event:.", "event:..", "lead:", "lead:a/b", "lead:a b", "race:1", "event"] {
            assert_eq!(SubjectRef::parse(refused), None, "{refused}");
        }
    }
}

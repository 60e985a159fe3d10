//! People on the settings page: their sessions, their login attempts in flight, what they may
//! manage, and the audit log of what they changed.

use std::fmt;

use serde::{Deserialize, Serialize};
use twilight_model::{
    guild::Permissions,
    id::{Id, marker::GuildMarker},
};

/// How long a session lasts after login.
pub const SESSION_LIFETIME_SECS: u64 = 7 * 24 * 3600;
/// How long a login may take between leaving for Discord and coming back.
pub const LOGIN_LIFETIME_SECS: u64 = 600;
/// How long what Discord said about a person's guilds is trusted before asking again.
pub const ACCESS_CACHE_SECS: u64 = 60;
/// How long audit entries are kept.
pub const AUDIT_RETENTION_SECS: u64 = 365 * 24 * 3600;

/// One of a person's guilds as Discord lists it for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuildAccess {
    pub guild_id: Id<GuildMarker>,
    pub name: String,
    pub owner: bool,
    pub permissions: u64,
}

impl GuildAccess {
    /// Owners, Administrators and holders of Manage Server may manage the guild's settings.
    pub fn can_manage(&self) -> bool {
        let permissions = Permissions::from_bits_truncate(self.permissions);
        self.owner || permissions.intersects(Permissions::ADMINISTRATOR | Permissions::MANAGE_GUILD)
    }

    /// Whether the person may choose which role the bot hands out: Discord lets only holders
    /// of Manage Roles give roles, so the page does not let anyone else have the bot do it.
    pub fn can_manage_roles(&self) -> bool {
        let permissions = Permissions::from_bits_truncate(self.permissions);
        self.owner || permissions.intersects(Permissions::ADMINISTRATOR | Permissions::MANAGE_ROLES)
    }
}

/// A logged-in person, as stored server-side (the cookie holds only a random id).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub user_id: String,
    pub username: String,
    /// The person's Discord OAuth2 access token (scopes `identify guilds`).
    pub access_token: String,
    /// Every form carries it; a POST without it is refused.
    pub csrf_token: String,
    pub created_at: u64,
    pub expires_at: u64,
    /// The guilds the person may manage, as Discord said at `guilds_checked_at`.
    pub guilds: Vec<GuildAccess>,
    pub guilds_checked_at: u64,
}

impl SessionRecord {
    /// Whether the cached guild list is recent enough to trust at `now`.
    pub fn access_is_fresh(&self, now: u64) -> bool {
        now < self.guilds_checked_at + ACCESS_CACHE_SECS
    }

    pub fn manages(&self, guild_id: Id<GuildMarker>) -> Option<&GuildAccess> {
        self.guilds.iter().find(|guild| guild.guild_id == guild_id && guild.can_manage())
    }
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecord")
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .field("guilds", &self.guilds.len())
            .finish_non_exhaustive()
    }
}

/// A login on its way through Discord: the PKCE verifier and where to go afterwards, kept
/// server-side under the `state` that the pre-login cookie also holds.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginAttempt {
    pub pkce_verifier: String,
    /// A same-site relative path.
    pub next: String,
    pub redirect_uri: String,
    pub expires_at: u64,
}

impl fmt::Debug for LoginAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginAttempt").field("next", &self.next).field("expires_at", &self.expires_at).finish()
    }
}

/// One field's change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub from: String,
    pub to: String,
}

/// Who changed what, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: u64,
    /// A Discord user id, or `tenant-api` for the platform's API key.
    pub actor_id: String,
    pub actor_name: String,
    pub changes: Vec<FieldChange>,
}

impl AuditEntry {
    /// The fields that differ between two JSON documents, named by their path
    /// (`notifications.on_error`), values shown as JSON (`null` for none).
    pub fn diff(before: &serde_json::Value, after: &serde_json::Value) -> Vec<FieldChange> {
        let mut changes = Vec::new();
        diff_into("", before, after, &mut changes);
        changes
    }
}

fn diff_into(path: &str, before: &serde_json::Value, after: &serde_json::Value, out: &mut Vec<FieldChange>) {
    use serde_json::Value;
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
            names.sort();
            names.dedup();
            for name in names {
                let child = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
                diff_into(&child, a.get(name).unwrap_or(&Value::Null), b.get(name).unwrap_or(&Value::Null), out);
            }
        }
        (a, b) if a != b => out.push(FieldChange { field: path.to_owned(), from: a.to_string(), to: b.to_string() }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_diff_names_each_changed_field_by_its_path() {
        let before = json!({ "a": 1, "n": { "x": true, "y": null } });
        let after = json!({ "a": 1, "n": { "x": false, "y": "7" } });
        let changes = AuditEntry::diff(&before, &after);
        assert_eq!(
            changes,
            vec![
                FieldChange { field: "n.x".into(), from: "true".into(), to: "false".into() },
                FieldChange { field: "n.y".into(), from: "null".into(), to: "\"7\"".into() },
            ]
        );
    }

    #[test]
    fn only_owners_administrators_and_server_managers_manage() {
        let guild = |owner, permissions: Permissions| GuildAccess {
            guild_id: Id::new(1),
            name: "g".into(),
            owner,
            permissions: permissions.bits(),
        };
        assert!(guild(true, Permissions::empty()).can_manage());
        assert!(guild(false, Permissions::ADMINISTRATOR).can_manage());
        assert!(guild(false, Permissions::MANAGE_GUILD).can_manage());
        assert!(!guild(false, Permissions::MANAGE_CHANNELS | Permissions::SEND_MESSAGES).can_manage());
    }
}

//! Guild members as syncs see them, and their links to the platform's users.

use serde::{Deserialize, Serialize};
use twilight_model::id::{
    Id,
    marker::{RoleMarker, UserMarker},
};

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

//! The platform's side: a tenant, its connection to a guild, the bot's installation there,
//! and what a worker found wrong with its settings.

use serde::{Deserialize, Serialize};
use twilight_model::id::{Id, marker::GuildMarker};

use super::TenantId;

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

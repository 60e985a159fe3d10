//! The form's pickers, filled from the guild through the bot token and kept briefly, so a
//! page view costs Discord nothing most of the time: categories (archive category), text
//! channels (log channel), and the roles the bot can give.

use crate::domain::error::Report;
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use twilight_model::{
    channel::{Channel, ChannelType},
    guild::Role,
    id::{
        Id,
        marker::{ApplicationMarker, GuildMarker},
    },
};

use crate::discord::{guild_ids::GuildIds, rest::DiscordClient};

/// How long a guild's lists are reused.
pub const PICKER_CACHE: Duration = Duration::from_secs(30);
const DISCORD_TIMEOUT: Duration = Duration::from_secs(3);

/// `(id, name)` lists, sorted as Discord shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choices {
    pub categories: Vec<(String, String)>,
    pub text_channels: Vec<(String, String)>,
    pub roles: Vec<(String, String)>,
}

#[derive(Debug)]
pub struct Pickers {
    application_id: Id<ApplicationMarker>,
    cache: Mutex<HashMap<Id<GuildMarker>, (Instant, Choices)>>,
}

impl Pickers {
    pub fn new(application_id: Id<ApplicationMarker>) -> Self {
        Self { application_id, cache: Mutex::new(HashMap::new()) }
    }

    /// The guild's lists, or `None` when Discord cannot be asked (the form then takes ids).
    pub async fn choices(&self, bot: &DiscordClient, guild_id: Id<GuildMarker>) -> Option<Choices> {
        if let Some((at, choices)) = self.lock().get(&guild_id)
            && at.elapsed() < PICKER_CACHE
        {
            return Some(choices.clone());
        }
        let deadline = tokio::time::Instant::now() + DISCORD_TIMEOUT;
        let (channels, roles) =
            tokio::join!(bot.guild_channels(guild_id, deadline), bot.guild_roles(guild_id, deadline));
        let (channels, roles) = match (channels, roles) {
            (Ok(channels), Ok(roles)) => (channels, roles),
            (Err(error), _) | (_, Err(error)) => {
                tracing::info!(error = %Report(&error), "settings page: pickers unavailable");
                return None;
            }
        };
        let choices = Choices {
            categories: named(&channels, ChannelType::GuildCategory),
            text_channels: named(&channels, ChannelType::GuildText),
            roles: manageable(roles, guild_id, self.application_id),
        };
        let mut cache = self.lock();
        cache.retain(|_, (at, _)| at.elapsed() < PICKER_CACHE);
        cache.insert(guild_id, (Instant::now(), choices.clone()));
        Some(choices)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Id<GuildMarker>, (Instant, Choices)>> {
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn named(channels: &[Channel], kind: ChannelType) -> Vec<(String, String)> {
    let mut picked: Vec<&Channel> = channels.iter().filter(|channel| channel.kind == kind).collect();
    picked.sort_by_key(|channel| (channel.position.unwrap_or_default(), channel.id));
    picked.into_iter().map(|channel| (channel.id.to_string(), channel.name.clone().unwrap_or_default())).collect()
}

/// Roles the bot may give (the same rules the save and the sync worker apply: not
/// `@everyone`, not managed, below the bot's highest role, no power), highest first.
fn manageable(
    roles: Vec<Role>,
    guild_id: Id<GuildMarker>,
    application_id: Id<ApplicationMarker>,
) -> Vec<(String, String)> {
    let guild = GuildIds::new(guild_id, Vec::new(), roles.clone(), application_id);
    let mut usable: Vec<Role> = roles.into_iter().filter(|role| guild.grantable_role(role.id).is_ok()).collect();
    usable.sort_by_key(|role| std::cmp::Reverse(role.position));
    usable.into_iter().map(|role| (role.id.to_string(), role.name)).collect()
}

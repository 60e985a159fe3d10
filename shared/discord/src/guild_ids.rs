//! Whether a Discord id a tenant gave belongs to the tenant's guild and is of the right kind,
//! and whether a role is one the bot may hand out. The ids come from settings anyone with
//! Manage Server (or the platform's API key) can write, so the bot checks them against the
//! guild as Discord describes it, at save and again before use: it never posts, moves or
//! grants in another tenant's guild, and never hands out power.

use std::{collections::BTreeMap, time::Duration};

use tokio::time::Instant;
use twilight_model::{
    channel::{Channel, ChannelType},
    guild::{Permissions, Role},
    id::{
        Id,
        marker::{ApplicationMarker, ChannelMarker, GuildMarker, RoleMarker},
    },
};

use super::rest::{DiscordClient, DiscordError};
use guildbridge_domain::GuildSettings;

/// Permissions a role the bot grants must not carry: any of them lets its holder act on
/// other members, channels or the guild, or ping everyone.
pub const POWERFUL: Permissions = Permissions::ADMINISTRATOR
    .union(Permissions::MANAGE_GUILD)
    .union(Permissions::MANAGE_ROLES)
    .union(Permissions::MANAGE_CHANNELS)
    .union(Permissions::MANAGE_WEBHOOKS)
    .union(Permissions::MANAGE_MESSAGES)
    .union(Permissions::KICK_MEMBERS)
    .union(Permissions::BAN_MEMBERS)
    .union(Permissions::MODERATE_MEMBERS)
    .union(Permissions::MENTION_EVERYONE);

/// Why the bot will not grant or remove a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleRefusal {
    #[error("is not a role of this server")]
    NotInGuild,
    #[error("is @everyone, which every member holds")]
    Everyone,
    #[error("is managed by an integration (a bot's or a subscription's role)")]
    Managed,
    #[error("is not below the bot's highest role")]
    NotBelowBot,
    #[error("carries {0}, which the bot does not hand out")]
    Powerful(String),
}

/// A guild's channels and roles as Discord answered, and the bot's place among the roles.
#[derive(Debug, Clone)]
pub struct GuildIds {
    guild_id: Id<GuildMarker>,
    channels: Vec<Channel>,
    roles: Vec<Role>,
    application_id: Id<ApplicationMarker>,
}

/// How long a check may wait on Discord.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

impl GuildIds {
    pub fn new(
        guild_id: Id<GuildMarker>,
        channels: Vec<Channel>,
        roles: Vec<Role>,
        application_id: Id<ApplicationMarker>,
    ) -> Self {
        Self { guild_id, channels, roles, application_id }
    }

    /// The guild's channels and roles, read from Discord with the bot's token.
    pub async fn fetch(
        discord: &DiscordClient,
        guild_id: Id<GuildMarker>,
        application_id: Id<ApplicationMarker>,
        deadline: Instant,
    ) -> Result<Self, DiscordError> {
        let mut ids = Self::fetch_roles(discord, guild_id, application_id, deadline).await?;
        ids.channels = discord.guild_channels(guild_id, deadline).await?;
        Ok(ids)
    }

    /// Only the roles, for a worker that checks a role before granting it.
    pub async fn fetch_roles(
        discord: &DiscordClient,
        guild_id: Id<GuildMarker>,
        application_id: Id<ApplicationMarker>,
        deadline: Instant,
    ) -> Result<Self, DiscordError> {
        let roles = discord.guild_roles(guild_id, deadline).await?;
        Ok(Self::new(guild_id, Vec::new(), roles, application_id))
    }

    /// A channel messages can be posted in (text or announcement) of this guild.
    pub fn is_text_channel(&self, id: Id<ChannelMarker>) -> bool {
        is_text_channel_of(&self.channels, self.guild_id, id)
    }

    /// A category of this guild.
    pub fn is_category(&self, id: Id<ChannelMarker>) -> bool {
        is_category_of(&self.channels, self.guild_id, id)
    }

    /// The highest position among the bot's own (integration) roles.
    fn bot_position(&self) -> Option<i64> {
        self.roles
            .iter()
            .filter(|role| {
                role.tags
                    .as_ref()
                    .and_then(|tags| tags.bot_id)
                    .is_some_and(|bot| bot.get() == self.application_id.get())
            })
            .map(|role| role.position)
            .max()
    }

    /// Whether the bot may grant or remove `id`: a role of this guild, not @everyone, not
    /// managed, below the bot's highest role, and without power over others. Without the
    /// bot's own role in the list the answer is no: Discord would refuse it too.
    pub fn grantable_role(&self, id: Id<RoleMarker>) -> Result<(), RoleRefusal> {
        if id.get() == self.guild_id.get() {
            return Err(RoleRefusal::Everyone);
        }
        let role = self.roles.iter().find(|role| role.id == id).ok_or(RoleRefusal::NotInGuild)?;
        if role.managed {
            return Err(RoleRefusal::Managed);
        }
        if self.bot_position().is_none_or(|top| role.position >= top) {
            return Err(RoleRefusal::NotBelowBot);
        }
        let power = role.permissions & POWERFUL;
        if !power.is_empty() {
            return Err(RoleRefusal::Powerful(permission_names(power)));
        }
        Ok(())
    }

    /// Every id `new` names, checked: field name → problem.
    fn problems(&self, new: &NewIds) -> BTreeMap<String, String> {
        let mut problems = BTreeMap::new();
        if let Some(channel) = new.log_channel
            && !self.is_text_channel(channel)
        {
            problems.insert("notifications.log_channel_id".to_owned(), "is not a text channel of this server".into());
        }
        if let Some(category) = new.archive_category
            && !self.is_category(category)
        {
            problems.insert("archive_category_id".to_owned(), "is not a category of this server".into());
        }
        if let Some(role) = new.member_role
            && let Err(refusal) = self.grantable_role(role)
        {
            problems.insert("member_role_id".to_owned(), refusal.to_string());
        }
        problems
    }
}

/// A text or announcement channel of `guild_id` among `channels` (as Discord listed them).
pub fn is_text_channel_of(channels: &[Channel], guild_id: Id<GuildMarker>, id: Id<ChannelMarker>) -> bool {
    channel_of(channels, guild_id, id, &[ChannelType::GuildText, ChannelType::GuildAnnouncement])
}

/// A category of `guild_id` among `channels`.
pub fn is_category_of(channels: &[Channel], guild_id: Id<GuildMarker>, id: Id<ChannelMarker>) -> bool {
    channel_of(channels, guild_id, id, &[ChannelType::GuildCategory])
}

fn channel_of(channels: &[Channel], guild_id: Id<GuildMarker>, id: Id<ChannelMarker>, kinds: &[ChannelType]) -> bool {
    channels.iter().any(|channel| {
        channel.id == id && kinds.contains(&channel.kind) && channel.guild_id.is_none_or(|guild| guild == guild_id)
    })
}

/// The ids `settings` sets that `before` did not: the ones a save must check.
#[derive(Debug, Default)]
struct NewIds {
    log_channel: Option<Id<ChannelMarker>>,
    archive_category: Option<Id<ChannelMarker>>,
    member_role: Option<Id<RoleMarker>>,
}

impl NewIds {
    fn between(settings: &GuildSettings, before: &GuildSettings) -> Self {
        fn changed<T: PartialEq + Copy>(now: Option<T>, was: Option<T>) -> Option<T> {
            now.filter(|id| was != Some(*id))
        }
        Self {
            log_channel: changed(settings.notifications.log_channel_id, before.notifications.log_channel_id),
            archive_category: changed(settings.archive_category_id, before.archive_category_id),
            member_role: changed(settings.member_role_id, before.member_role_id),
        }
    }

    fn is_empty(&self) -> bool {
        self.log_channel.is_none() && self.archive_category.is_none() && self.member_role.is_none()
    }
}

/// Checks the ids `settings` sets that `before` did not, asking Discord only when there is
/// one: field name → problem. Ids already saved were checked when they were saved, and the
/// workers check them again before use.
pub async fn check_new_ids(
    discord: &DiscordClient,
    guild_id: Id<GuildMarker>,
    application_id: Id<ApplicationMarker>,
    settings: &GuildSettings,
    before: &GuildSettings,
) -> Result<BTreeMap<String, String>, DiscordError> {
    let new = NewIds::between(settings, before);
    if new.is_empty() {
        return Ok(BTreeMap::new());
    }
    let ids = GuildIds::fetch(discord, guild_id, application_id, Instant::now() + CHECK_TIMEOUT).await?;
    Ok(ids.problems(&new))
}

/// Discord's names for the flags in `permissions`, as a list a person reads.
pub fn permission_names(permissions: Permissions) -> String {
    permissions.iter_names().map(|(name, _)| name.to_lowercase().replace('_', " ")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use twilight_model::id::Id;

    use super::*;

    const GUILD: u64 = 100;
    const APP: u64 = 900;

    fn role(id: u64, position: i64, permissions: Permissions, managed: bool, bot: Option<u64>) -> Role {
        let mut value = json!({
            "id": id.to_string(), "name": format!("r{id}"), "color": 0, "hoist": false,
            "colors": { "primary_color": 0, "secondary_color": null, "tertiary_color": null },
            "position": position, "permissions": permissions.bits().to_string(),
            "managed": managed, "mentionable": false, "flags": 0,
        });
        if let Some(bot) = bot {
            value["tags"] = json!({ "bot_id": bot.to_string() });
        }
        serde_json::from_value(value).expect("a role")
    }

    fn guild() -> GuildIds {
        let roles = vec![
            role(GUILD, 0, Permissions::SEND_MESSAGES, false, None),
            role(1, 1, Permissions::empty(), false, None),
            role(2, 2, Permissions::KICK_MEMBERS | Permissions::VIEW_CHANNEL, false, None),
            role(3, 5, Permissions::ADMINISTRATOR, true, Some(APP)),
            role(4, 6, Permissions::empty(), false, None),
            role(5, 3, Permissions::empty(), true, Some(77)),
        ];
        GuildIds::new(Id::new(GUILD), Vec::new(), roles, Id::new(APP))
    }

    #[test]
    fn only_a_plain_role_below_the_bot_is_grantable() {
        let guild = guild();
        assert_eq!(guild.grantable_role(Id::new(1)), Ok(()));
        assert_eq!(guild.grantable_role(Id::new(GUILD)), Err(RoleRefusal::Everyone));
        assert_eq!(guild.grantable_role(Id::new(2)), Err(RoleRefusal::Powerful("kick members".into())));
        assert_eq!(guild.grantable_role(Id::new(3)), Err(RoleRefusal::Managed));
        assert_eq!(guild.grantable_role(Id::new(4)), Err(RoleRefusal::NotBelowBot));
        assert_eq!(guild.grantable_role(Id::new(5)), Err(RoleRefusal::Managed));
        assert_eq!(guild.grantable_role(Id::new(404)), Err(RoleRefusal::NotInGuild));
    }

    #[test]
    fn without_the_bots_own_role_nothing_is_grantable() {
        let mut guild = guild();
        guild.roles.retain(|role| role.id.get() != 3);
        assert_eq!(guild.grantable_role(Id::new(1)), Err(RoleRefusal::NotBelowBot));
    }

    #[test]
    fn every_power_is_named() {
        let every = permission_names(POWERFUL);
        for name in ["administrator", "manage guild", "manage roles", "mention everyone", "moderate members"] {
            assert!(every.contains(name), "{every}");
        }
    }
}

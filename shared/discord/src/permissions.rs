//! What the bot may do in a guild, from the guild's roles as Discord lists them; and
//! permissions as Discord's own screens name them ("Manage Channels", "View Channels",
//! "Manage Server"), for people (the API keeps Discord's constants, `MANAGE_CHANNELS`).

use twilight_model::{
    guild::{Permissions, Role},
    id::{
        Id,
        marker::{ApplicationMarker, GuildMarker},
    },
};

/// The bot's guild-wide permissions: its own integration role's and @everyone's (the role
/// whose id is the guild's); all of them when one grants Administrator.
pub fn bot_permissions(
    roles: &[Role],
    guild_id: Id<GuildMarker>,
    application_id: Id<ApplicationMarker>,
) -> Permissions {
    let held = roles
        .iter()
        .filter(|role| {
            role.id.get() == guild_id.get()
                || role.tags.as_ref().and_then(|tags| tags.bot_id).is_some_and(|bot| bot.get() == application_id.get())
        })
        .fold(Permissions::empty(), |held, role| held | role.permissions);
    if held.contains(Permissions::ADMINISTRATOR) { Permissions::all() } else { held }
}

/// The names people see in Discord's role settings, in the order Discord defines the bits.
pub fn labels(permissions: Permissions) -> Vec<String> {
    permissions.iter_names().map(|(constant, _)| label(constant)).collect()
}

/// One constant's label: Discord's wording where it differs from the constant's words.
fn label(constant: &str) -> String {
    let known = match constant {
        "VIEW_CHANNEL" => "View Channels",
        "MANAGE_GUILD" => "Manage Server",
        "VIEW_GUILD_INSIGHTS" => "View Server Insights",
        "CREATE_INSTANT_INVITE" => "Create Invite",
        "SEND_MESSAGES_IN_THREADS" => "Send Messages in Threads",
        "SEND_TTS_MESSAGES" => "Send Text-to-Speech Messages",
        "MODERATE_MEMBERS" => "Timeout Members",
        "MANAGE_GUILD_EXPRESSIONS" => "Manage Expressions",
        "USE_EXTERNAL_EMOJIS" => "Use External Emoji",
        "MENTION_EVERYONE" => "Mention @everyone, @here, and All Roles",
        "USE_SLASH_COMMANDS" => "Use Application Commands",
        "USE_VAD" => "Use Voice Activity",
        "STREAM" => "Video",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_owned();
    }
    // MANAGE_ROLES -> Manage Roles.
    constant
        .split('_')
        .map(|word| {
            let lower = word.to_lowercase();
            let mut letters = lower.chars();
            letters.next().map(|first| first.to_uppercase().chain(letters).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_read_as_discord_shows_them() {
        let set = Permissions::VIEW_CHANNEL
            | Permissions::MANAGE_CHANNELS
            | Permissions::MANAGE_ROLES
            | Permissions::MANAGE_GUILD
            | Permissions::READ_MESSAGE_HISTORY
            | Permissions::SEND_MESSAGES_IN_THREADS;
        let shown = labels(set);
        for expected in [
            "View Channels",
            "Manage Channels",
            "Manage Roles",
            "Manage Server",
            "Read Message History",
            "Send Messages in Threads",
        ] {
            assert!(shown.iter().any(|label| label == expected), "{expected} in {shown:?}");
        }
        assert!(shown.iter().all(|label| !label.contains('_')), "{shown:?}");
        assert!(labels(Permissions::all()).iter().all(|label| !label.is_empty() && !label.contains('_')));
    }
}

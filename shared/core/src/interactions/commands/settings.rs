//! `/settings`: the link to this guild's page on the hosted settings site.

use async_trait::async_trait;
use twilight_model::{
    application::{
        command::{Command, CommandType},
        interaction::InteractionContextType,
    },
    guild::Permissions,
    http::interaction::InteractionResponse,
};
use twilight_util::builder::command::CommandBuilder;
use url::Url;

use super::{Invocation, SlashCommand};
use crate::discord::responses;

#[derive(Debug, Clone)]
pub struct SettingsCommand {
    settings_url: Url,
}

impl SettingsCommand {
    pub fn new(settings_url: Url) -> Self {
        Self { settings_url }
    }

    /// `{SETTINGS_URL}/guilds/{guild_id}`.
    fn page_for(&self, guild_id: u64) -> String {
        format!("{}/guilds/{guild_id}", self.settings_url.as_str().trim_end_matches('/'))
    }
}

pub fn definition() -> Command {
    CommandBuilder::new("settings", "Open Guildbridge's settings page for this server", CommandType::ChatInput)
        .default_member_permissions(Permissions::MANAGE_GUILD)
        .contexts([InteractionContextType::Guild])
        .build()
}

#[async_trait]
impl SlashCommand for SettingsCommand {
    async fn run(&self, invocation: &Invocation<'_>) -> InteractionResponse {
        let Some(guild_id) = invocation.guild_id() else {
            return responses::ephemeral("Run /settings inside the server you want to configure.");
        };
        let url = self.page_for(guild_id.get());
        responses::ephemeral_message(format!("Guildbridge settings for this server: {url}"))
            .components([responses::link_button_row("Open settings", url)])
            .build()
    }
}

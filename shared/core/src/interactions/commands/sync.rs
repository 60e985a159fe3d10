//! `/sync`: synchronise the server's members now. The request takes the guild's sync lease
//! itself, so two `/sync`s at once are one run: the second is told at once, with a button
//! that shows the run going on.

use crate::domain::error::Report;
use async_trait::async_trait;
use twilight_model::{
    application::{
        command::{Command, CommandType},
        interaction::{Interaction, InteractionContextType},
    },
    guild::Permissions,
    http::interaction::InteractionResponse,
};
use twilight_util::builder::command::CommandBuilder;

use super::{CommandDeps, Invocation, SlashCommand, member_may};
use crate::{
    discord::responses,
    domain::RunId,
    interactions::components::ComponentHandler,
    sync::{self, SyncRequest, SyncRequested, worker::describe},
};

pub fn definition() -> Command {
    CommandBuilder::new("sync", "Synchronise this server's members with the platform now", CommandType::ChatInput)
        .default_member_permissions(Permissions::MANAGE_GUILD)
        .contexts([InteractionContextType::Guild])
        .build()
}

#[derive(Debug, Clone)]
pub struct SyncCommand {
    deps: CommandDeps,
}

impl SyncCommand {
    pub fn new(deps: CommandDeps) -> Self {
        Self { deps }
    }
}

fn unavailable(error: impl std::error::Error) -> InteractionResponse {
    tracing::warn!(error = %Report(&error), "sync could not be started");
    responses::ephemeral("Guildbridge couldn't start the sync just now; nothing was changed. Try again in a moment.")
}

#[async_trait]
impl SlashCommand for SyncCommand {
    async fn run(&self, invocation: &Invocation<'_>) -> InteractionResponse {
        let Some(guild_id) = invocation.guild_id() else {
            return responses::ephemeral("/sync works inside a server.");
        };
        if !invocation.member_may(Permissions::MANAGE_GUILD) {
            return responses::ephemeral("You need the Manage Server permission to sync members.");
        }
        let now = self.deps.clock.now();
        let request = SyncRequest::Interaction(invocation.interaction.id);
        let reply = Some(invocation.reply(now));
        match sync::request_sync(self.deps.store.as_ref(), self.deps.queue.as_ref(), guild_id, request, reply, now)
            .await
        {
            // This interaction's own run (a repeated delivery) is answered as before: deferred.
            Ok(SyncRequested::Queued { .. } | SyncRequested::AlreadyRequested { .. }) => {
                responses::deferred_ephemeral()
            }
            Ok(SyncRequested::Busy(lease)) => {
                let text = format!("{} Its results will show on the settings page.", lease.already_running());
                match self.deps.state_key.sign(SHOW_RUN_BUTTON, &lease.run_id) {
                    Ok(custom_id) => responses::ephemeral_with_button(text, "Show run", custom_id),
                    Err(error) => {
                        tracing::warn!(error = %Report(&error), "the run id does not fit a button");
                        responses::ephemeral(text)
                    }
                }
            }
            Err(error) => unavailable(error),
        }
    }
}

/// The handler name of "Show run" buttons; their signed state is the run id.
pub const SHOW_RUN_BUTTON: &str = "sync-run";

/// "Show run" on a `/sync` answer: the run's progress or result, read from the store.
#[derive(Debug, Clone)]
pub struct ShowRunButton {
    deps: CommandDeps,
}

impl ShowRunButton {
    pub fn new(deps: CommandDeps) -> Self {
        Self { deps }
    }
}

#[async_trait]
impl ComponentHandler for ShowRunButton {
    fn name(&self) -> &'static str {
        SHOW_RUN_BUTTON
    }

    async fn handle(&self, interaction: &Interaction, run_id: &str) -> InteractionResponse {
        let Some(guild_id) = interaction.guild_id else {
            return responses::ephemeral("Syncs belong to a server.");
        };
        if !member_may(interaction, Permissions::MANAGE_GUILD) {
            return responses::ephemeral("You need the Manage Server permission to see member syncs.");
        }
        match self.deps.store.run(guild_id, &RunId::from(run_id)).await {
            Ok(Some(run)) => responses::ephemeral(describe(&run)),
            Ok(None) => responses::ephemeral("Guildbridge has no record of that sync in this server."),
            Err(error) => {
                tracing::warn!(error = %Report(&error), "could not read the run");
                responses::ephemeral("Guildbridge couldn't read the sync just now. Try again in a moment.")
            }
        }
    }
}

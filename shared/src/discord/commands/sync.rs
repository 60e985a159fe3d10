//! `/sync`: synchronise the server's members now (flow 2). The command takes the guild's
//! sync lease itself, so two `/sync`s at once are one run: the second is told at once.

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

use super::{CommandDeps, Invocation, SlashCommand};
use crate::{
    discord::responses,
    queue::Job,
    store::{StoreError, SyncKind, SyncOutcome},
    sync::worker::run_id_for,
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

/// How long `/sync` holds the lease before its worker takes it over with the full lease.
pub const COMMAND_LEASE_SECONDS: u64 = 120;

fn unavailable(error: impl std::fmt::Display) -> InteractionResponse {
    tracing::warn!(%error, "sync could not be started");
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
        let now = (self.deps.clock)();
        let request_id = format!("interaction:{}", invocation.interaction.id);
        let run_id = run_id_for(&request_id);
        // A short lease: should this answer be cut off (the 3-second budget) between taking it
        // and enqueueing the job, the guild is free again in two minutes, not fifteen. The
        // worker takes the full lease when it starts the run.
        let run = match self.deps.store.start_run(guild_id, &run_id, SyncKind::Manual, now, COMMAND_LEASE_SECONDS).await
        {
            Ok(run) => run,
            Err(StoreError::LeaseHeld(lease)) if lease.run_id != run_id => {
                return responses::ephemeral(format!(
                    "A member sync is already running (started <t:{}:R>). Its results will show on the settings page.",
                    lease.started_at
                ));
            }
            // This interaction's own run (a repeated delivery): answer as before.
            Err(StoreError::LeaseHeld(_) | StoreError::AlreadyExists(_)) => return responses::deferred_ephemeral(),
            Err(error) => return unavailable(error),
        };
        let job = Job::SyncMembers {
            guild_id,
            kind: SyncKind::Manual,
            request_id,
            reply: Some(invocation.reply(now)),
            after: None,
        };
        match self.deps.queue.enqueue(&job).await {
            Ok(()) => responses::deferred_ephemeral(),
            Err(error) => {
                let failed = SyncOutcome::Failed("the sync could not be queued".to_owned());
                if let Err(release) = self.deps.store.finish_run(guild_id, &run, run.counts, failed, now).await {
                    tracing::warn!(error = %release, "the sync lease stays until it expires");
                }
                unavailable(error)
            }
        }
    }
}

//! `/signup event:<autocomplete>`: an event's sign-up link, answered from the store at once.

use crate::domain::error::Report;
use async_trait::async_trait;
use twilight_model::{
    application::{
        command::{Command, CommandOptionChoice, CommandType},
        interaction::InteractionContextType,
    },
    http::interaction::InteractionResponse,
};
use twilight_util::builder::command::{CommandBuilder, StringBuilder};

use super::{CommandDeps, Invocation, SlashCommand, channel::subject_choices, string_option};
use crate::{
    discord::responses,
    domain::{SubjectKind, SubjectRef},
};

pub fn definition() -> Command {
    CommandBuilder::new("signup", "Get the sign-up link for an event", CommandType::ChatInput)
        .contexts([InteractionContextType::Guild])
        .option(StringBuilder::new("event", "The event").required(true).autocomplete(true).max_length(100))
        .build()
}

#[derive(Debug, Clone)]
pub struct SignupCommand {
    deps: CommandDeps,
}

impl SignupCommand {
    pub fn new(deps: CommandDeps) -> Self {
        Self { deps }
    }
}

#[async_trait]
impl SlashCommand for SignupCommand {
    async fn run(&self, invocation: &Invocation<'_>) -> InteractionResponse {
        let Some(guild_id) = invocation.guild_id() else {
            return responses::ephemeral("/signup works inside a server.");
        };
        let typed = string_option(&invocation.data.options, "event").unwrap_or_default();
        let reference = SubjectRef::parse(typed).filter(|r| r.kind == SubjectKind::Event);
        let found = match &reference {
            Some(reference) => self.deps.store.subject(guild_id, reference).await,
            None => Ok(None),
        };
        match found {
            Ok(Some(event)) => match &event.signup_url {
                Some(url) => responses::ephemeral_message(format!("Sign up for **{}**: {url}", event.name))
                    .components([responses::link_button_row("Sign up", url.clone())])
                    .build(),
                None => responses::ephemeral(format!("**{}** has no sign-up link yet.", event.name)),
            },
            Ok(None) => responses::ephemeral("No such event here. Pick one from the suggestions as you type."),
            Err(error) => {
                tracing::warn!(error = %Report(&error), "signup could not read the event");
                responses::ephemeral("Guildbridge couldn't read the event just now. Try again in a moment.")
            }
        }
    }

    async fn autocomplete(&self, invocation: &Invocation<'_>) -> Vec<CommandOptionChoice> {
        match (invocation.guild_id(), invocation.focused()) {
            (Some(guild_id), Some(("event", typed))) => {
                subject_choices(&self.deps, guild_id, typed, |s| s.subject.kind == SubjectKind::Event).await
            }
            _ => Vec::new(),
        }
    }
}

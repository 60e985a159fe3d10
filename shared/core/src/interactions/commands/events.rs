//! `/events`: the guild's upcoming events, with their channels and sign-up links, answered
//! from the store at once.

use crate::domain::error::Report;
use async_trait::async_trait;
use twilight_model::{
    application::{
        command::{Command, CommandType},
        interaction::InteractionContextType,
    },
    http::interaction::InteractionResponse,
};
use twilight_util::builder::command::CommandBuilder;

use super::{CommandDeps, Invocation, SlashCommand};
use crate::{
    discord::responses,
    domain::{ChannelMapping, MappingStatus, Subject},
};

/// How many events one answer lists (each costs one mapping read).
const EVENTS_SHOWN: u32 = 10;

pub fn definition() -> Command {
    CommandBuilder::new("events", "Upcoming events, with their channels and sign-up links", CommandType::ChatInput)
        .contexts([InteractionContextType::Guild])
        .build()
}

#[derive(Debug, Clone)]
pub struct EventsCommand {
    deps: CommandDeps,
}

impl EventsCommand {
    pub fn new(deps: CommandDeps) -> Self {
        Self { deps }
    }

    fn line(event: &Subject, mappings: &[ChannelMapping]) -> String {
        let mut line = format!("**{}**", event.name);
        if let Some(starts_at) = event.starts_at {
            line.push_str(&format!(" · <t:{starts_at}:f>"));
        }
        if let Some(mapping) = mappings.iter().find(|m| m.subject == event.subject)
            && mapping.status == MappingStatus::Active
            && let Some(channel) = mapping.channels.text
        {
            line.push_str(&format!(" · <#{channel}>"));
        }
        if let Some(url) = &event.signup_url {
            line.push_str(&format!(" · [sign up]({url})"));
        }
        line
    }
}

#[async_trait]
impl SlashCommand for EventsCommand {
    async fn run(&self, invocation: &Invocation<'_>) -> InteractionResponse {
        let Some(guild_id) = invocation.guild_id() else {
            return responses::ephemeral("/events lists a server's events; use it inside a server.");
        };
        let events = match self.deps.store.upcoming_events(guild_id, self.deps.clock.now(), EVENTS_SHOWN).await {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(error = %Report(&error), "events could not be read");
                return responses::ephemeral("Guildbridge couldn't read the events just now. Try again in a moment.");
            }
        };
        if events.is_empty() {
            return responses::ephemeral("No upcoming events.");
        }
        // One batch read for every event's channel: the answer has 3 seconds.
        let subjects: Vec<_> = events.iter().map(|event| event.subject.clone()).collect();
        let mappings = self.deps.store.mappings_of(guild_id, &subjects).await.unwrap_or_else(|error| {
            tracing::warn!(error = %Report(&error), "channels could not be read; events listed without them");
            Vec::new()
        });
        let mut lines = vec!["Upcoming events:".to_owned()];
        for event in &events {
            lines.push(format!("• {}", Self::line(event, &mappings)));
        }
        responses::ephemeral(lines.join("\n"))
    }
}

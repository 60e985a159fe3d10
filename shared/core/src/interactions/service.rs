//! Verify, parse and route one interaction, independent of how it arrived.

use serde::Deserialize;
use twilight_model::{
    application::interaction::{Interaction, InteractionData, InteractionType},
    http::interaction::InteractionResponse,
};

use super::{components::ComponentRegistry, webhook_events::WebhookEvents};
use crate::{
    discord::{
        custom_id::StateKey,
        responses,
        signature::{SignatureVerifier, VerifyError},
    },
    interactions::commands::{
        CommandDeps, CommandRegistry, Invocation, RegistryError, guildbridge_commands, guildbridge_components,
    },
};

/// Bodies above this are refused with 413 before verification; real interactions are a few KiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Why an interaction got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// 401: the signature does not hold. Nothing in the body was looked at.
    #[error("unauthorized: {0}")]
    Unauthorized(VerifyError),
    /// 400: signed, but not an interaction we can read.
    #[error("malformed interaction: {0}")]
    Malformed(String),
}

/// What the logs say about an answered interaction. Never the token or the body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InteractionMeta {
    pub id: Option<u64>,
    pub kind: Option<u8>,
    pub guild_id: Option<u64>,
    pub command: Option<String>,
}

/// The fields every interaction has, PING included. Read first so PING never depends on
/// the fuller shape twilight-model expects of other interactions.
/// What the user sees when the store or queue did not answer in time: nothing was changed
/// that they need to know about, and trying again is safe (every command is idempotent).
fn busy(kind: InteractionType) -> InteractionResponse {
    match kind {
        InteractionType::ApplicationCommandAutocomplete => responses::autocomplete(Vec::new()),
        _ => responses::ephemeral("Guildbridge is busy right now; try again in a moment."),
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: u8,
    id: Option<twilight_model::id::Id<twilight_model::id::marker::InteractionMarker>>,
}

/// Everything the endpoint needs, built once at init.
#[derive(Debug, Clone)]
pub struct InteractionService {
    verifier: SignatureVerifier,
    commands: CommandRegistry,
    components: ComponentRegistry,
    state_key: StateKey,
    /// Discord's Webhook Events (`/events`), when the host serves them.
    events: Option<WebhookEvents>,
}

/// How long a command may take before the user is answered "busy, try again": Discord
/// gives up at 3 s and shows "The application did not respond", so the answer must leave
/// with room for the network and Lambda's own overhead.
pub const ANSWER_BUDGET: std::time::Duration = std::time::Duration::from_millis(2_500);

impl InteractionService {
    pub fn new(
        verifier: SignatureVerifier,
        commands: CommandRegistry,
        components: ComponentRegistry,
        state_key: StateKey,
    ) -> Self {
        Self { verifier, commands, components, state_key, events: None }
    }

    /// Guildbridge's commands and the buttons they put on their answers.
    pub fn guildbridge(
        verifier: SignatureVerifier,
        deps: &CommandDeps,
        state_key: StateKey,
    ) -> Result<Self, RegistryError> {
        let events = WebhookEvents::new(verifier.clone(), deps.store.clone(), deps.clock.clone());
        let service = Self::new(verifier, guildbridge_commands(deps)?, guildbridge_components(deps), state_key);
        Ok(Self { events: Some(events), ..service })
    }

    pub fn commands(&self) -> &CommandRegistry {
        &self.commands
    }

    pub fn events(&self) -> Option<&WebhookEvents> {
        self.events.as_ref()
    }

    /// Verifies the exact bytes received, then parses and answers.
    pub async fn handle(
        &self,
        signature: Option<&[u8]>,
        timestamp: Option<&[u8]>,
        body: &[u8],
    ) -> Result<(InteractionResponse, InteractionMeta), Rejection> {
        self.verifier.verify(signature, timestamp, body).map_err(Rejection::Unauthorized)?;

        let envelope: Envelope = serde_json::from_slice(body).map_err(|e| Rejection::Malformed(describe(&e)))?;
        let mut meta =
            InteractionMeta { id: envelope.id.map(|id| id.get()), kind: Some(envelope.kind), ..Default::default() };
        if envelope.kind == InteractionType::Ping as u8 {
            return Ok((responses::pong(), meta));
        }

        let interaction: Interaction = serde_json::from_slice(body).map_err(|e| Rejection::Malformed(describe(&e)))?;
        meta.guild_id = interaction.guild_id.map(|id| id.get());
        match tokio::time::timeout(ANSWER_BUDGET, self.route(&interaction, &mut meta)).await {
            Ok(response) => Ok((response?, meta)),
            Err(_) => {
                metrics::counter!(crate::domain::metrics::INTERACTIONS_BUSY.name).increment(1);
                tracing::warn!(command = ?meta.command, "the answer budget ran out (store or queue too slow)");
                Ok((busy(interaction.kind), meta))
            }
        }
    }

    async fn route(
        &self,
        interaction: &Interaction,
        meta: &mut InteractionMeta,
    ) -> Result<InteractionResponse, Rejection> {
        let data = interaction.data.as_ref();
        let response = match (interaction.kind, data) {
            (InteractionType::ApplicationCommand, Some(InteractionData::ApplicationCommand(data))) => {
                meta.command = Some(data.name.clone());
                let invocation = Invocation { interaction, data };
                match self.commands.get(&data.name) {
                    Some(command) => command.run(&invocation).await,
                    None => responses::ephemeral(format!(
                        "Guildbridge doesn't know /{}. An admin may need to re-register its commands.",
                        data.name
                    )),
                }
            }
            (InteractionType::ApplicationCommandAutocomplete, Some(InteractionData::ApplicationCommand(data))) => {
                meta.command = Some(data.name.clone());
                let invocation = Invocation { interaction, data };
                let choices = match self.commands.get(&data.name) {
                    Some(command) => command.autocomplete(&invocation).await,
                    None => Vec::new(),
                };
                responses::autocomplete(choices)
            }
            (InteractionType::MessageComponent, Some(InteractionData::MessageComponent(data))) => {
                self.components.dispatch(&self.state_key, interaction, &data.custom_id).await
            }
            (InteractionType::ModalSubmit, Some(InteractionData::ModalSubmit(data))) => {
                self.components.dispatch(&self.state_key, interaction, &data.custom_id).await
            }
            (
                InteractionType::ApplicationCommand
                | InteractionType::ApplicationCommandAutocomplete
                | InteractionType::MessageComponent
                | InteractionType::ModalSubmit,
                _,
            ) => return Err(Rejection::Malformed("interaction data does not match its type".to_owned())),
            _ => responses::ephemeral("Guildbridge doesn't handle this kind of interaction."),
        };
        Ok(response)
    }
}

/// A parse error's category and position: enough to fix the request, without echoing
/// any of its content (which may hold the interaction token) into responses or logs.
fn describe(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match error.classify() {
        Category::Syntax | Category::Eof => "body is not valid JSON",
        Category::Data => "body is not a valid Discord interaction",
        Category::Io => "body could not be read",
    };
    let message = error.to_string();
    // Missing-field messages name a field and carry no content, so they are safe to repeat.
    let detail = message.strip_prefix("missing field ").map(|rest| {
        let field = rest.split(" at line").next().unwrap_or(rest);
        format!(": missing field {field}")
    });
    format!("{what}{} (line {}, column {})", detail.unwrap_or_default(), error.line(), error.column())
}

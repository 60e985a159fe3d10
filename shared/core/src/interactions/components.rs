//! Buttons, selects and modals, routed by the handler name in their signed `custom_id`.

use std::{collections::BTreeMap, sync::Arc};

use async_trait::async_trait;
use twilight_model::{application::interaction::Interaction, http::interaction::InteractionResponse};

use crate::discord::{
    custom_id::{CustomIdError, StateKey},
    responses,
};

/// Handles the components whose `custom_id` names it.
#[async_trait]
pub trait ComponentHandler: Send + Sync {
    /// The handler name carried in `custom_id`s (see [`StateKey::sign`]).
    fn name(&self) -> &'static str;

    /// Answers a click or submit; `state` is what was signed into the `custom_id`.
    async fn handle(&self, interaction: &Interaction, state: &str) -> InteractionResponse;
}

/// Component handlers by name.
#[derive(Clone, Default)]
pub struct ComponentRegistry {
    handlers: BTreeMap<&'static str, Arc<dyn ComponentHandler>>,
}

impl std::fmt::Debug for ComponentRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.handlers.keys()).finish()
    }
}

impl ComponentRegistry {
    pub fn new(handlers: Vec<Arc<dyn ComponentHandler>>) -> Self {
        Self { handlers: handlers.into_iter().map(|handler| (handler.name(), handler)).collect() }
    }

    /// Verifies the `custom_id` and hands the interaction to its handler. A forged, foreign
    /// or retired `custom_id` gets an ephemeral explanation, never an error status.
    pub async fn dispatch(&self, key: &StateKey, interaction: &Interaction, custom_id: &str) -> InteractionResponse {
        match key.verify(custom_id) {
            Ok(signed) => match self.handlers.get(signed.handler) {
                Some(handler) => handler.handle(interaction, signed.state).await,
                None => {
                    tracing::warn!(handler = signed.handler, "component for an unknown handler");
                    responses::ephemeral("This control belongs to a feature Guildbridge no longer has.")
                }
            },
            Err(error @ (CustomIdError::BadSignature | CustomIdError::Unrecognised)) => {
                tracing::warn!(reason = %error, "component refused");
                responses::ephemeral("This control is not valid any more. Run the command again.")
            }
            Err(error) => {
                tracing::warn!(reason = %error, "component refused");
                responses::ephemeral("This control could not be read. Run the command again.")
            }
        }
    }
}

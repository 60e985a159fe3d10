//! The "Remind me" button on reminders: stateless (its `custom_id` is signed, carrying only
//! `on` or `off`), it records the person's DM opt-in on their link and answers ephemerally,
//! with the button that undoes it.

use crate::domain::error::Report;
use async_trait::async_trait;
use twilight_model::{application::interaction::Interaction, http::interaction::InteractionResponse};

use super::CommandDeps;
use crate::{
    channels::{REMIND_BUTTON, REMIND_OFF, REMIND_ON},
    discord::responses,
    interactions::components::ComponentHandler,
};

#[derive(Debug, Clone)]
pub struct RemindButton {
    deps: CommandDeps,
}

impl RemindButton {
    pub fn new(deps: CommandDeps) -> Self {
        Self { deps }
    }
}

#[async_trait]
impl ComponentHandler for RemindButton {
    fn name(&self) -> &'static str {
        REMIND_BUTTON
    }

    async fn handle(&self, interaction: &Interaction, state: &str) -> InteractionResponse {
        let (Some(guild_id), Some(user)) = (interaction.guild_id, interaction.author_id()) else {
            return responses::ephemeral("Reminders belong to a server.");
        };
        let on = match state {
            REMIND_ON => true,
            REMIND_OFF => false,
            _ => return responses::ephemeral("This control is not valid any more."),
        };
        match self.deps.store.set_reminder_dms(guild_id, user, on).await {
            Ok(Some(_)) => {
                let (text, undo_state, undo_label) = if on {
                    (
                        "Done: the reminders of events you race in as part of a team reach you by DM too.",
                        REMIND_OFF,
                        "Stop reminder DMs",
                    )
                } else {
                    ("Done: no more reminder DMs.", REMIND_ON, "Remind me")
                };
                match self.deps.state_key.sign(REMIND_BUTTON, undo_state) {
                    Ok(custom_id) => responses::ephemeral_with_button(text, undo_label, custom_id),
                    Err(_) => responses::ephemeral(text),
                }
            }
            Ok(None) => responses::ephemeral(
                "Link your Discord account on the club's site first; then reminders can reach you by DM.",
            ),
            Err(error) => {
                tracing::warn!(error = %Report(&error), "could not record the reminder preference");
                responses::ephemeral("Guildbridge couldn't save that just now. Try again in a moment.")
            }
        }
    }
}

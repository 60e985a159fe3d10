//! The few shapes of answer Guildbridge gives, built from twilight-model types.

use twilight_model::{
    application::command::CommandOptionChoice,
    channel::message::{
        Component, MessageFlags,
        component::{ActionRow, Button, ButtonStyle},
    },
    http::interaction::{InteractionResponse, InteractionResponseType},
};
use twilight_util::builder::interaction_response::{AutocompleteBuilder, ChannelMessageBuilder};

/// Discord's hard limit on message content.
pub const MAX_CONTENT_CHARS: usize = twilight_validate::message::MESSAGE_CONTENT_LENGTH_MAX;
/// Discord's limit on autocomplete results.
pub const MAX_AUTOCOMPLETE_CHOICES: usize = twilight_validate::command::CHOICES_LIMIT;

pub fn pong() -> InteractionResponse {
    InteractionResponse { kind: InteractionResponseType::Pong, data: None }
}

/// A message only the invoking user sees.
pub fn ephemeral(content: impl Into<String>) -> InteractionResponse {
    ephemeral_message(content).build()
}

/// An ephemeral message still open for components; `.build()` finishes it.
pub fn ephemeral_message(content: impl Into<String>) -> ChannelMessageBuilder {
    ChannelMessageBuilder::new()
        .content(truncate_chars(content.into(), MAX_CONTENT_CHARS))
        .flags(MessageFlags::EPHEMERAL)
}

/// "Guildbridge is thinking...", seen only by the invoking user; a worker edits it later.
pub fn deferred_ephemeral() -> InteractionResponse {
    InteractionResponse {
        kind: InteractionResponseType::DeferredChannelMessageWithSource,
        data: Some(twilight_model::http::interaction::InteractionResponseData {
            flags: Some(MessageFlags::EPHEMERAL),
            ..Default::default()
        }),
    }
}

/// An autocomplete answer, capped at Discord's 25 results.
pub fn autocomplete(mut choices: Vec<CommandOptionChoice>) -> InteractionResponse {
    choices.truncate(MAX_AUTOCOMPLETE_CHOICES);
    AutocompleteBuilder::new(choices).build()
}

/// A row holding one link button.
pub fn link_button_row(label: impl Into<String>, url: impl Into<String>) -> Component {
    button_row(Button { style: ButtonStyle::Link, url: Some(url.into()), ..button(label) })
}

/// A row holding one button that comes back to Guildbridge with `custom_id` (signed state,
/// see `custom_id::StateKey::sign`).
pub fn action_button_row(label: impl Into<String>, custom_id: String) -> Component {
    button_row(Button { style: ButtonStyle::Secondary, custom_id: Some(custom_id), ..button(label) })
}

/// An ephemeral message with one action button.
pub fn ephemeral_with_button(content: impl Into<String>, label: &str, custom_id: String) -> InteractionResponse {
    ephemeral_message(content).components([action_button_row(label, custom_id)]).build()
}

fn button(label: impl Into<String>) -> Button {
    Button {
        custom_id: None,
        disabled: false,
        emoji: None,
        id: None,
        label: Some(label.into()),
        sku_id: None,
        style: ButtonStyle::Secondary,
        url: None,
    }
}

fn button_row(button: Button) -> Component {
    Component::ActionRow(ActionRow { id: None, components: vec![Component::Button(button)] })
}

fn truncate_chars(mut text: String, max: usize) -> String {
    if let Some((byte_index, _)) = text.char_indices().nth(max) {
        text.truncate(byte_index);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ephemeral_messages_carry_flag_64_and_fit_discords_limit() {
        let response = ephemeral("é".repeat(MAX_CONTENT_CHARS + 10));
        let json = serde_json::to_value(&response).expect("serialises");
        assert_eq!(json["type"], 4);
        assert_eq!(json["data"]["flags"], 64);
        let content = json["data"]["content"].as_str().expect("content");
        assert_eq!(content.chars().count(), MAX_CONTENT_CHARS);
    }

    #[test]
    fn autocomplete_never_offers_more_than_25() {
        let choices = (0..40)
            .map(|i| CommandOptionChoice {
                name: format!("event {i}"),
                name_localizations: None,
                value: twilight_model::application::command::CommandOptionChoiceValue::String(i.to_string()),
            })
            .collect();
        let json = serde_json::to_value(autocomplete(choices)).expect("serialises");
        assert_eq!(json["type"], 8);
        assert_eq!(json["data"]["choices"].as_array().map(Vec::len), Some(25));
    }
}

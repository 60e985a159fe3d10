//! Interactions' webhooks (the original answer and follow-ups, while the token lives) and
//! command registration.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, bot_author, id, unknown_guild};
use crate::{
    Shared, discord_error, lock,
    world::{self, World},
};

/// The interaction behind a webhook token, if it is live (15 minutes) and the application's.
fn live_interaction<'w>(
    world: &'w mut World,
    application: &str,
    token: &str,
) -> Option<&'w mut world::InteractionRecord> {
    let interaction = world.interactions.get_mut(token)?;
    let fresh = interaction.issued_at.elapsed().is_ok_and(|age| age < std::time::Duration::from_secs(15 * 60));
    (fresh && id(application) == Some(interaction.application_id)).then_some(interaction)
}

fn unknown_webhook() -> Response {
    discord_error(StatusCode::NOT_FOUND, 10015, "Unknown Webhook", None)
}

/// Where a webhook message goes: the original response, or a new follow-up.
#[derive(Clone, Copy)]
enum WebhookMessage {
    Original,
    Followup,
}

fn webhook_message(shared: &Shared, application: &str, token: &str, body: &Value, kind: WebhookMessage) -> Response {
    let mut world = lock(&shared.world);
    let message_id = world.new_id();
    let author = bot_author(shared);
    let Some(interaction) = live_interaction(&mut world, application, token) else { return unknown_webhook() };
    let message = world::message_json(message_id, interaction.channel_id, author, body, id(application));
    match kind {
        WebhookMessage::Original => interaction.original = Some(message.clone()),
        WebhookMessage::Followup => interaction.followups.push(message.clone()),
    }
    Json(message).into_response()
}

pub(super) async fn edit_original(
    State(shared): AppState,
    Path((application, token)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    webhook_message(&shared, &application, &token, &body, WebhookMessage::Original)
}

#[derive(Deserialize)]
pub(crate) struct IssueInteraction {
    application_id: String,
    channel_id: String,
}

/// `POST /sandbox/interactions`: the token Discord would send with a new interaction.
pub(crate) async fn issue_interaction(State(shared): AppState, Json(request): Json<IssueInteraction>) -> Response {
    let (Some(application_id), Some(channel_id)) = (id(&request.application_id), id(&request.channel_id)) else {
        return discord_error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body", None);
    };
    let token = lock(&shared.world).issue_interaction_token(application_id, channel_id);
    Json(json!({ "token": token })).into_response()
}

pub(super) async fn get_original(
    State(shared): AppState,
    Path((application, token)): Path<(String, String)>,
) -> Response {
    let mut world = lock(&shared.world);
    let Some(interaction) = live_interaction(&mut world, &application, &token) else { return unknown_webhook() };
    match &interaction.original {
        Some(message) => Json(message.clone()).into_response(),
        None => discord_error(StatusCode::NOT_FOUND, 10008, "Unknown Message", None),
    }
}

pub(super) async fn delete_original(
    State(shared): AppState,
    Path((application, token)): Path<(String, String)>,
) -> Response {
    let mut world = lock(&shared.world);
    let Some(interaction) = live_interaction(&mut world, &application, &token) else { return unknown_webhook() };
    interaction.original = None;
    StatusCode::NO_CONTENT.into_response()
}

pub(super) async fn followup(
    State(shared): AppState,
    Path((application, token)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    webhook_message(&shared, &application, &token, &body, WebhookMessage::Followup)
}

pub(super) async fn global_commands(State(shared): AppState, Path(application): Path<String>) -> Response {
    listed_commands(&shared, &application, None)
}

pub(super) async fn guild_commands(
    State(shared): AppState,
    Path((application, guild_id)): Path<(String, String)>,
) -> Response {
    let Some(guild_id) = id(&guild_id) else { return unknown_guild() };
    listed_commands(&shared, &application, Some(guild_id))
}

/// The commands last written for the application (and guild), as Discord lists them.
fn listed_commands(shared: &Shared, application: &str, guild: Option<u64>) -> Response {
    let Some(application_id) = id(application) else {
        return discord_error(StatusCode::NOT_FOUND, 10002, "Unknown Application", None);
    };
    let world = lock(&shared.world);
    Json(world.commands.get(&(application_id, guild)).cloned().unwrap_or_default()).into_response()
}

fn store_commands(shared: &Shared, application: &str, guild: Option<u64>, body: Value) -> Response {
    let Some(application_id) = id(application) else {
        return discord_error(StatusCode::NOT_FOUND, 10002, "Unknown Application", None);
    };
    let mut world = lock(&shared.world);
    let commands: Vec<Value> = body
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut command| {
            command["id"] = json!(world.new_id().to_string());
            command["application_id"] = json!(application_id.to_string());
            command["version"] = json!(world.new_id().to_string());
            if let Some(guild) = guild {
                command["guild_id"] = json!(guild.to_string());
            }
            command
        })
        .collect();
    world.commands.insert((application_id, guild), commands.clone());
    Json(commands).into_response()
}

pub(super) async fn overwrite_global_commands(
    State(shared): AppState,
    Path(application): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    store_commands(&shared, &application, None, body)
}

pub(super) async fn overwrite_guild_commands(
    State(shared): AppState,
    Path((application, guild_id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let Some(guild_id) = id(&guild_id) else { return unknown_guild() };
    store_commands(&shared, &application, Some(guild_id), body)
}

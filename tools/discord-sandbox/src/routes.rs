//! The Discord endpoints the sandbox serves, with Discord's rules and error codes.

// A handler's `Err` is Discord's error answer, handed straight to axum: its size is the
// response's, and boxing it would buy nothing on a test server.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{delete, get, patch, post, put},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    Shared, discord_error, lock,
    world::{self, ChannelRecord, World},
};

/// Operations whose request bodies are checked against the OpenAPI document.
pub(crate) const VALIDATED: &[(&str, &str)] = &[
    ("POST", "/guilds/{guild_id}/channels"),
    ("PATCH", "/channels/{channel_id}"),
    ("PUT", "/channels/{channel_id}/permissions/{overwrite_id}"),
    ("POST", "/channels/{channel_id}/messages"),
    ("POST", "/channels/{channel_id}/invites"),
    ("POST", "/channels/{channel_id}/threads"),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}"),
    ("POST", "/guilds/{guild_id}/roles"),
    ("POST", "/users/@me/channels"),
    ("PATCH", "/guilds/{guild_id}/roles/{role_id}"),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
    ("POST", "/webhooks/{webhook_id}/{webhook_token}"),
    ("PUT", "/applications/{application_id}/commands"),
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands"),
];

mod interactions;
pub(crate) mod messages;
mod threads;

pub(crate) use self::interactions::issue_interaction;
use self::interactions::{
    delete_original, edit_original, followup, get_original, overwrite_global_commands, overwrite_guild_commands,
};

type AppState = State<Arc<Shared>>;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v10/gateway/bot", get(crate::gateway::gateway_bot))
        .route("/api/v10/guilds/{guild_id}", get(guild))
        .route("/api/v10/guilds/{guild_id}/roles", get(roles).post(threads::create_role))
        .route("/api/v10/guilds/{guild_id}/roles/{role_id}", patch(threads::modify_role).delete(threads::delete_role))
        .route("/api/v10/guilds/{guild_id}/threads/active", get(threads::active_threads))
        .route("/api/v10/channels/{channel_id}/threads", post(threads::create_thread))
        .route("/api/v10/channels/{channel_id}/thread-members", get(threads::thread_members))
        .route(
            "/api/v10/channels/{channel_id}/thread-members/{user_id}",
            put(threads::add_thread_member).delete(threads::remove_thread_member),
        )
        .route(
            "/api/v10/channels/{channel_id}/messages/{message_id}",
            get(threads::get_message).patch(threads::edit_message).delete(threads::delete_message),
        )
        .route("/api/v10/channels/{channel_id}/messages/pins/{message_id}", put(threads::pin_message))
        .route("/api/v10/guilds/{guild_id}/channels", get(list_channels).post(create_channel))
        .route("/api/v10/guilds/{guild_id}/members", get(list_members))
        .route("/api/v10/guilds/{guild_id}/members/{user_id}/roles/{role_id}", put(add_role).delete(remove_role))
        .route("/api/v10/channels/{channel_id}", patch(modify_channel).delete(delete_channel))
        .route("/api/v10/channels/{channel_id}/permissions/{overwrite_id}", put(put_overwrite).delete(delete_overwrite))
        .route("/api/v10/channels/{channel_id}/messages", get(messages::list_messages).post(create_message))
        .route("/api/v10/users/@me/channels", post(create_dm))
        .route("/api/v10/channels/{channel_id}/invites", post(messages::create_invite))
        .route("/api/v10/applications/@me", get(messages::current_application))
        .route(
            "/api/v10/webhooks/{webhook_id}/{webhook_token}/messages/@original",
            get(get_original).patch(edit_original).delete(delete_original),
        )
        .route("/api/v10/webhooks/{webhook_id}/{webhook_token}", post(followup))
        .route(
            "/api/v10/applications/{application_id}/commands",
            get(interactions::global_commands).put(overwrite_global_commands),
        )
        .route(
            "/api/v10/applications/{application_id}/guilds/{guild_id}/commands",
            get(interactions::guild_commands).put(overwrite_guild_commands),
        )
        .route("/api/v10/oauth2/authorize", get(crate::oauth::authorize))
        .route("/api/v10/oauth2/token", post(crate::oauth::token))
        .route("/api/v10/oauth2/token/revoke", post(crate::oauth::revoke))
        .route("/api/v10/users/@me", get(crate::oauth::me))
        .route("/api/v10/users/@me/guilds", get(crate::oauth::my_guilds))
        .route("/api/v10/users/@me/guilds/{guild_id}", delete(leave_guild))
}

pub(super) fn unknown_guild() -> Response {
    discord_error(StatusCode::NOT_FOUND, 10004, "Unknown Guild", None)
}

pub(super) fn unknown_channel() -> Response {
    discord_error(StatusCode::NOT_FOUND, 10003, "Unknown Channel", None)
}

fn missing_permissions() -> Response {
    discord_error(StatusCode::FORBIDDEN, 50013, "Missing Permissions", None)
}

fn field_error(field: &str, code: &str, message: &str) -> Response {
    let errors = json!({ field: { "_errors": [{ "code": code, "message": message }] } });
    discord_error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body", Some(errors))
}

fn id(text: &str) -> Option<u64> {
    text.parse().ok()
}

fn may(world: &World, guild_id: u64, permission: u64) -> Option<bool> {
    let guild = world.guilds.get(&guild_id)?;
    Some(guild.bot_permissions & (permission | world::ADMINISTRATOR) != 0)
}

/// What every handler answers first, as Discord does: a handler's `Err` is Discord's error.
type Answer = Result<Response, Response>;

/// The guild a path names, or Discord's Unknown Guild.
fn known_guild(world: &World, raw: &str) -> Result<u64, Response> {
    id(raw).filter(|guild| world.bot_guild(*guild).is_some()).ok_or_else(unknown_guild)
}

/// The channel a path names and its guild, or Discord's Unknown Channel.
fn known_channel(world: &World, raw: &str) -> Result<(u64, u64), Response> {
    id(raw).and_then(|channel| world.channels.get(&channel)).map(|c| (c.id, c.guild_id)).ok_or_else(unknown_channel)
}

/// Discord's Missing Permissions unless the bot holds `permission` in the guild.
fn bot_may(world: &World, guild_id: u64, permission: u64) -> Result<(), Response> {
    if may(world, guild_id, permission) == Some(true) { Ok(()) } else { Err(missing_permissions()) }
}

fn snowflake_field(body: &Value, field: &str) -> Option<u64> {
    body.get(field)?.as_str()?.parse().ok()
}

/// Overwrites as Discord returns them: `allow`/`deny` as strings, `type` as a number.
fn stored_overwrite(id: &str, value: &Value) -> Value {
    let bits = |field: &str| match value.get(field) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => "0".to_owned(),
    };
    json!({ "id": id, "type": value.get("type").cloned().unwrap_or(json!(0)), "allow": bits("allow"), "deny": bits("deny") })
}

async fn guild(State(shared): AppState, Path(guild_id): Path<String>) -> Response {
    let world = lock(&shared.world);
    match id(&guild_id).and_then(|g| world.bot_guild(g)) {
        Some(guild) => Json(world::guild_json(guild)).into_response(),
        None => unknown_guild(),
    }
}

/// Leave Guild: the bot is gone until it is authorized into the guild again.
async fn leave_guild(State(shared): AppState, Path(guild_id): Path<String>) -> Response {
    let mut world = lock(&shared.world);
    match id(&guild_id).and_then(|g| world.guilds.get_mut(&g)).filter(|guild| !guild.bot_absent) {
        Some(guild) => {
            guild.bot_absent = true;
            guild.remove_bot_role(shared.config.client_id);
            StatusCode::NO_CONTENT.into_response()
        }
        None => unknown_guild(),
    }
}

async fn roles(State(shared): AppState, Path(guild_id): Path<String>) -> Response {
    let world = lock(&shared.world);
    match id(&guild_id).and_then(|g| world.bot_guild(g)) {
        Some(guild) => Json(world::roles_json(guild)).into_response(),
        None => unknown_guild(),
    }
}

async fn list_channels(State(shared): AppState, Path(guild_id): Path<String>) -> Answer {
    let world = lock(&shared.world);
    let guild_id = known_guild(&world, &guild_id)?;
    // Threads are not in the list, as in Discord (List Active Guild Threads has them).
    let channels: Vec<Value> =
        world.guild_channels(guild_id).filter(|c| c.thread.is_none()).map(world::channel_json).collect();
    Ok(Json(channels).into_response())
}

async fn create_channel(State(shared): AppState, Path(guild_id): Path<String>, Json(body): Json<Value>) -> Answer {
    let mut world = lock(&shared.world);
    let guild_id = known_guild(&world, &guild_id)?;
    bot_may(&world, guild_id, world::MANAGE_CHANNELS)?;
    let kind = body.get("type").and_then(Value::as_u64).unwrap_or(0) as u8;
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
    let length = name.chars().count();
    if !(1..=100).contains(&length) {
        return Err(field_error("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."));
    }
    // Threads do not count towards the 500 (nor sit among the channels' positions).
    if world.guild_channels(guild_id).filter(|c| c.thread.is_none()).count() >= world::MAX_GUILD_CHANNELS {
        return Err(discord_error(
            StatusCode::BAD_REQUEST,
            30013,
            "Maximum number of guild channels reached (500)",
            None,
        ));
    }
    let parent_id = snowflake_field(&body, "parent_id");
    if let Some(parent) = parent_id {
        match world.channels.get(&parent) {
            Some(category) if category.guild_id == guild_id && category.kind == world::CATEGORY => {}
            _ => return Err(field_error("parent_id", "CHANNEL_PARENT_INVALID", "Category does not exist")),
        }
        if world.guild_channels(guild_id).filter(|c| c.parent_id == Some(parent)).count()
            >= world::MAX_CATEGORY_CHANNELS
        {
            return Err(field_error(
                "parent_id",
                "CHANNEL_PARENT_MAX_CHANNELS",
                "Maximum number of channels in category reached (50)",
            ));
        }
    }
    let name = if kind == 0 { world::normalise_text_name(name) } else { name.to_owned() };
    let overwrites = body
        .get("permission_overwrites")
        .and_then(Value::as_array)
        .map(|items| {
            items.iter().map(|o| stored_overwrite(o.get("id").and_then(Value::as_str).unwrap_or("0"), o)).collect()
        })
        .unwrap_or_default();
    let position = world.guild_channels(guild_id).count() as u64;
    let channel = ChannelRecord {
        id: world.new_id(),
        guild_id,
        name,
        kind,
        parent_id,
        topic: body.get("topic").and_then(Value::as_str).map(str::to_owned),
        position,
        overwrites,
        thread: None,
        last_message_id: None,
    };
    let json = world::channel_json(&channel);
    world.channels.insert(channel.id, channel);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

#[derive(Deserialize)]
struct MemberPage {
    limit: Option<u32>,
    after: Option<String>,
}

async fn list_members(
    State(shared): AppState,
    Path(guild_id): Path<String>,
    Query(page): Query<MemberPage>,
) -> Response {
    let world = lock(&shared.world);
    let Some(guild) = id(&guild_id).and_then(|g| world.bot_guild(g)) else { return unknown_guild() };
    if !guild.members_intent {
        return discord_error(StatusCode::FORBIDDEN, 50001, "Missing Access", None);
    }
    let limit = page.limit.unwrap_or(1);
    if !(1..=1000).contains(&limit) {
        return field_error("limit", "NUMBER_TYPE_MAX", "int value should be between 1 and 1000.");
    }
    let Some(after) = page.after.as_deref().map_or(Some(0), id) else {
        return field_error("after", "NUMBER_TYPE_COERCE", "Value is not snowflake.");
    };
    let members: Vec<Value> = guild
        .members
        .range(after.saturating_add(1)..)
        .take(limit as usize)
        .map(|(_, member)| world::member_json(member))
        .collect();
    Json(members).into_response()
}

async fn add_role(
    State(shared): AppState,
    Path((guild_id, user_id, role_id)): Path<(String, String, String)>,
) -> Answer {
    change_role(&shared, &guild_id, &user_id, &role_id, true)
}

async fn remove_role(
    State(shared): AppState,
    Path((guild_id, user_id, role_id)): Path<(String, String, String)>,
) -> Answer {
    change_role(&shared, &guild_id, &user_id, &role_id, false)
}

fn change_role(shared: &Shared, guild_id: &str, user_id: &str, role_id: &str, add: bool) -> Answer {
    let mut world = lock(&shared.world);
    let guild_id = known_guild(&world, guild_id)?;
    bot_may(&world, guild_id, world::MANAGE_ROLES)?;
    let guild = world.guilds.get_mut(&guild_id).ok_or_else(unknown_guild)?;
    let Some(role_id) = id(role_id).filter(|r| guild.roles.contains_key(r)) else {
        return Err(discord_error(StatusCode::NOT_FOUND, 10011, "Unknown Role", None));
    };
    // Discord's hierarchy: a bot gives or takes only roles below its own highest, never a
    // managed one.
    let role = &guild.roles[&role_id];
    if role.managed || role.position >= guild.top_position_of_bot(shared.config.client_id) {
        return Err(missing_permissions());
    }
    let Some(member) = id(user_id).and_then(|u| guild.members.get_mut(&u)) else {
        return Err(discord_error(StatusCode::NOT_FOUND, 10007, "Unknown Member", None));
    };
    member.roles.retain(|r| *r != role_id);
    if add {
        member.roles.push(role_id);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn modify_channel(State(shared): AppState, Path(channel_id): Path<String>, Json(body): Json<Value>) -> Answer {
    let mut world = lock(&shared.world);
    let (channel_id, guild_id) = known_channel(&world, &channel_id)?;
    if world.channels.get(&channel_id).is_some_and(|channel| channel.thread.is_some()) {
        return threads::modify_thread(&mut world, guild_id, channel_id, &body);
    }
    bot_may(&world, guild_id, world::MANAGE_CHANNELS)?;
    let channel = world.channels.get_mut(&channel_id).ok_or_else(unknown_channel)?;
    if let Some(name) = body.get("name").and_then(Value::as_str) {
        channel.name = if channel.kind == 0 { world::normalise_text_name(name) } else { name.to_owned() };
    }
    if body.get("parent_id").is_some() {
        channel.parent_id = snowflake_field(&body, "parent_id");
    }
    if let Some(topic) = body.get("topic") {
        channel.topic = topic.as_str().map(str::to_owned);
    }
    if let Some(items) = body.get("permission_overwrites").and_then(Value::as_array) {
        channel.overwrites =
            items.iter().map(|o| stored_overwrite(o.get("id").and_then(Value::as_str).unwrap_or("0"), o)).collect();
    }
    Ok(Json(world::channel_json(channel)).into_response())
}

async fn delete_channel(State(shared): AppState, Path(channel_id): Path<String>) -> Answer {
    let mut world = lock(&shared.world);
    let (channel_id, guild_id) = known_channel(&world, &channel_id)?;
    bot_may(&world, guild_id, world::MANAGE_CHANNELS)?;
    let channel = world.channels.remove(&channel_id).ok_or_else(unknown_channel)?;
    // A channel's threads go with it.
    world.channels.retain(|_, other| other.thread.is_none() || other.parent_id != Some(channel_id));
    Ok(Json(world::channel_json(&channel)).into_response())
}

async fn put_overwrite(
    State(shared): AppState,
    Path((channel_id, overwrite_id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Answer {
    let mut world = lock(&shared.world);
    let (channel_id, guild_id) = known_channel(&world, &channel_id)?;
    bot_may(&world, guild_id, world::MANAGE_ROLES)?;
    let channel = world.channels.get_mut(&channel_id).ok_or_else(unknown_channel)?;
    channel.overwrites.retain(|o| o["id"] != overwrite_id.as_str());
    channel.overwrites.push(stored_overwrite(&overwrite_id, &body));
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete_overwrite(
    State(shared): AppState,
    Path((channel_id, overwrite_id)): Path<(String, String)>,
) -> Response {
    let mut world = lock(&shared.world);
    let Some(channel) = id(&channel_id).and_then(|c| world.channels.get_mut(&c)) else { return unknown_channel() };
    channel.overwrites.retain(|o| o["id"] != overwrite_id.as_str());
    StatusCode::NO_CONTENT.into_response()
}

/// How long Discord remembers a nonce for `enforce_nonce` ("the past few minutes").
const NONCE_WINDOW: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// The bot as the author of what it posts (the sandbox's application id doubles as its user id).
fn bot_author(shared: &Shared) -> Value {
    world::user_json(shared.config.client_id, "guildbridge", true)
}

/// Create DM: the bot's DM channel with a user who shares a server with it (the same channel
/// every time); anyone else cannot be messaged (50007), as Discord answers when sending.
async fn create_dm(State(shared): AppState, Json(body): Json<Value>) -> Answer {
    let mut world = lock(&shared.world);
    let Some(user) = snowflake_field(&body, "recipient_id") else {
        return Err(field_error("recipient_id", "NUMBER_TYPE_COERCE", "Value is not snowflake."));
    };
    let channel_id = match world.dm_channels.get(&user) {
        Some(channel) => *channel,
        None => {
            let channel = world.new_id();
            world.dm_channels.insert(user, channel);
            channel
        }
    };
    let recipient = world::user_json(user, &format!("user-{user}"), false);
    Ok(Json(json!({ "id": channel_id.to_string(), "type": 1, "last_message_id": null, "flags": 0, "recipients": [recipient] }))
        .into_response())
}

/// The user at the other end of a DM channel, if `channel_id` is one.
fn dm_recipient(world: &World, channel_id: &str) -> Option<u64> {
    let channel = id(channel_id)?;
    world.dm_channels.iter().find(|(_, dm)| **dm == channel).map(|(user, _)| *user)
}

async fn create_message(State(shared): AppState, Path(channel_id): Path<String>, Json(body): Json<Value>) -> Answer {
    let mut world = lock(&shared.world);
    let channel_id = match dm_recipient(&world, &channel_id) {
        Some(user) if !world.guilds.values().any(|guild| guild.members.contains_key(&user)) => {
            return Err(discord_error(StatusCode::FORBIDDEN, 50007, "Cannot send messages to this user", None));
        }
        Some(_) => id(&channel_id).ok_or_else(unknown_channel)?,
        None => {
            let (channel_id, _) = known_channel(&world, &channel_id)?;
            threads::open_for_messages(&mut world, channel_id)?;
            channel_id
        }
    };
    let content = body.get("content").and_then(Value::as_str).unwrap_or_default();
    if content.chars().count() > 2000 {
        return Err(field_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length."));
    }
    // Discord's `enforce_nonce`: a message by the same author with the same nonce in the past
    // few minutes is returned and no new one is made. The bot is one author in every
    // channel of every guild, so the rule spans them all.
    let nonce = body.get("nonce").and_then(|nonce| match nonce {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    });
    let enforced = nonce.filter(|_| body.get("enforce_nonce").and_then(Value::as_bool) == Some(true));
    if let Some(nonce) = &enforced {
        world.nonces.retain(|_, (at, _)| at.elapsed() < NONCE_WINDOW);
        if let Some((_, earlier)) = world.nonces.get(nonce) {
            return Ok(Json(earlier.clone()).into_response());
        }
    }
    let message_id = world.new_id();
    let mut message = world::message_json(message_id, channel_id, bot_author(&shared), &body, None);
    messages::apply_pings(&mut message, &body);
    messages::attach_reference(&mut message, &world, channel_id, &body);
    world.post_message(channel_id, message.clone());
    if let Some(nonce) = enforced {
        world.nonces.insert(nonce, (std::time::Instant::now(), message.clone()));
    }
    Ok(Json(message).into_response())
}

//! Threads, their members, roles made and deleted, and messages edited, deleted and pinned,
//! with Discord's rules: private threads only in text channels, thread members must be guild
//! members, a locked thread takes no messages, only the author edits a message.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{Answer, AppState, bot_may, field_error, id, known_channel, known_guild, unknown_channel};
use crate::{
    Shared, discord_error, lock,
    world::{self, ChannelRecord, ThreadRecord, World},
};

const CREATE_PRIVATE_THREADS: u64 = 1 << 36;
const MANAGE_THREADS: u64 = 1 << 34;
const MANAGE_MESSAGES: u64 = 1 << 13;
const AUTO_ARCHIVE_CHOICES: [u64; 4] = [60, 1440, 4320, 10080];

fn unknown_message() -> Response {
    discord_error(StatusCode::NOT_FOUND, 10008, "Unknown Message", None)
}

fn unknown_member() -> Response {
    discord_error(StatusCode::NOT_FOUND, 10007, "Unknown Member", None)
}

/// A locked thread takes no messages; an archived one is reopened by a message, as in Discord.
pub(super) fn open_for_messages(world: &mut World, channel_id: u64) -> Result<(), Response> {
    if let Some(thread) = world.channels.get_mut(&channel_id).and_then(|channel| channel.thread.as_mut()) {
        if thread.locked {
            return Err(discord_error(StatusCode::BAD_REQUEST, 50083, "Thread is archived", None));
        }
        thread.archived = false;
    }
    Ok(())
}

/// Start Thread without Message: a private (12) or public (11) thread in a text channel.
pub(crate) async fn create_thread(
    State(shared): AppState,
    Path(channel_id): Path<String>,
    Json(body): Json<Value>,
) -> Answer {
    let mut world = lock(&shared.world);
    let (parent_id, guild_id) = known_channel(&world, &channel_id)?;
    bot_may(&world, guild_id, CREATE_PRIVATE_THREADS)?;
    if world.channels.get(&parent_id).is_none_or(|parent| parent.kind != 0) {
        return Err(discord_error(StatusCode::BAD_REQUEST, 50024, "Cannot execute action on this channel type", None));
    }
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
    if !(1..=100).contains(&name.chars().count()) {
        return Err(field_error("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."));
    }
    let kind = body.get("type").and_then(Value::as_u64).unwrap_or(u64::from(world::PRIVATE_THREAD)) as u8;
    let auto_archive_duration = body.get("auto_archive_duration").and_then(Value::as_u64).unwrap_or(4320);
    if !AUTO_ARCHIVE_CHOICES.contains(&auto_archive_duration) {
        return Err(field_error(
            "auto_archive_duration",
            "BASE_TYPE_CHOICES",
            "Value must be one of {60, 1440, 4320, 10080}.",
        ));
    }
    let bot = shared.config.client_id;
    let channel = ChannelRecord {
        id: world.new_id(),
        guild_id,
        name: name.to_owned(),
        kind,
        parent_id: Some(parent_id),
        topic: None,
        position: 0,
        overwrites: Vec::new(),
        last_message_id: None,
        thread: Some(ThreadRecord {
            owner_id: bot,
            archived: false,
            locked: false,
            auto_archive_duration,
            invitable: body.get("invitable").and_then(Value::as_bool).unwrap_or(true),
            members: vec![bot],
        }),
    };
    let json = world::channel_json(&channel);
    world.channels.insert(channel.id, channel);
    Ok((StatusCode::CREATED, Json(json)).into_response())
}

/// Modify Channel on a thread: its name, archived, locked, auto-archive.
pub(super) fn modify_thread(world: &mut World, guild_id: u64, channel_id: u64, body: &Value) -> Answer {
    if body.get("locked").and_then(Value::as_bool) == Some(true) {
        bot_may(world, guild_id, MANAGE_THREADS)?;
    }
    let channel = world.channels.get_mut(&channel_id).ok_or_else(unknown_channel)?;
    if let Some(name) = body.get("name").and_then(Value::as_str) {
        channel.name = name.to_owned();
    }
    let thread = channel.thread.as_mut().ok_or_else(unknown_channel)?;
    if let Some(archived) = body.get("archived").and_then(Value::as_bool) {
        thread.archived = archived;
    }
    if let Some(locked) = body.get("locked").and_then(Value::as_bool) {
        thread.locked = locked;
    }
    if let Some(minutes) = body.get("auto_archive_duration").and_then(Value::as_u64) {
        thread.auto_archive_duration = minutes;
    }
    Ok(Json(world::channel_json(channel)).into_response())
}

/// The thread a path names (and its guild), or Unknown Channel.
fn known_thread(world: &World, raw: &str) -> Result<(u64, u64), Response> {
    let (channel_id, guild_id) = known_channel(world, raw)?;
    match world.channels.get(&channel_id) {
        Some(channel) if channel.thread.is_some() => Ok((channel_id, guild_id)),
        _ => Err(discord_error(StatusCode::BAD_REQUEST, 50024, "Cannot execute action on this channel type", None)),
    }
}

fn change_thread_member(shared: &Shared, channel_id: &str, user_id: &str, add: bool) -> Answer {
    let mut world = lock(&shared.world);
    let (channel_id, guild_id) = known_thread(&world, channel_id)?;
    let Some(user_id) = id(user_id) else { return Err(unknown_member()) };
    let is_member = world.guilds.get(&guild_id).is_some_and(|guild| guild.members.contains_key(&user_id));
    if !is_member {
        return Err(unknown_member());
    }
    let thread = world.channels.get_mut(&channel_id).and_then(|c| c.thread.as_mut()).ok_or_else(unknown_channel)?;
    if thread.locked {
        return Err(discord_error(StatusCode::BAD_REQUEST, 50083, "Thread is archived", None));
    }
    thread.members.retain(|member| *member != user_id);
    if add {
        thread.members.push(user_id);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn add_thread_member(
    State(shared): AppState,
    Path((channel_id, user_id)): Path<(String, String)>,
) -> Answer {
    change_thread_member(&shared, &channel_id, &user_id, true)
}

pub(crate) async fn remove_thread_member(
    State(shared): AppState,
    Path((channel_id, user_id)): Path<(String, String)>,
) -> Answer {
    change_thread_member(&shared, &channel_id, &user_id, false)
}

fn thread_member_json(thread_id: u64, user_id: u64) -> Value {
    json!({
        "id": thread_id.to_string(),
        "user_id": user_id.to_string(),
        "join_timestamp": "2026-11-22T09:00:00.000000+00:00",
        "flags": 0,
    })
}

pub(crate) async fn thread_members(State(shared): AppState, Path(channel_id): Path<String>) -> Answer {
    let world = lock(&shared.world);
    let (channel_id, _) = known_thread(&world, &channel_id)?;
    let members = world.channels.get(&channel_id).and_then(|c| c.thread.as_ref()).map(|t| t.members.clone());
    let answer: Vec<Value> =
        members.unwrap_or_default().into_iter().map(|user| thread_member_json(channel_id, user)).collect();
    Ok(Json(answer).into_response())
}

/// List Active Guild Threads: every thread not archived, with the bot's own memberships.
pub(crate) async fn active_threads(State(shared): AppState, Path(guild_id): Path<String>) -> Answer {
    let world = lock(&shared.world);
    let guild_id = known_guild(&world, &guild_id)?;
    let bot = shared.config.client_id;
    let active: Vec<&ChannelRecord> =
        world.guild_channels(guild_id).filter(|c| c.thread.as_ref().is_some_and(|t| !t.archived)).collect();
    let members: Vec<Value> = active
        .iter()
        .filter(|c| c.thread.as_ref().is_some_and(|t| t.members.contains(&bot)))
        .map(|c| thread_member_json(c.id, bot))
        .collect();
    let threads: Vec<Value> = active.into_iter().map(world::channel_json).collect();
    Ok(Json(json!({ "threads": threads, "members": members })).into_response())
}

pub(crate) async fn create_role(
    State(shared): AppState,
    Path(guild_id): Path<String>,
    Json(body): Json<Value>,
) -> Answer {
    let mut world = lock(&shared.world);
    let guild_id = known_guild(&world, &guild_id)?;
    bot_may(&world, guild_id, world::MANAGE_ROLES)?;
    let name = body.get("name").and_then(Value::as_str).unwrap_or("new role").to_owned();
    if name.chars().count() > 100 {
        return Err(field_error("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."));
    }
    let permissions = match body.get("permissions") {
        None | Some(Value::Null) => 0,
        Some(Value::String(bits)) => bits.parse::<u64>().unwrap_or(0),
        Some(other) => other.as_u64().unwrap_or(0),
    };
    let role_id = world.new_id();
    let guild = world.guilds.get_mut(&guild_id).ok_or_else(super::unknown_guild)?;
    guild.insert_role_at_bottom(role_id, world::RoleRecord { permissions, ..world::RoleRecord::plain(&name, 1) });
    let role = &guild.roles[&role_id];
    Ok(Json(world::role_json(guild, role_id, role)).into_response())
}

/// Modify Guild Role: its name (what Guildbridge changes).
pub(crate) async fn modify_role(
    State(shared): AppState,
    Path((guild_id, role_id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Answer {
    let mut world = lock(&shared.world);
    let guild_id = known_guild(&world, &guild_id)?;
    bot_may(&world, guild_id, world::MANAGE_ROLES)?;
    let name = body.get("name").and_then(Value::as_str).map(str::to_owned);
    if name.as_ref().is_some_and(|name| name.is_empty() || name.chars().count() > 100) {
        return Err(field_error("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."));
    }
    let guild = world.guilds.get_mut(&guild_id).ok_or_else(super::unknown_guild)?;
    let Some(role_id) = id(&role_id).filter(|role| guild.roles.contains_key(role)) else {
        return Err(discord_error(StatusCode::NOT_FOUND, 10011, "Unknown Role", None));
    };
    if let Some(name) = name {
        guild.roles.entry(role_id).or_default().name = name;
    }
    let role = &guild.roles[&role_id];
    Ok(Json(world::role_json(guild, role_id, role)).into_response())
}

pub(crate) async fn delete_role(State(shared): AppState, Path((guild_id, role_id)): Path<(String, String)>) -> Answer {
    let mut world = lock(&shared.world);
    let guild_id = known_guild(&world, &guild_id)?;
    bot_may(&world, guild_id, world::MANAGE_ROLES)?;
    let guild = world.guilds.get_mut(&guild_id).ok_or_else(super::unknown_guild)?;
    let Some(role_id) = id(&role_id).filter(|role| guild.roles.remove(role).is_some()) else {
        return Err(discord_error(StatusCode::NOT_FOUND, 10011, "Unknown Role", None));
    };
    for member in guild.members.values_mut() {
        member.roles.retain(|role| *role != role_id);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The index of a message in its channel, or Unknown Message.
fn message_at(world: &World, channel_id: u64, message_id: &str) -> Result<usize, Response> {
    world
        .messages
        .get(&channel_id)
        .and_then(|messages| messages.iter().position(|message| message["id"] == message_id))
        .ok_or_else(unknown_message)
}

pub(crate) async fn get_message(
    State(shared): AppState,
    Path((channel_id, message_id)): Path<(String, String)>,
) -> Answer {
    let world = lock(&shared.world);
    let (channel_id, _) = known_channel(&world, &channel_id)?;
    let at = message_at(&world, channel_id, &message_id)?;
    Ok(Json(world.messages[&channel_id][at].clone()).into_response())
}

/// Edit Message: the author's own only; content, embeds and components are replaced.
pub(crate) async fn edit_message(
    State(shared): AppState,
    Path((channel_id, message_id)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Answer {
    let mut world = lock(&shared.world);
    let (channel_id, _) = known_channel(&world, &channel_id)?;
    let at = message_at(&world, channel_id, &message_id)?;
    if body.get("content").and_then(Value::as_str).is_some_and(|content| content.chars().count() > 2000) {
        return Err(field_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length."));
    }
    let bot = shared.config.client_id.to_string();
    let message =
        world.messages.get_mut(&channel_id).and_then(|messages| messages.get_mut(at)).ok_or_else(unknown_message)?;
    if message["author"]["id"] != bot.as_str() {
        return Err(discord_error(
            StatusCode::FORBIDDEN,
            50005,
            "Cannot edit a message authored by another user",
            None,
        ));
    }
    for field in ["content", "embeds", "components"] {
        if let Some(value) = body.get(field) {
            message[field] = value.clone();
        }
    }
    message["edited_timestamp"] = json!("2026-11-22T10:00:00.000000+00:00");
    Ok(Json(message.clone()).into_response())
}

pub(crate) async fn delete_message(
    State(shared): AppState,
    Path((channel_id, message_id)): Path<(String, String)>,
) -> Answer {
    let mut world = lock(&shared.world);
    let (channel_id, guild_id) = known_channel(&world, &channel_id)?;
    let at = message_at(&world, channel_id, &message_id)?;
    let bot = shared.config.client_id.to_string();
    if world.messages[&channel_id][at]["author"]["id"] != bot.as_str() {
        bot_may(&world, guild_id, MANAGE_MESSAGES)?;
    }
    if let Some(messages) = world.messages.get_mut(&channel_id) {
        messages.remove(at);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn pin_message(
    State(shared): AppState,
    Path((channel_id, message_id)): Path<(String, String)>,
) -> Answer {
    let mut world = lock(&shared.world);
    let (channel_id, guild_id) = known_channel(&world, &channel_id)?;
    bot_may(&world, guild_id, MANAGE_MESSAGES)?;
    let at = message_at(&world, channel_id, &message_id)?;
    if let Some(message) = world.messages.get_mut(&channel_id).and_then(|messages| messages.get_mut(at)) {
        message["pinned"] = json!(true);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

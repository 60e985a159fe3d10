//! Messages beyond posting: reading a channel's history (Get Channel Messages, newest first,
//! content withheld without the Message Content intent as Discord does), replies, a member
//! posting (the sandbox's stand-in for a person typing), invites, and the application.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Answer, AppState, bot_author, field_error, id, known_channel};
use crate::{Shared, discord_error, lock, world};

#[derive(Debug, Deserialize)]
pub(crate) struct MessagesQuery {
    after: Option<String>,
    before: Option<String>,
    limit: Option<String>,
}

/// Whether the bot sees this message's content: its own, one that mentions it, a reply to
/// it, or any message when the application has the intent.
fn visible_to_bot(message: &Value, bot: &str, intent: bool) -> bool {
    intent
        || message["author"]["id"] == bot
        || message["mentions"].as_array().is_some_and(|mentions| mentions.iter().any(|user| user["id"] == bot))
        || message["referenced_message"]["author"]["id"] == bot
}

fn withheld(mut message: Value) -> Value {
    message["content"] = json!("");
    message["embeds"] = json!([]);
    message["attachments"] = json!([]);
    message["components"] = json!([]);
    message
}

/// Get Channel Messages: `limit` 1..100 (50), `after` or `before`; newest first.
pub(crate) async fn list_messages(
    State(shared): AppState,
    Path(channel_id): Path<String>,
    Query(query): Query<MessagesQuery>,
) -> Answer {
    let world = lock(&shared.world);
    let (channel_id, _) = known_channel(&world, &channel_id)?;
    let limit = match query.limit.as_deref().map(str::parse::<usize>) {
        None => 50,
        Some(Ok(limit @ 1..=100)) => limit,
        _ => return Err(field_error("limit", "NUMBER_TYPE_MAX", "int value should be less than or equal to 100.")),
    };
    let after = query.after.as_deref().and_then(id);
    let before = query.before.as_deref().and_then(id);
    let mut messages: Vec<&Value> = world
        .messages
        .get(&channel_id)
        .map(|messages| {
            messages
                .iter()
                .filter(|message| {
                    let message_id = message["id"].as_str().and_then(id).unwrap_or_default();
                    after.is_none_or(|after| message_id > after) && before.is_none_or(|before| message_id < before)
                })
                .collect()
        })
        .unwrap_or_default();
    messages.sort_by_key(|message| message["id"].as_str().and_then(id).unwrap_or_default());
    // `after`: the oldest `limit` after it; otherwise the newest `limit`. Newest first either way.
    let page: Vec<&Value> = if after.is_some() {
        messages.into_iter().take(limit).collect()
    } else {
        let skip = messages.len().saturating_sub(limit);
        messages.into_iter().skip(skip).collect()
    };
    let bot = shared.config.client_id.to_string();
    let intent = world.message_content_intent;
    let answer: Vec<Value> = page
        .into_iter()
        .rev()
        .map(|message| if visible_to_bot(message, &bot, intent) { message.clone() } else { withheld(message.clone()) })
        .collect();
    Ok(Json(answer).into_response())
}

/// The message a reply points at, as Discord embeds it (`referenced_message`), with the
/// reply's type (19) and reference.
pub(crate) fn attach_reference(message: &mut Value, world: &world::World, channel_id: u64, body: &Value) {
    let Some(replied) = body["message_reference"]["message_id"].as_str() else {
        return;
    };
    let referenced =
        world.messages.get(&channel_id).and_then(|messages| messages.iter().find(|m| m["id"] == replied)).cloned();
    message["type"] = json!(19);
    message["message_reference"] = json!({ "type": 0, "message_id": replied, "channel_id": channel_id.to_string() });
    message["referenced_message"] = referenced.unwrap_or(Value::Null);
}

/// Not Discord's API: `POST /sandbox/channels/{id}/messages` with `{"author_id": "...",
/// "content": "..."}` (and `"reply_to"`) posts as that member, the way a person typing
/// would. Mentions of users (`<@id>`) are filled in as Discord does.
pub(crate) async fn post_as_member(
    State(shared): State<std::sync::Arc<Shared>>,
    Path(channel_id): Path<u64>,
    Json(body): Json<Value>,
) -> Response {
    let author = body["author_id"].as_str().and_then(id);
    let content = body["content"].as_str().unwrap_or_default().to_owned();
    let Some(author) = author else {
        return discord_error(StatusCode::BAD_REQUEST, 50035, "author_id: a member's id", None);
    };
    match post(&shared, channel_id, author, &content, body["reply_to"].as_str()) {
        Some(message) => (StatusCode::OK, Json(message)).into_response(),
        None => discord_error(StatusCode::NOT_FOUND, 10003, "Unknown Channel or Member", None),
    }
}

/// Posts `content` in `channel_id` as `author` (a member of the channel's guild).
pub(crate) fn post(
    shared: &Shared,
    channel_id: u64,
    author: u64,
    content: &str,
    reply_to: Option<&str>,
) -> Option<Value> {
    let mut world = lock(&shared.world);
    let guild_id = world.channels.get(&channel_id)?.guild_id;
    let member = world.guilds.get(&guild_id)?.members.get(&author)?.clone();
    let mentions: Vec<Value> = mentioned_ids(content)
        .into_iter()
        .filter_map(|user| match world.guilds.get(&guild_id)?.members.get(&user) {
            Some(member) => Some(world::user_json(member.user_id, &member.username, member.bot)),
            None if user == shared.config.client_id => Some(bot_author(shared)),
            None => None,
        })
        .collect();
    let message_id = world.new_id();
    let body = match reply_to {
        Some(replied) => json!({ "content": content, "message_reference": { "message_id": replied } }),
        None => json!({ "content": content }),
    };
    let mut message = world::message_json(
        message_id,
        channel_id,
        world::user_json(author, &member.username, member.bot),
        &body,
        None,
    );
    message["mentions"] = json!(mentions);
    attach_reference(&mut message, &world, channel_id, &body);
    world.post_message(channel_id, message.clone());
    Some(message)
}

/// The ids in `<@id>` and `<@!id>` mentions.
fn mentioned_ids(content: &str) -> Vec<u64> {
    content
        .split("<@")
        .skip(1)
        .filter(|rest| !rest.starts_with('&'))
        .filter_map(|rest| rest.trim_start_matches('!').split('>').next().and_then(id))
        .collect()
}

fn mentioned_roles(content: &str) -> Vec<u64> {
    content.split("<@&").skip(1).filter_map(|rest| rest.split('>').next().and_then(id)).collect()
}

/// Who a message the bot posts notifies, as Discord decides it: what its content mentions,
/// filtered by `allowed_mentions` when the body has it (`parse` by type, or listed `users`
/// and `roles`); without it, everything mentioned. Sets `mention_everyone`, `mention_roles`
/// and `mentions` on the stored message, so a test sees a ping that went out.
pub(crate) fn apply_pings(message: &mut Value, body: &Value) {
    let content = body.get("content").and_then(Value::as_str).unwrap_or_default();
    let allowed = body.get("allowed_mentions");
    let parses = |kind: &str| match allowed {
        None | Some(Value::Null) => true,
        Some(allowed) => allowed["parse"].as_array().is_some_and(|types| types.iter().any(|t| t == kind)),
    };
    let listed = |field: &str, wanted: u64| {
        allowed.and_then(|allowed| allowed[field].as_array()).is_some_and(|ids| {
            ids.iter().any(|listed| listed.as_str().and_then(id).or_else(|| listed.as_u64()) == Some(wanted))
        })
    };
    let everyone = (content.contains("@everyone") || content.contains("@here")) && parses("everyone");
    let roles: Vec<String> = mentioned_roles(content)
        .into_iter()
        .filter(|role| parses("roles") || listed("roles", *role))
        .map(|role| role.to_string())
        .collect();
    let users: Vec<Value> = mentioned_ids(content)
        .into_iter()
        .filter(|user| parses("users") || listed("users", *user))
        .map(|user| world::user_json(user, &format!("user-{user}"), false))
        .collect();
    message["mention_everyone"] = json!(everyone);
    message["mention_roles"] = json!(roles);
    message["mentions"] = json!(users);
}

/// Not Discord's API: `PUT /sandbox/message-content` with `{"enabled": false}` plays an
/// application without the Message Content intent.
pub(crate) async fn set_message_content(
    State(shared): State<std::sync::Arc<Shared>>,
    Json(body): Json<Value>,
) -> Response {
    match body["enabled"].as_bool() {
        Some(enabled) => {
            lock(&shared.world).message_content_intent = enabled;
            StatusCode::NO_CONTENT.into_response()
        }
        None => discord_error(StatusCode::BAD_REQUEST, 50035, "enabled: true or false", None),
    }
}

/// Get Current Application: the flags say which privileged intents it has.
pub(crate) async fn current_application(State(shared): AppState) -> Answer {
    // The "limited" flags: what Discord sets for a bot in fewer than 100 servers.
    const GATEWAY_GUILD_MEMBERS_LIMITED: u64 = 1 << 15;
    const GATEWAY_MESSAGE_CONTENT_LIMITED: u64 = 1 << 19;
    let world = lock(&shared.world);
    let mut flags = 0;
    if world.server_members_intent {
        flags |= GATEWAY_GUILD_MEMBERS_LIMITED;
    }
    if world.message_content_intent {
        flags |= GATEWAY_MESSAGE_CONTENT_LIMITED;
    }
    let id = shared.config.client_id.to_string();
    Ok(Json(json!({
        "id": id,
        "name": "Guildbridge (sandbox)",
        "icon": null,
        "description": "",
        "bot_public": true,
        "bot_require_code_grant": false,
        "verify_key": "0".repeat(64),
        "flags": flags,
        "interactions_endpoint_url": world.interactions_endpoint_url,
        "redirect_uris": world.redirect_uris,
        "team": null,
        "bot": bot_author(&shared),
    }))
    .into_response())
}

/// Create Channel Invite (`max_age` 0..604800, `max_uses` 0..100).
pub(crate) async fn create_invite(
    State(shared): AppState,
    Path(channel_id): Path<String>,
    Json(body): Json<Value>,
) -> Answer {
    let mut world = lock(&shared.world);
    let (channel_id, guild_id) = known_channel(&world, &channel_id)?;
    let max_age = body["max_age"].as_u64().unwrap_or(86_400);
    let max_uses = body["max_uses"].as_u64().unwrap_or(0);
    if max_age > 604_800 {
        return Err(field_error("max_age", "NUMBER_TYPE_MAX", "int value should be less than or equal to 604800."));
    }
    if max_uses > 100 {
        return Err(field_error("max_uses", "NUMBER_TYPE_MAX", "int value should be less than or equal to 100."));
    }
    let code = format!("sbx{}", world.new_id() % 100_000_000);
    let channel = world.channels.get(&channel_id).cloned();
    let guild_name = world.guilds.get(&guild_id).map(|guild| guild.name.clone()).unwrap_or_default();
    let invite = json!({
        "type": 0,
        "code": code,
        "channel": channel.map(|c| json!({ "id": c.id.to_string(), "name": c.name, "type": c.kind })),
        "guild": { "id": guild_id.to_string(), "name": guild_name, "features": [], "verification_level": 0,
                   "nsfw_level": 0, "icon": null, "splash": null, "banner": null, "description": null,
                   "vanity_url_code": null, "premium_subscription_count": 0 },
        "inviter": bot_author(&shared),
        "max_age": max_age,
        "max_uses": max_uses,
        "uses": 0,
        "temporary": false,
        "created_at": "2026-11-22T09:00:00.000000+00:00",
        "expires_at": null,
    });
    world.invites.push(invite.clone());
    Ok(Json(invite).into_response())
}

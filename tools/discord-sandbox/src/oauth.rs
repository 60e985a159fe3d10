//! OAuth2 as the settings page meets it: authorize (the sandbox logs in the user named by
//! `user_id`, else the first guild's owner; with scope `bot` it adds the bot to a guild the
//! user owns), code to token (with the guild for a bot install), refresh, and the user's
//! identity and guilds with their permissions in each.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};

use crate::{Shared, lock, world};

fn oauth_error(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response()
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({ "code": 0, "message": "401: Unauthorized" }))).into_response()
}

pub(crate) async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if query.get("client_id").and_then(|id| id.parse::<u64>().ok()) != Some(shared.config.client_id) {
        return oauth_error("invalid_client");
    }
    let Some(redirect) = query.get("redirect_uri").and_then(|uri| url::Url::parse(uri).ok()) else {
        return oauth_error("invalid_request");
    };
    let mut target = redirect.clone();
    let state = query.get("state");
    // `decision=deny` plays the person pressing Cancel on Discord's page.
    if query.get("decision").map(String::as_str) == Some("deny") {
        target.query_pairs_mut().append_pair("error", "access_denied");
        target
            .query_pairs_mut()
            .append_pair("error_description", "The resource owner or authorization server denied the request");
        if let Some(state) = state {
            target.query_pairs_mut().append_pair("state", state);
        }
        return Redirect::to(target.as_str()).into_response();
    }
    let scope = query.get("scope").cloned().unwrap_or_default();
    let mut world = lock(&shared.world);
    let user = query
        .get("user_id")
        .and_then(|id| id.parse().ok())
        .or_else(|| world.guilds.values().next().map(|guild| guild.owner_id));
    let chosen_user = query.get("user_id").and_then(|id| id.parse::<u64>().ok());
    let bot_install = scope.split(' ').any(|s| s == "bot");
    // A person logging in picks who they are, as they would type their password at Discord.
    if chosen_user.is_none() && !bot_install && !world.demo_users.is_empty() {
        return login_page(&world.demo_users, &query);
    }
    let Some(user) = user else { return oauth_error("access_denied") };
    let code_challenge = match (query.get("code_challenge"), query.get("code_challenge_method").map(String::as_str)) {
        (Some(challenge), Some("S256")) => Some(challenge.clone()),
        (Some(_), _) => return oauth_error("invalid_request"),
        (None, _) => None,
    };
    let mut guild = None;
    if bot_install {
        // A bot install: into the guild asked for (the user must own it) or their first.
        let owned = |g: &&world::GuildRecord| g.owner_id == user;
        let chosen = match query.get("guild_id") {
            Some(id) => id.parse::<u64>().ok().and_then(|id| world.guilds.get(&id)).filter(owned).map(|g| g.id),
            None => world.guilds.values().find(owned).map(|g| g.id),
        };
        let Some(chosen) = chosen else { return oauth_error("access_denied") };
        let permissions = query.get("permissions").and_then(|p| p.parse::<u64>().ok()).unwrap_or(0);
        let bot_role = world.new_id();
        if let Some(record) = world.guilds.get_mut(&chosen) {
            record.bot_permissions = permissions;
            record.bot_absent = false;
            record.add_bot_role(bot_role, shared.config.client_id);
        }
        target.query_pairs_mut().append_pair("guild_id", &chosen.to_string());
        target.query_pairs_mut().append_pair("permissions", &permissions.to_string());
        guild = Some(chosen);
    }
    let code = format!("code-{}", world.new_id());
    let grant = world::Grant { user, guild, redirect_uri: redirect.to_string(), scope, code_challenge };
    world.oauth_codes.insert(code.clone(), grant);
    target.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = state {
        target.query_pairs_mut().append_pair("state", state);
    }
    Redirect::to(target.as_str()).into_response()
}

fn client_authenticated(shared: &Shared, headers: &HeaderMap) -> bool {
    let expected = STANDARD.encode(format!("{}:{}", shared.config.client_id, shared.config.client_secret));
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(&format!("Basic {expected}"))
}

pub(crate) async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    if !client_authenticated(&shared, &headers) {
        return oauth_error("invalid_client");
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let mut world = lock(&shared.world);
    let grant = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(grant) = form.get("code").and_then(|code| world.oauth_codes.remove(code)) else {
                return oauth_error("invalid_grant");
            };
            // Discord refuses a token request whose redirect_uri differs from the authorize one.
            let same_redirect = form.get("redirect_uri").and_then(|uri| url::Url::parse(uri).ok()).map(String::from);
            if same_redirect.as_deref() != Some(grant.redirect_uri.as_str()) {
                return oauth_error("invalid_grant");
            }
            if let Some(challenge) = &grant.code_challenge {
                use sha2::Digest;
                let verifier = form.get("code_verifier").map(String::as_str).unwrap_or_default();
                let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier));
                if verifier.is_empty() || computed != *challenge {
                    return oauth_error("invalid_grant");
                }
            }
            grant
        }
        Some("refresh_token") => match form.get("refresh_token").and_then(|token| world.refresh_tokens.remove(token)) {
            Some(user) => world::Grant {
                user,
                guild: None,
                redirect_uri: String::new(),
                scope: "identify guilds".into(),
                code_challenge: None,
            },
            None => return oauth_error("invalid_grant"),
        },
        _ => return oauth_error("unsupported_grant_type"),
    };
    let user = grant.user;
    let access = format!("access-{}", world.new_id());
    let refresh = format!("refresh-{}", world.new_id());
    world.access_tokens.insert(access.clone(), user);
    world.refresh_tokens.insert(refresh.clone(), user);
    let scope = if grant.scope.is_empty() { "identify guilds".to_owned() } else { grant.scope };
    let mut answer = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 604_800,
        "refresh_token": refresh,
        "scope": scope,
    });
    if let Some(guild) = grant.guild.and_then(|id| world.guilds.get(&id)) {
        answer["guild"] = world::guild_json(guild);
    }
    Json(answer).into_response()
}

fn bearer_user(shared: &Shared, headers: &HeaderMap) -> Option<u64> {
    let token = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")?;
    lock(&shared.world).access_tokens.get(token).copied()
}

pub(crate) async fn me(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some(user) = bearer_user(&shared, &headers) else { return unauthorized() };
    let name = lock(&shared.world)
        .guilds
        .values()
        .find_map(|guild| guild.members.get(&user).map(|member| member.username.clone()))
        .unwrap_or_else(|| format!("user{user}"));
    let mut json = world::user_json(user, &name, false);
    json["mfa_enabled"] = json!(false);
    json["accent_color"] = Value::Null;
    json["banner"] = Value::Null;
    json["locale"] = json!("en-US");
    Json(json).into_response()
}

pub(crate) async fn my_guilds(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let Some(user) = bearer_user(&shared, &headers) else { return unauthorized() };
    let world = lock(&shared.world);
    let guilds: Vec<Value> = world
        .guilds
        .values()
        .filter(|guild| guild.members.contains_key(&user))
        .map(|guild| {
            let owner = guild.owner_id == user;
            let permissions = guild.permissions_of(user);
            json!({
                "id": guild.id.to_string(),
                "name": guild.name,
                "icon": null,
                "owner": owner,
                "permissions": permissions.to_string(),
                "features": [],
            })
        })
        .collect();
    Json(guilds).into_response()
}

/// Discord's "who are you" step, played by a list of the demo users: each a link back to
/// this authorization with `user_id` added.
fn login_page(users: &[world::DemoUser], query: &HashMap<String, String>) -> Response {
    let escape =
        |text: &str| text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let items: String = users
        .iter()
        .map(|user| {
            let mut link = url::form_urlencoded::Serializer::new(String::new());
            for (name, value) in query {
                link.append_pair(name, value);
            }
            link.append_pair("user_id", &user.id.to_string());
            format!(
                "<li><a href=\"/api/v10/oauth2/authorize?{}\">Log in as {}</a> <small>{}</small></li>",
                escape(&link.finish()),
                escape(&user.name),
                escape(&user.description)
            )
        })
        .collect();
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Discord sandbox: log in</title></head>\
         <body><h1>Discord sandbox</h1><p>Choose who logs in:</p><ul>{items}</ul></body></html>"
    );
    axum::response::Html(page).into_response()
}

/// `POST /oauth2/token/revoke`: the token stops working at once.
pub(crate) async fn revoke(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    if !client_authenticated(&shared, &headers) {
        return oauth_error("invalid_client");
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let Some(token) = form.get("token") else { return oauth_error("invalid_request") };
    let mut world = lock(&shared.world);
    world.access_tokens.remove(token);
    world.refresh_tokens.remove(token);
    StatusCode::OK.into_response()
}

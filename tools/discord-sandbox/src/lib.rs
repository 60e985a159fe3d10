//! A Discord REST API stand-in for tests and the local stack. It serves the subset of
//! Discord's v10 API Guildbridge uses, keeps Discord's rules (channel limits, permissions,
//! member paging), answers in Discord's error format, sends Discord's rate-limit headers and
//! refuses clients that ignore them, injects faults on demand, validates every request body
//! against Discord's official OpenAPI document, and records every request for tests.

mod gateway;
mod limits;
mod oauth;
#[cfg(feature = "validate")]
mod openapi;
#[cfg(not(feature = "validate"))]
#[path = "openapi_off.rs"]
mod openapi;

/// Whether this build checks request bodies against Discord's document (the `validate`
/// feature, on by default; the local stack leaves it out to build faster).
pub const VALIDATES: bool = cfg!(feature = "validate");
mod routes;
pub mod world;

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    extract::{MatchedPath, Request, State},
    http::{HeaderValue, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

pub use self::{
    gateway::GatewayStats,
    limits::{RateLimits, RouteLimit},
};
use self::{limits::Limiter, openapi::BodyValidators, world::World};

/// Faults to inject, changeable while running.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Share of requests answered 500 (0.0..=1.0).
    pub server_error_rate: f64,
    /// Added before every answer.
    pub latency: Duration,
    /// The next this many requests get a 429 with `storm_retry_after`.
    pub storm_requests: u32,
    pub storm_retry_after: Duration,
    /// Share of requests whose connection drops mid-answer.
    pub drop_rate: f64,
    /// The next request to this method and route template (`POST`,
    /// `/guilds/{guild_id}/channels`) is carried out, and its answer lost.
    pub drop_once: Option<(String, String)>,
}

#[derive(Clone)]
pub struct SandboxConfig {
    pub bot_token: String,
    /// Discord's OpenAPI document; `None` turns body validation off.
    pub openapi: Option<PathBuf>,
    pub limits: RateLimits,
    /// The OAuth2 application (the settings page's "Log in with Discord").
    pub client_id: u64,
    pub client_secret: String,
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("openapi", &self.openapi)
            .field("limits", &self.limits)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl SandboxConfig {
    /// A sandbox for one bot token; OAuth2 client `1100000000000000001` with secret
    /// `sandbox-client-secret`.
    pub fn new(bot_token: impl Into<String>, openapi: Option<PathBuf>, limits: RateLimits) -> Self {
        Self {
            bot_token: bot_token.into(),
            openapi,
            limits,
            client_id: 1_100_000_000_000_000_001,
            client_secret: "sandbox-client-secret".to_owned(),
        }
    }
}

/// One request as the sandbox received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    /// The route as the OpenAPI document writes it, e.g. `/guilds/{guild_id}/channels`.
    pub template: String,
    pub path: String,
    pub body: Option<Value>,
    pub status: u16,
    pub audit_reason: Option<String>,
    pub user_agent: Option<String>,
}

pub(crate) struct Shared {
    pub config: SandboxConfig,
    pub world: Mutex<World>,
    pub faults: Mutex<Faults>,
    pub recorded: Mutex<Vec<Recorded>>,
    pub limiter: Limiter,
    pub validators: Option<BodyValidators>,
    /// Where the sandbox listens (the Gateway's URL names it).
    pub address: Mutex<Option<SocketAddr>>,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Discord's error body.
pub(crate) fn discord_error(status: StatusCode, code: u64, message: &str, errors: Option<Value>) -> Response {
    let mut body = json!({ "code": code, "message": message });
    if let Some(errors) = errors {
        body["errors"] = errors;
    }
    (status, axum::Json(body)).into_response()
}

/// A running sandbox. Dropping it stops the server.
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// What a test or the local stack seeds a guild with.
#[derive(Debug, Clone)]
pub struct GuildSeed {
    pub id: u64,
    pub name: String,
    pub bot_permissions: u64,
    pub roles: Vec<(u64, String)>,
    /// Members get ids `first_member_id..first_member_id + members`.
    pub members: u64,
    pub first_member_id: u64,
    /// Every n-th member is a bot.
    pub bot_every: Option<u64>,
}

impl Sandbox {
    /// Starts on `addr` (port 0 picks a free one).
    pub async fn start(config: SandboxConfig, addr: SocketAddr) -> anyhow::Result<Self> {
        let validators = match &config.openapi {
            Some(path) => Some(BodyValidators::load(path, routes::VALIDATED)?),
            None => None,
        };
        let shared = Arc::new(Shared {
            limiter: Limiter::new(config.limits.clone()),
            config,
            world: Mutex::new(World::default()),
            faults: Mutex::new(Faults::default()),
            recorded: Mutex::new(Vec::new()),
            validators,
            address: Mutex::new(None),
        });
        lock(&shared.world).gateway.bot_user_id = shared.config.client_id;
        let app: Router = routes::router()
            .route_layer(middleware::from_fn_with_state(shared.clone(), gatekeeper))
            // Not Discord's API: how a local client plays Discord's gateway and gets the token
            // Discord would send with an interaction.
            .route("/sandbox/interactions", axum::routing::post(routes::issue_interaction))
            // Not Discord's API either: a test takes a member's permissions away (or gives some).
            .route(
                "/sandbox/guilds/{guild_id}/members/{user_id}/permissions",
                axum::routing::put(set_member_permissions_route),
            )
            .route("/sandbox/guilds/{guild_id}/bot-permissions", axum::routing::put(set_bot_permissions_route))
            // A member writing in a channel, and the Message Content intent taken away.
            .route("/sandbox/channels/{channel_id}/messages", axum::routing::post(routes::messages::post_as_member))
            .route("/sandbox/message-content", axum::routing::put(routes::messages::set_message_content))
            // The Gateway's WebSocket (at the URL `GET /gateway/bot` names), and its controls.
            .route("/gateway", axum::routing::get(gateway::socket))
            .route("/gateway/", axum::routing::get(gateway::socket))
            .route("/sandbox/gateway/{action}", axum::routing::post(gateway::control))
            .fallback(|| async { discord_error(StatusCode::NOT_FOUND, 0, "404: Not Found", None) })
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        *lock(&shared.address) = Some(addr);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { shared, addr, server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL a client uses, like `https://discord.com/api/v10`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v10", self.addr)
    }

    pub fn seed_guild(&self, seed: GuildSeed) {
        let mut world = lock(&self.shared.world);
        let bot_role = world.new_id();
        let members = (0..seed.members)
            .map(|n| {
                let user_id = seed.first_member_id + n;
                let bot = seed.bot_every.is_some_and(|every| every > 0 && n % every == every - 1);
                (user_id, world::MemberRecord { user_id, username: format!("member{n}"), bot, roles: Vec::new() })
            })
            .collect();
        // The seeded roles are plain ones, in order from the bottom; the bot's is above them.
        let roles = seed
            .roles
            .into_iter()
            .enumerate()
            .map(|(n, (id, name))| (id, world::RoleRecord::plain(&name, n as u64 + 1)))
            .collect();
        let mut guild = world::GuildRecord {
            id: seed.id,
            name: seed.name,
            owner_id: seed.first_member_id,
            bot_permissions: seed.bot_permissions,
            members_intent: true,
            roles,
            members,
            bot_absent: false,
            member_permissions: Default::default(),
        };
        guild.add_bot_role(bot_role, self.shared.config.client_id);
        world.guilds.insert(seed.id, guild);
    }

    /// A channel of Discord's `kind` (0 text, 2 voice, 4 category) that someone made in
    /// `guild_id`, outside any category; its id.
    pub fn add_channel(&self, guild_id: u64, name: &str, kind: u8) -> u64 {
        let mut world = lock(&self.shared.world);
        let id = world.new_id();
        let record = world::ChannelRecord {
            id,
            guild_id,
            name: name.to_owned(),
            kind,
            parent_id: None,
            topic: None,
            position: 0,
            overwrites: Vec::new(),
            thread: None,
            last_message_id: None,
        };
        world.channels.insert(id, record);
        id
    }

    /// A role someone made in `guild_id` with `permissions`: at the top of the list (above
    /// the bot's role) when `above_bot`, else just below the bot's. Its id.
    pub fn add_role(&self, guild_id: u64, name: &str, permissions: u64, above_bot: bool) -> Option<u64> {
        let client_id = self.shared.config.client_id;
        let mut world = lock(&self.shared.world);
        let role_id = world.new_id();
        let guild = world.guilds.get_mut(&guild_id)?;
        let bot = guild.top_position_of_bot(client_id);
        let position = if above_bot {
            guild.roles.values().map(|role| role.position).max().unwrap_or(0) + 1
        } else {
            // Every role from the bot's up moves one higher, as Discord reorders.
            for role in guild.roles.values_mut().filter(|role| role.position >= bot.max(1)) {
                role.position += 1;
            }
            bot.max(1)
        };
        guild.roles.insert(role_id, world::RoleRecord { permissions, ..world::RoleRecord::plain(name, position) });
        Some(role_id)
    }

    /// The settings page's demo people in `guild_id` (which must be seeded): an admin (Manage
    /// Server), a plain member, and the admin of a second guild the bot is not in.
    pub fn seed_demo_people(&self, guild_id: u64) {
        let mut world = lock(&self.shared.world);
        let member = |user_id: u64, name: &str| world::MemberRecord {
            user_id,
            username: name.to_owned(),
            bot: false,
            roles: Vec::new(),
        };
        if let Some(guild) = world.guilds.get_mut(&guild_id) {
            guild.members.insert(demo::ADMIN, member(demo::ADMIN, "demo-admin"));
            guild.members.insert(demo::MEMBER, member(demo::MEMBER, "demo-member"));
            guild.member_permissions.insert(demo::ADMIN, world::DEFAULT_MEMBER_PERMISSIONS | world::MANAGE_GUILD);
        }
        let second = world::GuildRecord {
            id: demo::SECOND_GUILD,
            name: "Second Demo".to_owned(),
            owner_id: demo::OTHER_ADMIN,
            bot_permissions: 0,
            members_intent: true,
            roles: Default::default(),
            members: [(demo::OTHER_ADMIN, member(demo::OTHER_ADMIN, "second-admin"))].into_iter().collect(),
            bot_absent: true,
            member_permissions: Default::default(),
        };
        world.guilds.entry(demo::SECOND_GUILD).or_insert(second);
        world.demo_users = vec![
            world::DemoUser {
                id: demo::ADMIN,
                name: "demo-admin".into(),
                description: "Manage Server in the demo guild".into(),
            },
            world::DemoUser {
                id: demo::MEMBER,
                name: "demo-member".into(),
                description: "a member without Manage Server".into(),
            },
            world::DemoUser {
                id: demo::OTHER_ADMIN,
                name: "second-admin".into(),
                description: "owner of a second guild, without the bot".into(),
            },
        ];
    }

    /// Sets a member's guild-wide permissions (as a role change in Discord would).
    /// `author` (a member of the channel's guild) posts `content` in `channel_id`, as a person
    /// typing would; the message's id, or `None` for an unknown channel or member.
    pub fn post_as(&self, channel_id: u64, author: u64, content: &str, reply_to: Option<&str>) -> Option<String> {
        let message = routes::messages::post(&self.shared, channel_id, author, content, reply_to)?;
        message["id"].as_str().map(str::to_owned)
    }

    /// Plays an application with (or without) the Message Content intent.
    pub fn set_message_content_intent(&self, enabled: bool) {
        lock(&self.shared.world).message_content_intent = enabled;
    }

    pub fn set_member_permissions(&self, guild_id: u64, user_id: u64, permissions: u64) -> bool {
        let mut world = lock(&self.shared.world);
        match world.guilds.get_mut(&guild_id) {
            Some(guild) if guild.members.contains_key(&user_id) => {
                guild.member_permissions.insert(user_id, permissions);
                true
            }
            _ => false,
        }
    }

    /// Runs `change` on the world (add or remove members, inspect channels, ...).
    pub fn with_world<T>(&self, change: impl FnOnce(&mut World) -> T) -> T {
        change(&mut lock(&self.shared.world))
    }

    /// An interaction token as Discord would issue with an interaction; valid 15 minutes.
    pub fn issue_interaction_token(&self, application_id: u64) -> String {
        let mut world = lock(&self.shared.world);
        let channel_id = world.new_id();
        world.issue_interaction_token(application_id, channel_id)
    }

    /// Guilds, channels and messages, to [`Sandbox::restore`] after a restart.
    pub fn snapshot(&self) -> world::Snapshot {
        lock(&self.shared.world).snapshot()
    }

    pub fn restore(&self, snapshot: world::Snapshot) {
        lock(&self.shared.world).restore(snapshot);
    }

    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = faults;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.recorded).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.recorded).clear();
    }

    /// The Gateway's sessions: IDENTIFYs and RESUMEs so far, live connections, and payloads
    /// Discord would have refused.
    pub fn gateway_stats(&self) -> GatewayStats {
        lock(&self.shared.world).gateway.stats()
    }

    /// Every Gateway connection breaks off (the sessions stay resumable).
    pub fn gateway_drop(&self) {
        lock(&self.shared.world).gateway.drop_connections();
    }

    /// Every Gateway connection is asked to reconnect (op 7) and resume.
    pub fn gateway_reconnect(&self) {
        lock(&self.shared.world).gateway.request_reconnect();
    }

    /// Every Gateway session ends (op 9): the client identifies anew and gets a new READY.
    pub fn gateway_invalidate(&self) {
        lock(&self.shared.world).gateway.invalidate_sessions();
    }

    /// The shard count `GET /gateway/bot` recommends.
    pub fn set_recommended_shards(&self, shards: u64) {
        lock(&self.shared.world).gateway.recommended_shards = shards;
    }

    /// Whether request bodies are checked against the OpenAPI document.
    pub fn validates(&self) -> bool {
        self.shared.validators.is_some()
    }
}

/// The settings page's demo people.
pub mod demo {
    pub const ADMIN: u64 = 1_100_000_000_000_000_901;
    pub const MEMBER: u64 = 1_100_000_000_000_000_902;
    pub const OTHER_ADMIN: u64 = 1_100_000_000_000_000_903;
    pub const SECOND_GUILD: u64 = 1_100_000_000_000_000_200;
}

/// `PUT /sandbox/guilds/{guild_id}/members/{user_id}/permissions` with `{"permissions": "32"}`.
async fn set_member_permissions_route(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path((guild_id, user_id)): axum::extract::Path<(u64, u64)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let permissions = body.get("permissions").and_then(Value::as_str).and_then(|bits| bits.parse::<u64>().ok());
    let Some(permissions) = permissions else {
        return discord_error(StatusCode::BAD_REQUEST, 50035, "permissions: a string of digits", None);
    };
    let mut world = lock(&shared.world);
    match world.guilds.get_mut(&guild_id) {
        Some(guild) if guild.members.contains_key(&user_id) => {
            guild.member_permissions.insert(user_id, permissions);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => discord_error(StatusCode::NOT_FOUND, 10007, "Unknown Member", None),
    }
}

/// `PUT /sandbox/guilds/{guild_id}/bot-permissions` with `{"permissions": "0"}`: what the
/// bot may do there (0 makes every channel job fail with Missing Permissions).
async fn set_bot_permissions_route(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path(guild_id): axum::extract::Path<u64>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let permissions = body.get("permissions").and_then(Value::as_str).and_then(|bits| bits.parse::<u64>().ok());
    let Some(permissions) = permissions else {
        return discord_error(StatusCode::BAD_REQUEST, 50035, "permissions: a string of digits", None);
    };
    match lock(&shared.world).guilds.get_mut(&guild_id) {
        Some(guild) => {
            guild.bot_permissions = permissions;
            StatusCode::NO_CONTENT.into_response()
        }
        None => discord_error(StatusCode::NOT_FOUND, 10004, "Unknown Guild", None),
    }
}

/// Everything before a handler: recording, authentication, faults, rate limits, validation.
async fn gatekeeper(State(shared): State<Arc<Shared>>, matched: MatchedPath, request: Request, next: Next) -> Response {
    let template = matched.as_str().trim_start_matches("/api/v10").to_owned();
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().trim_start_matches("/api/v10").to_owned();
    let [authorization, audit_reason, user_agent, content_type] =
        ["authorization", "x-audit-log-reason", "user-agent", "content-type"]
            .map(|name| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned));
    let content_type = content_type.unwrap_or_default();
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 8 * 1024 * 1024).await.unwrap_or_default();
    let body_json: Option<Value> = if bytes.is_empty() {
        None
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        Some(Value::Object(url::form_urlencoded::parse(&bytes).map(|(k, v)| (k.into_owned(), json!(v))).collect()))
    } else {
        serde_json::from_slice(&bytes).ok()
    };

    let response = async {
        let webhook = template.starts_with("/webhooks/");
        // Leave Guild and Create DM are the bot's own calls; the other `/users/@me` routes
        // take a user's token.
        let bots_own = ["/users/@me/guilds/{guild_id}", "/users/@me/channels"];
        let oauth = template.starts_with("/oauth2/")
            || (template.starts_with("/users/@me") && !bots_own.contains(&template.as_str()));
        if !webhook && !oauth && authorization.as_deref() != Some(&format!("Bot {}", shared.config.bot_token)) {
            return discord_error(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized", None);
        }
        let faults = lock(&shared.faults).clone();
        if !faults.latency.is_zero() {
            tokio::time::sleep(faults.latency).await;
        }
        if faults.storm_requests > 0 {
            lock(&shared.faults).storm_requests -= 1;
            return limits::too_many(faults.storm_retry_after, false);
        }
        if faults.server_error_rate > 0.0 && fastrand::f64() < faults.server_error_rate {
            return discord_error(StatusCode::INTERNAL_SERVER_ERROR, 0, "500: Internal Server Error", None);
        }
        let major = limits::major_parameter(&path);
        let headers = match shared.limiter.admit(&method, &template, &major, !webhook) {
            Ok(headers) => headers,
            Err((retry_after, global)) => return limits::too_many(retry_after, global),
        };
        if !bytes.is_empty() && body_json.is_none() {
            return discord_error(StatusCode::BAD_REQUEST, 50109, "The request body contains invalid JSON.", None);
        }
        if let (Some(validators), Some(body)) = (&shared.validators, &body_json) {
            let problems = validators.problems(&method, &template, &normalise_for_document(body));
            if !problems.is_empty() {
                let errors = json!({ "_errors": problems.iter().map(|p| json!({ "code": "SCHEMA", "message": p })).collect::<Vec<_>>() });
                return discord_error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body", Some(errors));
            }
        }
        let request = Request::from_parts(parts, Body::from(bytes.clone()));
        let mut response = next.run(request).await;
        for (name, value) in headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        if faults.drop_rate > 0.0 && fastrand::f64() < faults.drop_rate {
            return dropped(response.status());
        }
        if faults.drop_once.as_ref().is_some_and(|(m, t)| *m == method && *t == template) {
            lock(&shared.faults).drop_once = None;
            return dropped(response.status());
        }
        response
    }
    .await;

    lock(&shared.recorded).push(Recorded {
        method,
        template,
        path,
        body: body_json,
        status: response.status().as_u16(),
        audit_reason,
        user_agent,
    });
    response
}

/// An answer whose body breaks off: the client sees the connection drop.
fn dropped(status: StatusCode) -> Response {
    let broken = futures_util::stream::once(async { Err::<axum::body::Bytes, _>(std::io::Error::other("dropped")) });
    Response::builder().status(status).body(Body::from_stream(broken)).unwrap_or_else(|_| status.into_response())
}

/// Discord documents permission bit sets as strings and accepts them so (twilight-model sends
/// strings), but the OpenAPI document types some of them as integers in requests:
/// permission-overwrite `allow`/`deny` and commands' `default_member_permissions`. Accept what
/// Discord accepts: those numeric strings are read as integers before validation.
fn normalise_for_document(body: &Value) -> Value {
    const BIT_SETS: [&str; 3] = ["allow", "deny", "default_member_permissions"];
    fn visit(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, field) in map.iter_mut() {
                    let number = field.as_str().and_then(|text| text.parse::<u64>().ok());
                    match number {
                        Some(number) if BIT_SETS.contains(&key.as_str()) => *field = json!(number),
                        _ => visit(field),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(visit),
            _ => {}
        }
    }
    let mut body = body.clone();
    visit(&mut body);
    body
}

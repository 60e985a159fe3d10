//! The tenant API over HTTP (its router, in process, on the embedded store and queue): keys,
//! subjects and channels, idempotent messages and syncs, links, settings with ETags, every
//! kind of bad input, and isolation between tenants walked over every documented operation.

mod behaviour;
mod connect;
mod document;
mod isolation;

use axum::{
    Router,
    body::Body,
    http::{Method, Request},
};
use guildbridge_core::{
    clock::ManualClock,
    discord::{
        custom_id::StateKey,
        rest::{BotToken, DiscordClient},
    },
    domain::{TargetPolicy, Tenant, TenantId, limits::RequestLimits},
    queue::embedded::EmbeddedQueue,
};
use guildbridge_host::wiring::Backends;
use guildbridge_web::api::{
    self, Api,
    connect::{ClientSecret, Connector},
};
use serde_json::Value;
use tower::ServiceExt;
use twilight_model::id::Id;

pub const GUILD_A: u64 = 1_200_000_000_000_000_001;
pub const GUILD_B: u64 = 1_200_000_000_000_000_002;
/// The Discord application the connect flow authorizes (the sandbox's default client).
pub const APPLICATION: u64 = 1_100_000_000_000_000_001;
pub const CLIENT_SECRET: &str = "sandbox-client-secret";
pub const STATE_SECRET: &[u8; 32] = b"tenant-api-tests-state-key-32byt";
/// The `Host` the API is reached at; the connect flow's redirect URI is built from it.
pub const HOST: &str = "web.guildbridge.test";
pub const BOT_TOKEN: &str = "tenant-api-tests-bot-token";

/// Two tenants, each with a key; connected to their own guilds unless made with
/// [`TwoTenants::unconnected`]. Tenant `club-a` may send people back to
/// `https://club-a.example`, `club-b` to `https://club-b.example`.
pub struct TwoTenants {
    pub backends: Backends,
    pub queue: EmbeddedQueue,
    pub router: Router,
    pub clock: ManualClock,
    pub key_a: String,
    pub key_b: String,
}

impl TwoTenants {
    pub async fn new() -> Self {
        Self::build("http://127.0.0.1:9/api/v10", true).await
    }

    /// Both connected, their Discord (the bot's) at `api_base`.
    pub async fn connected_to(api_base: &str) -> Self {
        Self::build(api_base, true).await
    }

    /// Neither tenant connected; the connect flow talks to the Discord at `api_base`.
    pub async fn unconnected(api_base: &str) -> Self {
        Self::build(api_base, false).await
    }

    async fn build(api_base: &str, connected: bool) -> Self {
        let (backends, queue) = Backends::in_memory().expect("backends");
        let clock = ManualClock::starting_at(1_800_000_000);
        let store = backends.store.as_ref();
        let mut keys = Vec::new();
        for (tenant, guild) in [("club-a", GUILD_A), ("club-b", GUILD_B)] {
            let tenant_id = TenantId::from(tenant);
            let origins = vec![format!("https://{tenant}.example")];
            let record = Tenant { tenant_id: tenant_id.clone(), allowed_origins: origins, created_at: 1 };
            store.create_tenant(&record).await.expect("tenant");
            if connected {
                store.connect(&tenant_id, Id::new(guild), "Club", 1).await.expect("connect");
            }
            keys.push(store.issue_api_key(&tenant_id, 1).await.expect("key").secret);
        }
        let router =
            api_router(&backends, std::sync::Arc::new(clock.clone()), api_base, TargetPolicy { allow_loopback: true });
        let key_b = keys.pop().expect("b");
        let key_a = keys.pop().expect("a");
        Self { backends, queue, router, clock, key_a, key_b }
    }
}

/// The tenant API over `backends`, its Discord (the connect flow's and the bot's) at
/// `discord_base`, its webhooks allowed to reach what `webhook_targets` allows.
pub fn api_router(
    backends: &Backends,
    clock: guildbridge_core::clock::SharedClock,
    discord_base: &str,
    webhook_targets: TargetPolicy,
) -> Router {
    limited_api_router(backends, clock, discord_base, webhook_targets, RequestLimits::default())
}

/// [`api_router`] with the given request budgets.
pub fn limited_api_router(
    backends: &Backends,
    clock: guildbridge_core::clock::SharedClock,
    discord_base: &str,
    webhook_targets: TargetPolicy,
    limits: RequestLimits,
) -> Router {
    let base = url::Url::parse(discord_base).expect("base");
    api::router(Api {
        store: backends.store.clone(),
        queue: backends.queue.clone(),
        clock,
        connect: connector(discord_base),
        webhook_targets,
        bot: DiscordClient::new(base, BotToken::new(BOT_TOKEN)).expect("bot"),
        limits,
    })
}

pub fn connector(api_base: &str) -> Connector {
    let base = url::Url::parse(api_base).expect("base");
    Connector {
        application_id: Id::new(APPLICATION),
        client_secret: ClientSecret::new(CLIENT_SECRET),
        state_key: StateKey::new(STATE_SECRET).expect("key"),
        authorize_url: url::Url::parse(&format!("{api_base}/oauth2/authorize")).expect("url"),
        public_url: None,
        discord: DiscordClient::new(base, BotToken::new("")).expect("client"),
    }
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// One request to `router`; `body` is sent as JSON when given.
pub async fn call(router: &Router, method: Method, path: &str, key: Option<&str>, body: Option<Value>) -> Answer {
    call_with(router, method, path, key, body.map(|b| b.to_string()), &[]).await
}

pub async fn call_with(
    router: &Router,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<String>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    if body.is_some() && !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
        request = request.header("content-type", "application/json");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(body.map(Body::from).unwrap_or_else(Body::empty)).expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    Answer { status, content_type, headers, text: String::from_utf8_lossy(&bytes).into_owned() }
}

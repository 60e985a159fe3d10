//! Discord's rate limits as the sandbox applies them: fixed-window buckets per route (shared
//! by routes with the same bucket hash) and top-level resource, a sliding global limit, and
//! Discord's headers on every answer.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;
use tokio::time::Instant;

/// A limit for one route (`METHOD /template`), in a named bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteLimit {
    pub route: String,
    pub bucket: String,
    pub limit: u32,
    pub window: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RateLimits {
    pub global_per_second: u32,
    pub default_limit: u32,
    pub default_window: Duration,
    pub routes: Vec<RouteLimit>,
}

impl RateLimits {
    /// Limits of the size Discord applies: 50 a second globally, 5 channel creations per
    /// 5 s per guild, 5 messages per 5 s per channel, and 10 per 10 s elsewhere.
    pub fn discord_like() -> Self {
        let route = |route: &str, bucket: &str, limit, seconds| RouteLimit {
            route: route.to_owned(),
            bucket: bucket.to_owned(),
            limit,
            window: Duration::from_secs(seconds),
        };
        Self {
            global_per_second: 50,
            default_limit: 10,
            default_window: Duration::from_secs(10),
            routes: vec![
                route("POST /guilds/{guild_id}/channels", "a06de2b1c7", 5, 5),
                route("POST /channels/{channel_id}/messages", "80c17d2f20", 5, 5),
                route("GET /guilds/{guild_id}/members", "b7e0a4c93d", 10, 10),
            ],
        }
    }

    /// Limits no test will reach.
    pub fn generous() -> Self {
        Self {
            global_per_second: 100_000,
            default_limit: 100_000,
            default_window: Duration::from_secs(1),
            routes: Vec::new(),
        }
    }
}

struct Window {
    started: Instant,
    count: u32,
}

#[derive(Default)]
struct State {
    windows: HashMap<String, Window>,
    global: VecDeque<Instant>,
}

pub(crate) struct Limiter {
    config: RateLimits,
    state: Mutex<State>,
}

/// The bucket's top-level resource, from the path.
pub(crate) fn major_parameter(path: &str) -> String {
    let mut parts = path.trim_start_matches('/').split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("guilds"), Some(id), _) => format!("guild:{id}"),
        (Some("channels"), Some(id), _) => format!("channel:{id}"),
        (Some("webhooks"), Some(id), Some(token)) => format!("webhook:{id}:{token}"),
        _ => String::new(),
    }
}

/// Discord's 429.
pub(crate) fn too_many(retry_after: Duration, global: bool) -> Response {
    let seconds = (retry_after.as_secs_f64() * 1000.0).ceil() / 1000.0;
    let body = json!({ "message": "You are being rate limited.", "retry_after": seconds, "global": global });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    };
    set("retry-after", retry_after.as_secs_f64().ceil().max(1.0).to_string());
    set("x-ratelimit-scope", if global { "global" } else { "user" }.to_owned());
    if global {
        set("x-ratelimit-global", "true".to_owned());
    }
    response
}

impl Limiter {
    pub(crate) fn new(config: RateLimits) -> Self {
        Self { config, state: Mutex::new(State::default()) }
    }

    /// Admits a request, returning the headers for its answer, or refuses it: how long to
    /// wait, and whether the global limit refused it.
    pub(crate) fn admit(
        &self,
        method: &str,
        template: &str,
        major: &str,
        global: bool,
    ) -> Result<Vec<(&'static str, String)>, (Duration, bool)> {
        let route = format!("{method} {template}");
        let rule = self.config.routes.iter().find(|rule| rule.route == route);
        let (bucket, limit, window) = match rule {
            Some(rule) => (rule.bucket.clone(), rule.limit, rule.window),
            None => (format!("{:x}", fxhash(&route)), self.config.default_limit, self.config.default_window),
        };
        let mut state = crate::lock(&self.state);
        let now = Instant::now();
        if global {
            while state.global.front().is_some_and(|at| now.duration_since(*at) >= Duration::from_secs(1)) {
                state.global.pop_front();
            }
            if state.global.len() >= self.config.global_per_second as usize {
                let wait =
                    state.global.front().map_or(Duration::ZERO, |oldest| (*oldest + Duration::from_secs(1)) - now);
                return Err((wait, true));
            }
        }
        let key = format!("{bucket}:{major}");
        let entry = state.windows.entry(key).or_insert(Window { started: now, count: 0 });
        if now.duration_since(entry.started) >= window {
            *entry = Window { started: now, count: 0 };
        }
        let reset_after = window.saturating_sub(now.duration_since(entry.started));
        if entry.count >= limit {
            return Err((reset_after, false));
        }
        entry.count += 1;
        let remaining = limit - entry.count;
        if global {
            state.global.push_back(now);
        }
        let reset_at = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + reset_after;
        Ok(vec![
            ("x-ratelimit-limit", limit.to_string()),
            ("x-ratelimit-remaining", remaining.to_string()),
            ("x-ratelimit-reset", format!("{:.3}", reset_at.as_secs_f64())),
            ("x-ratelimit-reset-after", format!("{:.3}", reset_after.as_secs_f64())),
            ("x-ratelimit-bucket", bucket),
        ])
    }
}

/// A stable, dependency-free hash for default bucket names.
fn fxhash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

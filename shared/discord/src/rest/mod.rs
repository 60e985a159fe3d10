//! Guildbridge's Discord REST client: reqwest with rustls, twilight-model types, Discord's
//! rate limits respected before sending, typed errors, and a deadline on every call.

mod dms;
mod error;
mod measure;
mod operations;
pub mod ratelimit;
mod threads;

use std::{sync::Arc, time::Duration};

use guildbridge_domain::error::Cause;

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde::{Serialize, de::DeserializeOwned};
use tokio::time::Instant;
use url::Url;

use self::error::InTransit;
use self::ratelimit::{InvalidRequestBudget, LimitHeaders, RateLimiter, RouteKey};
pub use self::{
    error::{DiscordError, ErrorBody, PermanentKind, codes},
    operations::*,
    threads::*,
};

/// Discord's own OAuth2 authorization page (the bot install and the settings page's login).
pub const DISCORD_AUTHORIZE_URL: &str = "https://discord.com/oauth2/authorize";
/// `User-Agent` in the form Discord asks bots to use.
pub const USER_AGENT: &str =
    concat!("DiscordBot (https://github.com/guildbridge/guildbridge, ", env!("CARGO_PKG_VERSION"), ")");
/// Discord's limit on `X-Audit-Log-Reason`, after URL-encoding.
pub const MAX_AUDIT_REASON: usize = twilight_validate::request::AUDIT_REASON_MAX;
/// Attempts for idempotent requests that meet 5xx, timeouts or dropped connections.
const MAX_ATTEMPTS: u32 = 6;
/// 429s one call waits out before handing the work back: each one spends the invalid-request
/// budget, so a route that keeps refusing is not hammered.
pub const MAX_RATE_LIMITED_RETRIES: u32 = 3;
/// The shortest wait after a 429, whatever Discord says (`retry_after: 0` would spin).
pub const MIN_RETRY_AFTER: Duration = Duration::from_millis(250);
/// The longest wait any rate-limit header is believed for.
pub const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(3600);

/// The bot token. Never printed.
#[derive(Clone)]
pub struct BotToken(Arc<str>);

impl BotToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(Arc::from(token.into()))
    }

    /// The token itself, for the one place it leaves the process outside a request: the
    /// Gateway's IDENTIFY. Never for logs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for BotToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BotToken(<redacted>)")
    }
}

/// How a request authenticates.
#[derive(Clone)]
pub(crate) enum Auth {
    Bot,
    /// Interaction webhooks carry their token in the path.
    None,
    Bearer(String),
    /// OAuth2 token endpoint: the application's id and secret.
    Basic(String, String),
}

/// Names the scheme, never the credentials.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::Bot => "Bot(<redacted>)",
            Auth::None => "None",
            Auth::Bearer(_) => "Bearer(<redacted>)",
            Auth::Basic(..) => "Basic(<redacted>)",
        })
    }
}

/// One request: where it goes, how it is limited, whether repeating it is safe.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub method: Method,
    pub path: String,
    pub key: RouteKey,
    pub auth: Auth,
}

impl Route {
    /// `template` is the path with `{names}`; `major` the top-level resource it is limited by.
    pub fn new(method: Method, template: &str, path: String, major: String) -> Self {
        let global = !template.starts_with("/webhooks/");
        let key = RouteKey { template: format!("{method} {template}"), major, global };
        Self { method, path, key, auth: Auth::Bot }
    }

    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// POST creates; repeating it after an unclear failure could create twice.
    fn idempotent(&self) -> bool {
        self.method != Method::POST
    }
}

#[derive(Debug, Clone)]
pub struct DiscordClient {
    http: reqwest::Client,
    base: Url,
    token: BotToken,
    limiter: Arc<RateLimiter>,
    budget: Arc<InvalidRequestBudget>,
}

impl DiscordClient {
    pub fn new(base: Url, token: BotToken) -> Result<Self, DiscordError> {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| DiscordError::Transient(Cause::new(e.without_url())))?;
        Ok(Self {
            http,
            base,
            token,
            limiter: Arc::new(RateLimiter::default()),
            budget: Arc::new(InvalidRequestBudget::discord_default()),
        })
    }

    /// Keeps this client to `per_second` of the bot's global 50 requests a second: every
    /// process that holds the bot token takes its share, so the fleet stays under Discord's
    /// limit without a shared counter.
    pub fn with_global_share(mut self, per_second: usize) -> Self {
        self.limiter = Arc::new(RateLimiter::with_global_per_second(per_second));
        self
    }

    /// Replaces the invalid-request budget (tests use a small one).
    pub fn with_invalid_request_budget(mut self, budget: InvalidRequestBudget) -> Self {
        self.budget = Arc::new(budget);
        self
    }

    fn url(&self, path: &str) -> Result<Url, DiscordError> {
        let base = self.base.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}{path}")).map_err(|e| DiscordError::Decode(format!("bad URL: {e}")))
    }

    /// Sends a request with a JSON body (or none) and reads a JSON answer (`()` for 204).
    pub(crate) async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        route: Route,
        body: Option<&B>,
        reason: Option<&str>,
        deadline: Instant,
    ) -> Result<T, DiscordError> {
        let body = body.map(|b| serde_json::to_vec(b)).transpose().map_err(|e| DiscordError::Decode(e.to_string()))?;
        self.send_raw(route, body.map(|b| ("application/json", b)), reason, deadline).await
    }

    /// Sends a form-encoded body (OAuth2 token endpoint).
    pub(crate) async fn send_form<T: DeserializeOwned>(
        &self,
        route: Route,
        form: &[(&str, &str)],
        deadline: Instant,
    ) -> Result<T, DiscordError> {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish().into_bytes();
        self.send_raw(route, Some(("application/x-www-form-urlencoded", body)), None, deadline).await
    }

    async fn send_raw<T: DeserializeOwned>(
        &self,
        route: Route,
        body: Option<(&'static str, Vec<u8>)>,
        reason: Option<&str>,
        deadline: Instant,
    ) -> Result<T, DiscordError> {
        let url = self.url(&route.path)?;
        let mut attempt = 0u32;
        let mut rate_limited = 0u32;
        loop {
            attempt += 1;
            if let Some(retry_after) = self.budget.exhausted() {
                return Err(DiscordError::InvalidRequestBudget { retry_after });
            }
            let asked = Instant::now();
            let permit = self.limiter.acquire(&route.key, deadline).await;
            measure::waited(asked.elapsed());
            let permit = permit.map_err(|after| DiscordError::RetryAfter { after })?;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(DiscordError::RetryAfter { after: Duration::from_secs(1) });
            }
            let mut request =
                self.http.request(route.method.clone(), url.clone()).timeout(remaining.min(Duration::from_secs(15)));
            request = match &route.auth {
                Auth::Bot => request.header("authorization", format!("Bot {}", self.token.0)),
                Auth::None => request,
                Auth::Bearer(token) => request.bearer_auth(token),
                Auth::Basic(id, secret) => request.basic_auth(id, Some(secret)),
            };
            if let Some(reason) = reason {
                request = request.header("x-audit-log-reason", audit_reason(reason));
            }
            if let Some((content_type, bytes)) = &body {
                request = request.header("content-type", *content_type).body(bytes.clone());
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) => {
                    drop(permit);
                    measure::failed(&route.key);
                    let what = if error.is_timeout() { "timed out" } else { "connection failed" };
                    if self.may_retry(&route, attempt, deadline).await {
                        continue;
                    }
                    return Err(InTransit::failed(&route, what, error));
                }
            };
            let status = response.status();
            let headers = response.headers().clone();
            permit.answered(&route.key, &limit_headers(&headers));
            measure::answered(&route.key, status.as_u16());
            let bytes = match response.bytes().await {
                Ok(bytes) => bytes,
                Err(_) if self.may_retry(&route, attempt, deadline).await => continue,
                // Route templates only: the URL of an interaction webhook holds its token.
                Err(error) => {
                    return Err(InTransit::failed(&route, "reading the answer", error));
                }
            };
            match status {
                s if s.is_success() => {
                    let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
                    return serde_json::from_slice(bytes)
                        .map_err(|e| DiscordError::Decode(format!("{}: {e}", route.key.template)));
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    self.budget.record();
                    let (retry_after, global) = too_many_requests(&headers, &bytes);
                    measure::rate_limited(&headers, global);
                    self.limiter.limited(&route.key, retry_after, global);
                    rate_limited += 1;
                    if rate_limited > MAX_RATE_LIMITED_RETRIES || Instant::now() + retry_after > deadline {
                        return Err(DiscordError::RetryAfter { after: retry_after });
                    }
                }
                s if s.is_server_error() => {
                    if self.may_retry(&route, attempt, deadline).await {
                        continue;
                    }
                    return Err(InTransit::answered(&route, s));
                }
                s => {
                    if matches!(s, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                        self.budget.record();
                    }
                    let body: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
                    return Err(DiscordError::from_status(s.as_u16(), body));
                }
            }
        }
    }

    /// Backs off (exponentially, with full jitter) when another attempt is safe and fits.
    async fn may_retry(&self, route: &Route, attempt: u32, deadline: Instant) -> bool {
        if !route.idempotent() || attempt >= MAX_ATTEMPTS {
            return false;
        }
        let cap = Duration::from_millis(50 << attempt.min(6));
        let wait = cap.mul_f64(fastrand::f64());
        if Instant::now() + wait >= deadline {
            return false;
        }
        tokio::time::sleep(wait).await;
        true
    }
}

fn header<T: std::str::FromStr>(headers: &HeaderMap, name: &str) -> Option<T> {
    headers.get(name)?.to_str().ok()?.parse().ok()
}

/// Seconds from a rate-limit header or body, believed only when finite and not negative,
/// and capped: a proxy's garbage must not crash the process (`from_secs_f64` panics on
/// NaN, negative and huge values) or park the work for years.
pub fn rate_limit_seconds(seconds: f64) -> Option<Duration> {
    (seconds.is_finite() && seconds >= 0.0)
        .then(|| Duration::from_secs_f64(seconds.min(MAX_RATE_LIMIT_WAIT.as_secs_f64())))
}

pub fn limit_headers(headers: &HeaderMap) -> LimitHeaders {
    LimitHeaders {
        bucket: header(headers, "x-ratelimit-bucket"),
        remaining: header(headers, "x-ratelimit-remaining"),
        reset_after: header::<f64>(headers, "x-ratelimit-reset-after").and_then(rate_limit_seconds),
    }
}

/// A 429's wait (body `retry_after`, else `Retry-After`, never under [`MIN_RETRY_AFTER`]) and
/// whether it is global.
pub fn too_many_requests(headers: &HeaderMap, body: &[u8]) -> (Duration, bool) {
    let parsed: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let wait = parsed["retry_after"]
        .as_f64()
        .and_then(rate_limit_seconds)
        .or_else(|| header::<f64>(headers, "retry-after").and_then(rate_limit_seconds))
        .unwrap_or(Duration::from_secs(1))
        .max(MIN_RETRY_AFTER);
    let global = parsed["global"].as_bool().unwrap_or(false)
        || header::<String>(headers, "x-ratelimit-global").is_some_and(|v| v == "true")
        || header::<String>(headers, "x-ratelimit-scope").is_some_and(|v| v == "global");
    (wait, global)
}

/// URL-encodes the reason, whole characters at a time, within Discord's 512 characters.
pub fn audit_reason(reason: &str) -> String {
    let mut encoded = String::new();
    let mut buffer = [0u8; 4];
    for ch in reason.chars() {
        let piece: String = url::form_urlencoded::byte_serialize(ch.encode_utf8(&mut buffer).as_bytes()).collect();
        let piece = if piece == "+" { "%20".to_owned() } else { piece };
        if encoded.len() + piece.len() > MAX_AUDIT_REASON {
            break;
        }
        encoded.push_str(&piece);
    }
    encoded
}

#[cfg(test)]
mod tests;

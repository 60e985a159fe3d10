//! Guildbridge's Discord REST client: reqwest with rustls, twilight-model types, Discord's
//! rate limits respected before sending, typed errors, and a deadline on every call.

mod error;
mod operations;
pub mod ratelimit;

use std::{sync::Arc, time::Duration};

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde::{Serialize, de::DeserializeOwned};
use tokio::time::Instant;
use url::Url;

use self::ratelimit::{InvalidRequestBudget, LimitHeaders, RateLimiter, RouteKey};
pub use self::{
    error::{DiscordError, ErrorBody, PermanentKind, codes},
    operations::*,
};

/// `User-Agent` in the form Discord asks bots to use.
pub const USER_AGENT: &str =
    concat!("DiscordBot (https://github.com/guildbridge/guildbridge, ", env!("CARGO_PKG_VERSION"), ")");
/// Discord's limit on `X-Audit-Log-Reason`, after URL-encoding.
pub const MAX_AUDIT_REASON: usize = 512;
/// Attempts for idempotent requests that meet 5xx, timeouts or dropped connections.
const MAX_ATTEMPTS: u32 = 6;

/// The bot token. Never printed.
#[derive(Clone)]
pub struct BotToken(Arc<str>);

impl BotToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(Arc::from(token.into()))
    }
}

impl std::fmt::Debug for BotToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BotToken(<redacted>)")
    }
}

/// How a request authenticates.
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    Bot,
    /// Interaction webhooks carry their token in the path.
    None,
    Bearer(String),
    /// OAuth2 token endpoint: the application's id and secret.
    Basic(String, String),
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
            .map_err(|e| DiscordError::Transient(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            base,
            token,
            limiter: Arc::new(RateLimiter::default()),
            budget: Arc::new(InvalidRequestBudget::discord_default()),
        })
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
        loop {
            attempt += 1;
            if let Some(retry_after) = self.budget.exhausted() {
                return Err(DiscordError::InvalidRequestBudget { retry_after });
            }
            self.limiter.acquire(&route.key, deadline).await.map_err(|after| DiscordError::RetryAfter { after })?;
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
                    self.limiter.release(&route.key);
                    let what = if error.is_timeout() { "timed out" } else { "connection failed" };
                    if self.may_retry(&route, attempt, deadline).await {
                        continue;
                    }
                    return Err(DiscordError::Transient(format!("{} {what}", route.key.template)));
                }
            };
            let status = response.status();
            let headers = response.headers().clone();
            self.limiter.update(&route.key, &limit_headers(&headers));
            let bytes = match response.bytes().await {
                Ok(bytes) => bytes,
                Err(_) if self.may_retry(&route, attempt, deadline).await => continue,
                Err(error) => return Err(DiscordError::Transient(format!("reading the answer: {error}"))),
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
                    self.limiter.limited(&route.key, retry_after, global);
                    if Instant::now() + retry_after > deadline {
                        return Err(DiscordError::RetryAfter { after: retry_after });
                    }
                }
                s if s.is_server_error() => {
                    if self.may_retry(&route, attempt, deadline).await {
                        continue;
                    }
                    return Err(DiscordError::Transient(format!("{} answered {s}", route.key.template)));
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

fn limit_headers(headers: &HeaderMap) -> LimitHeaders {
    LimitHeaders {
        bucket: header(headers, "x-ratelimit-bucket"),
        remaining: header(headers, "x-ratelimit-remaining"),
        reset_after: header::<f64>(headers, "x-ratelimit-reset-after").map(Duration::from_secs_f64),
    }
}

/// A 429's wait (body `retry_after`, else `Retry-After`) and whether it is global.
fn too_many_requests(headers: &HeaderMap, body: &[u8]) -> (Duration, bool) {
    let parsed: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let seconds = parsed["retry_after"]
        .as_f64()
        .or_else(|| header::<f64>(headers, "retry-after"))
        .unwrap_or(1.0)
        .clamp(0.0, 3600.0);
    let global = parsed["global"].as_bool().unwrap_or(false)
        || header::<String>(headers, "x-ratelimit-global").is_some_and(|v| v == "true")
        || header::<String>(headers, "x-ratelimit-scope").is_some_and(|v| v == "global");
    (Duration::from_secs_f64(seconds), global)
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
mod tests {
    use super::*;

    #[test]
    fn audit_reasons_are_encoded_and_capped() {
        assert_eq!(audit_reason("event ended: Spa 24h"), "event%20ended%3A%20Spa%2024h");
        let long = audit_reason(&"é".repeat(400));
        assert!(long.len() <= MAX_AUDIT_REASON);
        assert!(long.ends_with("%A9"), "never ends inside an escape: {}", &long[long.len() - 6..]);
    }

    #[test]
    fn user_agent_has_discords_form() {
        assert!(USER_AGENT.starts_with("DiscordBot (https://"), "{USER_AGENT}");
        assert!(USER_AGENT.ends_with(')'));
        assert!(!format!("{:?}", BotToken::new("secret-token")).contains("secret"));
    }
}

//! Configuration read once from the environment into typed structs.
//!
//! Every variable name used anywhere in the project is declared here, so a grep finds all of
//! them. Reading collects every problem before failing, so a misconfigured deployment is
//! fixed in one round trip instead of one variable at a time.

use std::{collections::HashMap, fmt, time::Duration};

use ed25519_dalek::VerifyingKey;
use twilight_model::id::{Id, marker::ApplicationMarker};
use url::Url;

use crate::{
    discord::{custom_id::StateKey, signature::DEFAULT_MAX_AGE},
    domain::{RetrySchedule, TargetPolicy},
};

/// Hex-encoded Ed25519 public key of the Discord application.
pub const DISCORD_PUBLIC_KEY: &str = "DISCORD_PUBLIC_KEY";
/// The Discord application's id (a snowflake).
pub const DISCORD_APPLICATION_ID: &str = "DISCORD_APPLICATION_ID";
/// The bot token. A secret: never logged.
pub const DISCORD_BOT_TOKEN: &str = "DISCORD_BOT_TOKEN";
/// Base URL of Discord's REST API; the sandbox replaces it in tests and locally.
pub const DISCORD_API_BASE_URL: &str = "DISCORD_API_BASE_URL";
/// Base URL of the hosted settings page.
pub const SETTINGS_URL: &str = "SETTINGS_URL";
/// The DynamoDB table holding every mapping.
pub const TABLE_NAME: &str = "TABLE_NAME";
/// SQS queue for channel jobs.
pub const CHANNEL_QUEUE_URL: &str = "CHANNEL_QUEUE_URL";
/// SQS queue for member sync jobs.
pub const SYNC_QUEUE_URL: &str = "SYNC_QUEUE_URL";
/// `true` lets webhook endpoints be plain http on loopback (the local stack and tests only).
pub const WEBHOOK_ALLOW_LOOPBACK: &str = "WEBHOOK_ALLOW_LOOPBACK";
/// API requests a tenant may make per minute (default 1200), and of them POSTs that make the
/// bot or the webhook sender reach out (default 120).
pub const TENANT_REQUESTS_PER_MINUTE: &str = "TENANT_REQUESTS_PER_MINUTE";
pub const TENANT_OUTBOUND_REQUESTS_PER_MINUTE: &str = "TENANT_OUTBOUND_REQUESTS_PER_MINUTE";
/// Seconds between delivery tries (`5,300,1800,...`); Standard Webhooks' schedule unless set.
pub const WEBHOOK_RETRY_SCHEDULE: &str = "WEBHOOK_RETRY_SCHEDULE";
/// The platform webhook deliveries' FIFO queue.
pub const WEBHOOK_QUEUE_URL: &str = "WEBHOOK_QUEUE_URL";
/// Receives after which SQS dead-letters a job; must equal the queue's redrive `maxReceiveCount`.
pub const MAX_RECEIVES: &str = "MAX_RECEIVES";
/// Seconds after which a channel claim is taken to belong to a crashed attempt (longer than
/// the worker's timeout).
pub const CLAIM_STALE_SECS: &str = "CLAIM_STALE_SECS";
/// Secret (at least 32 bytes) that signs state carried in component `custom_id`s.
pub const STATE_SIGNING_KEY: &str = "STATE_SIGNING_KEY";
/// The Discord application's OAuth2 client secret (the connect flow's code exchange). A
/// secret: never logged.
pub const DISCORD_CLIENT_SECRET: &str = "DISCORD_CLIENT_SECRET";
/// The `web` function's public base URL (its Function URL or custom domain). Unset, the
/// connect flow's redirect URI is built from the request's `Host`.
pub const WEB_PUBLIC_URL: &str = "WEB_PUBLIC_URL";
/// ARN of the Secrets Manager secret holding the secret variables (see `secrets`).
pub const SECRETS_ARN: &str = "SECRETS_ARN";
/// How far (in seconds, either way) a signed request's timestamp may be from now.
pub const SIGNATURE_MAX_AGE_SECS: &str = "SIGNATURE_MAX_AGE_SECS";

/// How long one channel-worker invocation may run (the Lambda function's timeout; the local
/// stack gives each job the same). `infra/template.yaml` must agree; a test checks it.
pub const CHANNEL_WORKER_TIMEOUT: Duration = Duration::from_secs(60);
/// The sync worker's: a run longer than this continues in a follow-up job.
pub const SYNC_WORKER_TIMEOUT: Duration = Duration::from_secs(300);
/// The webhook worker's: a batch of deliveries of at most 10 s each.
pub const WEBHOOK_WORKER_TIMEOUT: Duration = Duration::from_secs(60);
/// Deliveries per webhook-worker invocation: every one of them fits the timeout even when
/// each endpoint takes its whole 10 s (a test ties this to the template and the timeout).
pub const WEBHOOK_WORKER_BATCH: u32 = 5;
pub use crate::channels::DEFAULT_CLAIM_STALE_AFTER;

/// Discord's production API; used when `DISCORD_API_BASE_URL` is not set.
pub const DEFAULT_DISCORD_API_BASE_URL: &str = "https://discord.com/api/v10";

/// Where configuration values come from: the process environment in production, a map in tests.
pub trait EnvSource {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl EnvSource for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

/// One problem with one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarProblem {
    Missing { name: &'static str },
    Malformed { name: &'static str, reason: String },
}

impl VarProblem {
    /// The variable at fault.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Missing { name } | Self::Malformed { name, .. } => name,
        }
    }
}

impl fmt::Display for VarProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { name } => write!(f, "{name} is not set"),
            Self::Malformed { name, reason } => write!(f, "{name} is malformed: {reason}"),
        }
    }
}

/// Every problem found while reading a configuration. Values are never included: some are secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ConfigError {
    pub problems: Vec<VarProblem>,
}

/// Reads variables one by one, remembering every problem until [`EnvReader::finish`].
struct EnvReader<'a> {
    source: &'a dyn EnvSource,
    problems: Vec<VarProblem>,
}

impl<'a> EnvReader<'a> {
    fn new(source: &'a dyn EnvSource) -> Self {
        Self { source, problems: Vec::new() }
    }

    /// An optional variable; empty counts as unset.
    fn optional<T>(&mut self, name: &'static str, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let raw = self.source.get(name).filter(|value| !value.trim().is_empty())?;
        match parse(raw.trim()) {
            Ok(value) => Some(value),
            Err(reason) => {
                self.problems.push(VarProblem::Malformed { name, reason });
                None
            }
        }
    }

    fn required<T>(&mut self, name: &'static str, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        if self.source.get(name).is_none_or(|value| value.trim().is_empty()) {
            self.problems.push(VarProblem::Missing { name });
            return None;
        }
        self.optional(name, parse)
    }

    fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() { Ok(()) } else { Err(ConfigError { problems: self.problems }) }
    }
}

/// Configuration of the interactions endpoint.
#[derive(Clone)]
pub struct InteractionsConfig {
    pub public_key: VerifyingKey,
    pub settings_url: Url,
    pub state_key: StateKey,
    pub signature_max_age: Duration,
}

impl fmt::Debug for InteractionsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InteractionsConfig")
            .field("public_key", &hex::encode(self.public_key.as_bytes()))
            .field("settings_url", &self.settings_url.as_str())
            .field("state_key", &"<redacted>")
            .field("signature_max_age", &self.signature_max_age)
            .finish()
    }
}

impl InteractionsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnv)
    }

    pub fn from_source(source: &dyn EnvSource) -> Result<Self, ConfigError> {
        let mut env = EnvReader::new(source);
        let public_key = env.required(DISCORD_PUBLIC_KEY, parse_public_key);
        let settings_url = env.required(SETTINGS_URL, parse_base_url);
        let state_key = env.required(STATE_SIGNING_KEY, parse_state_key);
        let signature_max_age = env
            .optional(SIGNATURE_MAX_AGE_SECS, |raw| {
                // Zero refuses every request; more than an hour accepts replays of old captures.
                let age = parse_seconds(raw)?;
                (1..=3600).contains(&age.as_secs()).then_some(age).ok_or_else(|| "1 to 3600 seconds".to_owned())
            })
            .unwrap_or(DEFAULT_MAX_AGE);
        env.finish()?;
        match (public_key, settings_url, state_key) {
            (Some(public_key), Some(settings_url), Some(state_key)) => {
                Ok(Self { public_key, settings_url, state_key, signature_max_age })
            }
            // finish() reports every variable that produced no value, so this arm is unreachable
            // in practice; it still answers with an error rather than panicking.
            _ => Err(ConfigError { problems: Vec::new() }),
        }
    }
}

/// Where the store lives in AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    pub table_name: String,
}

impl StoreConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnv)
    }

    pub fn from_source(source: &dyn EnvSource) -> Result<Self, ConfigError> {
        let mut env = EnvReader::new(source);
        let table_name = env.required(TABLE_NAME, parse_table_name);
        env.finish()?;
        table_name.map(|table_name| Self { table_name }).ok_or(ConfigError { problems: Vec::new() })
    }
}

/// DynamoDB's table naming rules: 3 to 255 of `a-z A-Z 0-9 _ - .`.
fn parse_table_name(raw: &str) -> Result<String, String> {
    let valid_chars = raw.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if (3..=255).contains(&raw.len()) && valid_chars {
        Ok(raw.to_owned())
    } else {
        Err("3 to 255 characters of letters, digits, '_', '-' and '.'".to_owned())
    }
}

/// How workers reach Discord's REST API.
#[derive(Clone)]
pub struct DiscordConfig {
    pub api_base_url: Url,
    pub bot_token: crate::discord::rest::BotToken,
}

impl fmt::Debug for DiscordConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiscordConfig").field("api_base_url", &self.api_base_url.as_str()).finish_non_exhaustive()
    }
}

impl DiscordConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnv)
    }

    pub fn from_source(source: &dyn EnvSource) -> Result<Self, ConfigError> {
        let mut env = EnvReader::new(source);
        let bot_token = env.required(DISCORD_BOT_TOKEN, |raw| Ok(crate::discord::rest::BotToken::new(raw)));
        let default_base = parse_base_url(DEFAULT_DISCORD_API_BASE_URL);
        let api_base_url = env.optional(DISCORD_API_BASE_URL, parse_base_url).or_else(|| default_base.ok());
        env.finish()?;
        match (api_base_url, bot_token) {
            (Some(api_base_url), Some(bot_token)) => Ok(Self { api_base_url, bot_token }),
            _ => Err(ConfigError { problems: Vec::new() }),
        }
    }
}

impl ConfigError {
    /// Several configurations' problems as one sentence (every variable named at once).
    /// Every problem of several sources, as one error.
    pub fn join(errors: impl IntoIterator<Item = Option<ConfigError>>) -> ConfigError {
        ConfigError { problems: errors.into_iter().flatten().flat_map(|error| error.problems).collect() }
    }
}

/// The SQS queues jobs go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    pub channel_queue_url: String,
    pub sync_queue_url: String,
    pub webhook_queue_url: String,
}

impl QueueConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnv)
    }

    pub fn from_source(source: &dyn EnvSource) -> Result<Self, ConfigError> {
        let mut env = EnvReader::new(source);
        let channel = env.required(CHANNEL_QUEUE_URL, parse_queue_url);
        let sync = env.required(SYNC_QUEUE_URL, parse_queue_url);
        let webhook = env.required(WEBHOOK_QUEUE_URL, parse_queue_url);
        env.finish()?;
        match (channel, sync, webhook) {
            (Some(channel_queue_url), Some(sync_queue_url), Some(webhook_queue_url)) => {
                Ok(Self { channel_queue_url, sync_queue_url, webhook_queue_url })
            }
            _ => Err(ConfigError { problems: Vec::new() }),
        }
    }
}

fn parse_queue_url(raw: &str) -> Result<String, String> {
    parse_base_url(raw)?;
    if raw.ends_with(".fifo") {
        Ok(raw.to_owned())
    } else {
        Err("Guildbridge's queues are FIFO queues (.fifo)".to_owned())
    }
}

/// How a worker runs its jobs.
#[derive(Clone)]
pub struct WorkerConfig {
    /// The bot's application (its bot user has the same id).
    pub application_id: Id<ApplicationMarker>,
    pub max_receives: u32,
    pub claim_stale_after: Duration,
    /// Signs the state of the buttons a worker puts on its answers ("Retry").
    pub state_key: StateKey,
}

impl fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("application_id", &self.application_id)
            .field("max_receives", &self.max_receives)
            .field("claim_stale_after", &self.claim_stale_after)
            .field("state_key", &"<redacted>")
            .finish()
    }
}

impl WorkerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnv)
    }

    pub fn from_source(source: &dyn EnvSource) -> Result<Self, ConfigError> {
        let mut env = EnvReader::new(source);
        let application_id = env.required(DISCORD_APPLICATION_ID, parse_id);
        let state_key = env.required(STATE_SIGNING_KEY, parse_state_key);
        let max_receives = env
            .optional(MAX_RECEIVES, |raw| {
                raw.parse::<u32>().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| "1 to 1000".to_owned())
            })
            .unwrap_or(crate::worker::DEFAULT_MAX_RECEIVES);
        let claim_stale_after = env
            .optional(CLAIM_STALE_SECS, |raw| {
                // A take-over before the worker's own timeout could overlap a live attempt.
                let stale = parse_seconds(raw)?;
                if stale <= CHANNEL_WORKER_TIMEOUT {
                    return Err(format!(
                        "more than the channel worker's timeout ({} seconds), or a take-over could overlap a \
                         live attempt",
                        CHANNEL_WORKER_TIMEOUT.as_secs()
                    ));
                }
                Ok(stale)
            })
            .unwrap_or(DEFAULT_CLAIM_STALE_AFTER);
        env.finish()?;
        match (application_id, state_key) {
            (Some(application_id), Some(state_key)) => {
                Ok(Self { application_id, max_receives, claim_stale_after, state_key })
            }
            _ => Err(ConfigError { problems: Vec::new() }),
        }
    }
}

/// Configuration of the `web` function: what the connect flow needs beyond the store and queue.
#[derive(Clone)]
pub struct WebConfig {
    pub application_id: Id<ApplicationMarker>,
    pub client_secret: String,
    /// Signs the connect flow's `state`.
    pub state_key: StateKey,
    pub api_base_url: Url,
    pub public_url: Option<Url>,
    /// The bot's token, for the settings page's pickers (without it they take ids).
    pub bot_token: Option<crate::discord::rest::BotToken>,
    /// Where tenants' webhook endpoints may point.
    pub webhook_targets: TargetPolicy,
    /// Each tenant's API request budgets.
    pub request_limits: crate::domain::limits::RequestLimits,
}

impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("application_id", &self.application_id)
            .field("api_base_url", &self.api_base_url.as_str())
            .field("public_url", &self.public_url.as_ref().map(Url::as_str))
            .finish_non_exhaustive()
    }
}

impl WebConfig {
    pub fn from_source(source: &dyn EnvSource) -> Result<Self, ConfigError> {
        let mut env = EnvReader::new(source);
        let application_id = env.required(DISCORD_APPLICATION_ID, parse_id);
        let client_secret = env.required(DISCORD_CLIENT_SECRET, |raw| Ok(raw.to_owned()));
        let state_key = env.required(STATE_SIGNING_KEY, parse_state_key);
        let default_base = parse_base_url(DEFAULT_DISCORD_API_BASE_URL);
        let api_base_url = env.optional(DISCORD_API_BASE_URL, parse_base_url).or_else(|| default_base.ok());
        let public_url = env.optional(WEB_PUBLIC_URL, parse_base_url);
        let bot_token = env.optional(DISCORD_BOT_TOKEN, |raw| Ok(crate::discord::rest::BotToken::new(raw)));
        let allow_loopback = env.optional(WEBHOOK_ALLOW_LOOPBACK, parse_bool).unwrap_or(false);
        let defaults = crate::domain::limits::RequestLimits::default();
        let request_limits = crate::domain::limits::RequestLimits {
            per_minute: env.optional(TENANT_REQUESTS_PER_MINUTE, parse_limit).unwrap_or(defaults.per_minute),
            outbound_per_minute: env
                .optional(TENANT_OUTBOUND_REQUESTS_PER_MINUTE, parse_limit)
                .unwrap_or(defaults.outbound_per_minute),
        };
        env.finish()?;
        match (application_id, client_secret, state_key, api_base_url) {
            (Some(application_id), Some(client_secret), Some(state_key), Some(api_base_url)) => Ok(Self {
                application_id,
                client_secret,
                state_key,
                api_base_url,
                public_url,
                bot_token,
                webhook_targets: TargetPolicy { allow_loopback },
                request_limits,
            }),
            _ => Err(ConfigError { problems: Vec::new() }),
        }
    }

    /// Where people authorize the bot: Discord's own page in production; the API base's
    /// `/oauth2/authorize` when the base is a sandbox (which plays that page too).
    pub fn authorize_url(&self) -> Url {
        let on_discord = self.api_base_url.as_str() == DEFAULT_DISCORD_API_BASE_URL;
        let page = if on_discord {
            crate::discord::rest::DISCORD_AUTHORIZE_URL.to_owned()
        } else {
            format!("{}/oauth2/authorize", self.api_base_url.as_str().trim_end_matches('/'))
        };
        Url::parse(&page).unwrap_or_else(|_| self.api_base_url.clone())
    }
}

/// `true` or `false`.
/// A positive whole number (a budget).
fn parse_limit(raw: &str) -> Result<std::num::NonZeroU32, String> {
    raw.trim().parse::<std::num::NonZeroU32>().map_err(|_| "a whole number above 0".to_owned())
}

pub fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err("true or false".to_owned()),
    }
}

/// How the webhook worker delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub targets: TargetPolicy,
    pub schedule: RetrySchedule,
}

impl WebhookConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&ProcessEnv)
    }

    pub fn from_source(source: &dyn EnvSource) -> Result<Self, ConfigError> {
        let mut env = EnvReader::new(source);
        let allow_loopback = env.optional(WEBHOOK_ALLOW_LOOPBACK, parse_bool).unwrap_or(false);
        let schedule = env.optional(WEBHOOK_RETRY_SCHEDULE, |raw| {
            RetrySchedule::parse(raw).ok_or_else(|| "seconds between tries, comma-separated (5,300,1800)".to_owned())
        });
        env.finish()?;
        Ok(Self { targets: TargetPolicy { allow_loopback }, schedule: schedule.unwrap_or_default() })
    }
}

/// A Discord snowflake id: a positive integer.
pub fn parse_id<T>(raw: &str) -> Result<Id<T>, String> {
    crate::domain::snowflake(raw).ok_or_else(|| "a Discord snowflake id".to_owned())
}

fn parse_state_key(raw: &str) -> Result<StateKey, String> {
    StateKey::new(raw.as_bytes()).map_err(|e| e.to_string())
}

/// A 32-byte Ed25519 public key in hex, as the Discord developer portal shows it.
pub fn parse_public_key(raw: &str) -> Result<VerifyingKey, String> {
    let bytes = hex::decode(raw).map_err(|_| "expected 64 hex characters".to_owned())?;
    let bytes: [u8; 32] =
        bytes.try_into().map_err(|bytes: Vec<u8>| format!("expected 32 bytes, got {}", bytes.len()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not a valid Ed25519 public key".to_owned())
}

/// An absolute http(s) URL; a trailing slash is dropped so paths join predictably.
pub fn parse_base_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim_end_matches('/')).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("expected an http or https URL, got scheme {}", url.scheme()));
    }
    if url.cannot_be_a_base() {
        return Err("expected a base URL".to_owned());
    }
    Ok(url)
}

fn parse_seconds(raw: &str) -> Result<Duration, String> {
    raw.parse::<u64>().map(Duration::from_secs).map_err(|_| "expected a whole number of seconds".to_owned())
}

/// The webhook queue's redrive limit: more receives than any delivery schedule tries
/// (the template's `WebhookQueue` says the same; a test compares them).
pub const WEBHOOK_MAX_RECEIVES: u32 = 12;

#[cfg(test)]
mod tests;

//! Discord's Webhook Events (`/events`): signed like interactions, answered 204. A PING is
//! the Developer Portal checking the URL; `APPLICATION_AUTHORIZED` for a guild install
//! (integration type 0) confirms the bot is in that guild. Discord retries an event for up
//! to 10 minutes, so each is remembered for longer and a repeat changes nothing.

use std::{sync::Arc, time::Duration};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use twilight_model::id::{Id, marker::GuildMarker};

use super::Rejection;
use crate::{
    clock::SharedClock,
    discord::signature::SignatureVerifier,
    store::{DomainStore, FirstOrSeen, StoreError},
};

/// Discord's webhook event types (`type` of the body).
const PING: u8 = 0;
const EVENT: u8 = 1;
/// A guild install, as opposed to a user install (1).
const GUILD_INSTALL: u8 = 0;
/// Longer than Discord's 10 minutes of retries.
const REMEMBER_FOR: Duration = Duration::from_secs(30 * 60);
const SCOPE: &str = "discord-webhook-event";

/// The body's envelope (not in twilight-model, which has no webhook events).
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default)]
    event: Option<Event>,
}

#[derive(Debug, Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    timestamp: String,
    #[serde(default)]
    data: Option<Authorized>,
}

/// The fields of `APPLICATION_AUTHORIZED` Guildbridge reads.
#[derive(Debug, Deserialize)]
struct Authorized {
    #[serde(default)]
    integration_type: Option<u8>,
    #[serde(default)]
    guild: Option<GuildId>,
}

#[derive(Debug, Deserialize)]
struct GuildId {
    id: Id<GuildMarker>,
}

/// What became of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    Ping,
    /// The bot's presence in the guild is recorded.
    BotConfirmed(Id<GuildMarker>),
    /// Seen before (Discord retrying): nothing done again.
    Repeated,
    /// An event Guildbridge does not act on.
    Ignored(String),
}

/// Everything `/events` needs, built once at init.
#[derive(Clone)]
pub struct WebhookEvents {
    verifier: SignatureVerifier,
    store: Arc<dyn DomainStore>,
    clock: SharedClock,
}

impl std::fmt::Debug for WebhookEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEvents").finish_non_exhaustive()
    }
}

impl WebhookEvents {
    pub fn new(verifier: SignatureVerifier, store: Arc<dyn DomainStore>, clock: SharedClock) -> Self {
        Self { verifier, store, clock }
    }

    /// Verifies the exact bytes received, then acts on the event. A store failure is a
    /// `Busy` error: Discord retries, and the repeat is safe.
    pub async fn handle(
        &self,
        signature: Option<&[u8]>,
        timestamp: Option<&[u8]>,
        body: &[u8],
    ) -> Result<EventOutcome, EventError> {
        self.verifier
            .verify(signature, timestamp, body)
            .map_err(|e| EventError::Rejected(Rejection::Unauthorized(e)))?;
        let envelope: Envelope = serde_json::from_slice(body)
            .map_err(|_| EventError::Rejected(Rejection::Malformed("body is not a Discord webhook event".into())))?;
        let event = match (envelope.kind, envelope.event) {
            (PING, _) => return Ok(EventOutcome::Ping),
            (EVENT, Some(event)) => event,
            (kind, _) => return Ok(EventOutcome::Ignored(format!("webhook type {kind}"))),
        };
        let guild = match (&event.kind[..], &event.data) {
            (
                "APPLICATION_AUTHORIZED",
                Some(Authorized { integration_type: Some(GUILD_INSTALL), guild: Some(guild) }),
            ) => guild.id,
            _ => return Ok(EventOutcome::Ignored(event.kind)),
        };
        let now = self.clock.now();
        let key = hex::encode(Sha256::digest(format!("{}:{}:{guild}", event.kind, event.timestamp).as_bytes()));
        match self.store.remember(SCOPE, &key, serde_json::json!(true), now, REMEMBER_FOR).await? {
            FirstOrSeen::Seen(_) => return Ok(EventOutcome::Repeated),
            FirstOrSeen::First => {}
        }
        self.store.confirm_bot_present(guild, now).await?;
        Ok(EventOutcome::BotConfirmed(guild))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error(transparent)]
    Rejected(Rejection),
    #[error(transparent)]
    Busy(#[from] StoreError),
}

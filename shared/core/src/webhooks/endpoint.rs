//! A tenant's endpoint as the tenant API and the settings page change it: set (a new one gets
//! its secret, shown once), rotate (the old secret co-signs for a day), resume after a pause,
//! and a test event. Every change is a conditional write on the endpoint's version.

use crate::domain::error::Cause;
use std::collections::BTreeMap;

use twilight_model::id::{Id, marker::GuildMarker};

use crate::{
    domain::{EventDraft, EventType, Job, ROTATION_OVERLAP, SigningSecret, TargetPolicy, TenantId, WebhookEndpoint},
    outbox::new_copy_id,
    queue::{JobQueue, QueueError},
    store::{StoreError, WebhookStore},
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Field -> what is wrong with it.
    #[error("invalid endpoint: {0:?}")]
    Invalid(BTreeMap<String, String>),
    #[error("no webhook endpoint")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

fn new_secret() -> Result<SigningSecret, EndpointError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| StoreError::Retryable(Cause::described("no randomness")))?;
    Ok(SigningSecret::from_bytes(&bytes))
}

/// The URL and event names checked: every problem named at once.
pub fn check(targets: TargetPolicy, url: &str, events: &[String]) -> Result<Vec<EventType>, EndpointError> {
    let mut errors = BTreeMap::new();
    if let Err(why) = targets.check(url) {
        errors.insert("url".to_owned(), why);
    }
    let mut kinds = Vec::new();
    for (at, name) in events.iter().enumerate() {
        match EventType::parse(name).filter(|kind| *kind != EventType::Test) {
            Some(kind) if !kinds.contains(&kind) => kinds.push(kind),
            Some(_) => {}
            None => {
                errors.insert(format!("events[{at}]"), format!("{name:?} is not an event type"));
            }
        }
    }
    if events.is_empty() {
        errors.insert("events".to_owned(), "at least one event type".to_owned());
    }
    if !errors.is_empty() {
        return Err(EndpointError::Invalid(errors));
    }
    kinds.sort();
    Ok(kinds)
}

/// Sets the URL and events; `true` when the endpoint is new (its secret is to be shown).
pub async fn set(
    store: &dyn WebhookStore,
    targets: TargetPolicy,
    tenant_id: &TenantId,
    url: &str,
    events: &[String],
    now: u64,
) -> Result<(WebhookEndpoint, bool), EndpointError> {
    let events = check(targets, url, events)?;
    match store.webhook(tenant_id).await? {
        Some(existing) => {
            let updated = WebhookEndpoint { url: url.to_owned(), events, updated_at: now, ..existing.clone() };
            store.replace_webhook(&updated, &existing).await?;
            Ok((updated, false))
        }
        None => {
            let endpoint = WebhookEndpoint {
                tenant_id: tenant_id.clone(),
                url: url.to_owned(),
                events,
                secret: new_secret()?,
                previous_secret: None,
                previous_until: None,
                paused: None,
                updated_at: now,
                version: 0,
            };
            store.put_webhook(&endpoint).await?;
            Ok((endpoint, true))
        }
    }
}

/// A new secret; the old one keeps signing beside it for [`ROTATION_OVERLAP`].
pub async fn rotate(
    store: &dyn WebhookStore,
    tenant_id: &TenantId,
    now: u64,
) -> Result<WebhookEndpoint, EndpointError> {
    let existing = store.webhook(tenant_id).await?.ok_or(EndpointError::NotFound)?;
    let rotated = WebhookEndpoint {
        secret: new_secret()?,
        previous_secret: Some(existing.secret.clone()),
        previous_until: Some(now + ROTATION_OVERLAP.as_secs()),
        updated_at: now,
        ..existing.clone()
    };
    store.replace_webhook(&rotated, &existing).await?;
    Ok(rotated)
}

/// Deliveries start again (a running endpoint is left as it is).
pub async fn resume(
    store: &dyn WebhookStore,
    tenant_id: &TenantId,
    now: u64,
) -> Result<WebhookEndpoint, EndpointError> {
    let existing = store.webhook(tenant_id).await?.ok_or(EndpointError::NotFound)?;
    if existing.paused.is_none() {
        return Ok(existing);
    }
    let resumed = WebhookEndpoint { paused: None, updated_at: now, ..existing.clone() };
    store.replace_webhook(&resumed, &existing).await?;
    Ok(resumed)
}

/// Queues a `webhook.test` event (whatever the endpoint subscribes to); its id.
pub async fn send_test(
    store: &dyn WebhookStore,
    queue: &dyn JobQueue,
    tenant_id: &TenantId,
    guild_id: Id<GuildMarker>,
    now: u64,
) -> Result<String, EndpointError> {
    if store.webhook(tenant_id).await?.is_none() {
        return Err(EndpointError::NotFound);
    }
    let draft = EventDraft::new(EventType::Test, format!("test:{}", new_copy_id()), now, serde_json::json!({}));
    let event = draft.addressed(tenant_id, guild_id);
    let event_id = event.id.clone();
    let job = Job::DeliverWebhook { guild_id, tenant_id: tenant_id.clone(), event, copy: new_copy_id(), retry: None };
    queue.enqueue(&job).await?;
    Ok(event_id)
}

//! Where domain events go: the [`Outbox`] addresses each to the guild's tenant and queues a
//! delivery job for every event its webhook endpoint subscribes to. Use cases emit through
//! the [`EventSink`] port; the webhook worker (`webhooks`) delivers.

use crate::domain::error::Report;
use std::sync::Arc;

use async_trait::async_trait;
use twilight_model::id::{Id, marker::GuildMarker};

use crate::{
    domain::{EventDraft, EventType, Job, QueueKind},
    queue::{JobQueue, QueueError},
    store::{DeadLetterRecord, DeadLetterStore, DomainStore, JobLedger, JobRecord, JobRecordStore, StoreError},
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Hands events on for delivery.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Queues a delivery of each draft the guild's tenant subscribes to; how many were queued.
    /// Emitting the same happening again is harmless: its event id is the same, and the
    /// delivery deduplicates on it.
    async fn emit(&self, guild_id: Id<GuildMarker>, drafts: Vec<EventDraft>) -> Result<usize, EmitError>;
}

/// Events go nowhere (tests of use cases that do not look at them).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

#[async_trait]
impl EventSink for NoEvents {
    async fn emit(&self, _: Id<GuildMarker>, _: Vec<EventDraft>) -> Result<usize, EmitError> {
        Ok(0)
    }
}

/// Events to the tenant's webhook queue.
#[derive(Clone)]
pub struct Outbox {
    store: Arc<dyn DomainStore>,
    queue: Arc<dyn JobQueue>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").finish_non_exhaustive()
    }
}

impl Outbox {
    pub fn new(store: Arc<dyn DomainStore>, queue: Arc<dyn JobQueue>) -> Self {
        Self { store, queue }
    }
}

/// A copy's id: unique to one emission.
pub fn new_copy_id() -> String {
    let mut random = [0u8; 12];
    if getrandom::fill(&mut random).is_err() {
        random[..8].copy_from_slice(&fastrand::u64(..).to_le_bytes());
    }
    hex::encode(random)
}

#[async_trait]
impl EventSink for Outbox {
    /// 2 GetItem (the guild's tenant, its endpoint) + 1 SendMessage per event wanted.
    async fn emit(&self, guild_id: Id<GuildMarker>, drafts: Vec<EventDraft>) -> Result<usize, EmitError> {
        if drafts.is_empty() {
            return Ok(0);
        }
        let Some(tenant_id) = self.store.tenant_of(guild_id).await? else {
            return Ok(0);
        };
        let Some(endpoint) = self.store.webhook(&tenant_id).await? else {
            return Ok(0);
        };
        let mut queued = 0;
        for draft in drafts.into_iter().filter(|draft| endpoint.wants(draft.kind)) {
            let job = Job::DeliverWebhook {
                guild_id,
                tenant_id: tenant_id.clone(),
                event: draft.addressed(&tenant_id, guild_id),
                copy: new_copy_id(),
                retry: None,
            };
            self.queue.enqueue(&job).await?;
            queued += 1;
        }
        Ok(queued)
    }
}

/// Emits and logs a failure: for events that follow work already done and recorded, where
/// failing the job would redo nothing (the failure is in the logs and the job's record).
pub async fn emit_logged(sink: &dyn EventSink, guild_id: Id<GuildMarker>, drafts: Vec<EventDraft>) {
    if let Err(error) = sink.emit(guild_id, drafts).await {
        tracing::warn!(error = %Report(&error), %guild_id, "events not queued for delivery");
    }
}

/// The workers' ledger, announcing each dead letter as `job.dead_lettered` once it is
/// recorded (a webhook delivery's own dead letter is not announced: it could not be
/// delivered either).
pub struct AnnouncingLedger {
    ledger: Arc<dyn JobLedger>,
    events: Arc<dyn EventSink>,
}

impl AnnouncingLedger {
    pub fn new(ledger: Arc<dyn JobLedger>, events: Arc<dyn EventSink>) -> Self {
        Self { ledger, events }
    }
}

impl std::fmt::Debug for AnnouncingLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnnouncingLedger").finish_non_exhaustive()
    }
}

#[async_trait]
impl DeadLetterStore for AnnouncingLedger {
    async fn record_dead_letter(
        &self,
        guild_id: Option<Id<GuildMarker>>,
        letter: &DeadLetterRecord,
    ) -> Result<(), StoreError> {
        self.ledger.record_dead_letter(guild_id, letter).await?;
        if let (Some(guild_id), false) = (guild_id, letter.queue == QueueKind::Webhook.as_str()) {
            let data = serde_json::json!({
                "dead_letter_id": letter.id(),
                "queue": letter.queue,
                "job_type": letter.job_type,
                "reason": letter.reason,
                "attempts": letter.attempts,
            });
            let mut draft = EventDraft::new(EventType::JobDeadLettered, letter.id(), letter.failed_at, data);
            draft.subject = subject_of(&letter.body);
            emit_logged(self.events.as_ref(), guild_id, vec![draft]).await;
        }
        Ok(())
    }

    async fn dead_letter(&self, guild_id: Id<GuildMarker>, id: &str) -> Result<Option<DeadLetterRecord>, StoreError> {
        self.ledger.dead_letter(guild_id, id).await
    }

    async fn dead_letters(
        &self,
        guild_id: Option<Id<GuildMarker>>,
        limit: u32,
    ) -> Result<Vec<DeadLetterRecord>, StoreError> {
        self.ledger.dead_letters(guild_id, limit).await
    }

    async fn count_dead_letters(&self, guild_id: Id<GuildMarker>) -> Result<u64, StoreError> {
        self.ledger.count_dead_letters(guild_id).await
    }
}

#[async_trait]
impl JobRecordStore for AnnouncingLedger {
    async fn record_job_queued(&self, guild_id: Id<GuildMarker>, record: &JobRecord) -> Result<(), StoreError> {
        self.ledger.record_job_queued(guild_id, record).await
    }

    async fn record_job(&self, guild_id: Id<GuildMarker>, record: &JobRecord) -> Result<(), StoreError> {
        self.ledger.record_job(guild_id, record).await
    }

    async fn job_record(&self, guild_id: Id<GuildMarker>, id: &str) -> Result<Option<JobRecord>, StoreError> {
        self.ledger.job_record(guild_id, id).await
    }
}

/// The subject a job body names, when it names one.
fn subject_of(body: &str) -> Option<crate::domain::SubjectRef> {
    match Job::from_body(body).ok()? {
        Job::CreateChannels { subject, .. }
        | Job::ArchiveChannel { subject, .. }
        | Job::SendMessage { subject, .. }
        | Job::UpdateSubjectAccess { subject, .. }
        | Job::CreateInvite { subject, .. }
        | Job::SyncTeam { subject, .. }
        | Job::UpdateBoard { subject, .. } => Some(subject),
        _ => None,
    }
}

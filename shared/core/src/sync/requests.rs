//! Asking for a member sync: the one way the `/sync` command, the schedule and the platform
//! start one. It touches only the store and the queue; the worker does the Discord work.

use std::time::Duration;

use twilight_model::id::{
    Id,
    marker::{GuildMarker, InteractionMarker},
};

use crate::{
    domain::{InteractionReply, Job, RequestId, RunId, SyncKind, SyncLease, SyncOutcome},
    queue::{JobQueue, QueueError},
    store::{DomainStore, StoreError},
};

/// How long a person's request holds the lease before its worker takes it over with the
/// full lease: should the answer be cut off between taking it and enqueueing the job, the
/// guild is free again in two minutes, not fifteen.
pub const REQUEST_LEASE: Duration = Duration::from_secs(120);

/// What names a sync request. One request is one run, however often it is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncRequest {
    /// `/sync`, by the interaction that asked.
    Interaction(Id<InteractionMarker>),
    /// The schedule, by the due time.
    Due(u64),
    /// The platform, by its own request id.
    Platform(String),
}

impl SyncRequest {
    pub fn request_id(&self) -> RequestId {
        RequestId::new(match self {
            SyncRequest::Interaction(id) => format!("interaction:{id}"),
            SyncRequest::Due(due_at) => format!("due:{due_at}"),
            SyncRequest::Platform(id) => format!("platform:{id}"),
        })
    }

    fn kind(&self) -> SyncKind {
        match self {
            SyncRequest::Interaction(_) => SyncKind::Manual,
            SyncRequest::Due(_) => SyncKind::Scheduled,
            SyncRequest::Platform(_) => SyncKind::Webhook,
        }
    }

    /// Someone waits for an answer: they hear "already running" now, so the request takes the
    /// lease itself. The schedule does not: it enqueues before advancing the due time, and
    /// its worker takes the lease (or finds another run holding it).
    fn holds_lease(&self) -> bool {
        !matches!(self, SyncRequest::Due(_))
    }
}

/// What asking did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncRequested {
    /// The job is queued; its worker answers `reply`, if any.
    Queued { run_id: RunId },
    /// This very request was made before (a repeated delivery): nothing new was done.
    AlreadyRequested { run_id: RunId },
    /// Another run holds the guild's lease.
    Busy(SyncLease),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncRequestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Asks for a sync of `guild_id`. When the job cannot be queued, a lease this request took is
/// given back (its run ends failed), so the guild is not blocked by a sync that never ran.
pub async fn request_sync(
    store: &dyn DomainStore,
    queue: &dyn JobQueue,
    guild_id: Id<GuildMarker>,
    request: SyncRequest,
    reply: Option<InteractionReply>,
    now: u64,
) -> Result<SyncRequested, SyncRequestError> {
    let request_id = request.request_id();
    let run_id = request_id.run_id();
    let kind = request.kind();
    let run = if request.holds_lease() {
        match store.start_run(guild_id, &run_id, kind, now, REQUEST_LEASE).await {
            Ok(run) => Some(run),
            Err(StoreError::LeaseHeld(lease)) if lease.run_id != run_id => return Ok(SyncRequested::Busy(lease)),
            Err(StoreError::LeaseHeld(_) | StoreError::AlreadyExists(_)) => {
                return Ok(SyncRequested::AlreadyRequested { run_id });
            }
            Err(error) => return Err(error.into()),
        }
    } else {
        None
    };
    let job = Job::SyncMembers { guild_id, kind, request_id, reply, after: None };
    if let Err(error) = queue.enqueue(&job).await {
        if let Some(run) = run {
            let failed = SyncOutcome::Failed("the sync could not be queued".to_owned());
            if let Err(release) = store.finish_run(guild_id, &run, run.counts, failed, now).await {
                tracing::warn!(error = %release, "the sync lease stays until it expires");
            }
        }
        return Err(error.into());
    }
    Ok(SyncRequested::Queued { run_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        queue::embedded::EmbeddedQueue,
        store::{Store, SyncRunStore, embedded::EmbeddedItems},
    };

    #[tokio::test]
    async fn one_request_is_one_run_and_another_request_meanwhile_hears_it_is_busy() {
        let store = Store::new(EmbeddedItems::in_memory().expect("store"));
        let queue = EmbeddedQueue::in_memory().expect("queue");
        let guild = Id::new(10);
        let first = SyncRequest::Interaction(Id::new(1));
        let asked = request_sync(&store, &queue, guild, first.clone(), None, 1_000).await.expect("asked");
        assert_eq!(asked, SyncRequested::Queued { run_id: "interaction:1".into() });
        let again = request_sync(&store, &queue, guild, first, None, 1_001).await.expect("asked again");
        assert_eq!(again, SyncRequested::AlreadyRequested { run_id: "interaction:1".into() });
        let other = request_sync(&store, &queue, guild, SyncRequest::Interaction(Id::new(2)), None, 1_002).await;
        assert!(matches!(other, Ok(SyncRequested::Busy(lease)) if lease.run_id == "interaction:1"));
        assert_eq!(queue.len(crate::domain::QueueKind::Sync).await, Ok(1), "one job for one request");
        let run = store.run(guild, &"interaction:1".into()).await.expect("read").expect("run");
        assert_eq!(run.kind, SyncKind::Manual);

        // The schedule takes no lease: its worker finds the running sync.
        let due = request_sync(&store, &queue, guild, SyncRequest::Due(5_000), None, 1_003).await.expect("due");
        assert_eq!(due, SyncRequested::Queued { run_id: "due:5000".into() });
    }
}

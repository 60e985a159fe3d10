//! Sync runs of a guild, under a lease so that one runs at a time.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

use super::{
    Store, StoreError, from_item,
    items::{Condition, ItemError, ItemStore, Query, SortKeyRange, TxWrite},
    schema::{Index, attr, keys},
    to_item,
};
use guildbridge_domain::{RunId, SyncCounts, SyncKind, SyncLease, SyncOutcome, SyncRun};

#[async_trait]
pub trait SyncRunStore: Send + Sync {
    /// Takes the guild's sync lease until `now + lease.as_secs()` and records a running run.
    /// While another run's lease is live, refused with `LeaseHeld` naming that run; a run id
    /// that was started before (whenever) is refused with `AlreadyExists`.
    async fn start_run(
        &self,
        guild_id: Id<GuildMarker>,
        run_id: &RunId,
        kind: SyncKind,
        now: u64,
        lease: Duration,
    ) -> Result<SyncRun, StoreError>;
    /// Saves progress and extends the lease; `Conflict` when the lease is no longer this run's.
    async fn checkpoint(
        &self,
        guild_id: Id<GuildMarker>,
        run: &SyncRun,
        cursor: Id<UserMarker>,
        counts: SyncCounts,
        now: u64,
        lease: Duration,
    ) -> Result<SyncRun, StoreError>;
    /// Records the outcome and releases the lease (if this run still holds it).
    async fn finish_run(
        &self,
        guild_id: Id<GuildMarker>,
        run: &SyncRun,
        counts: SyncCounts,
        outcome: SyncOutcome,
        now: u64,
    ) -> Result<SyncRun, StoreError>;
    /// One run, by its id alone: however late a request's job is delivered again, it finds
    /// the run that request started.
    async fn run(&self, guild_id: Id<GuildMarker>, run_id: &RunId) -> Result<Option<SyncRun>, StoreError>;
    /// Takes the lease back for a run that is still `Running` (a continuation, or a retry
    /// after a crash): granted when the lease is free, expired, or already this run's.
    async fn resume_run(
        &self,
        guild_id: Id<GuildMarker>,
        run: &SyncRun,
        now: u64,
        lease: Duration,
    ) -> Result<(), StoreError>;
    /// The live lease, if any.
    async fn lease(&self, guild_id: Id<GuildMarker>, now: u64) -> Result<Option<SyncLease>, StoreError>;
    /// Most recent runs first.
    async fn recent_runs(&self, guild_id: Id<GuildMarker>, limit: u32) -> Result<Vec<SyncRun>, StoreError>;
}

const RUN_ID: &str = "run_id";

fn run_item(guild_id: Id<GuildMarker>, run: &SyncRun) -> Result<super::items::Item, StoreError> {
    to_item(&keys::sync_run(guild_id.get(), run.started_at, &run.run_id), run, &[])
}

/// Where a run's start time is found from its id (the run's own key sorts by time).
#[derive(serde::Serialize, serde::Deserialize)]
struct RunPointer {
    run_id: RunId,
    started_at: u64,
}

fn lease_item(guild_id: Id<GuildMarker>, lease: &SyncLease) -> Result<super::items::Item, StoreError> {
    to_item(&keys::sync_lease(guild_id.get()), lease, &[(attr::EXPIRES_AT, json!(lease.expires_at))])
}

#[async_trait]
impl<I: ItemStore> SyncRunStore for Store<I> {
    /// 1 TransactWriteItems (lease + run + run id); + 1 GetItem when the lease is held.
    async fn start_run(
        &self,
        guild_id: Id<GuildMarker>,
        run_id: &RunId,
        kind: SyncKind,
        now: u64,
        lease: Duration,
    ) -> Result<SyncRun, StoreError> {
        let lease = SyncLease { run_id: run_id.to_owned(), started_at: now, expires_at: now + lease.as_secs() };
        let run = SyncRun {
            run_id: run_id.to_owned(),
            kind,
            started_at: now,
            finished_at: None,
            counts: SyncCounts::default(),
            outcome: SyncOutcome::Running,
            cursor: None,
        };
        // An expired lease counts as free: its run crashed or overran.
        let free = Condition::NotExists.or(Condition::LessThan(attr::EXPIRES_AT, json!(now + 1)));
        let writes = vec![
            TxWrite::Put { item: lease_item(guild_id, &lease)?, condition: Some(free) },
            TxWrite::Put { item: run_item(guild_id, &run)?, condition: Some(Condition::NotExists) },
            TxWrite::Put {
                item: to_item(
                    &keys::sync_run_id(guild_id.get(), run_id),
                    &RunPointer { run_id: run_id.to_owned(), started_at: now },
                    &[],
                )?,
                condition: Some(Condition::NotExists),
            },
        ];
        match self.items.transact(writes).await {
            Err(ItemError::TransactionCancelled(failed)) if failed.contains(&2) => {
                Err(StoreError::AlreadyExists("a sync run with this id"))
            }
            Err(ItemError::TransactionCancelled(failed)) if failed.contains(&0) => {
                match self.lease(guild_id, now).await? {
                    Some(held) => Err(StoreError::LeaseHeld(held)),
                    None => Err(StoreError::Conflict("the lease changed hands; try again")),
                }
            }
            Err(ItemError::TransactionCancelled(_)) => Err(StoreError::AlreadyExists("a sync run with this id")),
            other => other.map(|()| run).map_err(StoreError::from),
        }
    }

    /// 1 TransactWriteItems (lease + run).
    async fn checkpoint(
        &self,
        guild_id: Id<GuildMarker>,
        run: &SyncRun,
        cursor: Id<UserMarker>,
        counts: SyncCounts,
        now: u64,
        lease: Duration,
    ) -> Result<SyncRun, StoreError> {
        let lease =
            SyncLease { run_id: run.run_id.clone(), started_at: run.started_at, expires_at: now + lease.as_secs() };
        let updated = SyncRun { cursor: Some(cursor), counts, ..run.clone() };
        let writes = vec![
            TxWrite::Put {
                item: lease_item(guild_id, &lease)?,
                condition: Some(Condition::Equals(RUN_ID, json!(run.run_id))),
            },
            TxWrite::Put { item: run_item(guild_id, &updated)?, condition: Some(Condition::Exists) },
        ];
        match self.items.transact(writes).await {
            Err(ItemError::TransactionCancelled(_)) => Err(StoreError::Conflict("this run no longer holds the lease")),
            other => other.map(|()| updated).map_err(StoreError::from),
        }
    }

    /// 1 PutItem (run) + 1 conditional DeleteItem (lease).
    async fn finish_run(
        &self,
        guild_id: Id<GuildMarker>,
        run: &SyncRun,
        counts: SyncCounts,
        outcome: SyncOutcome,
        now: u64,
    ) -> Result<SyncRun, StoreError> {
        let finished = SyncRun { counts, outcome, finished_at: Some(now), ..run.clone() };
        self.items.put(run_item(guild_id, &finished)?, None).await?;
        let ours = Condition::Equals(RUN_ID, json!(run.run_id));
        match self.items.delete(&keys::sync_lease(guild_id.get()), Some(ours)).await {
            // The lease expired and another run took it: that one is not ours to release.
            Err(ItemError::ConditionFailed) => Ok(finished),
            other => other.map(|()| finished).map_err(StoreError::from),
        }
    }

    /// 2 GetItem (the id's pointer, then the run).
    async fn run(&self, guild_id: Id<GuildMarker>, run_id: &RunId) -> Result<Option<SyncRun>, StoreError> {
        let Some(pointer) = self.items.get(&keys::sync_run_id(guild_id.get(), run_id)).await? else {
            return Ok(None);
        };
        let pointer: RunPointer = from_item(pointer)?;
        self.items.get(&keys::sync_run(guild_id.get(), pointer.started_at, run_id)).await?.map(from_item).transpose()
    }

    /// 1 conditional PutItem; + 1 GetItem when another run holds the lease.
    async fn resume_run(
        &self,
        guild_id: Id<GuildMarker>,
        run: &SyncRun,
        now: u64,
        lease: Duration,
    ) -> Result<(), StoreError> {
        let lease =
            SyncLease { run_id: run.run_id.clone(), started_at: run.started_at, expires_at: now + lease.as_secs() };
        let free = Condition::NotExists
            .or(Condition::LessThan(attr::EXPIRES_AT, json!(now + 1)))
            .or(Condition::Equals(RUN_ID, json!(run.run_id)));
        match self.items.put(lease_item(guild_id, &lease)?, Some(free)).await {
            Err(ItemError::ConditionFailed) => match self.lease(guild_id, now).await? {
                Some(held) => Err(StoreError::LeaseHeld(held)),
                None => Err(StoreError::Conflict("the lease changed hands; try again")),
            },
            other => Ok(other?),
        }
    }

    /// 1 GetItem.
    async fn lease(&self, guild_id: Id<GuildMarker>, now: u64) -> Result<Option<SyncLease>, StoreError> {
        let lease: Option<SyncLease> =
            self.items.get(&keys::sync_lease(guild_id.get())).await?.map(from_item).transpose()?;
        Ok(lease.filter(|lease| lease.expires_at > now))
    }

    /// 1 Query.
    async fn recent_runs(&self, guild_id: Id<GuildMarker>, limit: u32) -> Result<Vec<SyncRun>, StoreError> {
        let query = Query::new(
            Index::Table,
            keys::guild(guild_id.get()),
            SortKeyRange::BeginsWith(keys::SYNC_RUN_PREFIX.into()),
        )
        .descending()
        .limit(limit.max(1));
        self.items.query(&query).await?.items.into_iter().map(from_item).collect()
    }
}

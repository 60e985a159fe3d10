//! The sync worker: pages through a guild's members at Discord's pace, writing each page as
//! it arrives (memory stays one page), matching links, granting or removing the member role,
//! marking who left, and recording the run. One run per request; one run per guild at a
//! time (the lease); a guild too large for one invocation continues in a follow-on job from
//! its checkpoint, nothing counted twice.

use crate::domain::error::Report;
use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use tokio::time::Instant;
use twilight_model::id::{
    Id,
    marker::{ApplicationMarker, GuildMarker, UserMarker},
};

use super::LEASE;
use crate::{
    discord::rest::{DiscordClient, DiscordError, MAX_MEMBERS_PAGE, MessageBody},
    domain::{
        EventDraft, EventType, GuildSettings, InteractionReply, Job, RequestId, RunId, SyncCounts, SyncKind, SyncLease,
        SyncOutcome, SyncRun,
    },
    outbox::{EventSink, NoEvents},
    queue::JobQueue,
    store::{DomainStore, StoreError},
    worker::{Attempt, JobHandler, JobOutcome, edit_deferred_answer, post_to_log},
};

mod page;
#[cfg(test)]
mod tests;

use self::page::PageError;

/// Time one page needs, at worst, before the invocation's deadline: less than this left and
/// the run continues in a new job instead.
const PAGE_BUDGET: Duration = Duration::from_secs(15);

/// How much one invocation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncLimits {
    /// Members per List Guild Members page (Discord's maximum is 1000).
    pub page_size: u16,
    /// Pages per invocation before continuing in a new job (`None`: as many as time allows).
    pub pages_per_invocation: Option<u32>,
}

impl Default for SyncLimits {
    fn default() -> Self {
        Self { page_size: MAX_MEMBERS_PAGE, pages_per_invocation: None }
    }
}

#[derive(Clone)]
pub struct SyncWorker {
    store: Arc<dyn DomainStore>,
    queue: Arc<dyn JobQueue>,
    discord: DiscordClient,
    /// The bot's application (its user id, and the `bot_id` tag of its own role).
    application_id: Id<ApplicationMarker>,
    limits: SyncLimits,
    clock: crate::clock::SharedClock,
    /// Where "member joined / left" and "sync finished" go.
    events: Arc<dyn EventSink>,
}

impl std::fmt::Debug for SyncWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncWorker").field("limits", &self.limits).finish_non_exhaustive()
    }
}

/// What the run's start found.
enum Start {
    Run(SyncRun),
    /// Another run holds the lease.
    Busy(SyncLease),
}

/// `member.joined` / `member.left` for one member, keyed by the run that saw it.
pub(super) fn member_event(
    kind: EventType,
    user: Id<UserMarker>,
    run_id: &RunId,
    platform_user: Option<String>,
    now: u64,
) -> EventDraft {
    EventDraft::new(
        kind,
        format!("{user}:{run_id}"),
        now,
        serde_json::json!({ "user_id": user.to_string(), "run_id": run_id }),
    )
    .by(platform_user)
}

/// What a person reads when the run is over.
pub fn describe(run: &SyncRun) -> String {
    let c = run.counts;
    match &run.outcome {
        SyncOutcome::Succeeded => format!(
            "Synced {} members: {} matched to platform users, {} new, {} left, {} errors.",
            c.total, c.matched, c.new, c.left, c.errors
        ),
        SyncOutcome::Failed(reason) => format!("The member sync failed: {reason}"),
        SyncOutcome::Running => format!("The member sync is running (started <t:{}:R>).", run.started_at),
    }
}

impl SyncWorker {
    pub fn new(
        store: Arc<dyn DomainStore>,
        queue: Arc<dyn JobQueue>,
        discord: DiscordClient,
        application_id: Id<ApplicationMarker>,
    ) -> Self {
        Self {
            store,
            queue,
            discord,
            application_id,
            limits: SyncLimits::default(),
            clock: crate::clock::system(),
            events: Arc::new(NoEvents),
        }
    }

    pub fn with_events(mut self, events: Arc<dyn EventSink>) -> Self {
        self.events = events;
        self
    }

    pub fn with_limits(mut self, limits: SyncLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn with_clock(mut self, clock: crate::clock::SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The run this request started (any delivery of it, however late), or a new one.
    async fn find_or_start(
        &self,
        guild_id: Id<GuildMarker>,
        run_id: &RunId,
        kind: SyncKind,
    ) -> Result<Start, StoreError> {
        if let Some(run) = self.store.run(guild_id, run_id).await? {
            return Ok(Start::Run(run));
        }
        match self.store.start_run(guild_id, run_id, kind, self.clock.now(), LEASE).await {
            Ok(run) => Ok(Start::Run(run)),
            // Started elsewhere meanwhile (the /sync command takes the lease when it is asked,
            // or another delivery of this job): that run is this request's.
            Err(StoreError::AlreadyExists(_)) => self.existing_run(guild_id, run_id).await,
            Err(StoreError::LeaseHeld(lease)) if lease.run_id == *run_id => self.existing_run(guild_id, run_id).await,
            Err(StoreError::LeaseHeld(lease)) => Ok(Start::Busy(lease)),
            Err(error) => Err(error),
        }
    }

    async fn existing_run(&self, guild_id: Id<GuildMarker>, run_id: &RunId) -> Result<Start, StoreError> {
        let run = self.store.run(guild_id, run_id).await?;
        run.map(Start::Run).ok_or(StoreError::Conflict("the run was being started; try again"))
    }

    /// Another run took the guild's lease while this one was still going (this one was
    /// thought crashed): this run ends failed, naming its successor, and whoever asked hears it.
    async fn superseded(
        &self,
        guild_id: Id<GuildMarker>,
        run: &SyncRun,
        counts: SyncCounts,
        by: Option<SyncLease>,
        reply: Option<&InteractionReply>,
        attempt: Attempt,
    ) -> JobOutcome {
        let by = match by {
            Some(lease) => Some(lease),
            None => self.store.lease(guild_id, self.clock.now()).await.ok().flatten(),
        };
        let reason = match by {
            Some(lease) => format!("superseded by run {} (started <t:{}:R>)", lease.run_id, lease.started_at),
            None => "superseded by another run".to_owned(),
        };
        tracing::warn!(run_id = %run.run_id, %reason, "the run lost its lease");
        match self.store.finish_run(guild_id, run, counts, SyncOutcome::Failed(reason), self.clock.now()).await {
            Ok(finished) => {
                self.announce_end(guild_id, reply, &finished, attempt).await;
                JobOutcome::Done
            }
            Err(error) => JobOutcome::storage_busy(error),
        }
    }

    async fn sync(
        &self,
        guild_id: Id<GuildMarker>,
        kind: SyncKind,
        request_id: RequestId,
        reply: Option<InteractionReply>,
        attempt: Attempt,
    ) -> JobOutcome {
        let run_id = request_id.run_id();
        let run = match self.find_or_start(guild_id, &run_id, kind).await {
            Ok(Start::Run(run)) => run,
            Ok(Start::Busy(lease)) => {
                self.report(reply.as_ref(), &lease.already_running(), attempt).await;
                return JobOutcome::Done;
            }
            Err(error) => return JobOutcome::storage_busy(error),
        };
        if run.outcome != SyncOutcome::Running {
            self.report(reply.as_ref(), &describe(&run), attempt).await;
            return JobOutcome::Done;
        }
        match self.store.resume_run(guild_id, &run, self.clock.now(), LEASE).await {
            Ok(()) => {}
            Err(StoreError::LeaseHeld(lease)) => {
                return self.superseded(guild_id, &run, run.counts, Some(lease), reply.as_ref(), attempt).await;
            }
            Err(error) => return JobOutcome::storage_busy(error),
        }
        let settings = match self.store.settings(guild_id).await {
            Ok(versioned) => versioned.settings,
            Err(error) => return JobOutcome::storage_busy(error),
        };
        self.pages(guild_id, run, &request_id, &settings, reply, attempt).await
    }

    async fn pages(
        &self,
        guild_id: Id<GuildMarker>,
        mut run: SyncRun,
        request_id: &RequestId,
        settings: &GuildSettings,
        reply: Option<InteractionReply>,
        attempt: Attempt,
    ) -> JobOutcome {
        let mut counts = run.counts;
        let mut pages = 0u32;
        loop {
            let out_of_pages = self.limits.pages_per_invocation.is_some_and(|max| pages >= max);
            let out_of_time = attempt.deadline.saturating_duration_since(Instant::now()) < PAGE_BUDGET;
            if out_of_pages || out_of_time {
                let next = Job::SyncMembers {
                    guild_id,
                    kind: run.kind,
                    request_id: request_id.to_owned(),
                    reply: reply.clone(),
                    after: run.cursor,
                };
                return match self.queue.enqueue(&next).await {
                    Ok(()) => JobOutcome::Done,
                    Err(error) => JobOutcome::Retry { after: Duration::from_secs(2), reason: error.to_string() },
                };
            }
            let page =
                match self.discord.guild_members(guild_id, run.cursor, self.limits.page_size, attempt.deadline).await {
                    Ok(page) => page,
                    Err(error) => {
                        return self.discord_failure(guild_id, &run, counts, error, reply.as_ref(), attempt).await;
                    }
                };
            let Some(last) = page.last().map(|member| member.user.id) else { break };
            metrics::counter!(crate::domain::metrics::SYNC_MEMBERS_SEEN.name).increment(page.len() as u64);
            let full = page.len() >= usize::from(self.limits.page_size);
            match self.page(guild_id, &run.run_id, &page, settings, &mut counts, attempt).await {
                Ok(()) => {}
                Err(PageError::Store(error)) => return JobOutcome::storage_busy(error),
                Err(PageError::Discord(error)) => {
                    return self.discord_failure(guild_id, &run, counts, error, reply.as_ref(), attempt).await;
                }
                Err(PageError::RoleRefused(reason)) => {
                    return self.refuse(guild_id, &run, counts, reason, reply.as_ref(), attempt).await;
                }
            }
            run = match self.store.checkpoint(guild_id, &run, last, counts, self.clock.now(), LEASE).await {
                Ok(run) => run,
                Err(StoreError::Conflict(_)) => {
                    return self.superseded(guild_id, &run, counts, None, reply.as_ref(), attempt).await;
                }
                Err(error) => return JobOutcome::storage_busy(error),
            };
            pages += 1;
            if !full {
                break;
            }
        }
        let left = match self.store.mark_left(guild_id, &run.run_id, self.clock.now()).await {
            Ok(left) => left,
            Err(error) => return JobOutcome::storage_busy(error),
        };
        counts.left = left.len() as u64;
        // Before the run is finished, so a retry (which finds the same members left) emits again.
        let now = self.clock.now();
        let gone = left.iter().map(|user| member_event(EventType::MemberLeft, *user, &run.run_id, None, now)).collect();
        if let Err(error) = self.events.emit(guild_id, gone).await {
            return JobOutcome::storage_busy(error);
        }
        match self.store.finish_run(guild_id, &run, counts, SyncOutcome::Succeeded, self.clock.now()).await {
            Ok(finished) => {
                self.announce_end(guild_id, reply.as_ref(), &finished, attempt).await;
                JobOutcome::Done
            }
            Err(error) => JobOutcome::storage_busy(error),
        }
    }

    /// A permanent error (no Server Members intent, missing permission, the bot gone) ends the
    /// run with a visible error, never retried; anything else is retried, and the last
    /// attempt records why it gave up.
    async fn discord_failure(
        &self,
        guild_id: Id<GuildMarker>,
        run: &SyncRun,
        counts: SyncCounts,
        error: DiscordError,
        reply: Option<&InteractionReply>,
        attempt: Attempt,
    ) -> JobOutcome {
        let retry = (!error.is_permanent()).then(|| error.retry_after()).flatten();
        if let (Some(after), false) = (retry, attempt.is_last()) {
            return JobOutcome::Retry { after, reason: error.explain() };
        }
        let reason = match (retry, error.permanent_kind()) {
            (Some(_), _) => crate::worker::gave_up(attempt.receives, &error.explain()),
            (None, Some(crate::discord::rest::PermanentKind::MissingAccess)) => {
                "Discord refused the member list: turn on the Server Members intent for the application \
                 (Developer Portal > Bot > Privileged Gateway Intents)."
                    .to_owned()
            }
            _ => error.explain(),
        };
        let outcome = match self
            .store
            .finish_run(guild_id, run, counts, SyncOutcome::Failed(reason.clone()), self.clock.now())
            .await
        {
            Ok(finished) => finished,
            Err(error) => return JobOutcome::storage_busy(error),
        };
        self.announce_end(guild_id, reply, &outcome, attempt).await;
        match retry {
            Some(after) => JobOutcome::Retry { after, reason },
            None => JobOutcome::Done,
        }
    }

    /// The settings ask for something the bot will not do (grant a role with power): the run
    /// ends with that reason, visible where runs are, and is not retried.
    async fn refuse(
        &self,
        guild_id: Id<GuildMarker>,
        run: &SyncRun,
        counts: SyncCounts,
        reason: String,
        reply: Option<&InteractionReply>,
        attempt: Attempt,
    ) -> JobOutcome {
        tracing::error!(%guild_id, %reason, "member sync refused");
        crate::worker::record_problem(self.store.as_ref(), guild_id, "member_role_id", &reason).await;
        match self.store.finish_run(guild_id, run, counts, SyncOutcome::Failed(reason), self.clock.now()).await {
            Ok(finished) => {
                self.announce_end(guild_id, reply, &finished, attempt).await;
                JobOutcome::Done
            }
            Err(error) => JobOutcome::storage_busy(error),
        }
    }

    /// A run just ended: whoever asked hears it, and so does the log channel when the guild's
    /// notification settings ask (every finished run, or failed ones only).
    async fn announce_end(
        &self,
        guild_id: Id<GuildMarker>,
        reply: Option<&InteractionReply>,
        run: &SyncRun,
        attempt: Attempt,
    ) {
        let outcome = match &run.outcome {
            SyncOutcome::Failed(_) => "failed",
            _ => "succeeded",
        };
        metrics::counter!(crate::domain::metrics::SYNC_RUNS.name, "outcome" => outcome).increment(1);
        let took = run.finished_at.unwrap_or_else(|| self.clock.now()).saturating_sub(run.started_at);
        metrics::histogram!(crate::domain::metrics::SYNC_DURATION.name).record((took * 1000) as f64);
        let text = describe(run);
        self.report(reply, &text, attempt).await;
        let finished = EventDraft::new(
            EventType::SyncFinished,
            format!("sync:{}", run.run_id),
            run.finished_at.unwrap_or_else(|| self.clock.now()),
            serde_json::json!({
                "run_id": run.run_id,
                "kind": run.kind,
                "started_at": run.started_at,
                "counts": run.counts,
                "outcome": outcome,
                "error": match &run.outcome { SyncOutcome::Failed(reason) => Some(reason), _ => None },
            }),
        );
        crate::outbox::emit_logged(self.events.as_ref(), guild_id, vec![finished]).await;
        let notifications = match self.store.settings(guild_id).await {
            Ok(versioned) => versioned.settings.notifications,
            Err(error) => {
                tracing::warn!(error = %Report(&error), "settings unreadable: the log channel was not told of the sync");
                return;
            }
        };
        let failed = matches!(run.outcome, SyncOutcome::Failed(_));
        let wanted = notifications.on_sync_finished || (failed && notifications.on_error);
        if let (true, Some(channel)) = (wanted, notifications.log_channel_id) {
            post_to_log(&self.discord, self.store.as_ref(), guild_id, channel, &text, attempt.deadline).await;
        }
    }

    async fn report(&self, reply: Option<&InteractionReply>, text: &str, attempt: Attempt) {
        if let Some(reply) = reply {
            // Past the token's life the run's record (on the settings page) is the report.
            edit_deferred_answer(&self.discord, reply, &MessageBody::text(text), self.clock.now(), attempt.deadline)
                .await;
        }
    }
}

#[async_trait]
impl JobHandler for SyncWorker {
    async fn handle(&self, job: Job, attempt: Attempt) -> JobOutcome {
        match job {
            Job::SyncMembers { guild_id, kind, request_id, reply, .. } => {
                self.sync(guild_id, kind, request_id, reply, attempt).await
            }
            other => JobOutcome::Reject { reason: format!("a {} job reached the sync queue", other.idempotency_key()) },
        }
    }
}

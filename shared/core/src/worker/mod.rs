//! Running jobs, independent of the queue they came from: what a worker does with one job,
//! and how its outcome decides whether the queue deletes it, hands it back later, or
//! dead-letters it (with a record an admin can read). Lambda's SQS batches are run by
//! [`lambda`], the local stack's embedded queue by [`embedded`].

#[cfg(feature = "embedded")]
pub mod embedded;
pub mod lambda;

#[cfg(feature = "embedded")]
pub use embedded::Consumer;

use crate::domain::error::Report;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use twilight_model::id::{
    Id,
    marker::{ChannelMarker, GuildMarker},
};

use crate::{
    clock::Clock,
    discord::rest::{DiscordClient, MessageBody},
    domain::{InteractionReply, Job, QueueKind},
    store::{DeadLetterRecord, DeadLetterStore, JobLedger, JobRecord, JobStatus},
};

/// SQS's default redrive limit in Guildbridge's template: after this many receives a job
/// that still fails goes to the dead-letter queue.
pub const DEFAULT_MAX_RECEIVES: u32 = 5;

/// One delivery of a job.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    /// How many times the job has been received, this time included.
    pub receives: u32,
    pub max_receives: u32,
    /// When this attempt must have finished (the invocation's end, less a margin to report).
    pub deadline: Instant,
}

impl Attempt {
    /// After this attempt, a failure dead-letters the job: record why now.
    pub fn is_last(&self) -> bool {
        self.receives >= self.max_receives
    }
}

/// How a job ended this time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Finished (successfully, or with a failure already reported to a person): delete it.
    Done,
    /// Finished with a result for whoever asked (the message it posted): delete it.
    DoneWith(serde_json::Value),
    /// Hand it back, visible again after `after`; on the last attempt it is dead-lettered.
    Retry { after: Duration, reason: String },
    /// It can never succeed (not a job we can read): dead-letter it.
    Reject { reason: String },
}

impl JobOutcome {
    /// Storage was busy or unreachable: try again shortly.
    pub fn storage_busy(error: impl std::error::Error) -> Self {
        JobOutcome::Retry { after: Duration::from_secs(2), reason: format!("storage: {}", Report(&error)) }
    }
}

/// A store error outside a claim: retried while the store may recover; otherwise the job
/// can never succeed as it is, so it is given up on with the reason (dead-lettered and
/// recorded), not recycled as "storage busy" until the queue gives up.
pub fn store_failure(error: crate::store::StoreError) -> JobOutcome {
    if error.is_retryable() {
        JobOutcome::storage_busy(error)
    } else {
        JobOutcome::Reject { reason: format!("storage: {}", Report(&error)) }
    }
}

/// The reason a job that kept failing gave up with (said once, also when the worker
/// already said it).
pub fn gave_up(attempts: u32, reason: &str) -> String {
    if reason.starts_with("gave up after ") {
        return reason.to_owned();
    }
    format!("gave up after {attempts} attempts: {reason}")
}

/// Records a job that gave up where an admin sees it (per guild, or unrouted when the body
/// names none); `false` when the record could not be written (the caller keeps the message).
pub async fn record_dead_letter(
    store: &dyn DeadLetterStore,
    queue: QueueKind,
    body: &str,
    reason: &str,
    attempts: u32,
) -> bool {
    metrics::counter!(crate::domain::metrics::DEAD_LETTERS.name).increment(1);
    let letter = DeadLetterRecord::for_body(queue.as_str(), body, reason, attempts, crate::clock::SystemClock.now());
    match store.record_dead_letter(DeadLetterRecord::guild_of(body), &letter).await {
        Ok(()) => true,
        Err(error) => {
            tracing::error!(error = %Report(&error), queue = queue.as_str(), "could not record a dead letter");
            false
        }
    }
}

/// Tells whoever asked through a slash command: edits the interaction's deferred answer while
/// its token lives (15 minutes; not tried in the last minute). `false` when the token is too
/// old or the edit failed, so the caller can report elsewhere; never fatal to the job.
pub async fn edit_deferred_answer(
    discord: &DiscordClient,
    reply: &InteractionReply,
    answer: &MessageBody,
    now: u64,
    deadline: Instant,
) -> bool {
    const TOKEN_LIFE: Duration = Duration::from_secs(14 * 60);
    if now > reply.received_at + TOKEN_LIFE.as_secs() {
        return false;
    }
    match discord.edit_original_response(reply.application_id, &reply.token, answer, deadline).await {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(error = %Report(&error), interaction_id = %reply.interaction_id, "could not edit the deferred answer");
            false
        }
    }
}

/// Posts `text` in a guild's log channel; a failure is logged, never fatal to the job. The
/// channel is checked first to be a text channel of this very guild: the id comes from the
/// tenant's settings, and the bot must never post in another tenant's guild for it: a
/// channel that is not is a problem kept for the tenant to see.
pub async fn post_to_log(
    discord: &DiscordClient,
    problems: &dyn crate::store::ProblemStore,
    guild_id: Id<GuildMarker>,
    channel: Id<ChannelMarker>,
    text: &str,
    deadline: Instant,
) {
    let channels = match discord.guild_channels(guild_id, deadline).await {
        Ok(channels) => channels,
        Err(error) => {
            tracing::warn!(error = %Report(&error), %guild_id, "could not check the log channel; nothing was posted");
            return;
        }
    };
    if !crate::discord::guild_ids::is_text_channel_of(&channels, guild_id, channel) {
        tracing::error!(%guild_id, %channel, "the log channel in the settings is not a text channel of this server; nothing was posted");
        let problem = "is not a text channel of this server; nothing was posted there";
        record_problem(problems, guild_id, "notifications.log_channel_id", problem).await;
        return;
    }
    if let Err(error) = discord.create_message(channel, &MessageBody::text(text), deadline).await {
        tracing::warn!(error = %Report(&error), "could not post to the log channel");
    }
}

/// Keeps a problem a worker met with a setting, for the tenant to see (`GET /v1/tenant`, the
/// settings page) until the settings are saved again; a failure to keep it is only logged.
pub async fn record_problem(
    problems: &dyn crate::store::ProblemStore,
    guild_id: Id<GuildMarker>,
    field: &str,
    problem: &str,
) {
    let at = crate::clock::SystemClock.now();
    let problem = crate::domain::SettingsProblem { field: field.to_owned(), problem: problem.to_owned(), at };
    if let Err(error) = problems.record_problem(guild_id, &problem).await {
        tracing::warn!(error = %Report(&error), %guild_id, field, "could not keep the settings problem");
    }
}

/// Runs one job through `handler`, writing its record as it goes: running before, then done
/// (with its result), failed (it will be tried again) or dead. A record that cannot be
/// written is logged and the job goes on: the record is for people, the queue is the truth.
pub async fn run_recorded(handler: &dyn JobHandler, ledger: &dyn JobLedger, job: Job, attempt: Attempt) -> JobOutcome {
    let guild_id = job.guild_id();
    let job_type = job.type_name();
    let mut record = JobRecord::of(&job, JobStatus::Running, attempt.receives, crate::clock::SystemClock.now());
    write_record(ledger, guild_id, &record).await;
    let outcome = handler.handle(job, attempt).await;
    (record.status, record.reason, record.result) = match &outcome {
        JobOutcome::Done => (JobStatus::Done, None, None),
        JobOutcome::DoneWith(result) => (JobStatus::Done, None, Some(result.clone())),
        JobOutcome::Retry { reason, .. } if !attempt.is_last() => (JobStatus::Failed, Some(reason.clone()), None),
        JobOutcome::Retry { reason, .. } => (JobStatus::Dead, Some(gave_up(attempt.receives, reason)), None),
        JobOutcome::Reject { reason } => (JobStatus::Dead, Some(reason.clone()), None),
    };
    record.updated_at = crate::clock::SystemClock.now();
    write_record(ledger, guild_id, &record).await;
    let outcome_label = match record.status {
        JobStatus::Done => "done",
        JobStatus::Dead => "dead",
        _ => "retried",
    };
    metrics::counter!(crate::domain::metrics::JOBS.name, "job" => job_type, "outcome" => outcome_label).increment(1);
    outcome
}

async fn write_record(
    ledger: &dyn JobLedger,
    guild_id: twilight_model::id::Id<twilight_model::id::marker::GuildMarker>,
    record: &JobRecord,
) {
    if let Err(error) = ledger.record_job(guild_id, record).await {
        tracing::warn!(error = %Report(&error), job_type = %record.job_type, "could not record the job's status");
    }
}

/// A worker for one queue's jobs.
#[async_trait]
pub trait JobHandler: Send + Sync {
    async fn handle(&self, job: Job, attempt: Attempt) -> JobOutcome;
}

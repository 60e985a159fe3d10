//! An SQS batch as Lambda delivers it, run through a [`JobHandler`], answered with partial
//! batch failures (`ReportBatchItemFailures`) so only failed messages come back.

use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use tokio::time::Instant;

use super::{Attempt, JobHandler, JobOutcome, record_dead_letter, run_recorded};
use crate::{
    domain::{Job, QueueKind},
    queue::Redelivery,
    store::JobLedger,
};

/// How a batch is run.
#[derive(Debug, Clone, Copy)]
pub struct BatchPolicy {
    /// Which queue the batch comes from (named in dead-letter records).
    pub queue: QueueKind,
    pub max_receives: u32,
    /// SQS allows visibility timeouts up to 12 hours; retries wait at most this long.
    pub max_delay: Duration,
}

/// Runs the messages in order. A failed message holds back the later messages about the same
/// work (same job key: an archive after a create of one subject), which go back untouched
/// and in order. Other jobs of the guild go on: they are independent, and holding them
/// back would spend their receives (SQS counts every hand-back) until they were
/// dead-lettered without ever running.
///
/// A job that gives up is recorded in `dead_letters` (per guild, with why and after how many
/// attempts). One that can never run (a poison message, a rejected job) is deleted once its
/// record is written: it is dead on its first receive, not recycled until SQS gives up.
pub async fn run_batch(
    event: SqsEvent,
    handler: &dyn JobHandler,
    redelivery: &dyn Redelivery,
    ledger: &dyn JobLedger,
    policy: BatchPolicy,
    deadline: Instant,
) -> SqsBatchResponse {
    let mut failures = Vec::new();
    // Work held back, with the delay its failed message got: the rest of it waits as long.
    let mut blocked: Vec<(Option<String>, Duration)> = Vec::new();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let group = work_of(&message);
        let held = blocked.iter().find(|(g, _)| group.is_some() && *g == group).map(|(_, delay)| *delay);
        let delay = match held {
            Some(delay) => delay,
            None => match run_message(&message, handler, ledger, policy, deadline).await {
                JobOutcome::Done | JobOutcome::DoneWith(_) => continue,
                JobOutcome::Retry { after, reason } => {
                    let attempts = receives(&message);
                    tracing::warn!(message_id = %id, receives = attempts, %reason, "job handed back");
                    if attempts >= policy.max_receives {
                        // SQS moves it to the dead-letter queue; the record is what an admin sees.
                        let reason = super::gave_up(attempts, &reason);
                        let body = message.body.as_deref().unwrap_or_default();
                        let _ = record_dead_letter(ledger, policy.queue, body, &reason, attempts).await;
                    }
                    after.min(policy.max_delay)
                }
                JobOutcome::Reject { reason } => {
                    let body = message.body.as_deref().unwrap_or_default();
                    let attempts = receives(&message);
                    if record_dead_letter(ledger, policy.queue, body, &reason, attempts).await {
                        tracing::error!(message_id = %id, %reason, "job can never run; recorded as dead and deleted");
                        continue;
                    }
                    // Not recorded: it comes back, and SQS dead-letters it if recording keeps failing.
                    Duration::ZERO
                }
            },
        };
        if let Some(handle) = message.receipt_handle.as_deref() {
            redelivery.redeliver_after(handle, delay).await;
        }
        if held.is_none() {
            blocked.push((group, delay));
        }
        failures.push(failure(id));
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

async fn run_message(
    message: &SqsMessage,
    handler: &dyn JobHandler,
    ledger: &dyn JobLedger,
    policy: BatchPolicy,
    deadline: Instant,
) -> JobOutcome {
    let job = match message.body.as_deref().map(Job::from_body) {
        Some(Ok(job)) => job,
        Some(Err(error)) => return JobOutcome::Reject { reason: error.to_string() },
        None => return JobOutcome::Reject { reason: "the message has no body".to_owned() },
    };
    if let Some(sent) = message.attributes.get("SentTimestamp").and_then(|ms| ms.parse::<u64>().ok()) {
        let age = epoch_millis().saturating_sub(sent);
        metrics::histogram!(crate::domain::metrics::JOB_AGE.name, "job" => job.type_name()).record(age as f64);
    }
    let attempt = Attempt { receives: receives(message), max_receives: policy.max_receives, deadline };
    let outcome = run_recorded(handler, ledger, job, attempt).await;
    if let (JobOutcome::Retry { reason, .. }, true) = (&outcome, attempt.is_last()) {
        tracing::error!(message_id = ?message.message_id, %reason, "job failed its last attempt; SQS moves it to the dead-letter queue");
    }
    outcome
}

fn receives(message: &SqsMessage) -> u32 {
    message.attributes.get("ApproximateReceiveCount").and_then(|count| count.parse().ok()).unwrap_or(1)
}

/// The work a message asks for: its subject (or sync request), whatever the job type.
fn work_of(message: &SqsMessage) -> Option<String> {
    let job = Job::from_body(message.body.as_deref()?).ok()?;
    Some(match &job {
        Job::CreateChannels { guild_id, subject, .. }
        | Job::ArchiveChannel { guild_id, subject, .. }
        | Job::SendMessage { guild_id, subject, .. }
        | Job::UpdateSubjectAccess { guild_id, subject, .. }
        | Job::CreateInvite { guild_id, subject, .. }
        | Job::SyncTeam { guild_id, subject, .. }
        | Job::UpdateBoard { guild_id, subject, .. } => format!("{guild_id}:{subject}"),
        Job::SyncMembers { .. } => job.idempotency_key().to_string(),
        Job::LeaveGuild { guild_id, .. } => format!("{guild_id}:leave"),
        // One member's closed DMs hold back nobody else's.
        Job::RemindByDm { guild_id, subject, user_id, .. } => format!("{guild_id}:{subject}:dm:{user_id}"),
        // A failing endpoint holds back the tenant's later deliveries (in order, and not
        // hammered while it is down).
        Job::DeliverWebhook { tenant_id, .. } => format!("webhook:{tenant_id}"),
    })
}

fn failure(id: String) -> BatchItemFailure {
    let mut failure = BatchItemFailure::default();
    failure.item_identifier = id;
    failure
}

/// Answers one SQS batch as Lambda delivers it: run through `handler` by the invocation's
/// own deadline.
pub async fn answer(
    event: lambda_runtime::LambdaEvent<SqsEvent>,
    handler: &dyn JobHandler,
    redelivery: &dyn Redelivery,
    ledger: &dyn JobLedger,
    policy: BatchPolicy,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let deadline = deadline_from_epoch_millis(event.context.deadline);
    Ok(run_batch(event.payload, handler, redelivery, ledger, policy, deadline).await)
}

/// Time kept back from the invocation's deadline to hand messages back and answer.
pub const REPORTING_MARGIN: Duration = Duration::from_secs(2);

/// The invocation's deadline (Lambda gives epoch milliseconds) as an `Instant`, less the
/// reporting margin.
pub fn deadline_from_epoch_millis(deadline_ms: u64) -> Instant {
    let left = Duration::from_millis(deadline_ms.saturating_sub(epoch_millis()));
    Instant::now() + left.saturating_sub(REPORTING_MARGIN)
}

fn epoch_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_millis() as u64)
        .unwrap_or_default()
}

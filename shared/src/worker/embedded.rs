//! The local stack's stand-in for Lambda's SQS event source: the embedded queue's consumer.

use std::time::Duration;

use tokio::time::Instant;

use super::{Attempt, JobHandler, JobOutcome, gave_up, record_dead_letter};
use crate::{
    domain::QueueKind,
    queue::{
        QueueError,
        embedded::{EmbeddedQueue, Received},
    },
    store::DeadLetterStore,
};

/// The embedded queue's consumer: takes the next visible job of `queue`, runs it, and
/// deletes, releases or dead-letters it as its outcome says. `None` when nothing is visible.
pub async fn work_one(
    queue: &EmbeddedQueue,
    kind: QueueKind,
    handler: &dyn JobHandler,
    dead_letters: &dyn DeadLetterStore,
    max_receives: u32,
    time_limit: Duration,
) -> Result<Option<JobOutcome>, QueueError> {
    let visibility = time_limit.as_secs().max(1) * 2;
    let Some(received) = queue.receive(kind, visibility).await? else {
        return Ok(None);
    };
    let attempt = Attempt { receives: received.receives, max_receives, deadline: Instant::now() + time_limit };
    let outcome = handler.handle(received.job.clone(), attempt).await;
    settle(queue, &received, kind, dead_letters, attempt, &outcome).await?;
    Ok(Some(outcome))
}

/// Deletes, releases or dead-letters a received job as its outcome says (what SQS and the
/// batch runner do between them in AWS); a job given up on is also recorded in the store.
async fn settle(
    queue: &EmbeddedQueue,
    received: &Received,
    kind: QueueKind,
    dead_letters: &dyn DeadLetterStore,
    attempt: Attempt,
    outcome: &JobOutcome,
) -> Result<(), QueueError> {
    let reason = match outcome {
        JobOutcome::Done => return queue.delete(received.receipt).await,
        JobOutcome::Retry { after, .. } if !attempt.is_last() => {
            return queue.release(received.receipt, after.as_secs().max(1)).await;
        }
        JobOutcome::Retry { reason, .. } => gave_up(attempt.receives, reason),
        JobOutcome::Reject { reason } => reason.clone(),
    };
    record_dead_letter(dead_letters, kind, &received.job.to_body()?, &reason, attempt.receives).await;
    queue.dead_letter(received.receipt, &reason).await
}

/// The local stack's stand-in for Lambda's SQS event source: runs `kind`'s jobs one at a time
/// (the order a FIFO group keeps) until `stop` turns true. A job interrupted by the stop goes
/// back to the queue at once, so a restart picks it up: jobs are idempotent.
pub async fn work_until_stopped(
    queue: &EmbeddedQueue,
    kind: QueueKind,
    handler: &dyn JobHandler,
    dead_letters: &dyn DeadLetterStore,
    max_receives: u32,
    time_limit: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    const IDLE: Duration = Duration::from_millis(200);
    let visibility = time_limit.as_secs().max(1) * 2;
    while !*stop.borrow() {
        let received = match queue.receive(kind, visibility).await {
            Ok(Some(received)) => received,
            Ok(None) => {
                let _ = tokio::time::timeout(IDLE, stop.changed()).await;
                continue;
            }
            Err(error) => {
                tracing::warn!(%error, queue = kind.as_str(), "could not receive; trying again");
                let _ = tokio::time::timeout(IDLE * 10, stop.changed()).await;
                continue;
            }
        };
        let attempt = Attempt { receives: received.receives, max_receives, deadline: Instant::now() + time_limit };
        let settled = tokio::select! {
            outcome = handler.handle(received.job.clone(), attempt) => {
                settle(queue, &received, kind, dead_letters, attempt, &outcome).await
            }
            _ = stop.changed() => queue.release(received.receipt, 0).await,
        };
        if let Err(error) = settled {
            // The job stays hidden until its visibility ends, then comes back: nothing is lost.
            tracing::warn!(%error, queue = kind.as_str(), "could not settle a job");
        }
    }
}

#[cfg(test)]
mod tests {
    use twilight_model::id::Id;

    use async_trait::async_trait;

    use super::*;
    use crate::{domain::Job, queue::JobQueue};

    /// Never finishes: stands for a job running when the developer presses Ctrl-C.
    struct Endless;

    #[async_trait]
    impl JobHandler for Endless {
        async fn handle(&self, _job: Job, _attempt: Attempt) -> JobOutcome {
            std::future::pending().await
        }
    }

    struct Finishes;

    #[async_trait]
    impl JobHandler for Finishes {
        async fn handle(&self, _job: Job, _attempt: Attempt) -> JobOutcome {
            JobOutcome::Done
        }
    }

    fn job() -> Job {
        Job::SendMessage {
            guild_id: Id::new(1),
            subject: crate::domain::SubjectRef::new(crate::domain::SubjectKind::Event, "e"),
            content: "hello".to_owned(),
            message_key: "k".to_owned(),
        }
    }

    /// The local stack's loop over `queue`'s channel jobs; stop it through the sender.
    fn start_loop(
        queue: &EmbeddedQueue,
        handler: impl JobHandler + 'static,
    ) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>) {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let queue = queue.clone();
        let worker = tokio::spawn(async move {
            let store = crate::store::Store::new(crate::store::embedded::EmbeddedItems::in_memory().expect("store"));
            work_until_stopped(&queue, QueueKind::Channel, &handler, &store, 5, Duration::from_secs(60), stopped).await;
        });
        (stop, worker)
    }

    #[tokio::test]
    async fn a_job_cut_short_by_the_stop_is_back_in_the_queue_at_once_and_a_finished_one_is_gone() {
        let queue = EmbeddedQueue::in_memory().expect("queue");
        queue.enqueue(&job()).await.expect("enqueue");
        let (stop, worker) = start_loop(&queue, Endless);
        while queue.receive(QueueKind::Channel, 0).await.expect("peek").is_some() {
            // Not taken yet (a visibility of 0 hands it straight back): let the worker run.
            tokio::task::yield_now().await;
        }
        stop.send(true).expect("stop");
        worker.await.expect("the loop ends on stop");
        let again = queue.receive(QueueKind::Channel, 60).await.expect("receive");
        assert!(again.is_some(), "visible again without waiting out the 120 s visibility");

        let queue = EmbeddedQueue::in_memory().expect("queue");
        queue.enqueue(&job()).await.expect("enqueue");
        let (stop, worker) = start_loop(&queue, Finishes);
        for _ in 0..200 {
            if queue.len(QueueKind::Channel).await.expect("len") == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.send(true).expect("stop");
        worker.await.expect("the loop ends on stop");
        assert_eq!(queue.len(QueueKind::Channel).await.expect("len"), 0, "done jobs are deleted");
    }
}

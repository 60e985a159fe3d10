//! The local stack's stand-in for Lambda's SQS event source: the embedded queue's consumer.

use crate::domain::error::Report;
use std::time::Duration;

use tokio::time::Instant;

use super::{Attempt, JobHandler, JobOutcome, gave_up, record_dead_letter, run_recorded};
use crate::{
    domain::QueueKind,
    queue::{
        QueueError,
        embedded::{EmbeddedQueue, Received},
    },
    store::JobLedger,
};

/// The embedded queue's consumer of one queue's jobs, as Lambda's SQS event source is in AWS:
/// each received job runs through `handler`, then is deleted, released or dead-lettered as
/// its outcome says (each job's record, and a dead letter for a job given up on, go to `ledger`).
#[derive(Clone, Copy)]
pub struct Consumer<'a> {
    queue: &'a EmbeddedQueue,
    kind: QueueKind,
    handler: &'a dyn JobHandler,
    ledger: &'a dyn JobLedger,
    max_receives: u32,
    /// Each job's time, as the function's timeout gives it.
    time_limit: Duration,
}

impl std::fmt::Debug for Consumer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer").field("kind", &self.kind).finish_non_exhaustive()
    }
}

impl<'a> Consumer<'a> {
    /// A consumer with the template's redrive limit and a minute per job.
    pub fn new(
        queue: &'a EmbeddedQueue,
        kind: QueueKind,
        handler: &'a dyn JobHandler,
        ledger: &'a dyn JobLedger,
    ) -> Self {
        let (max_receives, time_limit) = (super::DEFAULT_MAX_RECEIVES, Duration::from_secs(60));
        Self { queue, kind, handler, ledger, max_receives, time_limit }
    }

    pub fn limits(self, max_receives: u32, time_limit: Duration) -> Self {
        Self { max_receives, time_limit, ..self }
    }

    /// Jobs stay hidden from other consumers for twice their time limit.
    fn visibility(&self) -> Duration {
        Duration::from_secs(self.time_limit.as_secs().max(1) * 2)
    }

    fn attempt(&self, received: &Received) -> Attempt {
        Attempt {
            receives: received.receives,
            max_receives: self.max_receives,
            deadline: Instant::now() + self.time_limit,
        }
    }

    /// Takes the next visible job and runs it; `None` when nothing is visible.
    pub async fn work_one(self) -> Result<Option<JobOutcome>, QueueError> {
        let Some(received) = self.queue.receive(self.kind, self.visibility()).await? else {
            return Ok(None);
        };
        let attempt = self.attempt(&received);
        let outcome = run_recorded(self.handler, self.ledger, received.job.clone(), attempt).await;
        self.settle(&received, attempt, &outcome).await?;
        Ok(Some(outcome))
    }

    /// Runs the jobs one at a time (the order a FIFO group keeps) until `stop` turns true. A
    /// job interrupted by the stop goes back to the queue at once, so a restart picks it up:
    /// jobs are idempotent.
    pub async fn work_until_stopped(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        const IDLE: Duration = Duration::from_millis(200);
        while !*stop.borrow() {
            let received = match self.queue.receive(self.kind, self.visibility()).await {
                Ok(Some(received)) => received,
                Ok(None) => {
                    let _ = tokio::time::timeout(IDLE, stop.changed()).await;
                    continue;
                }
                Err(error) => {
                    tracing::warn!(error = %Report(&error), queue = self.kind.as_str(), "could not receive; trying again");
                    let _ = tokio::time::timeout(IDLE * 10, stop.changed()).await;
                    continue;
                }
            };
            let attempt = self.attempt(&received);
            let settled = tokio::select! {
                outcome = run_recorded(self.handler, self.ledger, received.job.clone(), attempt) => {
                    self.settle(&received, attempt, &outcome).await
                }
                _ = stop.changed() => self.queue.release(received.receipt, Duration::ZERO).await,
            };
            if let Err(error) = settled {
                // The job stays hidden until its visibility ends, then comes back: nothing is lost.
                tracing::warn!(error = %Report(&error), queue = self.kind.as_str(), "could not settle a job");
            }
        }
    }

    /// Deletes, releases or dead-letters a received job as its outcome says (what SQS and the
    /// batch runner do between them in AWS).
    async fn settle(&self, received: &Received, attempt: Attempt, outcome: &JobOutcome) -> Result<(), QueueError> {
        let reason = match outcome {
            JobOutcome::Done | JobOutcome::DoneWith(_) => return self.queue.delete(received.receipt).await,
            JobOutcome::Retry { after, .. } if !attempt.is_last() => {
                return self.queue.release(received.receipt, (*after).max(Duration::from_secs(1))).await;
            }
            JobOutcome::Retry { reason, .. } => gave_up(attempt.receives, reason),
            JobOutcome::Reject { reason } => reason.clone(),
        };
        let body = received.job.to_body()?;
        record_dead_letter(self.ledger, self.kind, &body, &reason, attempt.receives).await;
        self.queue.dead_letter(received.receipt, &reason).await
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
            reply_to: None,
            parts: Default::default(),
            team: None,
            guild_id: Id::new(1),
            subject: crate::domain::SubjectRef::new(crate::domain::SubjectKind::Event, "e"),
            content: "hello".to_owned(),
            message_key: "k".to_owned(),
            allow_mentions: false,
        }
    }

    /// Fails the same way every time.
    struct Fails(JobOutcome);

    #[async_trait]
    impl JobHandler for Fails {
        async fn handle(&self, _job: Job, _attempt: Attempt) -> JobOutcome {
            self.0.clone()
        }
    }

    #[tokio::test]
    async fn each_job_s_record_says_failed_while_it_will_be_tried_again_and_dead_once_given_up() {
        use crate::store::JobRecordStore;
        let store = crate::store::Store::new(crate::store::embedded::EmbeddedItems::in_memory().expect("store"));
        let queue = EmbeddedQueue::in_memory().expect("queue");
        queue.enqueue(&job()).await.expect("enqueue");
        let retry = Fails(JobOutcome::Retry { after: Duration::ZERO, reason: "Discord is down".to_owned() });
        let consumer = Consumer::new(&queue, QueueKind::Channel, &retry, &store).limits(2, Duration::from_secs(1));
        let record = || async { store.job_record(Id::new(1), &job().deduplication_id()).await.expect("read") };

        consumer.work_one().await.expect("first attempt").expect("a job");
        let first = record().await.expect("recorded");
        assert_eq!((first.status, first.attempts), (crate::store::JobStatus::Failed, 1));
        assert_eq!(first.reason.as_deref(), Some("Discord is down"));

        tokio::time::sleep(Duration::from_millis(1100)).await;
        consumer.work_one().await.expect("last attempt").expect("the job again");
        let last = record().await.expect("recorded");
        assert_eq!((last.status, last.attempts), (crate::store::JobStatus::Dead, 2));
        assert_eq!(last.reason.as_deref(), Some("gave up after 2 attempts: Discord is down"));
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
            Consumer::new(&queue, QueueKind::Channel, &handler, &store).work_until_stopped(stopped).await;
        });
        (stop, worker)
    }

    #[tokio::test]
    async fn a_job_cut_short_by_the_stop_is_back_in_the_queue_at_once_and_a_finished_one_is_gone() {
        let queue = EmbeddedQueue::in_memory().expect("queue");
        queue.enqueue(&job()).await.expect("enqueue");
        let (stop, worker) = start_loop(&queue, Endless);
        while queue.receive(QueueKind::Channel, Duration::ZERO).await.expect("peek").is_some() {
            // Not taken yet (a visibility of 0 hands it straight back): let the worker run.
            tokio::task::yield_now().await;
        }
        stop.send(true).expect("stop");
        worker.await.expect("the loop ends on stop");
        let again = queue.receive(QueueKind::Channel, Duration::from_secs(60)).await.expect("receive");
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

//! The local stack's queue: jobs persisted in SQLite so a restart loses none, with SQS
//! FIFO's semantics where they matter: a five-minute deduplication window per job key,
//! message groups delivered in order (a job waiting to be retried holds back the later jobs
//! of its group, never those of other groups), visibility timeouts, a receive count for
//! dead-lettering, and explicit delete on success.

use guildbridge_domain::error::Report;
use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::{JobQueue, QueueError};
use guildbridge_domain::{Job, QueueKind};

/// SQS FIFO's deduplication window.
pub const DEDUPLICATION_WINDOW: Duration = Duration::from_secs(300);

/// A received job: delete it when done, or release it to be received again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub receipt: i64,
    pub job: Job,
    /// How many times it has been received, this time included.
    pub receives: u32,
}

/// A job given up on, and why. `job` is `None` when the body is not a job Guildbridge can
/// read (it is kept as `body`, so one bad message never hides the others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub job: Option<Job>,
    pub body: String,
    pub receives: u32,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct EmbeddedQueue {
    conn: Arc<Mutex<Connection>>,
    clock: guildbridge_domain::clock::SharedClock,
}

fn unavailable(error: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable(error.to_string())
}

impl EmbeddedQueue {
    pub fn open(path: &Path) -> Result<Self, QueueError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(unavailable)?;
        }
        let conn = Connection::open(path).map_err(unavailable)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(unavailable)?;
        Self::init(conn, guildbridge_domain::clock::system())
    }

    pub fn in_memory() -> Result<Self, QueueError> {
        Self::init(Connection::open_in_memory().map_err(unavailable)?, guildbridge_domain::clock::system())
    }

    /// With another clock (tests step time through windows and timeouts).
    pub fn with_clock(mut self, clock: guildbridge_domain::clock::SharedClock) -> Self {
        self.clock = clock;
        self
    }

    fn init(conn: Connection, clock: guildbridge_domain::clock::SharedClock) -> Result<Self, QueueError> {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS jobs (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                queue TEXT NOT NULL,
                dedup TEXT NOT NULL,
                body TEXT NOT NULL,
                enqueued_at INTEGER NOT NULL,
                visible_at INTEGER NOT NULL,
                receives INTEGER NOT NULL DEFAULT 0,
                grp TEXT NOT NULL DEFAULT ''
            );
            CREATE INDEX IF NOT EXISTS jobs_visible ON jobs (queue, visible_at, seq);
            CREATE TABLE IF NOT EXISTS dedup (key TEXT PRIMARY KEY, until INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS dead_letters (
                seq INTEGER PRIMARY KEY,
                queue TEXT NOT NULL,
                body TEXT NOT NULL,
                receives INTEGER NOT NULL,
                reason TEXT NOT NULL,
                failed_at INTEGER NOT NULL
            );",
        )
        .map_err(unavailable)?;
        // A data folder from before message groups: its jobs share one group ('').
        let has_group: i64 = conn
            .query_row("SELECT COUNT(*) FROM pragma_table_info('jobs') WHERE name = 'grp'", [], |row| row.get(0))
            .map_err(unavailable)?;
        if has_group == 0 {
            conn.execute_batch("ALTER TABLE jobs ADD COLUMN grp TEXT NOT NULL DEFAULT ''").map_err(unavailable)?;
        }
        conn.execute_batch("CREATE INDEX IF NOT EXISTS jobs_group ON jobs (queue, grp, seq)").map_err(unavailable)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), clock })
    }

    async fn with_conn<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection, u64) -> Result<T, QueueError> + Send + 'static,
    ) -> Result<T, QueueError> {
        let conn = self.conn.clone();
        let now = self.clock.now();
        tokio::task::spawn_blocking(move || {
            work(&mut conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner), now)
        })
        .await
        .map_err(|e| QueueError::Unavailable(format!("queue task failed: {e}")))?
    }

    /// The oldest visible job of a queue that is first in its message group (an earlier job
    /// of the group, in flight or waiting for its retry, holds it back), hidden for
    /// `visibility`. A body that is not a job (a poison message) is dead-lettered on the
    /// spot, never handed out again.
    pub async fn receive(&self, queue: QueueKind, visibility: Duration) -> Result<Option<Received>, QueueError> {
        self.with_conn(move |conn, now| {
            let tx = conn.transaction().map_err(unavailable)?;
            loop {
                let next: Option<(i64, String, u32)> = tx
                    .query_row(
                        "SELECT seq, body, receives FROM jobs AS j WHERE queue = ?1 AND visible_at <= ?2
                         AND NOT EXISTS (SELECT 1 FROM jobs AS e WHERE e.queue = j.queue AND e.grp = j.grp AND e.seq < j.seq)
                         ORDER BY seq LIMIT 1",
                        params![queue.as_str(), now as i64],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                    )
                    .optional()
                    .map_err(unavailable)?;
                let Some((receipt, body, receives)) = next else {
                    tx.commit().map_err(unavailable)?;
                    return Ok(None);
                };
                tx.execute(
                    "UPDATE jobs SET visible_at = ?1, receives = receives + 1 WHERE seq = ?2",
                    params![(now + visibility.as_secs()) as i64, receipt],
                )
                .map_err(unavailable)?;
                match Job::from_body(&body) {
                    Ok(job) => {
                        tx.commit().map_err(unavailable)?;
                        return Ok(Some(Received { receipt, job, receives: receives + 1 }));
                    }
                    Err(error) => {
                        tracing::error!(error = %Report(&error), receipt, "unreadable job dead-lettered");
                        move_to_dead_letters(&tx, receipt, &error.to_string(), now)?;
                    }
                }
            }
        })
        .await
    }

    /// Done: the job leaves the queue.
    pub async fn delete(&self, receipt: i64) -> Result<(), QueueError> {
        self.with_conn(move |conn, _| {
            conn.execute("DELETE FROM jobs WHERE seq = ?1", params![receipt]).map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    /// Back to the queue, visible again after `delay` (SQS's change of visibility).
    pub async fn release(&self, receipt: i64, delay: Duration) -> Result<(), QueueError> {
        self.with_conn(move |conn, now| {
            conn.execute(
                "UPDATE jobs SET visible_at = ?1 WHERE seq = ?2",
                params![(now + delay.as_secs()) as i64, receipt],
            )
            .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    /// Gives up on a job: it moves to the queue's dead-letter table with the reason, where an
    /// admin can read it (SQS's redrive after the maximum receives).
    pub async fn dead_letter(&self, receipt: i64, reason: &str) -> Result<(), QueueError> {
        let reason = reason.to_owned();
        self.with_conn(move |conn, now| {
            let tx = conn.transaction().map_err(unavailable)?;
            move_to_dead_letters(&tx, receipt, &reason, now)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    /// The jobs given up on in a queue, oldest first, with why.
    pub async fn dead_letters(&self, queue: QueueKind) -> Result<Vec<DeadLetter>, QueueError> {
        self.with_conn(move |conn, _| {
            let mut statement = conn
                .prepare("SELECT body, receives, reason FROM dead_letters WHERE queue = ?1 ORDER BY seq")
                .map_err(unavailable)?;
            let rows = statement
                .query_map(params![queue.as_str()], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, u32>(1)?, row.get::<_, String>(2)?))
                })
                .map_err(unavailable)?;
            rows.map(|row| {
                let (body, receives, reason) = row.map_err(unavailable)?;
                Ok(DeadLetter { job: Job::from_body(&body).ok(), body, receives, reason })
            })
            .collect()
        })
        .await
    }

    /// Jobs waiting or in flight in a queue.
    pub async fn len(&self, queue: QueueKind) -> Result<u64, QueueError> {
        self.with_conn(move |conn, _| {
            conn.query_row("SELECT COUNT(*) FROM jobs WHERE queue = ?1", params![queue.as_str()], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(unavailable)
        })
        .await
    }
}

fn move_to_dead_letters(
    tx: &rusqlite::Transaction<'_>,
    receipt: i64,
    reason: &str,
    now: u64,
) -> Result<(), QueueError> {
    tx.execute(
        "INSERT OR REPLACE INTO dead_letters (seq, queue, body, receives, reason, failed_at)
         SELECT seq, queue, body, receives, ?2, ?3 FROM jobs WHERE seq = ?1",
        params![receipt, reason, now as i64],
    )
    .map_err(unavailable)?;
    tx.execute("DELETE FROM jobs WHERE seq = ?1", params![receipt]).map_err(unavailable)?;
    Ok(())
}

#[async_trait]
impl JobQueue for EmbeddedQueue {
    async fn enqueue(&self, job: &Job) -> Result<(), QueueError> {
        let key = format!("{}:{}", job.queue().as_str(), job.deduplication_id());
        self.enqueue_grouped(job.queue(), &job.message_group(), &key, &job.to_body()?).await
    }
}

impl EmbeddedQueue {
    /// Queues a message body as it is (what an SQS client can send, readable or not),
    /// collapsing a repeat of `dedup_key` within the deduplication window.
    pub async fn enqueue_body(&self, queue: QueueKind, dedup_key: &str, body: &str) -> Result<(), QueueError> {
        let group = Job::from_body(body).map(|job| job.message_group()).unwrap_or_default();
        self.enqueue_grouped(queue, &group, dedup_key, body).await
    }

    /// Queues a body in a message group.
    async fn enqueue_grouped(
        &self,
        queue: QueueKind,
        group: &str,
        dedup_key: &str,
        body: &str,
    ) -> Result<(), QueueError> {
        let (group, key, body) = (group.to_owned(), dedup_key.to_owned(), body.to_owned());
        self.with_conn(move |conn, now| {
            let tx = conn.transaction().map_err(unavailable)?;
            // Expired keys go as new ones arrive, so the table holds one window's worth.
            tx.execute("DELETE FROM dedup WHERE until <= ?1", params![now as i64]).map_err(unavailable)?;
            let duplicate: Option<i64> = tx
                .query_row("SELECT until FROM dedup WHERE key = ?1 AND until > ?2", params![key, now as i64], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(unavailable)?;
            if duplicate.is_some() {
                return Ok(());
            }
            tx.execute(
                "INSERT OR REPLACE INTO dedup (key, until) VALUES (?1, ?2)",
                params![key, (now + DEDUPLICATION_WINDOW.as_secs()) as i64],
            )
            .map_err(unavailable)?;
            tx.execute(
                "INSERT INTO jobs (queue, dedup, body, enqueued_at, visible_at, grp) VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
                params![queue.as_str(), key, body, now as i64, group],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }
}

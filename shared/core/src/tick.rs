//! One scheduled tick, the same in the Lambda scheduler and the local stack: the schedule
//! backfill (guilds connected before connecting wrote a schedule), the syncs due, and the
//! timeline (reminders, starts, ends, board turns and the retention's archives), and the
//! deletion of disconnected guilds' data. Each part
//! runs even when another fails; the tick's answer and its log say how each part went.

use serde_json::{Value, json};

use crate::{
    forget::{ForgetReport, forget_pending},
    queue::JobQueue,
    store::{BackfillState, DomainStore},
    sync::{ScheduleReport, run_schedule},
    timeline::{TimelineError, TimelineReport, plan_open_subjects, run_timeline},
};

/// Table items the backfill reads per tick (a Scan's limit counts items read, not the guild
/// connections among them; each connection found gets its schedule and its open subjects'
/// archive planned): a walk that ends, not every tick's work. About 1 MB of reads a tick.
const BACKFILL_PAGE: u32 = 1000;

/// What one tick's share of the backfill did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackfillReport {
    /// Guilds given a schedule they lacked.
    pub scheduled: u64,
    /// Subjects with an open channel planned (their archive among them).
    pub planned: u64,
    /// The walk is over: later ticks do nothing here.
    pub done: bool,
}

/// Gives each guild connected before connecting wrote a schedule its schedule (the initial
/// sync due now), and plans its open subjects (their archive was not a due action before):
/// one page of the walk per tick, resumed where the last stopped, nothing once it is done.
pub async fn backfill_schedules(store: &dyn DomainStore, now: u64) -> Result<BackfillReport, TimelineError> {
    let after = match store.backfill_state().await? {
        Some(BackfillState::Done) => return Ok(BackfillReport { done: true, ..BackfillReport::default() }),
        Some(BackfillState::After(after)) => Some(after),
        None => None,
    };
    let (guilds, next) = store.connected_guilds(after.as_deref(), BACKFILL_PAGE).await?;
    let mut report = BackfillReport::default();
    for guild_id in guilds {
        if store.ensure_schedule(guild_id, now).await? {
            report.scheduled += 1;
        }
        report.planned += plan_open_subjects(store, guild_id).await? as u64;
    }
    let state = match next {
        Some(after) => BackfillState::After(after),
        None => {
            report.done = true;
            BackfillState::Done
        }
    };
    store.record_backfill(&state).await?;
    Ok(report)
}

/// How each part of one tick went: its report, or why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickReport {
    pub backfill: Result<BackfillReport, String>,
    pub schedule: Result<ScheduleReport, String>,
    pub timeline: Result<TimelineReport, String>,
    /// Disconnected guilds' data deleted.
    pub forget: Result<ForgetReport, String>,
}

impl TickReport {
    /// The parts that failed, by name.
    pub fn failed(&self) -> Vec<&'static str> {
        let mut failed = Vec::new();
        if self.backfill.is_err() {
            failed.push("backfill");
        }
        if self.schedule.is_err() {
            failed.push("schedule");
        }
        if self.timeline.is_err() {
            failed.push("timeline");
        }
        if self.forget.is_err() {
            failed.push("forget");
        }
        failed
    }

    /// The tick's answer: each part's counts, or its error.
    pub fn to_json(&self) -> Value {
        let part = |result: Result<Value, &String>| match result {
            Ok(counts) => counts,
            Err(error) => json!({ "error": error }),
        };
        json!({
            "backfill": part(self.backfill.as_ref().map(|b| json!({
                "scheduled": b.scheduled, "planned": b.planned, "done": b.done,
            }))),
            "schedule": part(self.schedule.as_ref().map(|s| json!({
                "due": s.due, "syncs": s.syncs, "failed": s.failed,
            }))),
            "timeline": part(self.timeline.as_ref().map(|t| json!({
                "due": t.due,
                "posted": t.posted,
                "skipped": t.skipped,
                "waiting": t.waiting,
                "completed": t.completed,
                "archives": t.archives,
                "boards": t.boards,
                "reminder_dms": t.dms,
            }))),
            "forget": part(self.forget.as_ref().map(|f| json!({ "deleted": f.deleted, "finished": f.finished }))),
            "failed": self.failed(),
        })
    }

    /// Each part by outcome, and the failures alone for the alarm.
    fn measure(&self) {
        use crate::domain::metrics::{TICK_FAILURES, TICK_PARTS};
        let failed = self.failed();
        for part in ["backfill", "schedule", "timeline", "forget"] {
            let outcome = if failed.contains(&part) { "failed" } else { "ok" };
            metrics::counter!(TICK_PARTS.name, "part" => part, "outcome" => outcome).increment(1);
        }
        metrics::counter!(TICK_FAILURES.name).increment(failed.len() as u64);
    }

    /// One log line for the tick: info when every part ran, error naming the parts that failed.
    fn log(&self) {
        let answer = self.to_json();
        let failed = self.failed();
        let busy = |r: &Result<u64, &String>| r.as_ref().is_ok_and(|n| *n > 0);
        let worked = busy(&self.schedule.as_ref().map(|s| s.due))
            || busy(&self.timeline.as_ref().map(|t| t.due))
            || busy(&self.backfill.as_ref().map(|b| b.scheduled + b.planned))
            || busy(&self.forget.as_ref().map(|f| f.deleted + f.finished));
        if failed.is_empty() && worked {
            tracing::info!(tick = %answer, "tick ran");
        } else if failed.is_empty() {
            tracing::debug!(tick = %answer, "tick ran; nothing was due");
        } else {
            tracing::error!(tick = %answer, failed = ?failed, "tick ran with failing parts; the next tick tries them again");
        }
    }
}

/// Runs one tick at `now`. The backfill goes first, so a guild it schedules syncs in the
/// same tick; every part runs whatever became of the others.
pub async fn run_tick(store: &dyn DomainStore, queue: &dyn JobQueue, now: u64) -> TickReport {
    let backfill = backfill_schedules(store, now).await.map_err(|error| error.to_string());
    let schedule = run_schedule(store, queue, now).await.map_err(|error| error.to_string());
    let timeline = run_timeline(store, queue, now).await.map_err(|error| error.to_string());
    let forget = forget_pending(store).await.map_err(|error| error.to_string());
    let report = TickReport { backfill, schedule, timeline, forget };
    report.log();
    report.measure();
    report
}

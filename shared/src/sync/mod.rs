//! Member synchronisation (flow 5) and the schedule that starts it (flow 6).

pub mod schedule;
pub mod worker;

pub use schedule::{ScheduleReport, run_schedule};
pub use worker::{SyncLimits, SyncWorker};

/// How long a sync holds the guild's lease without a checkpoint before another may take over.
pub const LEASE_SECONDS: u64 = 15 * 60;

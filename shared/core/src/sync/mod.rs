//! Member synchronisation: asking for a sync, the worker that runs it, and the schedule
//! that asks for one per guild at its interval.

pub mod requests;
pub mod schedule;
pub mod worker;

pub use requests::{REQUEST_LEASE, SyncRequest, SyncRequestError, SyncRequested, request_sync};
pub use schedule::{ScheduleReport, run_schedule};
pub use worker::{SyncLimits, SyncWorker};

/// How long a sync holds the guild's lease without a checkpoint before another may take over.
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

//! Forgetting a disconnected guild's data: the leave job starts right away and goes on while
//! its invocation has time; every tick then continues what is left, a bounded amount each.
//! Until the walk ends, the guild cannot be connected again (see `store::PurgeStore`).

use tokio::time::Instant;
use twilight_model::id::{Id, marker::GuildMarker};

use crate::store::{PurgeStep, PurgeStore, StoreError};

/// Items deleted per step (one Query page).
const PAGE: u32 = 100;
/// Items a tick deletes at most, across every guild being forgotten.
pub const TICK_BUDGET: u32 = 2_000;
/// Guilds a tick looks at.
const GUILDS_PER_TICK: u32 = 10;

/// What a share of the work did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ForgetReport {
    pub deleted: u64,
    /// Guilds whose data is all gone (they may be connected again).
    pub finished: u64,
}

/// Deletes the guild's data until it is gone or `deadline` comes; `finished` says which.
pub async fn forget_guild(
    store: &dyn PurgeStore,
    guild_id: Id<GuildMarker>,
    deadline: Instant,
) -> Result<ForgetReport, StoreError> {
    let mut report = ForgetReport::default();
    while Instant::now() < deadline {
        match store.purge_step(guild_id, PAGE).await? {
            PurgeStep::Removed(n) => report.deleted += u64::from(n),
            PurgeStep::Finished => {
                report.finished = 1;
                break;
            }
        }
    }
    Ok(report)
}

/// One tick's share: up to [`TICK_BUDGET`] items of the guilds being forgotten.
pub async fn forget_pending(store: &dyn PurgeStore) -> Result<ForgetReport, StoreError> {
    let mut report = ForgetReport::default();
    let mut left = u64::from(TICK_BUDGET);
    for guild_id in store.pending_purges(GUILDS_PER_TICK).await? {
        while left > 0 {
            match store.purge_step(guild_id, PAGE).await? {
                PurgeStep::Removed(n) => {
                    report.deleted += u64::from(n);
                    left = left.saturating_sub(u64::from(n));
                }
                PurgeStep::Finished => {
                    report.finished += 1;
                    break;
                }
            }
        }
    }
    Ok(report)
}

//! The relay: messages posted in relayed channels (a lead's) become `message.received` events
//! for the platform.
//!
//! Two ways in, one outbox:
//! - [`poller`]: serverless. One request per guild (`GET /guilds/{id}/channels`) shows every
//!   channel's last message; only the channels whose last message is past their cursor are
//!   read. A guild's checks come soon after activity and less and less often while it is quiet.
//! - [`gateway`]: optional, real time. A Gateway connection hands over each message as it
//!   is posted; while its heartbeat is fresh the poller only sweeps for gaps.
//!
//! Both read and relay a channel the same way ([`reader`]): a read is claimed by condition on
//! the channel's poll time, the events are queued first (their ids are the message's, so a
//! message relayed by both is delivered once), and the cursor is advanced after, by condition
//! on the cursor read. A reader that dies between the two leaves the cursor where it was: the
//! next read emits the same events again, with the same ids. So nothing is skipped.
//!
//! Every request goes through a Discord client holding the relay's fixed share of the global
//! rate limit ([`RELAY_REQUESTS_PER_SECOND`]).

pub mod gateway;
pub mod poller;
pub mod reader;

use std::time::Duration;

use crate::{
    discord::rest::{DiscordError, PermanentKind},
    store::StoreError,
};

pub use self::{
    gateway::{CatchUp, GatewayIngest, ShardOf},
    poller::{PassReport, RelayPoller, fair_turns},
    reader::{ChannelReader, Read, Seen},
};

/// The relay's share of Discord's 50 requests a second (the workers share the rest).
pub const RELAY_REQUESTS_PER_SECOND: usize = 10;

/// The gateway ingest's share of Discord's 50 requests a second, for its catch-up reads
/// (one list per guild, and a read per channel that changed) and `GET /gateway/bot`.
pub const GATEWAY_REQUESTS_PER_SECOND: usize = 2;

/// The relay's share of Discord's 10,000 invalid requests per 10 minutes: it stops polling
/// at this many refusals, leaving the rest to the workers, whatever the channels answer.
pub const RELAY_INVALID_REQUESTS: usize = 1_000;

/// How often guilds are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    /// After a message: the next check this soon.
    pub active: Duration,
    /// The longest a quiet guild waits between checks.
    pub idle_max: Duration,
    /// A claimed check or read belongs to its poller this long (then another may take it).
    pub lease: Duration,
    /// Channels read per pass.
    pub batch: u32,
    /// Guilds checked per pass.
    pub guilds: u32,
    /// While the gateway ingest is live, a guild is checked this often, to catch any gap.
    pub safety_net: Duration,
    /// The gateway ingest counts as live while its heartbeat is at most this old.
    pub gateway_stale: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            active: Duration::from_secs(2),
            idle_max: Duration::from_secs(60),
            lease: Duration::from_secs(30),
            batch: 50,
            guilds: 50,
            safety_net: Duration::from_secs(300),
            gateway_stale: Duration::from_secs(30),
        }
    }
}

impl PollPolicy {
    /// The interval after a check that found `found` changed channels, from `interval` before.
    pub fn next_interval(&self, interval: u64, found: usize) -> u64 {
        let active = self.active.as_secs().max(1);
        if found > 0 { active } else { (interval.max(active / 2).max(1) * 2).min(self.idle_max.as_secs().max(active)) }
    }

    /// Discord requests one guild's check costs an hour: at the active pace, fully idle, or
    /// while the gateway is live (channel reads come on top, one per channel that changed).
    pub fn checks_per_hour(&self, pace: Pace) -> u64 {
        let every = match pace {
            Pace::Active => self.active,
            Pace::Idle => self.idle_max,
            Pace::SafetyNet => self.safety_net,
        };
        3600 / every.as_secs().max(1)
    }
}

/// How fast a guild is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    Active,
    Idle,
    SafetyNet,
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Discord(#[from] DiscordError),
    #[error(transparent)]
    Events(#[from] crate::outbox::EmitError),
}

/// Whether Discord says the bot cannot read the channel (or guild) at all (403 Missing
/// Access or Missing Permissions, 404 Unknown Channel or Guild): retrying will not change that.
fn cannot_read(error: &DiscordError) -> bool {
    matches!(
        error.permanent_kind(),
        Some(
            PermanentKind::MissingAccess
                | PermanentKind::MissingPermissions
                | PermanentKind::UnknownChannel
                | PermanentKind::UnknownGuild
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_guilds_are_checked_soon_and_quiet_ones_less_and_less() {
        let policy = PollPolicy::default();
        assert_eq!(policy.next_interval(60, 3), 2, "a message: back to the active pace");
        assert_eq!(policy.next_interval(0, 0), 2);
        assert_eq!(policy.next_interval(2, 0), 4);
        assert_eq!(policy.next_interval(32, 0), 60, "capped");
        assert_eq!(policy.next_interval(60, 0), 60);
        assert_eq!(policy.checks_per_hour(Pace::Active), 1800);
        assert_eq!(policy.checks_per_hour(Pace::Idle), 60);
        assert_eq!(policy.checks_per_hour(Pace::SafetyNet), 12);
    }
}

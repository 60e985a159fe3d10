//! The gateway ingest's use case: messages the Gateway hands over are relayed as the poller
//! would relay them (same event ids, same cursor condition), and after a new session every
//! relayed channel is read once after its cursor, so messages sent while no session was up
//! are not lost.
//!
//! A channel's cursor moves with the gateway's messages only while the gateway has seen
//! every message in it since its last read (the channel is *continuous*): caught up in this
//! session, and the session unbroken (a resume replays what was missed). Otherwise the message
//! is relayed and the cursor left for a read, so a gap is never jumped.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use tokio::time::Instant;
use twilight_model::{
    channel::Message,
    id::{
        Id,
        marker::{ChannelMarker, GuildMarker, MessageMarker},
    },
};

use super::{
    RelayError,
    reader::{ChannelReader, Read, Seen, log_failed},
};
use crate::{
    domain::error::Report,
    store::{GatewayPulse, RelayedChannel},
};

/// Which guilds a shard carries: Discord's `(guild_id >> 22) % total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardOf {
    pub id: u32,
    pub total: u32,
}

impl ShardOf {
    pub fn carries(&self, guild: Id<GuildMarker>) -> bool {
        (guild.get() >> 22) % u64::from(self.total.max(1)) == u64::from(self.id)
    }
}

/// What a catch-up did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CatchUp {
    pub read: usize,
    pub relayed: usize,
    /// Left for the next round: another reader had them, or the read failed.
    pub pending: usize,
}

#[derive(Default)]
struct State {
    /// The relayed channels, as last read from the store.
    relayed: HashMap<Id<ChannelMarker>, RelayedChannel>,
    /// Channels whose every message since the last read the gateway has seen.
    continuous: HashSet<Id<ChannelMarker>>,
}

/// Relays what the Gateway sees. One per process, shared by its shards.
#[derive(Clone)]
pub struct GatewayIngest {
    reader: ChannelReader,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for GatewayIngest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayIngest").finish_non_exhaustive()
    }
}

impl GatewayIngest {
    pub fn new(reader: ChannelReader) -> Self {
        Self { reader, state: Arc::default() }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads the relayed channels from the store (a set, not a lookup per message). A channel
    /// new to the set is not continuous: the gateway ignored it until now.
    pub async fn refresh(&self) -> Result<usize, RelayError> {
        let all = self.reader.store.all_relays().await?;
        let mut state = self.state();
        let relayed: HashMap<_, _> = all.into_iter().map(|channel| (channel.channel_id, channel)).collect();
        let kept: HashSet<_> = state.continuous.iter().filter(|id| relayed.contains_key(id)).copied().collect();
        state.continuous = kept;
        state.relayed = relayed;
        Ok(state.relayed.len())
    }

    /// A new session on `shard` (READY, not a resume): its guilds' channels may have missed
    /// messages, and are read again.
    pub fn session_started(&self, shard: ShardOf) {
        let mut state = self.state();
        let State { relayed, continuous } = &mut *state;
        continuous.retain(|id| relayed.get(id).is_none_or(|channel| !shard.carries(channel.guild_id)));
    }

    /// Brings every relayed channel that is not continuous up to date: each guild's channel
    /// list (one request) shows which have messages past their cursor; those are read. Each
    /// one is continuous from then on (the session, up since before the list, carries
    /// whatever comes after).
    pub async fn catch_up(&self, deadline: Instant) -> CatchUp {
        let mut behind: HashMap<Id<GuildMarker>, Vec<RelayedChannel>> = HashMap::new();
        {
            let state = self.state();
            for channel in state.relayed.values().filter(|channel| !state.continuous.contains(&channel.channel_id)) {
                behind.entry(channel.guild_id).or_default().push(channel.clone());
            }
        }
        let mut report = CatchUp::default();
        for (guild, channels) in behind {
            let listed = match self.reader.discord.guild_channels(guild, deadline).await {
                Ok(listed) => listed,
                Err(error) => {
                    report.pending += channels.len();
                    tracing::warn!(%guild, error = %Report(&error), "catch-up could not list the guild's channels");
                    continue;
                }
            };
            let last: HashMap<Id<ChannelMarker>, Option<Id<MessageMarker>>> =
                listed.iter().map(|channel| (channel.id, channel.last_message_id.map(Id::cast))).collect();
            for channel in channels {
                match self.catch_up_channel(&channel, last.get(&channel.channel_id).copied(), deadline).await {
                    Ok(Some(relayed)) => {
                        report.read += 1;
                        report.relayed += relayed;
                        self.state().continuous.insert(channel.channel_id);
                    }
                    Ok(None) => report.pending += 1,
                    Err(error) => {
                        report.pending += 1;
                        log_failed(&error);
                    }
                }
            }
        }
        report
    }

    /// One channel of a catch-up, `listed` as its guild's list showed it: `Some` (messages
    /// relayed) once it is up to date, `None` when it is left for the next round.
    async fn catch_up_channel(
        &self,
        channel: &RelayedChannel,
        listed: Option<Option<Id<MessageMarker>>>,
        deadline: Instant,
    ) -> Result<Option<usize>, RelayError> {
        // The stored copy: the one in the set may be stale, and a claim needs the current.
        let Some(current) = self.reader.store.relayed(channel.guild_id, &channel.subject).await? else {
            return Ok(None);
        };
        if current.parked {
            return Ok(None);
        }
        let seen = match listed {
            // Nothing past the cursor as of the list: up to date without a read.
            Some(last) if last.is_none_or(|last| last <= current.cursor) => return Ok(Some(0)),
            Some(last) => Seen::Listed(last),
            None => Seen::Unlisted,
        };
        if current.next_poll_at > self.reader.clock.now() {
            // Another reader holds it: next round.
            return Ok(None);
        }
        match self.reader.read(&current, true, seen, deadline).await? {
            Read::Relayed(relayed) => Ok(Some(relayed)),
            Read::Parked | Read::NotOurs => Ok(None),
        }
    }

    /// A MESSAGE_CREATE: relayed if its channel is, with the cursor moved over it when the
    /// channel is continuous. Whether it was relayed.
    pub async fn on_message(&self, message: &Message) -> Result<bool, RelayError> {
        let (channel, continuous) = {
            let state = self.state();
            match state.relayed.get(&message.channel_id) {
                Some(channel) => (channel.clone(), state.continuous.contains(&message.channel_id)),
                None => return Ok(false),
            }
        };
        let relayed = self.reader.relay_seen(&channel, message, true, continuous).await;
        if relayed.is_err() {
            // Not relayed: the cursor must wait for a read, or a later message would jump it.
            self.state().continuous.remove(&message.channel_id);
        }
        relayed
    }

    /// Records the process's heartbeat: while it is fresh, the poller only sweeps for gaps.
    pub async fn pulse(&self, shards: &str) -> Result<(), RelayError> {
        let pulse = GatewayPulse { at: self.reader.clock.now(), shards: shards.to_owned(), behind: self.behind() };
        Ok(self.reader.store.record_gateway_pulse(&pulse).await?)
    }

    /// How many relayed channels are not continuous yet.
    pub fn behind(&self) -> usize {
        let state = self.state();
        state.relayed.keys().filter(|id| !state.continuous.contains(id)).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_carries_the_guilds_discord_sends_it() {
        let guild = Id::new(1_100_000_000_000_000_100u64);
        let total = 4;
        let carriers: Vec<u32> = (0..total).filter(|id| ShardOf { id: *id, total }.carries(guild)).collect();
        assert_eq!(carriers.len(), 1, "exactly one shard of four");
        assert_eq!(u64::from(carriers[0]), (guild.get() >> 22) % 4);
        assert!(ShardOf { id: 0, total: 1 }.carries(guild), "one shard carries everything");
    }
}

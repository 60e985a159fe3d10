//! The serverless relay: each guild with relayed channels is checked with one request
//! (`GET /guilds/{id}/channels`, every channel with its last message), and only the channels
//! whose last message is past their cursor are read.
//!
//! A guild's check is claimed by condition on its due time (one poller per due time). A guild
//! whose channels changed is checked again after [`PollPolicy::active`]; a quiet one's
//! interval doubles up to [`PollPolicy::idle_max`]; while the gateway ingest is live, every
//! guild waits [`PollPolicy::safety_net`]. The channels to read are taken guild by guild in
//! turn, so one guild's many busy channels never take another guild's turns.
//!
//! A relayed channel missing from the guild's list (a thread; or one deleted) is read on its
//! own, on its own interval: a deleted one answers 404 and is parked.

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio::time::Instant;
use twilight_model::id::{
    Id,
    marker::{ChannelMarker, MessageMarker, UserMarker},
};

use super::{
    PollPolicy, RelayError, cannot_read,
    reader::{ChannelReader, Read, Seen, log_failed},
};
use crate::{
    clock::SharedClock,
    discord::rest::DiscordClient,
    domain::error::Report,
    outbox::EventSink,
    store::{DomainStore, IntentStatus, RelayGuild, RelayedChannel},
};

/// The turns a pass takes: guild by guild in turn (each guild's in the order given, the
/// guilds in the order they first appear), `batch` in all. One guild's many entries take one
/// turn in each round, never the other guilds' turns; alone, a guild's backlog goes at full
/// speed.
pub fn fair_turns<T>(due: Vec<T>, batch: usize, guild_of: impl Fn(&T) -> u64) -> Vec<T> {
    let mut guilds: Vec<(u64, std::collections::VecDeque<T>)> = Vec::new();
    for entry in due {
        let guild = guild_of(&entry);
        match guilds.iter_mut().find(|(id, _)| *id == guild) {
            Some((_, entries)) => entries.push_back(entry),
            None => guilds.push((guild, std::collections::VecDeque::from([entry]))),
        }
    }
    let mut turns = Vec::new();
    while turns.len() < batch && guilds.iter().any(|(_, entries)| !entries.is_empty()) {
        for (_, entries) in &mut guilds {
            if turns.len() < batch {
                turns.extend(entries.pop_front());
            }
        }
    }
    turns
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Guilds whose check was due.
    pub due: usize,
    /// Guilds' channel lists read.
    pub checked: usize,
    /// Channels read.
    pub polled: usize,
    pub relayed: usize,
    pub failed: usize,
    /// Channels the bot cannot read any more, parked (never read again until mapped anew).
    pub parked: usize,
}

impl std::ops::AddAssign for PassReport {
    fn add_assign(&mut self, other: Self) {
        self.due += other.due;
        self.checked += other.checked;
        self.polled += other.polled;
        self.relayed += other.relayed;
        self.failed += other.failed;
        self.parked += other.parked;
    }
}

/// A channel to read, with what the guild's list showed of it.
struct Turn {
    channel: RelayedChannel,
    seen: Seen,
}

/// One guild's claimed check, and what its channels gave.
struct Check {
    claimed: RelayGuild,
    changed: usize,
    unread: usize,
}

#[derive(Clone, Debug)]
pub struct RelayPoller {
    reader: ChannelReader,
    /// Whether the gateway was live at the last pass (`None` before the first).
    gateway_was_live: Arc<std::sync::Mutex<Option<bool>>>,
}

impl RelayPoller {
    pub fn new(
        store: Arc<dyn DomainStore>,
        discord: DiscordClient,
        events: Arc<dyn EventSink>,
        bot_user_id: Id<UserMarker>,
    ) -> Self {
        Self {
            reader: ChannelReader::new(store, discord, events, bot_user_id, crate::clock::system()),
            gateway_was_live: Arc::default(),
        }
    }

    pub fn with_policy(mut self, policy: PollPolicy) -> Self {
        self.reader.policy = policy;
        self
    }

    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.reader.clock = clock;
        self
    }

    /// Reads the application's flags: whether message content reaches the bot. Recorded
    /// for the tenant API and the settings page.
    pub async fn check_intents(&self, deadline: Instant) -> Result<IntentStatus, RelayError> {
        let application = self.reader.discord.current_application(deadline).await?;
        let message_content = crate::discord::intents::message_content(application.flags);
        let status = IntentStatus { message_content, checked_at: self.reader.clock.now() };
        self.reader.store.record_intents(status).await?;
        Ok(status)
    }

    /// Passes until `deadline` (a Lambda invocation's end) or `stop`; the intent is read at
    /// the start and every ten minutes.
    pub async fn run_until(&self, deadline: Instant, mut stop: tokio::sync::watch::Receiver<bool>) -> PassReport {
        let mut total = PassReport::default();
        let mut intent: Option<(bool, Instant)> = None;
        while Instant::now() < deadline && !*stop.borrow() {
            if intent.is_none_or(|(_, at)| at.elapsed() > Duration::from_secs(600)) {
                match self.check_intents(deadline).await {
                    Ok(status) => intent = Some((status.message_content, Instant::now())),
                    Err(error) => tracing::warn!(error = %Report(&error), "could not read the application's intents"),
                }
            }
            let has_intent = intent.is_none_or(|(has, _)| has);
            match self.pass(has_intent, deadline).await {
                Ok(report) => total += report,
                Err(error) => tracing::warn!(error = %Report(&error), "relay pass failed; the next one tries again"),
            }
            let pause = Duration::from_millis(500).min(deadline.saturating_duration_since(Instant::now()));
            let _ = tokio::time::timeout(pause, stop.changed()).await;
        }
        total
    }

    /// Whether the gateway ingest's heartbeat is fresh.
    async fn gateway_live(&self, now: u64) -> Result<bool, RelayError> {
        let pulse = self.reader.store.gateway_pulse().await?;
        Ok(pulse.is_some_and(|pulse| pulse.at + self.reader.policy.gateway_stale.as_secs() >= now))
    }

    /// When the gateway is not live (and was, or this poller has just started), the guilds
    /// it had put on the safety net's slow cadence come due now: the poller takes over.
    async fn take_over_from_the_gateway(&self, now: u64) -> Result<bool, RelayError> {
        let live = self.gateway_live(now).await?;
        let was = self.gateway_was_live.lock().map(|mut was| was.replace(live)).unwrap_or(None);
        if live || was == Some(false) {
            return Ok(live);
        }
        let policy = &self.reader.policy;
        // Past a quiet guild's longest interval: only the safety net puts a check there.
        let after = now + policy.idle_max.as_secs();
        let slow = self.reader.store.relay_guilds_between(after, now + policy.safety_net.as_secs(), 1_000).await?;
        let mut moved = 0;
        for guild in slow {
            let soon = RelayGuild { next_check_at: now, ..guild.clone() };
            if self.reader.store.schedule_guild_check(&guild, &soon).await? {
                moved += 1;
            }
        }
        if moved > 0 {
            tracing::info!(guilds = moved, "the gateway's heartbeat is stale: the poller takes over");
        }
        Ok(live)
    }

    /// One pass: the guilds due now are checked, then their changed channels read.
    pub async fn pass(&self, has_intent: bool, deadline: Instant) -> Result<PassReport, RelayError> {
        let (store, policy) = (&self.reader.store, &self.reader.policy);
        let now = self.reader.clock.now();
        let live = self.take_over_from_the_gateway(now).await?;
        let due = store.due_relay_guilds(now, policy.guilds).await?;
        let mut report = PassReport { due: due.len(), ..PassReport::default() };
        let mut checks = Vec::new();
        let mut turns = Vec::new();
        for guild in due {
            if Instant::now() >= deadline {
                break;
            }
            let Some(claimed) = store.claim_guild_check(&guild, now, policy.lease.as_secs()).await? else { continue };
            match self.changed_channels(&claimed, now, deadline, &mut report).await {
                Ok(Some(changed)) => {
                    checks.push(Check { claimed, changed: changed.len(), unread: changed.len() });
                    turns.extend(changed);
                }
                Ok(None) => {}
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(guild = %claimed.guild_id, error = %Report(&error), "guild check failed; it is checked again after its lease");
                }
            }
        }
        for turn in fair_turns(turns, policy.batch as usize, |turn| turn.channel.guild_id.get()) {
            if Instant::now() >= deadline {
                break;
            }
            let guild = turn.channel.guild_id;
            match self.reader.read(&turn.channel, has_intent, turn.seen, deadline).await {
                Ok(Read::Relayed(relayed)) => {
                    report.polled += 1;
                    report.relayed += relayed;
                }
                Ok(Read::Parked) => report.parked += 1,
                Ok(Read::NotOurs) => {}
                Err(error) => {
                    report.failed += 1;
                    log_failed(&error);
                }
            }
            // Attempted: a failed read is claimed for its lease, so it is not tried at once.
            if let Some(check) = checks.iter_mut().find(|check| check.claimed.guild_id == guild) {
                check.unread -= 1;
            }
        }
        for check in checks {
            self.schedule(check, live).await?;
        }
        Ok(report)
    }

    /// Reads the guild's channel list: the relayed channels to read now, or `None` when the
    /// guild has none left (its check is dropped) or the bot cannot see it (all parked).
    async fn changed_channels(
        &self,
        claimed: &RelayGuild,
        now: u64,
        deadline: Instant,
        report: &mut PassReport,
    ) -> Result<Option<Vec<Turn>>, RelayError> {
        let store = &self.reader.store;
        let relays: Vec<RelayedChannel> =
            store.guild_relays(claimed.guild_id).await?.into_iter().filter(|channel| !channel.parked).collect();
        if relays.is_empty() {
            store.drop_relay_guild(claimed).await?;
            return Ok(None);
        }
        metrics::counter!(crate::domain::metrics::RELAY_POLLS.name, "kind" => "guild").increment(1);
        let listed = match self.reader.discord.guild_channels(claimed.guild_id, deadline).await {
            Ok(listed) => listed,
            // The bot left the guild, or the guild is gone: every channel is parked with why.
            Err(error) if cannot_read(&error) => {
                let reason = format!("relaying stopped: {}", error.explain());
                tracing::warn!(guild = %claimed.guild_id, %reason, "relayed guild's channels parked");
                for channel in relays {
                    let lease = self.reader.policy.lease.as_secs();
                    if let Some(taken) = store.claim_poll(&channel, now, lease).await?
                        && store.park_relay(&taken, &reason).await?
                    {
                        report.parked += 1;
                    }
                }
                store.drop_relay_guild(claimed).await?;
                return Ok(None);
            }
            Err(error) => return Err(error.into()),
        };
        report.checked += 1;
        let last: HashMap<Id<ChannelMarker>, Option<Id<MessageMarker>>> =
            listed.iter().map(|channel| (channel.id, channel.last_message_id.map(Id::cast))).collect();
        let changed = relays
            .into_iter()
            // A channel whose read is claimed (in flight, or failed) waits for its lease.
            .filter(|channel| channel.next_poll_at <= now)
            .filter_map(|channel| match last.get(&channel.channel_id) {
                Some(Some(seen)) if *seen > channel.cursor => Some(Turn { seen: Seen::Listed(Some(*seen)), channel }),
                Some(_) => None,
                // Not in the list: a thread, or deleted. Read on its own interval.
                None => Some(Turn { channel, seen: Seen::Unlisted }),
            })
            .collect();
        Ok(Some(changed))
    }

    /// Writes the guild's next check: soon after activity (at once if channels are left to
    /// read), less and less often while quiet, and only as a safety net while the gateway
    /// ingest is live.
    async fn schedule(&self, check: Check, gateway_live: bool) -> Result<(), RelayError> {
        let policy = &self.reader.policy;
        let now = self.reader.clock.now();
        let interval = policy.next_interval(check.claimed.interval, check.changed);
        let wait = if check.unread > 0 {
            0
        } else if gateway_live {
            interval.max(policy.safety_net.as_secs())
        } else {
            interval
        };
        let next = RelayGuild { next_check_at: now + wait, interval, ..check.claimed.clone() };
        if !self.reader.store.schedule_guild_check(&check.claimed, &next).await? {
            tracing::info!(guild = %check.claimed.guild_id, "the guild's check was rescheduled meanwhile");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guild_with_many_due_channels_does_not_take_the_others_turns() {
        // Guild 1 has 100 channels due first; guilds 2 and 3 one each, due later.
        let mut all: Vec<(u64, u64)> = (0..100).map(|n| (1, n)).collect();
        all.extend([(2, 200), (3, 300)]);
        let turns = fair_turns(all, 6, |(guild, _)| *guild);
        let guilds: Vec<u64> = turns.iter().map(|(guild, _)| *guild).collect();
        assert_eq!(guilds, [1, 2, 3, 1, 1, 1], "each guild in turn, then the rest of guild 1's");
        let first: Vec<u64> = turns.iter().filter(|(guild, _)| *guild == 1).map(|(_, n)| *n).collect();
        assert_eq!(first, [0, 1, 2, 3], "a guild's own channels in order");
        assert_eq!(
            fair_turns((0..20).map(|n| (n + 1, n)).collect(), 10, |(guild, _)| *guild).len(),
            10,
            "the batch is the cap"
        );
    }
}

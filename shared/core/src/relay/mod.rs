//! The relay: without a gateway connection, relayed channels (a lead's) are polled for new
//! messages, and each one becomes a `message.received` event for the platform.
//!
//! A poll is claimed by condition on its due time (one poller per due time), reads the
//! messages after the channel's cursor (Discord answers newest first; they are handed on
//! oldest first), queues their events, and only then advances the cursor, by condition on
//! the cursor it read. A poller that dies between the two leaves the cursor where it was:
//! the next poll emits the same events again, with the same ids, and their delivery is
//! deduplicated on them. So two pollers at once never emit a message twice, and none is
//! skipped.
//!
//! Busy channels are polled every [`PollPolicy::active`]; a quiet one's interval doubles up
//! to [`PollPolicy::idle_max`]. Every request goes through a Discord client holding the
//! relay's fixed share of the global rate limit ([`RELAY_REQUESTS_PER_SECOND`]).

use crate::domain::error::Report;
use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio::time::Instant;
use twilight_model::{
    channel::{Message, message::MessageType},
    id::{Id, marker::UserMarker},
    oauth::ApplicationFlags,
};

use crate::{
    clock::SharedClock,
    discord::rest::{DiscordClient, DiscordError, MAX_MESSAGES_PAGE, PermanentKind},
    domain::{EventDraft, EventType},
    outbox::EventSink,
    store::{DomainStore, IntentStatus, RelayedChannel, StoreError},
};

/// The relay's share of Discord's 50 requests a second (the workers share the rest).
pub const RELAY_REQUESTS_PER_SECOND: usize = 10;

/// The relay's share of Discord's 10,000 invalid requests per 10 minutes: it stops polling
/// at this many refusals, leaving the rest to the workers, whatever the channels answer.
pub const RELAY_INVALID_REQUESTS: usize = 1_000;

/// How often channels are polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    /// After a message: the next poll this soon.
    pub active: Duration,
    /// The longest a quiet channel waits between polls.
    pub idle_max: Duration,
    /// A claimed poll belongs to its poller this long (then another may take it).
    pub lease: Duration,
    /// Channels taken per pass.
    pub batch: u32,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            active: Duration::from_secs(2),
            idle_max: Duration::from_secs(60),
            lease: Duration::from_secs(30),
            batch: 50,
        }
    }
}

impl PollPolicy {
    /// The interval after a poll that found `found` messages, from `interval` before.
    pub fn next_interval(&self, interval: u64, found: usize) -> u64 {
        let active = self.active.as_secs().max(1);
        if found > 0 { active } else { (interval.max(active / 2).max(1) * 2).min(self.idle_max.as_secs().max(active)) }
    }

    /// Discord requests one channel costs an hour: polled at the active pace, or fully idle.
    pub fn requests_per_hour(&self, active: bool) -> u64 {
        let every = if active { self.active.as_secs() } else { self.idle_max.as_secs() };
        3600 / every.max(1)
    }
}

/// The channels a pass polls: guild by guild in turn (each guild's channels in due order,
/// the guilds in the order their first channel fell due), `batch` in all. One guild's many
/// channels take one turn in each round, never the other guilds' turns; alone, a guild's
/// backlog is polled at full speed.
pub fn fair_turns(due: Vec<RelayedChannel>, batch: usize) -> Vec<RelayedChannel> {
    let mut guilds: Vec<(u64, std::collections::VecDeque<RelayedChannel>)> = Vec::new();
    for channel in due {
        let guild = channel.guild_id.get();
        match guilds.iter_mut().find(|(id, _)| *id == guild) {
            Some((_, channels)) => channels.push_back(channel),
            None => guilds.push((guild, std::collections::VecDeque::from([channel]))),
        }
    }
    let mut turns = Vec::new();
    while turns.len() < batch && guilds.iter().any(|(_, channels)| !channels.is_empty()) {
        for (_, channels) in &mut guilds {
            if turns.len() < batch {
                turns.extend(channels.pop_front());
            }
        }
    }
    turns
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

/// What became of one channel's turn.
enum Polled {
    /// Another poller had it.
    NotOurs,
    Relayed(usize),
    Parked,
}

/// Whether Discord says the bot cannot read the channel at all (403 Missing Access or
/// Missing Permissions, 404 Unknown Channel or Guild): retrying will not change that.
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

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    pub due: usize,
    pub polled: usize,
    pub relayed: usize,
    pub failed: usize,
    /// Channels the bot cannot read any more, parked (never polled again until mapped anew).
    pub parked: usize,
}

#[derive(Clone)]
pub struct RelayPoller {
    store: Arc<dyn DomainStore>,
    discord: DiscordClient,
    events: Arc<dyn EventSink>,
    bot_user_id: Id<UserMarker>,
    policy: PollPolicy,
    clock: SharedClock,
}

impl std::fmt::Debug for RelayPoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayPoller").field("policy", &self.policy).finish_non_exhaustive()
    }
}

/// Whether Discord withheld the message's content: without the Message Content intent a
/// bot gets content only for messages that mention it (and DMs, and replies to it).
fn withheld(message: &Message, has_intent: bool, bot: Id<UserMarker>) -> bool {
    let mentions_bot = message.mentions.iter().any(|mention| mention.id == bot)
        || message.referenced_message.as_ref().is_some_and(|replied| replied.author.id == bot);
    !has_intent
        && !mentions_bot
        && message.content.is_empty()
        && message.attachments.is_empty()
        && message.embeds.is_empty()
}

impl RelayPoller {
    pub fn new(
        store: Arc<dyn DomainStore>,
        discord: DiscordClient,
        events: Arc<dyn EventSink>,
        bot_user_id: Id<UserMarker>,
    ) -> Self {
        Self { store, discord, events, bot_user_id, policy: PollPolicy::default(), clock: crate::clock::system() }
    }

    pub fn with_policy(mut self, policy: PollPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Reads the application's flags: whether message content reaches the bot. Recorded
    /// for the tenant API and the settings page.
    pub async fn check_intents(&self, deadline: Instant) -> Result<IntentStatus, RelayError> {
        let application = self.discord.current_application(deadline).await?;
        let flags = application.flags.unwrap_or(ApplicationFlags::empty());
        let message_content = flags
            .intersects(ApplicationFlags::GATEWAY_MESSAGE_CONTENT | ApplicationFlags::GATEWAY_MESSAGE_CONTENT_LIMITED);
        let status = IntentStatus { message_content, checked_at: self.clock.now() };
        self.store.record_intents(status).await?;
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
                Ok(report) => {
                    total.due += report.due;
                    total.polled += report.polled;
                    total.relayed += report.relayed;
                    total.failed += report.failed;
                    total.parked += report.parked;
                }
                Err(error) => tracing::warn!(error = %Report(&error), "relay pass failed; the next one tries again"),
            }
            let pause = Duration::from_millis(500).min(deadline.saturating_duration_since(Instant::now()));
            let _ = tokio::time::timeout(pause, stop.changed()).await;
        }
        total
    }

    /// One pass over the channels due now.
    pub async fn pass(&self, has_intent: bool, deadline: Instant) -> Result<PassReport, RelayError> {
        // More than a pass takes, so the guilds behind a crowded one get their turns too.
        let due = self.store.due_relays(self.clock.now(), self.policy.batch.saturating_mul(4)).await?;
        let due = fair_turns(due, self.policy.batch as usize);
        let mut report = PassReport { due: due.len(), ..PassReport::default() };
        for channel in due {
            if Instant::now() >= deadline {
                break;
            }
            match self.poll(channel, has_intent, deadline).await {
                Ok(Polled::Relayed(relayed)) => {
                    report.polled += 1;
                    report.relayed += relayed;
                }
                Ok(Polled::Parked) => report.parked += 1,
                Ok(Polled::NotOurs) => {}
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(error = %Report(&error), "relay poll failed; the channel is polled again after its lease");
                }
            }
        }
        Ok(report)
    }

    /// Polls one channel if this poller claims it.
    async fn poll(&self, channel: RelayedChannel, has_intent: bool, deadline: Instant) -> Result<Polled, RelayError> {
        let Some(mut claimed) = self.store.claim_poll(&channel, self.clock.now(), self.policy.lease.as_secs()).await?
        else {
            return Ok(Polled::NotOurs);
        };
        let mut relayed = 0;
        let mut links: HashMap<Id<UserMarker>, Option<String>> = HashMap::new();
        loop {
            let read =
                self.discord.channel_messages_after(claimed.channel_id, claimed.cursor, MAX_MESSAGES_PAGE, deadline);
            let mut page = match read.await {
                Ok(page) => page,
                // The bot was kicked, or the channel deleted: polling it again would only spend
                // the invalid-request budget every tenant's relay shares.
                Err(error) if cannot_read(&error) => {
                    let reason = format!("relaying stopped: {}", error.explain());
                    tracing::warn!(subject = %channel.subject, %reason, "relayed channel parked");
                    self.store.park_relay(&claimed, &reason).await?;
                    return Ok(Polled::Parked);
                }
                Err(error) => return Err(error.into()),
            };
            let full = page.len() >= usize::from(MAX_MESSAGES_PAGE);
            page.sort_by_key(|message| message.id);
            let mut next = claimed.clone();
            let mut drafts = Vec::new();
            for message in &page {
                next.cursor = next.cursor.max(message.id);
                if message.author.id == self.bot_user_id
                    || !matches!(message.kind, MessageType::Regular | MessageType::Reply)
                {
                    continue;
                }
                let platform_user = match links.get(&message.author.id) {
                    Some(known) => known.clone(),
                    None => {
                        let link = self.store.link_of_discord_user(channel.guild_id, message.author.id).await?;
                        let user = link.map(|link| link.platform_user);
                        links.insert(message.author.id, user.clone());
                        user
                    }
                };
                let by_subject = claimed.subject_user == Some(message.author.id);
                let at = self.clock.now();
                if by_subject && next.conversation_joined_at.is_none() {
                    next.conversation_joined_at = Some(at);
                }
                drafts.push(self.draft(&claimed, message, platform_user, by_subject, has_intent, at));
            }
            let now = self.clock.now();
            if !drafts.is_empty() {
                next.last_message_at = Some(now);
            }
            relayed += drafts.len();
            next.interval = self.policy.next_interval(claimed.interval, page.len());
            next.next_poll_at = if full { now } else { now + next.interval };
            // Events first, cursor after: a failure here leaves the cursor, and the next
            // poll emits the same events (same ids) again.
            self.events.emit(channel.guild_id, drafts).await?;
            if !self.store.advance_relay(&claimed, &next).await? {
                tracing::info!(subject = %channel.subject, "another poller moved the cursor; its events stand");
                return Ok(Polled::Relayed(relayed));
            }
            if !full || Instant::now() >= deadline {
                return Ok(Polled::Relayed(relayed));
            }
            claimed = next;
        }
    }

    fn draft(
        &self,
        channel: &RelayedChannel,
        message: &Message,
        platform_user: Option<String>,
        by_subject: bool,
        has_intent: bool,
        now: u64,
    ) -> EventDraft {
        let data = serde_json::json!({
            "message_id": message.id.to_string(),
            "channel_id": channel.channel_id.to_string(),
            "author": {
                "id": message.author.id.to_string(),
                "username": message.author.name,
                "display_name": message.author.global_name,
                "platform_user": platform_user,
            },
            "from_subject_user": by_subject,
            "content": message.content,
            "content_withheld": withheld(message, has_intent, self.bot_user_id),
            "attachments": message.attachments.iter().map(|attachment| attachment.url.clone()).collect::<Vec<_>>(),
            "reply_to": message.reference.as_ref().and_then(|reference| reference.message_id).map(|id| id.to_string()),
            "sent_at": message.timestamp.as_secs(),
        });
        EventDraft::new(EventType::MessageReceived, format!("message:{}", message.id), now, data)
            .about(&channel.subject)
            .by(platform_user)
    }
}

#[cfg(test)]
mod tests {
    use twilight_model::id::Id;

    use super::*;
    use crate::domain::{SubjectKind, SubjectRef};

    fn due(guild: u64, n: u64) -> RelayedChannel {
        RelayedChannel {
            guild_id: Id::new(guild),
            subject: SubjectRef::new(SubjectKind::Lead, format!("{guild}-{n}")),
            channel_id: Id::new(guild * 1000 + n),
            cursor: Id::new(1),
            next_poll_at: n,
            interval: 2,
            last_message_at: None,
            subject_user: None,
            conversation_joined_at: None,
            parked: false,
            parked_reason: None,
        }
    }

    #[test]
    fn a_guild_with_many_due_channels_does_not_take_the_others_turns() {
        // Guild 1 has 100 channels due first; guilds 2 and 3 one each, due later.
        let mut all: Vec<RelayedChannel> = (0..100).map(|n| due(1, n)).collect();
        all.extend([due(2, 200), due(3, 300)]);
        let turns = fair_turns(all, 6);
        let guilds: Vec<u64> = turns.iter().map(|channel| channel.guild_id.get()).collect();
        assert_eq!(guilds, [1, 2, 3, 1, 1, 1], "each guild in turn, then the rest of guild 1's");
        let first: Vec<u64> = turns.iter().filter(|c| c.guild_id.get() == 1).map(|c| c.next_poll_at).collect();
        assert_eq!(first, [0, 1, 2, 3], "a guild's own channels in due order");
        assert_eq!(fair_turns((0..20).map(|n| due(n + 1, n)).collect(), 10).len(), 10, "the batch is the cap");
    }

    #[test]
    fn busy_channels_are_polled_soon_and_quiet_ones_less_and_less() {
        let policy = PollPolicy::default();
        assert_eq!(policy.next_interval(60, 3), 2, "a message: back to the active pace");
        assert_eq!(policy.next_interval(0, 0), 2);
        assert_eq!(policy.next_interval(2, 0), 4);
        assert_eq!(policy.next_interval(32, 0), 60, "capped");
        assert_eq!(policy.next_interval(60, 0), 60);
        assert_eq!(policy.requests_per_hour(true), 1800);
        assert_eq!(policy.requests_per_hour(false), 60);
    }
}

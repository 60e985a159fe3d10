//! Reading one relayed channel after its cursor, and relaying what was read: shared by the
//! poller and the gateway ingest's catch-up, so both emit the same events with the same ids.

use std::{collections::HashMap, sync::Arc};

use tokio::time::Instant;
use twilight_model::{
    channel::{Message, message::MessageType},
    id::{
        Id,
        marker::{MessageMarker, UserMarker},
    },
};

use super::{PollPolicy, RelayError, cannot_read};
use crate::{
    clock::SharedClock,
    discord::rest::{DiscordClient, MAX_MESSAGES_PAGE},
    domain::{EventDraft, EventType, error::Report},
    outbox::EventSink,
    store::{DomainStore, RelayedChannel},
};

/// What became of one channel's read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Another reader had it.
    NotOurs,
    /// Read: this many messages relayed.
    Relayed(usize),
    /// The bot cannot read the channel any more: parked.
    Parked,
}

/// What the reader knows of a channel before reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// In its guild's channel list, with the last message the list showed (read whenever it
    /// changes: its next poll time stays now, and serves only to claim a read).
    Listed(Option<Id<MessageMarker>>),
    /// Not in the list (a thread): read on its own interval.
    Unlisted,
}

/// Reads relayed channels and hands their messages to the outbox.
#[derive(Clone)]
pub struct ChannelReader {
    pub(super) store: Arc<dyn DomainStore>,
    pub(super) discord: DiscordClient,
    events: Arc<dyn EventSink>,
    bot_user_id: Id<UserMarker>,
    pub(super) policy: PollPolicy,
    pub(super) clock: SharedClock,
}

impl std::fmt::Debug for ChannelReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelReader").field("policy", &self.policy).finish_non_exhaustive()
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

impl ChannelReader {
    pub fn new(
        store: Arc<dyn DomainStore>,
        discord: DiscordClient,
        events: Arc<dyn EventSink>,
        bot_user_id: Id<UserMarker>,
        clock: SharedClock,
    ) -> Self {
        Self { store, discord, events, bot_user_id, policy: PollPolicy::default(), clock }
    }

    /// Reads the channel after its cursor if this reader claims it. When nothing is left to
    /// read, the cursor moves up to the last message the guild's list showed (a deleted
    /// message leaves it ahead of every message there is).
    pub async fn read(
        &self,
        channel: &RelayedChannel,
        has_intent: bool,
        seen: Seen,
        deadline: Instant,
    ) -> Result<Read, RelayError> {
        let lease = self.policy.lease.as_secs();
        let Some(mut claimed) = self.store.claim_poll(channel, self.clock.now(), lease).await? else {
            return Ok(Read::NotOurs);
        };
        let mut relayed = 0;
        let mut links: HashMap<Id<UserMarker>, Option<String>> = HashMap::new();
        loop {
            metrics::counter!(crate::domain::metrics::RELAY_POLLS.name, "kind" => "channel").increment(1);
            let read =
                self.discord.channel_messages_after(claimed.channel_id, claimed.cursor, MAX_MESSAGES_PAGE, deadline);
            let mut page = match read.await {
                Ok(page) => page,
                // The bot was kicked, or the channel deleted: reading it again would only spend
                // the invalid-request budget every tenant's relay shares.
                Err(error) if cannot_read(&error) => {
                    let reason = format!("relaying stopped: {}", error.explain());
                    tracing::warn!(subject = %channel.subject, %reason, "relayed channel parked");
                    self.store.park_relay(&claimed, &reason).await?;
                    return Ok(Read::Parked);
                }
                Err(error) => return Err(error.into()),
            };
            let full = page.len() >= usize::from(MAX_MESSAGES_PAGE);
            page.sort_by_key(|message| message.id);
            let mut next = claimed.clone();
            if let (true, Seen::Listed(Some(last))) = (page.is_empty(), seen) {
                next.cursor = next.cursor.max(last);
            }
            let mut drafts = Vec::new();
            for message in &page {
                next.cursor = next.cursor.max(message.id);
                if let Some(draft) = self.draft_of(&mut next, message, has_intent, &mut links).await? {
                    drafts.push(draft);
                }
            }
            let now = self.clock.now();
            if !drafts.is_empty() {
                next.last_message_at = Some(now);
            }
            relayed += drafts.len();
            next.interval = self.policy.next_interval(claimed.interval, page.len());
            next.next_poll_at = match seen {
                Seen::Unlisted if !full => now + next.interval,
                _ => now,
            };
            // Events first, cursor after: a failure here leaves the cursor, and the next
            // read emits the same events (same ids) again.
            self.events.emit(channel.guild_id, drafts).await?;
            if !self.store.advance_relay(&claimed, &next).await? {
                tracing::info!(subject = %channel.subject, "another reader moved the cursor; its events stand");
                return Ok(Read::Relayed(relayed));
            }
            if !full || Instant::now() >= deadline {
                return Ok(Read::Relayed(relayed));
            }
            claimed = next;
        }
    }

    /// Relays one message the gateway saw in the channel, and moves the cursor over it when
    /// the gateway saw every message before it in this channel (`continuous`). Whether it
    /// was relayed (not the bot's own, nor a system message, nor already behind the cursor).
    pub async fn relay_seen(
        &self,
        channel: &RelayedChannel,
        message: &Message,
        has_intent: bool,
        continuous: bool,
    ) -> Result<bool, RelayError> {
        for _ in 0..5 {
            let current = match self.store.relayed(channel.guild_id, &channel.subject).await? {
                Some(stored) if !stored.parked && stored.channel_id == channel.channel_id => stored,
                _ => return Ok(false),
            };
            if message.id <= current.cursor {
                return Ok(false);
            }
            let mut next = current.clone();
            let draft = self.draft_of(&mut next, message, has_intent, &mut HashMap::new()).await?;
            let relayed = draft.is_some();
            if let Some(draft) = draft {
                next.last_message_at = Some(self.clock.now());
                self.events.emit(channel.guild_id, vec![draft]).await?;
            }
            if !continuous {
                // A gap may hide messages before this one: the cursor waits for a read.
                return Ok(relayed);
            }
            next.cursor = message.id;
            if self.store.advance_relay(&current, &next).await? {
                return Ok(relayed);
            }
        }
        tracing::warn!(subject = %channel.subject, "the cursor kept moving; a later read takes it on");
        Ok(true)
    }

    /// The event for one message, or `None` for the bot's own and for system messages.
    async fn draft_of(
        &self,
        next: &mut RelayedChannel,
        message: &Message,
        has_intent: bool,
        links: &mut HashMap<Id<UserMarker>, Option<String>>,
    ) -> Result<Option<EventDraft>, RelayError> {
        if message.author.id == self.bot_user_id || !matches!(message.kind, MessageType::Regular | MessageType::Reply) {
            return Ok(None);
        }
        let platform_user = match links.get(&message.author.id) {
            Some(known) => known.clone(),
            None => {
                let link = self.store.link_of_discord_user(next.guild_id, message.author.id).await?;
                let user = link.map(|link| link.platform_user);
                links.insert(message.author.id, user.clone());
                user
            }
        };
        record_lag(message);
        let by_subject = next.subject_user == Some(message.author.id);
        let at = self.clock.now();
        if by_subject && next.conversation_joined_at.is_none() {
            next.conversation_joined_at = Some(at);
        }
        Ok(Some(self.draft(next, message, platform_user, by_subject, has_intent, at)))
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

/// The time from the message's own timestamp to now, when its event is drafted (wall time,
/// whatever clock the reader was given: the lag is what a platform waits).
fn record_lag(message: &Message) {
    let now_micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_micros() as i64)
        .unwrap_or_default();
    let lag_ms = (now_micros - message.timestamp.as_micros()).max(0) / 1000;
    metrics::histogram!(crate::domain::metrics::RELAY_LAG.name).record(lag_ms as f64);
}

/// Logs a read that failed; the channel is read again after its lease.
pub(super) fn log_failed(error: &RelayError) {
    tracing::warn!(error = %Report(error), "relay read failed; the channel is read again after its lease");
}

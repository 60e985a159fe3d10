//! Relayed channels: each with the cursor (the last message relayed), listed by guild; and
//! each relayed guild with when its channel list is checked next, found through an index. A
//! channel's read is claimed by condition on its poll time, and the cursor advanced by
//! condition on the cursor it started from, so two pollers at once (or a poller and the
//! gateway ingest) never read the same channel twice for one claim, and never move a cursor
//! past messages the other has not handed on.

use async_trait::async_trait;
use guildbridge_domain::error::Cause;
use serde::{Deserialize, Serialize};
use serde_json::json;
use twilight_model::id::{
    Id,
    marker::{ChannelMarker, GuildMarker, MessageMarker, UserMarker},
};

use super::{
    Store, StoreError, from_item,
    items::{Condition, Item, ItemError, ItemStore, Query, SortKeyRange},
    schema::{Index, attr, keys, sortable_time},
    to_item,
};
use guildbridge_domain::SubjectRef;

/// One relayed channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayedChannel {
    pub guild_id: Id<GuildMarker>,
    pub subject: SubjectRef,
    pub channel_id: Id<ChannelMarker>,
    /// Messages after this one are still to relay (the channel's own id at first: every
    /// message in it has a later id).
    pub cursor: Id<MessageMarker>,
    /// Unix seconds.
    pub next_poll_at: u64,
    /// Seconds between polls now: short after activity, growing while the channel is quiet.
    pub interval: u64,
    #[serde(default)]
    pub last_message_at: Option<u64>,
    /// The subject's own Discord user, whose messages are the lead's side of the conversation.
    #[serde(default)]
    pub subject_user: Option<Id<UserMarker>>,
    /// When the subject's own user first wrote in the channel.
    #[serde(default)]
    pub conversation_joined_at: Option<u64>,
    /// Parked: Discord answered that the bot cannot read the channel (missing access, an
    /// unknown channel). A parked channel leaves the poll index until it is mapped anew.
    #[serde(default)]
    pub parked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parked_reason: Option<String>,
}

/// A guild with relayed channels: when the poller next reads its channel list (one request
/// shows every channel's last message) to find the channels that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayGuild {
    pub guild_id: Id<GuildMarker>,
    /// Unix seconds (a claim's lease while a poller checks it).
    pub next_check_at: u64,
    /// Seconds between checks now: short after activity, growing while the guild is quiet.
    pub interval: u64,
}

/// The gateway ingest's last sign of life: while it is fresh, the poller only sweeps for gaps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayPulse {
    /// Unix seconds.
    pub at: u64,
    /// The shards the process that wrote it runs, as `first..=last` of `total`.
    pub shards: String,
    /// Relayed channels it has not caught up with yet (after a new session).
    #[serde(default)]
    pub behind: usize,
}

/// What the bot's application allows, as last read from Discord.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentStatus {
    /// Whether the Message Content intent is on (message content reaches the bot).
    pub message_content: bool,
    pub checked_at: u64,
}

#[async_trait]
pub trait RelayStore: Send + Sync {
    /// Starts relaying a channel; one already relayed keeps its cursor, one parked starts
    /// anew (its channel was mapped again).
    async fn watch_relay(&self, channel: &RelayedChannel) -> Result<(), StoreError>;
    /// Stops relaying every channel of the guild (it was disconnected); how many there were.
    async fn unwatch_guild_relays(&self, guild_id: Id<GuildMarker>) -> Result<usize, StoreError>;
    /// Parks the channel this poll claimed, with why (`false` when the claim was lost).
    async fn park_relay(&self, claimed: &RelayedChannel, reason: &str) -> Result<bool, StoreError>;
    /// Stops relaying the subject's channel.
    async fn unwatch_relay(&self, guild_id: Id<GuildMarker>, subject: &SubjectRef) -> Result<(), StoreError>;
    async fn relayed(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
    ) -> Result<Option<RelayedChannel>, StoreError>;
    /// Takes the poll due at `channel.next_poll_at` for `lease` seconds: `Some` (the channel
    /// as claimed) for one caller per due time.
    async fn claim_poll(
        &self,
        channel: &RelayedChannel,
        now: u64,
        lease: u64,
    ) -> Result<Option<RelayedChannel>, StoreError>;
    /// Writes `next` if the cursor is still `claimed.cursor`; `false` when another poller
    /// moved it (its events cover these messages too; theirs are deduplicated by id).
    async fn advance_relay(&self, claimed: &RelayedChannel, next: &RelayedChannel) -> Result<bool, StoreError>;
    /// Guilds whose channel list is due at or before `now`, earliest first.
    async fn due_relay_guilds(&self, now: u64, limit: u32) -> Result<Vec<RelayGuild>, StoreError>;
    /// Guilds whose check falls after `after` and at or before `upto`, earliest first.
    async fn relay_guilds_between(&self, after: u64, upto: u64, limit: u32) -> Result<Vec<RelayGuild>, StoreError>;
    /// Takes the check due at `guild.next_check_at` for `lease` seconds: `Some` for one
    /// caller per due time.
    async fn claim_guild_check(
        &self,
        guild: &RelayGuild,
        now: u64,
        lease: u64,
    ) -> Result<Option<RelayGuild>, StoreError>;
    /// Writes the guild's next check if the claim still stands (`false` when it was lost).
    async fn schedule_guild_check(&self, claimed: &RelayGuild, next: &RelayGuild) -> Result<bool, StoreError>;
    /// Forgets a guild that has no relayed channel left, if the claim still stands.
    async fn drop_relay_guild(&self, claimed: &RelayGuild) -> Result<bool, StoreError>;
    /// The guild's relayed channels, parked ones too.
    async fn guild_relays(&self, guild_id: Id<GuildMarker>) -> Result<Vec<RelayedChannel>, StoreError>;
    /// Every relayed channel not parked, in every guild.
    async fn all_relays(&self) -> Result<Vec<RelayedChannel>, StoreError>;
    async fn record_gateway_pulse(&self, pulse: &GatewayPulse) -> Result<(), StoreError>;
    async fn gateway_pulse(&self) -> Result<Option<GatewayPulse>, StoreError>;
    async fn record_intents(&self, status: IntentStatus) -> Result<(), StoreError>;
    async fn intents(&self) -> Result<Option<IntentStatus>, StoreError>;
    /// The relay of the subject's channel compares authors with `user` from now on (its
    /// conversation starts anew), and polls soon. A poll in flight then does not write its
    /// stale copy back. `false` when the channel is not relayed or already follows `user`.
    async fn follow_relay_user(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        user: Option<Id<UserMarker>>,
        now: u64,
    ) -> Result<bool, StoreError>;
}

const NEXT_POLL_AT: &str = "next_poll_at";
const CURSOR: &str = "cursor";
const PARKED: &str = "parked";

fn relay_item(channel: &RelayedChannel) -> Result<Item, StoreError> {
    let subject = &channel.subject;
    let key = keys::relay(channel.guild_id.get(), subject.kind.as_str(), &subject.id);
    if channel.parked {
        // No index attributes: a parked channel is never due.
        return to_item(&key, channel, &[]);
    }
    to_item(
        &key,
        channel,
        &[
            (attr::GSI1_PK, json!(keys::RELAYED_INDEX_PK)),
            (attr::GSI1_SK, json!(format!("{}#{}#{}", channel.guild_id, subject.kind.as_str(), subject.id))),
        ],
    )
}

fn relay_guild_item(guild: &RelayGuild) -> Result<Item, StoreError> {
    to_item(
        &keys::relay_guild(guild.guild_id.get()),
        guild,
        &[
            (attr::GSI1_PK, json!(keys::RELAY_INDEX_PK)),
            (attr::GSI1_SK, json!(format!("{}#{}", sortable_time(guild.next_check_at), guild.guild_id))),
        ],
    )
}

/// Every page of a query.
async fn query_all<I: ItemStore + ?Sized>(items: &I, query: Query) -> Result<Vec<Item>, StoreError> {
    let mut found = Vec::new();
    let mut page = query;
    loop {
        let read = items.query(&page).await?;
        found.extend(read.items);
        match read.last_key {
            Some(last) => page = page.start_after(Some(last)),
            None => return Ok(found),
        }
    }
}

/// The stored channel is still as `read` saw it: the same cursor and the same poll time (a
/// claim's lease, or the due time a claim is taken for).
fn unchanged_since(read: &RelayedChannel) -> Condition {
    Condition::Equals(CURSOR, json!(read.cursor)).and(Condition::Equals(NEXT_POLL_AT, json!(read.next_poll_at)))
}

impl<I: ItemStore> Store<I> {
    async fn put_relay_if(&self, channel: &RelayedChannel, condition: Condition) -> Result<bool, StoreError> {
        self.put_if(relay_item(channel)?, condition).await
    }

    async fn put_if(&self, item: Item, condition: Condition) -> Result<bool, StoreError> {
        match self.items.put(item, Some(condition)).await {
            Ok(()) => Ok(true),
            Err(ItemError::ConditionFailed) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// A channel indexed by its own poll time (before the guild-level poller) moves to the
    /// guild's check: the channel joins the guild's list, and the guild is checked when the
    /// channel was due.
    async fn adopt_channel_poll(&self, item: Item) -> Result<(), StoreError> {
        let channel: RelayedChannel = from_item(item)?;
        let guild = RelayGuild { guild_id: channel.guild_id, next_check_at: channel.next_poll_at, interval: 0 };
        self.put_if(relay_guild_item(&guild)?, Condition::NotExists).await?;
        self.put_relay_if(&channel, unchanged_since(&channel)).await?;
        Ok(())
    }
}

/// The guild's check is still the one `read` saw (a claim's lease, or the due time a claim
/// is taken for).
fn check_unchanged(read: &RelayGuild) -> Condition {
    Condition::Equals(NEXT_CHECK_AT, json!(read.next_check_at))
}

const NEXT_CHECK_AT: &str = "next_check_at";

#[async_trait]
impl<I: ItemStore> RelayStore for Store<I> {
    /// 1 conditional PutItem, and 1 PutItem making the guild's check due.
    async fn watch_relay(&self, channel: &RelayedChannel) -> Result<(), StoreError> {
        let fresh_or_parked = Condition::NotExists.or(Condition::Equals(PARKED, json!(true)));
        self.put_relay_if(channel, fresh_or_parked).await?;
        // Due at once, so the new channel is seen soon; a check in flight loses its claim,
        // which costs only its rescheduling (the channels' own claims guard the cursors).
        let guild = RelayGuild { guild_id: channel.guild_id, next_check_at: channel.next_poll_at, interval: 0 };
        Ok(self.items.put(relay_guild_item(&guild)?, None).await?)
    }

    /// 1 Query per 100 relayed channels, 1 DeleteItem each, and 1 for the guild's check.
    async fn unwatch_guild_relays(&self, guild_id: Id<GuildMarker>) -> Result<usize, StoreError> {
        let page = Query::new(
            Index::Table,
            keys::guild(guild_id.get()),
            SortKeyRange::BeginsWith(keys::RELAY_PREFIX.to_owned()),
        )
        .limit(100);
        let mut removed = 0;
        loop {
            let found = self.items.query(&page).await?.items;
            if found.is_empty() {
                self.items.delete(&keys::relay_guild(guild_id.get()), None).await?;
                return Ok(removed);
            }
            for item in found {
                let key = super::items::Key::of(&item)
                    .ok_or_else(|| StoreError::Corrupt(Cause::described("relay without its key")))?;
                self.items.delete(&key, None).await?;
                removed += 1;
            }
        }
    }

    /// 1 conditional PutItem.
    async fn park_relay(&self, claimed: &RelayedChannel, reason: &str) -> Result<bool, StoreError> {
        let parked = RelayedChannel { parked: true, parked_reason: Some(reason.to_owned()), ..claimed.clone() };
        self.put_relay_if(&parked, unchanged_since(claimed)).await
    }

    /// 1 DeleteItem.
    async fn unwatch_relay(&self, guild_id: Id<GuildMarker>, subject: &SubjectRef) -> Result<(), StoreError> {
        Ok(self.items.delete(&keys::relay(guild_id.get(), subject.kind.as_str(), &subject.id), None).await?)
    }

    /// 1 GetItem.
    async fn relayed(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
    ) -> Result<Option<RelayedChannel>, StoreError> {
        let key = keys::relay(guild_id.get(), subject.kind.as_str(), &subject.id);
        self.items.get(&key).await?.map(from_item).transpose()
    }

    /// 1 Query on gsi1 (and 2 PutItems for each channel still indexed the old way).
    async fn due_relay_guilds(&self, now: u64, limit: u32) -> Result<Vec<RelayGuild>, StoreError> {
        let upto = format!("{}#~", sortable_time(now));
        let query = Query::new(Index::Gsi1, keys::RELAY_INDEX_PK, SortKeyRange::AtMost(upto)).limit(limit.max(1));
        let mut due = Vec::new();
        for item in self.items.query(&query).await?.items {
            let is_channel =
                item.get(attr::SK).and_then(|sk| sk.as_str()).is_some_and(|sk| sk.starts_with(keys::RELAY_PREFIX));
            if is_channel {
                self.adopt_channel_poll(item).await?;
            } else {
                due.push(from_item(item)?);
            }
        }
        Ok(due)
    }

    /// 1 Query on gsi1.
    async fn relay_guilds_between(&self, after: u64, upto: u64, limit: u32) -> Result<Vec<RelayGuild>, StoreError> {
        let range = SortKeyRange::Between(format!("{}#~", sortable_time(after)), format!("{}#~", sortable_time(upto)));
        let query = Query::new(Index::Gsi1, keys::RELAY_INDEX_PK, range).limit(limit.max(1));
        let items = self.items.query(&query).await?.items;
        // Channels still indexed the old way wait for `due_relay_guilds` to move them.
        let guilds = items
            .into_iter()
            .filter(|item| item.get(attr::SK).and_then(|sk| sk.as_str()) == Some(keys::RELAY_GUILD_SK));
        guilds.map(from_item).collect()
    }

    /// 1 conditional PutItem.
    async fn claim_guild_check(
        &self,
        guild: &RelayGuild,
        now: u64,
        lease: u64,
    ) -> Result<Option<RelayGuild>, StoreError> {
        let claimed = RelayGuild { next_check_at: now + lease, ..guild.clone() };
        Ok(self.put_if(relay_guild_item(&claimed)?, check_unchanged(guild)).await?.then_some(claimed))
    }

    /// 1 conditional PutItem.
    async fn schedule_guild_check(&self, claimed: &RelayGuild, next: &RelayGuild) -> Result<bool, StoreError> {
        self.put_if(relay_guild_item(next)?, check_unchanged(claimed)).await
    }

    /// 1 conditional DeleteItem.
    async fn drop_relay_guild(&self, claimed: &RelayGuild) -> Result<bool, StoreError> {
        match self.items.delete(&keys::relay_guild(claimed.guild_id.get()), Some(check_unchanged(claimed))).await {
            Ok(()) => Ok(true),
            Err(ItemError::ConditionFailed) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// 1 Query per 1 MB of the guild's relayed channels.
    async fn guild_relays(&self, guild_id: Id<GuildMarker>) -> Result<Vec<RelayedChannel>, StoreError> {
        let query = Query::new(
            Index::Table,
            keys::guild(guild_id.get()),
            SortKeyRange::BeginsWith(keys::RELAY_PREFIX.to_owned()),
        );
        query_all(self.items.as_ref(), query).await?.into_iter().map(from_item).collect()
    }

    /// 1 Query on gsi1 per 1 MB of relayed channels.
    async fn all_relays(&self) -> Result<Vec<RelayedChannel>, StoreError> {
        let query = Query::new(Index::Gsi1, keys::RELAYED_INDEX_PK, SortKeyRange::All);
        query_all(self.items.as_ref(), query).await?.into_iter().map(from_item).collect()
    }

    /// 1 PutItem.
    async fn record_gateway_pulse(&self, pulse: &GatewayPulse) -> Result<(), StoreError> {
        Ok(self.items.put(to_item(&keys::gateway_pulse(), pulse, &[])?, None).await?)
    }

    /// 1 GetItem.
    async fn gateway_pulse(&self) -> Result<Option<GatewayPulse>, StoreError> {
        self.items.get(&keys::gateway_pulse()).await?.map(from_item).transpose()
    }

    /// 1 conditional PutItem.
    async fn claim_poll(
        &self,
        channel: &RelayedChannel,
        now: u64,
        lease: u64,
    ) -> Result<Option<RelayedChannel>, StoreError> {
        let claimed = RelayedChannel { next_poll_at: now + lease, ..channel.clone() };
        Ok(self.put_relay_if(&claimed, unchanged_since(channel)).await?.then_some(claimed))
    }

    /// 1 conditional PutItem: still this poll's claim (its cursor and lease).
    async fn advance_relay(&self, claimed: &RelayedChannel, next: &RelayedChannel) -> Result<bool, StoreError> {
        self.put_relay_if(next, unchanged_since(claimed)).await
    }

    /// 1 GetItem + 1 conditional PutItem (more when a poll moves it meanwhile) + 1 PutItem for
    /// the guild's check.
    async fn follow_relay_user(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        user: Option<Id<UserMarker>>,
        now: u64,
    ) -> Result<bool, StoreError> {
        for _ in 0..5 {
            let Some(current) = self.relayed(guild_id, subject).await? else { return Ok(false) };
            if current.subject_user == user {
                return Ok(false);
            }
            // A new poll time ends any claim in flight: its advance is refused, so it cannot
            // write the old user back; the next poll reads on from the same cursor.
            // (Earlier rather than later when it is already `now`: the read stays due.)
            let next_poll_at = if current.next_poll_at == now { now.saturating_sub(1) } else { now };
            let next =
                RelayedChannel { subject_user: user, conversation_joined_at: None, next_poll_at, ..current.clone() };
            if self.put_relay_if(&next, unchanged_since(&current)).await? {
                // And its guild is checked soon.
                let guild = RelayGuild { guild_id, next_check_at: now, interval: 0 };
                self.items.put(relay_guild_item(&guild)?, None).await?;
                return Ok(true);
            }
        }
        Err(StoreError::Retryable(Cause::described("the relayed channel kept changing")))
    }

    /// 1 PutItem.
    async fn record_intents(&self, status: IntentStatus) -> Result<(), StoreError> {
        Ok(self.items.put(to_item(&keys::intents(), &status, &[])?, None).await?)
    }

    /// 1 GetItem.
    async fn intents(&self) -> Result<Option<IntentStatus>, StoreError> {
        self.items.get(&keys::intents()).await?.map(from_item).transpose()
    }
}

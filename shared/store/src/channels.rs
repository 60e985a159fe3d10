//! Channel mappings: subject <-> channel(s), one-to-one, through a claim that makes creation
//! happen once however often a job runs.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use twilight_model::id::{
    Id,
    marker::{ChannelMarker, GuildMarker, UserMarker},
};

use super::{
    Store, StoreError, from_item,
    items::{Condition, Item, ItemError, ItemStore, Query, SortKeyRange, TxWrite},
    paging,
    schema::{Index, attr, keys, sortable_time},
    to_item,
};
use guildbridge_domain::{BoardMessage, ChannelIds, ChannelMapping, ClaimToken, MappingStatus, SubjectRef};

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This caller holds the claim of a subject never claimed before: nothing exists yet.
    Claimed(ChannelMapping),
    /// This caller holds the claim of a subject whose last attempt ended in `error`: that
    /// attempt may have left channels behind, so reconcile with Discord before creating.
    Reclaimed(ChannelMapping),
    /// Someone claimed it first (done, in progress, or left by a crashed attempt).
    Existing(ChannelMapping),
}

/// One page of mappings, and the opaque cursor for the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingPage {
    pub mappings: Vec<ChannelMapping>,
    pub next: Option<String>,
}

#[async_trait]
pub trait ChannelStore: Send + Sync {
    /// Claims a subject for one job attempt. Of any number of concurrent claims exactly one
    /// wins; the rest see the existing mapping. A mapping in `error` may be claimed again
    /// (`Reclaimed`).
    async fn claim(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        claim_token: &ClaimToken,
        requested_by: Option<Id<UserMarker>>,
        now: u64,
    ) -> Result<ClaimOutcome, StoreError>;
    /// Moves a claim left by a crashed attempt (`stale_token`) to a new attempt.
    async fn take_over(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        stale_token: &ClaimToken,
        claim_token: &ClaimToken,
        now: u64,
    ) -> Result<ChannelMapping, StoreError>;
    /// Records channels created so far under the claim (each right after it is made), so a
    /// later attempt adopts exactly those and nothing that only looks alike. Only for the
    /// claim's holder (`Conflict` otherwise).
    async fn record_created(
        &self,
        guild_id: Id<GuildMarker>,
        claim: &ChannelMapping,
        channels: ChannelIds,
        now: u64,
    ) -> Result<ChannelMapping, StoreError>;
    /// Records the channels and activates the mapping, only for the claim's holder, and only
    /// when no other subject has these channels.
    async fn complete(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        claim_token: &ClaimToken,
        channels: ChannelIds,
        now: u64,
    ) -> Result<ChannelMapping, StoreError>;
    /// Ends the claim in `error` with a reason people can read.
    async fn mark_error(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        claim_token: &ClaimToken,
        reason: &str,
        now: u64,
    ) -> Result<ChannelMapping, StoreError>;
    /// Active -> Completed (the subject ended: the retention clock starts); `false` when the
    /// mapping is not active (already completed, archived, never made).
    async fn mark_completed(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        now: u64,
    ) -> Result<bool, StoreError>;
    /// Records the sign-up board's message on the mapping (its lifecycle is unchanged).
    async fn record_board(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        board: BoardMessage,
    ) -> Result<(), StoreError>;
    /// Marks an active or completed mapping archived, with the reason.
    async fn archive(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        reason: &str,
        now: u64,
    ) -> Result<ChannelMapping, StoreError>;
    async fn mapping(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
    ) -> Result<Option<ChannelMapping>, StoreError>;
    /// The mappings of several subjects at once (those that have one).
    async fn mappings_of(
        &self,
        guild_id: Id<GuildMarker>,
        subjects: &[SubjectRef],
    ) -> Result<Vec<ChannelMapping>, StoreError>;
    async fn mapping_for_channel(
        &self,
        guild_id: Id<GuildMarker>,
        channel_id: Id<ChannelMarker>,
    ) -> Result<Option<ChannelMapping>, StoreError>;
    /// A guild's mappings in one status, most recently changed first.
    async fn mappings_by_status(
        &self,
        guild_id: Id<GuildMarker>,
        status: MappingStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<MappingPage, StoreError>;
    /// The same, least recently changed first (retention works through these).
    async fn mappings_oldest_first(
        &self,
        guild_id: Id<GuildMarker>,
        status: MappingStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<MappingPage, StoreError>;
    async fn count_active(&self, guild_id: Id<GuildMarker>) -> Result<u64, StoreError> {
        self.count_by_status(guild_id, MappingStatus::Active).await
    }
    /// How many of the guild's channels are in `status`.
    async fn count_by_status(&self, guild_id: Id<GuildMarker>, status: MappingStatus) -> Result<u64, StoreError>;
}

#[derive(Serialize, Deserialize)]
struct ChannelOwner {
    subject: SubjectRef,
}

const STATUS: &str = "status";
const CLAIM: &str = "claim_token";
const UPDATED: &str = "updated_at";

fn mapping_item(guild_id: Id<GuildMarker>, mapping: &ChannelMapping) -> Result<Item, StoreError> {
    let subject = &mapping.subject;
    to_item(
        &keys::mapping(guild_id.get(), subject.kind.as_str(), &subject.id),
        mapping,
        &[
            (attr::GSI1_PK, json!(keys::mappings_by_status(guild_id.get(), mapping.status.as_str()))),
            (
                attr::GSI1_SK,
                json!(format!("{}#{}#{}", sortable_time(mapping.updated_at), subject.kind.as_str(), subject.id)),
            ),
        ],
    )
}

fn held_by(claim_token: &str) -> Condition {
    Condition::Equals(STATUS, json!(MappingStatus::Creating.as_str())).and(Condition::Equals(CLAIM, json!(claim_token)))
}

impl<I: ItemStore> Store<I> {
    /// Replaces the mapping when `condition` holds on it; a failed condition is `Conflict`.
    async fn rewrite(
        &self,
        guild_id: Id<GuildMarker>,
        mapping: ChannelMapping,
        condition: Condition,
        conflict: &'static str,
    ) -> Result<ChannelMapping, StoreError> {
        match self.items.put(mapping_item(guild_id, &mapping)?, Some(condition)).await {
            Err(ItemError::ConditionFailed) => Err(StoreError::Conflict(conflict)),
            other => other.map(|()| mapping).map_err(StoreError::from),
        }
    }

    async fn mappings_page(
        &self,
        guild_id: Id<GuildMarker>,
        status: MappingStatus,
        limit: u32,
        cursor: Option<&str>,
        oldest_first: bool,
    ) -> Result<MappingPage, StoreError> {
        let partition = keys::mappings_by_status(guild_id.get(), status.as_str());
        let mut query = paging::continued(Query::new(Index::Gsi1, partition, SortKeyRange::All), limit, cursor)?;
        if !oldest_first {
            query = query.descending();
        }
        let page = self.items.query(&query).await?;
        Ok(MappingPage {
            mappings: page.items.into_iter().map(from_item).collect::<Result<_, _>>()?,
            next: page.last_key.map(|key| paging::encode_cursor(&key)),
        })
    }

    async fn existing(&self, guild_id: Id<GuildMarker>, subject: &SubjectRef) -> Result<ChannelMapping, StoreError> {
        self.mapping(guild_id, subject).await?.ok_or(StoreError::NotFound("channel mapping"))
    }
}

#[async_trait]
impl<I: ItemStore> ChannelStore for Store<I> {
    /// 1 conditional PutItem; + 1 GetItem when the subject was claimed before; + 1 conditional
    /// PutItem (and at most 1 GetItem) when that claim ended in error.
    async fn claim(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        claim_token: &ClaimToken,
        requested_by: Option<Id<UserMarker>>,
        now: u64,
    ) -> Result<ClaimOutcome, StoreError> {
        let mapping = ChannelMapping {
            board: None,
            subject: subject.clone(),
            status: MappingStatus::Creating,
            claim_token: claim_token.to_owned(),
            channels: ChannelIds::default(),
            reason: None,
            requested_by,
            created_at: now,
            updated_at: now,
        };
        match self.items.put(mapping_item(guild_id, &mapping)?, Some(Condition::NotExists)).await {
            Ok(()) => return Ok(ClaimOutcome::Claimed(mapping)),
            Err(ItemError::ConditionFailed) => {}
            Err(error) => return Err(error.into()),
        }
        let existing = self.existing(guild_id, subject).await?;
        if existing.status != MappingStatus::Error {
            return Ok(ClaimOutcome::Existing(existing));
        }
        // Only the failed attempt's exact record may be replaced: one of many retries wins.
        let unchanged = Condition::Equals(STATUS, json!(MappingStatus::Error.as_str()))
            .and(Condition::Equals(CLAIM, json!(existing.claim_token)))
            .and(Condition::Equals(UPDATED, json!(existing.updated_at)));
        // What the failed attempt recorded creating stays, for the reconciliation to adopt.
        let mapping =
            ChannelMapping { updated_at: now.max(existing.updated_at + 1), channels: existing.channels, ..mapping };
        match self.items.put(mapping_item(guild_id, &mapping)?, Some(unchanged)).await {
            Ok(()) => Ok(ClaimOutcome::Reclaimed(mapping)),
            Err(ItemError::ConditionFailed) => Ok(ClaimOutcome::Existing(self.existing(guild_id, subject).await?)),
            Err(error) => Err(error.into()),
        }
    }

    /// 1 GetItem + 1 conditional PutItem.
    async fn take_over(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        stale_token: &ClaimToken,
        claim_token: &ClaimToken,
        now: u64,
    ) -> Result<ChannelMapping, StoreError> {
        let current = self.existing(guild_id, subject).await?;
        let mapping = ChannelMapping { claim_token: claim_token.to_owned(), updated_at: now, ..current };
        self.rewrite(guild_id, mapping, held_by(stale_token), "the claim moved on").await
    }

    /// 1 conditional PutItem.
    async fn record_created(
        &self,
        guild_id: Id<GuildMarker>,
        claim: &ChannelMapping,
        channels: ChannelIds,
        now: u64,
    ) -> Result<ChannelMapping, StoreError> {
        let mapping = ChannelMapping { channels, updated_at: now.max(claim.updated_at), ..claim.clone() };
        self.rewrite(guild_id, mapping, held_by(&claim.claim_token), "the claim is no longer held by this attempt")
            .await
    }

    /// 1 GetItem + 1 TransactWriteItems (the mapping, plus 1 conditional put per channel).
    async fn complete(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        claim_token: &ClaimToken,
        channels: ChannelIds,
        now: u64,
    ) -> Result<ChannelMapping, StoreError> {
        let current = self.existing(guild_id, subject).await?;
        let mapping =
            ChannelMapping { status: MappingStatus::Active, channels, reason: None, updated_at: now, ..current };
        let mut writes =
            vec![TxWrite::Put { item: mapping_item(guild_id, &mapping)?, condition: Some(held_by(claim_token)) }];
        for channel in mapping.channels.owned() {
            let owner = ChannelOwner { subject: subject.clone() };
            writes.push(TxWrite::Put {
                item: to_item(&keys::channel(guild_id.get(), channel.get()), &owner, &[])?,
                condition: Some(Condition::NotExists),
            });
        }
        match self.items.transact(writes).await {
            Err(ItemError::TransactionCancelled(failed)) if failed.contains(&0) => {
                Err(StoreError::Conflict("the claim is no longer held by this attempt"))
            }
            Err(ItemError::TransactionCancelled(_)) => Err(StoreError::AlreadyExists("a mapping for this channel")),
            other => other.map(|()| mapping).map_err(StoreError::from),
        }
    }

    /// 1 GetItem + 1 conditional PutItem.
    async fn mark_error(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        claim_token: &ClaimToken,
        reason: &str,
        now: u64,
    ) -> Result<ChannelMapping, StoreError> {
        let current = self.existing(guild_id, subject).await?;
        let mapping = ChannelMapping {
            status: MappingStatus::Error,
            reason: Some(reason.to_owned()),
            updated_at: now,
            ..current
        };
        self.rewrite(guild_id, mapping, held_by(claim_token), "the claim is no longer held by this attempt").await
    }

    /// 1 GetItem + 1 conditional PutItem.
    async fn mark_completed(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        now: u64,
    ) -> Result<bool, StoreError> {
        let Some(current) = self.mapping(guild_id, subject).await? else { return Ok(false) };
        if current.status != MappingStatus::Active {
            return Ok(false);
        }
        let unchanged = Condition::Equals(STATUS, json!(current.status.as_str()))
            .and(Condition::Equals(UPDATED, json!(current.updated_at)));
        let mapping =
            ChannelMapping { status: MappingStatus::Completed, updated_at: now.max(current.updated_at + 1), ..current };
        match self.rewrite(guild_id, mapping, unchanged, "the mapping changed while completing").await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// 1 GetItem + 1 conditional PutItem.
    async fn record_board(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        board: BoardMessage,
    ) -> Result<(), StoreError> {
        let current = self.existing(guild_id, subject).await?;
        let unchanged = Condition::Equals(STATUS, json!(current.status.as_str()))
            .and(Condition::Equals(UPDATED, json!(current.updated_at)));
        let mapping = ChannelMapping { board: Some(board), ..current };
        self.rewrite(guild_id, mapping, unchanged, "the mapping changed while recording the board").await.map(|_| ())
    }

    /// 1 GetItem + 1 conditional PutItem (on the version read, so nothing is lost).
    async fn archive(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        reason: &str,
        now: u64,
    ) -> Result<ChannelMapping, StoreError> {
        let current = self.existing(guild_id, subject).await?;
        if !matches!(current.status, MappingStatus::Active | MappingStatus::Completed) {
            return Err(StoreError::Conflict("only an active or completed channel can be archived"));
        }
        let unchanged = Condition::Equals(STATUS, json!(current.status.as_str()))
            .and(Condition::Equals(UPDATED, json!(current.updated_at)));
        let mapping = ChannelMapping {
            status: MappingStatus::Archived,
            reason: Some(reason.to_owned()),
            updated_at: now.max(current.updated_at + 1),
            ..current
        };
        self.rewrite(guild_id, mapping, unchanged, "the mapping changed while archiving").await
    }

    /// 1 GetItem.
    async fn mapping(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
    ) -> Result<Option<ChannelMapping>, StoreError> {
        let key = keys::mapping(guild_id.get(), subject.kind.as_str(), &subject.id);
        self.items.get(&key).await?.map(from_item).transpose()
    }

    /// ⌈subjects / 100⌉ BatchGetItem.
    async fn mappings_of(
        &self,
        guild_id: Id<GuildMarker>,
        subjects: &[SubjectRef],
    ) -> Result<Vec<ChannelMapping>, StoreError> {
        let keys: Vec<_> =
            subjects.iter().map(|subject| keys::mapping(guild_id.get(), subject.kind.as_str(), &subject.id)).collect();
        self.items.get_many(&keys).await?.into_iter().map(from_item).collect()
    }

    /// 2 GetItem (channel -> subject -> mapping).
    async fn mapping_for_channel(
        &self,
        guild_id: Id<GuildMarker>,
        channel_id: Id<ChannelMarker>,
    ) -> Result<Option<ChannelMapping>, StoreError> {
        let Some(owner) = self.items.get(&keys::channel(guild_id.get(), channel_id.get())).await? else {
            return Ok(None);
        };
        let owner: ChannelOwner = from_item(owner)?;
        self.mapping(guild_id, &owner.subject).await
    }

    /// 1 Query on gsi1.
    async fn mappings_by_status(
        &self,
        guild_id: Id<GuildMarker>,
        status: MappingStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<MappingPage, StoreError> {
        self.mappings_page(guild_id, status, limit, cursor, false).await
    }

    /// 1 Query on gsi1.
    async fn mappings_oldest_first(
        &self,
        guild_id: Id<GuildMarker>,
        status: MappingStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<MappingPage, StoreError> {
        self.mappings_page(guild_id, status, limit, cursor, true).await
    }

    /// 1 Query (`Select=COUNT`) on gsi1 per 1 MB of keys.
    async fn count_by_status(&self, guild_id: Id<GuildMarker>, status: MappingStatus) -> Result<u64, StoreError> {
        let partition = keys::mappings_by_status(guild_id.get(), status.as_str());
        Ok(self.items.count(&Query::new(Index::Gsi1, partition, SortKeyRange::All)).await?)
    }
}

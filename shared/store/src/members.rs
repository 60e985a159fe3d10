//! Members as syncs see them, and links between Discord users and platform users.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

use super::{
    Paged, Store, StoreError, from_item,
    items::{Condition, ItemError, ItemStore, Query, SortKeyRange, TxWrite},
    paging,
    schema::{Index, keys},
    to_item,
};
use guildbridge_domain::{Member, RunId, UserLink};

#[async_trait]
pub trait MemberStore: Send + Sync {
    /// Writes a page of members seen by `run_id` (present, not left); returns those of
    /// them new to the guild in this run (never seen, back after leaving, or first seen
    /// by this same run on an attempt that did not get to record its counts).
    async fn upsert_members(
        &self,
        guild_id: Id<GuildMarker>,
        run_id: &RunId,
        members: &[Member],
        now: u64,
    ) -> Result<Vec<Id<UserMarker>>, StoreError>;
    /// Marks every present member that `run_id` did not see as left; returns them (also
    /// those an earlier attempt of this run marked).
    async fn mark_left(
        &self,
        guild_id: Id<GuildMarker>,
        run_id: &RunId,
        now: u64,
    ) -> Result<Vec<Id<UserMarker>>, StoreError>;
    /// The guild's members (only those present, or only those gone, when `left` is given),
    /// by user id.
    async fn members_page(
        &self,
        guild_id: Id<GuildMarker>,
        left: Option<bool>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Paged<StoredMember>, StoreError>;
    /// Members present (not left).
    async fn count_members(&self, guild_id: Id<GuildMarker>) -> Result<u64, StoreError>;
    async fn member(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
    ) -> Result<Option<StoredMember>, StoreError>;
}

#[async_trait]
pub trait LinkStore: Send + Sync {
    /// Links a Discord user and a platform user, one to one, both directions at once.
    async fn link(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        platform_user: &str,
        now: u64,
    ) -> Result<(), StoreError>;
    /// Removes a Discord user's link; returns the platform user it had.
    async fn unlink(&self, guild_id: Id<GuildMarker>, user_id: Id<UserMarker>) -> Result<Option<String>, StoreError>;
    /// The link of a platform user, if any.
    async fn link_of_platform_user(
        &self,
        guild_id: Id<GuildMarker>,
        platform_user: &str,
    ) -> Result<Option<UserLink>, StoreError>;
    /// The link of a Discord user, if any.
    async fn link_of_discord_user(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
    ) -> Result<Option<UserLink>, StoreError>;
    /// The guild's links, by platform user.
    async fn links_page(
        &self,
        guild_id: Id<GuildMarker>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Paged<UserLink>, StoreError>;
    /// Sets the linked Discord user's reminder DM preference; `None` when they have no link.
    async fn set_reminder_dms(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        on: bool,
    ) -> Result<Option<UserLink>, StoreError>;
    /// The Discord users of those platform users that are linked.
    async fn links_of_platform_users(
        &self,
        guild_id: Id<GuildMarker>,
        platform_users: &[String],
    ) -> Result<HashMap<String, Id<UserMarker>>, StoreError>;
    /// The links of those Discord users that are linked, with their preferences.
    async fn discord_links(
        &self,
        guild_id: Id<GuildMarker>,
        user_ids: &[Id<UserMarker>],
    ) -> Result<Vec<UserLink>, StoreError>;
    /// The platform users of those Discord users that are linked.
    async fn links_for(
        &self,
        guild_id: Id<GuildMarker>,
        user_ids: &[Id<UserMarker>],
    ) -> Result<HashMap<Id<UserMarker>, String>, StoreError>;
}

/// A member with what the last syncs recorded about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMember {
    #[serde(flatten)]
    pub member: Member,
    pub last_seen_run: RunId,
    /// The run that saw this member arrive (first, or back after leaving).
    #[serde(default)]
    pub first_seen_run: RunId,
    pub seen_at: u64,
    pub left: bool,
    /// The run that found this member gone: counting by it makes a retried `mark_left`
    /// count the members an earlier, interrupted attempt already marked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_run: Option<RunId>,
}

const LAST_SEEN_RUN: &str = "last_seen_run";
const LEFT: &str = "left";
const LEFT_RUN: &str = "left_run";
const PAGE: u32 = 1000;

fn members_query(guild_id: Id<GuildMarker>) -> Query {
    Query::new(Index::Table, keys::guild(guild_id.get()), SortKeyRange::BeginsWith(keys::MEMBER_PREFIX.to_owned()))
}

#[async_trait]
impl<I: ItemStore> MemberStore for Store<I> {
    /// ⌈members / 100⌉ BatchGetItem + ⌈members / 25⌉ BatchWriteItem.
    async fn upsert_members(
        &self,
        guild_id: Id<GuildMarker>,
        run_id: &RunId,
        members: &[Member],
        now: u64,
    ) -> Result<Vec<Id<UserMarker>>, StoreError> {
        let keys: Vec<_> = members.iter().map(|member| keys::member(guild_id.get(), member.user_id.get())).collect();
        let before: HashMap<Id<UserMarker>, StoredMember> = self
            .items
            .get_many(&keys)
            .await?
            .into_iter()
            .map(|item| from_item::<StoredMember>(item).map(|stored| (stored.member.user_id, stored)))
            .collect::<Result<_, _>>()?;
        let mut new = Vec::new();
        let mut items = Vec::with_capacity(members.len());
        for (member, key) in members.iter().zip(&keys) {
            let first_seen_run = match before.get(&member.user_id) {
                Some(known) if !known.left && known.first_seen_run != *run_id => known.first_seen_run.clone(),
                _ => {
                    new.push(member.user_id);
                    run_id.to_owned()
                }
            };
            let stored = StoredMember {
                member: member.clone(),
                last_seen_run: run_id.to_owned(),
                first_seen_run,
                seen_at: now,
                left: false,
                left_run: None,
            };
            items.push(to_item(key, &stored, &[])?);
        }
        self.items.put_many(items).await?;
        Ok(new)
    }

    /// 1 Query per 1,000 members (filtered to the unseen and those this run already marked)
    /// + ⌈left / 25⌉ BatchWriteItem.
    async fn mark_left(
        &self,
        guild_id: Id<GuildMarker>,
        run_id: &RunId,
        now: u64,
    ) -> Result<Vec<Id<UserMarker>>, StoreError> {
        let unseen = Condition::NotEquals(LAST_SEEN_RUN, json!(run_id)).and(Condition::Equals(LEFT, json!(false)));
        let marked_by_this_run = Condition::Equals(LEFT_RUN, json!(run_id));
        let wanted = unseen.or(marked_by_this_run);
        let mut start = None;
        let mut left = Vec::new();
        loop {
            let query = members_query(guild_id).filter(wanted.clone()).limit(PAGE).start_after(start);
            let page = self.items.query(&query).await?;
            let mut items = Vec::with_capacity(page.items.len());
            for item in page.items {
                let mut gone: StoredMember = from_item(item)?;
                left.push(gone.member.user_id);
                if gone.left {
                    continue; // marked by an earlier attempt of this run: counted, not rewritten
                }
                gone.left = true;
                gone.left_run = Some(run_id.to_owned());
                gone.seen_at = now;
                items.push(to_item(&keys::member(guild_id.get(), gone.member.user_id.get()), &gone, &[])?);
            }
            self.items.put_many(items).await?;
            match page.last_key {
                Some(key) => start = Some(key),
                None => return Ok(left),
            }
        }
    }

    /// 1 Query (filtered: a page may hold fewer than `limit` and still have a next).
    async fn members_page(
        &self,
        guild_id: Id<GuildMarker>,
        left: Option<bool>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Paged<StoredMember>, StoreError> {
        let mut query = paging::continued(members_query(guild_id), limit, cursor)?;
        if let Some(left) = left {
            query = query.filter(Condition::Equals(LEFT, json!(left)));
        }
        Paged::of(self.items.query(&query).await?)
    }

    /// 1 Query (`Select=COUNT`) per 1 MB of members.
    async fn count_members(&self, guild_id: Id<GuildMarker>) -> Result<u64, StoreError> {
        Ok(self.items.count(&members_query(guild_id).filter(Condition::Equals(LEFT, json!(false)))).await?)
    }

    /// 1 GetItem.
    async fn member(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
    ) -> Result<Option<StoredMember>, StoreError> {
        self.items.get(&keys::member(guild_id.get(), user_id.get())).await?.map(from_item).transpose()
    }
}

#[async_trait]
impl<I: ItemStore> LinkStore for Store<I> {
    /// 1 TransactWriteItems (2 conditional puts).
    async fn link(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        platform_user: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        let link = UserLink { user_id, platform_user: platform_user.to_owned(), linked_at: now, reminder_dms: false };
        let writes = vec![
            TxWrite::Put {
                item: to_item(&keys::discord_link(guild_id.get(), user_id.get()), &link, &[])?,
                condition: Some(Condition::NotExists),
            },
            TxWrite::Put {
                item: to_item(&keys::platform_link(guild_id.get(), platform_user), &link, &[])?,
                condition: Some(Condition::NotExists),
            },
        ];
        match self.items.transact(writes).await {
            Err(ItemError::TransactionCancelled(failed)) if failed.first() == Some(&0) => {
                Err(StoreError::AlreadyExists("a link for this Discord user"))
            }
            Err(ItemError::TransactionCancelled(_)) => Err(StoreError::AlreadyExists("a link for this platform user")),
            other => Ok(other?),
        }
    }

    /// 1 GetItem + 1 TransactWriteItems (2 conditional deletes).
    async fn unlink(&self, guild_id: Id<GuildMarker>, user_id: Id<UserMarker>) -> Result<Option<String>, StoreError> {
        let key = keys::discord_link(guild_id.get(), user_id.get());
        let Some(item) = self.items.get(&key).await? else { return Ok(None) };
        let link: UserLink = from_item(item)?;
        let same = Condition::Equals("platform_user", json!(link.platform_user));
        let writes = vec![
            TxWrite::Delete { key, condition: Some(same.clone()) },
            TxWrite::Delete { key: keys::platform_link(guild_id.get(), &link.platform_user), condition: Some(same) },
        ];
        match self.items.transact(writes).await {
            Err(ItemError::TransactionCancelled(_)) => Ok(None),
            other => other.map(|()| Some(link.platform_user)).map_err(StoreError::from),
        }
    }

    /// 1 GetItem.
    async fn link_of_platform_user(
        &self,
        guild_id: Id<GuildMarker>,
        platform_user: &str,
    ) -> Result<Option<UserLink>, StoreError> {
        self.items.get(&keys::platform_link(guild_id.get(), platform_user)).await?.map(from_item).transpose()
    }

    /// 1 GetItem.
    async fn link_of_discord_user(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
    ) -> Result<Option<UserLink>, StoreError> {
        self.items.get(&keys::discord_link(guild_id.get(), user_id.get())).await?.map(from_item).transpose()
    }

    /// 1 Query.
    async fn links_page(
        &self,
        guild_id: Id<GuildMarker>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Paged<UserLink>, StoreError> {
        let prefix = SortKeyRange::BeginsWith(keys::PLATFORM_LINK_PREFIX.to_owned());
        let query = Query::new(Index::Table, keys::guild(guild_id.get()), prefix);
        Paged::of(self.items.query(&paging::continued(query, limit, cursor)?).await?)
    }

    /// 1 GetItem + 1 conditional PutItem (on the same platform user: a relink in between wins).
    async fn set_reminder_dms(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        on: bool,
    ) -> Result<Option<UserLink>, StoreError> {
        let key = keys::discord_link(guild_id.get(), user_id.get());
        let Some(link) = self.items.get(&key).await?.map(from_item::<UserLink>).transpose()? else {
            return Ok(None);
        };
        let same = Condition::Equals("platform_user", serde_json::json!(link.platform_user));
        let updated = UserLink { reminder_dms: on, ..link };
        match self.items.put(to_item(&key, &updated, &[])?, Some(same)).await {
            Ok(()) => Ok(Some(updated)),
            Err(ItemError::ConditionFailed) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// ⌈users / 100⌉ BatchGetItem.
    async fn links_of_platform_users(
        &self,
        guild_id: Id<GuildMarker>,
        platform_users: &[String],
    ) -> Result<HashMap<String, Id<UserMarker>>, StoreError> {
        let keys: Vec<_> = platform_users.iter().map(|user| keys::platform_link(guild_id.get(), user)).collect();
        let items = self.items.get_many(&keys).await?;
        items
            .into_iter()
            .map(|item| from_item::<UserLink>(item).map(|link| (link.platform_user, link.user_id)))
            .collect()
    }

    /// ⌈users / 100⌉ BatchGetItem.
    async fn discord_links(
        &self,
        guild_id: Id<GuildMarker>,
        user_ids: &[Id<UserMarker>],
    ) -> Result<Vec<UserLink>, StoreError> {
        let keys: Vec<_> = user_ids.iter().map(|user| keys::discord_link(guild_id.get(), user.get())).collect();
        self.items.get_many(&keys).await?.into_iter().map(from_item::<UserLink>).collect()
    }

    /// ⌈users / 100⌉ BatchGetItem.
    async fn links_for(
        &self,
        guild_id: Id<GuildMarker>,
        user_ids: &[Id<UserMarker>],
    ) -> Result<HashMap<Id<UserMarker>, String>, StoreError> {
        let links = self.discord_links(guild_id, user_ids).await?;
        Ok(links.into_iter().map(|link| (link.user_id, link.platform_user)).collect())
    }
}

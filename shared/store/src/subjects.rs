//! Subjects the platform registers: events, leads, ad-hoc.

use async_trait::async_trait;
use serde_json::json;
use twilight_model::id::{Id, marker::GuildMarker};

use super::{
    Paged, Store, StoreError, from_item,
    items::{Condition, ItemError, ItemStore, Query, SortKeyRange},
    paging,
    schema::{Index, attr, keys, sortable_time},
    to_item,
};
use guildbridge_domain::{Subject, SubjectKind, SubjectRef};

#[async_trait]
pub trait SubjectStore: Send + Sync {
    /// Creates or replaces a subject (the platform's copy wins); true when it is new.
    async fn upsert_subject(&self, guild_id: Id<GuildMarker>, subject: &Subject) -> Result<bool, StoreError>;
    /// The guild's subjects (of one kind, when given), by kind and id.
    async fn subjects_page(
        &self,
        guild_id: Id<GuildMarker>,
        kind: Option<SubjectKind>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Paged<Subject>, StoreError>;
    async fn subject(&self, guild_id: Id<GuildMarker>, subject: &SubjectRef) -> Result<Option<Subject>, StoreError>;
    /// The guild's subjects among `subjects` (those that exist), in no particular order.
    async fn subjects(&self, guild_id: Id<GuildMarker>, subjects: &[SubjectRef]) -> Result<Vec<Subject>, StoreError>;
    /// Events starting at or after `now`, soonest first.
    async fn upcoming_events(
        &self,
        guild_id: Id<GuildMarker>,
        now: u64,
        limit: u32,
    ) -> Result<Vec<Subject>, StoreError>;
    /// Subjects whose name starts with `prefix` (case-insensitive), by name; for autocomplete.
    async fn search_subjects(
        &self,
        guild_id: Id<GuildMarker>,
        prefix: &str,
        limit: u32,
    ) -> Result<Vec<Subject>, StoreError>;
}

/// Names are indexed lower-cased so a prefix search ignores case.
fn name_key(name: &str) -> String {
    name.to_lowercase()
}

#[async_trait]
impl<I: ItemStore> SubjectStore for Store<I> {
    /// 1 conditional PutItem; + 1 PutItem when the subject existed.
    async fn upsert_subject(&self, guild_id: Id<GuildMarker>, subject: &Subject) -> Result<bool, StoreError> {
        let reference = &subject.subject;
        let key = keys::subject(guild_id.get(), reference.kind.as_str(), &reference.id);
        let suffix = format!("{}#{}", reference.kind.as_str(), reference.id);
        let mut extra = vec![
            (attr::GSI2_PK, json!(keys::subject_names(guild_id.get()))),
            (attr::GSI2_SK, json!(format!("{}#{suffix}", name_key(&subject.name)))),
        ];
        if let (SubjectKind::Event, Some(starts_at)) = (reference.kind, subject.starts_at) {
            extra.push((attr::GSI1_PK, json!(keys::subject_starts(guild_id.get()))));
            extra.push((attr::GSI1_SK, json!(format!("{}#{suffix}", sortable_time(starts_at)))));
        }
        let item = to_item(&key, subject, &extra)?;
        // Created or replaced, told apart by the write itself (not a read before it).
        match self.items.put(item.clone(), Some(Condition::NotExists)).await {
            Ok(()) => Ok(true),
            Err(ItemError::ConditionFailed) => {
                self.items.put(item, None).await.map(|()| false).map_err(StoreError::from)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// 1 Query.
    async fn subjects_page(
        &self,
        guild_id: Id<GuildMarker>,
        kind: Option<SubjectKind>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Paged<Subject>, StoreError> {
        let prefix = match kind {
            Some(kind) => format!("{}{}#", keys::SUBJECT_PREFIX, kind.as_str()),
            None => keys::SUBJECT_PREFIX.to_owned(),
        };
        let query = Query::new(Index::Table, keys::guild(guild_id.get()), SortKeyRange::BeginsWith(prefix));
        Paged::of(self.items.query(&paging::continued(query, limit, cursor)?).await?)
    }

    /// 1 GetItem.
    /// 1 BatchGetItem per 100 subjects.
    async fn subjects(&self, guild_id: Id<GuildMarker>, subjects: &[SubjectRef]) -> Result<Vec<Subject>, StoreError> {
        let keys: Vec<_> =
            subjects.iter().map(|subject| keys::subject(guild_id.get(), subject.kind.as_str(), &subject.id)).collect();
        self.items.get_many(&keys).await?.into_iter().map(from_item).collect()
    }

    async fn subject(&self, guild_id: Id<GuildMarker>, subject: &SubjectRef) -> Result<Option<Subject>, StoreError> {
        let key = keys::subject(guild_id.get(), subject.kind.as_str(), &subject.id);
        self.items.get(&key).await?.map(from_item).transpose()
    }

    /// 1 Query on gsi1.
    async fn upcoming_events(
        &self,
        guild_id: Id<GuildMarker>,
        now: u64,
        limit: u32,
    ) -> Result<Vec<Subject>, StoreError> {
        let query =
            Query::new(Index::Gsi1, keys::subject_starts(guild_id.get()), SortKeyRange::AtLeast(sortable_time(now)))
                .limit(limit);
        self.items.query(&query).await?.items.into_iter().map(from_item).collect()
    }

    /// 1 Query on gsi2.
    async fn search_subjects(
        &self,
        guild_id: Id<GuildMarker>,
        prefix: &str,
        limit: u32,
    ) -> Result<Vec<Subject>, StoreError> {
        let query =
            Query::new(Index::Gsi2, keys::subject_names(guild_id.get()), SortKeyRange::BeginsWith(name_key(prefix)))
                .limit(limit);
        self.items.query(&query).await?.items.into_iter().map(from_item).collect()
    }
}

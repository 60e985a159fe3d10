//! Subjects the platform registers: events, leads, ad-hoc.

use async_trait::async_trait;
use serde_json::json;
use twilight_model::id::{Id, marker::GuildMarker};

use super::{
    Store, StoreError, from_item,
    items::{ItemStore, Query, SortKeyRange},
    schema::{Index, attr, keys, sortable_time},
    to_item,
};
use crate::domain::{Subject, SubjectKind, SubjectRef};

#[async_trait]
pub trait SubjectStore: Send + Sync {
    /// Creates or replaces a subject (the platform's copy wins).
    async fn upsert_subject(&self, guild_id: Id<GuildMarker>, subject: &Subject) -> Result<(), StoreError>;
    async fn subject(&self, guild_id: Id<GuildMarker>, subject: &SubjectRef) -> Result<Option<Subject>, StoreError>;
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
    /// 1 PutItem.
    async fn upsert_subject(&self, guild_id: Id<GuildMarker>, subject: &Subject) -> Result<(), StoreError> {
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
        Ok(self.items.put(to_item(&key, subject, &extra)?, None).await?)
    }

    /// 1 GetItem.
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

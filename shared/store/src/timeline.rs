//! A subject's timeline: what is due when (reminders, the start, the end, a board update),
//! found through an index, and what was decided for each (posted or skipped), recorded by
//! condition so that one action is decided once however often or late the schedule fires.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use twilight_model::id::{Id, marker::GuildMarker};

use super::{
    Store, StoreError, from_item,
    items::{Condition, ItemError, ItemStore, Query, SortKeyRange},
    schema::{Index, attr, keys, sortable_time},
    to_item,
};
use guildbridge_domain::SubjectRef;

/// Actions read per subject when its timeline is replanned or shown.
const ACTIONS_PER_SUBJECT: u32 = 100;
const AT: &str = "at";
/// The sign-up board's next turn: planned on its own, never by the settings' plan.
pub const BOARD_TURN: &str = "board";

/// Something due for a subject at a time: `reminder:1440`, `start`, `end`, `board`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueAction {
    pub guild_id: Id<GuildMarker>,
    pub subject: SubjectRef,
    pub action: String,
    /// Unix seconds.
    pub at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "reason")]
pub enum ActionOutcome {
    Posted,
    Skipped(String),
    /// Taken (the retention's archive queued).
    Done,
}

impl ActionOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            ActionOutcome::Posted => "posted",
            ActionOutcome::Skipped(_) => "skipped",
            ActionOutcome::Done => "done",
        }
    }
}

/// What was decided for one action of a subject, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub action: String,
    pub due_at: u64,
    pub decided_at: u64,
    #[serde(flatten)]
    pub outcome: ActionOutcome,
}

/// The decision that stands for an action, and whether this call is the one that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub record: ActionRecord,
    pub ours: bool,
}

#[async_trait]
pub trait TimelineStore: Send + Sync {
    /// Sets what is due for the subject: these actions at these times; any other planned
    /// action of the subject (but the board's turn) is dropped. An action already decided
    /// is not planned again (decided stays decided, wherever its time moved), and one
    /// planned for the same time is not written again: an update that moves nothing
    /// writes nothing.
    async fn plan_actions(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        actions: &[(String, u64)],
    ) -> Result<(), StoreError>;
    /// Adds or moves one planned action, leaving the others.
    async fn plan_action(&self, due: &DueAction) -> Result<(), StoreError>;
    /// Actions due at or before `now`, earliest first.
    async fn due_actions(&self, now: u64, limit: u32) -> Result<Vec<DueAction>, StoreError>;
    /// Removes a planned action if it is still planned for `due.at` (not moved since).
    async fn clear_action(&self, due: &DueAction) -> Result<(), StoreError>;
    /// Records the decision unless one was recorded first; returns the one that stands (one
    /// decision per action, ever: it carries the due time it was decided for).
    async fn decide_action(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        record: &ActionRecord,
    ) -> Result<Decision, StoreError>;
    /// Every decision recorded for the subject.
    async fn actions_taken(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
    ) -> Result<Vec<ActionRecord>, StoreError>;
}

fn due_item(due: &DueAction) -> Result<super::items::Item, StoreError> {
    let subject = &due.subject;
    to_item(
        &keys::due(due.guild_id.get(), subject.kind.as_str(), &subject.id, &due.action),
        due,
        &[
            (attr::GSI1_PK, json!(keys::DUE_INDEX_PK)),
            (
                attr::GSI1_SK,
                json!(format!(
                    "{}#{}#{}#{}#{}",
                    sortable_time(due.at),
                    due.guild_id,
                    subject.kind.as_str(),
                    subject.id,
                    due.action
                )),
            ),
        ],
    )
}

#[async_trait]
impl<I: ItemStore> TimelineStore for Store<I> {
    /// 2 Queries, then 1 PutItem per new or moved action and 1 DeleteItem per dropped one.
    async fn plan_actions(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        actions: &[(String, u64)],
    ) -> Result<(), StoreError> {
        let planned = Query::new(
            Index::Table,
            keys::guild(guild_id.get()),
            SortKeyRange::BeginsWith(keys::due_of(subject.kind.as_str(), &subject.id)),
        )
        .limit(ACTIONS_PER_SUBJECT);
        let mut current = Vec::new();
        for item in self.items.query(&planned).await?.items {
            let due: DueAction = from_item(item)?;
            // The board's turn is its own (planned by `plan_action`), whatever the settings.
            if due.action != BOARD_TURN && !actions.iter().any(|(action, _)| *action == due.action) {
                let key = keys::due(guild_id.get(), subject.kind.as_str(), &subject.id, &due.action);
                self.items.delete(&key, None).await?;
            }
            current.push((due.action, due.at));
        }
        let decided = self.actions_taken(guild_id, subject).await?;
        for (action, at) in actions {
            if decided.iter().any(|record| record.action == *action)
                || current.iter().any(|(planned, planned_at)| planned == action && planned_at == at)
            {
                continue;
            }
            let due = DueAction { guild_id, subject: subject.clone(), action: action.clone(), at: *at };
            self.plan_action(&due).await?;
        }
        Ok(())
    }

    /// 1 PutItem.
    async fn plan_action(&self, due: &DueAction) -> Result<(), StoreError> {
        Ok(self.items.put(due_item(due)?, None).await?)
    }

    /// 1 Query on gsi1.
    async fn due_actions(&self, now: u64, limit: u32) -> Result<Vec<DueAction>, StoreError> {
        let upto = format!("{}#~", sortable_time(now));
        let query = Query::new(Index::Gsi1, keys::DUE_INDEX_PK, SortKeyRange::AtMost(upto)).limit(limit.max(1));
        self.items.query(&query).await?.items.into_iter().map(from_item).collect()
    }

    /// 1 conditional DeleteItem.
    async fn clear_action(&self, due: &DueAction) -> Result<(), StoreError> {
        let key = keys::due(due.guild_id.get(), due.subject.kind.as_str(), &due.subject.id, &due.action);
        match self.items.delete(&key, Some(Condition::Equals(AT, json!(due.at)))).await {
            Ok(()) | Err(ItemError::ConditionFailed) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// 1 conditional PutItem (and 1 GetItem when another decision came first).
    async fn decide_action(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
        record: &ActionRecord,
    ) -> Result<Decision, StoreError> {
        let key = keys::done(guild_id.get(), subject.kind.as_str(), &subject.id, &record.action);
        match self.items.put(to_item(&key, record, &[])?, Some(Condition::NotExists)).await {
            Ok(()) => Ok(Decision { record: record.clone(), ours: true }),
            Err(ItemError::ConditionFailed) => {
                let stored = self.items.get(&key).await?.ok_or(StoreError::Conflict("decision vanished"))?;
                Ok(Decision { record: from_item(stored)?, ours: false })
            }
            Err(error) => Err(error.into()),
        }
    }

    /// 1 Query.
    async fn actions_taken(
        &self,
        guild_id: Id<GuildMarker>,
        subject: &SubjectRef,
    ) -> Result<Vec<ActionRecord>, StoreError> {
        let query = Query::new(
            Index::Table,
            keys::guild(guild_id.get()),
            SortKeyRange::BeginsWith(keys::done_of(subject.kind.as_str(), &subject.id)),
        )
        .limit(ACTIONS_PER_SUBJECT);
        self.items.query(&query).await?.items.into_iter().map(from_item).collect()
    }
}

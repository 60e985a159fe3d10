//! Member sync runs: what started them, what they counted, how they ended, and the lease
//! that keeps one run per guild.

use serde::{Deserialize, Serialize};
use twilight_model::id::{Id, marker::UserMarker};

use super::RunId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncKind {
    Manual,
    Scheduled,
    Automatic,
    Webhook,
}

impl SyncKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncKind::Manual => "manual",
            SyncKind::Scheduled => "scheduled",
            SyncKind::Automatic => "automatic",
            SyncKind::Webhook => "webhook",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCounts {
    pub total: u64,
    pub matched: u64,
    pub new: u64,
    pub left: u64,
    pub errors: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum SyncOutcome {
    Running,
    Succeeded,
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRun {
    pub run_id: RunId,
    pub kind: SyncKind,
    pub started_at: u64,
    #[serde(default)]
    pub finished_at: Option<u64>,
    #[serde(default)]
    pub counts: SyncCounts,
    pub outcome: SyncOutcome,
    /// Where a continued run resumes: the highest user id seen so far.
    #[serde(default)]
    pub cursor: Option<Id<UserMarker>>,
}

/// The sync lease another run holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncLease {
    pub run_id: RunId,
    pub started_at: u64,
    pub expires_at: u64,
}

impl SyncLease {
    /// What a person asking for a sync is told while this lease is held.
    pub fn already_running(&self) -> String {
        format!("A member sync is already running (started <t:{}:R>).", self.started_at)
    }
}

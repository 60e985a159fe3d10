//! Subject -> Discord channels: the mapping, its lifecycle, and the sign-up board's message.

use serde::{Deserialize, Serialize};
use twilight_model::id::{
    Id,
    marker::{ChannelMarker, MessageMarker, UserMarker},
};

use super::{ClaimToken, SubjectRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingStatus {
    Creating,
    Active,
    Completed,
    Archived,
    Error,
}

impl MappingStatus {
    /// The channel exists and is not archived: it takes messages (an event that ended takes
    /// its results) until retention archives it.
    pub fn is_open(self) -> bool {
        matches!(self, MappingStatus::Active | MappingStatus::Completed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MappingStatus::Creating => "creating",
            MappingStatus::Active => "active",
            MappingStatus::Completed => "completed",
            MappingStatus::Archived => "archived",
            MappingStatus::Error => "error",
        }
    }
}

/// The Discord channels made for one subject.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelIds {
    pub text: Option<Id<ChannelMarker>>,
    #[serde(default)]
    pub category: Option<Id<ChannelMarker>>,
    #[serde(default)]
    pub voice: Option<Id<ChannelMarker>>,
    #[serde(default)]
    pub practice_voice: Option<Id<ChannelMarker>>,
}

impl ChannelIds {
    /// Every channel that belongs to the subject alone (the category may be shared).
    pub fn owned(&self) -> impl Iterator<Item = Id<ChannelMarker>> {
        [self.text, self.voice, self.practice_voice].into_iter().flatten()
    }
}

/// Subject -> channel(s), with the lifecycle of their creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelMapping {
    pub subject: SubjectRef,
    pub status: MappingStatus,
    /// Who holds the claim while the status is `creating`: one job attempt's token.
    pub claim_token: ClaimToken,
    #[serde(default)]
    pub channels: ChannelIds,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub requested_by: Option<Id<UserMarker>>,
    pub created_at: u64,
    pub updated_at: u64,
    /// The sign-up board: one pinned message per event, edited in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board: Option<BoardMessage>,
}

/// The sign-up board's message and when it last changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardMessage {
    pub message_id: Id<MessageMarker>,
    /// Unix seconds of the last post or edit.
    pub edited_at: u64,
    /// A hash of the sign-ups it shows: an unchanged board is not edited again.
    pub shows: String,
    /// Times it was posted again after someone deleted it.
    #[serde(default)]
    pub recreated: u32,
}

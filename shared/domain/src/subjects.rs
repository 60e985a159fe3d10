//! What a channel is for: the platform's subjects (an event, a lead), as the platform
//! registered them.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};
use twilight_model::id::{Id, marker::UserMarker};

/// The kind of platform thing a channel is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    Event,
    Lead,
    Adhoc,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Event => "event",
            SubjectKind::Lead => "lead",
            SubjectKind::Adhoc => "adhoc",
        }
    }
}

/// `event:42`, `lead:abc`: a subject within one guild.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SubjectRef {
    pub kind: SubjectKind,
    pub id: String,
}

impl SubjectRef {
    pub fn new(kind: SubjectKind, id: impl Into<String>) -> Self {
        Self { kind, id: id.into() }
    }
}

impl SubjectRef {
    /// Reads `event:42`, `lead:abc`, `adhoc:name`; anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let (kind, id) = text.trim().split_once(':')?;
        let kind = match kind {
            "event" => SubjectKind::Event,
            "lead" => SubjectKind::Lead,
            "adhoc" => SubjectKind::Adhoc,
            _ => return None,
        };
        // `.` and `..` are path segments, not names: a URL built from them would walk up.
        let valid = !id.is_empty()
            && id.len() <= 100
            && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !matches!(id, "." | "..");
        valid.then(|| Self::new(kind, id))
    }
}

impl fmt::Display for SubjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.id)
    }
}

/// A subject as the platform registered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub subject: SubjectRef,
    pub name: String,
    /// Fields the naming pattern can use (`series_name`, `event_name`, ...).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub signup_url: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub starts_at: Option<u64>,
    /// Unix seconds: when the subject is over (an event's finish).
    #[serde(default)]
    pub ends_at: Option<u64>,
    /// The Discord user the subject belongs to (a lead's owner), for private channels.
    #[serde(default)]
    pub discord_user_id: Option<Id<UserMarker>>,
    /// Whether messages in its channel are relayed to the platform (`None`: on for leads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<bool>,
    /// Who signed up, as the platform last said: what the sign-up board shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signups: Option<Signups>,
}

/// An event's sign-ups as the platform reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signups {
    pub count: u32,
    #[serde(default)]
    pub capacity: Option<u32>,
    /// Names or teams, in the platform's order.
    #[serde(default)]
    pub entries: Vec<String>,
    /// The platform says this change matters (the field is full, sign-ups closed): the board
    /// is updated now rather than at its next turn.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub significant: bool,
}

impl Signups {
    /// What the board shows, as a short hash: a board showing this needs no edit.
    pub fn digest(&self) -> String {
        use sha2::Digest;
        let shown = serde_json::json!([self.count, self.capacity, self.entries]);
        hex::encode(&sha2::Sha256::digest(shown.to_string().as_bytes())[..8])
    }
}

impl Subject {
    /// Whether its channel's messages go to the platform as `message.received`.
    pub fn relays(&self) -> bool {
        self.relay.unwrap_or(self.subject.kind == SubjectKind::Lead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_ids_are_names_never_path_segments() {
        assert_eq!(SubjectRef::parse("event:spa-24.h"), Some(SubjectRef::new(SubjectKind::Event, "spa-24.h")));
        for refused in ["event:.", "event:..", "lead:", "lead:a/b", "lead:a b", "race:1", "event"] {
            assert_eq!(SubjectRef::parse(refused), None, "{refused}");
        }
    }
}

//! Teams of an event: what the platform asked for ([`Team`]) and what Discord has of it
//! ([`TeamState`]: the private thread, the role, who was added), kept apart so the API and
//! the worker never overwrite each other.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use twilight_model::id::{
    Id,
    marker::{ChannelMarker, RoleMarker, UserMarker},
};

use super::{
    SubjectRef,
    naming::MAX_CHANNEL_NAME_CHARS,
    templates::{fill, placeholders_in},
};

/// Platform user ids a team may list (a private thread holds up to 1000; teams are small).
pub const MAX_TEAM_MEMBERS: usize = 100;
/// A team's name: its thread's, within Discord's 100 characters for a channel name.
pub const TEAM_NAME_MAX_CHARS: usize = 100;
/// Discord's thread auto-archive choices, in minutes.
pub const THREAD_AUTO_ARCHIVE_MINUTES: [u32; 4] = [60, 1440, 4320, 10080];

/// The placeholders a team voice channel's name pattern may use.
pub const TEAM_VOICE_PLACEHOLDERS: &[&str] = &["team_name", "team_id", "event_name"];
/// The longest a team voice pattern may be.
pub const TEAM_VOICE_PATTERN_MAX_CHARS: usize = 100;

/// Why a team voice pattern is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoicePatternError {
    #[error("unknown placeholder {{{0}}}; known: {{team_name}}, {{team_id}}, {{event_name}}")]
    UnknownPlaceholder(String),
    #[error("unclosed '{{' in the pattern")]
    Unclosed,
    #[error("1 to {TEAM_VOICE_PATTERN_MAX_CHARS} characters")]
    Length,
}

/// `{team_name}`, `{event_name} · {team_name}`: how a team's voice channel is named. Voice
/// names keep case and spaces; only Discord's 100 characters bound them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoicePattern(String);

impl Default for VoicePattern {
    fn default() -> Self {
        Self("{team_name}".to_owned())
    }
}

impl VoicePattern {
    pub fn parse(pattern: &str) -> Result<Self, VoicePatternError> {
        let length = pattern.trim().chars().count();
        if length == 0 || pattern.chars().count() > TEAM_VOICE_PATTERN_MAX_CHARS {
            return Err(VoicePatternError::Length);
        }
        let names = placeholders_in(pattern).map_err(|_| VoicePatternError::Unclosed)?;
        if let Some(unknown) = names.into_iter().find(|name| !TEAM_VOICE_PLACEHOLDERS.contains(name)) {
            return Err(VoicePatternError::UnknownPlaceholder(unknown.to_owned()));
        }
        Ok(Self(pattern.to_owned()))
    }

    /// The channel's name for this team of this event; the team's own name when the
    /// pattern fills to nothing.
    pub fn name(&self, team: &Team, event_name: &str) -> String {
        let values = BTreeMap::from([
            ("team_name".to_owned(), team.name.clone()),
            ("team_id".to_owned(), team.team_id.to_string()),
            ("event_name".to_owned(), event_name.to_owned()),
        ]);
        let filled = fill(&self.0, &values);
        let name = match filled.trim() {
            "" => team.name.trim(),
            name => name,
        };
        name.chars().take(MAX_CHANNEL_NAME_CHARS).collect()
    }
}

/// `red-bull`, `42`: a team's id within its subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TeamId(String);

impl TeamId {
    /// 1 to 64 of `A-Z a-z 0-9 - _ .`; anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let valid = !text.is_empty()
            && text.len() <= 64
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        valid.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TeamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A team as the platform last described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub subject: SubjectRef,
    pub team_id: TeamId,
    pub name: String,
    /// Platform user ids, each reached through their link.
    pub members: Vec<String>,
    /// Deleted by the platform: its thread is archived and its role removed.
    #[serde(default)]
    pub removed: bool,
    /// Counts the platform's changes: the worker records which one Discord reflects.
    pub revision: u64,
    pub updated_at: u64,
}

/// What Discord has of a team, as the worker last left it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TeamState {
    pub thread_id: Option<Id<ChannelMarker>>,
    /// The thread's name as the bot last set it (a renamed team renames its thread).
    pub thread_name: Option<String>,
    pub role_id: Option<Id<RoleMarker>>,
    /// The role's name as the bot last set it.
    pub role_name: Option<String>,
    /// Who the bot added to the thread.
    pub thread_members: Vec<Id<UserMarker>>,
    /// Who holds the team's role.
    pub role_members: Vec<Id<UserMarker>>,
    /// Members with no link: not in the thread until they link their Discord account.
    pub unlinked: Vec<String>,
    /// The [`Team::revision`] Discord reflects.
    pub applied_revision: u64,
    /// The thread is archived (the team was removed or its event ended).
    pub archived: bool,
    /// Why the last attempt failed, for whoever looks at the team.
    pub error: Option<String>,
    /// A thread (or role) creation was sent and its answer may have been lost: the next
    /// attempt looks for it in Discord before making another.
    pub thread_pending: bool,
    pub role_pending: bool,
    /// The team's own voice channel (with `team_voice` on), its name as the bot last set it,
    /// and who it lets in: members by overwrite, or the team's role when team roles are on.
    pub voice_id: Option<Id<ChannelMarker>>,
    pub voice_name: Option<String>,
    pub voice_members: Vec<Id<UserMarker>>,
    pub voice_role: Option<Id<RoleMarker>>,
    /// A voice channel creation was sent and its answer may have been lost.
    pub voice_pending: bool,
    pub updated_at: u64,
}

/// Who to add and who to take out, to go from `current` to `wanted`.
pub fn member_diff(
    current: &[Id<UserMarker>],
    wanted: &[Id<UserMarker>],
) -> (Vec<Id<UserMarker>>, Vec<Id<UserMarker>>) {
    let add = wanted.iter().filter(|user| !current.contains(user)).copied().collect();
    let remove = current.iter().filter(|user| !wanted.contains(user)).copied().collect();
    (add, remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_ids_are_plain() {
        assert!(TeamId::parse("red-bull_2.0").is_some());
        assert!(
            TeamId::parse("").is_none() && TeamId::parse("a/b").is_none() && TeamId::parse(&"a".repeat(65)).is_none()
        );
    }

    #[test]
    fn voice_names_keep_case_and_fall_back_to_the_team() {
        let team = Team {
            subject: SubjectRef::new(crate::SubjectKind::Event, "spa"),
            team_id: TeamId::parse("red").expect("id"),
            name: "Red Racing".to_owned(),
            members: Vec::new(),
            removed: false,
            revision: 1,
            updated_at: 0,
        };
        let pattern = VoicePattern::parse("{event_name} · {team_name}").expect("valid");
        assert_eq!(pattern.name(&team, "Spa 6 Hours"), "Spa 6 Hours · Red Racing");
        assert_eq!(VoicePattern::parse("{event_name}").expect("valid").name(&team, " "), "Red Racing");
        let long = VoicePattern::parse("{event_name} {team_name}").expect("valid");
        assert_eq!(long.name(&team, &"x".repeat(120)).chars().count(), MAX_CHANNEL_NAME_CHARS);
        assert_eq!(VoicePattern::parse("{driver}"), Err(VoicePatternError::UnknownPlaceholder("driver".into())));
        assert_eq!(VoicePattern::parse("{team_name"), Err(VoicePatternError::Unclosed));
        assert_eq!(VoicePattern::parse("  "), Err(VoicePatternError::Length));
    }

    #[test]
    fn the_diff_adds_the_new_and_removes_the_gone() {
        let (a, b, c) = (Id::new(1), Id::new(2), Id::new(3));
        assert_eq!(member_diff(&[a, b], &[b, c]), (vec![c], vec![a]));
        assert_eq!(member_diff(&[a], &[a]), (vec![], vec![]));
    }
}

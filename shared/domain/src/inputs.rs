//! What platforms and admins send, parsed once at the door into types that cannot hold a bad
//! value: Discord ids written as text, platform user ids, archive reasons. Each limit is
//! named here, and every door (the tenant API, the settings page, the slash commands) checks
//! through these, not with its own literal.

use std::fmt;

use twilight_model::id::Id;

/// A Discord id written as text: 1 to 20 digits, not zero. `None` for anything else.
pub fn snowflake<T>(text: &str) -> Option<Id<T>> {
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u64>().ok().and_then(Id::new_checked)
}

/// A platform's id for one of its users (the key of a link, a team member): 1 to
/// [`PlatformUserId::MAX_CHARS`] characters, no control characters. Opaque otherwise: the
/// platform chooses its ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlatformUserId(String);

/// Why a platform user id was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("platform user ids are 1 to {} characters, without control characters", PlatformUserId::MAX_CHARS)]
pub struct InvalidPlatformUserId;

impl PlatformUserId {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(text: &str) -> Result<Self, InvalidPlatformUserId> {
        let length = text.chars().count();
        if length == 0 || length > Self::MAX_CHARS || text.chars().any(char::is_control) {
            return Err(InvalidPlatformUserId);
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for PlatformUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a channel was archived, as a platform or an admin gives it: trimmed, 1 to
/// [`ArchiveReason::MAX_CHARS`] characters. It is kept with the mapping and sent as the audit
/// log reason (which Discord cuts at 512 bytes after encoding; the client does that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveReason(String);

/// Why an archive reason was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("say why the channel is archived (1 to {} characters)", ArchiveReason::MAX_CHARS)]
pub struct InvalidArchiveReason;

impl ArchiveReason {
    pub const MAX_CHARS: usize = 400;

    pub fn parse(text: &str) -> Result<Self, InvalidArchiveReason> {
        let trimmed = text.trim();
        let length = trimmed.chars().count();
        if length == 0 || length > Self::MAX_CHARS {
            return Err(InvalidArchiveReason);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use twilight_model::id::marker::GuildMarker;

    use super::*;

    #[test]
    fn a_snowflake_is_digits_and_not_zero() {
        assert_eq!(snowflake::<GuildMarker>("81384788765712384").map(Id::get), Some(81_384_788_765_712_384));
        for bad in ["", "0", "-1", "12a", " 12", "123456789012345678901", "18446744073709551616"] {
            assert_eq!(snowflake::<GuildMarker>(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn platform_user_ids_are_one_to_a_hundred_plain_characters() {
        assert_eq!(PlatformUserId::parse("user-42").map(PlatformUserId::into_string), Ok("user-42".to_owned()));
        assert!(PlatformUserId::parse(&"é".repeat(100)).is_ok(), "characters, not bytes");
        for bad in [String::new(), "x".repeat(101), "a\nb".to_owned(), "tab\t".to_owned()] {
            assert_eq!(PlatformUserId::parse(&bad), Err(InvalidPlatformUserId), "{bad:?}");
        }
    }

    #[test]
    fn an_archive_reason_is_trimmed_and_one_to_four_hundred_characters() {
        assert_eq!(
            ArchiveReason::parse("  season over ").map(ArchiveReason::into_string),
            Ok("season over".to_owned())
        );
        assert!(ArchiveReason::parse(&"x".repeat(400)).is_ok());
        for bad in ["", "   ", &"x".repeat(401)] {
            assert_eq!(ArchiveReason::parse(bad), Err(InvalidArchiveReason), "{bad:?}");
        }
    }
}

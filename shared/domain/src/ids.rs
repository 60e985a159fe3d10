//! Guildbridge's own identifiers, each its own type so one is never passed for another.
//! Discord's ids are twilight's `Id<Marker>`; these are the ones Guildbridge makes or
//! receives. Each is stored and serialised as its plain string.

use std::{fmt, ops::Deref};

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

string_id!(
    /// A platform (tenant) that connects guilds and registers subjects.
    TenantId
);

string_id!(
    /// One sync run. A request's run is named after the request ([`RequestId::run_id`]), so
    /// every delivery of the request finds the same run.
    RunId
);

string_id!(
    /// What names a request for work (an interaction, a due time, a platform call): one
    /// request is one run, however often it is delivered.
    RequestId
);

string_id!(
    /// The same work has the same key, whoever asks for it; duplicates collapse on it.
    JobKey
);

string_id!(
    /// One job attempt's hold on a subject while it creates the subject's channels.
    ClaimToken
);

impl TenantId {
    /// The tenant of a guild connected from the settings page with no platform behind it.
    pub fn standalone(guild_id: twilight_model::id::Id<twilight_model::id::marker::GuildMarker>) -> Self {
        Self(format!("guild-{guild_id}"))
    }

    /// Whether this is `guild_id`'s standalone tenant: its credentials (API keys, webhook)
    /// are its admins' to manage. Any other tenant is a platform's, and so are they.
    pub fn is_standalone_for(&self, guild_id: twilight_model::id::Id<twilight_model::id::marker::GuildMarker>) -> bool {
        *self == Self::standalone(guild_id)
    }
}

impl RequestId {
    /// The request's own run: the id with anything outside a safe alphabet replaced, at most
    /// 200 characters.
    pub fn run_id(&self) -> RunId {
        RunId(
            self.0
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || ":-_.".contains(c) { c } else { '_' })
                .take(200)
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_their_strings_on_the_wire_and_a_request_names_its_run() {
        let run = RunId::new("interaction:1");
        assert_eq!(serde_json::to_string(&run).ok().as_deref(), Some("\"interaction:1\""));
        assert_eq!(serde_json::from_str::<RunId>("\"due:5\"").ok(), Some(RunId::new("due:5")));
        assert_eq!(RequestId::new("platform:a b/c").run_id(), "platform:a_b_c");
        assert_eq!(RequestId::new("x".repeat(300)).run_id().len(), 200);
    }
}

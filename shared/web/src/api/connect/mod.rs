//! Connecting a tenant to its guild through Discord's bot authorization: `POST /v1/connect`
//! hands out the authorization link with a signed, single-use `state`; Discord sends the
//! person back to `GET /connect/callback`, which checks that state, exchanges the code, and
//! asks the person to confirm which tenant the guild named in Discord's token response
//! (never the query's `guild_id`) will serve; `POST /connect/callback` connects it.

mod callback;
mod state;

pub use callback::{callback, confirm};
pub use state::{ConnectState, StateRefusal};

use axum::http::{HeaderMap, header};
use twilight_model::{
    guild::Permissions,
    id::{Id, marker::ApplicationMarker},
};
use url::Url;

use crate::discord::{custom_id::StateKey, rest::DiscordClient};

/// How long a connect link stays usable.
pub const STATE_LIFETIME_SECS: u64 = 600;
/// Where Discord sends the person back; not under `/v1`, since a browser lands there.
pub const CALLBACK_PATH: &str = "/connect/callback";
pub use crate::discord::rest::DISCORD_AUTHORIZE_URL;
/// The scopes a guild install asks for: the bot, and its slash commands.
pub const SCOPES: &str = "bot applications.commands";

/// The application's OAuth2 client secret.
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// What the connect flow needs: the application, its secret, the key that signs `state`,
/// where people authorize, and a client for the code exchange.
#[derive(Debug, Clone)]
pub struct Connector {
    pub application_id: Id<ApplicationMarker>,
    pub client_secret: ClientSecret,
    pub state_key: StateKey,
    pub authorize_url: Url,
    /// The `web` function's public base URL; without it, the request's `Host` (https).
    pub public_url: Option<Url>,
    pub discord: DiscordClient,
}

impl Connector {
    /// The site's public base URL (`scheme://host[:port]`): the configured one, else the
    /// request's `Host` over https. `None` when neither is known or the `Host` is malformed.
    pub fn base_url(&self, headers: &HeaderMap) -> Option<String> {
        match &self.public_url {
            Some(url) => Some(url.as_str().trim_end_matches('/').to_owned()),
            None => {
                let host = headers.get(header::HOST)?.to_str().ok()?;
                let valid =
                    !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
                valid.then(|| format!("https://{host}"))
            }
        }
    }

    /// The callback's absolute URL, as Discord must be told it (and told the same again at
    /// the code exchange). `None` when neither a public URL nor a `Host` is known.
    pub fn redirect_uri(&self, headers: &HeaderMap) -> Option<String> {
        Some(format!("{}{CALLBACK_PATH}", self.base_url(headers)?))
    }

    /// Discord's bot authorization link for a guild install.
    pub fn authorize_link(&self, permissions: Permissions, redirect_uri: &str, state: &str) -> Url {
        let mut link = self.authorize_url.clone();
        link.query_pairs_mut()
            .append_pair("client_id", &self.application_id.to_string())
            .append_pair("scope", SCOPES)
            .append_pair("permissions", &permissions.bits().to_string())
            .append_pair("integration_type", "0")
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state);
        link
    }
}

/// `scheme://host[:port]` of a URL, as origins are compared.
pub fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// `raw` as a URL when it is an absolute http(s) URL whose origin is exactly one of `allowed`.
pub fn allowed_return_url(raw: &str, allowed: &[String]) -> Option<Url> {
    let url = Url::parse(raw).ok().filter(|url| matches!(url.scheme(), "http" | "https"))?;
    let origin = origin_of(&url);
    allowed.iter().any(|allowed| allowed.trim_end_matches('/') == origin).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_urls_must_match_an_allowed_origin_exactly() {
        let allowed = vec!["https://club.example".to_owned()];
        assert!(allowed_return_url("https://club.example/discord?x=1", &allowed).is_some());
        for refused in [
            "https://club.example.evil.test/",
            "http://club.example/",
            "https://club.example:8443/",
            "https://evil.test/?https://club.example",
            "javascript:alert(1)",
            "/relative",
        ] {
            assert!(allowed_return_url(refused, &allowed).is_none(), "{refused} was allowed");
        }
    }
}

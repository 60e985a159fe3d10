//! "Log in with Discord": the OAuth2 authorization code flow with PKCE (S256), scopes
//! `identify guilds`, through the `oauth2` crate. The `state` is random, stored server-side
//! with the PKCE verifier, and also set in a short-lived pre-login cookie, so a callback is
//! only accepted in the browser that started it, once. Logout deletes the session and
//! revokes the Discord token.

use crate::domain::error::Report;
use std::{collections::HashMap, sync::Arc, time::Duration};

use axum::{
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl, basic::BasicClient,
};
use subtle::ConstantTimeEq;
use tokio::time::Instant;
use twilight_model::id::{Id, marker::ApplicationMarker};
use url::Url;

use super::{
    BASE_PATH, ErrorPage, Pages,
    access::{self, SignedIn},
    cookies::Cookie,
    random_token, see_other,
};
use crate::{
    discord::rest::DiscordClient,
    domain::{LOGIN_LIFETIME_SECS, LoginAttempt, SESSION_LIFETIME_SECS, SessionRecord},
};

const CALLBACK: &str = "/settings/login/callback";
const DISCORD_TIMEOUT: Duration = Duration::from_secs(5);

type OAuthClient = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Discord's OAuth2 endpoints for people logging in, and a client for the calls made with
/// their token.
#[derive(Clone)]
pub struct LoginClient {
    oauth: OAuthClient,
    http: reqwest::Client,
    revocation_url: Url,
    client_secret: String,
    pub(super) discord: DiscordClient,
}

impl std::fmt::Debug for LoginClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginClient").finish_non_exhaustive()
    }
}

impl LoginClient {
    /// `authorize` is Discord's authorization page; `api_base` its API (`.../api/v10`), whose
    /// `/oauth2/token` and `/oauth2/token/revoke` complete the flow.
    pub fn new(
        application_id: Id<ApplicationMarker>,
        client_secret: &str,
        authorize: &Url,
        api_base: &Url,
        discord: DiscordClient,
    ) -> Result<Self, String> {
        let base = api_base.as_str().trim_end_matches('/');
        let oauth = BasicClient::new(ClientId::new(application_id.to_string()))
            .set_client_secret(ClientSecret::new(client_secret.to_owned()))
            .set_auth_uri(AuthUrl::from_url(authorize.clone()))
            .set_token_uri(TokenUrl::new(format!("{base}/oauth2/token")).map_err(|e| e.to_string())?);
        let revocation_url = Url::parse(&format!("{base}/oauth2/token/revoke")).map_err(|e| e.to_string())?;
        // No redirects: a token endpoint that redirects is not to be followed (RFC 6749 §10).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(DISCORD_TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { oauth, http, revocation_url, client_secret: client_secret.to_owned(), discord })
    }

    fn http(&self) -> Http {
        Http(self.http.clone())
    }

    /// Revokes a person's access token at Discord (RFC 7009); a failure is logged, not shown
    /// (the session is gone either way, and the token expires on its own). Sent directly:
    /// the `oauth2` crate refuses a revocation URL that is not https, and the local stack's
    /// sandbox is plain http on loopback.
    async fn revoke(&self, access_token: String) {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", &access_token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        let sent = self
            .http
            .post(self.revocation_url.clone())
            .basic_auth(self.oauth.client_id().as_str(), Some(self.client_secret.as_str()))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => {
                tracing::warn!(status = response.status().as_u16(), "settings page: token revocation refused")
            }
            Err(error) => tracing::warn!(error = %Report(&error), "settings page: token revocation failed"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct HttpFailure(String);

/// The `oauth2` crate's HTTP client, over this crate's `reqwest` (a named type, so the
/// future it returns is `Send` for any lifetime, as axum handlers need).
struct Http(reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for Http {
    type Error = HttpFailure;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, HttpFailure>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| HttpFailure(e.to_string()))?;
            let mut answer = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                answer = answer.header(name, value);
            }
            let body = response.bytes().await.map_err(|e| HttpFailure(e.to_string()))?;
            answer.body(body.to_vec()).map_err(|e| HttpFailure(e.to_string()))
        })
    }
}

/// `next` when it is a path on this site under the settings page: one leading slash, no
/// scheme, no host, no backslash, nothing a browser could read as another origin.
pub fn safe_next(raw: &str) -> Option<String> {
    let path_only = raw.starts_with('/')
        && !raw.starts_with("//")
        && !raw.contains('\\')
        && !raw.chars().any(|c| c.is_control() || c.is_whitespace());
    // Read as the browser will: a path whose dot segments (`..`, `%2e%2e`) would move it, or
    // that would leave the site, is refused rather than checked as written.
    let site = url::Url::parse("https://guildbridge.invalid/").ok()?;
    let resolved = site.join(raw).ok()?;
    let stays = resolved.host_str() == Some("guildbridge.invalid") && &resolved[url::Position::BeforePath..] == raw;
    let under_settings = raw == BASE_PATH || raw.starts_with("/settings/") || raw.starts_with("/settings?");
    (path_only && stays && under_settings).then(|| raw.to_owned())
}

fn query_map(raw: Option<String>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect()
}

/// `GET /settings/login?next=...`: off to Discord.
pub async fn start(State(pages): State<Arc<Pages>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    match begin(&pages, &headers, &query_map(raw)).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn begin(pages: &Pages, headers: &HeaderMap, query: &HashMap<String, String>) -> Result<Response, ErrorPage> {
    let next = query.get("next").and_then(|next| safe_next(next)).unwrap_or_else(|| BASE_PATH.to_owned());
    let base = pages.connect.base_url(headers).ok_or_else(no_site)?;
    let redirect_uri = format!("{base}{CALLBACK}");
    let redirect = RedirectUrl::new(redirect_uri.clone()).map_err(|_| no_site())?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = pages
        .login
        .oauth
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("identify".to_owned()))
        .add_scope(Scope::new("guilds".to_owned()))
        .set_pkce_challenge(challenge)
        .set_redirect_uri(std::borrow::Cow::Owned(redirect))
        .url();
    let attempt = LoginAttempt {
        pkce_verifier: verifier.secret().clone(),
        next,
        redirect_uri,
        expires_at: pages.clock.now() + LOGIN_LIFETIME_SECS,
    };
    pages.store.start_login(state.secret(), &attempt).await?;
    let mut response = see_other(url.as_str());
    if let Some(cookie) = pages.cookies.set(Cookie::Login, state.secret()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

fn no_site() -> ErrorPage {
    ErrorPage::new(StatusCode::BAD_REQUEST, "Unknown address", "This request named no host Guildbridge serves.")
}

fn refused(detail: &str) -> ErrorPage {
    ErrorPage::new(StatusCode::BAD_REQUEST, "Login did not complete", format!("{detail} Start again from /settings."))
}

/// `GET /settings/login/callback`: back from Discord.
pub async fn callback(State(pages): State<Arc<Pages>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let mut response = match finish(&pages, &headers, &query_map(raw)).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    };
    // Spent either way.
    if let Some(cookie) = pages.cookies.clear(Cookie::Login) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

async fn finish(pages: &Pages, headers: &HeaderMap, query: &HashMap<String, String>) -> Result<Response, ErrorPage> {
    let state = query.get("state").map(String::as_str).unwrap_or_default();
    let cookie = pages.cookies.read(headers, Cookie::Login).unwrap_or_default();
    // The state must come back to the browser it was issued to (login CSRF).
    if state.is_empty() || !bool::from(state.as_bytes().ct_eq(cookie.as_bytes())) {
        return Err(refused("This login was not started in this browser, or took too long."));
    }
    let now = pages.clock.now();
    let attempt = pages.store.take_login(state, now).await?.ok_or_else(|| refused("This login has expired."))?;
    if query.contains_key("error") {
        return Err(ErrorPage::new(
            StatusCode::FORBIDDEN,
            "Login cancelled",
            "Discord says the login was cancelled. Start again from /settings.",
        ));
    }
    let code = query.get("code").filter(|code| !code.is_empty()).ok_or_else(|| refused("Discord sent no code."))?;
    let redirect = RedirectUrl::new(attempt.redirect_uri.clone()).map_err(|_| no_site())?;
    let login = &pages.login;
    let exchanged = login
        .oauth
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(PkceCodeVerifier::new(attempt.pkce_verifier.clone()))
        .set_redirect_uri(std::borrow::Cow::Owned(redirect))
        .request_async(&login.http())
        .await;
    let token = exchanged.map_err(|error| {
        tracing::info!(error = %Report(&error), "settings login: code exchange refused");
        refused("Discord did not accept this login.")
    })?;
    let access_token = token.access_token().secret().clone();
    let deadline = Instant::now() + DISCORD_TIMEOUT;
    let user = login.discord.current_user(&access_token, deadline).await.map_err(access::discord_unavailable)?;
    let guilds = access::fetch_guilds(pages, &access_token).await.map_err(access::discord_unavailable)?;
    let session_id = random_token()?;
    let session = SessionRecord {
        user_id: user.id.to_string(),
        username: user.global_name.clone().unwrap_or_else(|| user.name.clone()),
        access_token,
        csrf_token: random_token()?,
        created_at: now,
        expires_at: now + SESSION_LIFETIME_SECS,
        guilds,
        guilds_checked_at: now,
    };
    pages.store.create_session(&session_id, &session).await?;
    tracing::info!(user_id = %session.user_id, "settings login: signed in");
    let mut response = see_other(&attempt.next);
    if let Some(cookie) = pages.cookies.set(Cookie::Session, &session_id) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `POST /settings/logout`: the session is deleted and its Discord token revoked.
pub async fn logout(State(pages): State<Arc<Pages>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let outcome = async {
        let (signed_in, _) = SignedIn::from_post(&pages, &headers, &body).await?;
        if let Some(ended) = pages.store.end_session(&signed_in.session_id, pages.clock.now()).await? {
            pages.login.revoke(ended.access_token).await;
        }
        Ok::<_, ErrorPage>(())
    }
    .await;
    match outcome {
        Ok(()) => {
            let mut response = see_other(BASE_PATH);
            if let Some(cookie) = pages.cookies.clear(Cookie::Session) {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_the_settings_pages() {
        assert_eq!(safe_next("/settings/guilds/1").as_deref(), Some("/settings/guilds/1"));
        assert_eq!(safe_next("/settings").as_deref(), Some("/settings"));
        for refused in [
            "//evil.example",
            "//evil.example/settings/",
            "https://evil.example/settings",
            "/\\evil.example",
            "/settings/\\evil",
            "settings",
            "/settingsx",
            "/v1/tenant",
            "/settings/ guilds",
            "/settings/..//evil.example",
            "/settings/../v1/tenant",
            "/settings/%2e%2e/%2e%2e//evil.example",
            "/settings/./guilds",
            "",
        ] {
            assert_eq!(safe_next(refused), None, "{refused} was accepted");
        }
    }
}

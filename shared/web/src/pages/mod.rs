//! The settings page: where a guild's admins log in with Discord, connect the bot, change the
//! guild's settings and watch what Guildbridge does. Server-rendered (askama), no external
//! assets, no inline script, so the Content-Security-Policy stays `default-src 'self'`.
//!
//! Every page and every write re-checks, through Discord, that the person may manage the
//! guild (owner, Administrator or Manage Server), trusting what Discord said for at most
//! [`crate::domain::ACCESS_CACHE_SECS`]; the guild id in the URL is never enough alone.

mod access;
mod connect;
mod cookies;
mod html;
mod login;
mod message_drafts;
mod messages;
mod pickers;
mod settings_form;
mod summary;
mod tabs;
mod webhook;

use crate::domain::error::Report;
use std::sync::Arc;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};

pub use self::{cookies::CookiePolicy, login::LoginClient, login::safe_next, pickers::Pickers};
use crate::{
    api::connect::Connector, clock::SharedClock, discord::rest::DiscordClient, error_page::ErrorPage, queue::JobQueue,
    store::DomainStore,
};

/// Where the pages live; `SETTINGS_URL` points here.
pub const BASE_PATH: &str = "/settings";
/// Forms are small; anything larger is not from this page.
const MAX_FORM_BYTES: usize = 16 * 1024;
/// The Messages tab's form holds every template.
const MAX_MESSAGES_FORM_BYTES: usize = 512 * 1024;

/// What the pages use.
pub struct Pages {
    pub store: Arc<dyn DomainStore>,
    pub queue: Arc<dyn JobQueue>,
    pub clock: SharedClock,
    pub login: LoginClient,
    /// The bot install ("Add Guildbridge") and the site's public address.
    pub connect: Connector,
    /// The bot's client, for the pickers (channels and roles).
    pub bot: DiscordClient,
    pub pickers: Pickers,
    pub cookies: CookiePolicy,
    /// Where webhook endpoints may point (as for the tenant API).
    pub webhook_targets: crate::domain::TargetPolicy,
}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages").field("cookies", &self.cookies).finish_non_exhaustive()
    }
}

pub fn router(pages: Pages) -> Router {
    Router::new()
        .route("/settings", get(access::home))
        .route("/settings/login", get(login::start))
        .route("/settings/login/callback", get(login::callback))
        .route("/settings/logout", post(login::logout))
        .route("/settings/guilds/{guild_id}", get(settings_form::show).post(settings_form::save))
        .route(
            "/settings/guilds/{guild_id}/messages",
            // Nine templates of up to 6000 characters each, percent-encoded.
            get(messages::show).post(messages::act).layer(DefaultBodyLimit::max(MAX_MESSAGES_FORM_BYTES)),
        )
        .route("/settings/guilds/{guild_id}/channels", get(tabs::channels))
        .route("/settings/guilds/{guild_id}/channels/retry", post(tabs::retry_channel))
        .route("/settings/guilds/{guild_id}/channels/archive", post(tabs::archive_channel))
        .route("/settings/guilds/{guild_id}/sync", get(tabs::syncs).post(tabs::sync_now))
        .route("/settings/guilds/{guild_id}/dead-letters", get(tabs::dead_letters))
        .route("/settings/guilds/{guild_id}/dead-letters/retry", post(tabs::retry_dead_letter))
        .route("/settings/guilds/{guild_id}/keys", get(tabs::api_keys).post(tabs::create_api_key))
        .route("/settings/guilds/{guild_id}/keys/revoke", post(tabs::revoke_api_key))
        .route("/settings/guilds/{guild_id}/webhook", get(webhook::show).post(webhook::act))
        .route("/settings/assets/app.css", get(stylesheet))
        .route("/settings/assets/preview.js", get(script))
        .route("/settings/assets/messages.js", get(messages_script))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(axum::middleware::from_fn(crate::api::page_headers::security_headers))
        .with_state(Arc::new(pages))
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../../static/app.css")).into_response()
}

async fn messages_script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("../../static/messages.js"))
        .into_response()
}

async fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("../../static/preview.js"))
        .into_response()
}

/// A template as an HTML response (a plain 500 if it cannot render, which is a bug).
fn render(template: &impl askama::Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(error = %Report(&error), "settings page: template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

/// A 303 to `location` (after a POST, so a reload does not repeat it).
fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// 32 random bytes, URL-safe: session ids, CSRF tokens.
fn random_token() -> Result<String, ErrorPage> {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| ErrorPage::busy())?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

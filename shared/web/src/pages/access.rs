//! Who is asking, and may they: the session behind the cookie, its guilds re-read from
//! Discord once the cached list is older than a minute, and for every POST the CSRF token and
//! the `Origin`.

use crate::domain::error::Report;
use std::{collections::HashMap, sync::Arc, time::Duration};

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Path, Request, State},
    http::{HeaderMap, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};
use subtle::ConstantTimeEq;
use tokio::time::Instant;
use twilight_model::id::{Id, marker::GuildMarker};

use super::{BASE_PATH, ErrorPage, Pages, cookies::Cookie, html, render, see_other};
use crate::{
    discord::rest::DiscordError,
    domain::{GuildAccess, SessionRecord, TenantId},
    store::StoreError,
};

const GUILDS_TIMEOUT: Duration = Duration::from_secs(4);

/// A person with a live session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session_id: String,
    pub session: SessionRecord,
}

pub(super) fn discord_unavailable(error: DiscordError) -> ErrorPage {
    tracing::warn!(error = %Report(&error), "settings page: Discord call failed");
    ErrorPage::new(StatusCode::SERVICE_UNAVAILABLE, "Discord did not answer", "Try again in a moment.")
}

/// The guilds the token's owner may manage, as Discord says now.
pub(super) async fn fetch_guilds(pages: &Pages, access_token: &str) -> Result<Vec<GuildAccess>, DiscordError> {
    let deadline = Instant::now() + GUILDS_TIMEOUT;
    let guilds = pages.login.discord.current_user_guilds(access_token, deadline).await?;
    Ok(guilds
        .into_iter()
        .map(|guild| GuildAccess {
            guild_id: guild.id,
            name: guild.name,
            owner: guild.owner,
            permissions: guild.permissions.bits(),
        })
        .filter(GuildAccess::can_manage)
        .collect())
}

impl SignedIn {
    /// The request's session, with its guild list fresh (re-read from Discord when older
    /// than the cache allows); `None` when there is no live session.
    pub async fn from_headers(pages: &Pages, headers: &HeaderMap) -> Result<Option<Self>, ErrorPage> {
        let Some(session_id) = pages.cookies.read(headers, Cookie::Session) else { return Ok(None) };
        let now = pages.clock.now();
        let Some(session) = pages.store.session(&session_id, now).await? else { return Ok(None) };
        if session.access_is_fresh(now) {
            return Ok(Some(Self { session_id, session }));
        }
        let guilds = match fetch_guilds(pages, &session.access_token).await {
            Ok(guilds) => guilds,
            // A token Discord no longer accepts ends the session; anything else is a retry.
            Err(DiscordError::Permanent { status: 401, .. }) => {
                pages.store.end_session(&session_id, now).await?;
                return Ok(None);
            }
            Err(error) => return Err(discord_unavailable(error)),
        };
        match pages.store.refresh_access(&session_id, guilds, now, now).await {
            Ok(session) => Ok(Some(Self { session_id, session })),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// A POST's session, after checking that it came from this site (`Origin`) and carries
    /// the session's CSRF token. Returns the form's fields.
    pub async fn from_post(
        pages: &Pages,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(Self, HashMap<String, String>), ErrorPage> {
        let base = pages.connect.base_url(headers);
        let expected = base.as_deref().and_then(|base| url::Url::parse(base).ok()).map(|url| url.origin());
        let sent =
            headers.get(header::ORIGIN).and_then(|value| value.to_str().ok()).and_then(|o| url::Url::parse(o).ok());
        let same_origin = matches!((expected, sent), (Some(expected), Some(sent)) if sent.origin() == expected);
        if !same_origin {
            return Err(refused_post("This form was not sent from the Guildbridge settings page."));
        }
        let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
        let signed_in = Self::from_headers(pages, headers)
            .await?
            .ok_or_else(|| ErrorPage::new(StatusCode::UNAUTHORIZED, "Signed out", "Log in again from /settings."))?;
        let token = form.get("csrf").map(String::as_str).unwrap_or_default();
        if token.is_empty() || !bool::from(token.as_bytes().ct_eq(signed_in.session.csrf_token.as_bytes())) {
            return Err(refused_post("This form has no valid security token; reload the page and try again."));
        }
        Ok((signed_in, form))
    }
}

fn refused_post(detail: &str) -> ErrorPage {
    ErrorPage::new(StatusCode::FORBIDDEN, "Refused", detail).unchanged()
}

fn not_yours() -> ErrorPage {
    ErrorPage::new(
        StatusCode::FORBIDDEN,
        "Not yours to manage",
        "Discord says you are not the owner of this server and hold neither Administrator nor Manage Server in it.",
    )
}

/// A person who may manage the guild in the URL, as Discord said within the last minute.
#[derive(Debug, Clone)]
pub struct GuildAdmin {
    pub signed_in: SignedIn,
    pub guild: GuildAccess,
    /// The tenant the guild is connected to, if any.
    pub tenant: Option<TenantId>,
}

impl GuildAdmin {
    pub fn guild_id(&self) -> Id<GuildMarker> {
        self.guild.guild_id
    }

    pub fn csrf(&self) -> &str {
        &self.signed_in.session.csrf_token
    }
}

pub(super) fn parse_guild(raw: &str) -> Result<Id<GuildMarker>, ErrorPage> {
    crate::domain::snowflake(raw)
        .ok_or_else(|| ErrorPage::new(StatusCode::NOT_FOUND, "No such server", "That is not a Discord server id."))
}

/// Why a guild page is not shown: not signed in (to the login, then back), or refused.
#[derive(Debug)]
pub enum Denied {
    SignIn(String),
    Page(ErrorPage),
}

impl From<ErrorPage> for Denied {
    fn from(error: ErrorPage) -> Self {
        Denied::Page(error)
    }
}

impl From<StoreError> for Denied {
    fn from(error: StoreError) -> Self {
        Denied::Page(error.into())
    }
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::SignIn(next) => {
                let mut target = url::form_urlencoded::Serializer::new(String::new());
                target.append_pair("next", &next);
                see_other(&format!("{BASE_PATH}/login?{}", target.finish()))
            }
            Denied::Page(error) => error.into_response(),
        }
    }
}

async fn admin_of(pages: &Pages, signed_in: SignedIn, guild_id: Id<GuildMarker>) -> Result<GuildAdmin, Denied> {
    let guild = signed_in.session.manages(guild_id).cloned().ok_or_else(not_yours)?;
    let tenant = pages.store.tenant_of(guild_id).await?;
    Ok(GuildAdmin { signed_in, guild, tenant })
}

/// For a guild page (GET): the admin, or a way to become one.
async fn guild_page(
    pages: &Pages,
    headers: &HeaderMap,
    guild_id: Id<GuildMarker>,
    path: &str,
) -> Result<GuildAdmin, Denied> {
    let signed_in = SignedIn::from_headers(pages, headers).await?.ok_or_else(|| Denied::SignIn(path.to_owned()))?;
    admin_of(pages, signed_in, guild_id).await
}

/// For a guild write (POST): origin, CSRF and access checked; the form's fields.
async fn guild_post(
    pages: &Pages,
    headers: &HeaderMap,
    guild_id: Id<GuildMarker>,
    body: &[u8],
) -> Result<(GuildAdmin, HashMap<String, String>), Denied> {
    let (signed_in, form) = SignedIn::from_post(pages, headers, body).await?;
    Ok((admin_of(pages, signed_in, guild_id).await?, form))
}

/// A guild page's path: `/settings/guilds/{guild_id}/...`.
#[derive(Debug, serde::Deserialize)]
struct GuildPath {
    guild_id: String,
}

/// The guild named in a page's path, parsed once: a 404 page for anything but a Discord id.
async fn path_guild(parts: &mut Parts, pages: &Arc<Pages>) -> Result<Id<GuildMarker>, Response> {
    let Path(GuildPath { guild_id }) = Path::<GuildPath>::from_request_parts(parts, pages).await.map_err(|_| {
        ErrorPage::new(StatusCode::NOT_FOUND, "No such page", "This page belongs to no server.").into_response()
    })?;
    parse_guild(&guild_id).map_err(IntoResponse::into_response)
}

/// A guild page's admin (GET): signed in and managing the guild in the path. The rejection
/// is the answer to give instead: sign in and come back here, or "not yours".
#[derive(Debug)]
pub struct AdminPage(pub GuildAdmin);

impl FromRequestParts<Arc<Pages>> for AdminPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, pages: &Arc<Pages>) -> Result<Self, Self::Rejection> {
        let guild = path_guild(parts, pages).await?;
        let path = parts.uri.path().to_owned();
        guild_page(pages, &parts.headers, guild, &path).await.map(Self).map_err(IntoResponse::into_response)
    }
}

/// A connected guild's page: its admin and tenant. A guild not connected gets the "Add
/// Guildbridge" page instead.
#[derive(Debug)]
pub struct ConnectedPage {
    pub admin: GuildAdmin,
    pub tenant: TenantId,
}

impl FromRequestParts<Arc<Pages>> for ConnectedPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, pages: &Arc<Pages>) -> Result<Self, Self::Rejection> {
        let AdminPage(admin) = AdminPage::from_request_parts(parts, pages).await?;
        match admin.tenant.clone() {
            Some(tenant) => Ok(Self { admin, tenant }),
            None => Err(super::connect::page(pages, &parts.headers, &admin).await),
        }
    }
}

/// A form's fields by name, for the forms of many fields (the settings, the messages).
pub type Fields = HashMap<String, String>;

/// What a form's fields become once the request is checked: each handler names the fields it
/// takes, parsed once (a missing or malformed one is the refusal page, and nothing changes).
pub trait FromFields: Sized {
    fn from_fields(fields: Fields) -> Result<Self, ErrorPage>;
}

impl FromFields for Fields {
    fn from_fields(fields: Fields) -> Result<Self, ErrorPage> {
        Ok(fields)
    }
}

/// A guild write (POST): the `Origin`, the CSRF token and access checked, with the form's
/// fields as `F`. The rejection is the refusal to give.
#[derive(Debug)]
pub struct AdminForm<F = Fields> {
    pub admin: GuildAdmin,
    pub form: F,
}

impl<F: FromFields + Send> FromRequest<Arc<Pages>> for AdminForm<F> {
    type Rejection = Response;

    async fn from_request(request: Request, pages: &Arc<Pages>) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let guild = path_guild(&mut parts, pages).await?;
        let headers = parts.headers.clone();
        let body =
            Bytes::from_request(Request::from_parts(parts, body), pages).await.map_err(IntoResponse::into_response)?;
        let (admin, fields) = guild_post(pages, &headers, guild, &body).await.map_err(IntoResponse::into_response)?;
        let form = F::from_fields(fields).map_err(IntoResponse::into_response)?;
        Ok(Self { admin, form })
    }
}

/// A write to a connected guild: 409 for a guild not connected.
#[derive(Debug)]
pub struct ConnectedForm<F = Fields> {
    pub admin: GuildAdmin,
    pub tenant: TenantId,
    pub form: F,
}

impl<F: FromFields + Send> FromRequest<Arc<Pages>> for ConnectedForm<F> {
    type Rejection = Response;

    async fn from_request(request: Request, pages: &Arc<Pages>) -> Result<Self, Self::Rejection> {
        let AdminForm { admin, form } = AdminForm::<F>::from_request(request, pages).await?;
        match admin.tenant.clone() {
            Some(tenant) => Ok(Self { admin, tenant, form }),
            None => Err(ErrorPage::new(StatusCode::CONFLICT, "Not connected", "Add Guildbridge to this server first.")
                .into_response()),
        }
    }
}

/// `GET /settings`: the login page, or the guilds the person may manage.
pub async fn home(State(pages): State<Arc<Pages>>, headers: HeaderMap) -> Response {
    let signed_in = match SignedIn::from_headers(&pages, &headers).await {
        Ok(signed_in) => signed_in,
        Err(error) => return error.into_response(),
    };
    let Some(signed_in) = signed_in else {
        return render(&html::LoginPage {});
    };
    let mut guilds = Vec::new();
    for guild in &signed_in.session.guilds {
        let connected = match pages.store.tenant_of(guild.guild_id).await {
            Ok(tenant) => tenant.is_some(),
            Err(error) => return ErrorPage::from(error).into_response(),
        };
        guilds.push(html::GuildChoice { id: guild.guild_id.to_string(), name: guild.name.clone(), connected });
    }
    let session = &signed_in.session;
    render(&html::PickerPage { username: &session.username, csrf: &session.csrf_token, guilds })
}

//! `/connect/callback`: where Discord sends the person who authorized the bot (`GET`: which
//! server, for which tenant, to confirm), and where they confirm (`POST`: connected). Every
//! refusal is a plain page that says what happened and that nothing was changed; success is
//! a redirect to the platform's return URL with the outcome in its query.

use crate::domain::error::Report;
use std::{collections::HashMap, sync::Arc, time::Duration};

use askama::Template as _;
use axum::{
    extract::{RawQuery, State},
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use twilight_model::{
    guild::Permissions,
    id::{Id, marker::GuildMarker},
};
use url::Url;

use super::{ConnectState, STATE_LIFETIME_SECS, StateRefusal, allowed_return_url};
use crate::{
    api::Api,
    domain::{BotInstall, Tenant, TenantId},
    error_page::{Back, ErrorPage},
    store::{FirstOrSeen, StoreError},
};

/// Nonces stay spent a little longer than a state can live.
const SPENT_NONCE_TTL: Duration = Duration::from_secs(STATE_LIFETIME_SECS + 300);
const NONCE_SCOPE: &str = "connect-state";
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);

/// `GET`: Discord sends the person back here. The code is exchanged (so the guild is known
/// from Discord, not the query), and the person is asked to confirm which tenant the server
/// will serve; nothing is connected yet.
pub async fn callback(State(api): State<Arc<Api>>, RawQuery(raw): RawQuery) -> Response {
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect();
    match review(&api, &query).await {
        Ok(page) => page,
        Err(refusal) => refusal.into_response(),
    }
}

/// `POST`: the person confirmed. The single-use state is spent, and the guild connected.
pub async fn confirm(State(api): State<Arc<Api>>, body: axum::body::Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    match connect(&api, form.get("confirm").map(String::as_str).unwrap_or_default()).await {
        Ok(target) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(location) = HeaderValue::from_str(target.as_str()) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(refusal) => refusal.into_response(),
    }
}

/// What the confirmation carries from the review to the connection, sealed (its own key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Confirmation {
    nonce: String,
    /// `None`: the guild becomes its own (standalone) tenant.
    tenant_id: Option<String>,
    guild_id: Id<GuildMarker>,
    guild_name: String,
    return_url: String,
    expires_at: u64,
}

const CONFIRM_PURPOSE: &str = "connect-confirm";
/// How long the person has to confirm.
const CONFIRM_LIFETIME_SECS: u64 = 600;

/// A refusal: the one error page, saying nothing was changed, with no way back until the
/// platform's return address is known.
fn refusal(status: StatusCode, title: &'static str, detail: impl Into<String>) -> ErrorPage {
    ErrorPage::new(status, title, detail).unchanged().back(Back::Nowhere)
}

/// A refusal with a link back to the platform's page, telling it how the attempt ended.
trait BackTo {
    fn back_to(self, url: &Url, outcome: &str) -> Self;
}

impl BackTo for ErrorPage {
    fn back_to(self, url: &Url, outcome: &str) -> Self {
        let mut back = url.clone();
        back.query_pairs_mut().append_pair("guildbridge_connect", outcome);
        self.back(Back::To(Box::new(back)))
    }
}

/// The review before connecting: which server, for whom, and the sealed confirmation.
#[derive(askama::Template)]
#[template(path = "connect_review.html")]
struct ReviewPage<'a> {
    guild: &'a str,
    tenant: Option<&'a str>,
    action: &'a str,
    sealed: &'a str,
    cancel: &'a str,
}

/// A store failure as the person sees it: busy is "try again", the rest says what it is.
fn busy(error: StoreError) -> ErrorPage {
    ErrorPage::from(error).unchanged().back(Back::Nowhere)
}

fn already_used() -> ErrorPage {
    refusal(
        StatusCode::CONFLICT,
        "This link was already used",
        "Each connect link works once; start again from your platform.",
    )
}

async fn review(api: &Api, query: &HashMap<String, String>) -> Result<Response, ErrorPage> {
    let now = api.clock.now();
    let token = query.get("state").map(String::as_str).unwrap_or_default();
    let state = ConnectState::open(&api.connect.state_key, token, now).map_err(|problem| {
        let title = match problem {
            StateRefusal::Tampered => "This link is not valid",
            StateRefusal::Expired => "This link has expired",
        };
        refusal(StatusCode::BAD_REQUEST, title, problem.to_string())
    })?;
    // A replay (even of a denied attempt) is refused before anything else.
    if api.store.recall(NONCE_SCOPE, &state.nonce, now).await.map_err(busy)?.is_some() {
        return Err(already_used());
    }
    let (tenant_id, return_url) = if state.standalone {
        let return_url = same_site_return(&state).ok_or_else(|| {
            refusal(StatusCode::BAD_REQUEST, "This link is not valid", "Its return address is not on this site.")
        })?;
        (None, return_url)
    } else {
        (Some(TenantId::from(state.tenant_id.as_str())), tenant_return(api, &state.tenant_id, &state.return_url).await?)
    };
    if query.contains_key("error") {
        spend(api, &state.nonce, now).await?;
        return Err(refusal(
            StatusCode::FORBIDDEN,
            "Authorization cancelled",
            "Discord says the authorization was cancelled, so Guildbridge was not added.",
        )
        .back_to(&return_url, "cancelled"));
    }
    let code = query.get("code").filter(|code| !code.is_empty()).ok_or_else(|| {
        refusal(StatusCode::BAD_REQUEST, "This link is not valid", "Discord sent no authorization code.")
    })?;
    let deadline = tokio::time::Instant::now() + EXCHANGE_TIMEOUT;
    let connector = &api.connect;
    let exchanged = connector
        .discord
        .exchange_code(connector.application_id, connector.client_secret.expose(), code, &state.redirect_uri, deadline)
        .await;
    let access = exchanged.map_err(|error| {
        if error.is_permanent() {
            tracing::info!(error = %Report(&error), "connect callback: code refused");
            refusal(StatusCode::BAD_REQUEST, "Discord refused", "Discord did not accept this authorization.")
        } else {
            tracing::warn!(error = %Report(&error), "connect callback: Discord unavailable");
            refusal(StatusCode::SERVICE_UNAVAILABLE, "Try again", "Discord did not answer; start again shortly.")
        }
    })?;
    let guild = access.guild.ok_or_else(|| {
        refusal(StatusCode::BAD_REQUEST, "No server chosen", "Discord's answer named no server to connect.")
    })?;
    let confirmation = Confirmation {
        nonce: state.nonce.clone(),
        tenant_id: tenant_id.map(|tenant| tenant.to_string()),
        guild_id: guild.id,
        guild_name: guild.name.clone(),
        return_url: return_url.to_string(),
        expires_at: now + CONFIRM_LIFETIME_SECS,
    };
    let sealed = api.connect.state_key.seal(CONFIRM_PURPOSE, &serde_json::to_vec(&confirmation).unwrap_or_default());
    let mut cancel = return_url.clone();
    cancel.query_pairs_mut().append_pair("guildbridge_connect", "cancelled");
    let page = ReviewPage {
        guild: &guild.name,
        tenant: confirmation.tenant_id.as_deref(),
        action: super::CALLBACK_PATH,
        sealed: &sealed,
        cancel: cancel.as_str(),
    };
    let mut response = match page.render() {
        Ok(html) => (StatusCode::OK, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(error = %Report(&error), "connect callback: template failed");
            return Err(ErrorPage::new(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "Try again.")
                .back(Back::Nowhere));
        }
    };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The platform's return URL, checked against its allowed origins as they are now.
async fn tenant_return(api: &Api, tenant_id: &str, return_url: &str) -> Result<Url, ErrorPage> {
    let tenant = api.store.tenant(&TenantId::from(tenant_id)).await.map_err(busy)?;
    let allowed = tenant.map(|tenant| tenant.allowed_origins).unwrap_or_default();
    allowed_return_url(return_url, &allowed).ok_or_else(|| {
        refusal(StatusCode::BAD_REQUEST, "This link is not valid", "Its return address is no longer allowed.")
    })
}

/// Spends the connect link's nonce: `already used` when it was.
async fn spend(api: &Api, nonce: &str, now: u64) -> Result<(), ErrorPage> {
    match api.store.remember(NONCE_SCOPE, nonce, json!(true), now, SPENT_NONCE_TTL).await.map_err(busy)? {
        FirstOrSeen::First => Ok(()),
        FirstOrSeen::Seen(_) => Err(already_used()),
    }
}

async fn connect(api: &Api, sealed: &str) -> Result<Url, ErrorPage> {
    let now = api.clock.now();
    let confirmation = api
        .connect
        .state_key
        .unseal(CONFIRM_PURPOSE, sealed)
        .ok()
        .and_then(|payload| serde_json::from_slice::<Confirmation>(&payload).ok())
        .ok_or_else(|| {
            refusal(StatusCode::BAD_REQUEST, "This link is not valid", "This confirmation was not made by Guildbridge.")
        })?;
    if confirmation.expires_at <= now {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "This link has expired",
            "The confirmation waited too long; start again from your platform.",
        ));
    }
    spend(api, &confirmation.nonce, now).await?;
    let return_url = Url::parse(&confirmation.return_url)
        .map_err(|_| refusal(StatusCode::BAD_REQUEST, "This link is not valid", "Its return address is not valid."))?;
    let guild_id = confirmation.guild_id;
    let guild_name = confirmation.guild_name.as_str();
    let tenant_id = match &confirmation.tenant_id {
        Some(tenant_id) => TenantId::from(tenant_id.as_str()),
        None => standalone_tenant(api, guild_id, now).await?,
    };
    match api.store.connect(&tenant_id, guild_id, guild_name, now).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => match api.store.tenant_of(guild_id).await.map_err(busy)? {
            Some(owner) if owner == tenant_id => {}
            Some(_) => {
                return Err(refusal(
                    StatusCode::CONFLICT,
                    "Server already connected",
                    format!("{guild_name} is already connected to another platform."),
                )
                .back_to(&return_url, "taken"));
            }
            None => {
                return Err(refusal(
                    StatusCode::CONFLICT,
                    "Already connected",
                    "Your platform is already connected to another server; disconnect it first.",
                )
                .back_to(&return_url, "already-connected"));
            }
        },
        Err(StoreError::Conflict(_)) => {
            return Err(refusal(
                StatusCode::CONFLICT,
                "Try again in a few minutes",
                format!("{guild_name} was connected before; what was kept for that connection is still being deleted."),
            )
            .back_to(&return_url, "purging"));
        }
        Err(error) => return Err(busy(error)),
    }
    // What Discord says the bot holds there now, never the callback's `permissions=` (the
    // person's browser could say anything).
    let granted = granted_in(api, guild_id).await;
    let install = BotInstall { invited: true, permissions: granted, updated_at: now };
    api.store.record_bot_install(guild_id, install).await.map_err(busy)?;
    let needed = api.store.settings(guild_id).await.map_err(busy)?.settings.bot_permissions();
    let missing = needed - Permissions::from_bits_truncate(granted);
    tracing::info!(guild_id = guild_id.get(), "connect callback: connected");
    let mut target = return_url;
    target
        .query_pairs_mut()
        .append_pair("guildbridge_connect", "connected")
        .append_pair("guild_id", &guild_id.to_string());
    if !missing.is_empty() {
        let names = crate::api::routes::tenant::names(missing);
        target.query_pairs_mut().append_pair("missing_permissions", &names.join(","));
    }
    Ok(target)
}

/// The permissions the bot holds in the guild, from its roles as Discord lists them (the
/// bot's own integration role and @everyone); none when Discord cannot say now.
async fn granted_in(api: &Api, guild_id: Id<GuildMarker>) -> u64 {
    let deadline = tokio::time::Instant::now() + EXCHANGE_TIMEOUT;
    let roles = match api.bot.guild_roles(guild_id, deadline).await {
        Ok(roles) => roles,
        Err(error) => {
            tracing::warn!(error = %Report(&error), %guild_id, "connect callback: the bot's permissions could not be read");
            return 0;
        }
    };
    crate::discord::permissions::bot_permissions(&roles, guild_id, api.connect.application_id).bits()
}

/// A settings-page connect returns to the settings page: the same origin as the callback.
fn same_site_return(state: &ConnectState) -> Option<Url> {
    let callback = Url::parse(&state.redirect_uri).ok()?;
    let return_url = Url::parse(&state.return_url).ok()?;
    (return_url.origin() == callback.origin()).then_some(return_url)
}

/// The tenant of a guild that connects without a platform: `guild-{id}`, made on first use.
async fn standalone_tenant(api: &Api, guild_id: Id<GuildMarker>, now: u64) -> Result<TenantId, ErrorPage> {
    let tenant_id = TenantId::standalone(guild_id);
    let tenant = Tenant { tenant_id: tenant_id.clone(), allowed_origins: Vec::new(), created_at: now };
    match api.store.create_tenant(&tenant).await {
        Ok(()) | Err(StoreError::AlreadyExists(_)) => Ok(tenant_id),
        Err(error) => Err(busy(error)),
    }
}

//! The tenant's guild: connect one through Discord's bot authorization, or disconnect it.

use axum::http::HeaderMap;

use super::prelude::*;
use crate::{
    api::connect::{self, ConnectState, STATE_LIFETIME_SECS},
    domain::{BotInstall, GuildSettings, Job},
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectBody {
    /// Where the person is sent back after Discord, with `guildbridge_connect=connected`
    /// (and `guild_id`, `missing_permissions`) or the reason it did not happen. Its origin
    /// must be one of the tenant's allowed origins, exactly.
    #[schema(format = "uri", max_length = 2000)]
    pub return_url: String,
}

/// Starts connecting a guild: the link to send the person to (Discord's bot authorization),
/// usable once within 10 minutes.
#[utoipa::path(post, path = "/v1/connect", tag = "tenant", request_body = ConnectBody,
    responses((status = 200, description = "the authorization link", body = ConnectView)))]
pub async fn start_connect(
    caller: Caller,
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    JsonBody(body, _): JsonBody<ConnectBody>,
) -> Result<Json<ConnectView>, Problem> {
    let tenant = api.store.tenant(&caller.tenant_id).await?;
    let allowed = tenant.map(|tenant| tenant.allowed_origins).unwrap_or_default();
    let return_url = (body.return_url.len() <= 2000)
        .then(|| connect::allowed_return_url(&body.return_url, &allowed))
        .flatten()
        .ok_or_else(|| {
            Problem::invalid_field("return_url", "an absolute URL on one of the tenant's allowed origins")
        })?;
    if api.store.guild_of(&caller.tenant_id).await?.is_some() {
        return Err(Problem::conflict("already-connected", "a Discord server is connected; DELETE /v1/guild first"));
    }
    let redirect_uri = api.connect.redirect_uri(&headers).ok_or_else(|| Problem::bad_request("no Host header"))?;
    let expires_at = api.clock.now() + STATE_LIFETIME_SECS;
    let state = ConnectState {
        tenant_id: caller.tenant_id.to_string(),
        nonce: random_key()?,
        return_url: return_url.to_string(),
        redirect_uri: redirect_uri.clone(),
        expires_at,
        standalone: false,
    };
    let permissions = GuildSettings::default().bot_permissions();
    let link = api.connect.authorize_link(permissions, &redirect_uri, &state.seal(&api.connect.state_key));
    Ok(Json(ConnectView {
        authorize_url: link.to_string(),
        expires_at,
        permissions: super::tenant::names(permissions),
    }))
}

/// Disconnects the guild: the connection goes at once (202), and the bot leaves the guild
/// in a job.
#[utoipa::path(delete, path = "/v1/guild", tag = "tenant",
    responses((status = 202, description = "disconnected; the bot's leaving is queued", body = Accepted)))]
pub async fn disconnect(caller: Connected, State(api): State<Arc<Api>>) -> Result<Response, Problem> {
    let now = api.clock.now();
    let Some(guild_id) = api.store.disconnect(&caller.tenant_id).await? else {
        return Err(Problem::not_connected());
    };
    api.store.record_bot_install(guild_id, BotInstall { invited: false, permissions: 0, updated_at: now }).await?;
    accepted(&api, Job::LeaveGuild { guild_id, requested_at: now }).await
}

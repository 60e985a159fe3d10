//! "Add Guildbridge" for a guild the bot is not connected to: the bot authorization link for
//! that guild (prefilled, guild selection disabled), through the same callback as a
//! platform's connect flow; with no platform behind it, the guild becomes its own tenant.

use axum::{
    http::HeaderMap,
    response::{IntoResponse, Response},
};

use super::{ErrorPage, Pages, access::GuildAdmin, html, random_token, render};
use crate::discord::permissions::labels;
use crate::{
    api::connect::{ConnectState, STATE_LIFETIME_SECS},
    domain::GuildSettings,
};

pub(super) async fn page(pages: &Pages, headers: &HeaderMap, admin: &GuildAdmin) -> Response {
    match link(pages, headers, admin) {
        Ok(link) => {
            let permissions = labels(GuildSettings::default().bot_permissions());
            render(&html::ConnectPage { nav: html::Nav::unconnected(admin), link, permissions })
        }
        Err(error) => error.into_response(),
    }
}

fn link(pages: &Pages, headers: &HeaderMap, admin: &GuildAdmin) -> Result<String, ErrorPage> {
    let connector = &pages.connect;
    let unknown = || ErrorPage::new(axum::http::StatusCode::BAD_REQUEST, "Unknown address", "No host named.");
    let base = connector.base_url(headers).ok_or_else(unknown)?;
    let redirect_uri = connector.redirect_uri(headers).ok_or_else(unknown)?;
    let state = ConnectState {
        tenant_id: String::new(),
        nonce: random_token()?,
        return_url: format!("{base}/settings/guilds/{}", admin.guild_id()),
        redirect_uri: redirect_uri.clone(),
        expires_at: pages.clock.now() + STATE_LIFETIME_SECS,
        standalone: true,
    };
    let permissions = GuildSettings::default().bot_permissions();
    let mut link = connector.authorize_link(permissions, &redirect_uri, &state.seal(&connector.state_key));
    link.query_pairs_mut()
        .append_pair("guild_id", &admin.guild_id().to_string())
        .append_pair("disable_guild_select", "true");
    Ok(link.to_string())
}

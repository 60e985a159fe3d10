//! The `web` function's wiring: the tenant API and the settings page over the backends.

use std::time::Duration;

use guildbridge_web::{
    api::{
        self,
        connect::{ClientSecret, Connector},
    },
    pages,
};

use super::{Backends, CallLimits, WiringError};
use crate::{
    clock,
    config::WebConfig,
    discord::rest::{BotToken, DiscordClient},
};

/// The `web` function's router: the tenant API over the store and the queue.
pub fn web_router(backends: &Backends, web: &WebConfig) -> Result<axum::Router, WiringError> {
    let api = api::router(api::Api {
        store: backends.store.clone(),
        queue: backends.queue.clone(),
        clock: clock::system(),
        connect: connector(web)?,
        webhook_targets: web.webhook_targets,
        bot: web_bot(web)?,
        limits: web.request_limits,
    });
    let router = api.merge(settings_pages(backends, web)?);
    Ok(router.layer(axum::middleware::from_fn(crate::metrics::count_responses)))
}

/// The settings page: people log in through the same OAuth2 application that installs the
/// bot; the pickers use the bot's token when the function has it.
pub fn settings_pages(backends: &Backends, web: &WebConfig) -> Result<axum::Router, WiringError> {
    let connect = connector(web)?;
    let login = pages::LoginClient::new(
        web.application_id,
        &web.client_secret,
        &web.authorize_url(),
        &web.api_base_url,
        connect.discord.clone(),
    )
    .map_err(WiringError::Pages)?;
    let bot = web_bot(web)?;
    Ok(pages::router(pages::Pages {
        store: backends.store.clone(),
        queue: backends.queue.clone(),
        clock: clock::system(),
        login,
        cookies: pages::CookiePolicy::for_site(web.public_url.as_ref()),
        connect,
        bot,
        pickers: pages::Pickers::new(web.application_id),
        webhook_targets: web.webhook_targets,
    }))
}

/// The bot's client in `web`: the pickers and the checks of settings ids. Without a token
/// Discord refuses every call, so ids cannot be saved and the pickers are plain fields.
fn web_bot(web: &WebConfig) -> Result<DiscordClient, WiringError> {
    let bot_token = web.bot_token.clone().unwrap_or_else(|| BotToken::new(""));
    Ok(DiscordClient::new(web.api_base_url.clone(), bot_token)?)
}

/// The connect flow's parts. Its Discord client only exchanges OAuth2 codes (the client
/// secret authenticates those), so it holds no bot token.
pub fn connector(web: &WebConfig) -> Result<Connector, WiringError> {
    Ok(Connector {
        application_id: web.application_id,
        client_secret: ClientSecret::new(web.client_secret.clone()),
        state_key: web.state_key.clone(),
        authorize_url: web.authorize_url(),
        public_url: web.public_url.clone(),
        discord: DiscordClient::new(web.api_base_url.clone(), BotToken::new(""))?,
    })
}

/// The web function answers people and platforms waiting on it: calls are cut off well
/// inside a browser's or an HTTP client's patience, and retried once or twice inside that.
pub const WEB_CALLS: CallLimits = CallLimits {
    connect: Duration::from_millis(1_000),
    attempt: Duration::from_millis(2_000),
    operation: Duration::from_millis(5_000),
};

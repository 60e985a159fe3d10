//! Direct messages: the bot's DM channel with a user, where reminders reach those who asked.

use reqwest::Method;
use serde::Serialize;
use tokio::time::Instant;
use twilight_model::{
    channel::Channel,
    id::{Id, marker::UserMarker},
};

use super::{DiscordClient, DiscordError, Route};

/// Body of Create DM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
struct CreateDm {
    recipient_id: Id<UserMarker>,
}

impl DiscordClient {
    /// The bot's DM channel with `user_id`; Discord answers the same channel every time, so
    /// asking again is harmless. Sending in it fails with 50007 when the user does not take
    /// DMs from the server's members.
    pub async fn create_dm(&self, user_id: Id<UserMarker>, deadline: Instant) -> Result<Channel, DiscordError> {
        let route = Route::new(
            Method::POST,
            "/users/@me/channels",
            "/users/@me/channels".to_owned(),
            "user:@me:channels".to_owned(),
        );
        self.send(route, Some(&CreateDm { recipient_id: user_id }), None, deadline).await
    }
}

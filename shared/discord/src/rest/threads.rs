//! Threads and their members, roles Guildbridge makes, and messages it edits or pins.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use twilight_model::{
    channel::{Channel, ChannelType, Message},
    guild::Role,
    id::{
        Id,
        marker::{ChannelMarker, GuildMarker, MessageMarker, RoleMarker, UserMarker},
    },
};

use super::{
    DiscordClient, DiscordError, MessageBody,
    operations::{channel_route, guild_route, route},
};

/// Body of Start Thread without Message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateThread {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ChannelType,
    /// Minutes: 60, 1440, 4320 or 10080.
    pub auto_archive_duration: u32,
    /// Whether members other than moderators may add people (private threads).
    pub invitable: bool,
}

/// Body of Modify Channel for a thread.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModifyThread {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
}

/// Body of Create Guild Role (only what Guildbridge sets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateRole {
    pub name: String,
    /// No permissions of its own: a team role only groups people. Discord's documentation
    /// writes permissions as a string, its OpenAPI document as an integer; Discord accepts both.
    pub permissions: u64,
    pub mentionable: bool,
}

/// Body of Modify Guild Role (only what Guildbridge changes: a renamed team's role).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModifyRole {
    pub name: String,
}

/// List Active Guild Threads' answer (twilight-model has no type for it).
#[derive(Debug, Clone, Deserialize)]
pub struct ActiveThreads {
    pub threads: Vec<Channel>,
}

impl DiscordClient {
    pub async fn create_thread(
        &self,
        channel_id: Id<ChannelMarker>,
        body: &CreateThread,
        reason: Option<&str>,
        deadline: Instant,
    ) -> Result<Channel, DiscordError> {
        let route = route!(channel_route, Method::POST, "/channels/{channel_id}/threads", channel_id);
        self.send(route, Some(body), reason, deadline).await
    }

    pub async fn modify_thread(
        &self,
        thread_id: Id<ChannelMarker>,
        body: &ModifyThread,
        reason: Option<&str>,
        deadline: Instant,
    ) -> Result<Channel, DiscordError> {
        let route = channel_route(Method::PATCH, "/channels/{channel_id}", format!("/channels/{thread_id}"), thread_id);
        self.send(route, Some(body), reason, deadline).await
    }

    /// Every active thread of the guild the bot can see (private ones it is in).
    pub async fn active_threads(
        &self,
        guild_id: Id<GuildMarker>,
        deadline: Instant,
    ) -> Result<ActiveThreads, DiscordError> {
        let route = route!(guild_route, Method::GET, "/guilds/{guild_id}/threads/active", guild_id);
        self.send::<(), _>(route, None, None, deadline).await
    }

    pub async fn add_thread_member(
        &self,
        thread_id: Id<ChannelMarker>,
        user_id: Id<UserMarker>,
        deadline: Instant,
    ) -> Result<(), DiscordError> {
        self.thread_member(Method::PUT, thread_id, user_id, deadline).await
    }

    pub async fn remove_thread_member(
        &self,
        thread_id: Id<ChannelMarker>,
        user_id: Id<UserMarker>,
        deadline: Instant,
    ) -> Result<(), DiscordError> {
        self.thread_member(Method::DELETE, thread_id, user_id, deadline).await
    }

    async fn thread_member(
        &self,
        method: Method,
        thread_id: Id<ChannelMarker>,
        user_id: Id<UserMarker>,
        deadline: Instant,
    ) -> Result<(), DiscordError> {
        let route = channel_route(
            method,
            "/channels/{channel_id}/thread-members/{user_id}",
            format!("/channels/{thread_id}/thread-members/{user_id}"),
            thread_id,
        );
        self.send::<(), _>(route, None, None, deadline).await
    }

    pub async fn create_role(
        &self,
        guild_id: Id<GuildMarker>,
        body: &CreateRole,
        reason: Option<&str>,
        deadline: Instant,
    ) -> Result<Role, DiscordError> {
        let route = route!(guild_route, Method::POST, "/guilds/{guild_id}/roles", guild_id);
        self.send(route, Some(body), reason, deadline).await
    }

    pub async fn modify_role(
        &self,
        guild_id: Id<GuildMarker>,
        role_id: Id<RoleMarker>,
        body: &ModifyRole,
        reason: Option<&str>,
        deadline: Instant,
    ) -> Result<Role, DiscordError> {
        let route = route!(guild_route, Method::PATCH, "/guilds/{guild_id}/roles/{role_id}", guild_id);
        self.send(route, Some(body), reason, deadline).await
    }

    pub async fn delete_role(
        &self,
        guild_id: Id<GuildMarker>,
        role_id: Id<RoleMarker>,
        reason: Option<&str>,
        deadline: Instant,
    ) -> Result<(), DiscordError> {
        let route = route!(guild_route, Method::DELETE, "/guilds/{guild_id}/roles/{role_id}", guild_id);
        self.send::<(), _>(route, None, reason, deadline).await
    }

    /// Edits a message the bot posted; Unknown Message (10008) when it was deleted.
    pub async fn edit_message(
        &self,
        channel_id: Id<ChannelMarker>,
        message_id: Id<MessageMarker>,
        body: &MessageBody,
        deadline: Instant,
    ) -> Result<Message, DiscordError> {
        let route = route!(channel_route, Method::PATCH, "/channels/{channel_id}/messages/{message_id}", channel_id);
        self.send(route, Some(body), None, deadline).await
    }

    pub async fn pin_message(
        &self,
        channel_id: Id<ChannelMarker>,
        message_id: Id<MessageMarker>,
        deadline: Instant,
    ) -> Result<(), DiscordError> {
        let route = route!(channel_route, Method::PUT, "/channels/{channel_id}/messages/pins/{message_id}", channel_id);
        self.send::<(), _>(route, None, None, deadline).await
    }
}

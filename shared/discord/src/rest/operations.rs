//! The Discord operations Guildbridge uses, each one call with a deadline. Responses are
//! twilight-model types; request bodies are written here because twilight-model has none.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use twilight_model::{
    application::command::Command,
    channel::{Channel, ChannelType, Message, message::Component, permission_overwrite::PermissionOverwrite},
    guild::{Guild, Member, Permissions, Role},
    id::{
        Id,
        marker::{ApplicationMarker, ChannelMarker, GenericMarker, GuildMarker, RoleMarker, UserMarker},
    },
    user::{CurrentUser, CurrentUserGuild},
};

use super::{Auth, DiscordClient, DiscordError, Route};

/// Discord's page size limit for List Guild Members.
pub const MAX_MEMBERS_PAGE: u16 = 1000;

/// Discord's page size limit for Get Channel Messages.
pub const MAX_MESSAGES_PAGE: u8 = 100;

/// Body of Create Channel Invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateInvite {
    /// Seconds, 0 to 604800 (0: never expires).
    pub max_age: u32,
    /// 0 to 100 (0: unlimited).
    pub max_uses: u8,
    /// A new invite, never one reused from earlier calls.
    pub unique: bool,
}

/// Body of Create Guild Channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateChannel {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ChannelType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<Id<ChannelMarker>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// twilight-model writes `allow`/`deny` as strings, as Discord documents and accepts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub permission_overwrites: Vec<PermissionOverwrite>,
}

/// Body of Modify Channel (only the fields Guildbridge changes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModifyChannel {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<Id<ChannelMarker>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission_overwrites: Option<Vec<PermissionOverwrite>>,
}

/// Body of Create Message, Edit Original Interaction Response and Create Followup Message.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MessageBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<Component>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<u64>,
    /// With `enforce_nonce`, Discord refuses a second message with this nonce for a few
    /// minutes: a redelivered job posts once (Create Message only; at most 25 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub enforce_nonce: bool,
    /// Who the content may notify. Always sent, and nobody by default: names, reasons and
    /// relayed text come from tenants and users, and must never ping @everyone or a role.
    pub allowed_mentions: twilight_model::channel::message::AllowedMentions,
    /// The message this one replies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_reference: Option<twilight_model::channel::message::MessageReference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embeds: Option<Vec<twilight_model::channel::message::Embed>>,
}

impl MessageBody {
    pub fn text(content: impl Into<String>) -> Self {
        Self { content: Some(content.into()), ..Self::default() }
    }

    /// Shown as a reply to `message` (sent anyway if that message was deleted).
    pub fn replying_to(mut self, message: Id<twilight_model::id::marker::MessageMarker>) -> Self {
        self.message_reference = Some(twilight_model::channel::message::MessageReference {
            channel_id: None,
            guild_id: None,
            kind: Default::default(),
            message_id: Some(message),
            fail_if_not_exists: Some(false),
        });
        self
    }

    /// Lets the content ping the users it mentions (never @everyone, @here or roles).
    pub fn pinging_users(mut self) -> Self {
        self.allowed_mentions.parse = vec![twilight_model::channel::message::MentionType::Users];
        self
    }

    /// A message posted at most once per `nonce`.
    pub fn once(content: impl Into<String>, nonce: String) -> Self {
        Self { nonce: Some(nonce), enforce_nonce: true, ..Self::text(content) }
    }
}

#[derive(Debug, Clone, Serialize)]
struct OverwriteBody {
    allow: Permissions,
    deny: Permissions,
    #[serde(rename = "type")]
    kind: twilight_model::channel::permission_overwrite::PermissionOverwriteType,
}

/// The OAuth2 token response (not in twilight-model).
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct AccessToken {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    #[serde(default)]
    pub refresh_token: Option<String>,
    pub scope: String,
    /// The guild a bot authorization (scope `bot`) added the bot to.
    #[serde(default)]
    pub guild: Option<Guild>,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken").field("expires_in", &self.expires_in).field("scope", &self.scope).finish()
    }
}

fn original_response_route(method: Method, application_id: Id<ApplicationMarker>, token: &str) -> Route {
    webhook_route(
        method,
        "/webhooks/{application_id}/{interaction_token}/messages/@original",
        format!("/webhooks/{application_id}/{token}/messages/@original"),
        application_id,
        token,
    )
}

/// A route spelled once: its template is also its path, each `{name}` filled in from the
/// variable of that name (`format!` captures them), then `major` (the rate-limit bucket's
/// id) passed on.
macro_rules! route {
    ($make:ident, $method:expr, $template:literal, $($major:expr),+) => {
        $make($method, $template, format!($template), $($major),+)
    };
}
pub(super) use route;

/// The application's global commands (`guild_id: None`), or one guild's.
fn commands_route(method: Method, application_id: Id<ApplicationMarker>, guild_id: Option<Id<GuildMarker>>) -> Route {
    match guild_id {
        None => Route::new(
            method,
            "/applications/{application_id}/commands",
            format!("/applications/{application_id}/commands"),
            format!("application:{application_id}"),
        ),
        Some(guild_id) => {
            route!(guild_route, method, "/applications/{application_id}/guilds/{guild_id}/commands", guild_id)
        }
    }
}

pub(super) fn guild_route(method: Method, template: &str, path: String, guild_id: Id<GuildMarker>) -> Route {
    Route::new(method, template, path, format!("guild:{guild_id}"))
}

pub(super) fn channel_route(method: Method, template: &str, path: String, channel_id: Id<ChannelMarker>) -> Route {
    Route::new(method, template, path, format!("channel:{channel_id}"))
}

fn webhook_route(
    method: Method,
    template: &str,
    path: String,
    application_id: Id<ApplicationMarker>,
    token: &str,
) -> Route {
    // Each interaction has its own bucket; the limiter keys it by a hash of the token, so the
    // token itself never sits in the limiter's state or anything printed from it.
    use sha2::Digest;
    let token_hash = hex::encode(&sha2::Sha256::digest(token.as_bytes())[..12]);
    Route::new(method, template, path, format!("webhook:{application_id}:{token_hash}")).auth(Auth::None)
}

impl DiscordClient {
    pub async fn create_guild_channel(
        &self,
        guild_id: Id<GuildMarker>,
        body: &CreateChannel,
        reason: Option<&str>,
        deadline: Instant,
    ) -> Result<Channel, DiscordError> {
        let route = route!(guild_route, Method::POST, "/guilds/{guild_id}/channels", guild_id);
        self.send(route, Some(body), reason, deadline).await
    }

    pub async fn guild_channels(
        &self,
        guild_id: Id<GuildMarker>,
        deadline: Instant,
    ) -> Result<Vec<Channel>, DiscordError> {
        let route = route!(guild_route, Method::GET, "/guilds/{guild_id}/channels", guild_id);
        self.send::<(), _>(route, None, None, deadline).await
    }

    pub async fn modify_channel(
        &self,
        channel_id: Id<ChannelMarker>,
        body: &ModifyChannel,
        reason: Option<&str>,
        deadline: Instant,
    ) -> Result<Channel, DiscordError> {
        let route = route!(channel_route, Method::PATCH, "/channels/{channel_id}", channel_id);
        self.send(route, Some(body), reason, deadline).await
    }

    pub async fn delete_channel(
        &self,
        channel_id: Id<ChannelMarker>,
        reason: Option<&str>,
        deadline: Instant,
    ) -> Result<Channel, DiscordError> {
        let route = route!(channel_route, Method::DELETE, "/channels/{channel_id}", channel_id);
        self.send::<(), _>(route, None, reason, deadline).await
    }

    pub async fn edit_permission_overwrite(
        &self,
        channel_id: Id<ChannelMarker>,
        overwrite: &PermissionOverwrite,
        reason: Option<&str>,
        deadline: Instant,
    ) -> Result<(), DiscordError> {
        let route = channel_route(
            Method::PUT,
            "/channels/{channel_id}/permissions/{overwrite_id}",
            format!("/channels/{channel_id}/permissions/{}", overwrite.id),
            channel_id,
        );
        let body = OverwriteBody { allow: overwrite.allow, deny: overwrite.deny, kind: overwrite.kind };
        self.send(route, Some(&body), reason, deadline).await
    }

    pub async fn delete_permission_overwrite(
        &self,
        channel_id: Id<ChannelMarker>,
        overwrite_id: Id<GenericMarker>,
        reason: Option<&str>,
        deadline: Instant,
    ) -> Result<(), DiscordError> {
        let route =
            route!(channel_route, Method::DELETE, "/channels/{channel_id}/permissions/{overwrite_id}", channel_id);
        self.send::<(), _>(route, None, reason, deadline).await
    }

    pub async fn create_message(
        &self,
        channel_id: Id<ChannelMarker>,
        body: &MessageBody,
        deadline: Instant,
    ) -> Result<Message, DiscordError> {
        let route = route!(channel_route, Method::POST, "/channels/{channel_id}/messages", channel_id);
        self.send(route, Some(body), None, deadline).await
    }

    /// Messages with ids above `after`, at most `limit` (1..=100). Discord answers newest
    /// first; the oldest `limit` after `after` are the page.
    pub async fn channel_messages_after(
        &self,
        channel_id: Id<ChannelMarker>,
        after: Id<twilight_model::id::marker::MessageMarker>,
        limit: u8,
        deadline: Instant,
    ) -> Result<Vec<Message>, DiscordError> {
        let limit = limit.clamp(1, MAX_MESSAGES_PAGE);
        let route = channel_route(
            Method::GET,
            "/channels/{channel_id}/messages",
            format!("/channels/{channel_id}/messages?after={after}&limit={limit}"),
            channel_id,
        );
        self.send::<(), _>(route, None, None, deadline).await
    }

    /// Create Channel Invite.
    pub async fn create_channel_invite(
        &self,
        channel_id: Id<ChannelMarker>,
        body: &CreateInvite,
        reason: Option<&str>,
        deadline: Instant,
    ) -> Result<twilight_model::guild::invite::Invite, DiscordError> {
        let route = route!(channel_route, Method::POST, "/channels/{channel_id}/invites", channel_id);
        self.send(route, Some(body), reason, deadline).await
    }

    /// The bot's own application (its flags say which privileged intents it has).
    pub async fn current_application(
        &self,
        deadline: Instant,
    ) -> Result<twilight_model::oauth::Application, DiscordError> {
        let route =
            Route::new(Method::GET, "/applications/@me", "/applications/@me".to_owned(), "application".to_owned());
        self.send::<(), _>(route, None, None, deadline).await
    }

    /// Where the Gateway is and how many shards Discord recommends for the bot.
    pub async fn gateway_bot(
        &self,
        deadline: Instant,
    ) -> Result<twilight_model::gateway::connection_info::BotConnectionInfo, DiscordError> {
        let route = Route::new(Method::GET, "/gateway/bot", "/gateway/bot".to_owned(), "gateway".to_owned());
        self.send::<(), _>(route, None, None, deadline).await
    }

    /// One page of members with ids above `after`, at most `limit` (1..=1000).
    pub async fn guild_members(
        &self,
        guild_id: Id<GuildMarker>,
        after: Option<Id<UserMarker>>,
        limit: u16,
        deadline: Instant,
    ) -> Result<Vec<Member>, DiscordError> {
        let limit = limit.clamp(1, MAX_MEMBERS_PAGE);
        let after = after.map_or(0, Id::get);
        let route = guild_route(
            Method::GET,
            "/guilds/{guild_id}/members",
            format!("/guilds/{guild_id}/members?limit={limit}&after={after}"),
            guild_id,
        );
        self.send::<(), _>(route, None, None, deadline).await
    }

    pub async fn add_member_role(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        role_id: Id<RoleMarker>,
        reason: Option<&str>,
        deadline: Instant,
    ) -> Result<(), DiscordError> {
        self.member_role(Method::PUT, guild_id, user_id, role_id, reason, deadline).await
    }

    pub async fn remove_member_role(
        &self,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        role_id: Id<RoleMarker>,
        reason: Option<&str>,
        deadline: Instant,
    ) -> Result<(), DiscordError> {
        self.member_role(Method::DELETE, guild_id, user_id, role_id, reason, deadline).await
    }

    /// PUT adds the role, DELETE removes it; the same route and bucket either way.
    async fn member_role(
        &self,
        method: Method,
        guild_id: Id<GuildMarker>,
        user_id: Id<UserMarker>,
        role_id: Id<RoleMarker>,
        reason: Option<&str>,
        deadline: Instant,
    ) -> Result<(), DiscordError> {
        let route = route!(guild_route, method, "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", guild_id);
        self.send::<(), _>(route, None, reason, deadline).await
    }

    pub async fn guild(&self, guild_id: Id<GuildMarker>, deadline: Instant) -> Result<Guild, DiscordError> {
        let route = route!(guild_route, Method::GET, "/guilds/{guild_id}", guild_id);
        self.send::<(), _>(route, None, None, deadline).await
    }

    /// The bot leaves the guild (Leave Guild; 204).
    pub async fn leave_guild(&self, guild_id: Id<GuildMarker>, deadline: Instant) -> Result<(), DiscordError> {
        let route = route!(guild_route, Method::DELETE, "/users/@me/guilds/{guild_id}", guild_id);
        self.send::<(), _>(route, None, None, deadline).await
    }

    pub async fn guild_roles(&self, guild_id: Id<GuildMarker>, deadline: Instant) -> Result<Vec<Role>, DiscordError> {
        let route = route!(guild_route, Method::GET, "/guilds/{guild_id}/roles", guild_id);
        self.send::<(), _>(route, None, None, deadline).await
    }

    /// Edits the deferred answer of an interaction (its token lives 15 minutes).
    pub async fn edit_original_response(
        &self,
        application_id: Id<ApplicationMarker>,
        interaction_token: &str,
        body: &MessageBody,
        deadline: Instant,
    ) -> Result<Message, DiscordError> {
        let route = original_response_route(Method::PATCH, application_id, interaction_token);
        self.send(route, Some(body), None, deadline).await
    }

    pub async fn delete_original_response(
        &self,
        application_id: Id<ApplicationMarker>,
        interaction_token: &str,
        deadline: Instant,
    ) -> Result<(), DiscordError> {
        let route = original_response_route(Method::DELETE, application_id, interaction_token);
        self.send::<(), _>(route, None, None, deadline).await
    }

    pub async fn create_followup(
        &self,
        application_id: Id<ApplicationMarker>,
        interaction_token: &str,
        body: &MessageBody,
        deadline: Instant,
    ) -> Result<Message, DiscordError> {
        let route = route!(
            webhook_route,
            Method::POST,
            "/webhooks/{application_id}/{interaction_token}",
            application_id,
            interaction_token
        );
        self.send(route, Some(body), None, deadline).await
    }

    /// Replaces every global command (`guild_id: None`) or one guild's commands.
    pub async fn bulk_overwrite_commands(
        &self,
        application_id: Id<ApplicationMarker>,
        guild_id: Option<Id<GuildMarker>>,
        commands: &[Command],
        deadline: Instant,
    ) -> Result<Vec<Command>, DiscordError> {
        self.send(commands_route(Method::PUT, application_id, guild_id), Some(commands), None, deadline).await
    }

    /// The commands registered globally (`guild_id: None`) or in one guild.
    pub async fn registered_commands(
        &self,
        application_id: Id<ApplicationMarker>,
        guild_id: Option<Id<GuildMarker>>,
        deadline: Instant,
    ) -> Result<Vec<Command>, DiscordError> {
        self.send::<(), _>(commands_route(Method::GET, application_id, guild_id), None, None, deadline).await
    }

    /// OAuth2: exchanges an authorization code for tokens.
    pub async fn exchange_code(
        &self,
        client_id: Id<ApplicationMarker>,
        client_secret: &str,
        code: &str,
        redirect_uri: &str,
        deadline: Instant,
    ) -> Result<AccessToken, DiscordError> {
        let route = Route::new(Method::POST, "/oauth2/token", "/oauth2/token".to_owned(), "oauth".to_owned())
            .auth(Auth::Basic(client_id.to_string(), client_secret.to_owned()));
        let form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect_uri)];
        self.send_form(route, &form, deadline).await
    }

    /// OAuth2: a fresh access token from a refresh token.
    pub async fn refresh_token(
        &self,
        client_id: Id<ApplicationMarker>,
        client_secret: &str,
        refresh_token: &str,
        deadline: Instant,
    ) -> Result<AccessToken, DiscordError> {
        let route = Route::new(Method::POST, "/oauth2/token", "/oauth2/token".to_owned(), "oauth".to_owned())
            .auth(Auth::Basic(client_id.to_string(), client_secret.to_owned()));
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
        self.send_form(route, &form, deadline).await
    }

    /// The user an OAuth2 access token belongs to.
    pub async fn current_user(&self, access_token: &str, deadline: Instant) -> Result<CurrentUser, DiscordError> {
        let route = Route::new(Method::GET, "/users/@me", "/users/@me".to_owned(), "user:@me".to_owned())
            .auth(Auth::Bearer(access_token.to_owned()));
        self.send::<(), _>(route, None, None, deadline).await
    }

    /// The guilds of an OAuth2 user, with their permissions in each.
    pub async fn current_user_guilds(
        &self,
        access_token: &str,
        deadline: Instant,
    ) -> Result<Vec<CurrentUserGuild>, DiscordError> {
        let route = Route::new(Method::GET, "/users/@me/guilds", "/users/@me/guilds".to_owned(), "user:@me".to_owned())
            .auth(Auth::Bearer(access_token.to_owned()));
        self.send::<(), _>(route, None, None, deadline).await
    }
}

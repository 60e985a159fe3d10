//! The sandbox's Discord: guilds, channels, roles, members, messages, interaction tokens,
//! commands, and their JSON as Discord writes it.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const ADMINISTRATOR: u64 = 1 << 3;
pub const MANAGE_CHANNELS: u64 = 1 << 4;
pub const MANAGE_ROLES: u64 = 1 << 28;
pub const MAX_GUILD_CHANNELS: usize = 500;
pub const MAX_CATEGORY_CHANNELS: usize = 50;
pub const CATEGORY: u8 = 4;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberRecord {
    pub user_id: u64,
    pub username: String,
    pub bot: bool,
    pub roles: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GuildRecord {
    pub id: u64,
    pub name: String,
    pub owner_id: u64,
    /// What the bot may do in this guild.
    pub bot_permissions: u64,
    /// Whether the application has the Server Members privileged intent (List Guild Members
    /// answers 403 Missing Access without it).
    pub members_intent: bool,
    /// Every role but @everyone (which has the guild's id), the bot's own among them while
    /// the bot is in the guild.
    pub roles: BTreeMap<u64, RoleRecord>,
    pub members: BTreeMap<u64, MemberRecord>,
    /// The bot left (or was never added): Discord answers Unknown Guild to the bot.
    #[serde(default)]
    pub bot_absent: bool,
    /// Guild-wide permissions of members other than the owner, where not the defaults
    /// (an admin holds Manage Server; a test can take it away).
    #[serde(default)]
    pub member_permissions: BTreeMap<u64, u64>,
}

/// A role as Discord keeps it: its permissions and its place in the hierarchy (higher
/// positions outrank lower ones; @everyone is 0).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RoleRecord {
    pub name: String,
    pub permissions: u64,
    pub position: u64,
    pub managed: bool,
    /// Set on the role Discord gives a bot when it joins (its permissions are the bot's).
    pub bot_id: Option<u64>,
}

impl RoleRecord {
    /// A role anyone could make: no permissions of its own.
    pub fn plain(name: &str, position: u64) -> Self {
        Self { name: name.to_owned(), position, ..Self::default() }
    }
}

/// What members hold when nothing else is said: the usual defaults, no Manage Server.
pub const DEFAULT_MEMBER_PERMISSIONS: u64 = 104_324_673;
pub const MANAGE_GUILD: u64 = 1 << 5;

impl GuildRecord {
    /// The highest position among `bot`'s roles (0 without any: only @everyone).
    pub fn top_position_of_bot(&self, bot: u64) -> u64 {
        self.roles.values().filter(|role| role.bot_id == Some(bot)).map(|role| role.position).max().unwrap_or(0)
    }

    /// The bot joins: Discord gives it its own managed role, at the top of the list.
    pub fn add_bot_role(&mut self, role_id: u64, bot: u64) {
        if self.roles.values().any(|role| role.bot_id == Some(bot)) {
            return;
        }
        let top = self.roles.values().map(|role| role.position).max().unwrap_or(0);
        let role = RoleRecord {
            name: "Guildbridge".to_owned(),
            position: top + 1,
            managed: true,
            bot_id: Some(bot),
            permissions: 0,
        };
        self.roles.insert(role_id, role);
    }

    /// The bot left: its role goes with it.
    pub fn remove_bot_role(&mut self, bot: u64) {
        self.roles.retain(|_, role| role.bot_id != Some(bot));
    }

    /// A new role, as Discord makes one: at position 1, every other role moved up one.
    pub fn insert_role_at_bottom(&mut self, role_id: u64, mut role: RoleRecord) {
        for other in self.roles.values_mut() {
            other.position += 1;
        }
        role.position = 1;
        self.roles.insert(role_id, role);
    }

    /// `user`'s guild-wide permissions: every one for the owner.
    pub fn permissions_of(&self, user: u64) -> u64 {
        if self.owner_id == user {
            return (1 << 41) - 1;
        }
        self.member_permissions.get(&user).copied().unwrap_or(DEFAULT_MEMBER_PERMISSIONS)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelRecord {
    pub id: u64,
    pub guild_id: u64,
    pub name: String,
    pub kind: u8,
    pub parent_id: Option<u64>,
    pub topic: Option<String>,
    pub position: u64,
    pub overwrites: Vec<Value>,
    /// Set for threads (type 11/12): their own state and members.
    #[serde(default)]
    pub thread: Option<ThreadRecord>,
    /// The newest message's id, as Discord lists it on the channel (it may name a message
    /// since deleted).
    #[serde(default)]
    pub last_message_id: Option<u64>,
}

pub const PRIVATE_THREAD: u8 = 12;
pub const PUBLIC_THREAD: u8 = 11;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ThreadRecord {
    pub owner_id: u64,
    pub archived: bool,
    pub locked: bool,
    pub auto_archive_duration: u64,
    pub invitable: bool,
    pub members: Vec<u64>,
}

/// What one authorization code stands for: who, for which guild (a bot install), to which
/// redirect URI (the token request must name the same), with which scopes.
#[derive(Debug, Clone)]
pub struct Grant {
    pub user: u64,
    pub guild: Option<u64>,
    pub redirect_uri: String,
    pub scope: String,
    /// PKCE (S256): the token request must bring the verifier of this challenge.
    pub code_challenge: Option<String>,
}

#[derive(Debug, Clone)]
pub struct InteractionRecord {
    pub application_id: u64,
    /// Where the interaction happened: its messages belong to this channel.
    pub channel_id: u64,
    /// Wall-clock time, so tests can age a token.
    pub issued_at: std::time::SystemTime,
    pub original: Option<Value>,
    pub followups: Vec<Value>,
}

/// The persistent part of a [`World`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    pub next_id: u64,
    pub guilds: BTreeMap<u64, GuildRecord>,
    pub channels: BTreeMap<u64, ChannelRecord>,
    pub messages: BTreeMap<u64, Vec<Value>>,
    #[serde(default)]
    pub demo_users: Vec<DemoUser>,
}

/// Someone the sandbox's login page offers to log in as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoUser {
    pub id: u64,
    pub name: String,
    /// What the login page says about them.
    pub description: String,
}

#[derive(Debug)]
pub struct World {
    next_id: u64,
    pub guilds: BTreeMap<u64, GuildRecord>,
    pub channels: BTreeMap<u64, ChannelRecord>,
    pub messages: BTreeMap<u64, Vec<Value>>,
    pub interactions: HashMap<String, InteractionRecord>,
    pub commands: HashMap<(u64, Option<u64>), Vec<Value>>,
    /// OAuth2 authorization codes -> what was authorized.
    pub oauth_codes: HashMap<String, Grant>,
    /// Access tokens -> user; refresh tokens -> user.
    pub access_tokens: HashMap<String, u64>,
    pub refresh_tokens: HashMap<String, u64>,
    pub demo_users: Vec<DemoUser>,
    /// Whether the application has the Message Content intent (set by default): without it
    /// a bot reads other people's messages without their content.
    pub message_content_intent: bool,
    /// Whether the application has the Server Members intent (set by default).
    pub server_members_intent: bool,
    /// The application's Interactions Endpoint URL, as its Developer Portal page sets it.
    pub interactions_endpoint_url: Option<String>,
    /// The application's OAuth2 redirect URIs, as its Developer Portal page sets them.
    pub redirect_uris: Vec<String>,
    pub invites: Vec<Value>,
    /// The bot's DM channels, by the user at the other end.
    pub dm_channels: BTreeMap<u64, u64>,
    /// The bot's recent nonces with the message each created, for `enforce_nonce`.
    pub nonces: HashMap<String, (std::time::Instant, Value)>,
    /// The Gateway's sessions.
    pub gateway: crate::gateway::Hub,
}

impl Default for World {
    fn default() -> Self {
        Self {
            next_id: 0,
            guilds: BTreeMap::new(),
            channels: BTreeMap::new(),
            messages: BTreeMap::new(),
            interactions: HashMap::new(),
            commands: HashMap::new(),
            oauth_codes: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            demo_users: Vec::new(),
            message_content_intent: true,
            server_members_intent: true,
            interactions_endpoint_url: None,
            redirect_uris: Vec::new(),
            invites: Vec::new(),
            dm_channels: BTreeMap::new(),
            nonces: HashMap::new(),
            gateway: crate::gateway::Hub::default(),
        }
    }
}

impl World {
    /// Snowflake-sized ids, increasing.
    pub fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        1_300_000_000_000_000_000 + self.next_id
    }

    /// What survives a restart of the local stack: guilds, channels, messages, and the id
    /// counter (so new ids never repeat old ones). Tokens and sessions are short-lived anyway.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            next_id: self.next_id,
            guilds: self.guilds.clone(),
            channels: self.channels.clone(),
            messages: self.messages.clone(),
            demo_users: self.demo_users.clone(),
        }
    }

    pub fn restore(&mut self, snapshot: Snapshot) {
        self.next_id = self.next_id.max(snapshot.next_id);
        self.guilds = snapshot.guilds;
        self.channels = snapshot.channels;
        self.messages = snapshot.messages;
        self.demo_users = snapshot.demo_users;
    }

    /// A token for an interaction in `channel_id`, live for 15 minutes.
    pub fn issue_interaction_token(&mut self, application_id: u64, channel_id: u64) -> String {
        let token = format!("sandbox-interaction-{}", self.new_id());
        let record = InteractionRecord {
            application_id,
            channel_id,
            issued_at: std::time::SystemTime::now(),
            original: None,
            followups: Vec::new(),
        };
        self.interactions.insert(token.clone(), record);
        token
    }

    /// A guild the bot is in, as the bot sees it.
    /// Stores a message posted in the channel, which becomes the channel's last message, and
    /// dispatches it to the Gateway's sessions.
    pub fn post_message(&mut self, channel_id: u64, message: Value) {
        let id = message["id"].as_str().and_then(|id| id.parse().ok());
        if let Some(channel) = self.channels.get_mut(&channel_id) {
            channel.last_message_id = id.max(channel.last_message_id);
            let guild_id = channel.guild_id;
            self.gateway.dispatch_message(guild_id, &message);
        }
        self.messages.entry(channel_id).or_default().push(message);
    }

    pub fn bot_guild(&self, guild_id: u64) -> Option<&GuildRecord> {
        self.guilds.get(&guild_id).filter(|guild| !guild.bot_absent)
    }

    pub fn guild_channels(&self, guild_id: u64) -> impl Iterator<Item = &ChannelRecord> {
        self.channels.values().filter(move |c| c.guild_id == guild_id)
    }
}

/// Discord's text channel name rules: lower case, spaces to dashes.
pub fn normalise_text_name(name: &str) -> String {
    name.trim().to_lowercase().split_whitespace().collect::<Vec<_>>().join("-")
}

pub fn user_json(id: u64, username: &str, bot: bool) -> Value {
    json!({
        "id": id.to_string(),
        "username": username,
        "global_name": username,
        "discriminator": "0",
        "avatar": null,
        "bot": bot,
        "public_flags": 0,
    })
}

pub fn member_json(member: &MemberRecord) -> Value {
    json!({
        "user": user_json(member.user_id, &member.username, member.bot),
        "nick": null,
        "avatar": null,
        "roles": member.roles.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "premium_since": null,
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false,
        "communication_disabled_until": null,
    })
}

pub fn channel_json(channel: &ChannelRecord) -> Value {
    let mut value = json!({
        "id": channel.id.to_string(),
        "type": channel.kind,
        "guild_id": channel.guild_id.to_string(),
        "name": channel.name,
        "position": channel.position,
        "permission_overwrites": channel.overwrites,
        "parent_id": channel.parent_id.map(|id| id.to_string()),
        "nsfw": false,
        "flags": 0,
    });
    if channel.kind != CATEGORY {
        value["topic"] = json!(channel.topic);
        value["rate_limit_per_user"] = json!(0);
        value["last_message_id"] = json!(channel.last_message_id.map(|id| id.to_string()));
    }
    if let Some(thread) = &channel.thread {
        value["owner_id"] = json!(thread.owner_id.to_string());
        value["member_count"] = json!(thread.members.len().min(50));
        value["message_count"] = json!(0);
        value["total_message_sent"] = json!(0);
        value["thread_metadata"] = json!({
            "archived": thread.archived,
            "auto_archive_duration": thread.auto_archive_duration,
            "archive_timestamp": "2026-11-22T09:00:00.000000+00:00",
            "locked": thread.locked,
            "invitable": thread.invitable,
            "create_timestamp": "2026-11-22T09:00:00.000000+00:00",
        });
        value.as_object_mut().map(|object| object.remove("permission_overwrites"));
    }
    value
}

/// A role as Discord writes it; a bot's role carries the bot's permissions in `guild`.
pub fn role_json(guild: &GuildRecord, id: u64, role: &RoleRecord) -> Value {
    let permissions = if role.bot_id.is_some() { guild.bot_permissions } else { role.permissions };
    let mut value = json!({
        "id": id.to_string(),
        "name": role.name,
        "color": 0,
        "colors": { "primary_color": 0, "secondary_color": null, "tertiary_color": null },
        "hoist": false,
        "icon": null,
        "unicode_emoji": null,
        "position": role.position,
        "permissions": permissions.to_string(),
        "managed": role.managed,
        "mentionable": false,
        "flags": 0,
    });
    if let Some(bot) = role.bot_id {
        value["tags"] = json!({ "bot_id": bot.to_string() });
    }
    value
}

/// Every role of `guild`, @everyone first (with the default member permissions).
pub fn roles_json(guild: &GuildRecord) -> Vec<Value> {
    let everyone = RoleRecord { permissions: DEFAULT_MEMBER_PERMISSIONS, ..RoleRecord::plain("@everyone", 0) };
    std::iter::once(role_json(guild, guild.id, &everyone))
        .chain(guild.roles.iter().map(|(id, role)| role_json(guild, *id, role)))
        .collect()
}

pub fn guild_json(guild: &GuildRecord) -> Value {
    let roles = roles_json(guild);
    json!({
        "id": guild.id.to_string(),
        "name": guild.name,
        "icon": null,
        "splash": null,
        "discovery_splash": null,
        "owner_id": guild.owner_id.to_string(),
        "afk_channel_id": null,
        "afk_timeout": 300,
        "verification_level": 1,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "roles": roles,
        "emojis": [],
        "features": [],
        "mfa_level": 0,
        "application_id": null,
        "system_channel_id": null,
        "system_channel_flags": 0,
        "rules_channel_id": null,
        "vanity_url_code": null,
        "description": null,
        "banner": null,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": null,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": false,
        "stickers": [],
        "safety_alerts_channel_id": null,
    })
}

/// Now, in Discord's timestamp format.
fn now_iso8601() -> String {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_micros() as i64)
        .unwrap_or_default();
    twilight_model::util::Timestamp::from_micros(micros).map(|at| at.iso_8601().to_string()).unwrap_or_default()
}

pub fn message_json(id: u64, channel_id: u64, author: Value, body: &Value, webhook_id: Option<u64>) -> Value {
    let mut message = json!({
        "id": id.to_string(),
        "channel_id": channel_id.to_string(),
        "author": author,
        "content": body.get("content").cloned().unwrap_or(json!("")),
        // When it was sent, as Discord stamps it (the relay measures its lag from this).
        "timestamp": now_iso8601(),
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": body.get("embeds").cloned().unwrap_or(json!([])),
        "pinned": false,
        "type": 0,
        "flags": body.get("flags").cloned().unwrap_or(json!(0)),
        "components": body.get("components").cloned().unwrap_or(json!([])),
    });
    if let Some(webhook_id) = webhook_id {
        message["webhook_id"] = json!(webhook_id.to_string());
        message["application_id"] = json!(webhook_id.to_string());
    }
    message
}

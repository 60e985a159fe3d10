//! Guildbridge's Discord client against the sandbox: every body it sends validates against
//! Discord's OpenAPI document, every answer reads into twilight-model types, rate limits are
//! honoured, faults are survived, and permanent errors are never retried.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use discord_sandbox::{Faults, GuildSeed, RateLimits, Sandbox, SandboxConfig};
use guildbridge_core::discord::rest::{
    BotToken, CreateChannel, DiscordClient, DiscordError, MessageBody, ModifyChannel, PermanentKind,
};
use tokio::time::Instant;
use twilight_model::{
    channel::{
        ChannelType,
        permission_overwrite::{PermissionOverwrite, PermissionOverwriteType},
    },
    guild::Permissions,
    id::Id,
};

const TOKEN: &str = "test-bot-token";
const GUILD: u64 = 1_200_000_000_000_000_001;
const APP: u64 = 1_200_000_000_000_000_777;
const ROLE: u64 = 1_200_000_000_000_000_500;
const FIRST_MEMBER: u64 = 1_200_000_000_000_100_000;

/// The OpenAPI document, when tools/test provides it. CI always does.
fn openapi() -> Option<PathBuf> {
    let path = std::env::var_os("DISCORD_OPENAPI_PATH").map(PathBuf::from);
    if path.is_none() && std::env::var_os("CI").is_some() {
        panic!("DISCORD_OPENAPI_PATH is not set: CI validates every request against Discord's OpenAPI document");
    }
    path
}

async fn sandbox(limits: RateLimits, bot_permissions: u64) -> Sandbox {
    let config = SandboxConfig::new(TOKEN, openapi(), limits);
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let sandbox = Sandbox::start(config, addr).await.expect("sandbox starts");
    sandbox.seed_guild(GuildSeed {
        id: GUILD,
        name: "Test Racing Club".to_owned(),
        bot_permissions,
        roles: vec![(ROLE, "Driver".to_owned())],
        members: 2_500,
        first_member_id: FIRST_MEMBER,
        bot_every: Some(100),
    });
    sandbox
}

fn client(sandbox: &Sandbox) -> DiscordClient {
    DiscordClient::new(sandbox.base_url().parse().expect("url"), BotToken::new(TOKEN)).expect("client")
}

fn soon(seconds: u64) -> Instant {
    Instant::now() + Duration::from_secs(seconds)
}

fn text_channel(name: &str) -> CreateChannel {
    CreateChannel {
        name: name.to_owned(),
        kind: ChannelType::GuildText,
        parent_id: None,
        topic: None,
        permission_overwrites: Vec::new(),
    }
}

fn assert_all_valid(sandbox: &Sandbox) {
    let refused: Vec<_> = sandbox.requests().into_iter().filter(|r| r.status == 400).collect();
    assert!(refused.is_empty(), "requests the sandbox refused as invalid: {refused:#?}");
}

#[tokio::test]
async fn every_operation_validates_and_reads_into_twilight_types() {
    let sandbox = sandbox(RateLimits::generous(), 1 << 3).await;
    let discord = client(&sandbox);
    let guild = Id::new(GUILD);

    let category = discord
        .create_guild_channel(
            guild,
            &CreateChannel { kind: ChannelType::GuildCategory, ..text_channel("GT3 Series") },
            Some("series: GT3"),
            soon(5),
        )
        .await
        .expect("category");
    assert_eq!(category.kind, ChannelType::GuildCategory);
    let private = PermissionOverwrite {
        allow: Permissions::empty(),
        deny: Permissions::VIEW_CHANNEL,
        id: Id::new(GUILD),
        kind: PermissionOverwriteType::Role,
    };
    let channel = discord
        .create_guild_channel(
            guild,
            &CreateChannel {
                parent_id: Some(category.id),
                topic: Some("guildbridge:event:42".to_owned()),
                permission_overwrites: vec![private],
                ..text_channel("Spa 24h Race Night")
            },
            Some("event:42 requested by the platform"),
            soon(5),
        )
        .await
        .expect("text channel");
    assert_eq!(channel.name.as_deref(), Some("spa-24h-race-night"), "Discord normalises text channel names");
    assert_eq!(channel.parent_id, Some(category.id));
    assert_eq!(channel.permission_overwrites.as_deref(), Some(&[private][..]));

    let listed = discord.guild_channels(guild, soon(5)).await.expect("list");
    assert_eq!(listed.len(), 2);
    let renamed = discord
        .modify_channel(
            channel.id,
            &ModifyChannel { name: Some("archived spa".into()), ..ModifyChannel::default() },
            None,
            soon(5),
        )
        .await
        .expect("modify");
    assert_eq!(renamed.name.as_deref(), Some("archived-spa"));
    let member_overwrite = PermissionOverwrite {
        allow: Permissions::VIEW_CHANNEL | Permissions::SEND_MESSAGES,
        deny: Permissions::empty(),
        id: Id::new(FIRST_MEMBER),
        kind: PermissionOverwriteType::Member,
    };
    discord.edit_permission_overwrite(channel.id, &member_overwrite, None, soon(5)).await.expect("overwrite");
    discord
        .delete_permission_overwrite(channel.id, member_overwrite.id, None, soon(5))
        .await
        .expect("remove overwrite");
    let message =
        discord.create_message(channel.id, &MessageBody::text("Welcome to Spa!"), soon(5)).await.expect("message");
    assert_eq!(message.content, "Welcome to Spa!");

    let members = discord.guild_members(guild, None, 1000, soon(5)).await.expect("members");
    assert_eq!(members.len(), 1000);
    let next = discord.guild_members(guild, Some(members[999].user.id), 1000, soon(5)).await.expect("page 2");
    assert_eq!(next[0].user.id.get(), FIRST_MEMBER + 1000);
    discord.add_member_role(guild, members[0].user.id, Id::new(ROLE), Some("linked"), soon(5)).await.expect("add role");
    discord.remove_member_role(guild, members[0].user.id, Id::new(ROLE), None, soon(5)).await.expect("remove role");
    let fetched = discord.guild(guild, soon(5)).await.expect("guild");
    assert_eq!(fetched.name, "Test Racing Club");
    // @everyone, the seeded role, and the bot's own (managed, tagged with its id, on top).
    let roles = discord.guild_roles(guild, soon(5)).await.expect("roles");
    assert_eq!(roles.len(), 3);
    let bot_role = roles.iter().find(|role| role.managed).expect("the bot's role");
    assert!(bot_role.tags.as_ref().is_some_and(|tags| tags.bot_id.is_some()), "{bot_role:?}");
    assert!(roles.iter().all(|role| role.position <= bot_role.position));
    // Discord's hierarchy holds: a role above the bot's is neither given nor taken.
    let above = sandbox.add_role(guild.get(), "Staff", 0, true).expect("role");
    let refused = discord.add_member_role(guild, members[0].user.id, Id::new(above), None, soon(5)).await;
    assert!(refused.is_err_and(|error| error.to_string().contains("50013")), "above the bot");

    let token = sandbox.issue_interaction_token(APP);
    let edited = discord
        .edit_original_response(Id::new(APP), &token, &MessageBody::text("Channel created: <#1>"), soon(5))
        .await
        .expect("edit original");
    assert_eq!(edited.content, "Channel created: <#1>");
    discord
        .create_followup(Id::new(APP), &token, &MessageBody { flags: Some(64), ..MessageBody::text("also") }, soon(5))
        .await
        .expect("followup");
    discord.delete_original_response(Id::new(APP), &token, soon(5)).await.expect("delete original");

    let commands = guildbridge_core::interactions::commands::manifest();
    let registered = discord.bulk_overwrite_commands(Id::new(APP), None, &commands, soon(5)).await.expect("register");
    assert_eq!(registered.len(), commands.len());
    discord.bulk_overwrite_commands(Id::new(APP), Some(guild), &commands, soon(5)).await.expect("guild commands");
    discord.delete_channel(channel.id, Some("event archived"), soon(5)).await.expect("delete");

    assert_all_valid(&sandbox);
    let requests = sandbox.requests();
    assert!(requests.iter().all(|r| r.user_agent.as_deref().is_some_and(|ua| ua.starts_with("DiscordBot ("))));
    let reason = requests
        .iter()
        .find(|r| r.method == "POST" && r.template == "/guilds/{guild_id}/channels")
        .and_then(|r| r.audit_reason.clone());
    assert_eq!(reason.as_deref(), Some("series%3A%20GT3"));
}

#[tokio::test]
async fn a_burst_across_buckets_gets_no_429_when_headers_are_honoured() {
    // Discord's global 50/s, and small per-route buckets that the burst exhausts many times.
    let limits = RateLimits { default_limit: 5, default_window: Duration::from_secs(1), ..RateLimits::discord_like() };
    let sandbox = sandbox(limits, 1 << 3).await;
    let guilds: Vec<u64> = (1..=20).map(|n| GUILD + n).collect();
    for guild in &guilds {
        sandbox.seed_guild(GuildSeed {
            id: *guild,
            name: format!("g{guild}"),
            bot_permissions: 1 << 3,
            roles: Vec::new(),
            members: 20,
            first_member_id: FIRST_MEMBER,
            bot_every: None,
        });
    }
    let discord = Arc::new(client(&sandbox));
    let tasks: Vec<_> = (0..500usize)
        .map(|n| {
            let discord = discord.clone();
            let guild = Id::new(guilds[n % guilds.len()]);
            tokio::spawn(async move {
                match n % 3 {
                    0 => discord.guild_channels(guild, soon(60)).await.map(|_| ()),
                    1 => discord.guild_members(guild, None, 10, soon(60)).await.map(|_| ()),
                    _ => discord.guild(guild, soon(60)).await.map(|_| ()),
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("every request completes");
    }
    let requests = sandbox.requests();
    assert_eq!(requests.len(), 500);
    assert_eq!(requests.iter().filter(|r| r.status == 429).count(), 0, "no 429s");
}

#[tokio::test]
async fn a_429_storm_ends_in_success_or_a_typed_retry_after_before_the_deadline() {
    let sandbox = sandbox(RateLimits::generous(), 1 << 3).await;
    let discord = Arc::new(client(&sandbox));
    sandbox.set_faults(Faults {
        storm_requests: 5,
        storm_retry_after: Duration::from_millis(300),
        ..Faults::default()
    });
    let started = Instant::now();
    let deadline = started + Duration::from_secs(4);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let discord = discord.clone();
            tokio::spawn(async move { discord.guild(Id::new(GUILD), deadline).await })
        })
        .collect();
    let mut completed = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => completed += 1,
            Err(DiscordError::RetryAfter { .. }) => {}
            Err(other) => panic!("only success or RetryAfter: {other}"),
        }
        assert!(Instant::now() <= deadline + Duration::from_millis(200), "answered by the deadline");
    }
    assert!(completed > 0, "the storm passes and requests complete");

    sandbox.set_faults(Faults { storm_requests: 1, storm_retry_after: Duration::from_secs(60), ..Faults::default() });
    let early = Instant::now();
    let result = discord.guild(Id::new(GUILD), soon(2)).await;
    assert!(
        matches!(result, Err(DiscordError::RetryAfter { after }) if after >= Duration::from_secs(59)),
        "{result:?}"
    );
    assert!(early.elapsed() < Duration::from_secs(1), "a long wait is handed back, not slept");
}

#[tokio::test]
async fn idempotent_requests_complete_through_twenty_percent_server_errors() {
    let sandbox = sandbox(RateLimits::generous(), 1 << 3).await;
    let discord = client(&sandbox);
    sandbox.set_faults(Faults { server_error_rate: 0.2, ..Faults::default() });
    for _ in 0..50 {
        discord.guild_members(Id::new(GUILD), None, 100, soon(30)).await.expect("completes despite 5xx");
    }
    let errors = sandbox.requests().iter().filter(|r| r.status == 500).count();
    assert!(errors > 0, "faults were injected");
}

#[tokio::test]
async fn dropped_connections_are_retried_for_idempotent_requests() {
    let sandbox = sandbox(RateLimits::generous(), 1 << 3).await;
    let discord = client(&sandbox);
    // 20% of connections dropped: with six attempts a call fails one time in 15,000, so the
    // twenty calls here see a failure about once in 800 runs, not once in 70 as at 30%.
    sandbox.set_faults(Faults { drop_rate: 0.2, ..Faults::default() });
    for _ in 0..20 {
        discord.guild_channels(Id::new(GUILD), soon(30)).await.expect("completes despite dropped connections");
    }
}

#[tokio::test]
async fn permanent_errors_are_never_retried() {
    let sandbox = sandbox(RateLimits::generous(), 0).await;
    let discord = client(&sandbox);
    let refused = discord.create_guild_channel(Id::new(GUILD), &text_channel("x"), None, soon(5)).await;
    assert_eq!(refused.as_ref().err().and_then(DiscordError::permanent_kind), Some(PermanentKind::MissingPermissions));

    let unknown = discord.modify_channel(Id::new(42), &ModifyChannel::default(), None, soon(5)).await;
    assert_eq!(unknown.err().and_then(|e| e.permanent_kind()), Some(PermanentKind::UnknownChannel));

    let full = sandbox_with_full_guild().await;
    let discord_full = client(&full);
    let at_limit =
        discord_full.create_guild_channel(Id::new(GUILD), &text_channel("one too many"), None, soon(5)).await;
    assert_eq!(at_limit.err().and_then(|e| e.permanent_kind()), Some(PermanentKind::MaxChannels));

    assert_eq!(sandbox.requests().len(), 2, "one request each: nothing retried");
    assert_eq!(full.requests().len(), 1);

    let stranger =
        DiscordClient::new(sandbox.base_url().parse().expect("url"), BotToken::new("wrong")).expect("client");
    let unauthorized = stranger.guild(Id::new(GUILD), soon(5)).await;
    assert_eq!(unauthorized.err().and_then(|e| e.permanent_kind()), Some(PermanentKind::Unauthorized));
}

async fn sandbox_with_full_guild() -> Sandbox {
    let sandbox = sandbox(RateLimits::generous(), 1 << 4).await;
    sandbox.with_world(|world| {
        for n in 0..500 {
            let id = world.new_id();
            let channel = discord_sandbox::world::ChannelRecord {
                id,
                guild_id: GUILD,
                name: format!("c{n}"),
                kind: 0,
                parent_id: None,
                topic: None,
                position: n,
                overwrites: Vec::new(),
                thread: None,
                last_message_id: None,
            };
            world.channels.insert(id, channel);
        }
    });
    sandbox
}

#[tokio::test]
async fn the_invalid_request_budget_stops_calls_before_a_ban() {
    let sandbox = sandbox(RateLimits::generous(), 0).await;
    let discord = client(&sandbox).with_invalid_request_budget(
        guildbridge_core::discord::rest::ratelimit::InvalidRequestBudget::new(5, Duration::from_secs(600)),
    );
    for _ in 0..5 {
        let refused = discord.create_guild_channel(Id::new(GUILD), &text_channel("x"), None, soon(5)).await;
        assert!(refused.is_err());
    }
    let stopped = discord.guild(Id::new(GUILD), soon(5)).await;
    assert!(matches!(stopped, Err(DiscordError::InvalidRequestBudget { .. })), "{stopped:?}");
    assert_eq!(sandbox.requests().len(), 5, "the sixth call never left");
}

#[tokio::test]
async fn expired_or_unknown_interaction_tokens_are_unknown_webhooks() {
    let sandbox = sandbox(RateLimits::generous(), 1 << 3).await;
    let discord = client(&sandbox);
    let result = discord.edit_original_response(Id::new(APP), "never-issued", &MessageBody::text("x"), soon(5)).await;
    assert_eq!(result.err().and_then(|e| e.permanent_kind()), Some(PermanentKind::UnknownWebhook));
}

#[tokio::test]
async fn oauth2_login_yields_the_user_and_their_guilds_with_permissions() {
    let sandbox = sandbox(RateLimits::generous(), 1 << 3).await;
    let config = SandboxConfig::new(TOKEN, None, RateLimits::generous());
    let discord = client(&sandbox);
    let redirect = "http://127.0.0.1:9/callback";
    let authorize = format!(
        "{}/oauth2/authorize?client_id={}&redirect_uri={redirect}&response_type=code&scope=identify%20guilds&state=xyz",
        sandbox.base_url(),
        config.client_id
    );
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("http");
    let answer = http.get(&authorize).send().await.expect("authorize");
    assert_eq!(answer.status().as_u16(), 303);
    let location = answer.headers()["location"].to_str().expect("location").to_owned();
    let location = url::Url::parse(&location).expect("url");
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query.get("state").map(String::as_str), Some("xyz"));
    let code = query.get("code").expect("code");

    let app = Id::new(config.client_id);
    let wrong = discord.exchange_code(app, "wrong-secret", code, redirect, soon(5)).await;
    assert!(wrong.is_err(), "a wrong client secret is refused");
    let tokens = discord.exchange_code(app, &config.client_secret, code, redirect, soon(5)).await.expect("exchange");
    assert!(!format!("{tokens:?}").contains(&tokens.access_token), "tokens never print");
    let again = discord.exchange_code(app, &config.client_secret, code, redirect, soon(5)).await;
    assert!(again.is_err(), "a code works once");

    let user = discord.current_user(&tokens.access_token, soon(5)).await.expect("me");
    assert_eq!(user.id.get(), FIRST_MEMBER, "the first guild's owner logged in");
    let guilds = discord.current_user_guilds(&tokens.access_token, soon(5)).await.expect("guilds");
    assert_eq!(guilds.len(), 1);
    assert!(guilds[0].owner && guilds[0].permissions.contains(Permissions::MANAGE_GUILD));

    let refresh = tokens.refresh_token.expect("refresh token");
    let renewed = discord.refresh_token(app, &config.client_secret, &refresh, soon(5)).await.expect("refresh");
    assert_ne!(renewed.access_token, tokens.access_token);
    assert!(discord.current_user("not-a-token", soon(5)).await.is_err());
}

#[tokio::test]
async fn interaction_tokens_expire_after_fifteen_minutes() {
    let sandbox = sandbox(RateLimits::generous(), 1 << 3).await;
    let discord = client(&sandbox);
    let token = sandbox.issue_interaction_token(APP);
    sandbox.with_world(|world| {
        let record = world.interactions.get_mut(&token).expect("issued");
        record.issued_at =
            record.issued_at.checked_sub(Duration::from_secs(15 * 60 + 1)).expect("uptime over 15 minutes");
    });
    let late = discord.edit_original_response(Id::new(APP), &token, &MessageBody::text("too late"), soon(5)).await;
    assert_eq!(late.err().and_then(|e| e.permanent_kind()), Some(PermanentKind::UnknownWebhook));
}

#[tokio::test]
async fn a_hundred_thousand_members_page_through_in_order() {
    let sandbox = sandbox(RateLimits::generous(), 1 << 3).await;
    let big = GUILD + 99;
    sandbox.seed_guild(GuildSeed {
        id: big,
        name: "Huge".to_owned(),
        bot_permissions: 1 << 3,
        roles: Vec::new(),
        members: 100_000,
        first_member_id: FIRST_MEMBER,
        bot_every: Some(50),
    });
    let discord = client(&sandbox);
    let (mut after, mut seen, mut bots, mut pages) = (None, 0u64, 0u64, 0);
    loop {
        let page = discord.guild_members(Id::new(big), after, 1000, soon(30)).await.expect("page");
        pages += 1;
        seen += page.len() as u64;
        bots += page.iter().filter(|m| m.user.bot).count() as u64;
        match page.last() {
            Some(last) if page.len() == 1000 => after = Some(last.user.id),
            _ => break,
        }
    }
    assert_eq!((seen, bots), (100_000, 2_000));
    assert_eq!(pages, 101, "100 full pages, then an empty one says the end");
}

#[tokio::test]
async fn a_route_that_keeps_answering_429_with_no_wait_is_handed_back_after_a_few_tries() {
    let sandbox = sandbox(RateLimits::generous(), 1 << 3).await;
    let discord = client(&sandbox);
    // `retry_after: 0` forever: without a cap the client would spin, spending the
    // invalid-request budget as fast as the loopback allows.
    sandbox.set_faults(Faults { storm_requests: 1_000, storm_retry_after: Duration::ZERO, ..Faults::default() });
    let result = discord.guild(Id::new(GUILD), soon(30)).await;
    assert!(matches!(result, Err(DiscordError::RetryAfter { .. })), "{result:?}");
    let sent = sandbox.requests().len() as u32;
    assert_eq!(sent, 1 + guildbridge_core::discord::rest::MAX_RATE_LIMITED_RETRIES, "one try and the capped retries");
}

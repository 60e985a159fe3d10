//! Tenant B's key against tenant A's resources, on every operation the document names: a
//! new route is walked without editing this test. B gets 404 or its own (empty) view, never
//! anything of A's, and A's data is the same afterwards.

use axum::http::Method;
use discord_sandbox::{GuildSeed, RateLimits, Sandbox, SandboxConfig};
use guildbridge_core::{
    channels::ChannelWorker,
    discord::{
        custom_id::StateKey,
        rest::{BotToken, DiscordClient},
    },
    domain::{ChannelIds, Job, QueueKind, SubjectKind, SubjectRef},
    store::DeadLetterRecord,
    sync::SyncWorker,
    worker::Consumer,
};
use guildbridge_web::api;
use serde_json::{Value, json};
use twilight_model::id::Id;

use super::{GUILD_A, GUILD_B, TwoTenants, call, call_with};

/// What only tenant A has (B sends the same subject, platform user and Discord user ids in
/// its own requests, and may see those echoed): none of it may appear in B's answers.
const A_MARKERS: [&str; 5] = ["Secret Lead A", "9000002", "club-a", "1200000000000000001", "Secret Team A"];

async fn a_has_everything(t: &TwoTenants) -> Value {
    let key = Some(t.key_a.as_str());
    let lead = json!({ "name": "Secret Lead A", "discord_user_id": "9000001" });
    assert_eq!(call(&t.router, Method::PUT, "/v1/subjects/lead/42", key, Some(lead)).await.status, 201);
    let store = t.backends.store.as_ref();
    let guild = Id::new(GUILD_A);
    let subject = SubjectRef::new(SubjectKind::Lead, "42");
    let token = "attempt".into();
    store.claim(guild, &subject, &token, None, 5).await.unwrap();
    let channels = ChannelIds { text: Some(Id::new(9_000_002)), ..Default::default() };
    store.complete(guild, &subject, &token, channels, 6).await.unwrap();
    let link = json!({ "discord_user_id": "9000001" });
    assert_eq!(call(&t.router, Method::PUT, "/v1/links/a-platform-user", key, Some(link)).await.status, 201);
    let team = json!({ "name": "Secret Team A", "members": ["a-platform-user"] });
    assert_eq!(call(&t.router, Method::PUT, "/v1/subjects/lead/42/teams/team-a", key, Some(team)).await.status, 201);
    let sync = call(&t.router, Method::POST, "/v1/syncs", key, None).await;
    assert_eq!(sync.status, 202);
    sync.json()
}

/// A message job of A's; its id.
async fn a_job(t: &TwoTenants) -> String {
    let message = json!({ "content": "Secret Lead A's message" });
    let sent = call(&t.router, Method::POST, "/v1/subjects/lead/42/messages", Some(&t.key_a), Some(message)).await;
    assert_eq!(sent.status, 202, "{}", sent.text);
    sent.json()["job"]["id"].as_str().unwrap().to_owned()
}

/// A job of A's guild that gave up; its id.
async fn a_dead_letter(t: &TwoTenants) -> String {
    let job = Job::SendMessage {
        reply_to: None,
        parts: Default::default(),
        team: None,
        guild_id: Id::new(GUILD_A),
        subject: SubjectRef::new(SubjectKind::Lead, "42"),
        content: "Secret Lead A's message".to_owned(),
        message_key: "k".to_owned(),
        allow_mentions: false,
    };
    let letter = DeadLetterRecord::for_body("channel", &job.to_body().unwrap(), "missing access", 5, 7);
    t.backends.store.record_dead_letter(Some(Id::new(GUILD_A)), &letter).await.unwrap();
    let listed = call(&t.router, Method::GET, "/v1/dead-letters", Some(&t.key_a), None).await.json();
    assert_eq!(listed["items"][0]["reason"], "missing access");
    listed["items"][0]["id"].as_str().unwrap().to_owned()
}

/// A's view of its own resources, to compare before and after.
async fn a_view(t: &TwoTenants, job: &str) -> Vec<Value> {
    let key = Some(t.key_a.as_str());
    let mut views = Vec::new();
    let paths = [
        "/v1/tenant",
        "/v1/subjects/lead/42",
        "/v1/subjects/lead/42/channel",
        "/v1/links",
        "/v1/settings",
        "/v1/dead-letters",
        "/v1/keys",
        &format!("/v1/jobs/{job}"),
    ];
    for path in paths {
        views.push(call(&t.router, Method::GET, path, key, None).await.json());
    }
    views
}

/// A body for an operation, from its documented request schema's example fields: enough
/// to get past validation where the route would otherwise stop at 422.
fn body_for(route: &str, method: &str) -> Option<Value> {
    match (method, route) {
        ("put", "/v1/subjects/{kind}/{id}") => Some(json!({ "name": "B's own" })),
        ("delete", "/v1/subjects/{kind}/{id}/channel") => Some(json!({ "reason": "b tries" })),
        ("post", "/v1/subjects/{kind}/{id}/messages") => Some(json!({ "content": "b writes" })),
        ("put", "/v1/links/{platform_user_id}") => Some(json!({ "discord_user_id": "9000001" })),
        ("put", "/v1/settings") => Some(json!({})),
        ("put", "/v1/subjects/{kind}/{id}/teams/{team_id}") => {
            Some(json!({ "name": "B's team", "members": ["b-user"] }))
        }
        ("post", "/v1/subjects/{kind}/{id}/teams/{team_id}/messages") => Some(json!({ "content": "b calls" })),
        ("post", "/v1/connect") => Some(json!({ "return_url": "https://club-b.example/" })),
        ("post", "/v1/keys") => Some(json!({ "expires_in_days": 1 })),
        (_, _) => None,
    }
}

#[tokio::test]
async fn tenant_b_never_sees_or_changes_tenant_a_on_any_documented_operation() {
    let t = TwoTenants::new().await;
    let sync = a_has_everything(&t).await;
    let dead_letter = a_dead_letter(&t).await;
    let job = a_job(&t).await;
    let run_id = sync["run_id"].as_str().unwrap().to_owned();
    let before = a_view(&t, &job).await;
    let a_key = t.backends.store.api_keys(&"club-a".into()).await.unwrap()[0].key_id.clone();

    let document = serde_json::to_value(api::document()).unwrap();
    let mut operations: Vec<(String, String)> = Vec::new();
    for (route, item) in document["paths"].as_object().unwrap() {
        operations.extend(item.as_object().unwrap().keys().map(|method| (route.clone(), method.clone())));
    }
    // B disconnecting its own guild is walked last: after it, B's routes answer 409.
    operations.sort_by_key(|(route, method)| route == "/v1/guild" && method == "delete");
    let mut walked = 0;
    for (route, method) in &operations {
        let (route, method) = (route.as_str(), method.as_str());
        let path = route
            .replace("/v1/dead-letters/{id}", &format!("/v1/dead-letters/{dead_letter}"))
            .replace("/v1/jobs/{id}", &format!("/v1/jobs/{job}"))
            .replace("{kind}", "lead")
            .replace("{id}", "42")
            .replace("{platform_user_id}", "a-platform-user")
            .replace("{team_id}", "team-a")
            .replace("{run_id}", &run_id)
            .replace("{key_id}", &a_key);
        assert!(!path.contains('{'), "a path parameter this test does not fill: {route}");
        let verb = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let body = body_for(route, method).map(|b| b.to_string());
        let headers: &[(&str, &str)] = match route {
            "/v1/settings" => &[("if-match", "\"1\"")],
            _ => &[("host", super::HOST)],
        };
        let answer = call_with(&t.router, verb, &path, Some(&t.key_b), body, headers).await;
        walked += 1;
        assert!(answer.status < 500, "{method} {path}: {}", answer.status);
        for marker in A_MARKERS {
            assert!(!answer.text.contains(marker), "{method} {path} showed A's {marker}: {}", answer.text);
        }
        let reading_a =
            route.contains("/subjects/{kind}/{id}") || route.contains("{run_id}") || route.contains("/jobs/");
        let retrying_a = route.contains("/dead-letters/{id}") || route.contains("{key_id}");
        // B's own PUT of the subject (walked just before) makes its team list B's, and empty.
        let own_list = route.ends_with("/teams");
        if (reading_a && method == "get" && !own_list) || retrying_a {
            assert_eq!(answer.status, 404, "{method} {path}: {}", answer.text);
        }
    }
    assert!(walked >= 21, "walked {walked} operations");
    assert_eq!(a_view(&t, &job).await, before, "A's data is as it was");
}

/// Tenant B's write routes whose bodies take a Discord id, each given tenant A's: A's text
/// channel, category and role in the settings, A's member as B's lead and link, A's channel
/// and role mentioned in B's messages and reasons. Then B's jobs run against the sandbox:
/// the bot never touches A's guild, channel, category or role, and nothing is posted there.
#[tokio::test]
async fn tenant_b_naming_tenant_as_discord_ids_in_its_bodies_never_makes_the_bot_act_in_as_guild() {
    let openapi = std::env::var_os("DISCORD_OPENAPI_PATH").map(std::path::PathBuf::from);
    let config = SandboxConfig::new(super::BOT_TOKEN, openapi, RateLimits::generous());
    let sandbox = Sandbox::start(config, ([127, 0, 0, 1], 0).into()).await.expect("sandbox");
    for (guild, first_member) in [(GUILD_A, 1_200_000_000_000_010_000), (GUILD_B, 1_200_000_000_000_020_000)] {
        sandbox.seed_guild(GuildSeed {
            id: guild,
            name: format!("Guild {guild}"),
            bot_permissions: 1 << 3,
            roles: vec![(guild + 400, "Member".to_owned())],
            members: 3,
            first_member_id: first_member,
            bot_every: None,
        });
    }
    let t = TwoTenants::connected_to(&sandbox.base_url()).await;
    let (a_text, a_category) = (sandbox.add_channel(GUILD_A, "a-general", 0), sandbox.add_channel(GUILD_A, "A", 4));
    let (a_role, a_member) = (GUILD_A + 400, 1_200_000_000_000_010_001u64);
    let key = Some(t.key_b.as_str());

    let settings = json!({
        "notifications": { "log_channel_id": a_text.to_string() },
        "archive_category_id": a_category.to_string(),
        "member_role_id": a_role.to_string(),
    });
    let refused =
        call_with(&t.router, Method::PUT, "/v1/settings", key, Some(settings.to_string()), &[("if-match", "*")]).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    for field in ["notifications.log_channel_id", "archive_category_id", "member_role_id"] {
        assert!(refused.json()["errors"][field].is_string(), "{field}: {}", refused.text);
    }
    let mention = format!("<#{a_text}> <@&{a_role}> <@{a_member}>");
    let writes = [
        (
            Method::PUT,
            "/v1/subjects/lead/b1",
            json!({ "name": format!("B {mention}"), "discord_user_id": a_member.to_string() }),
        ),
        (Method::PUT, "/v1/links/b-user", json!({ "discord_user_id": a_member.to_string() })),
        (Method::POST, "/v1/subjects/lead/b1/channel", json!({})),
        (Method::POST, "/v1/subjects/lead/b1/messages", json!({ "content": mention })),
        (Method::PUT, "/v1/subjects/lead/b1/teams/t1", json!({ "name": "Team", "members": ["b-user"] })),
        (Method::POST, "/v1/syncs", json!({})),
        (Method::DELETE, "/v1/subjects/lead/b1/channel", json!({ "reason": mention })),
    ];
    for (method, path, body) in writes {
        let answer = call(&t.router, method.clone(), path, key, Some(body)).await;
        assert!(answer.status < 500, "{method} {path}: {} {}", answer.status, answer.text);
    }
    // B's jobs run, as the workers would.
    let discord =
        DiscordClient::new(sandbox.base_url().parse().expect("url"), BotToken::new(super::BOT_TOKEN)).expect("client");
    let channels = ChannelWorker::new(
        t.backends.store.clone(),
        discord.clone(),
        Id::new(super::APPLICATION),
        StateKey::new(&[5; 32]).expect("key"),
    );
    let syncs =
        SyncWorker::new(t.backends.store.clone(), t.backends.queue.clone(), discord, Id::new(super::APPLICATION));
    let store = t.backends.store.as_ref();
    for _ in 0..20 {
        let ran_channel =
            Consumer::new(&t.queue, QueueKind::Channel, &channels, store).work_one().await.expect("queue");
        let ran_sync = Consumer::new(&t.queue, QueueKind::Sync, &syncs, store).work_one().await.expect("queue");
        if ran_channel.is_none() && ran_sync.is_none() {
            break;
        }
    }
    let requests = sandbox.requests();
    assert!(requests.iter().any(|r| r.path.contains(&GUILD_B.to_string())), "B's jobs did run: {requests:?}");
    for a_id in [GUILD_A, a_text, a_category, a_role] {
        let touched: Vec<String> = requests
            .iter()
            .filter(|r| r.path.contains(&a_id.to_string()))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert_eq!(touched, Vec::<String>::new(), "the bot acted on A's {a_id}");
    }
    let posted_in_a = sandbox.with_world(|world| world.messages.get(&a_text).map(Vec::len).unwrap_or(0));
    assert_eq!(posted_in_a, 0, "nothing posted in A's channel");
}

//! The tenant boundary, walked as an attacker would: tenant B's settings naming what belongs
//! to tenant A's guild, a role with power handed to the bot to give out (through the API and
//! through the page), and a tenant hammering the API. Each is refused, naming the field or
//! the budget, and nothing is saved.

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{Method, Request},
};
use discord_sandbox::demo;
use guildbridge_core::{
    discord::rest::{BotToken, DiscordClient},
    domain::{Job, SyncKind, TargetPolicy, TenantId, limits::RequestLimits},
    sync::SyncWorker,
    worker::{Attempt, JobHandler, JobOutcome},
};
use serde_json::{Value, json};
use tower::ServiceExt;
use twilight_model::id::Id;

use super::{
    settings_page::{Browser, Site, settings_path, site, standalone_a, stored, submit},
    tenant_api::{APPLICATION, BOT_TOKEN, GUILD_A, GUILD_B, TwoTenants, call, limited_api_router},
};

const TEXT: u8 = 0;
const CATEGORY: u8 = 4;
const KICK_MEMBERS: u64 = 1 << 1;
const MANAGE_ROLES: u64 = 1 << 28;
const MENTION_EVERYONE: u64 = 1 << 17;
/// The second member of guild B (the sandbox numbers them from the owner's id).
const OWNER_B_MEMBER: u64 = 1_200_000_000_000_020_001;

/// `PUT /v1/settings` as tenant `key` holds, over whatever is there.
async fn put_settings(site: &Site, key: &str, body: &Value) -> (u16, Value) {
    let request = Request::builder()
        .method(Method::PUT)
        .uri("/v1/settings")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .header("if-match", "*")
        .body(Body::from(body.to_string()))
        .expect("request");
    let response = site.router.clone().oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn key_of(site: &Site, tenant: &str) -> String {
    site.backends.store.issue_api_key(&TenantId::from(tenant), 1).await.expect("key").secret
}

/// The guild's seeded `Member` role (a plain role below the bot's).
fn member_role(guild: u64) -> u64 {
    guild + 400
}

#[tokio::test]
async fn tenant_b_cannot_point_its_settings_at_tenant_as_channel_category_or_role() {
    let site = site().await;
    let key_b = key_of(&site, "club-b").await;
    let (a_text, a_category) = (
        site.sandbox.add_channel(GUILD_A, "a-general", TEXT),
        site.sandbox.add_channel(GUILD_A, "A archive", CATEGORY),
    );
    let (before, version) = stored(&site, GUILD_B).await;

    let theirs = json!({
        "notifications": { "log_channel_id": a_text.to_string() },
        "archive_category_id": a_category.to_string(),
        "member_role_id": member_role(GUILD_A).to_string(),
    });
    let (status, problem) = put_settings(&site, &key_b, &theirs).await;
    assert_eq!(status, 422, "{problem}");
    let errors = &problem["errors"];
    assert_eq!(errors["notifications.log_channel_id"], "is not a text channel of this server", "{problem}");
    assert_eq!(errors["archive_category_id"], "is not a category of this server", "{problem}");
    assert_eq!(errors["member_role_id"], "is not a role of this server", "{problem}");
    assert_eq!(stored(&site, GUILD_B).await, (before, version), "nothing saved");

    // The right kind matters too: B's own category is no log channel, its text channel no
    // archive category.
    let (b_text, b_category) =
        (site.sandbox.add_channel(GUILD_B, "b-log", TEXT), site.sandbox.add_channel(GUILD_B, "B archive", CATEGORY));
    let swapped = json!({
        "notifications": { "log_channel_id": b_category.to_string() },
        "archive_category_id": b_text.to_string(),
    });
    let (status, problem) = put_settings(&site, &key_b, &swapped).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"].as_object().map(|errors| errors.len()), Some(2), "{problem}");

    // B's own, of the right kinds, save.
    let own = json!({
        "notifications": { "log_channel_id": b_text.to_string() },
        "archive_category_id": b_category.to_string(),
        "member_role_id": member_role(GUILD_B).to_string(),
    });
    let (status, saved) = put_settings(&site, &key_b, &own).await;
    assert_eq!(status, 200, "{saved}");
    let (after, _) = stored(&site, GUILD_B).await;
    assert_eq!(after.member_role_id, Some(Id::new(member_role(GUILD_B))));
    assert_eq!(after.notifications.log_channel_id, Some(Id::new(b_text)));
}

#[tokio::test]
async fn no_role_with_power_above_the_bot_or_managed_is_accepted_as_the_member_role() {
    let site = site().await;
    let key_b = key_of(&site, "club-b").await;
    let sandbox = &site.sandbox;
    let kick = sandbox.add_role(GUILD_B, "Moderator", KICK_MEMBERS, false).expect("role");
    let pings = sandbox.add_role(GUILD_B, "Announcer", MENTION_EVERYONE, false).expect("role");
    let above = sandbox.add_role(GUILD_B, "Staff", 0, true).expect("role");
    let bot_role = sandbox.with_world(|world| {
        let guild = &world.guilds[&GUILD_B];
        guild.roles.iter().find(|(_, role)| role.bot_id.is_some()).map(|(id, _)| *id).expect("the bot's role")
    });
    let refused = [
        (kick, "carries kick members, which the bot does not hand out"),
        (pings, "carries mention everyone, which the bot does not hand out"),
        (above, "is not below the bot's highest role"),
        (bot_role, "is managed by an integration (a bot's or a subscription's role)"),
        (GUILD_B, "is @everyone, which every member holds"),
    ];
    for (role, why) in refused {
        let (status, problem) = put_settings(&site, &key_b, &json!({ "member_role_id": role.to_string() })).await;
        assert_eq!((status, problem["errors"]["member_role_id"].as_str()), (422, Some(why)), "{problem}");
    }
    assert_eq!(stored(&site, GUILD_B).await.0.member_role_id, None, "nothing saved");
    let plain = sandbox.add_role(GUILD_B, "Racer", 0, false).expect("role");
    let (status, saved) = put_settings(&site, &key_b, &json!({ "member_role_id": plain.to_string() })).await;
    assert_eq!(status, 200, "{saved}");
}

#[tokio::test]
async fn on_the_page_a_moderator_without_manage_roles_cannot_choose_the_member_role() {
    let site = site().await;
    standalone_a(&site).await;
    let mut browser = Browser::default();
    browser.login(&site, demo::ADMIN, "/settings").await;
    let path = settings_path(GUILD_A);
    let page = browser.get(&site, &path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let role = member_role(GUILD_A).to_string();
    let refused = submit(&mut browser, &site, &page, &path, &[("member_role_id", &role)]).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text.contains("choosing the member role needs Manage Roles in this server"), "{}", refused.text);
    assert_eq!(stored(&site, GUILD_A).await.0.member_role_id, None);

    // With Manage Roles they may; a role with power is still refused beside its field.
    let manage_roles =
        discord_sandbox::world::DEFAULT_MEMBER_PERMISSIONS | discord_sandbox::world::MANAGE_GUILD | MANAGE_ROLES;
    assert!(site.sandbox.set_member_permissions(GUILD_A, demo::ADMIN, manage_roles));
    site.clock.advance(3600);
    let mut browser = Browser::default();
    browser.login(&site, demo::ADMIN, "/settings").await;
    let page = browser.get(&site, &path).await;
    let kick = site.sandbox.add_role(GUILD_A, "Moderator", KICK_MEMBERS, false).expect("role");
    let refused = submit(&mut browser, &site, &page, &path, &[("member_role_id", &kick.to_string())]).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text.contains("carries kick members"), "{}", refused.text);
    let saved = submit(&mut browser, &site, &page, &path, &[("member_role_id", &role)]).await;
    assert_eq!(saved.status, 303, "{}", saved.text);
    assert_eq!(stored(&site, GUILD_A).await.0.member_role_id, Some(Id::new(member_role(GUILD_A))));
}

#[tokio::test]
async fn a_tenant_hammering_the_api_is_held_to_its_budgets_and_the_other_tenant_is_not() {
    let t = TwoTenants::new().await;
    let limits = RequestLimits {
        per_minute: NonZeroU32::new(6).expect("6"),
        outbound_per_minute: NonZeroU32::new(2).expect("2"),
    };
    let router = limited_api_router(
        &t.backends,
        Arc::new(t.clock.clone()),
        "http://127.0.0.1:9/api/v10",
        TargetPolicy { allow_loopback: true },
        limits,
    );
    // The webhook test is the outbound route an attacker would pick: two a minute.
    let test = || call(&router, Method::POST, "/v1/webhook/test", Some(&t.key_a), None);
    for _ in 0..2 {
        assert_ne!(test().await.status, 429);
    }
    let refused = test().await;
    assert_eq!((refused.status, refused.content_type.as_str()), (429, "application/problem+json"), "{}", refused.text);
    let wait: u64 = refused.headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(refused.json()["type"], "urn:guildbridge:problem:rate-limited");
    // Reads go on within the general budget: 6, of which the 2 tests took 2 (the refused
    // one took none).
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(call(&router, Method::GET, "/v1/tenant", Some(&t.key_a), None).await.status);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429], "the general budget runs out too");
    // Tenant B has budgets of its own.
    assert_eq!(call(&router, Method::GET, "/v1/tenant", Some(&t.key_b), None).await.status, 200);
    assert_ne!(call(&router, Method::POST, "/v1/webhook/test", Some(&t.key_b), None).await.status, 429);
    // The next minute, A may again.
    t.clock.advance(wait);
    assert_eq!(call(&router, Method::GET, "/v1/tenant", Some(&t.key_a), None).await.status, 200);
    assert_ne!(test().await.status, 429);
}

#[tokio::test]
async fn a_member_role_given_power_after_it_was_saved_is_refused_at_use_and_the_tenant_sees_why() {
    let site = site().await;
    let key_b = key_of(&site, "club-b").await;
    let role = member_role(GUILD_B);
    let (status, saved) = put_settings(&site, &key_b, &json!({ "member_role_id": role.to_string() })).await;
    assert_eq!(status, 200, "{saved}");
    // A member of B's guild is linked, so the sync has a role to give.
    let link = json!({ "discord_user_id": OWNER_B_MEMBER.to_string() });
    let request = Request::builder()
        .method(Method::PUT)
        .uri("/v1/links/racer-1")
        .header("authorization", format!("Bearer {key_b}"))
        .header("content-type", "application/json")
        .body(Body::from(link.to_string()))
        .expect("request");
    let linked = site.router.clone().oneshot(request).await.expect("infallible");
    assert!(linked.status().is_success(), "{}", linked.status());
    // Someone with Manage Roles in Discord then gives the member role Kick Members.
    site.sandbox.with_world(|world| {
        let guild = world.guilds.get_mut(&GUILD_B).expect("guild");
        guild.roles.get_mut(&role).expect("role").permissions = KICK_MEMBERS;
    });
    let discord =
        DiscordClient::new(site.sandbox.base_url().parse().expect("url"), BotToken::new(BOT_TOKEN)).expect("client");
    let worker =
        SyncWorker::new(site.backends.store.clone(), site.backends.queue.clone(), discord, Id::new(APPLICATION));
    let job = Job::SyncMembers {
        guild_id: Id::new(GUILD_B),
        kind: SyncKind::Webhook,
        request_id: "platform:1".into(),
        reply: None,
        after: None,
    };
    let attempt =
        Attempt { receives: 1, max_receives: 5, deadline: tokio::time::Instant::now() + Duration::from_secs(30) };
    assert_eq!(worker.handle(job, attempt).await, JobOutcome::Done, "refused, not retried");
    let holders = site.sandbox.with_world(|world| {
        world.guilds[&GUILD_B].members.values().filter(|member| member.roles.contains(&role)).count()
    });
    assert_eq!(holders, 0, "nobody was given the role");

    let tenant = tenant_view(&site, &key_b).await;
    let problems = tenant["settings_problems"].as_array().cloned().unwrap_or_default();
    assert_eq!(problems.len(), 1, "{tenant}");
    assert_eq!(problems[0]["field"], "member_role_id");
    assert!(problems[0]["problem"].as_str().is_some_and(|text| text.contains("carries kick members")), "{tenant}");
    // Saving the settings again (another role) checks them anew, and the problem is gone.
    let plain = site.sandbox.add_role(GUILD_B, "Racer", 0, false).expect("role");
    let (status, saved) = put_settings(&site, &key_b, &json!({ "member_role_id": plain.to_string() })).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(tenant_view(&site, &key_b).await["settings_problems"], json!([]));
}

async fn tenant_view(site: &Site, key: &str) -> Value {
    let request = Request::get("/v1/tenant")
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())
        .expect("request");
    let response = site.router.clone().oneshot(request).await.expect("infallible");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    serde_json::from_slice(&bytes).expect("json")
}

#[tokio::test]
async fn the_smaller_doors_refuse_misspelt_fields_unknown_parameters_and_dot_ids() {
    let t = TwoTenants::new().await;
    let key = Some(t.key_a.as_str());
    let misspelt =
        json!({ "reminders": [{ "before_minutes": 60, "befor_minutes": 30, "template": { "content": "soon" } }] });
    let answer = super::tenant_api::call_with(
        &t.router,
        Method::PUT,
        "/v1/settings",
        key,
        Some(misspelt.to_string()),
        &[("if-match", "*")],
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(answer.text.contains("reminders[0].befor_minutes"), "named: {}", answer.text);
    for path in ["/v1/channels?stauts=active", "/v1/members?linked=true&admin=true", "/v1/links?limit=5&evil=1"] {
        let answer = call(&t.router, Method::GET, path, key, None).await;
        assert_eq!(answer.status, 400, "{path}: {}", answer.text);
    }
    for id in [".", "..", "%2E%2E"] {
        let answer =
            call(&t.router, Method::PUT, &format!("/v1/subjects/lead/{id}"), key, Some(json!({ "name": "x" }))).await;
        assert!(answer.status == 404 || answer.status == 400, "{id}: {} {}", answer.status, answer.text);
        assert_ne!(answer.status, 201);
    }
}

//! The interactions endpoint over HTTP, as Discord and attackers reach it.

use std::sync::Arc;

use async_trait::async_trait;
use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use ed25519_dalek::SigningKey;
use guildbridge_core::store::items::{Condition, Item, ItemError, ItemStore, Key, Page, Query, TxWrite};
use guildbridge_core::{
    discord::{
        custom_id::StateKey,
        responses,
        signature::{DEFAULT_MAX_AGE, SignatureVerifier},
    },
    interactions::{
        InteractionService, MAX_BODY_BYTES,
        commands::{CommandDeps, guildbridge_commands, manifest},
        components::{ComponentHandler, ComponentRegistry},
        http::router,
    },
    test_support::interactions::{self as fake_discord, Invoker},
};
use guildbridge_host::config::InteractionsConfig;
use serde_json::{Value, json};
use tower::ServiceExt;
use twilight_model::{application::interaction::Interaction, http::interaction::InteractionResponse};

const SETTINGS_URL: &str = "https://guildbridge.example/settings";

fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

fn state_key() -> StateKey {
    StateKey::new(&[9; 32]).expect("32 bytes")
}

/// Echoes the signed state back, so a test sees it arrived intact.
struct Echo;

#[async_trait]
impl ComponentHandler for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }
    async fn handle(&self, _: &Interaction, state: &str) -> InteractionResponse {
        responses::ephemeral(format!("state={state}"))
    }
}

/// Guildbridge's commands, with the echoing component beside them.
fn app() -> Router {
    let (backends, _) = guildbridge_host::wiring::Backends::in_memory().expect("backends");
    let deps = CommandDeps {
        settings_url: url::Url::parse(SETTINGS_URL).expect("url"),
        store: backends.store,
        queue: backends.queue,
        clock: guildbridge_core::clock::system(),
        state_key: state_key(),
    };
    let service = InteractionService::new(
        SignatureVerifier::new(signing_key().verifying_key(), DEFAULT_MAX_AGE),
        guildbridge_commands(&deps).expect("manifest"),
        ComponentRegistry::new(vec![Arc::new(Echo)]),
        state_key(),
    );
    router(Arc::new(service))
}

fn signed_request(path: &str, body: Vec<u8>) -> Request<Body> {
    let signed = fake_discord::sign(&signing_key(), fake_discord::unix_now(), body);
    Request::post(path)
        // Mixed case on purpose: header names are case-insensitive.
        .header("X-Signature-Ed25519", signed.signature)
        .header("x-SIGNATURE-timestamp", signed.timestamp)
        .header("content-type", "application/json")
        .body(Body::from(signed.body))
        .expect("request")
}

async fn send(request: Request<Body>) -> (StatusCode, Value) {
    let response = app().oneshot(request).await.expect("router never fails");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn command(line: &str) -> Vec<u8> {
    let interaction = fake_discord::command(line, &manifest(), &Invoker::default(), 1234).expect("valid line");
    serde_json::to_vec(&interaction).expect("json")
}

#[tokio::test]
async fn answers_ping_with_pong_on_every_route() {
    let ping = serde_json::to_vec(&fake_discord::ping(&Invoker::default(), 1)).expect("json");
    for path in ["/", "/interactions", "/prod/interactions", "/prod/"] {
        let (status, body) = send(signed_request(path, ping.clone())).await;
        assert_eq!((status, body), (StatusCode::OK, json!({ "type": 1 })), "{path}");
    }
}

#[tokio::test]
async fn settings_answers_privately_with_this_guilds_page() {
    let (status, body) = send(signed_request("/interactions", command("/settings"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["type"], 4);
    assert_eq!(body["data"]["flags"], 64);
    let page = format!("{SETTINGS_URL}/guilds/{}", Invoker::default().guild_id.expect("guild"));
    assert!(body["data"]["content"].as_str().is_some_and(|c| c.contains(&page)), "{body}");
    assert_eq!(body["data"]["components"][0]["components"][0]["url"], page.as_str());
}

#[tokio::test]
async fn settings_outside_a_guild_says_where_to_run_it() {
    let invoker = Invoker { guild_id: None, ..Invoker::default() };
    let interaction = fake_discord::command("/settings", &manifest(), &invoker, 5).expect("line");
    let (status, body) = send(signed_request("/", serde_json::to_vec(&interaction).expect("json"))).await;
    assert_eq!((status, body["data"]["flags"].clone()), (StatusCode::OK, json!(64)));
    assert!(body["data"]["content"].as_str().is_some_and(|c| c.contains("inside the server")), "{body}");
}

#[tokio::test]
async fn unknown_command_gets_an_ephemeral_explanation() {
    let mut interaction = fake_discord::command("/settings", &manifest(), &Invoker::default(), 9).expect("line");
    interaction["data"]["name"] = json!("teleport");
    let (status, body) = send(signed_request("/", serde_json::to_vec(&interaction).expect("json"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((body["type"].clone(), body["data"]["flags"].clone()), (json!(4), json!(64)));
    assert!(body["data"]["content"].as_str().is_some_and(|c| c.contains("/teleport")), "{body}");
}

#[tokio::test]
async fn autocomplete_for_a_command_without_completions_offers_nothing() {
    let mut interaction = fake_discord::command("/settings", &manifest(), &Invoker::default(), 9).expect("line");
    interaction["type"] = json!(4);
    let (status, body) = send(signed_request("/", serde_json::to_vec(&interaction).expect("json"))).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "type": 8, "data": { "choices": [] } })));
}

fn component_click(custom_id: &str) -> Vec<u8> {
    let mut interaction = fake_discord::command("/settings", &manifest(), &Invoker::default(), 77).expect("line");
    interaction["type"] = json!(3);
    interaction["data"] = json!({ "custom_id": custom_id, "component_type": 2 });
    interaction["message"] = json!({
        "id": "1100000000000000500", "channel_id": "1100000000000000200", "type": 0,
        "content": "", "timestamp": "2024-01-01T00:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [],
        "embeds": [], "pinned": false, "flags": 64, "components": [],
        "author": { "id": "1100000000000000001", "username": "guildbridge", "discriminator": "0", "avatar": null, "bot": true },
    });
    serde_json::to_vec(&interaction).expect("json")
}

#[tokio::test]
async fn components_reach_their_handler_with_signed_state() {
    let custom_id = state_key().sign("echo", "event:42").expect("fits");
    let (status, body) = send(signed_request("/", component_click(&custom_id))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["content"], "state=event:42");
}

#[tokio::test]
async fn forged_or_retired_components_get_an_ephemeral_refusal() {
    let forged = state_key().sign("echo", "event:42").expect("fits").replace("42", "43");
    let retired = state_key().sign("gone", "x").expect("fits");
    for custom_id in [forged.as_str(), retired.as_str(), "not-ours"] {
        let (status, body) = send(signed_request("/", component_click(custom_id))).await;
        assert_eq!(status, StatusCode::OK, "{custom_id}");
        assert_eq!(body["data"]["flags"], 64, "{custom_id}");
        assert!(!body["data"]["content"].as_str().unwrap_or_default().starts_with("state="), "{custom_id}");
    }
}

#[tokio::test]
async fn signed_garbage_is_a_400_with_a_json_error() {
    for body in [&b"{not json"[..], b"[]", br#"{"type":2}"#, br#"{"type":"ping"}"#, b""] {
        let (status, json) = send(signed_request("/", body.to_vec())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(body));
        assert_eq!(json["error"], "malformed_interaction");
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn a_400_never_echoes_the_token() {
    let mut interaction = fake_discord::command("/settings", &manifest(), &Invoker::default(), 3).expect("line");
    interaction["token"] = json!("SECRET-TOKEN-VALUE");
    interaction["guild_id"] = json!("not-a-snowflake-SECRET-TOKEN-VALUE");
    let (status, json) = send(signed_request("/", serde_json::to_vec(&interaction).expect("json"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!json.to_string().contains("SECRET"), "{json}");
}

#[tokio::test]
async fn unsigned_or_mis_signed_requests_are_401_before_parsing() {
    let body = command("/settings");
    let unsigned = Request::post("/").body(Body::from(body.clone())).expect("request");
    assert_eq!(send(unsigned).await.0, StatusCode::UNAUTHORIZED);

    let mut tampered = signed_request("/", body);
    *tampered.body_mut() = Body::from(command("/settings").into_iter().chain(*b" ").collect::<Vec<u8>>());
    let (status, json) = send(tampered).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json["error"], "invalid_request_signature");

    let stale = fake_discord::sign(&signing_key(), fake_discord::unix_now() - 3600, b"{not json".to_vec());
    let request = Request::post("/")
        .header("x-signature-ed25519", stale.signature)
        .header("x-signature-timestamp", stale.timestamp)
        .body(Body::from(stale.body))
        .expect("request");
    assert_eq!(send(request).await.0, StatusCode::UNAUTHORIZED, "stale is refused before the body is read");
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_413() {
    let big = vec![b' '; MAX_BODY_BYTES + 1];
    let (status, json) = send(signed_request("/", big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json["error"], "body_too_large");

    let exactly = [b"{\"type\":1}".as_slice(), &vec![b' '; MAX_BODY_BYTES - 10]].concat();
    assert_eq!(send(signed_request("/", exactly)).await.0, StatusCode::OK, "the limit itself is allowed");
}

#[tokio::test]
async fn other_paths_and_methods_are_not_the_endpoint() {
    let (status, json) = send(Request::get("/admin").body(Body::empty()).expect("request")).await;
    assert_eq!((status, json["error"].clone()), (StatusCode::NOT_FOUND, json!("not_found")));
    let (status, _) = send(Request::get("/interactions").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

/// A store whose every call waits forever (a connection that never answers).
struct Stalled;

#[async_trait]
impl ItemStore for Stalled {
    async fn get(&self, _: &Key) -> Result<Option<Item>, ItemError> {
        std::future::pending().await
    }
    async fn get_many(&self, _: &[Key]) -> Result<Vec<Item>, ItemError> {
        std::future::pending().await
    }
    async fn put(&self, _: Item, _: Option<Condition>) -> Result<(), ItemError> {
        std::future::pending().await
    }
    async fn delete(&self, _: &Key, _: Option<Condition>) -> Result<(), ItemError> {
        std::future::pending().await
    }
    async fn transact(&self, _: Vec<TxWrite>) -> Result<(), ItemError> {
        std::future::pending().await
    }
    async fn put_many(&self, _: Vec<Item>) -> Result<(), ItemError> {
        std::future::pending().await
    }
    async fn query(&self, _: &Query) -> Result<Page, ItemError> {
        std::future::pending().await
    }
    async fn count(&self, _: &Query) -> Result<u64, ItemError> {
        std::future::pending().await
    }
    async fn scan(&self, _: &guildbridge_core::store::items::Scan) -> Result<Page, ItemError> {
        std::future::pending().await
    }
    async fn count_up(&self, _: &Key, _: &str, _: u64, _: u64) -> Result<u64, ItemError> {
        std::future::pending().await
    }
}

#[tokio::test(start_paused = true)]
async fn a_store_that_never_answers_still_gets_an_ephemeral_try_again_within_the_budget() {
    let config = InteractionsConfig {
        public_key: signing_key().verifying_key(),
        settings_url: url::Url::parse(SETTINGS_URL).expect("url"),
        state_key: state_key(),
        signature_max_age: std::time::Duration::from_secs(3600),
    };
    let (in_memory, _) = guildbridge_host::wiring::Backends::in_memory().expect("backends");
    let backends = guildbridge_host::wiring::Backends::over(
        Arc::new(guildbridge_core::store::Store::new(Stalled)),
        in_memory.queue,
    );
    let service = guildbridge_host::wiring::interaction_service(&config, &backends).expect("manifest");
    let app = router(Arc::new(service));
    for line in ["/events", "/channel info", "/sync", "/channel create name:demo"] {
        let request = signed_request("/interactions", command(line));
        let response = app.clone().oneshot(request).await.expect("router never fails");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        let body: Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!((body["type"].clone(), body["data"]["flags"].clone()), (json!(4), json!(64)), "{line}: {body}");
        let content = body["data"]["content"].as_str().unwrap_or_default();
        assert!(content.contains("busy") && content.contains("try again"), "{line}: {content}");
    }
}

/// Guildbridge's own service (its `/events` included) over the in-memory store.
fn app_with_events() -> (Router, std::sync::Arc<dyn guildbridge_core::store::DomainStore>) {
    let (backends, _) = guildbridge_host::wiring::Backends::in_memory().expect("backends");
    let deps = CommandDeps {
        settings_url: url::Url::parse(SETTINGS_URL).expect("url"),
        store: backends.store.clone(),
        queue: backends.queue,
        clock: guildbridge_core::clock::system(),
        state_key: state_key(),
    };
    let verifier = SignatureVerifier::new(signing_key().verifying_key(), DEFAULT_MAX_AGE);
    let service = InteractionService::guildbridge(verifier, &deps, state_key()).expect("service");
    (router(Arc::new(service)), backends.store)
}

fn authorized(guild: u64, integration_type: u8, at: &str) -> Vec<u8> {
    let event = json!({
        "version": 1,
        "application_id": "1100000000000000001",
        "type": 1,
        "event": {
            "type": "APPLICATION_AUTHORIZED",
            "timestamp": at,
            "data": {
                "integration_type": integration_type,
                "scopes": ["applications.commands", "bot"],
                "user": { "id": "1100000000000010000", "username": "owner", "discriminator": "0", "global_name": null, "avatar": null },
                "guild": { "id": guild.to_string(), "name": "Club", "icon": null, "owner_id": "1100000000000010000" }
            }
        }
    });
    serde_json::to_vec(&event).expect("json")
}

#[tokio::test]
async fn webhook_events_confirm_a_guild_install_once_and_answer_a_ping() {
    use guildbridge_core::domain::BotInstall;
    use twilight_model::id::Id;
    let (app, store) = app_with_events();
    let status = |request: Request<Body>| {
        let app = app.clone();
        async move { app.oneshot(request).await.expect("router").status() }
    };
    let ping =
        serde_json::to_vec(&json!({ "version": 1, "application_id": "1100000000000000001", "type": 0 })).expect("json");
    for path in ["/events", "/prod/events"] {
        assert_eq!(status(signed_request(path, ping.clone())).await, StatusCode::NO_CONTENT, "{path}");
    }
    let mut forged = signed_request("/events", ping.clone());
    *forged.body_mut() = Body::from(authorized(7, 0, "2026-12-02T10:00:00.000000"));
    assert_eq!(status(forged).await, StatusCode::UNAUTHORIZED, "the signature covers the body");

    let guild = Id::new(1_200_000_000_000_000_777);
    store
        .record_bot_install(guild, BotInstall { invited: false, permissions: 268_438_544, updated_at: 1 })
        .await
        .expect("store");
    let event = authorized(guild.get(), 0, "2026-12-02T10:00:00.000000");
    assert_eq!(status(signed_request("/events", event.clone())).await, StatusCode::NO_CONTENT);
    let confirmed = store.bot_install(guild).await.expect("store").expect("install");
    assert!(confirmed.invited, "the bot is recorded as present");
    assert_eq!(confirmed.permissions, 268_438_544, "the granted permissions are kept");

    // Discord retries the same event after the guild was disconnected: nothing happens twice.
    store.record_bot_install(guild, BotInstall { invited: false, permissions: 0, updated_at: 2 }).await.expect("store");
    assert_eq!(status(signed_request("/events", event)).await, StatusCode::NO_CONTENT);
    assert!(!store.bot_install(guild).await.expect("store").expect("install").invited, "the repeat changed nothing");

    // A user install (integration type 1) names no guild the bot joined.
    let other = Id::new(1_200_000_000_000_000_778);
    let user_install = authorized(other.get(), 1, "2026-12-02T10:01:00.000000");
    assert_eq!(status(signed_request("/events", user_install)).await, StatusCode::NO_CONTENT);
    assert_eq!(store.bot_install(other).await.expect("store"), None);
}

#[tokio::test]
async fn remind_me_records_a_linked_members_dm_opt_in_and_offers_the_way_back() {
    let (backends, _) = guildbridge_host::wiring::Backends::in_memory().expect("backends");
    let store = backends.store.clone();
    let deps = CommandDeps {
        settings_url: url::Url::parse(SETTINGS_URL).expect("url"),
        store: backends.store,
        queue: backends.queue,
        clock: guildbridge_core::clock::system(),
        state_key: state_key(),
    };
    let service = InteractionService::new(
        SignatureVerifier::new(signing_key().verifying_key(), DEFAULT_MAX_AGE),
        guildbridge_commands(&deps).expect("manifest"),
        guildbridge_core::interactions::commands::guildbridge_components(&deps),
        state_key(),
    );
    let app = router(Arc::new(service));
    let click = |state: &str| {
        let custom_id = state_key().sign(guildbridge_core::channels::REMIND_BUTTON, state).expect("fits");
        let request = signed_request("/", component_click(&custom_id));
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.expect("router never fails");
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
            serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null)
        }
    };
    let invoker = Invoker::default();
    let (guild, user) =
        (twilight_model::id::Id::new(invoker.guild_id.expect("guild")), twilight_model::id::Id::new(invoker.user_id));

    // Not linked: told how, nothing stored.
    let answer = click("on").await;
    assert_eq!(answer["data"]["flags"], 64);
    assert!(answer["data"]["content"].as_str().unwrap_or_default().contains("Link your Discord account"), "{answer}");
    assert!(store.link_of_discord_user(guild, user).await.expect("read").is_none());

    store.link(guild, user, "driver-7", 1).await.expect("link");
    let answer = click("on").await;
    assert_eq!(answer["data"]["flags"], 64, "ephemeral");
    assert!(answer["data"]["content"].as_str().unwrap_or_default().contains("by DM"), "{answer}");
    assert!(store.link_of_discord_user(guild, user).await.expect("read").expect("linked").reminder_dms);
    let undo = answer["data"]["components"][0]["components"][0]["custom_id"].as_str().expect("an undo button");
    assert_eq!(state_key().verify(undo).expect("signed").state, "off");
    click("off").await;
    assert!(!store.link_of_discord_user(guild, user).await.expect("read").expect("linked").reminder_dms);
}

//! Connecting a guild through Discord's bot authorization, played by the sandbox: the link,
//! the callback, and every way it is refused without changing anything.

use std::path::PathBuf;

use axum::http::Method;
use discord_sandbox::{GuildSeed, RateLimits, Sandbox, SandboxConfig};
use guildbridge_core::{
    channels::ChannelWorker,
    discord::{
        custom_id::StateKey,
        rest::{BotToken, DiscordClient},
    },
    domain::QueueKind,
    worker::Consumer,
};
use serde_json::{Value, json};
use twilight_model::id::Id;
use url::Url;

use super::{APPLICATION, Answer, GUILD_A, GUILD_B, HOST, TwoTenants, call, call_with};

use super::BOT_TOKEN;
/// Owns both guilds, so either can be chosen on the sandbox's authorization page.
const OWNER: u64 = 1_200_000_000_000_010_000;

struct Flow {
    sandbox: Sandbox,
    t: TwoTenants,
    http: reqwest::Client,
}

async fn flow() -> Flow {
    let openapi = std::env::var_os("DISCORD_OPENAPI_PATH").map(PathBuf::from);
    let sandbox =
        Sandbox::start(SandboxConfig::new(BOT_TOKEN, openapi, RateLimits::generous()), ([127, 0, 0, 1], 0).into())
            .await
            .expect("sandbox");
    for (id, name) in [(GUILD_A, "Club A Racing"), (GUILD_B, "Club B Racing")] {
        sandbox.seed_guild(GuildSeed {
            id,
            name: name.to_owned(),
            bot_permissions: 0,
            roles: Vec::new(),
            members: 2,
            first_member_id: OWNER,
            bot_every: None,
        });
        // Not in the guild until someone authorizes it.
        sandbox.with_world(|world| world.guilds.get_mut(&id).map(|guild| guild.bot_absent = true));
    }
    let t = TwoTenants::unconnected(&sandbox.base_url()).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    Flow { sandbox, t, http }
}

impl Flow {
    /// `POST /v1/connect` as `key`, answered 200: the authorization link.
    async fn start(&self, key: &str, return_url: &str) -> Url {
        let body = json!({ "return_url": return_url }).to_string();
        let answer =
            call_with(&self.t.router, Method::POST, "/v1/connect", Some(key), Some(body), &[("host", HOST)]).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        Url::parse(answer.json()["authorize_url"].as_str().expect("link")).expect("url")
    }

    /// The person on Discord's page: picks `guild` (or cancels), and the browser is sent on
    /// to the callback; its path and query, as the router sees them.
    async fn authorize(&self, link: &Url, guild: u64, decision: Option<&str>) -> String {
        let mut link = link.clone();
        link.query_pairs_mut().append_pair("guild_id", &guild.to_string());
        if let Some(decision) = decision {
            link.query_pairs_mut().append_pair("decision", decision);
        }
        let answer = self.http.get(link).send().await.expect("authorize");
        assert_eq!(answer.status().as_u16(), 303, "{:?}", answer.text().await);
        let location = answer.headers()["location"].to_str().expect("location").to_owned();
        let back = Url::parse(&location).expect("redirect");
        assert_eq!(format!("https://{}", back.host_str().unwrap_or_default()), format!("https://{HOST}"));
        format!("{}?{}", back.path(), back.query().unwrap_or_default())
    }

    /// The browser back at the callback: the review page (or a refusal); on the review page
    /// the person presses Connect, and this is the answer to that.
    async fn callback(&self, path_and_query: &str) -> Answer {
        let review = self.review(path_and_query).await;
        match confirm_token(&review) {
            Some(token) => self.confirm(&token).await,
            None => review,
        }
    }

    async fn review(&self, path_and_query: &str) -> Answer {
        call(&self.t.router, Method::GET, path_and_query, None, None).await
    }

    async fn confirm(&self, token: &str) -> Answer {
        let form = url::form_urlencoded::Serializer::new(String::new()).append_pair("confirm", token).finish();
        let headers = [("content-type", "application/x-www-form-urlencoded")];
        call_with(&self.t.router, Method::POST, "/connect/callback", None, Some(form), &headers).await
    }

    async fn tenant(&self, key: &str) -> Value {
        call(&self.t.router, Method::GET, "/v1/tenant", Some(key), None).await.json()
    }
}

/// The Connect form's sealed confirmation on a review page.
fn confirm_token(review: &Answer) -> Option<String> {
    let needle = "name=\"confirm\" value=\"";
    let at = review.text.find(needle)? + needle.len();
    review.text[at..].split('"').next().map(str::to_owned)
}

fn refused(answer: &Answer, status: u16, says: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert!(answer.content_type.starts_with("text/html"), "{}", answer.content_type);
    assert!(answer.text.contains(says), "the page says {says:?}: {}", answer.text);
    assert!(answer.text.contains("Nothing was changed."), "{}", answer.text);
    // The callback's pages carry the settings page's security headers.
    let csp = answer.headers.get("content-security-policy").and_then(|value| value.to_str().ok()).unwrap_or_default();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp:?}");
    assert_eq!(answer.headers.get("x-frame-options").map(|value| value.as_bytes()), Some(&b"DENY"[..]));
}

fn location(answer: &Answer) -> Url {
    Url::parse(answer.headers["location"].to_str().expect("location")).expect("url")
}

#[tokio::test]
async fn a_tenant_connects_the_guild_chosen_on_discord_and_is_sent_back_with_the_outcome() {
    let f = flow().await;
    let link = f.start(&f.t.key_a, "https://club-a.example/discord?step=2").await;
    let query: std::collections::HashMap<String, String> = link.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], APPLICATION.to_string());
    assert_eq!(query["scope"], "bot applications.commands");
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["integration_type"], "0");
    assert_eq!(query["redirect_uri"], format!("https://{HOST}/connect/callback"));

    let back = f.callback(&f.authorize(&link, GUILD_A, None).await).await;
    assert_eq!(back.status, 303, "{}", back.text);
    let target = location(&back);
    assert_eq!(target.origin().ascii_serialization(), "https://club-a.example");
    let outcome: std::collections::HashMap<String, String> = target.query_pairs().into_owned().collect();
    assert_eq!(outcome["step"], "2", "the return URL's own query is kept");
    assert_eq!(outcome["guildbridge_connect"], "connected");
    assert_eq!(outcome["guild_id"], GUILD_A.to_string());
    assert!(!outcome.contains_key("missing_permissions"), "the link asked for what the features need");

    let tenant = f.tenant(&f.t.key_a).await;
    assert_eq!(tenant["guild"]["id"], GUILD_A.to_string());
    assert_eq!(tenant["guild"]["name"], "Club A Racing", "the name comes from Discord's token response");
    assert_eq!(tenant["guild"]["bot_present"], true);
    assert_eq!(tenant["permissions"]["missing"], json!([]));
    assert!(f.sandbox.with_world(|world| !world.guilds[&GUILD_A].bot_absent), "the bot is in the guild");
}

#[tokio::test]
async fn a_tampered_expired_or_replayed_state_is_refused_and_changes_nothing() {
    let f = flow().await;
    // Tampered: one character of the state changed.
    let link = f.start(&f.t.key_a, "https://club-a.example/").await;
    let callback = f.authorize(&link, GUILD_A, None).await;
    let state: String = Url::parse(&format!("https://x{callback}"))
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .expect("state")
        .1
        .into_owned();
    let mut forged = state.clone().into_bytes();
    forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
    let tampered = callback.replace(&state, std::str::from_utf8(&forged).expect("ascii"));
    refused(&f.callback(&tampered).await, 400, "not valid");
    // Another tenant's state signed with some other key does not open either.
    let foreign = StateKey::new(&[9; 32]).expect("key").seal("connect", b"{}");
    refused(&f.callback(&callback.replace(&state, &foreign)).await, 400, "not valid");
    assert_eq!(f.tenant(&f.t.key_a).await["guild"], Value::Null, "not connected");

    // Expired: the link is used after its 10 minutes.
    let link = f.start(&f.t.key_a, "https://club-a.example/").await;
    let late = f.authorize(&link, GUILD_A, None).await;
    f.t.clock.advance(601);
    refused(&f.callback(&late).await, 400, "expired");
    assert_eq!(f.tenant(&f.t.key_a).await["guild"], Value::Null, "not connected");

    // Replayed: the second use of a link that worked, and of its confirmation.
    let link = f.start(&f.t.key_a, "https://club-a.example/").await;
    let once = f.authorize(&link, GUILD_A, None).await;
    let review = f.review(&once).await;
    let token = confirm_token(&review).expect("the review page");
    assert_eq!(f.confirm(&token).await.status, 303);
    let before = f.tenant(&f.t.key_a).await;
    refused(&f.callback(&once).await, 409, "already used");
    refused(&f.confirm(&token).await, 409, "already used");
    // A confirmation made by anyone else does not open.
    refused(&f.confirm(&token.replacen('e', "f", 1)).await, 400, "not valid");
    assert_eq!(f.tenant(&f.t.key_a).await, before);
}

#[tokio::test]
async fn the_callback_names_the_tenant_and_connects_only_when_the_person_confirms() {
    let f = flow().await;
    let link = f.start(&f.t.key_a, "https://club-a.example/").await;
    let review = f.review(&f.authorize(&link, GUILD_A, None).await).await;
    assert_eq!(review.status, 200, "{}", review.text);
    assert!(
        review.text.contains("Club A Racing") && review.text.contains("<strong>club-a</strong>"),
        "{}",
        review.text
    );
    let csp = review.headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "the page cannot be framed to click Connect for them: {csp}");
    // Clicking a platform's link is not enough: nothing is connected until Connect.
    assert_eq!(f.tenant(&f.t.key_a).await["guild"], Value::Null);
    f.t.clock.advance(601);
    refused(&f.confirm(&confirm_token(&review).expect("form")).await, 400, "expired");
    assert_eq!(f.tenant(&f.t.key_a).await["guild"], Value::Null);
}

#[tokio::test]
async fn a_foreign_return_url_a_taken_guild_and_a_cancelled_authorization_are_refused() {
    let f = flow().await;
    for foreign in
        ["https://club-b.example/", "https://club-a.example.evil.test/", "http://club-a.example/", "/relative"]
    {
        let body = json!({ "return_url": foreign }).to_string();
        let answer =
            call_with(&f.t.router, Method::POST, "/v1/connect", Some(&f.t.key_a), Some(body), &[("host", HOST)]).await;
        assert_eq!(answer.status, 422, "{foreign}: {}", answer.text);
        assert!(answer.json()["errors"]["return_url"].is_string(), "{}", answer.text);
    }

    // A connects guild A; B then picks guild A too.
    let link = f.start(&f.t.key_a, "https://club-a.example/").await;
    assert_eq!(f.callback(&f.authorize(&link, GUILD_A, None).await).await.status, 303);
    let link = f.start(&f.t.key_b, "https://club-b.example/").await;
    let taken = f.callback(&f.authorize(&link, GUILD_A, None).await).await;
    refused(&taken, 409, "already connected to another platform");
    assert!(taken.text.contains("https://club-b.example/?guildbridge_connect=taken"), "{}", taken.text);
    assert_eq!(f.tenant(&f.t.key_b).await["guild"], Value::Null);
    assert_eq!(f.tenant(&f.t.key_a).await["guild"]["id"], GUILD_A.to_string(), "A keeps its guild");
    // A, connected, cannot start another connect.
    let body = json!({ "return_url": "https://club-a.example/" }).to_string();
    let again =
        call_with(&f.t.router, Method::POST, "/v1/connect", Some(&f.t.key_a), Some(body), &[("host", HOST)]).await;
    assert_eq!((again.status, again.json()["type"].clone()), (409, json!("urn:guildbridge:problem:already-connected")));

    // B presses Cancel on Discord's page.
    let link = f.start(&f.t.key_b, "https://club-b.example/").await;
    let cancelled = f.callback(&f.authorize(&link, GUILD_B, Some("deny")).await).await;
    refused(&cancelled, 403, "cancelled");
    assert_eq!(f.tenant(&f.t.key_b).await["guild"], Value::Null);
}

#[tokio::test]
async fn disconnecting_makes_the_bot_leave_and_frees_the_guild_for_another_tenant_that_finds_nothing_of_the_first() {
    let f = flow().await;
    let link = f.start(&f.t.key_a, "https://club-a.example/").await;
    assert_eq!(f.callback(&f.authorize(&link, GUILD_A, None).await).await.status, 303);
    // Club A's use of the guild: a private lead, a link, its settings.
    let lead = json!({ "name": "Acme lead" });
    let put = call(&f.t.router, Method::PUT, "/v1/subjects/lead/acme", Some(&f.t.key_a), Some(lead)).await;
    assert_eq!(put.status, 201, "{}", put.text);
    let link_body = json!({ "discord_user_id": OWNER.to_string() });
    let linked = call(&f.t.router, Method::PUT, "/v1/links/crm-user-1", Some(&f.t.key_a), Some(link_body)).await;
    assert!(linked.status < 300, "{}", linked.text);

    let gone = call(&f.t.router, Method::DELETE, "/v1/guild", Some(&f.t.key_a), None).await;
    assert_eq!(gone.status, 202, "{}", gone.text);
    let job_id = gone.json()["job"]["id"].as_str().expect("job").to_owned();
    assert_eq!(f.tenant(&f.t.key_a).await["guild"], Value::Null, "disconnected at once");

    // Club B, quick to connect the same guild, is told to wait: A's data is not gone yet.
    let link = f.start(&f.t.key_b, "https://club-b.example/").await;
    let early = f.callback(&f.authorize(&link, GUILD_A, None).await).await;
    refused(&early, 409, "still being deleted");
    assert_eq!(f.tenant(&f.t.key_b).await["guild"], Value::Null);

    let worker = ChannelWorker::new(
        f.t.backends.store.clone(),
        DiscordClient::new(f.sandbox.base_url().parse().expect("url"), BotToken::new(BOT_TOKEN)).expect("client"),
        Id::new(APPLICATION),
        StateKey::new(&[5; 32]).expect("key"),
    );
    let consumer = Consumer::new(&f.t.queue, QueueKind::Channel, &worker, f.t.backends.store.as_ref());
    consumer.work_one().await.expect("queue").expect("the leave job");
    assert!(f.sandbox.with_world(|world| world.guilds[&GUILD_A].bot_absent), "the bot left the guild");
    let record = f.t.backends.store.job_record(Id::new(GUILD_A), &job_id).await.expect("store").expect("record");
    assert_eq!(record.status.as_str(), "done");
    let result = record.result.expect("result");
    assert_eq!((result["left"].as_bool(), result["all_deleted"].as_bool()), (Some(true), Some(true)), "{result}");

    let link = f.start(&f.t.key_b, "https://club-b.example/").await;
    assert_eq!(f.callback(&f.authorize(&link, GUILD_A, None).await).await.status, 303, "the guild is free");
    assert_eq!(f.tenant(&f.t.key_b).await["guild"]["id"], GUILD_A.to_string());
    // Nothing of club A's: not its lead, its link, its members or dead letters.
    let lead = call(&f.t.router, Method::GET, "/v1/subjects/lead/acme", Some(&f.t.key_b), None).await;
    assert_eq!(lead.status, 404, "{}", lead.text);
    for path in ["/v1/subjects", "/v1/links", "/v1/channels", "/v1/members", "/v1/dead-letters"] {
        let answer = call(&f.t.router, Method::GET, path, Some(&f.t.key_b), None).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
        let items = &answer.json()["items"];
        assert_eq!(items.as_array().map(Vec::len), Some(0), "{path}: {}", answer.text);
    }
}

#[tokio::test]
async fn a_forged_permissions_parameter_on_the_callback_is_ignored_for_what_discord_says() {
    let f = flow().await;
    let link = f.start(&f.t.key_a, "https://club-a.example/").await;
    // The person grants less than asked on Discord's page: only View Channel and Send Messages.
    let mut granted_less = link.clone();
    granted_less.query_pairs_mut().clear();
    for (name, value) in link.query_pairs() {
        let value = if name == "permissions" { ((1u64 << 10) | (1 << 11)).to_string() } else { value.into_owned() };
        granted_less.query_pairs_mut().append_pair(&name, &value);
    }
    let callback = f.authorize(&granted_less, GUILD_A, None).await;
    // ... and edits the callback's query to claim Administrator.
    let forged = callback.replace(&format!("permissions={}", (1u64 << 10) | (1 << 11)), "permissions=8");
    assert_ne!(forged, callback, "the callback carried the permissions parameter");
    assert_eq!(f.callback(&forged).await.status, 303);
    let tenant = f.tenant(&f.t.key_a).await;
    let granted: Vec<&str> =
        tenant["permissions"]["granted"].as_array().expect("granted").iter().filter_map(Value::as_str).collect();
    assert!(!granted.contains(&"ADMINISTRATOR"), "{granted:?}");
    let missing: Vec<&str> =
        tenant["permissions"]["missing"].as_array().expect("missing").iter().filter_map(Value::as_str).collect();
    assert!(missing.contains(&"MANAGE_CHANNELS") && missing.contains(&"MANAGE_ROLES"), "{missing:?}");
}

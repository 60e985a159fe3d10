//! The settings page over HTTP (its router, in process, on the embedded store), with the
//! sandbox playing Discord's login: signing in with PKCE, the guild picker, access re-checked
//! after the cache, the settings form (errors, conflicts, audit), CSRF and Origin refusals,
//! open redirects, logout, connecting a standalone guild, and every guild route refused to
//! someone who does not manage that guild.

use std::{collections::HashMap, path::PathBuf, sync::Arc};

use axum::{
    Router,
    body::Body,
    http::{Method, Request},
};
use discord_sandbox::{GuildSeed, RateLimits, Sandbox, SandboxConfig, demo};
use guildbridge_core::{
    clock::ManualClock,
    discord::rest::{BotToken, DiscordClient},
    domain::{GuildSettings, TenantId},
};
use guildbridge_host::wiring::Backends;
use guildbridge_web::pages::{self, CookiePolicy, LoginClient, Pages, Pickers};
use tower::ServiceExt;
use twilight_model::id::Id;
use url::Url;

use super::tenant_api::{APPLICATION, CLIENT_SECRET, GUILD_A, GUILD_B, HOST, api_router, connector};

use super::tenant_api::BOT_TOKEN;
const ORIGIN: &str = "https://web.guildbridge.test";
const OWNER_B: u64 = 1_200_000_000_000_020_000;

pub(super) struct Site {
    pub(super) sandbox: Sandbox,
    pub(super) backends: Backends,
    pub(super) clock: ManualClock,
    pub(super) router: Router,
    pub(super) http: reqwest::Client,
}

pub(super) async fn site() -> Site {
    let openapi = std::env::var_os("DISCORD_OPENAPI_PATH").map(PathBuf::from);
    let sandbox =
        Sandbox::start(SandboxConfig::new(BOT_TOKEN, openapi, RateLimits::generous()), ([127, 0, 0, 1], 0).into())
            .await
            .expect("sandbox");
    for (id, name, owner) in
        [(GUILD_A, "Club A Racing", 1_200_000_000_000_010_000), (GUILD_B, "Club B Racing", OWNER_B)]
    {
        sandbox.seed_guild(GuildSeed {
            id,
            name: name.to_owned(),
            bot_permissions: 1 << 3,
            roles: vec![(id + 400, "Member".to_owned())],
            members: 2,
            first_member_id: owner,
            bot_every: None,
        });
    }
    sandbox.seed_demo_people(GUILD_A);
    let (backends, _queue) = Backends::in_memory().expect("backends");
    let store = backends.store.as_ref();
    for (tenant, guild) in [("club-a", GUILD_A), ("club-b", GUILD_B)] {
        let tenant_id = TenantId::from(tenant);
        let record =
            guildbridge_core::domain::Tenant { tenant_id: tenant_id.clone(), allowed_origins: vec![], created_at: 1 };
        store.create_tenant(&record).await.expect("tenant");
        store.connect(&tenant_id, Id::new(guild), "Club", 1).await.expect("connect");
    }
    let clock = ManualClock::starting_at(1_800_000_000);
    let base = Url::parse(&sandbox.base_url()).expect("base");
    let connect = connector(&sandbox.base_url());
    let login = LoginClient::new(
        Id::new(APPLICATION),
        CLIENT_SECRET,
        &Url::parse(&format!("{}/oauth2/authorize", sandbox.base_url())).expect("url"),
        &base,
        DiscordClient::new(base.clone(), BotToken::new("")).expect("client"),
    )
    .expect("login client");
    let pages_router = pages::router(Pages {
        store: backends.store.clone(),
        queue: backends.queue.clone(),
        clock: Arc::new(clock.clone()),
        login,
        connect,
        bot: DiscordClient::new(base, BotToken::new(BOT_TOKEN)).expect("bot"),
        pickers: Pickers::new(Id::new(APPLICATION)),
        cookies: CookiePolicy::for_site(None),
        webhook_targets: guildbridge_core::domain::TargetPolicy { allow_loopback: true },
    });
    let api_router = api_router(
        &backends,
        Arc::new(clock.clone()),
        &sandbox.base_url(),
        guildbridge_core::domain::TargetPolicy { allow_loopback: true },
    );
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    Site { sandbox, backends, clock, router: api_router.merge(pages_router), http }
}

#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: axum::http::HeaderMap,
    pub(super) text: String,
}

impl Answer {
    pub(super) fn location(&self) -> String {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }

    /// The page's CSRF token (every form carries it).
    pub(super) fn csrf(&self) -> String {
        let at = self.text.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
        self.text[at..].split('"').next().unwrap_or_default().to_owned()
    }
}

/// A browser: its cookie jar, and requests to the site.
#[derive(Default, Clone)]
pub(super) struct Browser {
    pub(super) cookies: HashMap<String, String>,
}

impl Browser {
    pub(super) async fn send(
        &mut self,
        site: &Site,
        method: Method,
        path: &str,
        form: Option<String>,
        origin: Option<&str>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path).header("host", HOST);
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header("cookie", jar.join("; "));
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if form.is_some() {
            request = request.header("content-type", "application/x-www-form-urlencoded");
        }
        let request = request.body(form.map(Body::from).unwrap_or_else(Body::empty)).expect("request");
        let response = site.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for set in headers.get_all("set-cookie") {
            let line = set.to_str().expect("ascii");
            let (pair, attributes) = line.split_once(';').unwrap_or((line, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        Answer { status, headers, text: String::from_utf8_lossy(&bytes).into_owned() }
    }

    pub(super) async fn get(&mut self, site: &Site, path: &str) -> Answer {
        self.send(site, Method::GET, path, None, None).await
    }

    pub(super) async fn post(&mut self, site: &Site, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.post_from(site, path, fields, Some(ORIGIN)).await
    }

    pub(super) async fn post_from(
        &mut self,
        site: &Site,
        path: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Answer {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in fields {
            form.append_pair(name, value);
        }
        self.send(site, Method::POST, path, Some(form.finish()), origin).await
    }

    /// Logs in as `user` through the sandbox's login page; the site's answer to the callback.
    pub(super) async fn login(&mut self, site: &Site, user: u64, next: &str) -> Answer {
        let start = self.get(site, &format!("/settings/login?next={}", urlencode(next))).await;
        assert_eq!(start.status, 303, "{}", start.text);
        let authorize = Url::parse(&start.location()).expect("authorize url");
        let query: HashMap<String, String> = authorize.query_pairs().into_owned().collect();
        assert_eq!(query["code_challenge_method"], "S256");
        assert_eq!(query["scope"], "identify guilds");
        // The sandbox first asks who logs in.
        let chooser = site.http.get(authorize.clone()).send().await.expect("sandbox");
        assert!(chooser.text().await.expect("page").contains("Log in as demo-admin"));
        let mut chosen = authorize;
        chosen.query_pairs_mut().append_pair("user_id", &user.to_string());
        let back = site.http.get(chosen).send().await.expect("sandbox");
        assert_eq!(back.status().as_u16(), 303);
        let back = Url::parse(back.headers()["location"].to_str().expect("location")).expect("callback");
        assert_eq!(back.host_str(), Some(HOST));
        self.get(site, &format!("{}?{}", back.path(), back.query().unwrap_or_default())).await
    }
}

fn unescape(html: &str) -> String {
    html.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
}

pub(super) fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub(super) fn settings_path(guild: u64) -> String {
    format!("/settings/guilds/{guild}")
}

/// The settings form's fields as a browser would submit them, with `changes` applied.
pub(super) fn form_of(page: &Answer, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let form_tags = ["input", "select", "textarea"];
    for tag in page.text.split('<').filter(|tag| form_tags.iter().any(|form_tag| tag.starts_with(form_tag))) {
        let attribute = |name: &str| {
            let key = format!(" {name}=\"");
            tag.find(&key).map(|at| tag[at + key.len()..].split('"').next().unwrap_or_default().to_owned())
        };
        let Some(name) = attribute("name") else { continue };
        if tag.starts_with("textarea") {
            let content = tag.split_once('>').map(|(_, content)| content).unwrap_or_default();
            fields.push((name, unescape(content)));
        } else if tag.starts_with("select") {
            let rest = &page.text[page.text.find(tag).unwrap_or(0)..];
            let select = &rest[..rest.find("</select>").unwrap_or(rest.len())];
            let chosen = select
                .split("<option")
                .find(|option| option.contains(" selected"))
                .and_then(|option| option.split("value=\"").nth(1))
                .and_then(|value| value.split('"').next())
                .unwrap_or_default();
            fields.push((name, chosen.to_owned()));
        } else if tag.contains("type=\"checkbox\"") {
            if tag.contains(" checked") {
                fields.push((name, "on".to_owned()));
            }
        } else {
            fields.push((name, attribute("value").unwrap_or_default()));
        }
    }
    for (name, value) in changes {
        fields.retain(|(field, _)| field != name);
        fields.push(((*name).to_owned(), (*value).to_owned()));
    }
    fields
}

pub(super) async fn submit(
    browser: &mut Browser,
    site: &Site,
    page: &Answer,
    path: &str,
    changes: &[(&str, &str)],
) -> Answer {
    let fields = form_of(page, changes);
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    browser.post(site, path, &borrowed).await
}

pub(super) async fn stored(site: &Site, guild: u64) -> (GuildSettings, u64) {
    let current = site.backends.store.settings(Id::new(guild)).await.expect("settings");
    (current.settings, current.version)
}

#[tokio::test]
async fn an_admin_logs_in_with_pkce_and_sees_the_guild_marked_connected() {
    let site = site().await;
    let mut browser = Browser::default();
    let home = browser.get(&site, "/settings").await;
    assert!(home.text.contains("Log in with Discord"), "{}", home.text);
    let landed = browser.login(&site, demo::ADMIN, "/settings").await;
    assert_eq!((landed.status, landed.location().as_str()), (303, "/settings"));
    assert!(browser.cookies.contains_key("__Host-gb_session"), "{:?}", browser.cookies);
    assert!(!browser.cookies.contains_key("__Host-gb_login"), "the pre-login cookie is spent");
    let picker = browser.get(&site, "/settings").await;
    assert!(picker.text.contains("Club A Racing"), "{}", picker.text);
    assert!(picker.text.contains("connected"));
    assert!(!picker.text.contains("Club B Racing"), "a guild the admin does not manage is not listed");
    let page = browser.get(&site, &settings_path(GUILD_A)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let csp = page.headers["content-security-policy"].to_str().expect("csp");
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    for header in ["strict-transport-security", "x-content-type-options", "referrer-policy"] {
        assert!(page.headers.contains_key(header), "{header} missing");
    }
    assert!(!page.text.contains("<script>"), "no inline script");
    // The pickers come from the guild through the bot.
    assert!(page.text.contains(">Member</option>"), "{}", page.text);
}

#[tokio::test]
async fn an_invalid_pattern_is_refused_beside_its_field_then_fixed_saved_and_audited() {
    let site = site().await;
    let mut browser = Browser::default();
    browser.login(&site, demo::ADMIN, "/settings").await;
    let page = browser.get(&site, &settings_path(GUILD_A)).await;
    let refused =
        submit(&mut browser, &site, &page, &settings_path(GUILD_A), &[("naming_pattern", "{track} night")]).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    let field = &refused.text[refused.text.find("id=\"naming_pattern\"").expect("field")..];
    let beside = &field[..field.find("</div>").expect("end of field")];
    assert!(beside.contains("class=\"error\""), "the error sits in the field's block: {beside}");
    assert!(refused.text.contains("value=\"{track} night\""), "the entered value is kept");
    assert_eq!(stored(&site, GUILD_A).await, (GuildSettings::default(), 0), "nothing saved");

    let saved = submit(
        &mut browser,
        &site,
        &refused,
        &settings_path(GUILD_A),
        &[("naming_pattern", "{series_name} {event_name}")],
    )
    .await;
    assert_eq!(
        (saved.status, saved.location()),
        (303, format!("{}?saved=1", settings_path(GUILD_A))),
        "{}",
        saved.text
    );
    let (settings, version) = stored(&site, GUILD_A).await;
    assert_eq!((settings.naming_pattern.as_str(), version), ("{series_name} {event_name}", 1));
    let after = browser.get(&site, &saved.location()).await;
    assert!(after.text.contains("Saved."));
    assert!(after.text.contains("Sample channel: #gt3-sprint-spa-6-hours"), "{}", after.text);
    let audit = &after.text[after.text.find("audit-title").expect("audit")..];
    assert!(audit.contains("demo-admin") && audit.contains("Channel name pattern"), "the field's label: {audit}");
    assert!(!audit.contains("naming_pattern"), "not its raw name: {audit}");
    assert!(audit.contains("{event_name}"), "from what: {audit}");
}

#[tokio::test]
async fn a_stale_second_tab_sees_the_conflict_with_their_values_and_keeps_its_own() {
    let site = site().await;
    let mut browser = Browser::default();
    browser.login(&site, demo::ADMIN, "/settings").await;
    let first_tab = browser.get(&site, &settings_path(GUILD_A)).await;
    let second_tab = browser.get(&site, &settings_path(GUILD_A)).await;
    let saved =
        submit(&mut browser, &site, &first_tab, &settings_path(GUILD_A), &[("sync_interval_hours", "12")]).await;
    assert_eq!(saved.status, 303, "{}", saved.text);
    let stale =
        submit(&mut browser, &site, &second_tab, &settings_path(GUILD_A), &[("sync_interval_hours", "48")]).await;
    assert_eq!(stale.status, 409, "{}", stale.text);
    assert!(stale.text.contains("Someone saved these settings"));
    let theirs = &stale.text[stale.text.find("theirs-title").expect("their values")..];
    assert!(theirs.contains("Sync every (hours)") && theirs.contains("12"), "the field's label: {theirs}");
    let marked = stale.text.find("id=\"sync_interval_hours-theirs\"").expect("the field is marked");
    assert!(
        stale.text[marked..]
            .starts_with("id=\"sync_interval_hours-theirs\">Saved meanwhile by someone else: <strong>12</strong>")
    );
    assert_eq!(stale.text.matches("-theirs\"").count(), 1, "only the field that differs");
    assert!(stale.text.contains("value=\"48\""), "yours are kept to reapply");
    assert_eq!(stored(&site, GUILD_A).await.0.sync_interval_hours, 12, "theirs stand");
    // Saving the kept form again applies yours, knowingly.
    let again = submit(&mut browser, &site, &stale, &settings_path(GUILD_A), &[]).await;
    assert_eq!(again.status, 303, "{}", again.text);
    assert_eq!(
        stored(&site, GUILD_A).await,
        (GuildSettings { sync_interval_hours: 48, ..GuildSettings::default() }, 2)
    );
}

#[tokio::test]
async fn a_member_without_manage_server_sees_no_guild_and_gets_403() {
    let site = site().await;
    let mut browser = Browser::default();
    browser.login(&site, demo::MEMBER, "/settings").await;
    let picker = browser.get(&site, "/settings").await;
    assert!(picker.text.contains("Discord lists no server"), "{}", picker.text);
    let page = browser.get(&site, &settings_path(GUILD_A)).await;
    assert_eq!(page.status, 403, "{}", page.text);
}

#[tokio::test]
async fn a_revoked_admin_loses_access_once_the_cache_runs_out() {
    let site = site().await;
    let mut browser = Browser::default();
    browser.login(&site, demo::ADMIN, "/settings").await;
    assert_eq!(browser.get(&site, &settings_path(GUILD_A)).await.status, 200);
    assert!(site.sandbox.set_member_permissions(GUILD_A, demo::ADMIN, 0));
    site.clock.advance(61);
    let page = browser.get(&site, &settings_path(GUILD_A)).await;
    assert_eq!(page.status, 403, "{}", page.text);
    let page = browser.get(&site, "/settings").await;
    assert!(!page.text.contains("Club A Racing"));
}

#[tokio::test]
async fn posts_without_the_csrf_token_or_from_another_origin_change_nothing() {
    let site = site().await;
    let mut browser = Browser::default();
    browser.login(&site, demo::ADMIN, "/settings").await;
    let page = browser.get(&site, &settings_path(GUILD_A)).await;
    let mut fields = form_of(&page, &[("sync_interval_hours", "5")]);
    let with_token: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    for origin in [Some("https://evil.example"), None] {
        let refused = browser.post_from(&site, &settings_path(GUILD_A), &with_token, origin).await;
        assert_eq!(refused.status, 403, "{origin:?}: {}", refused.text);
    }
    fields.retain(|(name, _)| name != "csrf");
    let without: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(browser.post(&site, &settings_path(GUILD_A), &without).await.status, 403);
    let wrong: Vec<(&str, &str)> = without.iter().copied().chain([("csrf", "forged")]).collect();
    assert_eq!(browser.post(&site, &settings_path(GUILD_A), &wrong).await.status, 403);
    assert_eq!(stored(&site, GUILD_A).await.1, 0);
}

#[tokio::test]
async fn next_pointing_off_site_lands_on_the_settings_page() {
    let site = site().await;
    for next in ["//evil.example", "https://evil.example/", "/\\evil.example"] {
        let mut browser = Browser::default();
        let landed = browser.login(&site, demo::ADMIN, next).await;
        assert_eq!((landed.status, landed.location().as_str()), (303, "/settings"), "{next}");
    }
    let mut browser = Browser::default();
    let landed = browser.login(&site, demo::ADMIN, &settings_path(GUILD_A)).await;
    assert_eq!(landed.location(), settings_path(GUILD_A), "a path on the site is honoured");
}

#[tokio::test]
async fn a_callback_in_another_browser_or_a_replay_is_refused() {
    let site = site().await;
    let mut starter = Browser::default();
    let start = starter.get(&site, "/settings/login").await;
    let mut chosen = Url::parse(&start.location()).expect("url");
    chosen.query_pairs_mut().append_pair("user_id", &demo::ADMIN.to_string());
    let back = site.http.get(chosen).send().await.expect("sandbox");
    let back = Url::parse(back.headers()["location"].to_str().expect("location")).expect("url");
    let callback = format!("{}?{}", back.path(), back.query().unwrap_or_default());
    let mut other = Browser::default();
    assert_eq!(other.get(&site, &callback).await.status, 400, "no pre-login cookie");
    assert!(!other.cookies.keys().any(|name| name.contains("session")));
    assert_eq!(starter.get(&site, &callback).await.status, 303);
    let mut replay = Browser {
        cookies: HashMap::from([(
            "__Host-gb_login".to_owned(),
            back.query_pairs().find(|(k, _)| k == "state").expect("state").1.into_owned(),
        )]),
    };
    assert_eq!(replay.get(&site, &callback).await.status, 400, "the state is spent");
}

#[tokio::test]
async fn logout_ends_the_session_and_revokes_the_discord_token() {
    let site = site().await;
    let mut browser = Browser::default();
    browser.login(&site, demo::ADMIN, "/settings").await;
    let page = browser.get(&site, "/settings").await;
    let old = browser.clone();
    let out = browser.post(&site, "/settings/logout", &[("csrf", &page.csrf())]).await;
    assert_eq!((out.status, out.location().as_str()), (303, "/settings"));
    assert!(!browser.cookies.contains_key("__Host-gb_session"));
    let mut old = old;
    let after = old.get(&site, "/settings").await;
    assert!(after.text.contains("Log in with Discord"), "the old cookie gets the login page");
    assert_eq!(old.get(&site, &settings_path(GUILD_A)).await.status, 303, "and guild pages send it to log in");
    let tokens =
        site.sandbox.with_world(|world| world.access_tokens.values().filter(|user| **user == demo::ADMIN).count());
    assert_eq!(tokens, 0, "the Discord token is revoked");
}

#[tokio::test]
async fn every_guild_route_refuses_someone_who_does_not_manage_that_guild() {
    let site = site().await;
    let mut browser = Browser::default();
    browser.login(&site, demo::ADMIN, "/settings").await;
    let csrf = browser.get(&site, "/settings").await.csrf();
    let base = settings_path(GUILD_B);
    for path in ["", "/messages", "/channels", "/sync", "/dead-letters", "/keys", "/webhook"] {
        let page = browser.get(&site, &format!("{base}{path}")).await;
        assert_eq!(page.status, 403, "GET {path}: {}", page.text);
    }
    for path in [
        "",
        "/messages",
        "/channels/retry",
        "/channels/archive",
        "/sync",
        "/dead-letters/retry",
        "/keys",
        "/keys/revoke",
        "/webhook",
    ] {
        let answer = browser
            .post(&site, &format!("{base}{path}"), &[("csrf", &csrf), ("subject", "event:1"), ("reason", "x")])
            .await;
        assert_eq!(answer.status, 403, "POST {path}: {}", answer.text);
    }
    assert!(site.backends.store.api_keys(&TenantId::from("club-b")).await.expect("keys").is_empty());
    assert!(site.backends.store.webhook(&TenantId::from("club-b")).await.expect("webhook").is_none());
    assert_eq!(stored(&site, GUILD_B).await.1, 0);
}

#[tokio::test]
async fn an_unconnected_guild_is_added_as_its_own_tenant_from_the_page() {
    let site = site().await;
    let mut browser = Browser::default();
    browser.login(&site, demo::OTHER_ADMIN, "/settings").await;
    let picker = browser.get(&site, "/settings").await;
    assert!(picker.text.contains("Second Demo") && picker.text.contains("not connected"), "{}", picker.text);
    let page = browser.get(&site, &settings_path(demo::SECOND_GUILD)).await;
    assert!(page.text.contains("Add Guildbridge"), "{}", page.text);
    // The permissions it asks for, as Discord's own screens name them.
    assert!(
        page.text.contains("<li>Manage Channels</li>") && page.text.contains("<li>View Channels</li>"),
        "{}",
        page.text
    );
    assert!(!page.text.contains("MANAGE_CHANNELS"), "no raw constants: {}", page.text);
    // Only what applies to a guild not connected yet: no Channels, Sync or API keys tabs.
    let tabs = &page.text[page.text.find("class=\"tabs\"").expect("tabs")..];
    let tabs = &tabs[..tabs.find("</nav>").expect("end of tabs")];
    assert_eq!(tabs.matches("<a ").count(), 1, "{tabs}");
    assert!(!tabs.contains("/channels") && !tabs.contains("/keys"), "{tabs}");
    let at = page.text.find("class=\"button\" href=\"").expect("link") + 21;
    let link = unescape(page.text[at..].split('"').next().expect("href"));
    let link = Url::parse(&link).expect("authorize link");
    let query: HashMap<String, String> = link.query_pairs().into_owned().collect();
    assert_eq!(query["guild_id"], demo::SECOND_GUILD.to_string());
    assert_eq!(query["disable_guild_select"], "true");
    let mut authorized = link.clone();
    authorized.query_pairs_mut().append_pair("user_id", &demo::OTHER_ADMIN.to_string());
    let back = site.http.get(authorized).send().await.expect("sandbox");
    let back = Url::parse(back.headers()["location"].to_str().expect("location")).expect("url");
    let review = browser.get(&site, &format!("{}?{}", back.path(), back.query().unwrap_or_default())).await;
    assert!(review.text.contains("its own Guildbridge settings"), "{}", review.text);
    let needle = "name=\"confirm\" value=\"";
    let at = review.text.find(needle).expect("the Connect form") + needle.len();
    let token = review.text[at..].split('"').next().expect("token").to_owned();
    let done = browser.post(&site, back.path(), &[("confirm", &token)]).await;
    assert_eq!(done.status, 303, "{}", done.text);
    assert!(
        done.location().starts_with(&format!("{ORIGIN}{}", settings_path(demo::SECOND_GUILD))),
        "{}",
        done.location()
    );
    let tenant = site.backends.store.tenant_of(Id::new(demo::SECOND_GUILD)).await.expect("store");
    assert_eq!(tenant, Some(TenantId::from(format!("guild-{}", demo::SECOND_GUILD).as_str())));
    let settings = browser.get(&site, &settings_path(demo::SECOND_GUILD)).await;
    assert!(settings.text.contains("Save settings"), "{}", settings.text);
}

/// Guild A as a standalone tenant (connected from the page, no platform behind it), as
/// Add Guildbridge leaves it: its admins manage its keys and webhook.
pub(super) async fn standalone_a(site: &Site) {
    let store = site.backends.store.as_ref();
    store.disconnect(&TenantId::from("club-a")).await.expect("disconnect the platform");
    // What the leave job does next: the platform's data is deleted, and the guild is free.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let forgotten = guildbridge_core::forget::forget_guild(store, Id::new(GUILD_A), deadline).await;
    assert_eq!(forgotten.map(|report| report.finished), Ok(1));
    let tenant_id = TenantId::standalone(Id::new(GUILD_A));
    let record =
        guildbridge_core::domain::Tenant { tenant_id: tenant_id.clone(), allowed_origins: vec![], created_at: 1 };
    store.create_tenant(&record).await.expect("tenant");
    store.connect(&tenant_id, Id::new(GUILD_A), "Club", 1).await.expect("connect");
}

#[tokio::test]
async fn a_moderator_of_a_platform_tenants_guild_sees_its_credentials_but_cannot_mint_keys_or_move_its_webhook() {
    let site = site().await;
    let platform = TenantId::from("club-a");
    let store = site.backends.store.as_ref();
    let platform_key = store.issue_api_key(&platform, 1).await.expect("the platform's key");
    let mut browser = Browser::default();
    browser.login(&site, demo::ADMIN, "/settings").await;

    let keys_path = format!("{}/keys", settings_path(GUILD_A));
    let keys = browser.get(&site, &keys_path).await;
    assert_eq!(keys.status, 200, "{}", keys.text);
    assert!(keys.text.contains("id=\"platform-owned\""), "shown read-only: {}", keys.text);
    assert!(keys.text.contains(&platform_key.record.key_id), "the keys' status is there");
    assert!(!keys.text.contains("Create a key") && !keys.text.contains("name=\"key_id\""), "no way to change them");
    let minted = browser.post(&site, &keys_path, &[("csrf", &keys.csrf())]).await;
    assert_eq!(minted.status, 403, "{}", minted.text);
    assert!(!minted.text.contains("gbk_"), "no key shown");
    assert_eq!(store.api_keys(&platform).await.expect("keys").len(), 1, "no key was made");
    let revoke = [("csrf", keys.csrf()), ("key_id", platform_key.record.key_id.to_string())];
    let revoke: Vec<(&str, &str)> = revoke.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let revoked = browser.post(&site, &format!("{keys_path}/revoke"), &revoke).await;
    assert_eq!(revoked.status, 403, "{}", revoked.text);
    let still = store.tenant_for_key(&platform_key.secret, 1).await.expect("read").map(|(tenant, _)| tenant);
    assert_eq!(still, Some(platform.clone()), "still works");

    let webhook_path = format!("{}/webhook", settings_path(GUILD_A));
    let webhook = browser.get(&site, &webhook_path).await;
    assert_eq!(webhook.status, 200, "{}", webhook.text);
    assert!(webhook.text.contains("id=\"platform-owned\""), "{}", webhook.text);
    assert!(!webhook.text.contains("Save endpoint"), "no form to move it");
    for action in ["save", "rotate", "resume", "test"] {
        let fields = [
            ("csrf", webhook.csrf()),
            ("action", action.to_owned()),
            ("url", "https://moderator.example/steal".to_owned()),
            ("event.message.received", "on".to_owned()),
        ];
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let moved = browser.post(&site, &webhook_path, &fields).await;
        assert_eq!(moved.status, 403, "{action}: {}", moved.text);
    }
    assert!(store.webhook(&platform).await.expect("read").is_none(), "the endpoint was never set");
}

#[tokio::test]
async fn an_api_key_made_on_the_page_works_on_the_tenant_api_until_revoked() {
    let site = site().await;
    standalone_a(&site).await;
    let mut browser = Browser::default();
    browser.login(&site, demo::ADMIN, "/settings").await;
    let keys = browser.get(&site, &format!("{}/keys", settings_path(GUILD_A))).await;
    let made = browser.post(&site, &format!("{}/keys", settings_path(GUILD_A)), &[("csrf", &keys.csrf())]).await;
    assert_eq!(made.status, 200, "{}", made.text);
    let marker = "id=\"new-key\" readonly value=\"";
    let at = made.text.find(marker).expect("the key, once") + marker.len();
    let secret = made.text[at..].split('"').next().expect("secret").to_owned();
    let tenant = |secret: String| {
        let router = site.router.clone();
        async move {
            let request =
                Request::get("/v1/tenant").header("authorization", format!("Bearer {secret}")).body(Body::empty());
            router.oneshot(request.expect("request")).await.expect("infallible").status().as_u16()
        }
    };
    assert_eq!(tenant(secret.clone()).await, 200);
    let listed = browser.get(&site, &format!("{}/keys", settings_path(GUILD_A))).await;
    assert!(!listed.text.contains(&secret), "shown once only");
    let key_id = &listed.text[listed.text.find("name=\"key_id\" value=\"").expect("revoke form") + 21..];
    let key_id = key_id.split('"').next().expect("id").to_owned();
    let revoked = browser
        .post(
            &site,
            &format!("{}/keys/revoke", settings_path(GUILD_A)),
            &[("csrf", &listed.csrf()), ("key_id", &key_id)],
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert_eq!(tenant(secret).await, 401);
}

#[tokio::test]
async fn the_page_reports_a_missing_message_content_intent_and_a_paused_webhook() {
    let site = site().await;
    let mut browser = Browser::default();
    browser.login(&site, demo::ADMIN, "/settings").await;
    let page = browser.get(&site, &settings_path(GUILD_A)).await;
    assert!(!page.text.contains("intent-missing"), "nothing to report yet");
    assert!(page.text.contains("No endpoint"));
    let store = site.backends.store.as_ref();
    store
        .record_intents(guildbridge_core::store::IntentStatus { message_content: false, checked_at: 1 })
        .await
        .expect("intents");
    let endpoint = guildbridge_core::domain::WebhookEndpoint {
        tenant_id: TenantId::from("club-a"),
        url: "https://crm.example/hooks".to_owned(),
        events: vec![guildbridge_core::domain::EventType::MessageReceived],
        secret: guildbridge_core::domain::SigningSecret::from_bytes(&[9; 32]),
        previous_secret: None,
        previous_until: None,
        paused: Some(guildbridge_core::domain::Pause {
            reason: "gave up after 8 attempts: answered 503".into(),
            at: 1,
        }),
        updated_at: 1,
        version: 0,
    };
    store.put_webhook(&endpoint).await.expect("endpoint");
    let page = browser.get(&site, &settings_path(GUILD_A)).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("id=\"intent-missing\""), "the missing intent is named");
    let text = unescape(&page.text);
    assert!(text.contains("https://crm.example/hooks") && text.contains("message.received"));
    assert!(text.contains("Paused") && text.contains("gave up after 8 attempts"), "the pause and its reason");
    assert!(!text.contains(endpoint.secret.expose()), "the secret never reaches the page");
}

#[tokio::test]
async fn an_admin_sets_the_webhook_on_the_page_sees_the_secret_once_and_a_bad_url_beside_its_field() {
    let site = site().await;
    standalone_a(&site).await;
    let mut browser = Browser::default();
    browser.login(&site, demo::ADMIN, "/settings").await;
    let path = format!("{}/webhook", settings_path(GUILD_A));
    let page = browser.get(&site, &path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let csrf = page.csrf();
    let refused = browser
        .post(
            &site,
            &path,
            &[("csrf", &csrf), ("action", "save"), ("url", "ftp://crm.example/"), ("event.message.received", "on")],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text.contains("id=\"url-error\""), "the error beside the URL");
    assert!(refused.text.contains("value=\"ftp://crm.example/\""), "the entered value is kept");
    let tenant = TenantId::standalone(Id::new(GUILD_A));
    assert!(site.backends.store.webhook(&tenant).await.expect("read").is_none(), "nothing saved");

    let saved = browser
        .post(
            &site,
            &path,
            &[
                ("csrf", &csrf),
                ("action", "save"),
                ("url", "https://crm.example/hooks"),
                ("event.message.received", "on"),
                ("event.sync.finished", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    let stored = site.backends.store.webhook(&tenant).await.expect("read").expect("saved");
    assert!(saved.text.contains(stored.secret.expose()), "the new secret is shown once");
    assert_eq!(stored.events.len(), 2);
    let again = browser.get(&site, &path).await;
    assert!(!again.text.contains(stored.secret.expose()), "and not again");
    assert!(again.text.contains("name=\"event.sync.finished\" checked"));

    let rotated = browser.post(&site, &path, &[("csrf", &csrf), ("action", "rotate")]).await;
    let now = site.backends.store.webhook(&tenant).await.expect("read").expect("kept");
    assert_ne!(now.secret, stored.secret);
    assert!(rotated.text.contains(now.secret.expose()));
    assert_eq!(now.previous_secret.as_ref(), Some(&stored.secret), "the old secret co-signs for a while");
    let tested = browser.post(&site, &path, &[("csrf", &csrf), ("action", "test")]).await;
    assert_eq!(tested.status, 200, "{}", tested.text);
}

fn messages_path(guild: u64) -> String {
    format!("/settings/guilds/{guild}/messages")
}

/// The text inside the template editor `key` (its fieldset) of a Messages page.
fn editor<'a>(page: &'a Answer, key: &str) -> &'a str {
    let start = page.text.find(&format!("id=\"{key}\" aria-describedby"));
    let from = &page.text[start.unwrap_or_else(|| panic!("no editor {key}: {}", page.text))..];
    &from[..from.find("</fieldset>").unwrap_or(from.len())]
}

#[tokio::test]
async fn the_messages_tab_previews_refuses_broken_templates_by_name_and_saves_good_ones() {
    let site = site().await;
    let mut browser = Browser::default();
    browser.login(&site, demo::ADMIN, "/settings").await;
    let path = messages_path(GUILD_A);
    let page = browser.get(&site, &path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    // The default results template, previewed with sample values, and its size at its longest.
    let results = editor(&page, "results");
    assert!(results.contains("Results: Spa 6 Hours") && results.contains("sample winner"), "{results}");
    assert!(results.contains("embed: 315 of 6000 characters at its longest"), "{results}");

    let too_long = format!("{} {{signup_url}}", "x".repeat(1900));
    let broken = [
        ("action", "save"),
        ("reminder1.minutes", "1440"),
        ("reminder1.content", "{name} on {track}"),
        ("start.content", too_long.as_str()),
        ("start.color", "blue"),
    ];
    let refused = submit(&mut browser, &site, &page, &path, &broken).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text.contains("Nothing was saved"));
    let reminder = editor(&refused, "reminder1");
    assert!(reminder.contains("unknown placeholder {track}") && reminder.contains("{offset}"), "{reminder}");
    assert!(reminder.contains("{name} on {track}"), "the entered text is kept: {reminder}");
    let start = editor(&refused, "start");
    assert!(start.contains("2413 characters at its longest; Discord allows 2000"), "{start}");
    assert!(start.contains("is not #RRGGBB"), "{start}");
    assert!(!editor(&refused, "board").contains("class=\"error\""), "the board has no problem");
    assert_eq!(stored(&site, GUILD_A).await, (GuildSettings::default(), 0), "nothing saved");

    // Long texts make a form far larger than the other pages' (percent-encoded, too).
    let (accents, long_description) = ("\u{e9}".repeat(2000), "d".repeat(4000));
    let good = [
        ("reminder1.minutes", "1440"),
        ("reminder1.content", "{name} starts {starts_in}: {offset} to go"),
        ("start.content", accents.as_str()),
        ("start.description", long_description.as_str()),
        ("start.title", "Green flag at {name}"),
        ("start.color", "#00ff00"),
        ("start.fields", "Track | Spa | inline"),
    ];
    let previewed =
        submit(&mut browser, &site, &refused, &path, &[good.as_slice(), &[("action", "preview")]].concat()).await;
    assert_eq!(previewed.status, 200, "{}", previewed.text);
    let reminder = editor(&previewed, "reminder1");
    assert!(reminder.contains("Spa 6 Hours starts in 2 days: 24 hours to go"), "{reminder}");
    assert!(reminder.contains("Remind me"), "the button it will carry: {reminder}");
    assert!(editor(&previewed, "start").contains("Green flag at Spa 6 Hours"));
    assert_eq!(stored(&site, GUILD_A).await.1, 0, "a preview saves nothing");

    let saved = submit(&mut browser, &site, &previewed, &path, &[("action", "save")]).await;
    assert_eq!((saved.status, saved.location()), (303, format!("{path}?saved=1")), "{}", saved.text);
    let (settings, version) = stored(&site, GUILD_A).await;
    assert_eq!(version, 1);
    assert_eq!(settings.reminders.len(), 1);
    assert_eq!(settings.reminders[0].before_minutes, 1440);
    let start = settings.start_message.and_then(|start| start.embed).expect("a start embed");
    assert_eq!((start.title.as_deref(), start.color), (Some("Green flag at {name}"), Some(0x00ff00)));
    assert_eq!(start.description.map(|text| text.len()), Some(4000));
    assert_eq!(settings.results_template, GuildSettings::default().results_template, "untouched");
    let again = browser.get(&site, &saved.location()).await;
    assert!(again.text.contains("Saved.") && again.text.contains("Track | Spa | inline"), "{}", again.text);
    let audit = browser.get(&site, &settings_path(GUILD_A)).await;
    let audit = &audit.text[audit.text.find("audit-title").expect("audit")..];
    assert!(audit.contains("Reminders") && audit.contains("Start message"), "{audit}");
}

#[tokio::test]
async fn a_crafted_done_notice_or_a_walking_next_says_and_goes_nowhere() {
    let site = site().await;
    let mut browser = Browser::default();
    browser.login(&site, demo::ADMIN, "/settings").await;
    let sync = format!("{}/sync", settings_path(GUILD_A));
    let forged = browser.get(&site, &format!("{sync}?done=Your+account+is+suspended%3A+log+in+at+evil.example")).await;
    assert_eq!(forged.status, 200, "{}", forged.text);
    assert!(!forged.text.contains("suspended") && !forged.text.contains("evil.example"), "{}", forged.text);
    let real = browser.get(&site, &format!("{sync}?done=sync-queued")).await;
    assert!(real.text.contains("Sync queued."), "{}", real.text);

    let mut other = Browser::default();
    let landed = other.login(&site, demo::ADMIN, "/settings/..//evil.example").await;
    assert_eq!(landed.location(), "/settings", "a next that walks out lands on the settings page");
}

#[tokio::test]
async fn every_tab_says_what_is_happening_now() {
    let site = site().await;
    let mut browser = Browser::default();
    browser.login(&site, demo::ADMIN, "/settings").await;
    let base = settings_path(GUILD_A);
    let summary = |text: &str| -> String {
        let at = text.find("id=\"summary\">").map(|at| at + 13).unwrap_or_else(|| panic!("no summary: {text}"));
        text[at..].split("</p>").next().unwrap_or_default().to_owned()
    };
    for path in ["", "/messages", "/channels", "/sync", "/dead-letters", "/keys", "/webhook"] {
        let page = browser.get(&site, &format!("{base}{path}")).await;
        assert_eq!(page.status, 200, "{path}");
        let line = summary(&page.text);
        assert_eq!(line, "No sync yet · No channels · no dead letters · no webhook", "{path}");
    }
    // A job gives up (as the job runner records it): the line counts it on every tab.
    let letter = guildbridge_core::store::DeadLetterRecord {
        queue: "channel".to_owned(),
        job_type: "create_channels".to_owned(),
        body: format!("{{\"type\":\"create_channels\",\"guild_id\":\"{GUILD_A}\"}}"),
        reason: "Missing Permissions".to_owned(),
        failed_at: 1_800_000_000,
        attempts: 5,
    };
    guildbridge_core::store::DeadLetterStore::record_dead_letter(
        site.backends.ledger.as_ref(),
        Some(Id::new(GUILD_A)),
        &letter,
    )
    .await
    .expect("recorded");
    let page = browser.get(&site, &format!("{base}/sync")).await;
    assert!(summary(&page.text).contains("1 dead letter waiting"), "{}", summary(&page.text));
}

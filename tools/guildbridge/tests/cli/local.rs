//! The README's run command: `guildbridge local` serves the endpoint, and `guildbridge interact`
//! signs with the development key it generated and shows the answer.

use std::{process::Stdio, time::Duration};

use guildbridge_core::{
    clock::{Clock, SystemClock},
    domain::{Job, Subject, SubjectKind, SubjectRef, SyncKind, SyncOutcome},
};
use guildbridge_host::wiring::Backends;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

use super::BIN;

pub(crate) struct TempDir(pub(crate) std::path::PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("guildbridge-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn interact(data_dir: &TempDir, endpoint: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data_dir.0)
        .arg("interact")
        .args(args)
        .arg("--endpoint")
        .arg(endpoint)
        .output()
        .await
        .expect("run interact");
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

/// A running `guildbridge local` on free ports; killed when dropped.
pub(crate) struct Local {
    child: tokio::process::Child,
    pub(crate) endpoint: String,
    sandbox: String,
    /// What it printed at start, up to the Ctrl-C line.
    pub(crate) banner: String,
}

impl Local {
    /// With the sandbox playing Discord.
    pub(crate) async fn start(data_dir: &TempDir) -> Self {
        Self::start_with(data_dir, &[]).await
    }

    async fn start_with(data_dir: &TempDir, options: &[&str]) -> Self {
        let local = Self::spawn(data_dir, options, &[]).await;
        assert!(local.sandbox.starts_with("http://127.0.0.1:"), "{}", local.banner);
        local
    }

    /// `env` adds to the environment (Discord settings are removed unless given here).
    async fn spawn(data_dir: &TempDir, options: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(&data_dir.0)
            .args(["local", "--addr", "127.0.0.1:0", "--sandbox-addr", "127.0.0.1:0"])
            .args(options)
            .env_remove("DISCORD_PUBLIC_KEY")
            .env_remove("DISCORD_BOT_TOKEN")
            .env_remove("SETTINGS_URL")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start guildbridge local");
        // Its logs (JSON lines on stdout, anything else on stderr) join the run's log scan
        // for secrets; the banner is not a log.
        let mut logs = BufReader::new(child.stderr.take().expect("stderr")).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = logs.next_line().await {
                e2e::logs::record("guildbridge-local", &line);
            }
        });
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let banner = tokio::time::timeout(Duration::from_secs(30), async {
            let mut banner = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                record_log(&line);
                let done = line.starts_with("Ctrl-C");
                banner.push(line);
                if done {
                    break;
                }
            }
            banner
        })
        .await
        .expect("the runner prints its banner");
        // Keep reading so the runner never blocks on a full pipe.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                record_log(&line);
            }
        });
        let field = |label: &str| -> String {
            let line = banner.iter().find_map(|line| line.trim().strip_prefix(label)).unwrap_or_default();
            line.split_whitespace().next().unwrap_or_default().to_owned()
        };
        let (endpoint, sandbox) = (field("interactions endpoint"), field("Discord sandbox"));
        let banner = banner.join("\n");
        assert!(endpoint.starts_with("http://127.0.0.1:"), "{banner}");
        Self { child, endpoint, sandbox, banner }
    }

    /// Ctrl-C, as a developer stops it: a clean exit.
    pub(crate) async fn stop(mut self) {
        let pid = self.child.id().expect("running");
        let sent = std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status().expect("kill");
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("stops within 30 s of Ctrl-C")
            .expect("wait");
        assert!(status.success(), "a clean stop: {status}");
    }

    /// The sandbox's channels in the demo guild, read the way a bot reads them.
    pub(crate) async fn channels(&self) -> Vec<serde_json::Value> {
        reqwest::Client::new()
            .get(format!("{}/api/v10/guilds/{DEMO_GUILD}/channels", self.sandbox))
            .header("authorization", "Bot local-sandbox-bot-token")
            .send()
            .await
            .expect("sandbox")
            .json()
            .await
            .expect("channels")
    }
}

const DEMO_GUILD: u64 = 1_100_000_000_000_000_100;

#[tokio::test]
async fn local_endpoint_answers_interact_with_this_guilds_settings_link() {
    let data_dir = TempDir::new("local");
    let local = Local::start(&data_dir).await;
    let endpoint = local.endpoint.clone();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
    let base = endpoint.trim_end_matches("/interactions");

    let (ok, text) = interact(&data_dir, &endpoint, &["/settings"]).await;
    assert!(ok, "{text}");
    assert!(text.contains("[only you can see this]"), "{text}");
    assert!(text.contains(&format!("{base}/settings/guilds/1100000000000000100")), "{text}");

    let (ok, text) = interact(&data_dir, &endpoint, &["/settings", "--json"]).await;
    assert!(ok, "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).expect("raw JSON answer");
    assert_eq!(json["data"]["flags"], 64);

    // Another key pair than the server's: the endpoint refuses it.
    let stranger = TempDir::new("stranger");
    let (ok, text) = interact(&stranger, &endpoint, &["/settings"]).await;
    assert!(!ok, "{text}");
    assert!(text.contains("HTTP 401"), "{text}");

    let (ok, text) = interact(&data_dir, &endpoint, &["/teleport"]).await;
    assert!(!ok && text.contains("unknown command /teleport"), "{text}");
}

/// `interact` as the README shows it: no endpoint, the running stack found from the data folder.
async fn interact_with_running_stack(data_dir: &TempDir, args: &[&str]) -> (bool, String) {
    let output = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data_dir.0)
        .arg("interact")
        .args(args)
        .args(["--wait", "30"])
        .env_remove("GUILDBRIDGE_ENDPOINT")
        .output()
        .await
        .expect("run interact");
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[tokio::test]
async fn a_channel_created_through_the_local_stack_is_in_the_sandbox_and_the_store_and_survives_a_restart() {
    let data_dir = TempDir::new("restart");
    let local = Local::start(&data_dir).await;

    let (ok, text) = interact_with_running_stack(&data_dir, &["/channel create name:demo"]).await;
    assert!(ok, "{text}");
    assert!(text.contains("[deferred"), "answered deferred first: {text}");
    let created = text.lines().find(|line| line.starts_with("Created <#")).unwrap_or_else(|| panic!("{text}"));
    let channel_id = created.trim_start_matches("Created <#").split('>').next().expect("mention").to_owned();
    assert!(created.ends_with("for demo."), "{created}");
    let channels = local.channels().await;
    let channel = channels.iter().find(|c| c["id"] == channel_id.as_str()).unwrap_or_else(|| panic!("{channels:?}"));
    assert_eq!(channel["name"], "demo");

    let (ok, text) = interact_with_running_stack(&data_dir, &["/channel info", "--channel", &channel_id]).await;
    assert!(ok && text.contains("This channel is for **demo**") && text.contains("Status: active"), "{text}");
    local.stop().await;

    // While it is stopped, the platform's request waits in the persisted queue.
    {
        let (backends, _) = Backends::embedded(&data_dir.0.join("data")).expect("open the data folder");
        let guild = twilight_model::id::Id::new(DEMO_GUILD);
        let subject = Subject {
            signups: None,
            relay: None,
            subject: SubjectRef::new(SubjectKind::Event, "queued-while-stopped"),
            name: "Night Race".to_owned(),
            fields: Default::default(),
            signup_url: None,
            starts_at: None,
            discord_user_id: None,
            ends_at: None,
        };
        backends.store.upsert_subject(guild, &subject).await.expect("subject");
        let job = Job::CreateChannels {
            retry: None,
            guild_id: guild,
            subject: subject.subject.clone(),
            requested_by: None,
            reply: None,
        };
        backends.queue.enqueue(&job).await.expect("enqueue");
    }

    let local = Local::start(&data_dir).await;
    let (ok, text) = interact_with_running_stack(&data_dir, &["/channel info", "--channel", &channel_id]).await;
    assert!(ok && text.contains("This channel is for **demo**"), "the store kept the mapping: {text}");
    assert!(local.channels().await.iter().any(|c| c["id"] == channel_id.as_str()), "the sandbox kept the channel");
    let mut queued_job_ran = false;
    for _ in 0..120 {
        let channels = local.channels().await;
        if channels.iter().any(|c| c["name"] == "night-race") {
            queued_job_ran = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(queued_job_ran, "the job queued while stopped ran after the restart");
    local.stop().await;
}

#[tokio::test]
async fn the_local_scheduler_and_sync_worker_sync_the_demo_guild() {
    let data_dir = TempDir::new("schedule");
    let guild = twilight_model::id::Id::new(DEMO_GUILD);
    // Nobody schedules anything: connecting the demo guild at first start writes its
    // schedule, the initial sync due at once, and a tick runs it. The store is SQLite in WAL
    // mode, so this test reads it while the stack runs.
    let local = Local::start_with(&data_dir, &["--schedule-every-secs", "5", "--demo-members", "30"]).await;
    let (backends, _) = Backends::embedded(&data_dir.0.join("data")).expect("open the data folder");
    let mut scheduled = None;
    for _ in 0..240 {
        let runs = backends.store.recent_runs(guild, 10).await.expect("runs");
        scheduled = runs.into_iter().find(|run| run.kind == SyncKind::Scheduled && run.outcome != SyncOutcome::Running);
        if scheduled.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let scheduled = scheduled.expect("the scheduler started a sync and the sync worker finished it");
    assert_eq!(scheduled.outcome, SyncOutcome::Succeeded);
    // 30 seeded members, every tenth a bot, and the settings page's two demo people.
    assert_eq!(scheduled.counts.total, 29, "27 seeded humans and demo-admin and demo-member");
    let next = backends.store.sync_schedule(guild).await.expect("read").expect("a schedule");
    assert!(next.next_at > SystemClock.now() + 3600, "the next sync is an interval away: {next:?}");

    let (ok, text) = interact_with_running_stack(&data_dir, &["/sync"]).await;
    assert!(ok, "{text}");
    assert!(text.contains("[answer edited]") && text.contains("Synced 29 members"), "{text}");
    local.stop().await;
}

#[tokio::test]
async fn with_discord_settings_given_the_local_stack_talks_to_that_discord_and_starts_no_sandbox() {
    use discord_sandbox::{GuildSeed, RateLimits, Sandbox, SandboxConfig};
    // Plays "real Discord": a sandbox the runner did not start, with its own bot token.
    let discord = Sandbox::start(
        SandboxConfig::new("given-bot-token", None, RateLimits::discord_like()),
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .expect("sandbox");
    discord.seed_guild(GuildSeed {
        id: DEMO_GUILD,
        name: "Given".to_owned(),
        bot_permissions: discord_sandbox::world::ADMINISTRATOR,
        roles: Vec::new(),
        members: 3,
        first_member_id: 1_100_000_000_000_001_000,
        bot_every: None,
    });
    let data_dir = TempDir::new("given-discord");
    let base_url = discord.base_url();
    let env = [
        ("DISCORD_BOT_TOKEN", "given-bot-token"),
        ("DISCORD_API_BASE_URL", base_url.as_str()),
        ("DISCORD_APPLICATION_ID", "1100000000000000001"),
        ("DISCORD_CLIENT_SECRET", "sandbox-client-secret"),
    ];
    let local = Local::spawn(&data_dir, &[], &env).await;
    assert!(local.sandbox.is_empty() && !local.banner.contains("Discord sandbox"), "{}", local.banner);
    assert!(local.banner.contains(&format!("Discord                {base_url}")), "{}", local.banner);

    let (ok, text) = interact_with_running_stack(&data_dir, &["/channel create name:given"]).await;
    assert!(ok && text.contains("[deferred"), "{text}");
    let mut created = false;
    for _ in 0..120 {
        created = discord.with_world(|world| world.guild_channels(DEMO_GUILD).any(|c| c.name == "given"));
        if created {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(created, "the worker created the channel in the given Discord");
    local.stop().await;
}

/// A JSON log line of the runner's, for the run's secret scan.
fn record_log(line: &str) {
    if line.starts_with('{') {
        e2e::logs::record("guildbridge-local", line);
    }
}

/// What the banner says after `label`.
fn after<'b>(banner: &'b str, label: &str) -> &'b str {
    banner.lines().find_map(|line| line.trim().strip_prefix(label)).map(str::trim).unwrap_or_default()
}

async fn api(
    method: reqwest::Method,
    url: &str,
    key: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new().request(method, url).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the local stack answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn a_fresh_start_shows_where_everything_is_and_a_demo_with_an_event_a_team_and_a_lead() {
    let data_dir = TempDir::new("first-impression");
    let local = Local::start(&data_dir).await;
    let banner = local.banner.clone();
    let base = local.endpoint.trim_end_matches("/interactions").to_owned();
    assert_eq!(after(&banner, "settings page"), format!("{base}/settings"), "{banner}");
    assert!(after(&banner, "demo logins").contains("demo-admin (Manage Server)"), "{banner}");
    assert!(after(&banner, "demo data").ends_with("(made just now)"), "{banner}");
    assert!(after(&banner, "data").contains("delete it"), "how to reset: {banner}");

    // `/` lists what runs where.
    let landing = reqwest::get(format!("{base}/")).await.expect("landing");
    assert_eq!(landing.status(), 200);
    let page = landing.text().await.expect("html");
    assert!(page.contains(&format!("{base}/settings")) && page.contains("/v1/openapi.json"), "{page}");
    assert!(!page.contains("gbk_"), "the API key stays out of the page");

    // The demo, made through the tenant API: an event with its channel, a lead with its own.
    let key = after(&banner, "demo tenant's API key").split_whitespace().next().unwrap_or_default().to_owned();
    for subject in ["event/demo-race", "lead/demo-lead"] {
        let mut status = serde_json::Value::Null;
        for _ in 0..120 {
            let (_, channel) =
                api(reqwest::Method::GET, &format!("{base}/v1/subjects/{subject}/channel"), &key, None).await;
            status = channel["status"].clone();
            if status == "active" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(status, "active", "{subject}'s channel");
    }
    let (ok, text) = interact_with_running_stack(&data_dir, &["/events"]).await;
    assert!(ok && text.contains("Demo Race"), "the demo event is upcoming: {text}");

    // What happened so far, in Prometheus's text format: the command, the jobs that made the
    // channels, their requests to Discord, and the API's answers.
    assert!(after(&banner, "metrics (Prometheus)") == format!("{base}/metrics"), "{banner}");
    let scraped = reqwest::get(format!("{base}/metrics")).await.expect("metrics");
    assert_eq!(scraped.status(), 200);
    let metrics = scraped.text().await.expect("text");
    for line in [
        r#"Interactions{command="events",response="message"} 1"#,
        r#"Jobs{job="create_channels",outcome="done"}"#,
        r#"DiscordRequests{route="POST /guilds/{guild_id}/channels",status="2xx"}"#,
        r#"WebResponses{status="2xx"}"#,
        "# TYPE InteractionLatency summary",
        r#"InteractionLatency{quantile="0.99"}"#,
    ] {
        assert!(metrics.lines().any(|l| l.starts_with(line)), "no {line} in:\n{metrics}");
    }
    assert!(!metrics.contains("guild_id=") && !metrics.contains("tenant_id="), "no id is a label:\n{metrics}");

    // The doctor finds the fresh stack healthy: its endpoint, the sandbox's application, the
    // commands, and the bot's permissions in the demo guild.
    let doctor = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data_dir.0)
        .arg("doctor")
        .env_remove("TABLE_NAME")
        .output()
        .await
        .expect("run doctor");
    let said = String::from_utf8_lossy(&doctor.stdout);
    assert!(doctor.status.success(), "{said}{}", String::from_utf8_lossy(&doctor.stderr));
    for check in ["interactions endpoint answers", "interactions endpoint", "OAuth2 redirects", "slash commands"] {
        assert!(said.contains(&format!("ok       {check}")), "{check}: {said}");
    }
    assert!(said.contains("guild 1100000000000000100") && !said.contains("PROBLEM"), "{said}");

    // What the user makes of it stays: the next start seeds nothing again.
    let renamed = serde_json::json!({ "name": "Renamed Race", "starts_at": SystemClock.now() + 86_400 });
    let (status, _) =
        api(reqwest::Method::PUT, &format!("{base}/v1/subjects/event/demo-race"), &key, Some(renamed)).await;
    assert_eq!(status, 200);
    local.stop().await;
    let local = Local::start(&data_dir).await;
    assert!(after(&local.banner, "demo data").ends_with("(made on the first start)"), "{}", local.banner);
    let base = local.endpoint.trim_end_matches("/interactions").to_owned();
    let (_, event) = api(reqwest::Method::GET, &format!("{base}/v1/subjects/event/demo-race"), &key, None).await;
    assert_eq!(event["name"], "Renamed Race", "{event}");
    local.stop().await;
}

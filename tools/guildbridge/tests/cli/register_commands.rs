//! `guildbridge register-commands`: the dry run's body is what Discord's schema (and the
//! sandbox) accept, and registering an unchanged manifest a second time sends nothing.

use discord_sandbox::{RateLimits, Sandbox, SandboxConfig};
use tokio::process::Command;

use super::BIN;
const APPLICATION: u64 = 1_200_000_000_000_000_001;
const TOKEN: &str = "register-test-token";

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn sandbox() -> Sandbox {
    let openapi = std::env::var_os("DISCORD_OPENAPI_PATH").map(std::path::PathBuf::from);
    let sandbox =
        Sandbox::start(SandboxConfig::new(TOKEN, openapi, RateLimits::discord_like()), ([127, 0, 0, 1], 0).into())
            .await
            .expect("sandbox");
    if std::env::var_os("CI").is_some() {
        assert!(sandbox.validates(), "CI checks request bodies against Discord's OpenAPI document");
    }
    sandbox
}

async fn register(data_dir: &TempDir, sandbox: &Sandbox, args: &[&str]) -> (bool, String) {
    let output = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data_dir.0)
        .arg("register-commands")
        .args(args)
        .env("DISCORD_BOT_TOKEN", TOKEN)
        .env("DISCORD_API_BASE_URL", sandbox.base_url())
        .env("DISCORD_APPLICATION_ID", APPLICATION.to_string())
        .output()
        .await
        .expect("run register-commands");
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

fn puts(sandbox: &Sandbox) -> usize {
    sandbox.requests().iter().filter(|r| r.method == "PUT" && r.template.contains("/commands")).count()
}

#[tokio::test]
async fn the_dry_run_body_is_accepted_and_an_unchanged_manifest_is_not_sent_twice() {
    let data_dir = TempDir(std::env::temp_dir().join(format!("guildbridge-register-{}", std::process::id())));
    let sandbox = sandbox().await;

    let (ok, body) = register(&data_dir, &sandbox, &["--dry-run"]).await;
    assert!(ok, "{body}");
    assert_eq!(puts(&sandbox), 0, "a dry run sends nothing");
    let commands: Vec<twilight_model::application::command::Command> =
        serde_json::from_str(&body).expect("the body is a list of Discord commands");
    let names: Vec<&str> = commands.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["channel", "events", "settings", "signup", "sync"]);
    let accepted = reqwest::Client::new()
        .put(format!("{}/applications/{APPLICATION}/commands", sandbox.base_url()))
        .header("authorization", format!("Bot {TOKEN}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(accepted.status(), 200, "{}", accepted.text().await.unwrap_or_default());
    sandbox.clear_requests();

    let (ok, text) = register(&data_dir, &sandbox, &[]).await;
    assert!(ok && text.contains("Registered 5 commands"), "{text}");
    assert_eq!(puts(&sandbox), 1);
    let stored = sandbox.with_world(|world| world.commands.get(&(APPLICATION, None)).cloned().unwrap_or_default());
    assert_eq!(stored.len(), 5);

    let (ok, text) = register(&data_dir, &sandbox, &[]).await;
    assert!(ok && text.contains("nothing sent"), "{text}");
    assert_eq!(puts(&sandbox), 1, "an unchanged manifest sends no request");

    // Another scope is another registration; --force sends regardless.
    let (ok, text) = register(&data_dir, &sandbox, &["--guild", "1200000000000000100"]).await;
    assert!(ok && text.contains("Registered 5 commands"), "{text}");
    let (ok, _) = register(&data_dir, &sandbox, &["--force"]).await;
    assert!(ok);
    assert_eq!(puts(&sandbox), 3);
}

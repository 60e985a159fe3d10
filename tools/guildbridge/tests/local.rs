//! The README's run command: `guildbridge local` serves the endpoint, and `guildbridge interact`
//! signs with the development key it generated and shows the answer.

// Test helpers fail the test loudly when their setup fails.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::{process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

const BIN: &str = env!("CARGO_BIN_EXE_guildbridge");

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
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

#[tokio::test]
async fn local_endpoint_answers_interact_with_this_guilds_settings_link() {
    let data_dir = TempDir::new("local");
    let mut server = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data_dir.0)
        .args(["local", "--addr", "127.0.0.1:0"])
        .env_remove("DISCORD_PUBLIC_KEY")
        .env_remove("SETTINGS_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start guildbridge local");
    let mut lines = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let endpoint = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.trim().strip_prefix("interactions endpoint") {
                return url.trim().to_owned();
            }
        }
        String::new()
    })
    .await
    .expect("the runner prints its endpoint");
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

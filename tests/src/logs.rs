//! Every log line the end-to-end suites' function processes print, collected where a last
//! test reads them all and fails if a secret is among them.
//!
//! `tools/test` sets `GUILDBRIDGE_E2E_LOG_DIR` to a fresh folder before the suites and runs
//! the scan (`template::no_secret_reaches_any_log`, ignored otherwise) after them.

use std::{io::Write, path::PathBuf};

/// The folder the suites write their logs to.
pub const LOG_DIR: &str = "GUILDBRIDGE_E2E_LOG_DIR";

/// What must never appear in a log: the test deployments' secrets, and the shapes of the
/// credentials the tests mint (interaction tokens, API keys).
pub const SECRETS: &[&str] = &[
    crate::stack::BOT_TOKEN,
    "test-bot-token",
    "sandbox-client-secret",
    "test-only-state-signing-key-not-a-secret",
    // Interaction tokens: the sandbox's, the simulated interactions', and the tests' own.
    "sandbox-interaction-",
    "interaction-token-",
    "ping-token-",
    "never-issued-token",
    // Tenant API keys.
    "gbk_",
    // Webhook signing secrets.
    "whsec_",
];

/// The secret a line gives away, if any.
pub fn leak(line: &str) -> Option<&'static str> {
    SECRETS.iter().copied().find(|secret| line.contains(secret))
}

fn dir() -> Option<PathBuf> {
    std::env::var_os(LOG_DIR).map(PathBuf::from)
}

/// Appends a process's log line (one file per test binary run, so writers never interleave
/// within a line). Without `GUILDBRIDGE_E2E_LOG_DIR` nothing is kept.
pub fn record(source: &str, line: &str) {
    let Some(dir) = dir() else { return };
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{}.log", std::process::id()));
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(file, "{source}\t{line}");
    }
}

/// Every recorded line, with the file it came from.
pub fn all_lines() -> anyhow::Result<Vec<(String, String)>> {
    let dir = dir().ok_or_else(|| anyhow::anyhow!("{LOG_DIR} is not set: run the scan through tools/test"))?;
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let text = std::fs::read_to_string(&path)?;
        let name = path.display().to_string();
        lines.extend(text.lines().map(|line| (name.clone(), line.to_owned())));
    }
    Ok(lines)
}

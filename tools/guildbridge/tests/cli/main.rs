//! The developer CLI, one binary: the local stack, table creation, provisioning, command
//! registration, tenants and their keys.

// Tests: a setup that fails fails the test, loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use tokio::process::Command;

/// The CLI binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_guildbridge");

/// Runs the CLI with `args` against moto's server (the region and the test credentials set).
async fn on_moto(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .await
        .expect("run")
}

mod create_table;
mod local;
mod provision;
mod register_commands;
mod tenant;

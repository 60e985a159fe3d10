//! The developer CLI, one binary: the local stack, table creation, provisioning, command
//! registration, tenants and their keys.

// Tests: a setup that fails fails the test, loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use tokio::process::Command;

/// The CLI binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_guildbridge");

/// A build without AWS says how to get the commands that need it, and does nothing else.
#[cfg(not(feature = "aws"))]
#[tokio::test]
async fn without_aws_the_commands_that_need_it_say_how_to_get_them() {
    for args in [&["create-table", "--table", "t"][..], &["provision", "--endpoint", "http://127.0.0.1:9"][..]] {
        let output = Command::new(BIN).args(args).output().await.expect("run");
        let told = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && told.contains("--features aws"), "{args:?}: {told}");
    }
}

/// Runs the CLI with `args` against moto's server (the region and the test credentials set).
#[cfg(feature = "aws")]
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

#[cfg(feature = "aws")]
mod create_table;
#[cfg(feature = "aws")]
mod doctor;
mod local;
#[cfg(feature = "aws")]
mod provision;
mod register_commands;
mod tenant;

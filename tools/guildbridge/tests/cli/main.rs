//! The developer CLI, one binary: the local stack, table creation, provisioning, command
//! registration.

// Tests: a setup that fails fails the test, loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod create_table;
mod local;
mod provision;
mod register_commands;

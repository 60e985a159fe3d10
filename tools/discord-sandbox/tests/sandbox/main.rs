//! The Discord sandbox, one binary: its rules and limits, and Guildbridge's REST client against
//! it.

// Tests: a setup that fails fails the test, loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod client_against_sandbox;
mod gateway;
mod sandbox_rules;

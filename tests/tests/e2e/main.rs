//! End to end, one binary: the functions as Lambda runs them (release binaries on a local
//! Runtime API), on moto's DynamoDB and SQS, against the Discord sandbox.

// Tests: a setup that fails fails the test, loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod channel_commands;
mod channel_e2e;
mod channel_worker;
mod channel_worker_lambda;
mod clock;
mod event_life;
mod gateway_e2e;
mod interactions_lambda;
mod member_sync;
mod metrics_lambda;
mod sync_lambdas;
mod team_voice;
mod template;
mod web_lambda;
mod webhooks_e2e;

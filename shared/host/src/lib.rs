//! The top layer: what a process needs to start. Configuration from the environment, secrets,
//! the adapters and use cases wired together, provisioning for the local stack, and logs.
//! Features keep each binary to what it uses:
//!
//! - `aws`: the functions' start-up over DynamoDB and SQS, the Secrets Manager secret,
//!   provisioning (every function; the local stack and the developer CLI build without it);
//! - `web`: the `web` function's router, the API and the settings page (`web` and the local
//!   stack only);
//! - `embedded`: the embedded store and queue under a folder (the local stack and tests);
//! - `gateway`: the Gateway ingest's shards (the `gateway` binary and `guildbridge local
//!   --gateway`);
//! - `prometheus`: the local stack's `/metrics` (the functions emit CloudWatch's embedded
//!   format under `aws`).

// The lower layers under the names the modules use (`crate::domain`, `crate::store`, ...).
#[cfg(feature = "aws")]
use guildbridge_aws as aws;
use guildbridge_core::{
    channels, clock, discord, domain, interactions, outbox, queue, relay, store, sync, webhooks, worker,
};

pub mod config;
#[cfg(feature = "gateway")]
pub mod gateway;
pub mod metrics;
#[cfg(feature = "test-support")]
pub mod moto;
#[cfg(feature = "aws")]
pub mod provision;
pub mod secrets;
#[cfg(feature = "aws")]
pub mod startup;
pub mod telemetry;
pub mod wiring;

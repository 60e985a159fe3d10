//! The top layer: what a process needs to start. Configuration from the environment, secrets,
//! the adapters and use cases wired together, provisioning for the local stack, and logs.
//! What reaches AWS (the functions' start-up, provisioning, the secret) is behind the `aws`
//! feature: the local stack and the developer CLI build without the AWS SDK.

pub mod config;
#[cfg(feature = "aws")]
pub mod provision;
pub mod secrets;
#[cfg(feature = "aws")]
pub mod startup;
pub mod telemetry;
pub mod wiring;

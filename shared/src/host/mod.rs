//! The top layer: what a process needs to start. Configuration from the environment, secrets,
//! the adapters and use cases wired together, provisioning for the local stack, and logs.

pub mod config;
pub mod provision;
pub mod secrets;
pub mod startup;
pub mod telemetry;
pub mod wiring;

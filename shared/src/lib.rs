//! Guildbridge's domain logic. Lambda functions and the local runner are thin hosts around
//! what lives here: configuration, Discord request verification, the command registry and
//! the interaction router.

pub mod channels;
pub mod config;
pub mod discord;
pub mod interactions;
pub mod provision;
pub mod queue;
pub mod secrets;
pub mod settings;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod wiring;

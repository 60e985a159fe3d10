//! Everything that speaks Discord: request verification, signed component state, interaction
//! responses, and the REST client.

pub mod custom_id;
pub mod guild_ids;
pub mod intents;
pub mod permissions;
pub mod responses;
pub mod rest;
pub mod signature;

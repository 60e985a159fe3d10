//! Everything that speaks Discord: request verification, signed component state, commands.

pub mod commands;
pub mod custom_id;
pub mod naming;
pub mod responses;
pub mod rest;
pub mod signature;
pub mod simulate;

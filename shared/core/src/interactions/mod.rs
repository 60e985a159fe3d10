//! The interactions endpoint: verify, parse, route, answer. Transport-free in [`service`],
//! served over HTTP by the one axum router in [`http`] (hosted by Lambda and locally alike).

pub mod commands;
pub mod components;
pub mod http;
mod service;
pub mod webhook_events;

pub use service::{ANSWER_BUDGET, InteractionMeta, InteractionService, MAX_BODY_BYTES, Rejection};

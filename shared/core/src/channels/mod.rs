//! Channels for subjects: planning them, asking for them, and the worker that makes them.

pub mod plan;
pub mod requests;
pub mod worker;

pub use requests::{Registered, RequestError, adhoc_subject, register_subject, request_channel};
pub use worker::{ChannelWorker, DEFAULT_CLAIM_STALE_AFTER, REMIND_BUTTON, REMIND_OFF, REMIND_ON, RETRY_BUTTON};

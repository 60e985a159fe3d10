//! Platform webhooks: each event delivered to the tenant's endpoint, signed the Standard
//! Webhooks way ([`signing`]), over HTTP that follows no redirect and keeps no more of the
//! answer than an excerpt ([`sender`]), retried on the delivery schedule and given up on
//! (dead-lettered, the endpoint paused) after a day ([`worker`]).

pub mod endpoint;
pub mod sender;
pub mod signing;
pub mod worker;

pub use self::{
    sender::{HttpSender, NameLookup, Sent, SystemLookup, WebhookSender},
    worker::WebhookWorker,
};

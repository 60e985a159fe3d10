//! Guildbridge's use cases, over the lower crates (re-exported under their module names:
//! [`domain`], [`clock`], [`store`], [`queue`], [`discord`]). Inside this crate the modules
//! only point down (a test, `layers`, refuses an edge that points up):
//!
//! 1. [`outbox`]: domain events addressed to tenants and queued for delivery.
//! 2. [`worker`]: running jobs from a queue, with retries and recorded dead letters;
//!    [`forget`]: deleting a disconnected guild's data.
//! 3. Use cases: [`channels`], [`sync`], [`webhooks`], [`relay`], [`timeline`].
//! 4. [`interactions`] (the router and the commands) and [`tick`] (one scheduled tick).
//!
//! The HTTP doors (`guildbridge_web`) and start-up (`guildbridge_host`) are crates above.

pub use guildbridge_domain::{self as domain, clock};

pub use guildbridge_discord as discord;
pub use guildbridge_store::{self as store, queue};

pub mod outbox;

pub mod forget;
pub mod worker;

pub mod channels;
pub mod interactions;
pub mod relay;
pub mod sync;
pub mod timeline;
pub mod webhooks;

pub mod tick;

#[cfg(any(test, feature = "test-support"))]
pub mod test_support;

#[cfg(test)]
mod layers;

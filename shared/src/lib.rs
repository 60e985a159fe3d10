//! Guildbridge's core: everything the Lambda functions and the local runner host. The layers
//! only point down (a test, `layers`, refuses an edge that points up):
//!
//! 1. [`domain`]: pure data and rules; [`clock`]: where "now" comes from.
//! 2. Adapters, each over the domain alone: [`store`] (DynamoDB and embedded), [`queue`]
//!    (SQS and embedded), [`discord`] (signatures, signed ids, responses, the REST client).
//! 3. [`worker`]: running jobs from a queue, with retries and recorded dead letters;
//!    [`forget`]: deleting a disconnected guild's data.
//! 4. Use cases: [`channels`], [`sync`], [`timeline`], then [`interactions`] (the router and
//!    the commands), [`api`] (the tenant REST API) and [`tick`] (one scheduled tick).
//! 5. [`pages`]: the settings page, over the API's connect flow.
//! 6. [`host`]: configuration, secrets, start-up and wiring, for the functions and the CLI.

pub use guildbridge_domain::{self as domain, clock};

#[cfg(feature = "aws")]
pub use guildbridge_aws as aws;
pub use guildbridge_discord as discord;
pub use guildbridge_store::{self as store, queue};

pub mod events;

pub mod forget;
pub mod worker;

pub mod api;
pub mod channels;
pub mod interactions;
pub mod relay;
pub mod sync;
pub mod timeline;
pub mod webhooks;

pub mod tick;

pub mod pages;

pub mod host;

#[cfg(any(test, feature = "test-support"))]
pub mod test_support;

#[cfg(test)]
mod layers;

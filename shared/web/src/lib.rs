//! Guildbridge's HTTP doors for people and platforms, over the use cases in
//! `guildbridge_core`:
//!
//! - [`api`]: the tenant REST API (`/v1`), its OpenAPI document and the connect flow;
//! - [`pages`]: the settings page, over the API's connect flow and views.
//!
//! Only the `web` function and the local stack link this crate: askama, OAuth2 and utoipa
//! stay out of every other binary.

// The lower layers under the names the modules use (`crate::domain`, `crate::store`, ...).
use guildbridge_core::{channels, clock, discord, domain, outbox, queue, store, sync, timeline, webhooks};

pub mod api;
pub mod error_page;
pub mod pages;

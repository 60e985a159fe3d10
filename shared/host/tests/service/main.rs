//! The core's integration tests, one binary: the interactions endpoint over HTTP, inputs that
//! must never panic, the store and queue adapters' conformance (embedded and on moto), and
//! Discord's signature vectors.

// Tests: a setup that fails fails the test, loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod attacks;
mod endpoint;
mod never_panics;
mod outbound;
mod queue_conformance;
mod settings_page;
mod store_conformance;
mod tenant_api;
mod timeline;
mod vectors;
mod webhooks;

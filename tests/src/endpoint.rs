//! The interactions service in process, fed signed interactions as Discord sends them.

// Test harness: a setup that fails fails the test, loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use ed25519_dalek::SigningKey;
use guildbridge_core::{
    interactions::{InteractionService, commands::manifest},
    test_support::interactions::{self as fake_discord, Invoker},
};
use guildbridge_host::{
    config::InteractionsConfig,
    wiring::{self, Backends},
};
use serde_json::Value;

/// Guildbridge's interaction service over the given backends, with a test key.
pub struct Endpoint {
    key: SigningKey,
    service: InteractionService,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").finish_non_exhaustive()
    }
}

impl Endpoint {
    pub fn new(backends: &Backends) -> Self {
        let key = SigningKey::from_bytes(&[9; 32]);
        let config = InteractionsConfig {
            public_key: key.verifying_key(),
            settings_url: url::Url::parse("https://settings.example").expect("url"),
            state_key: crate::stack::state_key(),
            signature_max_age: Duration::from_secs(300),
        };
        Self { service: wiring::interaction_service(&config, backends).expect("service"), key }
    }

    /// Signs and handles an interaction; Discord's view of the answer.
    pub async fn send(&self, interaction: Value) -> Value {
        let signed = fake_discord::sign(&self.key, fake_discord::unix_now(), interaction.to_string().into_bytes());
        let (response, _) = self
            .service
            .handle(Some(signed.signature.as_bytes()), Some(signed.timestamp.as_bytes()), &signed.body)
            .await
            .expect("answered");
        serde_json::to_value(response).expect("json")
    }

    /// A command as a user types it, from `invoker`.
    pub async fn run(&self, line: &str, invoker: &Invoker) -> Value {
        self.send(fake_discord::command(line, &manifest(), invoker, fake_discord::new_snowflake()).expect("line")).await
    }
}

//! Property tests: no input panics the endpoint, and nothing unsigned is ever accepted.

use std::sync::Arc;

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use ed25519_dalek::SigningKey;
use guildbridge_core::{
    discord::{custom_id::StateKey, signature::DEFAULT_MAX_AGE},
    interactions::{commands::manifest, http::router},
    test_support::interactions::{self as fake_discord, Invoker},
};
use guildbridge_host::config::InteractionsConfig;
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;

fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[11; 32])
}

fn app() -> Router {
    let config = InteractionsConfig {
        public_key: signing_key().verifying_key(),
        settings_url: url::Url::parse("https://settings.example").expect("url"),
        state_key: StateKey::new(&[1; 32]).expect("key"),
        signature_max_age: DEFAULT_MAX_AGE,
    };
    let (backends, _) = guildbridge_host::wiring::Backends::in_memory().expect("backends");
    router(Arc::new(guildbridge_host::wiring::interaction_service(&config, &backends).expect("manifest")))
}

fn status_of(runtime: &tokio::runtime::Runtime, app: &Router, request: Request<Body>) -> StatusCode {
    runtime.block_on(async { app.clone().oneshot(request).await.expect("infallible").status() })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime")
}

fn header_value() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        Just(None),
        proptest::collection::vec(any::<u8>(), 0..200).prop_map(Some),
        "[0-9a-fA-F]{0,130}".prop_map(|s| Some(s.into_bytes())),
        "[0-9]{0,12}".prop_map(|s| Some(s.into_bytes())),
    ]
}

fn request(signature: Option<Vec<u8>>, timestamp: Option<Vec<u8>>, body: Vec<u8>) -> Option<Request<Body>> {
    let mut builder = Request::post("/interactions");
    for (name, value) in [("x-signature-ed25519", signature), ("x-signature-timestamp", timestamp)] {
        if let Some(value) = value {
            // Bytes HTTP cannot carry in a header never reach the handler; skip those cases.
            let value = axum::http::HeaderValue::from_bytes(&value).ok()?;
            builder = builder.header(name, value);
        }
    }
    builder.body(Body::from(body)).ok()
}

/// A valid `/settings` interaction with one field replaced by an arbitrary JSON value.
fn mutated_interaction() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    });
    let fields = prop_oneof![
        Just("type"),
        Just("data"),
        Just("guild_id"),
        Just("member"),
        Just("id"),
        Just("token"),
        Just("channel"),
        Just("application_id"),
        Just("locale"),
    ];
    (fields, value).prop_map(|(field, value)| {
        let mut interaction =
            fake_discord::command("/settings", &manifest(), &Invoker::default(), 1).unwrap_or_default();
        interaction[field] = value;
        serde_json::to_vec(&interaction).unwrap_or_default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn nothing_without_a_valid_signature_gets_a_2xx(
        signature in header_value(),
        timestamp in header_value(),
        body in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let Some(request) = request(signature, timestamp, body) else { return Ok(()) };
        let status = status_of(&runtime(), &app(), request);
        prop_assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn a_valid_signature_over_any_bytes_gets_200_or_400(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let signed = fake_discord::sign(&signing_key(), fake_discord::unix_now(), body);
        let request = request(Some(signed.signature.into_bytes()), Some(signed.timestamp.into_bytes()), signed.body);
        let status = status_of(&runtime(), &app(), request.expect("valid headers"));
        prop_assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST, "{}", status);
    }

    #[test]
    fn signed_mutated_interactions_get_200_or_400(body in mutated_interaction()) {
        let signed = fake_discord::sign(&signing_key(), fake_discord::unix_now(), body);
        let request = request(Some(signed.signature.into_bytes()), Some(signed.timestamp.into_bytes()), signed.body);
        let status = status_of(&runtime(), &app(), request.expect("valid headers"));
        prop_assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST, "{}", status);
    }
}

#[test]
fn a_signature_for_another_body_is_refused_even_when_everything_else_is_right() {
    let valid = serde_json::to_vec(&json!({ "type": 1 })).expect("json");
    let signed = fake_discord::sign(&signing_key(), fake_discord::unix_now(), valid);
    let other =
        request(Some(signed.signature.into_bytes()), Some(signed.timestamp.into_bytes()), br#"{"type":1 }"#.to_vec());
    assert_eq!(status_of(&runtime(), &app(), other.expect("headers")), StatusCode::UNAUTHORIZED);
}

//! The interactions handler path: verify, parse, route, serialise. `cargo bench -p shared --bench handler`

// A benchmark that cannot set itself up should stop loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::SigningKey;
use guildbridge_core::{
    discord::{custom_id::StateKey, signature::SignatureVerifier},
    interactions::{InteractionService, commands::manifest, http::router},
    test_support::interactions::{self as fake_discord, Invoker, SignedRequest},
};
use guildbridge_host::config::InteractionsConfig;
use tower::ServiceExt;

fn service(key: &SigningKey) -> InteractionService {
    let config = InteractionsConfig {
        public_key: key.verifying_key(),
        settings_url: url::Url::parse("https://settings.example").expect("url"),
        state_key: StateKey::new(&[5; 32]).expect("key"),
        // A day-wide window: the requests are signed once, before a run that takes minutes.
        signature_max_age: Duration::from_secs(86_400),
    };
    let (backends, _) = guildbridge_host::wiring::Backends::in_memory().expect("backends");
    guildbridge_host::wiring::interaction_service(&config, &backends).expect("manifest")
}

fn request(signed: &SignedRequest) -> Request<Body> {
    Request::post("/interactions")
        .header("x-signature-ed25519", &signed.signature)
        .header("x-signature-timestamp", &signed.timestamp)
        .body(Body::from(signed.body.clone()))
        .expect("request")
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[8; 32]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    let app: Router = router(Arc::new(service(&key)));
    let invoker = Invoker::default();
    let now = fake_discord::unix_now();
    let ping = fake_discord::sign(&key, now, fake_discord::ping(&invoker, 1).to_string().into_bytes());
    let settings_json = fake_discord::command("/settings", &manifest(), &invoker, 2).expect("line");
    let settings = fake_discord::sign(&key, now, settings_json.to_string().into_bytes());

    let mut group = c.benchmark_group("interactions");
    for (name, signed) in [("ping", &ping), ("settings", &settings)] {
        group.bench_function(format!("{name}/router"), |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let response = app.clone().oneshot(request(signed)).await.expect("infallible");
                    assert_eq!(response.status(), StatusCode::OK);
                    axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body")
                })
            })
        });
    }
    let verifier = SignatureVerifier::new(key.verifying_key(), Duration::from_secs(86_400));
    group.bench_function("verify-only", |b| {
        b.iter(|| verifier.verify(Some(ping.signature.as_bytes()), Some(ping.timestamp.as_bytes()), &ping.body))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Cold start of each release Lambda binary: process start to its first poll of the Lambda
//! Runtime API. `cargo build --release -p interactions -p web -p channel-worker -p sync-worker
//! -p scheduler -p webhook-worker -p relay-worker && cargo bench -p e2e --bench init`
//! (`GUILDBRIDGE_BIN_DIR` points it at other builds of them).

// A benchmark that cannot set itself up should stop loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use e2e::{
    events::sample_env,
    release_binary,
    runtime_api::{FunctionProcess, RuntimeApi},
};

/// Every Lambda binary, as the template deploys them.
const FUNCTIONS: [&str; 7] =
    ["interactions", "web", "channel-worker", "sync-worker", "scheduler", "webhook-worker", "relay-worker"];

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let mut env = sample_env().expect("sample env");
    // What Lambda always sets: without a region the AWS SDK would go looking for one (profile
    // files, instance metadata), which no Lambda cold start does. The workers' and `web`'s
    // own variables are given directly (no `SECRETS_ARN`: no secret is fetched at init).
    env.extend(
        [
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLEEXAMPLE00"),
            ("AWS_SECRET_ACCESS_KEY", "example-secret-access-key-for-the-benchmark"),
            ("AWS_SESSION_TOKEN", "example-session-token"),
            ("DISCORD_BOT_TOKEN", "benchmark-bot-token"),
            ("DISCORD_APPLICATION_ID", "1100000000000000001"),
            ("DISCORD_CLIENT_SECRET", "benchmark-client-secret"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let mut group = c.benchmark_group("init-to-first-poll");
    group.sample_size(30);
    for function in FUNCTIONS {
        let mut env = env.clone();
        env.push(("AWS_LAMBDA_FUNCTION_NAME".to_owned(), function.to_owned()));
        group.bench_function(function, |b| {
            // Resolved here, so that a filter (`-- interactions`) needs only that binary.
            let binary = release_binary(function);
            b.iter_custom(|iterations| {
                runtime.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        let api = RuntimeApi::start().await.expect("runtime API");
                        let started = Instant::now();
                        let process = FunctionProcess::spawn(&binary, &api, &env).expect("spawn");
                        let Ok(polled) = tokio::time::timeout(Duration::from_secs(10), api.wait_first_poll()).await
                        else {
                            panic!("{function} did not start: {:?}", api.init_error());
                        };
                        total += polled.duration_since(started);
                        drop(process);
                    }
                    total
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

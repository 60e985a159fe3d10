//! Cold start of the release `interactions` binary: process start to its first poll of the
//! Lambda Runtime API. `cargo build --release -p interactions && cargo bench -p e2e --bench init`

// A benchmark that cannot set itself up should stop loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use e2e::{
    events::sample_env,
    release_binary,
    runtime_api::{FunctionProcess, RuntimeApi},
};

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let binary = release_binary("interactions");
    let mut env = sample_env().expect("sample env");
    // What Lambda always sets: without a region the AWS SDK would go looking for one (profile
    // files, instance metadata), which no Lambda cold start does.
    env.extend(
        [
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLEEXAMPLE00"),
            ("AWS_SECRET_ACCESS_KEY", "example-secret-access-key-for-the-benchmark"),
            ("AWS_SESSION_TOKEN", "example-session-token"),
            ("AWS_LAMBDA_FUNCTION_NAME", "interactions"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let mut group = c.benchmark_group("interactions");
    group.sample_size(50);
    group.bench_function("init-to-first-poll", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let api = RuntimeApi::start().await.expect("runtime API");
                    let started = Instant::now();
                    let process = FunctionProcess::spawn(&binary, &api, &env).expect("spawn");
                    let polled = api.wait_first_poll().await;
                    total += polled.duration_since(started);
                    drop(process);
                }
                total
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

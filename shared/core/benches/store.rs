//! Claim and lookup on the embedded store, file-backed as the local stack runs it.
//! `cargo bench -p shared --bench store`

// A benchmark that cannot set itself up should stop loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use criterion::{Criterion, criterion_group, criterion_main};
use guildbridge_core::{
    domain::{ChannelIds, SubjectKind, SubjectRef},
    store::{ChannelStore, Store, embedded::EmbeddedItems},
};
use twilight_model::id::Id;

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let path = std::env::temp_dir().join(format!("guildbridge-bench-{}.sqlite3", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let store = Store::new(EmbeddedItems::open(&path).expect("open"));
    let guild = Id::new(1);

    // 10,000 completed mappings to look up among.
    runtime.block_on(async {
        for n in 1..=10_000u64 {
            let subject = SubjectRef::new(SubjectKind::Event, n.to_string());
            store.claim(guild, &subject, &"seed".into(), None, 0).await.expect("claim");
            let ids = ChannelIds { text: Some(Id::new(n)), ..ChannelIds::default() };
            store.complete(guild, &subject, &"seed".into(), ids, 0).await.expect("complete");
        }
    });

    let mut group = c.benchmark_group("embedded-store");
    let mut next = 20_000u64;
    group.bench_function("claim-new-subject", |b| {
        b.iter(|| {
            next += 1;
            let subject = SubjectRef::new(SubjectKind::Event, next.to_string());
            runtime.block_on(store.claim(guild, &subject, &"bench".into(), None, 0)).expect("claim")
        })
    });
    group.bench_function("claim-existing-subject", |b| {
        let subject = SubjectRef::new(SubjectKind::Event, "5000");
        b.iter(|| runtime.block_on(store.claim(guild, &subject, &"bench".into(), None, 0)).expect("claim"))
    });
    let mut n = 0u64;
    group.bench_function("lookup-by-subject", |b| {
        b.iter(|| {
            n = n % 10_000 + 1;
            let subject = SubjectRef::new(SubjectKind::Event, n.to_string());
            runtime.block_on(store.mapping(guild, &subject)).expect("lookup").expect("found")
        })
    });
    group.bench_function("lookup-by-channel", |b| {
        b.iter(|| {
            n = n % 10_000 + 1;
            runtime.block_on(store.mapping_for_channel(guild, Id::new(n))).expect("lookup").expect("found")
        })
    });
    group.finish();
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

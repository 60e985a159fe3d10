//! Loopback load: channels for 200 subjects in one guild, through the embedded queue and the
//! channel worker, against the Discord sandbox with Discord-like rate limits. Prints the wall
//! time against the floor the limits impose (Create Guild Channel: 5 per 5 s per guild) and
//! checks that every subject has exactly one channel.
//!
//! `cargo bench -p e2e --bench channel_burst` (SUBJECTS=50 for a shorter run).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use discord_sandbox::RateLimits;
use e2e::stack::{self, ADMIN};
use guildbridge_core::{
    channels::{plan, register_subject},
    domain::{GuildSettings, QueueKind, Subject, SubjectKind, SubjectRef},
    worker::Consumer,
};
use guildbridge_host::wiring::{self, Backends};
use twilight_model::id::Id;

const GUILD: u64 = 1_100_000_000_000_000_100;

#[tokio::main]
async fn main() {
    let subjects: usize = std::env::var("SUBJECTS").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    let limits = RateLimits::discord_like();
    let create = limits.routes.iter().find(|r| r.route == "POST /guilds/{guild_id}/channels").expect("route").clone();
    let sandbox = stack::sandbox(limits, GUILD, ADMIN).await;
    let (backends, queue) = Backends::in_memory().expect("backends");
    let guild = Id::new(GUILD);
    let settings = GuildSettings { auto_create_channels: true, ..GuildSettings::default() };
    backends.store.update_settings(guild, 0, &settings).await.expect("settings");
    let worker =
        wiring::channel_worker(backends.store.clone(), &stack::discord_config(&sandbox), &stack::worker_config(5, 120))
            .expect("worker");

    for n in 0..subjects {
        let subject = Subject {
            signups: None,
            relay: None,
            subject: SubjectRef::new(SubjectKind::Event, format!("bench-{n}")),
            name: format!("Round {n}"),
            fields: Default::default(),
            signup_url: None,
            starts_at: None,
            discord_user_id: None,
            ends_at: None,
        };
        register_subject(backends.store.as_ref(), backends.queue.as_ref(), guild, &subject).await.expect("register");
    }

    let started = Instant::now();
    let mut handed_back = 0;
    while let Some(outcome) = Consumer::new(&queue, QueueKind::Channel, &worker, backends.store.as_ref())
        .limits(5, Duration::from_secs(60))
        .work_one()
        .await
        .expect("queue")
    {
        if outcome != guildbridge_core::worker::JobOutcome::Done {
            handed_back += 1;
        }
    }
    let wall = started.elapsed();

    // The bucket admits `limit` requests per window, the first window opening at once.
    let windows = subjects.div_ceil(create.limit as usize) as u32;
    let floor = create.window * windows.saturating_sub(1);
    let channels: Vec<_> = sandbox.with_world(|world| world.guild_channels(GUILD).cloned().collect());
    let mut duplicates = 0;
    for n in 0..subjects {
        let marker = plan::topic_marker(&SubjectRef::new(SubjectKind::Event, format!("bench-{n}")));
        let found = channels.iter().filter(|c| c.topic.as_deref().is_some_and(|t| t.contains(&marker))).count();
        assert!(found >= 1, "bench-{n} has no channel");
        duplicates += found - 1;
    }
    let dead = queue.dead_letters(QueueKind::Channel).await.expect("dead letters").len();
    println!(
        "channel_burst: {subjects} subjects, {} channels, {duplicates} duplicates, {dead} dead letters, {handed_back} hand-backs",
        channels.len()
    );
    println!(
        "channel_burst: wall {:.1} s, rate-limit floor {:.1} s ({} per {:?}), ratio {:.3}",
        wall.as_secs_f64(),
        floor.as_secs_f64(),
        create.limit,
        create.window,
        wall.as_secs_f64() / floor.as_secs_f64().max(f64::EPSILON)
    );
    assert_eq!((duplicates, dead), (0, 0));
}

//! The release `channel-worker` binary, started the way Lambda starts it, runs every sample
//! SQS event under `events/channel-worker/` (in name order: create, message, archive, a
//! message that is not a job) against moto and the Discord sandbox, answering each with
//! the partial batch response recorded beside it, with the effects a user would see.

use discord_sandbox::RateLimits;
use e2e::{
    emf::{self, assert_emitted},
    events::samples_in,
    release_binary,
    runtime_api::{FunctionProcess, RuntimeApi},
    stack::{self, ADMIN, Aws},
};
use guildbridge_core::{
    domain::{MappingStatus, Subject, SubjectKind, SubjectRef, metrics::*},
    store::{ChannelStore, SettingsStore, SubjectStore},
    test_support::interactions::Invoker,
};
use twilight_model::id::Id;

#[tokio::test]
async fn every_worker_sample_gets_its_recorded_answer_and_does_what_it_says() {
    let guild_id = Invoker::default().guild_id.expect("demo guild");
    let guild = Id::new(guild_id);
    let aws = Aws::connect();
    let provisioned = aws.provision(5).await;
    let store = aws.store(&provisioned);
    let subject = SubjectRef::new(SubjectKind::Event, "42");
    store
        .upsert_subject(
            guild,
            &Subject {
                signups: None,
                relay: None,
                subject: subject.clone(),
                name: "Spa 24 Hours".to_owned(),
                fields: Default::default(),
                signup_url: None,
                starts_at: None,
                discord_user_id: None,
                ends_at: None,
            },
        )
        .await
        .expect("subject");
    let mut settings = store.settings(guild).await.expect("defaults").settings;
    settings.welcome_message = Some("Welcome to the race channel!".to_owned());
    store.update_settings(guild, 0, &settings).await.expect("settings");

    let sandbox = stack::sandbox(RateLimits::discord_like(), guild_id, ADMIN).await;
    let api = RuntimeApi::start().await.expect("runtime API");
    let mut worker = FunctionProcess::spawn(
        &release_binary("channel-worker"),
        &api,
        &stack::worker_env(&sandbox, &provisioned, 120).await,
    )
    .expect("spawn");

    let samples = samples_in("channel-worker").expect("samples");
    assert_eq!(samples.len(), 4);
    for (name, event, expected) in samples {
        let response = api.invoke(event).await.expect("invocation");
        assert_eq!(response, expected["response"], "sample {name}");
        let mapping = store.mapping(guild, &subject).await.expect("read");
        let channels: Vec<_> = sandbox.with_world(|world| world.guild_channels(guild_id).cloned().collect());
        match name.as_str() {
            "1-create-channels" => {
                assert_eq!(channels.len(), 1, "{channels:?}");
                assert_eq!(channels[0].name, "spa-24-hours");
                assert_eq!(mapping.map(|m| m.status), Some(MappingStatus::Active));
                let welcome =
                    sandbox.with_world(|world| world.messages.get(&channels[0].id).cloned().unwrap_or_default());
                assert_eq!(welcome.len(), 1);
                assert_eq!(welcome[0]["content"], "Welcome to the race channel!");
            }
            "2-send-message" => {
                let messages =
                    sandbox.with_world(|world| world.messages.get(&channels[0].id).cloned().unwrap_or_default());
                assert_eq!(
                    messages.last().map(|m| m["content"].clone()),
                    Some("Qualifying starts in 10 minutes.".into())
                );
            }
            "3-archive-channel" => {
                let mapping = mapping.expect("mapping");
                assert_eq!(
                    (mapping.status, mapping.reason.as_deref()),
                    (MappingStatus::Archived, Some("event finished"))
                );
                let everyone = channels[0]
                    .overwrites
                    .iter()
                    .find(|o| o["id"].as_str().and_then(|s| s.parse::<u64>().ok()) == Some(guild_id))
                    .cloned();
                let deny: u64 =
                    everyone.expect("@everyone overwrite")["deny"].as_str().unwrap_or("0").parse().unwrap_or(0);
                assert_ne!(deny & (1 << 11), 0, "locked: @everyone may not send messages");
            }
            _ => {}
        }
    }
    assert!(!worker.exited(), "the function keeps serving");

    // Each invocation's figures, printed for CloudWatch: the jobs by type and outcome, how
    // long they waited, the requests they made, and the message that was no job.
    let found = emf::emitted(&worker.logs(), "Guildbridge");
    let function = "channel-worker";
    for job in ["create_channels", "send_message", "archive_channel"] {
        assert_emitted(&found, function, &JOBS, &[("job", job), ("outcome", "done")]);
        assert_emitted(&found, function, &JOB_AGE, &[("job", job)]);
    }
    let created = [("route", "POST /guilds/{guild_id}/channels"), ("status", "2xx")];
    assert_emitted(&found, function, &DISCORD_REQUESTS, &created);
    assert_emitted(&found, function, &DEAD_LETTERS, &[]);
    let age = found.iter().find(|e| e.name == JOB_AGE.name).and_then(|e| e.value.as_array()?.first()?.as_f64());
    assert!(age.is_some_and(|ms| ms > 0.0), "the sample was sent long ago: {age:?}");
}

//! The channel worker over the in-memory store, with the Discord sandbox on loopback and a
//! clock that moves only when told.

use std::{path::PathBuf, sync::Arc, time::Duration};

use discord_sandbox::{GuildSeed, RateLimits, Sandbox, SandboxConfig};
use serde_json::Value;
use tokio::time::Instant;
use twilight_model::id::Id;

use super::*;
use crate::{
    clock::{Clock, ManualClock},
    discord::rest::BotToken,
    domain::{MappingStatus, Subject, SubjectKind},
    store::{
        ChannelStore, ClaimOutcome, LinkStore, ProblemStore, SettingsStore, Store, SubjectStore, TeamStore,
        embedded::EmbeddedItems,
    },
};

const GUILD: u64 = 1_100_000_000_000_000_100;
const APPLICATION: u64 = 1_100_000_000_000_000_001;
const TOKEN: &str = "unit-test-bot-token";
const ADMINISTRATOR: u64 = 1 << 3;

struct Setup {
    sandbox: Sandbox,
    store: Arc<Store<EmbeddedItems>>,
    clock: ManualClock,
    worker: ChannelWorker,
    state_key: StateKey,
}

async fn setup(bot_permissions: u64) -> Setup {
    let openapi = std::env::var_os("DISCORD_OPENAPI_PATH").map(PathBuf::from);
    let config = SandboxConfig::new(TOKEN, openapi, RateLimits::generous());
    let sandbox = Sandbox::start(config, "127.0.0.1:0".parse().expect("addr")).await.expect("sandbox");
    sandbox.seed_guild(GuildSeed {
        id: GUILD,
        name: "Unit Racing".to_owned(),
        bot_permissions,
        roles: Vec::new(),
        members: 3,
        first_member_id: 1_100_000_000_000_010_000,
        bot_every: None,
    });
    let store = Arc::new(Store::new(EmbeddedItems::in_memory().expect("store")));
    let clock = ManualClock::starting_at(1_800_000_000);
    let discord = DiscordClient::new(sandbox.base_url().parse().expect("url"), BotToken::new(TOKEN)).expect("client");
    let state_key = StateKey::new(&[5; 32]).expect("key");
    let worker = ChannelWorker::new(store.clone(), discord, Id::new(APPLICATION), state_key.clone())
        .with_clock(Arc::new(clock.clone()));
    Setup { sandbox, store, clock, worker, state_key }
}

fn race() -> Subject {
    Subject {
        signups: None,
        relay: None,
        subject: SubjectRef::new(SubjectKind::Event, "7"),
        name: "Spa 24 Hours".to_owned(),
        fields: Default::default(),
        signup_url: None,
        starts_at: None,
        discord_user_id: None,
        ends_at: None,
    }
}

fn attempt(receives: u32) -> Attempt {
    Attempt { receives, max_receives: 5, deadline: Instant::now() + Duration::from_secs(20) }
}

impl Setup {
    /// A create job someone is waiting on, with a live interaction token; the token too.
    fn asked(&self, subject: &Subject) -> (Job, String) {
        let token = self.sandbox.issue_interaction_token(APPLICATION);
        let reply = InteractionReply {
            application_id: Id::new(APPLICATION),
            interaction_id: Id::new(9),
            token: token.clone(),
            received_at: self.clock.now(),
        };
        let job = Job::CreateChannels {
            retry: None,
            guild_id: Id::new(GUILD),
            subject: subject.subject.clone(),
            requested_by: None,
            reply: Some(reply),
        };
        (job, token)
    }

    fn text_channels(&self) -> Vec<String> {
        self.sandbox.with_world(|world| world.guild_channels(GUILD).map(|c| c.name.clone()).collect())
    }

    fn answer(&self, token: &str) -> Value {
        self.sandbox
            .with_world(|world| world.interactions.get(token).and_then(|i| i.original.clone()))
            .expect("@original edited")
    }
}

#[tokio::test]
async fn one_channel_however_often_the_job_comes_and_each_asker_gets_its_link() {
    let setup = setup(ADMINISTRATOR).await;
    setup.store.upsert_subject(Id::new(GUILD), &race()).await.expect("subject");
    let (job, first) = setup.asked(&race());
    assert_eq!(setup.worker.handle(job.clone(), attempt(1)).await, JobOutcome::Done);
    let (again, second) = setup.asked(&race());
    assert_eq!(setup.worker.handle(again, attempt(1)).await, JobOutcome::Done);
    assert_eq!(setup.worker.handle(job, attempt(2)).await, JobOutcome::Done, "a redelivery");

    assert_eq!(setup.text_channels(), ["spa-24-hours"], "one channel for the subject");
    let mapping = setup.store.mapping(Id::new(GUILD), &race().subject).await.expect("read").expect("mapping");
    let channel = mapping.channels.text.expect("text channel");
    assert_eq!(mapping.status, MappingStatus::Active);
    assert!(setup.answer(&first)["content"].as_str().is_some_and(|text| text.contains(&mention(channel))));
    let told = setup.answer(&second)["content"].as_str().unwrap_or_default().to_owned();
    assert!(told.contains("already has its channel") && told.contains(&mention(channel)), "{told}");
}

#[tokio::test]
async fn a_failure_the_admin_can_fix_is_answered_with_a_signed_retry_button() {
    let setup = setup(0).await;
    setup.store.upsert_subject(Id::new(GUILD), &race()).await.expect("subject");
    let (job, token) = setup.asked(&race());
    assert_eq!(setup.worker.handle(job, attempt(1)).await, JobOutcome::Done, "a permanent error is not retried");

    let mapping = setup.store.mapping(Id::new(GUILD), &race().subject).await.expect("read").expect("mapping");
    assert_eq!(mapping.status, MappingStatus::Error);
    let answer = setup.answer(&token);
    assert!(answer["content"].as_str().is_some_and(|text| text.starts_with("Couldn't create the channel for event:7")));
    let button = &answer["components"][0]["components"][0];
    assert_eq!(button["label"], "Retry", "{answer}");
    let signed = setup.state_key.verify(button["custom_id"].as_str().expect("custom_id")).expect("signed by the key");
    assert_eq!((signed.handler, signed.state), (RETRY_BUTTON, "event:7"));
    assert!(setup.text_channels().is_empty());
}

#[tokio::test]
async fn a_claim_another_attempt_holds_is_waited_for_then_taken_over_once_stale() {
    let setup = setup(ADMINISTRATOR).await;
    let guild = Id::new(GUILD);
    setup.store.upsert_subject(guild, &race()).await.expect("subject");
    let claimed = setup.store.claim(guild, &race().subject, &"crashed-attempt".into(), None, setup.clock.now()).await;
    assert!(matches!(claimed, Ok(ClaimOutcome::Claimed(_))));
    let (job, _) = setup.asked(&race());

    setup.clock.advance(30);
    let waiting = setup.worker.handle(job.clone(), attempt(1)).await;
    let stale = DEFAULT_CLAIM_STALE_AFTER.as_secs();
    assert_eq!(
        waiting,
        JobOutcome::Retry {
            after: Duration::from_secs(stale - 30),
            reason: "another attempt is creating event:7's channel".to_owned()
        },
        "back when the claim turns stale, not before"
    );
    assert!(setup.text_channels().is_empty(), "nothing made while another attempt may be at work");

    setup.clock.advance(stale);
    assert_eq!(setup.worker.handle(job, attempt(2)).await, JobOutcome::Done);
    assert_eq!(setup.text_channels(), ["spa-24-hours"]);
}

#[tokio::test]
async fn sign_ups_put_before_the_channel_get_their_board_with_the_channel() {
    let setup = setup(ADMINISTRATOR).await;
    let signups = crate::domain::Signups {
        count: 2,
        capacity: Some(20),
        entries: vec!["Ana".to_owned(), "Ben".to_owned()],
        significant: false,
    };
    let subject = Subject { signups: Some(signups), signup_url: Some("https://club.example/7".to_owned()), ..race() };
    setup.store.upsert_subject(Id::new(GUILD), &subject).await.expect("subject");
    let (job, _) = setup.asked(&subject);
    assert_eq!(setup.worker.handle(job, attempt(1)).await, JobOutcome::Done);
    let mapping = setup.store.mapping(Id::new(GUILD), &subject.subject).await.expect("read").expect("mapping");
    let (channel, board) = (mapping.channels.text.expect("text channel"), mapping.board.expect("a board"));
    let messages = setup.sandbox.with_world(|world| world.messages.get(&channel.get()).cloned().unwrap_or_default());
    let posted = messages.iter().find(|m| m["id"] == board.message_id.to_string()).expect("the board message");
    assert_eq!(posted["pinned"], true);
    assert!(posted["content"].as_str().is_some_and(|text| text.contains("2 of 20")), "{posted}");
}

#[tokio::test]
async fn a_reminder_dm_reaches_a_member_and_a_closed_door_is_no_failure() {
    let setup = setup(ADMINISTRATOR).await;
    let dm = |user: u64| Job::RemindByDm {
        guild_id: Id::new(GUILD),
        subject: race().subject,
        user_id: Id::new(user),
        message_key: "reminder:60".to_owned(),
        content: "Spa 24 Hours: 1 hour to go".to_owned(),
        parts: MessageParts::default(),
    };
    let member = 1_100_000_000_000_010_000;
    let JobOutcome::DoneWith(sent) = setup.worker.handle(dm(member), attempt(1)).await else { panic!("not sent") };
    let channel = setup.sandbox.with_world(|world| world.dm_channels.get(&member).copied()).expect("a DM channel");
    let messages = setup.sandbox.with_world(|world| world.messages.get(&channel).cloned().unwrap_or_default());
    assert_eq!(messages.len(), 1);
    assert_eq!(
        (messages[0]["id"].clone(), messages[0]["content"].clone()),
        (sent["message_id"].clone(), "Spa 24 Hours: 1 hour to go".into())
    );
    // Someone who shares no server with the bot cannot be messaged: done, not retried.
    let stranger = setup.worker.handle(dm(42), attempt(1)).await;
    assert_eq!(
        stranger,
        JobOutcome::DoneWith(serde_json::json!({ "skipped": "the member takes no DMs from the bot" }))
    );
}

#[tokio::test]
async fn names_and_messages_from_tenants_never_ping_everyone_or_a_role() {
    let setup = setup(ADMINISTRATOR).await;
    let guild = Id::new(GUILD);
    let settings = crate::domain::GuildSettings {
        welcome_message: Some("{name}: welcome".to_owned()),
        ..crate::domain::GuildSettings::default()
    };
    setup.store.update_settings(guild, 0, &settings).await.expect("settings");
    let hostile = Subject { name: "@everyone <@&555> @here free laps".to_owned(), ..race() };
    setup.store.upsert_subject(guild, &hostile).await.expect("subject");
    let (job, _) = setup.asked(&hostile);
    assert_eq!(setup.worker.handle(job, attempt(1)).await, JobOutcome::Done);
    let channel = setup.store.mapping(guild, &hostile.subject).await.expect("read").expect("mapping").channels.text;
    let channel = channel.expect("text channel").get();
    let member = 1_100_000_000_000_010_001u64;
    for (content, allow_mentions) in
        [("@everyone box now <@&555>", false), (&*format!("<@{member}> box now @here <@&555>"), true)]
    {
        let send = Job::SendMessage {
            guild_id: guild,
            subject: hostile.subject.clone(),
            content: content.to_owned(),
            message_key: format!("key-{allow_mentions}"),
            allow_mentions,
            reply_to: None,
            parts: Default::default(),
            team: None,
        };
        assert!(matches!(setup.worker.handle(send, attempt(1)).await, JobOutcome::DoneWith(_)), "posted");
    }
    let messages = setup.sandbox.with_world(|world| world.messages.get(&channel).cloned().unwrap_or_default());
    assert_eq!(messages.len(), 3, "{messages:?}");
    for message in &messages {
        assert_eq!(message["mention_everyone"], false, "{message}");
        assert_eq!(message["mention_roles"], serde_json::json!([]), "{message}");
    }
    let allowed: Vec<&Value> = messages[2]["mentions"].as_array().into_iter().flatten().collect();
    assert_eq!(allowed.len(), 1, "the allowed message pings the user it names, and only them");
    assert_eq!(allowed[0]["id"], member.to_string());
    assert!(messages[1]["mentions"].as_array().is_some_and(Vec::is_empty));
}

#[tokio::test]
async fn an_archive_category_of_another_guild_is_never_used_and_the_channel_is_locked_all_the_same() {
    let setup = setup(ADMINISTRATOR).await;
    let guild = Id::new(GUILD);
    let other_guild = GUILD + 5;
    setup.sandbox.seed_guild(GuildSeed {
        id: other_guild,
        name: "Someone else's".to_owned(),
        bot_permissions: ADMINISTRATOR,
        roles: Vec::new(),
        members: 1,
        first_member_id: 1_100_000_000_000_090_000,
        bot_every: None,
    });
    let ours = setup.sandbox.add_channel(GUILD, "Archive", 4);
    let theirs = setup.sandbox.add_channel(other_guild, "Their archive", 4);
    for (n, category) in [(1, theirs), (2, ours)] {
        let settings = crate::domain::GuildSettings {
            archive_category_id: Some(Id::new(category)),
            ..crate::domain::GuildSettings::default()
        };
        setup.store.update_settings(guild, n - 1, &settings).await.expect("settings");
        let subject = Subject { subject: SubjectRef::new(SubjectKind::Event, format!("e{n}")), ..race() };
        setup.store.upsert_subject(guild, &subject).await.expect("subject");
        let (job, _) = setup.asked(&subject);
        assert_eq!(setup.worker.handle(job, attempt(1)).await, JobOutcome::Done);
        let archive = Job::ArchiveChannel {
            guild_id: guild,
            subject: subject.subject.clone(),
            reason: "over".to_owned(),
            reply: None,
        };
        assert_eq!(setup.worker.handle(archive, attempt(1)).await, JobOutcome::Done);
        let mapping = setup.store.mapping(guild, &subject.subject).await.expect("read").expect("mapping");
        assert_eq!(mapping.status, MappingStatus::Archived);
        let text = mapping.channels.text.expect("text").get();
        let everyone_id = GUILD.to_string();
        let (parent, locked) = setup.sandbox.with_world(|world| {
            let channel = &world.channels[&text];
            let everyone = channel.overwrites.iter().find(|o| o["id"] == everyone_id.as_str()).cloned();
            (channel.parent_id, everyone.is_some_and(|o| o["deny"] != "0"))
        });
        assert!(locked, "locked either way");
        if category == theirs {
            assert_ne!(parent, Some(theirs), "never moved into another guild's category");
            let problems = setup.store.settings_problems(guild).await.expect("problems");
            let fields: Vec<&str> = problems.iter().map(|problem| problem.field.as_str()).collect();
            assert_eq!(fields, ["archive_category_id"], "the tenant is told why");
        } else {
            assert_eq!(parent, Some(ours), "moved into this guild's archive category");
        }
    }
}

#[tokio::test]
async fn a_team_voice_whose_answer_was_lost_is_found_again_rather_than_made_twice() {
    let setup = setup(ADMINISTRATOR).await;
    let guild = Id::new(GUILD);
    let member = 1_100_000_000_000_010_000;
    let settings = crate::domain::GuildSettings { team_voice: true, ..crate::domain::GuildSettings::default() };
    setup.store.update_settings(guild, 0, &settings).await.expect("settings");
    setup.store.upsert_subject(guild, &race()).await.expect("subject");
    let (job, _) = setup.asked(&race());
    assert_eq!(setup.worker.handle(job, attempt(1)).await, JobOutcome::Done);
    setup.store.link(guild, Id::new(member), "driver-0", setup.clock.now()).await.expect("link");
    let team = crate::domain::Team {
        subject: race().subject,
        team_id: crate::domain::TeamId::parse("red").expect("id"),
        name: "Red Racing".to_owned(),
        members: vec!["driver-0".to_owned()],
        removed: false,
        revision: 1,
        updated_at: 1,
    };
    setup.store.put_team(guild, &team).await.expect("team");
    let sync = Job::SyncTeam {
        guild_id: guild,
        subject: team.subject.clone(),
        team_id: team.team_id.clone(),
        revision: 1,
        settings_saved_at: None,
    };
    let lost = Some(("POST".to_owned(), "/guilds/{guild_id}/channels".to_owned()));
    setup.sandbox.set_faults(discord_sandbox::Faults { drop_once: lost, ..discord_sandbox::Faults::default() });
    let first = setup.worker.handle(sync.clone(), attempt(1)).await;
    assert!(matches!(first, JobOutcome::Retry { .. }), "the lost answer is retried: {first:?}");
    let second = setup.worker.handle(sync, attempt(2)).await;
    assert!(matches!(second, JobOutcome::DoneWith(_)), "{second:?}");

    let voices: Vec<(u64, Vec<Value>)> = setup.sandbox.with_world(|world| {
        world
            .guild_channels(GUILD)
            .filter(|c| c.kind == 2 && c.name == "Red Racing")
            .map(|c| (c.id, c.overwrites.clone()))
            .collect()
    });
    assert_eq!(voices.len(), 1, "one voice channel for the team: {voices:?}");
    let (_, state) = setup.store.team(guild, &team.subject, &team.team_id).await.expect("read").expect("team");
    assert_eq!(state.voice_id.map(Id::get), Some(voices[0].0), "the channel made first is the team's");
    assert_eq!(state.voice_members, [Id::new(member)]);
    assert!(voices[0].1.iter().any(|o| o["id"] == member.to_string().as_str() && o["allow"] != "0"));
}

//! One conformance suite, run against both adapters: the embedded store and DynamoDB (moto's
//! server on loopback, started by tools/test; `AWS_ENDPOINT_URL` says where).

use std::{collections::BTreeMap, time::Duration};

use guildbridge_aws::dynamo::{DynamoItems, create_table};
use guildbridge_core::domain::error::Report;
use guildbridge_core::{
    domain::{
        BotInstall, ChannelIds, GuildSettings, KeyDoor, KeyGrant, MappingStatus, Member, SettingsErrors, Subject,
        SubjectKind, SubjectRef, SyncCounts, SyncKind, SyncOutcome, TenantId,
    },
    store::{
        Admission, ApiKeyStore, ChannelStore, ClaimOutcome, DeadLetterRecord, DeadLetterStore, FirstOrSeen,
        IdempotencyStore, LinkStore, MemberStore, PurgeStep, PurgeStore, RateStore, RelayGuild, RelayStore,
        RelayedChannel, ScheduleStore, SettingsStore, Store, StoreError, SubjectStore, SyncRunStore, TenantStore,
        api_keys::LAST_USABLE_KEY,
        embedded::EmbeddedItems,
        items::{Condition, Item, ItemError, ItemStore, Key, Page, Query, TxWrite},
    },
};
use serde_json::json;
use twilight_model::id::{
    Id,
    marker::{ChannelMarker, GuildMarker, UserMarker},
};

const NOW: u64 = 1_795_338_000;

fn guild(n: u64) -> Id<GuildMarker> {
    Id::new(1_000_000 + n)
}
fn channel(n: u64) -> Id<ChannelMarker> {
    Id::new(2_000_000 + n)
}
fn user(n: u64) -> Id<UserMarker> {
    Id::new(3_000_000 + n)
}
fn event(id: &str) -> SubjectRef {
    SubjectRef::new(SubjectKind::Event, id)
}

mod backends {
    use super::*;

    pub async fn embedded() -> Store<EmbeddedItems> {
        Store::new(EmbeddedItems::in_memory().expect("in-memory store"))
    }

    /// A client of moto's DynamoDB. Fails, never skips, without the server.
    pub fn dynamodb_client() -> aws_sdk_dynamodb::Client {
        guildbridge_host::moto::MotoClients::connect().dynamo
    }

    /// A fresh table on the DynamoDB-compatible server.
    pub async fn dynamodb() -> Store<DynamoItems> {
        let client = dynamodb_client();
        let table = guildbridge_host::moto::unique_name("conformance");
        create_table(&client, &table)
            .await
            .unwrap_or_else(|e| panic!("cannot create a table (is the server up?): {e}"));
        Store::new(DynamoItems::new(client, table))
    }
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::backends::embedded().await).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::backends::dynamodb().await).await;
                }
            )*
        }
    };
}

conformance!(
    tenants_and_guilds_are_one_to_one,
    sixty_four_tenants_racing_for_one_guild_yield_one_connection,
    bot_install_is_recorded,
    settings_start_as_defaults_and_refuse_stale_versions,
    concurrent_settings_updates_from_one_version_yield_one_conflict,
    invalid_settings_name_every_problem_and_change_nothing,
    sixty_four_concurrent_claims_yield_one_winner,
    a_claim_completes_once_and_channels_stay_one_to_one,
    failed_and_crashed_claims_can_be_taken_again,
    mappings_page_by_status_and_cursors_stay_in_their_guild,
    subjects_upcoming_and_by_name_prefix_within_one_guild,
    members_not_seen_by_a_run_are_marked_left,
    links_are_one_to_one_and_looked_up_in_bulk,
    concurrent_sync_starts_yield_one_lease,
    a_lease_expires_checkpoints_and_releases,
    due_guilds_come_from_the_index_and_advance_once,
    the_backfill_walk_finds_every_connected_guild_page_by_page,
    idempotency_first_writer_wins_until_expiry,
    api_keys_are_hashed_scoped_and_revocable,
    a_disconnected_guild_is_forgotten_page_by_page_before_anyone_connects_it_again,
    request_counters_admit_up_to_the_limit_per_window_even_when_raced,
    a_key_expires_and_the_last_usable_key_is_never_revoked_even_when_revocations_race,
    a_relayed_guild_is_checked_once_per_due_time_and_old_channel_polls_move_to_it,
);

fn relayed(g: Id<GuildMarker>, n: u64) -> RelayedChannel {
    RelayedChannel {
        guild_id: g,
        subject: SubjectRef::new(SubjectKind::Lead, n.to_string()),
        channel_id: channel(n),
        cursor: channel(n).cast(),
        next_poll_at: NOW,
        interval: 0,
        last_message_at: None,
        subject_user: None,
        conversation_joined_at: None,
        parked: false,
        parked_reason: None,
    }
}

async fn a_relayed_guild_is_checked_once_per_due_time_and_old_channel_polls_move_to_it<I: ItemStore>(store: Store<I>) {
    let (g, h) = (guild(40), guild(41));
    for n in 0..3 {
        store.watch_relay(&relayed(g, n)).await.expect("watched");
    }
    let due = store.due_relay_guilds(NOW, 10).await.expect("due");
    assert_eq!(due.iter().map(|guild| guild.guild_id).collect::<Vec<_>>(), [g], "one check for the guild's channels");
    assert_eq!(store.guild_relays(g).await.expect("listed").len(), 3);
    assert_eq!(store.all_relays().await.expect("all").len(), 3);

    // Two pollers race for the same due check: one wins it.
    let (one, two) = tokio::join!(store.claim_guild_check(&due[0], NOW, 30), store.claim_guild_check(&due[0], NOW, 30));
    let claimed = match (one.expect("claim"), two.expect("claim")) {
        (Some(claimed), None) | (None, Some(claimed)) => claimed,
        other => panic!("exactly one claim: {other:?}"),
    };
    assert!(store.due_relay_guilds(NOW + 29, 10).await.expect("due").is_empty(), "claimed for its lease");
    let next = RelayGuild { next_check_at: NOW + 60, interval: 60, ..claimed.clone() };
    assert!(store.schedule_guild_check(&claimed, &next).await.expect("scheduled"));
    assert!(!store.schedule_guild_check(&claimed, &next).await.expect("refused"), "the claim is spent");
    assert!(store.due_relay_guilds(NOW + 59, 10).await.expect("due").is_empty());
    assert_eq!(store.due_relay_guilds(NOW + 60, 10).await.expect("due").len(), 1);

    // A channel written by the per-channel poller (indexed by its own poll time) is moved to
    // its guild's check when the index shows it.
    let old = relayed(h, 9);
    let key = Key::new(format!("GUILD#{h}"), "RELAY#lead#9");
    let mut item = serde_json::to_value(&old).expect("json").as_object().cloned().expect("object");
    for (name, value) in [
        ("pk", json!(key.pk)),
        ("sk", json!(key.sk)),
        ("gsi1pk", json!("RELAY")),
        ("gsi1sk", json!(format!("{NOW:012}#{h}#lead#9"))),
    ] {
        item.insert(name.to_owned(), value);
    }
    store.items().put(item, None).await.expect("old item");
    let first = store.due_relay_guilds(NOW, 10).await.expect("due");
    assert!(first.iter().all(|guild| guild.guild_id != h), "adopted, not yet listed: {first:?}");
    let adopted = store.due_relay_guilds(NOW, 10).await.expect("due");
    assert!(adopted.iter().any(|guild| guild.guild_id == h), "its guild is checked now: {adopted:?}");
    assert_eq!(store.relayed(h, &old.subject).await.expect("read"), Some(old.clone()), "the channel is unchanged");
    assert_eq!(store.all_relays().await.expect("all").len(), 4);

    // A disconnected guild leaves no check behind.
    store.unwatch_guild_relays(g).await.expect("unwatched");
    assert!(store.due_relay_guilds(NOW + 3600, 10).await.expect("due").iter().all(|guild| guild.guild_id != g));
    assert!(store.guild_relays(g).await.expect("listed").is_empty());
}

async fn request_counters_admit_up_to_the_limit_per_window_even_when_raced<I: ItemStore>(store: Store<I>) {
    let (a, b) = (TenantId::from("club-a"), TenantId::from("club-b"));
    let window = NOW - NOW % 60;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, a) = (store.clone(), a.clone());
            tokio::spawn(async move { store.admit(&a, "any", 10, NOW).await })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        if task.await.expect("task").expect("counted") == Admission::Admitted {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 10, "exactly the limit, however many race");
    let again = store.admit(&a, "any", 10, NOW).await;
    assert_eq!(again, Ok(Admission::Limited { retry_after: window + 60 - NOW }));
    assert_eq!(store.admit(&b, "any", 10, NOW).await, Ok(Admission::Admitted), "each tenant counts alone");
    let next = store.admit(&a, "any", 10, window + 60).await;
    assert_eq!(next, Ok(Admission::Admitted), "a new minute, a new count");
}

async fn tenants_and_guilds_are_one_to_one<I: ItemStore>(store: Store<I>) {
    store.connect(&"club-a".into(), guild(1), "Club", NOW).await.expect("first connection");
    assert_eq!(
        store.connect(&"club-b".into(), guild(1), "Club", NOW).await,
        Err(StoreError::AlreadyExists("a tenant connection for this guild"))
    );
    assert_eq!(
        store.connect(&"club-a".into(), guild(2), "Club", NOW).await,
        Err(StoreError::AlreadyExists("a guild connection for this tenant"))
    );
    assert_eq!(store.guild_of(&"club-a".into()).await, Ok(Some(guild(1))));
    assert_eq!(store.tenant_of(guild(1)).await, Ok(Some("club-a".into())));
    assert_eq!(store.guild_of(&"club-b".into()).await, Ok(None));

    assert_eq!(store.disconnect(&"club-a".into()).await, Ok(Some(guild(1))));
    assert_eq!(store.tenant_of(guild(1)).await, Ok(None));
    while store.purge_step(guild(1), 100).await.expect("purge") != PurgeStep::Finished {}
    store.connect(&"club-b".into(), guild(1), "Club", NOW).await.expect("the guild is free again");
    assert_eq!(store.disconnect(&"nobody".into()).await, Ok(None));
}

async fn a_disconnected_guild_is_forgotten_page_by_page_before_anyone_connects_it_again<I: ItemStore>(store: Store<I>) {
    let g = guild(3);
    store.connect(&"club-a".into(), g, "Club", NOW).await.expect("connect");
    let settings = GuildSettings { sync_interval_hours: 6, ..GuildSettings::default() };
    store.update_settings(g, 0, &settings).await.expect("settings");
    let members: Vec<Member> = (0..250).map(member).collect();
    store.upsert_members(g, &"run-1".into(), &members, NOW).await.expect("members");
    store.link(g, user(1), "platform-1", NOW).await.expect("link");
    store.upsert_subject(g, &subject("spa", "Spa 6h", Some(NOW + 3600))).await.expect("subject");
    store.record_bot_install(g, BotInstall { invited: true, permissions: 8, updated_at: NOW }).await.expect("bot");
    // Another guild's data is not touched.
    store.upsert_members(guild(4), &"run-1".into(), &members[..3], NOW).await.expect("members");

    store.disconnect(&"club-a".into()).await.expect("disconnect");
    assert_eq!(
        store.connect(&"club-b".into(), g, "Club", NOW).await,
        Err(StoreError::Conflict("the server's data from its previous connection is still being deleted")),
        "fenced until the walk ends"
    );
    assert_eq!(store.pending_purges(10).await, Ok(vec![g]));
    let mut steps = Vec::new();
    loop {
        match store.purge_step(g, 100).await.expect("step") {
            PurgeStep::Removed(n) => steps.push(n),
            PurgeStep::Finished => break,
        }
        assert!(steps.len() < 10, "the walk ends: {steps:?}");
    }
    assert!(steps.len() >= 3 && steps.iter().sum::<u32>() >= 253, "page by page: {steps:?}");
    assert_eq!(store.pending_purges(10).await, Ok(vec![]));

    store.connect(&"club-b".into(), g, "Club B", NOW).await.expect("free now");
    assert_eq!(store.count_members(g).await, Ok(0), "club-b starts empty");
    assert_eq!(store.links_for(g, &[user(1)]).await.map(|links| links.len()), Ok(0));
    assert_eq!(store.subject(g, &event("spa")).await, Ok(None));
    let fresh = store.settings(g).await.expect("settings");
    assert_eq!((fresh.settings, fresh.version), (GuildSettings::default(), 0));
    assert_eq!(store.bot_install(g).await.map(|bot| bot.is_some()), Ok(true), "the bot's own record stays");
    assert_eq!(store.count_members(guild(4)).await, Ok(3));
}

async fn sixty_four_tenants_racing_for_one_guild_yield_one_connection<I: ItemStore>(store: Store<I>) {
    let tasks: Vec<_> = (0..64)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.connect(&format!("tenant-{n}").into(), guild(7), "Club", NOW).await })
        })
        .collect();
    let mut winners = Vec::new();
    for (n, task) in tasks.into_iter().enumerate() {
        match task.await.expect("task") {
            Ok(()) => winners.push(format!("tenant-{n}")),
            Err(StoreError::AlreadyExists(_)) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(store.tenant_of(guild(7)).await, Ok(Some(winners[0].clone().into())));
}

async fn bot_install_is_recorded<I: ItemStore>(store: Store<I>) {
    assert_eq!(store.bot_install(guild(1)).await, Ok(None));
    let install = BotInstall { invited: true, permissions: (1 << 4) | (1 << 28), updated_at: NOW };
    store.record_bot_install(guild(1), install).await.expect("recorded");
    assert_eq!(store.bot_install(guild(1)).await, Ok(Some(install)));
}

async fn settings_start_as_defaults_and_refuse_stale_versions<I: ItemStore>(store: Store<I>) {
    let initial = store.settings(guild(1)).await.expect("read");
    assert_eq!((initial.settings.clone(), initial.version), (GuildSettings::default(), 0));
    let changed =
        GuildSettings { voice_channel: true, naming_pattern: "{series_name}-{event_name}".into(), ..initial.settings };
    assert_eq!(store.update_settings(guild(1), 0, &changed).await, Ok(1));
    assert_eq!(store.update_settings(guild(1), 0, &GuildSettings::default()).await, Err(StoreError::VersionConflict));
    assert_eq!(store.update_settings(guild(1), 5, &GuildSettings::default()).await, Err(StoreError::VersionConflict));
    let stored = store.settings(guild(1)).await.expect("read");
    assert_eq!((stored.settings, stored.version), (changed.clone(), 1));
    assert_eq!(store.update_settings(guild(1), 1, &GuildSettings::default()).await, Ok(2));
    assert_eq!(store.settings(guild(2)).await.map(|s| s.version), Ok(0), "another guild's settings are its own");
}

async fn concurrent_settings_updates_from_one_version_yield_one_conflict<I: ItemStore>(store: Store<I>) {
    store.update_settings(guild(3), 0, &GuildSettings::default()).await.expect("v1");
    let updates: Vec<_> = [24u32, 48]
        .into_iter()
        .map(|hours| {
            let store = store.clone();
            tokio::spawn(async move {
                let settings = GuildSettings { sync_interval_hours: hours, ..GuildSettings::default() };
                store.update_settings(guild(3), 1, &settings).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for update in updates {
        results.push(update.await.expect("task"));
    }
    results.sort_by_key(|r| r.is_err());
    assert_eq!(results, [Ok(2), Err(StoreError::VersionConflict)]);
}

async fn invalid_settings_name_every_problem_and_change_nothing<I: ItemStore>(store: Store<I>) {
    let good = GuildSettings { archive_retention_hours: 12, ..GuildSettings::default() };
    store.update_settings(guild(4), 0, &good).await.expect("valid");
    let bad = GuildSettings { naming_pattern: "{nope}".into(), sync_interval_hours: 1000, ..GuildSettings::default() };
    let Err(StoreError::InvalidSettings(SettingsErrors(problems))) = store.update_settings(guild(4), 1, &bad).await
    else {
        panic!("invalid settings must be refused");
    };
    assert_eq!(problems.keys().copied().collect::<Vec<_>>(), ["naming_pattern", "sync_interval_hours"]);
    let stored = store.settings(guild(4)).await.expect("read");
    assert_eq!((stored.settings, stored.version), (good, 1));
}

async fn sixty_four_concurrent_claims_yield_one_winner<I: ItemStore>(store: Store<I>) {
    let tasks: Vec<_> = (0..64)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(
                async move { store.claim(guild(1), &event("42"), &format!("attempt-{n}").into(), None, NOW).await },
            )
        })
        .collect();
    let mut winners = Vec::new();
    let mut seen_tokens = Vec::new();
    for task in tasks {
        match task.await.expect("task").expect("claim answers") {
            ClaimOutcome::Claimed(mapping) => winners.push(mapping.claim_token),
            ClaimOutcome::Existing(mapping) => seen_tokens.push(mapping.claim_token),
            ClaimOutcome::Reclaimed(_) => panic!("nothing failed, so nothing is reclaimed"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert!(seen_tokens.iter().all(|token| *token == winners[0]), "losers see the winner's claim");
    let stored = store.mapping(guild(1), &event("42")).await.expect("read").expect("mapping");
    assert_eq!((stored.status, stored.claim_token), (MappingStatus::Creating, winners[0].clone()));
}

async fn a_claim_completes_once_and_channels_stay_one_to_one<I: ItemStore>(store: Store<I>) {
    let ClaimOutcome::Claimed(_) =
        store.claim(guild(1), &event("1"), &"t1".into(), Some(user(9)), NOW).await.expect("claim")
    else {
        panic!("first claim wins");
    };
    let channels = ChannelIds { text: Some(channel(1)), voice: Some(channel(2)), ..ChannelIds::default() };
    assert_eq!(
        store.complete(guild(1), &event("1"), &"someone-else".into(), channels.clone(), NOW).await,
        Err(StoreError::Conflict("the claim is no longer held by this attempt"))
    );
    let done = store.complete(guild(1), &event("1"), &"t1".into(), channels.clone(), NOW + 1).await.expect("complete");
    assert_eq!((done.status, done.requested_by), (MappingStatus::Active, Some(user(9))));
    assert_eq!(
        store.complete(guild(1), &event("1"), &"t1".into(), channels.clone(), NOW + 2).await,
        Err(StoreError::Conflict("the claim is no longer held by this attempt")),
        "a redelivered job cannot complete twice"
    );
    for id in [channel(1), channel(2)] {
        let found = store.mapping_for_channel(guild(1), id).await.expect("read").expect("mapped");
        assert_eq!(found.subject, event("1"));
    }
    assert_eq!(store.mapping_for_channel(guild(2), channel(1)).await, Ok(None), "another guild sees nothing");

    let ClaimOutcome::Claimed(_) = store.claim(guild(1), &event("2"), &"t2".into(), None, NOW).await.expect("claim")
    else {
        panic!("a different subject is claimable");
    };
    let reused = ChannelIds { text: Some(channel(2)), ..ChannelIds::default() };
    assert_eq!(
        store.complete(guild(1), &event("2"), &"t2".into(), reused, NOW).await,
        Err(StoreError::AlreadyExists("a mapping for this channel"))
    );
    assert_eq!(
        store.mapping(guild(1), &event("2")).await.expect("read").map(|m| m.status),
        Some(MappingStatus::Creating)
    );

    let ClaimOutcome::Existing(existing) =
        store.claim(guild(1), &event("1"), &"t3".into(), None, NOW).await.expect("claim")
    else {
        panic!("a done subject is not claimed again");
    };
    assert_eq!(existing.channels, channels);
    assert_eq!(store.count_active(guild(1)).await, Ok(1));
    let archived = store.archive(guild(1), &event("1"), "event finished", NOW + 10).await.expect("archive");
    assert_eq!((archived.status, archived.reason.as_deref()), (MappingStatus::Archived, Some("event finished")));
    assert_eq!(store.count_active(guild(1)).await, Ok(0));
    assert_eq!(store.count_by_status(guild(1), MappingStatus::Archived).await, Ok(1));
    assert_eq!(store.count_by_status(guild(2), MappingStatus::Archived).await, Ok(0), "per guild");
    assert!(matches!(store.archive(guild(1), &event("1"), "again", NOW + 11).await, Err(StoreError::Conflict(_))));

    // Dead letters are counted per guild too.
    let letter = |n: u64| DeadLetterRecord {
        queue: "channel".to_owned(),
        job_type: "create_channels".to_owned(),
        body: format!("{{\"n\":{n}}}"),
        reason: "gave up".to_owned(),
        failed_at: NOW + n,
        attempts: 5,
    };
    for n in 0..3 {
        store.record_dead_letter(Some(guild(1)), &letter(n)).await.expect("recorded");
    }
    store.record_dead_letter(Some(guild(2)), &letter(9)).await.expect("recorded");
    assert_eq!(store.count_dead_letters(guild(1)).await, Ok(3));
    assert_eq!(store.count_dead_letters(guild(2)).await, Ok(1));
}

async fn failed_and_crashed_claims_can_be_taken_again<I: ItemStore>(store: Store<I>) {
    store.claim(guild(1), &event("9"), &"crashed".into(), None, NOW).await.expect("claim");
    let moved =
        store.take_over(guild(1), &event("9"), &"crashed".into(), &"retry".into(), NOW + 60).await.expect("take over");
    assert_eq!(moved.claim_token, "retry");
    assert_eq!(
        store.take_over(guild(1), &event("9"), &"crashed".into(), &"late".into(), NOW + 61).await,
        Err(StoreError::Conflict("the claim moved on")),
        "only one attempt takes over a crashed claim"
    );
    let failed = store
        .mark_error(guild(1), &event("9"), &"retry".into(), "Missing Permissions: Manage Channels", NOW + 62)
        .await;
    assert_eq!(
        failed.map(|m| (m.status, m.reason)),
        Ok((MappingStatus::Error, Some("Missing Permissions: Manage Channels".into())))
    );
    let tasks: Vec<_> = (0..16)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                store.claim(guild(1), &event("9"), &format!("after-fix-{n}").into(), None, NOW + 100).await
            })
        })
        .collect();
    let mut reclaimed = Vec::new();
    for task in tasks {
        match task.await.expect("task").expect("claim answers") {
            ClaimOutcome::Reclaimed(mapping) => reclaimed.push(mapping),
            ClaimOutcome::Existing(mapping) => assert_eq!(mapping.status, MappingStatus::Creating),
            ClaimOutcome::Claimed(_) => panic!("a failed subject is reclaimed, so the worker reconciles first"),
        }
    }
    assert_eq!(reclaimed.len(), 1, "one of many retries of a failed subject wins");
    assert_eq!(reclaimed[0].status, MappingStatus::Creating);
}

async fn mappings_page_by_status_and_cursors_stay_in_their_guild<I: ItemStore>(store: Store<I>) {
    for n in 0..5u64 {
        let subject = event(&format!("p{n}"));
        store.claim(guild(1), &subject, &"t".into(), None, NOW + n).await.expect("claim");
        let ids = ChannelIds { text: Some(channel(100 + n)), ..ChannelIds::default() };
        store.complete(guild(1), &subject, &"t".into(), ids, NOW + n).await.expect("complete");
    }
    store.claim(guild(2), &event("other"), &"t".into(), None, NOW).await.expect("claim in another guild");
    let first = store.mappings_by_status(guild(1), MappingStatus::Active, 2, None).await.expect("page 1");
    assert_eq!(first.mappings.iter().map(|m| m.subject.id.as_str()).collect::<Vec<_>>(), ["p4", "p3"]);
    let cursor = first.next.expect("more pages");
    let second = store.mappings_by_status(guild(1), MappingStatus::Active, 2, Some(&cursor)).await.expect("page 2");
    assert_eq!(second.mappings.iter().map(|m| m.subject.id.as_str()).collect::<Vec<_>>(), ["p2", "p1"]);
    assert!(
        matches!(
            store.mappings_by_status(guild(2), MappingStatus::Active, 2, Some(&cursor)).await,
            Err(StoreError::BadCursor)
        ),
        "a cursor from guild 1 does not read guild 2"
    );
    let creating = store.mappings_by_status(guild(2), MappingStatus::Creating, 10, None).await.expect("page");
    assert_eq!(creating.mappings.len(), 1);
    assert_eq!(store.count_active(guild(1)).await, Ok(5));
}

fn subject(id: &str, name: &str, starts_at: Option<u64>) -> Subject {
    Subject {
        signups: None,
        relay: None,
        subject: event(id),
        name: name.to_owned(),
        fields: BTreeMap::from([("event_name".to_owned(), name.to_owned())]),
        signup_url: Some(format!("https://club.example/events/{id}")),
        starts_at,
        discord_user_id: None,
        ends_at: None,
    }
}

async fn subjects_upcoming_and_by_name_prefix_within_one_guild<I: ItemStore>(store: Store<I>) {
    for (id, name, starts) in
        [("1", "Spa Sprint", NOW - 3600), ("2", "Monza Endurance", NOW + 7200), ("3", "spa 24h", NOW + 3600)]
    {
        store.upsert_subject(guild(1), &subject(id, name, Some(starts))).await.expect("upsert");
    }
    store.upsert_subject(guild(2), &subject("4", "Spa Elsewhere", Some(NOW + 60))).await.expect("upsert");
    let lead = Subject { subject: SubjectRef::new(SubjectKind::Lead, "L1"), ..subject("L1", "Spa Dealer", None) };
    store.upsert_subject(guild(1), &lead).await.expect("upsert lead");

    let upcoming = store.upcoming_events(guild(1), NOW, 10).await.expect("upcoming");
    assert_eq!(upcoming.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["spa 24h", "Monza Endurance"]);
    let found = store.search_subjects(guild(1), "SPA", 25).await.expect("search");
    assert_eq!(found.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["spa 24h", "Spa Dealer", "Spa Sprint"]);
    assert_eq!(store.search_subjects(guild(1), "spa", 1).await.map(|s| s.len()), Ok(1));

    let renamed = subject("1", "Zolder Sprint", Some(NOW + 10));
    store.upsert_subject(guild(1), &renamed).await.expect("replace");
    assert_eq!(store.subject(guild(1), &event("1")).await, Ok(Some(renamed)));
    assert_eq!(store.search_subjects(guild(1), "spa s", 25).await.map(|s| s.len()), Ok(0), "the old name is gone");
    assert_eq!(store.subject(guild(2), &event("1")).await, Ok(None));

    // Many at once, only the guild's own: guild 2's subject 4 is not guild 1's.
    let wanted = [event("2"), event("3"), event("4"), SubjectRef::new(SubjectKind::Lead, "L1")];
    let mut names: Vec<String> =
        store.subjects(guild(1), &wanted).await.expect("batch").into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(names, ["Monza Endurance", "Spa Dealer", "spa 24h"]);
}

fn member(n: u64) -> Member {
    Member { user_id: user(n), username: format!("driver{n}"), display_name: None, roles: Vec::new() }
}

async fn members_not_seen_by_a_run_are_marked_left<I: ItemStore>(store: Store<I>) {
    let first: Vec<Member> = (0..60).map(member).collect();
    assert_eq!(
        store.upsert_members(guild(1), &"run-1".into(), &first, NOW).await.map(|ids| ids.len() as u64),
        Ok(60),
        "all new"
    );
    assert_eq!(
        store.upsert_members(guild(1), &"run-1".into(), &first[..5], NOW).await.map(|ids| ids.len() as u64),
        Ok(5),
        "a retried page counts again"
    );
    assert_eq!(store.mark_left(guild(1), &"run-1".into(), NOW).await.map(|ids| ids.len() as u64), Ok(0));
    assert_eq!(store.count_members(guild(1)).await, Ok(60));

    let second: Vec<Member> = (10..70).map(member).collect();
    assert_eq!(
        store.upsert_members(guild(1), &"run-2".into(), &second, NOW + 60).await.map(|ids| ids.len() as u64),
        Ok(10),
        "10 joined since run 1"
    );
    assert_eq!(store.mark_left(guild(1), &"run-2".into(), NOW + 60).await.map(|ids| ids.len() as u64), Ok(10));
    assert_eq!(store.count_members(guild(1)).await, Ok(60));
    let gone = store.member(guild(1), user(3)).await.expect("read").expect("kept");
    assert!(gone.left);
    let back = store.member(guild(1), user(69)).await.expect("read").expect("new");
    assert_eq!((back.left, back.last_seen_run.as_str()), (false, "run-2"));
    assert_eq!(store.count_members(guild(2)).await, Ok(0));
    let returning: Vec<Member> = (0..2).map(member).collect();
    assert_eq!(
        store.upsert_members(guild(1), &"run-3".into(), &returning, NOW + 90).await.map(|ids| ids.len() as u64),
        Ok(2),
        "back after leaving is new"
    );
    assert_eq!(
        store.upsert_members(guild(1), &"run-3".into(), &second[..3], NOW + 90).await.map(|ids| ids.len() as u64),
        Ok(0),
        "still here is not new"
    );
}

async fn links_are_one_to_one_and_looked_up_in_bulk<I: ItemStore>(store: Store<I>) {
    store.link(guild(1), user(1), "p-1", NOW).await.expect("link");
    assert_eq!(
        store.link(guild(1), user(1), "p-2", NOW).await,
        Err(StoreError::AlreadyExists("a link for this Discord user"))
    );
    assert_eq!(
        store.link(guild(1), user(2), "p-1", NOW).await,
        Err(StoreError::AlreadyExists("a link for this platform user"))
    );
    store.link(guild(2), user(1), "p-1", NOW).await.expect("links are per guild");

    for n in 10..160 {
        store.link(guild(1), user(n), &format!("p-{n}"), NOW).await.expect("link");
    }
    let asked: Vec<_> = (0..200).map(user).collect();
    let found = store.links_for(guild(1), &asked).await.expect("bulk");
    assert_eq!(found.len(), 151);
    assert_eq!(found.get(&user(1)).map(String::as_str), Some("p-1"));
    assert_eq!(found.get(&user(159)).map(String::as_str), Some("p-159"));
    assert!(!found.contains_key(&user(5)));

    assert_eq!(store.unlink(guild(1), user(1)).await, Ok(Some("p-1".to_owned())));
    store.link(guild(1), user(2), "p-1", NOW).await.expect("the platform user is free again");
}

async fn concurrent_sync_starts_yield_one_lease<I: ItemStore>(store: Store<I>) {
    let starts: Vec<_> = ["run-a", "run-b"]
        .into_iter()
        .map(|run| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .start_run(guild(1), &run.to_string().into(), SyncKind::Manual, NOW, Duration::from_secs(900))
                    .await
            })
        })
        .collect();
    let mut started = Vec::new();
    let mut refused = Vec::new();
    for start in starts {
        match start.await.expect("task") {
            Ok(run) => started.push(run.run_id),
            Err(StoreError::LeaseHeld(lease)) => refused.push(lease.run_id),
            Err(other) => panic!("unexpected: {other}"),
        }
    }
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(refused, started, "the refused start names the running one");
}

async fn a_lease_expires_checkpoints_and_releases<I: ItemStore>(store: Store<I>) {
    let run = store
        .start_run(guild(1), &"first".into(), SyncKind::Scheduled, NOW, Duration::from_secs(900))
        .await
        .expect("start");
    assert!(matches!(
        store.start_run(guild(1), &"second".into(), SyncKind::Manual, NOW + 10, Duration::from_secs(900)).await,
        Err(StoreError::LeaseHeld(_))
    ));
    let counts = SyncCounts { total: 1000, matched: 10, new: 3, left: 0, errors: 0 };
    let run = store
        .checkpoint(guild(1), &run, user(999), counts, NOW + 20, Duration::from_secs(900))
        .await
        .expect("checkpoint");
    assert_eq!(run.cursor, Some(user(999)));

    // The first run stops renewing; its lease lapses and another run may start.
    let taken = store
        .start_run(guild(1), &"third".into(), SyncKind::Manual, NOW + 20 + 901, Duration::from_secs(900))
        .await
        .expect("after expiry");
    assert!(
        matches!(
            store.checkpoint(guild(1), &run, user(1000), counts, NOW + 1000, Duration::from_secs(900)).await,
            Err(StoreError::Conflict(_))
        ),
        "the lapsed run cannot renew a lease it lost"
    );
    store
        .finish_run(guild(1), &run, counts, SyncOutcome::Failed("lease lost".into()), NOW + 1001)
        .await
        .expect("record");
    assert_eq!(store.lease(guild(1), NOW + 1001).await.expect("read").map(|l| l.run_id), Some("third".into()));
    store.finish_run(guild(1), &taken, counts, SyncOutcome::Succeeded, NOW + 1002).await.expect("finish");
    assert_eq!(store.lease(guild(1), NOW + 1002).await, Ok(None));
    store
        .start_run(guild(1), &"fourth".into(), SyncKind::Webhook, NOW + 1003, Duration::from_secs(900))
        .await
        .expect("free after release");

    let runs = store.recent_runs(guild(1), 10).await.expect("runs");
    assert_eq!(runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["fourth", "third", "first"]);
    assert_eq!(runs[1].outcome, SyncOutcome::Succeeded);
    assert_eq!(runs[2].outcome, SyncOutcome::Failed("lease lost".into()));
    assert_eq!(runs[1].counts, counts);
}

async fn due_guilds_come_from_the_index_and_advance_once<I: ItemStore>(store: Store<I>) {
    // Connecting writes the schedule, the initial sync due at once.
    for (n, at) in [(1, NOW - 60), (2, NOW), (3, NOW + 60)] {
        store.connect(&format!("t{n}").into(), guild(n), "G", at).await.expect("connect");
    }
    assert_eq!(due(&store).await, vec![(guild(1), NOW - 60), (guild(2), NOW)]);
    assert!(!store.ensure_schedule(guild(3), NOW).await.expect("ensure"), "a connected guild has its schedule");
    assert!(store.reschedule(guild(3), NOW + 3600).await.expect("move"), "an interval change moves it");
    assert!(!store.reschedule(guild(9), NOW).await.expect("move"), "an unconnected guild gets none");

    let racers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.advance(guild(1), NOW - 60, NOW + 86_400).await })
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        if racer.await.expect("task").expect("advance") {
            won += 1;
        }
    }
    assert_eq!(won, 1, "one due time, one job");
    assert_eq!(due(&store).await, vec![(guild(2), NOW)]);
    store.disconnect(&"t2".into()).await.expect("disconnect");
    assert_eq!(due(&store).await, vec![], "disconnecting removes the schedule");
    assert_eq!(store.sync_schedule(guild(2)).await, Ok(None));
}

async fn the_backfill_walk_finds_every_connected_guild_page_by_page<I: ItemStore>(store: Store<I>) {
    for n in 1..=5 {
        store.connect(&format!("t{n}").into(), guild(n), "G", NOW).await.expect("connect");
    }
    let (mut found, mut after) = (Vec::new(), None);
    for _ in 0..100 {
        let (guilds, next) = store.connected_guilds(after.as_deref(), 3).await.expect("page");
        found.extend(guilds);
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    found.sort();
    assert_eq!(found, (1..=5).map(guild).collect::<Vec<_>>(), "each guild once, the tenants' sides left out");
}

async fn due<I: ItemStore>(store: &Store<I>) -> Vec<(Id<GuildMarker>, u64)> {
    store.due_syncs(NOW, 10).await.expect("due").into_iter().map(|s| (s.guild_id, s.next_at)).collect()
}

async fn idempotency_first_writer_wins_until_expiry<I: ItemStore>(store: Store<I>) {
    let first = store.remember("interaction", "111", json!({ "job": "a" }), NOW, Duration::from_secs(900)).await;
    assert_eq!(first, Ok(FirstOrSeen::First));
    let again = store.remember("interaction", "111", json!({ "job": "b" }), NOW + 5, Duration::from_secs(900)).await;
    assert_eq!(again, Ok(FirstOrSeen::Seen(json!({ "job": "a" }))));
    assert_eq!(store.recall("interaction", "111", NOW + 899).await, Ok(Some(json!({ "job": "a" }))));
    assert_eq!(store.recall("interaction", "111", NOW + 900).await, Ok(None), "expiry is checked on read");
    let later = store.remember("interaction", "111", json!({ "job": "c" }), NOW + 901, Duration::from_secs(900)).await;
    assert_eq!(later, Ok(FirstOrSeen::First), "an expired record counts as absent");
    assert_eq!(
        store.remember("job", "111", json!(1), NOW, Duration::from_secs(60)).await,
        Ok(FirstOrSeen::First),
        "scopes are separate"
    );
}

async fn api_keys_are_hashed_scoped_and_revocable<I: ItemStore>(store: Store<I>) {
    let issued = store.issue_api_key(&"club-a".into(), NOW).await.expect("issue");
    assert!(issued.secret.starts_with("gbk_") && issued.secret.len() > 40);
    assert!(!format!("{issued:?}").contains(&issued.secret));
    let key_id = issued.record.key_id.clone();
    assert_eq!(store.tenant_for_key(&issued.secret, NOW).await, Ok(Some(("club-a".into(), key_id.clone()))));
    assert_eq!(store.tenant_for_key("gbk_not-a-key", NOW).await, Ok(None));
    assert_eq!(store.tenant_for_key("", NOW).await, Ok(None));
    assert_eq!((issued.record.door, issued.record.created_by.as_deref()), (KeyDoor::Operator, Some("operator")));

    let keys = store.api_keys(&"club-a".into()).await.expect("list");
    assert_eq!(keys.len(), 1);
    assert_eq!(
        store.revoke_api_key(&"club-b".into(), &key_id, NOW).await,
        Err(StoreError::NotFound("API key")),
        "another tenant cannot revoke it"
    );
    store.revoke_api_key(&"club-a".into(), &key_id, NOW + 1).await.expect("revoke");
    assert_eq!(store.tenant_for_key(&issued.secret, NOW + 1).await, Ok(None));
    assert_eq!(store.api_keys(&"club-a".into()).await.expect("list")[0].revoked_at, Some(NOW + 1));
}

async fn a_key_expires_and_the_last_usable_key_is_never_revoked_even_when_revocations_race<I: ItemStore>(
    store: Store<I>,
) {
    let tenant: TenantId = "club-a".into();
    let grant = |expires_at| KeyGrant { door: KeyDoor::Api, created_by: "key 0123".into(), expires_at };
    let brief = store.issue_key(&tenant, grant(Some(NOW + 60)), NOW).await.expect("issue");
    assert!(store.tenant_for_key(&brief.secret, NOW + 59).await.expect("read").is_some());
    assert_eq!(store.tenant_for_key(&brief.secret, NOW + 60).await, Ok(None), "expired");
    // The expired key does not count as usable: the only other one cannot be revoked.
    let only = store.issue_key(&tenant, grant(None), NOW).await.expect("issue");
    assert_eq!(
        store.revoke_api_key_keeping_one(&tenant, &only.record.key_id, NOW + 61).await,
        Err(StoreError::Conflict(LAST_USABLE_KEY))
    );
    // Two usable keys, each revoked by a request racing the other: one of them stays.
    let second = store.issue_key(&tenant, grant(None), NOW).await.expect("issue");
    let ids = [only.record.key_id.clone(), second.record.key_id.clone()];
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let (store, tenant, id) = (store.clone(), tenant.clone(), id.clone());
            tokio::spawn(async move { store.revoke_api_key_keeping_one(&tenant, &id, NOW + 62).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task"));
    }
    assert_eq!(outcomes.iter().filter(|outcome| outcome.is_ok()).count(), 1, "{outcomes:?}");
    let usable = store.api_keys(&tenant).await.expect("list").into_iter().filter(|key| key.usable_at(NOW + 62)).count();
    assert_eq!(usable, 1);
    assert_eq!(
        store.revoke_api_key_keeping_one(&"club-b".into(), &ids[0], NOW).await,
        Err(StoreError::NotFound("API key")),
        "another tenant's key is not found"
    );
}

/// An item store whose next batch write stops part-way (after `after` items), as a
/// BatchWriteItem that keeps coming back unprocessed does.
struct FailsOneBatchWrite {
    inner: EmbeddedItems,
    after: std::sync::Mutex<Option<usize>>,
}

#[async_trait::async_trait]
impl ItemStore for FailsOneBatchWrite {
    async fn get(&self, key: &Key) -> Result<Option<Item>, ItemError> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, ItemError> {
        self.inner.get_many(keys).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), ItemError> {
        self.inner.put(item, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), ItemError> {
        self.inner.delete(key, condition).await
    }
    async fn transact(&self, writes: Vec<TxWrite>) -> Result<(), ItemError> {
        self.inner.transact(writes).await
    }
    async fn put_many(&self, mut items: Vec<Item>) -> Result<(), ItemError> {
        let cut = self.after.lock().unwrap().take();
        match cut {
            Some(after) if after < items.len() => {
                items.truncate(after);
                self.inner.put_many(items).await?;
                Err(ItemError::Throttled)
            }
            _ => self.inner.put_many(items).await,
        }
    }
    async fn query(&self, query: &Query) -> Result<Page, ItemError> {
        self.inner.query(query).await
    }
    async fn count(&self, query: &Query) -> Result<u64, ItemError> {
        self.inner.count(query).await
    }
    async fn scan(&self, scan: &guildbridge_core::store::items::Scan) -> Result<Page, ItemError> {
        self.inner.scan(scan).await
    }
    async fn count_up(&self, key: &Key, attribute: &str, limit: u64, expires_at: u64) -> Result<u64, ItemError> {
        self.inner.count_up(key, attribute, limit, expires_at).await
    }
}

#[tokio::test]
async fn members_marked_left_by_an_interrupted_attempt_are_still_counted_on_the_retry() {
    let items = FailsOneBatchWrite { inner: EmbeddedItems::in_memory().expect("store"), after: Default::default() };
    let store = Store::new(items);
    let members: Vec<Member> = (0..40).map(member).collect();
    store.upsert_members(guild(1), &"run-1".into(), &members, NOW).await.expect("first run");
    store.upsert_members(guild(1), &"run-2".into(), &members[..10], NOW + 60).await.expect("second run sees 10");
    *store.items().after.lock().unwrap() = Some(12);
    assert!(store.mark_left(guild(1), &"run-2".into(), NOW + 61).await.is_err(), "the write stopped after 12 of 30");
    assert_eq!(
        store.mark_left(guild(1), &"run-2".into(), NOW + 62).await.map(|ids| ids.len() as u64),
        Ok(30),
        "the retry counts all who left"
    );
    assert_eq!(
        store.mark_left(guild(1), &"run-2".into(), NOW + 63).await.map(|ids| ids.len() as u64),
        Ok(30),
        "and so does any later retry"
    );
    assert_eq!(store.count_members(guild(1)).await, Ok(10));
}

#[tokio::test]
async fn a_missing_table_is_a_configuration_error_not_a_busy_store() {
    let client = backends::dynamodb_client();
    let missing = Store::new(DynamoItems::new(client, "guildbridge-no-such-table"));
    let error = missing.mapping(guild(1), &event("1")).await.expect_err("no table");
    assert!(matches!(error, StoreError::Misconfigured(_)), "{error:?}");
    assert!(!error.is_retryable());
    let report = Report(&error).to_string();
    assert!(report.contains("TABLE_NAME"), "says what to check: {report}");
}

#[tokio::test]
async fn the_embedded_store_survives_a_restart() {
    let path = std::env::temp_dir().join(format!("guildbridge-restart-{}.sqlite3", std::process::id()));
    let _ = std::fs::remove_file(&path);
    {
        let store = Store::new(EmbeddedItems::open(&path).expect("open"));
        store.claim(guild(1), &event("1"), &"t".into(), None, NOW).await.expect("claim");
    }
    let store = Store::new(EmbeddedItems::open(&path).expect("reopen"));
    let ClaimOutcome::Existing(mapping) =
        store.claim(guild(1), &event("1"), &"u".into(), None, NOW).await.expect("claim")
    else {
        panic!("the claim survived the restart");
    };
    assert_eq!(mapping.claim_token, "t");
    drop(store);
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn documented_dynamodb_costs_hold() {
    let store = backends::dynamodb().await;
    let calls = || {
        let c = store.items().calls();
        (c.writes(), c.reads(), c.transact_write_items.load(std::sync::atomic::Ordering::Relaxed))
    };
    let before = calls();
    store.connect(&"club".into(), guild(1), "Club", NOW).await.expect("connect");
    assert_eq!(delta(before, calls()), (1, 0, 1), "connect: 1 TransactWriteItems");

    let before = calls();
    store.claim(guild(1), &event("1"), &"t".into(), None, NOW).await.expect("claim");
    assert_eq!(delta(before, calls()), (1, 0, 0), "claim: 1 PutItem");

    let before = calls();
    let ids = ChannelIds { text: Some(channel(1)), ..ChannelIds::default() };
    store.complete(guild(1), &event("1"), &"t".into(), ids, NOW).await.expect("complete");
    assert_eq!(delta(before, calls()), (1, 1, 1), "complete: 1 GetItem + 1 TransactWriteItems");

    let members: Vec<Member> = (0..60).map(member).collect();
    let before = calls();
    store.upsert_members(guild(1), &"r".into(), &members, NOW).await.expect("members");
    assert_eq!(delta(before, calls()), (3, 1, 0), "60 members: 1 BatchGetItem + 3 BatchWriteItem");

    let before = calls();
    store.due_syncs(NOW, 10).await.expect("due");
    assert_eq!(delta(before, calls()), (0, 1, 0), "due syncs: 1 Query, no scan");
}

fn delta(before: (u64, u64, u64), after: (u64, u64, u64)) -> (u64, u64, u64) {
    (after.0 - before.0, after.1 - before.1, after.2 - before.2)
}

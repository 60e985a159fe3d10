//! The timeline's decisions on the embedded store and queue: an action due while its
//! channel is being made waits for it (or, too late, is skipped with why), and a decision
//! stands when the subject's times move or it is put again unchanged.

use std::{sync::Arc, time::Duration};

use guildbridge_core::{
    domain::{
        ChannelIds, GuildSettings, Job, MessageTemplate, QueueKind, ReminderSetting, Subject, SubjectKind, SubjectRef,
    },
    queue::embedded::EmbeddedQueue,
    store::{
        ActionOutcome, ChannelStore, DomainStore, SettingsStore, Store, SubjectStore, TimelineStore,
        embedded::EmbeddedItems,
    },
    timeline::{plan_subject, run_timeline},
};
use twilight_model::id::{Id, marker::GuildMarker};

const NOW: u64 = 1_795_338_000;
const HOUR: u64 = 3600;

fn guild() -> Id<GuildMarker> {
    Id::new(4_242)
}

struct Timeline {
    store: Arc<Store<EmbeddedItems>>,
    queue: EmbeddedQueue,
}

impl Timeline {
    async fn new() -> Self {
        let store = Arc::new(Store::new(EmbeddedItems::in_memory().expect("store")));
        let reminder = ReminderSetting { before_minutes: 60, template: MessageTemplate::text("{name} in {offset}") };
        let settings = GuildSettings { reminders: vec![reminder], ..GuildSettings::default() };
        store.update_settings(guild(), 0, &settings).await.expect("settings");
        Self { store, queue: EmbeddedQueue::in_memory().expect("queue") }
    }

    /// Put as the API puts it: the subject stored, then planned.
    async fn put(&self, subject: &Subject, now: u64) {
        self.store.upsert_subject(guild(), subject).await.expect("subject");
        plan_subject(self.store.as_ref() as &dyn DomainStore, &self.queue, guild(), subject, false, now)
            .await
            .expect("planned");
    }

    async fn messages(&self) -> Vec<String> {
        let mut keys = Vec::new();
        while let Some(received) =
            self.queue.receive(QueueKind::Channel, Duration::from_secs(30)).await.expect("receive")
        {
            self.queue.delete(received.receipt).await.expect("delete");
            if let Job::SendMessage { message_key, .. } = received.job {
                keys.push(message_key);
            }
        }
        keys
    }

    async fn outcome(&self, subject: &SubjectRef, action: &str) -> Option<(u64, ActionOutcome)> {
        let taken = self.store.actions_taken(guild(), subject).await.expect("taken");
        taken.into_iter().find(|record| record.action == action).map(|record| (record.due_at, record.outcome))
    }
}

fn race(id: &str, starts_at: u64) -> Subject {
    Subject {
        subject: SubjectRef::new(SubjectKind::Event, id),
        name: format!("Race {id}"),
        fields: Default::default(),
        signup_url: None,
        starts_at: Some(starts_at),
        ends_at: None,
        discord_user_id: None,
        relay: None,
        signups: None,
    }
}

#[tokio::test]
async fn a_reminder_due_while_the_channel_is_made_waits_for_it_and_one_too_late_is_skipped_with_why() {
    let t = Timeline::new().await;
    let store = t.store.as_ref();
    let starts = NOW + 2 * HOUR;
    let subject = race("slow", starts);
    t.put(&subject, NOW).await;
    store.claim(guild(), &subject.subject, &"token".into(), None, NOW).await.expect("the channel job claims it");

    let due = starts - HOUR;
    let report = run_timeline(store, &t.queue, due + 30).await.expect("timeline");
    assert_eq!((report.waiting, report.posted, report.skipped), (1, 0, 0), "{report:?}");
    assert_eq!(t.outcome(&subject.subject, "reminder:60").await, None, "not decided while the channel is made");

    let channels = ChannelIds { text: Some(Id::new(77)), ..ChannelIds::default() };
    store.complete(guild(), &subject.subject, &"token".into(), channels, due + 60).await.expect("made");
    let report = run_timeline(store, &t.queue, due + 90).await.expect("timeline");
    assert_eq!((report.waiting, report.posted), (0, 1), "{report:?}");
    assert_eq!(t.messages().await, vec!["reminder:60"]);

    // Another whose channel is still being made when its reminder is too late: skipped, with why.
    let stuck = race("stuck", starts);
    t.put(&stuck, NOW).await;
    store.claim(guild(), &stuck.subject, &"other".into(), None, NOW).await.expect("claimed");
    run_timeline(store, &t.queue, due + 30).await.expect("timeline");
    let report = run_timeline(store, &t.queue, due + HOUR + 60).await.expect("timeline");
    assert_eq!(report.skipped, 1, "{report:?}");
    let Some((_, ActionOutcome::Skipped(reason))) = t.outcome(&stuck.subject, "reminder:60").await else {
        panic!("skipped")
    };
    assert!(reason.contains("late"), "{reason}");
}

#[tokio::test]
async fn a_decision_stands_when_the_start_moves_or_the_subject_is_put_again() {
    let t = Timeline::new().await;
    let store = t.store.as_ref();
    let starts = NOW + 2 * HOUR;
    let subject = race("moved", starts);
    t.put(&subject, NOW).await;
    let channels = ChannelIds { text: Some(Id::new(78)), ..ChannelIds::default() };
    store.claim(guild(), &subject.subject, &"token".into(), None, NOW).await.expect("claim");
    store.complete(guild(), &subject.subject, &"token".into(), channels, NOW).await.expect("made");

    run_timeline(store, &t.queue, starts - HOUR).await.expect("timeline");
    assert_eq!(t.messages().await, vec!["reminder:60"]);

    // The start moves later: the reminder stays decided for the time it was due.
    let moved = race("moved", starts + 3 * HOUR);
    t.put(&moved, NOW + 10).await;
    for at in [starts + HOUR, starts + 2 * HOUR, starts + 3 * HOUR] {
        run_timeline(store, &t.queue, at).await.expect("timeline");
    }
    assert_eq!(t.messages().await, Vec::<String>::new(), "never posted again");
    assert_eq!(t.outcome(&subject.subject, "reminder:60").await, Some((starts - HOUR, ActionOutcome::Posted)));

    // Put again as it is, after the reminder's time: nothing comes back.
    t.put(&moved, NOW + 20).await;
    run_timeline(store, &t.queue, starts + 3 * HOUR + 60).await.expect("timeline");
    assert_eq!(t.messages().await, Vec::<String>::new());
}

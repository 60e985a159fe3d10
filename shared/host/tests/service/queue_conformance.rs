//! Jobs through both queue adapters: SQS FIFO on moto's server, and the embedded queue.

use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use guildbridge_aws::sqs::SqsQueues;
use guildbridge_core::clock::ManualClock;
use guildbridge_core::{
    domain::{Job, QueueKind, SubjectKind, SubjectRef, SyncKind},
    queue::{JobQueue, embedded::EmbeddedQueue},
};
use twilight_model::id::Id;

fn create_job(subject: &str) -> Job {
    Job::CreateChannels {
        retry: None,
        guild_id: Id::new(555),
        subject: SubjectRef::new(SubjectKind::Event, subject),
        requested_by: None,
        reply: None,
    }
}

fn sync_job() -> Job {
    Job::SyncMembers {
        guild_id: Id::new(555),
        kind: SyncKind::Manual,
        request_id: "interaction:1".into(),
        reply: None,
        after: None,
    }
}

#[tokio::test]
async fn embedded_queue_deduplicates_hides_releases_and_deletes() {
    let clock = ManualClock::starting_at(1_795_338_000);
    let queue = EmbeddedQueue::in_memory().expect("queue").with_clock(std::sync::Arc::new(clock.clone()));
    queue.enqueue(&create_job("1")).await.expect("enqueue");
    queue.enqueue(&create_job("1")).await.expect("duplicate collapses");
    queue.enqueue(&sync_job()).await.expect("enqueue");
    assert_eq!(queue.len(QueueKind::Channel).await, Ok(1));
    assert_eq!(queue.len(QueueKind::Sync).await, Ok(1));

    let first = queue.receive(QueueKind::Channel, Duration::from_secs(30)).await.expect("receive").expect("a job");
    assert_eq!((first.job.clone(), first.receives), (create_job("1"), 1));
    assert_eq!(queue.receive(QueueKind::Channel, Duration::from_secs(30)).await, Ok(None), "hidden while in flight");
    queue.release(first.receipt, Duration::from_secs(10)).await.expect("release");
    clock.advance(11);
    let again = queue.receive(QueueKind::Channel, Duration::from_secs(30)).await.expect("receive").expect("back again");
    assert_eq!(again.receives, 2, "the receive count grows towards the dead-letter limit");
    queue.delete(again.receipt).await.expect("delete");
    assert_eq!(queue.len(QueueKind::Channel).await, Ok(0));

    clock.advance(301);
    queue.enqueue(&create_job("1")).await.expect("enqueue");
    assert_eq!(queue.len(QueueKind::Channel).await, Ok(1), "after the window the same key is new work");

    let given_up = queue.receive(QueueKind::Channel, Duration::from_secs(30)).await.expect("receive").expect("a job");
    queue.dead_letter(given_up.receipt, "Discord kept failing: 502").await.expect("dead-letter");
    assert_eq!(queue.len(QueueKind::Channel).await, Ok(0));
    let dead = queue.dead_letters(QueueKind::Channel).await.expect("list");
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (&dead[0].job, dead[0].receives, dead[0].reason.as_str()),
        (&Some(create_job("1")), 1, "Discord kept failing: 502")
    );
}

fn guild_job(guild: u64, subject: &str) -> Job {
    Job::CreateChannels {
        retry: None,
        guild_id: Id::new(guild),
        subject: SubjectRef::new(SubjectKind::Lead, subject),
        requested_by: None,
        reply: None,
    }
}

#[tokio::test]
async fn embedded_queue_keeps_each_message_group_in_order_and_lets_other_groups_flow() {
    let clock = ManualClock::starting_at(1_795_338_000);
    let queue = EmbeddedQueue::in_memory().expect("queue").with_clock(std::sync::Arc::new(clock.clone()));
    let receive = || queue.receive(QueueKind::Channel, Duration::from_secs(30));
    for job in [guild_job(1, "first"), guild_job(1, "second"), guild_job(2, "other")] {
        queue.enqueue(&job).await.expect("enqueue");
    }
    let first = receive().await.expect("receive").expect("a job");
    assert_eq!(first.job, guild_job(1, "first"));
    // It fails and waits for its retry: guild 1's next job waits behind it, guild 2's does not.
    queue.release(first.receipt, Duration::from_secs(10)).await.expect("release");
    let other = receive().await.expect("receive").expect("another group flows on");
    assert_eq!(other.job, guild_job(2, "other"));
    queue.delete(other.receipt).await.expect("delete");
    assert_eq!(receive().await, Ok(None), "the second job of the group does not overtake the failed first");
    clock.advance(11);
    let retried = receive().await.expect("receive").expect("the retry comes first");
    assert_eq!((retried.job.clone(), retried.receives), (guild_job(1, "first"), 2));
    assert_eq!(receive().await, Ok(None), "still held while the retry is in flight");
    queue.delete(retried.receipt).await.expect("it succeeds");
    let second = receive().await.expect("receive").expect("then the second");
    assert_eq!(second.job, guild_job(1, "second"));

    // A job given up on frees its group too.
    queue.enqueue(&guild_job(1, "third")).await.expect("enqueue");
    queue.release(second.receipt, Duration::from_secs(60)).await.expect("fails again");
    assert_eq!(receive().await, Ok(None), "the third waits behind the failing second");
    clock.advance(61);
    let again = receive().await.expect("receive").expect("the second again");
    assert_eq!(again.job, guild_job(1, "second"));
    queue.dead_letter(again.receipt, "gave up").await.expect("dead-letter");
    let third = receive().await.expect("receive").expect("the third goes once the second is dead-lettered");
    assert_eq!(third.job, guild_job(1, "third"));
}

#[tokio::test]
async fn an_unreadable_job_is_dead_lettered_at_once_and_the_listing_survives_it() {
    let queue = EmbeddedQueue::in_memory().expect("queue");
    queue.enqueue_body(QueueKind::Channel, "poison", "{\"type\":\"teleport\"}").await.expect("enqueue");
    queue.enqueue(&create_job("after")).await.expect("enqueue");
    let received =
        queue.receive(QueueKind::Channel, Duration::from_secs(30)).await.expect("the poison does not block the queue");
    assert_eq!(received.map(|r| r.job), Some(create_job("after")), "the next job is handed out");
    assert_eq!(
        queue.receive(QueueKind::Channel, Duration::ZERO).await,
        Ok(None),
        "the poison is never handed out again"
    );
    let dead = queue.dead_letters(QueueKind::Channel).await.expect("listing survives a bad body");
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].job.as_ref(), dead[0].body.as_str()), (None, "{\"type\":\"teleport\"}"));
    assert!(dead[0].reason.contains("not a Guildbridge job"), "{}", dead[0].reason);
}

#[tokio::test]
async fn embedded_queue_keeps_jobs_across_a_restart() {
    let path = std::env::temp_dir().join(format!("guildbridge-queue-{}.sqlite3", std::process::id()));
    let _ = std::fs::remove_file(&path);
    EmbeddedQueue::open(&path).expect("open").enqueue(&create_job("7")).await.expect("enqueue");
    let reopened = EmbeddedQueue::open(&path).expect("reopen");
    let received =
        reopened.receive(QueueKind::Channel, Duration::from_secs(30)).await.expect("receive").expect("survived");
    assert_eq!(received.job, create_job("7"));
    drop(reopened);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test]
async fn sqs_fifo_groups_by_guild_and_deduplicates_by_job_key() {
    let client = guildbridge_host::moto::MotoClients::connect().sqs;
    let suffix = guildbridge_host::moto::unique_name("jobs");
    let mut urls = Vec::new();
    for name in ["channel", "sync", "webhook"] {
        let created = client
            .create_queue()
            .queue_name(format!("{name}-{suffix}.fifo"))
            .attributes(QueueAttributeName::FifoQueue, "true")
            .send()
            .await
            .expect("create queue");
        urls.push(created.queue_url.expect("url"));
    }
    let queues = SqsQueues::new(client.clone(), &urls[0], &urls[1], &urls[2]);
    queues.enqueue(&create_job("1")).await.expect("enqueue");
    queues.enqueue(&create_job("1")).await.expect("redelivered request");
    queues.enqueue(&create_job("2")).await.expect("enqueue");
    queues.enqueue(&sync_job()).await.expect("enqueue");

    let received = client
        .receive_message()
        .queue_url(&urls[0])
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
        .send()
        .await
        .expect("receive");
    let messages = received.messages.unwrap_or_default();
    let jobs: Vec<Job> = messages.iter().map(|m| Job::from_body(m.body().unwrap_or_default()).expect("job")).collect();
    assert_eq!(jobs, [create_job("1"), create_job("2")], "the duplicate collapsed; order kept");
    for message in &messages {
        let group = message.attributes().and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId));
        assert_eq!(group.map(String::as_str), Some("555"), "one message group per guild");
    }
    let sync = client.receive_message().queue_url(&urls[1]).send().await.expect("receive").messages.unwrap_or_default();
    assert_eq!(sync.len(), 1);
    assert_eq!(Job::from_body(sync[0].body().unwrap_or_default()), Ok(sync_job()));
}

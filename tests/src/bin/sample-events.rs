//! Writes the sample events under `events/interactions/` and the answers each must get.
//! Deterministic (Ed25519 signatures are), so re-running it changes nothing unless the
//! samples or their expected answers change: `cargo run -p e2e --bin sample-events`.
//!
//! `-- --signed-now DIR` instead writes copies of the interaction samples signed now (the
//! function accepts signatures an hour old at most), for `cargo lambda invoke`.

use std::fs;

use anyhow::Context;
use e2e::events::{Host, HttpPost, events_dir, sample_env, test_signing_key};
use guildbridge_core::{
    domain::{Job, SubjectKind, SubjectRef, SyncKind},
    interactions::commands::manifest,
    test_support::interactions::{self as fake_discord, Invoker},
};
use serde_json::{Value, json};
use twilight_model::id::Id;

/// 2026-11-22T09:00:00Z. The samples are verified with a wide freshness window.
const SIGNED_AT: u64 = 1_795_338_000;

struct Sample {
    name: &'static str,
    about: &'static str,
    host: Host,
    request: HttpPost,
    status: u16,
    body: Value,
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    if let Some(flag) = args.next() {
        anyhow::ensure!(flag == "--signed-now", "usage: sample-events [--signed-now DIR]");
        let dir = std::path::PathBuf::from(args.next().context("--signed-now needs a folder")?);
        return write_signed_now(&dir);
    }
    let key = test_signing_key()?;
    let settings_url = sample_env()?
        .into_iter()
        .find_map(|(k, v)| (k == "SETTINGS_URL").then_some(v))
        .context("events/interactions.env lacks SETTINGS_URL")?;
    let invoker = Invoker::default();
    let guild_id = invoker.guild_id.context("demo invoker has a guild")?;
    let sign = |value: &Value| fake_discord::sign(&key, SIGNED_AT, value.to_string().into_bytes());

    let ping = fake_discord::ping(&invoker, 1_100_000_000_000_001_000);
    let channel_create =
        fake_discord::command("/channel create name:\"Race Night\"", &manifest(), &invoker, 1_100_000_000_000_001_003)?;
    let dm = Invoker { guild_id: None, ..invoker.clone() };
    let channel_in_dm =
        fake_discord::command("/channel create name:demo", &manifest(), &dm, 1_100_000_000_000_001_004)?;
    let member = Invoker { permissions: 1 << 11, ..invoker.clone() };
    let channel_unpermitted =
        fake_discord::command("/channel create name:demo", &manifest(), &member, 1_100_000_000_000_001_005)?;
    let events = fake_discord::command("/events", &manifest(), &invoker, 1_100_000_000_000_001_006)?;
    let mut signup_typing =
        fake_discord::command("/signup event:spa", &manifest(), &invoker, 1_100_000_000_000_001_007)?;
    signup_typing["type"] = json!(4);
    signup_typing["data"]["options"][0]["focused"] = json!(true);
    let ephemeral = |content: &str| json!({ "type": 4, "data": { "content": content, "flags": 64 } });
    let settings = fake_discord::command("/settings", &manifest(), &invoker, 1_100_000_000_000_001_001)?;
    let mut unknown = fake_discord::command("/settings", &manifest(), &invoker, 1_100_000_000_000_001_002)?;
    unknown["data"]["name"] = json!("teleport");

    let page = format!("{settings_url}/guilds/{guild_id}");
    let settings_answer = json!({
        "type": 4,
        "data": {
            "content": format!("Guildbridge settings for this server: {page}"),
            "flags": 64,
            "components": [{ "type": 1, "components": [{
                "type": 2, "style": 5, "label": "Open settings", "url": page
            }] }]
        }
    });
    let unauthorized = json!({ "error": "invalid_request_signature", "message": "invalid request signature" });

    let mut forged = HttpPost::signed("/", &sign(&settings));
    forged.body = serde_json::to_vec(&json!({ "type": 1 }))?;
    let malformed = fake_discord::sign(&key, SIGNED_AT, b"{\"type\": 2, \"data\": ".to_vec());
    let mut base64 = HttpPost::signed("/", &sign(&settings));
    base64.base64 = true;
    let mut rest = HttpPost::signed("/interactions", &sign(&settings));
    for (name, _) in &mut rest.headers {
        *name = name.split('-').map(title_case).collect::<Vec<_>>().join("-");
    }

    let samples = [
        Sample {
            name: "ping",
            about: "Discord's endpoint check",
            host: Host::FunctionUrl,
            request: HttpPost::signed("/", &sign(&ping)),
            status: 200,
            body: json!({ "type": 1 }),
        },
        Sample {
            name: "settings-command",
            about: "/settings in a guild",
            host: Host::FunctionUrl,
            request: HttpPost::signed("/", &sign(&settings)),
            status: 200,
            body: settings_answer.clone(),
        },
        Sample {
            name: "settings-command-base64",
            about: "/settings with a base64-encoded body",
            host: Host::FunctionUrl,
            request: base64,
            status: 200,
            body: settings_answer.clone(),
        },
        Sample {
            name: "settings-command-rest-api",
            about: "/settings through API Gateway REST (payload 1.0), title-case headers",
            host: Host::RestApi,
            request: rest,
            status: 200,
            body: settings_answer,
        },
        Sample {
            name: "unknown-command",
            about: "a command Guildbridge does not have",
            host: Host::FunctionUrl,
            request: HttpPost::signed("/", &sign(&unknown)),
            status: 200,
            body: json!({
                "type": 4,
                "data": { "content": "Guildbridge doesn't know /teleport. An admin may need to re-register its commands.", "flags": 64 }
            }),
        },
        Sample {
            name: "channel-create-command",
            about: "/channel create by an admin: deferred, the job enqueued (needs the store and queue)",
            host: Host::FunctionUrl,
            request: HttpPost::signed("/", &sign(&channel_create)),
            status: 200,
            body: json!({ "type": 5, "data": { "flags": 64 } }),
        },
        Sample {
            name: "channel-create-in-dm",
            about: "/channel create from a direct message",
            host: Host::FunctionUrl,
            request: HttpPost::signed("/", &sign(&channel_in_dm)),
            status: 200,
            body: ephemeral("/channel works inside a server, not in direct messages."),
        },
        Sample {
            name: "channel-create-without-permission",
            about: "/channel create by a member without Manage Channels",
            host: Host::FunctionUrl,
            request: HttpPost::signed("/", &sign(&channel_unpermitted)),
            status: 200,
            body: ephemeral(
                "You need the Manage Server permission to create channels: Manage Channels granted in one channel does not reach the whole server.",
            ),
        },
        Sample {
            name: "events-command",
            about: "/events in a guild with no events yet (needs the store)",
            host: Host::FunctionUrl,
            request: HttpPost::signed("/", &sign(&events)),
            status: 200,
            body: ephemeral("No upcoming events."),
        },
        Sample {
            name: "signup-autocomplete",
            about: "typing in /signup's event option, nothing registered yet (needs the store)",
            host: Host::FunctionUrl,
            request: HttpPost::signed("/", &sign(&signup_typing)),
            status: 200,
            body: json!({ "type": 8, "data": { "choices": [] } }),
        },
        Sample {
            name: "bad-signature",
            about: "a signature made for another body",
            host: Host::FunctionUrl,
            request: forged,
            status: 401,
            body: unauthorized,
        },
        Sample {
            name: "malformed-json",
            about: "correctly signed, but not JSON",
            host: Host::FunctionUrl,
            request: HttpPost::signed("/", &malformed),
            status: 400,
            body: json!({
                "error": "malformed_interaction",
                "message": "body is not valid JSON (line 1, column 20)"
            }),
        },
    ];

    let dir = events_dir().join("interactions");
    fs::create_dir_all(&dir)?;
    for sample in samples {
        let event = sample.request.event(sample.host);
        fs::write(dir.join(format!("{}.json", sample.name)), serde_json::to_string_pretty(&event)? + "\n")?;
        let expected = json!({ "about": sample.about, "statusCode": sample.status, "body": sample.body });
        fs::write(dir.join(format!("{}.expected.json", sample.name)), serde_json::to_string_pretty(&expected)? + "\n")?;
        println!("wrote {}", sample.name);
    }
    write_job_samples(guild_id)
}

/// SQS events for the workers (a FIFO queue's batch as Lambda delivers it), the schedule event,
/// and the partial batch response each must get.
/// Copies of the interaction samples, each validly signed one signed again now.
fn write_signed_now(dir: &std::path::Path) -> anyhow::Result<()> {
    let key = test_signing_key()?;
    let now = fake_discord::unix_now();
    fs::create_dir_all(dir)?;
    for (name, mut event, _) in e2e::events::samples_in("interactions")? {
        e2e::events::resign(&mut event, &key, now)?;
        fs::write(dir.join(format!("{name}.json")), serde_json::to_string_pretty(&event)? + "\n")?;
    }
    println!("signed at {now}: {}", dir.display());
    Ok(())
}

fn write_job_samples(guild_id: u64) -> anyhow::Result<()> {
    let subject = SubjectRef::new(SubjectKind::Event, "42");
    let guild = Id::new(guild_id);
    let jobs = [
        (
            "1-create-channels",
            "create event:42's channel (the subject is registered first)",
            Job::CreateChannels {
                retry: None,
                guild_id: guild,
                subject: subject.clone(),
                requested_by: None,
                reply: None,
            }
            .to_body()?,
            json!([]),
        ),
        (
            "2-send-message",
            "post a message in event:42's channel",
            Job::SendMessage {
                reply_to: None,
                parts: Default::default(),
                team: None,
                guild_id: guild,
                subject: subject.clone(),
                content: "Qualifying starts in 10 minutes.".to_owned(),
                message_key: "qualifying-reminder".to_owned(),
                allow_mentions: false,
            }
            .to_body()?,
            json!([]),
        ),
        (
            "3-archive-channel",
            "archive event:42's channel",
            Job::ArchiveChannel { guild_id: guild, subject, reason: "event finished".to_owned(), reply: None }
                .to_body()?,
            json!([]),
        ),
        (
            "4-not-a-job",
            "a message that is not a Guildbridge job: recorded as a dead letter and deleted on its first receive",
            json!({ "type": "teleport" }).to_string(),
            json!([]),
        ),
    ];
    write_sqs_samples("channel-worker", "guildbridge-channel.fifo", guild_id, &jobs)?;
    let sync = |request_id: &str| Job::SyncMembers {
        guild_id: guild,
        kind: SyncKind::Webhook,
        request_id: request_id.to_owned().into(),
        reply: None,
        after: None,
    };
    let sync_jobs = [
        (
            "1-sync-members",
            "sync the guild's members (a platform webhook asked)",
            sync("platform:sample-1").to_body()?,
            json!([]),
        ),
        (
            "2-channel-job-on-the-sync-queue",
            "a channel job on the sync queue: refused, recorded as a dead letter and deleted",
            Job::CreateChannels {
                retry: None,
                guild_id: guild,
                subject: SubjectRef::new(SubjectKind::Event, "42"),
                requested_by: None,
                reply: None,
            }
            .to_body()?,
            json!([]),
        ),
    ];
    write_sqs_samples("sync-worker", "guildbridge-sync.fifo", guild_id, &sync_jobs)?;
    write_schedule_sample()
}

/// An EventBridge schedule event for the `scheduler` function; its answer counts what it did
/// (the test that runs it makes one guild due first).
fn write_schedule_sample() -> anyhow::Result<()> {
    let event = json!({
        "version": "0",
        "id": "00000000-0000-4000-8000-0000000000e1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": "2026-11-22T09:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:000000000000:rule/guildbridge-schedule"],
        "detail": {}
    });
    let dir = events_dir().join("scheduler");
    fs::create_dir_all(&dir)?;
    fs::write(dir.join("schedule.json"), serde_json::to_string_pretty(&event)? + "\n")?;
    let expected = json!({
        "about": "one tick with one connected guild due: one sync started, the backfill walk over, no event due",
        "response": {
            "backfill": { "scheduled": 0, "planned": 0, "done": true },
            "schedule": { "due": 1, "syncs": 1, "failed": 0 },
            "timeline": {
                "due": 0, "posted": 0, "skipped": 0, "waiting": 0, "completed": 0, "archives": 0, "boards": 0,
                "reminder_dms": 0
            },
            "forget": { "deleted": 0, "finished": 0 },
            "failed": []
        }
    });
    fs::write(dir.join("schedule.expected.json"), serde_json::to_string_pretty(&expected)? + "\n")?;
    println!("wrote scheduler/schedule");
    Ok(())
}

/// SQS batches of one FIFO message each, holding `jobs`, with the partial batch response
/// each must get.
fn write_sqs_samples(
    folder: &str,
    queue_name: &str,
    guild_id: u64,
    jobs: &[(&str, &str, String, Value)],
) -> anyhow::Result<()> {
    let dir = events_dir().join(folder);
    fs::create_dir_all(&dir)?;
    for (n, (name, about, body, failures)) in jobs.iter().enumerate() {
        let message_id = format!("00000000-0000-4000-8000-00000000000{}", n + 1);
        let event = json!({ "Records": [{
            "messageId": message_id,
            "receiptHandle": format!("sample-receipt-{}", n + 1),
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1795338000000",
                "SenderId": "AIDAEXAMPLE",
                "ApproximateFirstReceiveTimestamp": "1795338000001",
                "SequenceNumber": format!("1879000000000000000{}", n + 1),
                "MessageGroupId": guild_id.to_string(),
                "MessageDeduplicationId": format!("sample-{}", n + 1)
            },
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": format!("arn:aws:sqs:us-east-1:000000000000:{queue_name}"),
            "awsRegion": "us-east-1"
        }] });
        fs::write(dir.join(format!("{name}.json")), serde_json::to_string_pretty(&event)? + "\n")?;
        let expected = json!({ "about": about, "response": { "batchItemFailures": failures } });
        fs::write(dir.join(format!("{name}.expected.json")), serde_json::to_string_pretty(&expected)? + "\n")?;
        println!("wrote {folder}/{name}");
    }
    Ok(())
}

fn title_case(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

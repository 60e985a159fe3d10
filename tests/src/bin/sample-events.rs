//! Writes the sample events under `events/interactions/` and the answers each must get.
//! Deterministic (Ed25519 signatures are), so re-running it changes nothing unless the
//! samples or their expected answers change: `cargo run -p e2e --bin sample-events`.

use std::fs;

use anyhow::Context;
use e2e::events::{Host, HttpPost, events_dir, sample_env, test_signing_key};
use serde_json::{Value, json};
use shared::discord::{
    commands::manifest,
    simulate::{self, Invoker},
};

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
    let key = test_signing_key()?;
    let settings_url = sample_env()?
        .into_iter()
        .find_map(|(k, v)| (k == "SETTINGS_URL").then_some(v))
        .context("events/interactions.env lacks SETTINGS_URL")?;
    let invoker = Invoker::default();
    let guild_id = invoker.guild_id.context("demo invoker has a guild")?;
    let sign = |value: &Value| simulate::sign(&key, SIGNED_AT, value.to_string().into_bytes());

    let ping = simulate::ping(&invoker, 1_100_000_000_000_001_000);
    let settings = simulate::command("/settings", &manifest(), &invoker, 1_100_000_000_000_001_001)?;
    let mut unknown = simulate::command("/settings", &manifest(), &invoker, 1_100_000_000_000_001_002)?;
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
    let malformed = simulate::sign(&key, SIGNED_AT, b"{\"type\": 2, \"data\": ".to_vec());
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
    Ok(())
}

fn title_case(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

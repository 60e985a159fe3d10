//! Lambda HTTP events around signed interactions, and the committed samples under `events/`.

use std::{fs, path::PathBuf};

use anyhow::Context;
use base64::{Engine, engine::general_purpose::STANDARD};
use ed25519_dalek::SigningKey;
use guildbridge_core::test_support::interactions::SignedRequest;
use serde_json::{Value, json};

/// The committed, test-only key that signs the samples. It has never belonged to any
/// Discord application; its public half is in `events/interactions.env`.
pub fn test_signing_key() -> anyhow::Result<SigningKey> {
    let path = events_dir().join("TEST-ONLY-signing-key.hex");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let bytes: [u8; 32] =
        hex::decode(text.trim())?.try_into().map_err(|_| anyhow::anyhow!("{} must hold 32 bytes", path.display()))?;
    Ok(SigningKey::from_bytes(&bytes))
}

pub fn events_dir() -> PathBuf {
    crate::repo_root().join("events")
}

/// `KEY=value` lines of `events/interactions.env`: the configuration the samples expect
/// (also usable with `cargo lambda watch --env-file`).
pub fn sample_env() -> anyhow::Result<Vec<(String, String)>> {
    let path = events_dir().join("interactions.env");
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect())
}

/// How an HTTP request reaches a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// Lambda Function URL (API Gateway payload 2.0 shape, lower-case headers).
    FunctionUrl,
    /// API Gateway REST API (payload 1.0), headers in the case the client sent.
    RestApi,
}

/// An HTTP POST to wrap in a Lambda event.
#[derive(Debug, Clone)]
pub struct HttpPost {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub base64: bool,
}

impl HttpPost {
    /// A POST with Discord's headers for a signed request.
    pub fn signed(path: &str, signed: &SignedRequest) -> Self {
        Self {
            path: path.to_owned(),
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("user-agent".to_owned(), "Discord-Interactions/1.0 (+https://discord.com)".to_owned()),
                ("x-signature-ed25519".to_owned(), signed.signature.clone()),
                ("x-signature-timestamp".to_owned(), signed.timestamp.clone()),
            ],
            body: signed.body.clone(),
            base64: false,
        }
    }

    pub fn without_header(mut self, name: &str) -> Self {
        self.headers.retain(|(key, _)| !key.eq_ignore_ascii_case(name));
        self
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self = self.without_header(name);
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn event(&self, host: Host) -> Value {
        let body =
            if self.base64 { STANDARD.encode(&self.body) } else { String::from_utf8_lossy(&self.body).into_owned() };
        let headers: serde_json::Map<String, Value> =
            self.headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        match host {
            Host::FunctionUrl => {
                let headers: serde_json::Map<String, Value> =
                    headers.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
                json!({
                    "version": "2.0",
                    "routeKey": "$default",
                    "rawPath": self.path,
                    "rawQueryString": "",
                    "headers": headers,
                    "requestContext": {
                        "accountId": "anonymous",
                        "apiId": "guildbridgetest",
                        "domainName": "guildbridgetest.lambda-url.us-east-1.on.aws",
                        "domainPrefix": "guildbridgetest",
                        "http": {
                            "method": "POST",
                            "path": self.path,
                            "protocol": "HTTP/1.1",
                            "sourceIp": "203.0.113.10",
                            "userAgent": "Discord-Interactions/1.0 (+https://discord.com)"
                        },
                        "requestId": "00000000-0000-4000-8000-000000000001",
                        "routeKey": "$default",
                        "stage": "$default",
                        "time": "22/Nov/2026:09:00:00 +0000",
                        "timeEpoch": 1_795_338_000_000u64
                    },
                    "body": body,
                    "isBase64Encoded": self.base64
                })
            }
            Host::RestApi => {
                let multi: serde_json::Map<String, Value> =
                    headers.iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
                json!({
                    "resource": "/interactions",
                    "path": self.path,
                    "httpMethod": "POST",
                    "headers": headers,
                    "multiValueHeaders": multi,
                    "queryStringParameters": null,
                    "multiValueQueryStringParameters": null,
                    "pathParameters": null,
                    "stageVariables": null,
                    "requestContext": {
                        "accountId": "123456789012",
                        "resourceId": "abc123",
                        "stage": "prod",
                        "requestId": "00000000-0000-4000-8000-000000000002",
                        "identity": { "sourceIp": "203.0.113.10" },
                        "resourcePath": "/interactions",
                        "httpMethod": "POST",
                        "apiId": "guildbridgetest",
                        "path": format!("/prod{}", self.path)
                    },
                    "body": body,
                    "isBase64Encoded": self.base64
                })
            }
        }
    }
}

/// A function's HTTP answer: status and JSON body.
pub fn http_answer(response: &Value) -> anyhow::Result<(u16, Value)> {
    let status = response["statusCode"].as_u64().context("response without statusCode")? as u16;
    let raw = response["body"].as_str().unwrap_or_default();
    let bytes = match response["isBase64Encoded"].as_bool() {
        Some(true) => STANDARD.decode(raw)?,
        _ => raw.as_bytes().to_vec(),
    };
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes)? };
    Ok((status, body))
}

/// One committed sample: `events/interactions/NAME.json` and `NAME.expected.json` beside it.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub event: Value,
    pub expected_status: u16,
    pub expected_body: Value,
}

/// The committed interaction samples, each validly signed one signed again at `now`: they
/// were made on a fixed day, and the function accepts signatures an hour old at most.
pub fn interaction_samples() -> anyhow::Result<Vec<Sample>> {
    let key = test_signing_key()?;
    let now = guildbridge_core::test_support::interactions::unix_now();
    samples_in("interactions")?
        .into_iter()
        .map(|(name, mut event, expected)| {
            resign(&mut event, &key, now)?;
            Ok(Sample {
                name,
                event,
                expected_status: expected["statusCode"].as_u64().context("expected statusCode")? as u16,
                expected_body: expected["body"].clone(),
            })
        })
        .collect()
}

/// Signs a Lambda HTTP event's interaction again at `timestamp`, when its signature is a good
/// one over its own timestamp and body (a deliberately bad signature stays as it is, and so
/// does an event without one). `true` when it was signed again.
pub fn resign(event: &mut Value, key: &SigningKey, timestamp: u64) -> anyhow::Result<bool> {
    use ed25519_dalek::Verifier;
    const SIGNATURE: &str = "x-signature-ed25519";
    const TIMESTAMP: &str = "x-signature-timestamp";
    let header = |event: &Value, wanted: &str| -> Option<(String, String)> {
        event["headers"].as_object()?.iter().find_map(|(name, value)| {
            name.eq_ignore_ascii_case(wanted).then(|| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
        })
    };
    let (Some((signature_name, signature)), Some((timestamp_name, signed_at))) =
        (header(event, SIGNATURE), header(event, TIMESTAMP))
    else {
        return Ok(false);
    };
    let raw = event["body"].as_str().unwrap_or_default();
    let body = match event["isBase64Encoded"].as_bool() {
        Some(true) => STANDARD.decode(raw)?,
        _ => raw.as_bytes().to_vec(),
    };
    let good = hex::decode(&signature)
        .ok()
        .and_then(|bytes| ed25519_dalek::Signature::from_slice(&bytes).ok())
        .is_some_and(|sig| key.verifying_key().verify(&[signed_at.as_bytes(), &body].concat(), &sig).is_ok());
    if !good {
        return Ok(false);
    }
    let fresh = guildbridge_core::test_support::interactions::sign(key, timestamp, body);
    for (name, value) in [(signature_name, fresh.signature), (timestamp_name, fresh.timestamp)] {
        event["headers"][&name] = Value::String(value.clone());
        if event["multiValueHeaders"].get(&name).is_some() {
            event["multiValueHeaders"][&name] = json!([value]);
        }
    }
    Ok(true)
}

/// Every `events/FOLDER/NAME.json` with its `NAME.expected.json`, by name.
pub fn samples_in(folder: &str) -> anyhow::Result<Vec<(String, Value, Value)>> {
    let dir = events_dir().join(folder);
    let mut samples = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        if name.ends_with(".expected") {
            continue;
        }
        let event: Value = serde_json::from_str(&fs::read_to_string(&path)?)?;
        let expected_path = dir.join(format!("{name}.expected.json"));
        let expected: Value = serde_json::from_str(
            &fs::read_to_string(&expected_path).with_context(|| format!("reading {}", expected_path.display()))?,
        )?;
        samples.push((name.to_owned(), event, expected));
    }
    samples.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(samples)
}

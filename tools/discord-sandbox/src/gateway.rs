//! Enough of Discord's Gateway for a relay ingest: `GET /gateway/bot`, and a WebSocket that
//! says HELLO, takes IDENTIFY (READY) and RESUME (a replay of what was missed, then
//! RESUMED), answers heartbeats, and dispatches MESSAGE_CREATE when someone posts in a guild
//! the session's shard covers. What the client sends is checked against the payloads Discord
//! documents; a payload that breaks them closes the connection with Discord's close code.
//!
//! Controls (not Discord's): drop every connection, ask for a reconnect (op 7), or
//! invalidate every session (op 9), from a test or over `POST /sandbox/gateway/{what}`.

use std::collections::HashMap;

use axum::{
    extract::{
        State,
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
    },
    response::Response,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::{Shared, lock};

/// Discord's heartbeat interval, in milliseconds.
pub const HEARTBEAT_INTERVAL_MS: u64 = 41_250;
/// GUILD_MESSAGES and MESSAGE_CONTENT, as Discord numbers them.
pub const GUILD_MESSAGES: u64 = 1 << 9;
pub const MESSAGE_CONTENT: u64 = 1 << 15;
/// Every intent Discord defines (bits 0 to 25), for the IDENTIFY check.
const KNOWN_INTENTS: u64 = (1 << 26) - 1;
/// What a session keeps to replay on RESUME.
const REPLAY_LIMIT: usize = 10_000;

/// What a connection's task is told to do.
#[derive(Debug)]
enum Out {
    Send(Value),
    Close(u16, &'static str),
    /// Break off without a close frame, as a network failure would.
    Drop,
}

#[derive(Debug)]
struct Session {
    shard: (u64, u64),
    intents: u64,
    seq: u64,
    sent: Vec<Value>,
    live: Option<(u64, mpsc::UnboundedSender<Out>)>,
}

/// The gateway's sessions and what happened to them.
#[derive(Debug, Default)]
pub struct Hub {
    sessions: HashMap<String, Session>,
    next: u64,
    /// The shard count `GET /gateway/bot` recommends (1 unless set).
    pub recommended_shards: u64,
    /// The bot's user, whose mentions keep a message's content without MESSAGE_CONTENT.
    pub bot_user_id: u64,
    pub identifies: u64,
    pub resumes: u64,
    /// Payloads the client sent that Discord would refuse, with why.
    pub problems: Vec<String>,
}

/// What a test reads of the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayStats {
    pub identifies: u64,
    pub resumes: u64,
    pub live: usize,
    pub problems: Vec<String>,
}

impl Hub {
    /// Sends MESSAGE_CREATE to every session whose shard covers the guild and whose intents
    /// include GUILD_MESSAGES; without MESSAGE_CONTENT the content is left out, as Discord
    /// does, unless the message mentions the bot.
    pub fn dispatch_message(&mut self, guild_id: u64, message: &Value) {
        let bot = self.bot_user_id.to_string();
        let mentions_bot =
            message["mentions"].as_array().is_some_and(|mentions| mentions.iter().any(|user| user["id"] == bot));
        for session in self.sessions.values_mut() {
            let (id, total) = session.shard;
            if session.intents & GUILD_MESSAGES == 0 || (guild_id >> 22) % total.max(1) != id {
                continue;
            }
            let mut data = message.clone();
            data["guild_id"] = json!(guild_id.to_string());
            if session.intents & MESSAGE_CONTENT == 0 && !mentions_bot {
                data["content"] = json!("");
                data["embeds"] = json!([]);
                data["attachments"] = json!([]);
            }
            session.seq += 1;
            let payload = json!({ "op": 0, "t": "MESSAGE_CREATE", "s": session.seq, "d": data });
            if session.sent.len() >= REPLAY_LIMIT {
                session.sent.remove(0);
            }
            session.sent.push(payload.clone());
            if let Some((_, live)) = &session.live {
                let _ = live.send(Out::Send(payload));
            }
        }
    }

    fn each_live(&mut self, out: impl Fn() -> Out) {
        for session in self.sessions.values_mut() {
            if let Some((_, live)) = session.live.take() {
                let _ = live.send(out());
            }
        }
    }

    /// Every connection breaks off; the sessions stay resumable.
    pub fn drop_connections(&mut self) {
        self.each_live(|| Out::Drop);
    }

    /// Every connection is asked to reconnect and resume (op 7).
    pub fn request_reconnect(&mut self) {
        self.each_live(|| Out::Send(json!({ "op": 7, "d": null })));
    }

    /// Every session ends (op 9, not resumable): the client identifies anew.
    pub fn invalidate_sessions(&mut self) {
        self.each_live(|| Out::Send(json!({ "op": 9, "d": false })));
        self.sessions.clear();
    }

    pub fn stats(&self) -> GatewayStats {
        GatewayStats {
            identifies: self.identifies,
            resumes: self.resumes,
            live: self.sessions.values().filter(|session| session.live.is_some()).count(),
            problems: self.problems.clone(),
        }
    }
}

/// `GET /gateway/bot`.
pub(crate) async fn gateway_bot(State(shared): State<std::sync::Arc<Shared>>) -> axum::Json<Value> {
    let shards = lock(&shared.world).gateway.recommended_shards.max(1);
    axum::Json(json!({
        "url": gateway_url(&shared),
        "shards": shards,
        "session_start_limit": { "total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1 },
    }))
}

fn gateway_url(shared: &Shared) -> String {
    format!("ws://{}/gateway", lock(&shared.address).map(|addr| addr.to_string()).unwrap_or_default())
}

/// The WebSocket.
pub(crate) async fn socket(State(shared): State<std::sync::Arc<Shared>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| serve(socket, shared))
}

/// A refused payload: Discord's close code (why is recorded in [`Hub::problems`]).
type Refusal = u16;

fn refuse(shared: &Shared, code: u16, problem: String) -> Refusal {
    lock(&shared.world).gateway.problems.push(problem);
    code
}

async fn serve(socket: WebSocket, shared: std::sync::Arc<Shared>) {
    let (mut sink, mut stream) = socket.split();
    let hello = json!({ "op": 10, "d": { "heartbeat_interval": HEARTBEAT_INTERVAL_MS } });
    if sink.send(Message::Text(hello.to_string().into())).await.is_err() {
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let connection = {
        let mut world = lock(&shared.world);
        world.gateway.next += 1;
        world.gateway.next
    };
    let mut session: Option<String> = None;
    loop {
        let out = tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => match receive(&shared, &text, &mut session, connection, &tx) {
                    Ok(()) => continue,
                    Err(code) => Out::Close(code, close_reason(code)),
                },
                Some(Ok(Message::Binary(_))) => {
                    let _ = refuse(&shared, 4002, "binary frames are compressed payloads; none was asked for".into());
                    Out::Close(4002, "Decode error")
                }
                Some(Ok(_)) => continue,
                _ => break,
            },
            out = rx.recv() => match out { Some(out) => out, None => break },
        };
        match out {
            Out::Send(payload) => {
                if sink.send(Message::Text(payload.to_string().into())).await.is_err() {
                    break;
                }
            }
            Out::Close(code, reason) => {
                let frame = CloseFrame { code, reason: reason.into() };
                let _ = sink.send(Message::Close(Some(frame))).await;
                break;
            }
            Out::Drop => break,
        }
    }
    if let Some(id) = session {
        let mut world = lock(&shared.world);
        if let Some(session) = world.gateway.sessions.get_mut(&id)
            && session.live.as_ref().is_some_and(|(live, _)| *live == connection)
        {
            session.live = None;
        }
    }
}

/// Discord's reason for each close code the sandbox sends.
fn close_reason(code: u16) -> &'static str {
    match code {
        4001 => "Unknown opcode",
        4002 => "Decode error",
        4004 => "Authentication failed",
        4005 => "Already authenticated",
        4010 => "Invalid shard",
        4013 => "Invalid intent(s)",
        4014 => "Disallowed intent(s)",
        _ => "Not authenticated",
    }
}

fn receive(
    shared: &Shared,
    text: &str,
    session: &mut Option<String>,
    connection: u64,
    tx: &mpsc::UnboundedSender<Out>,
) -> Result<(), Refusal> {
    let payload: Value =
        serde_json::from_str(text).map_err(|error| refuse(shared, 4002, format!("not JSON: {error}")))?;
    let op = payload["op"].as_u64().ok_or_else(|| refuse(shared, 4002, "`op` must be an integer".into()))?;
    let data = &payload["d"];
    match op {
        1 => {
            if !(data.is_null() || data.is_u64()) {
                return Err(refuse(shared, 4002, "a heartbeat's `d` is the last sequence number or null".into()));
            }
            let _ = tx.send(Out::Send(json!({ "op": 11 })));
            Ok(())
        }
        2 => identify(shared, data, session, connection, tx),
        6 => resume(shared, data, session, connection, tx),
        // Presence, voice state and member requests: accepted, and nothing the relay needs.
        3 | 4 | 8 if session.is_some() => Ok(()),
        3 | 4 | 8 => Err(refuse(shared, 4003, format!("op {op} before IDENTIFY"))),
        _ => Err(refuse(shared, 4001, format!("unknown opcode {op}"))),
    }
}

fn token_matches(shared: &Shared, token: Option<&str>) -> bool {
    let token = token.map(|token| token.strip_prefix("Bot ").unwrap_or(token));
    token == Some(shared.config.bot_token.as_str())
}

fn identify(
    shared: &Shared,
    data: &Value,
    session: &mut Option<String>,
    connection: u64,
    tx: &mpsc::UnboundedSender<Out>,
) -> Result<(), Refusal> {
    if session.is_some() {
        return Err(refuse(shared, 4005, "IDENTIFY twice on one connection".into()));
    }
    let properties = &data["properties"];
    let documented = data["token"].is_string()
        && ["os", "browser", "device"].iter().all(|name| properties[name].is_string())
        && data["intents"].is_u64()
        && (data["compress"].is_null() || data["compress"].is_boolean())
        && data["large_threshold"].as_u64().is_none_or(|threshold| (50..=250).contains(&threshold))
        && (data["presence"].is_null() || data["presence"].is_object());
    if !documented {
        return Err(refuse(shared, 4002, format!("IDENTIFY does not match Discord's payload: {data}")));
    }
    if data["compress"] == json!(true) {
        return Err(refuse(shared, 4002, "payload compression was asked for; the sandbox sends plain JSON".into()));
    }
    if !token_matches(shared, data["token"].as_str()) {
        return Err(refuse(shared, 4004, "IDENTIFY with a token that is not the bot's".into()));
    }
    let shard = match &data["shard"] {
        Value::Null => (0, 1),
        Value::Array(pair) => match (pair.first().and_then(Value::as_u64), pair.get(1).and_then(Value::as_u64)) {
            (Some(id), Some(total)) if pair.len() == 2 && id < total => (id, total),
            _ => return Err(refuse(shared, 4010, format!("invalid shard {pair:?}"))),
        },
        other => return Err(refuse(shared, 4002, format!("`shard` must be [id, total], not {other}"))),
    };
    let intents = data["intents"].as_u64().unwrap_or_default();
    if intents & !KNOWN_INTENTS != 0 {
        return Err(refuse(shared, 4013, format!("unknown intent bits in {intents}")));
    }
    let url = gateway_url(shared);
    let application = shared.config.client_id;
    let mut world = lock(&shared.world);
    if intents & MESSAGE_CONTENT != 0 && !world.message_content_intent {
        drop(world);
        return Err(refuse(shared, 4014, "MESSAGE_CONTENT asked for, and the application does not have it".into()));
    }
    let guilds: Vec<Value> = world
        .guilds
        .values()
        .filter(|guild| !guild.bot_absent && (guild.id >> 22) % shard.1 == shard.0)
        .map(|guild| json!({ "id": guild.id.to_string(), "unavailable": true }))
        .collect();
    let flags = if world.message_content_intent { 1 << 18 } else { 0 };
    let hub = &mut world.gateway;
    hub.identifies += 1;
    hub.next += 1;
    let id = format!("sandbox-session-{}", hub.next);
    let ready = json!({
        "op": 0, "t": "READY", "s": 1,
        "d": {
            "v": 10,
            "user": {
                "id": application.to_string(), "username": "Guildbridge", "discriminator": "0000",
                "avatar": null, "banner": null, "accent_color": null, "bot": true, "mfa_enabled": false,
            },
            "guilds": guilds,
            "session_id": id,
            "resume_gateway_url": url,
            "shard": [shard.0, shard.1],
            "application": { "id": application.to_string(), "flags": flags },
        },
    });
    let state = Session { shard, intents, seq: 1, sent: Vec::new(), live: Some((connection, tx.clone())) };
    world.gateway.sessions.insert(id.clone(), state);
    *session = Some(id);
    let _ = tx.send(Out::Send(ready));
    Ok(())
}

fn resume(
    shared: &Shared,
    data: &Value,
    session: &mut Option<String>,
    connection: u64,
    tx: &mpsc::UnboundedSender<Out>,
) -> Result<(), Refusal> {
    let (Some(id), Some(seq)) = (data["session_id"].as_str(), data["seq"].as_u64()) else {
        return Err(refuse(shared, 4002, format!("RESUME does not match Discord's payload: {data}")));
    };
    if !token_matches(shared, data["token"].as_str()) {
        return Err(refuse(shared, 4004, "RESUME with a token that is not the bot's".into()));
    }
    let mut world = lock(&shared.world);
    let hub = &mut world.gateway;
    let Some(state) = hub.sessions.get_mut(id) else {
        // Gone (invalidated, or never was): not resumable.
        let _ = tx.send(Out::Send(json!({ "op": 9, "d": false })));
        return Ok(());
    };
    for missed in state.sent.iter().filter(|payload| payload["s"].as_u64().is_some_and(|s| s > seq)) {
        let _ = tx.send(Out::Send(missed.clone()));
    }
    state.seq += 1;
    let _ = tx.send(Out::Send(json!({ "op": 0, "t": "RESUMED", "s": state.seq, "d": null })));
    state.live = Some((connection, tx.clone()));
    hub.resumes += 1;
    *session = Some(id.to_owned());
    Ok(())
}

/// `POST /sandbox/gateway/{action}`: `drop`, `reconnect` or `invalidate`.
pub(crate) async fn control(
    State(shared): State<std::sync::Arc<Shared>>,
    axum::extract::Path(action): axum::extract::Path<String>,
) -> axum::http::StatusCode {
    let mut world = lock(&shared.world);
    match action.as_str() {
        "drop" => world.gateway.drop_connections(),
        "reconnect" => world.gateway.request_reconnect(),
        "invalidate" => world.gateway.invalidate_sessions(),
        _ => return axum::http::StatusCode::NOT_FOUND,
    }
    axum::http::StatusCode::NO_CONTENT
}

//! The sandbox's Gateway, spoken to as a bare WebSocket client would: what Discord documents
//! it answers, and what Discord refuses it closes with Discord's close code.

use discord_sandbox::{GuildSeed, RateLimits, Sandbox, SandboxConfig};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const GUILD: u64 = 1_200_000_000_000_000_001;
const MEMBER: u64 = 1_000;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn start() -> Sandbox {
    let config = SandboxConfig::new("t", None, RateLimits::generous());
    let sandbox = Sandbox::start(config, "127.0.0.1:0".parse().expect("addr")).await.expect("start");
    sandbox.seed_guild(GuildSeed {
        id: GUILD,
        name: "g".to_owned(),
        bot_permissions: 1 << 3,
        roles: Vec::new(),
        members: 2,
        first_member_id: MEMBER,
        bot_every: None,
    });
    sandbox
}

/// Connects where `GET /gateway/bot` says, and reads HELLO.
async fn connect(sandbox: &Sandbox) -> Socket {
    let info: Value = reqwest::Client::new()
        .get(format!("{}/gateway/bot", sandbox.base_url()))
        .header("authorization", "Bot t")
        .send()
        .await
        .expect("gateway/bot")
        .json()
        .await
        .expect("json");
    assert_eq!(info["shards"], 1);
    let url = format!("{}/?v=10&encoding=json", info["url"].as_str().expect("url"));
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.expect("connect");
    let hello = next(&mut socket).await.expect("hello");
    assert_eq!(hello["op"], 10);
    assert!(hello["d"]["heartbeat_interval"].as_u64().is_some_and(|ms| ms > 0));
    socket
}

async fn send(socket: &mut Socket, payload: Value) {
    socket.send(Message::Text(payload.to_string().into())).await.expect("send");
}

/// The next payload, or `Err` with the close code.
async fn next(socket: &mut Socket) -> Result<Value, u16> {
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next()).await.expect("in time");
        match frame {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text).expect("JSON")),
            Some(Ok(Message::Close(frame))) => return Err(frame.map_or(0, |frame| u16::from(frame.code))),
            Some(Ok(_)) => continue,
            _ => return Err(0),
        }
    }
}

fn identify(token: &str, intents: u64) -> Value {
    json!({ "op": 2, "d": {
        "token": token, "intents": intents,
        "properties": { "os": "linux", "browser": "test", "device": "test" },
    } })
}

#[tokio::test]
async fn a_session_is_ready_answers_heartbeats_hears_messages_and_resumes_with_what_it_missed() {
    let sandbox = start().await;
    let channel = sandbox.add_channel(GUILD, "lead", 0);
    let mut socket = connect(&sandbox).await;
    send(&mut socket, identify("Bot t", (1 << 9) | (1 << 15))).await;
    let ready = next(&mut socket).await.expect("ready");
    assert_eq!((ready["op"].clone(), ready["t"].clone(), ready["s"].clone()), (json!(0), json!("READY"), json!(1)));
    assert_eq!(ready["d"]["guilds"][0]["id"], GUILD.to_string());
    let session = ready["d"]["session_id"].as_str().expect("session").to_owned();
    send(&mut socket, json!({ "op": 1, "d": 1 })).await;
    assert_eq!(next(&mut socket).await.expect("ack")["op"], 11);

    let posted = sandbox.post_as(channel, MEMBER, "hello", None).expect("posted");
    let created = next(&mut socket).await.expect("message");
    assert_eq!((created["t"].clone(), created["s"].clone()), (json!("MESSAGE_CREATE"), json!(2)));
    assert_eq!((created["d"]["id"].as_str(), created["d"]["content"].as_str()), (Some(posted.as_str()), Some("hello")));
    assert_eq!(created["d"]["guild_id"], GUILD.to_string());

    // Dropped: what is posted meanwhile is replayed on RESUME, then RESUMED.
    sandbox.gateway_drop();
    assert!(next(&mut socket).await.is_err(), "the connection broke off");
    let missed = sandbox.post_as(channel, MEMBER, "while you were away", None).expect("posted");
    let mut socket = connect(&sandbox).await;
    send(&mut socket, json!({ "op": 6, "d": { "token": "t", "session_id": session, "seq": 2 } })).await;
    let replayed = next(&mut socket).await.expect("replayed");
    assert_eq!((replayed["d"]["id"].as_str(), replayed["s"].clone()), (Some(missed.as_str()), json!(3)));
    assert_eq!(next(&mut socket).await.expect("resumed")["t"], "RESUMED");
    assert_eq!(sandbox.gateway_stats().resumes, 1);

    // Asked to reconnect (op 7), then invalidated (op 9): the session is gone for a RESUME.
    sandbox.gateway_reconnect();
    assert_eq!(next(&mut socket).await.expect("op 7")["op"], 7);
    sandbox.gateway_invalidate();
    let mut socket = connect(&sandbox).await;
    send(&mut socket, json!({ "op": 6, "d": { "token": "t", "session_id": session, "seq": 3 } })).await;
    let invalid = next(&mut socket).await.expect("op 9");
    assert_eq!((invalid["op"].clone(), invalid["d"].clone()), (json!(9), json!(false)));
    assert!(sandbox.gateway_stats().problems.is_empty());
}

#[tokio::test]
async fn without_message_content_the_content_is_left_out() {
    let sandbox = start().await;
    let channel = sandbox.add_channel(GUILD, "lead", 0);
    let mut socket = connect(&sandbox).await;
    send(&mut socket, identify("t", 1 << 9)).await;
    next(&mut socket).await.expect("ready");
    sandbox.post_as(channel, MEMBER, "secret plans", None).expect("posted");
    let created = next(&mut socket).await.expect("message");
    assert_eq!(created["d"]["content"], "", "as Discord sends it without the intent");
}

#[tokio::test]
async fn what_discord_refuses_is_closed_with_discords_code() {
    let sandbox = start().await;
    let cases = [
        (json!({ "op": 2, "d": { "token": "t", "intents": 512 } }), 4002, "IDENTIFY without properties"),
        (identify("not-the-token", 512), 4004, "a wrong token"),
        (
            json!({ "op": 2, "d": { "token": "t", "intents": 512, "shard": [2, 2],
            "properties": { "os": "l", "browser": "b", "device": "d" } } }),
            4010,
            "a shard outside its total",
        ),
        (identify("t", 1 << 40), 4013, "an intent Discord does not define"),
        (json!({ "op": 99, "d": null }), 4001, "an unknown opcode"),
    ];
    for (payload, code, what) in cases {
        let mut socket = connect(&sandbox).await;
        send(&mut socket, payload).await;
        assert_eq!(next(&mut socket).await, Err(code), "{what}");
    }
    // MESSAGE_CONTENT, which the application does not have: 4014 Disallowed intents.
    sandbox.set_message_content_intent(false);
    let mut socket = connect(&sandbox).await;
    send(&mut socket, identify("t", (1 << 9) | (1 << 15))).await;
    assert_eq!(next(&mut socket).await, Err(4014));
    // IDENTIFY twice on one connection: 4005.
    sandbox.set_message_content_intent(true);
    let mut socket = connect(&sandbox).await;
    send(&mut socket, identify("t", 512)).await;
    next(&mut socket).await.expect("ready");
    send(&mut socket, identify("t", 512)).await;
    assert_eq!(next(&mut socket).await, Err(4005));
    assert_eq!(sandbox.gateway_stats().problems.len(), 7, "each refusal recorded with why");
}

//! Outbound requests to tenant URLs, as an attacker would aim them: every spelling of an
//! internal address is refused when the endpoint is saved, and a name that resolves inside
//! (or is rebound there after saving) is refused on the try itself, before any connection,
//! with a coarse reason and nothing of what lies behind it.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use async_trait::async_trait;
use axum::http::Method;
use guildbridge_core::{
    domain::TargetPolicy,
    webhooks::{HttpSender, NameLookup, WebhookSender},
};
use serde_json::json;

use super::tenant_api::{TwoTenants, api_router, call};

/// The spellings of this machine, its network and the cloud's metadata service that an
/// attacker tries first.
const INTERNAL: &[&str] = &[
    "https://169.254.169.254/latest/meta-data/",
    "https://0.0.0.0/hook",
    "https://10.0.0.1/hook",
    "https://192.168.1.1/hook",
    "https://172.16.0.1/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[fd00::1]/hook",
    "https://[fe80::1]/hook",
    "https://localhost./hook",
    "https://a.localhost/hook",
    "https://127.0.0.1/hook",
    "https://2130706433/hook",
];

#[tokio::test]
async fn no_spelling_of_an_internal_address_is_saved_as_a_webhook_endpoint() {
    let t = TwoTenants::new().await;
    // The production policy: no loopback switch.
    let router =
        api_router(&t.backends, Arc::new(t.clock.clone()), "http://127.0.0.1:9/api/v10", TargetPolicy::default());
    for url in INTERNAL {
        let body = json!({ "url": url, "events": ["message.received"] });
        let answer = call(&router, Method::PUT, "/v1/webhook", Some(&t.key_a), Some(body)).await;
        assert_eq!(answer.status, 422, "{url}: {}", answer.text);
        assert!(answer.text.contains("url"), "the field is named: {}", answer.text);
    }
    let answer = call(&router, Method::GET, "/v1/webhook", Some(&t.key_a), None).await;
    assert_eq!(answer.status, 404, "nothing was saved: {}", answer.text);
}

/// A resolver an attacker controls: names mapped to whatever addresses it likes.
#[derive(Debug, Default)]
struct Rebinding {
    names: HashMap<&'static str, Vec<IpAddr>>,
}

#[async_trait]
impl NameLookup for Rebinding {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        self.names.get(host).cloned().ok_or_else(|| std::io::Error::other("no such name"))
    }
}

/// A listener that counts the connections made to it (none, if the refusal holds).
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, connections)
}

#[tokio::test]
async fn a_name_that_resolves_inside_is_refused_on_the_try_before_any_connection() {
    let (port, connections) = counting_listener().await;
    let mut resolver = Rebinding::default();
    resolver.names.insert("rebound.example", vec!["127.0.0.1".parse().expect("ip")]);
    resolver.names.insert("metadata.example", vec!["169.254.169.254".parse().expect("ip")]);
    // One public answer beside a private one: refused all the same.
    resolver.names.insert("mixed.example", vec!["93.184.215.14".parse().expect("ip"), "10.0.0.7".parse().expect("ip")]);
    let sender = HttpSender::with_lookup(TargetPolicy::default(), Arc::new(resolver)).expect("sender");
    for name in ["rebound.example", "metadata.example", "mixed.example"] {
        let url = url::Url::parse(&format!("https://{name}:{port}/hook")).expect("url");
        let sent = sender.post(&url, &[], b"{}").await;
        assert_eq!(sent.status, None, "{name}");
        assert_eq!(sent.error.as_deref(), Some("refused: not a public address"), "{name}: {sent:?}");
    }
    // An IP literal is checked on the try too (its URL may predate these rules).
    let literal = url::Url::parse(&format!("http://127.0.0.1:{port}/hook")).expect("url");
    let sent = sender.post(&literal, &[], b"{}").await;
    assert_eq!(sent.error.as_deref(), Some("refused: not a public address"), "{sent:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 0, "no connection was ever made");

    // The local stack's switch lets loopback through, and only loopback.
    let mut resolver = Rebinding::default();
    resolver.names.insert("rebound.example", vec!["127.0.0.1".parse().expect("ip")]);
    resolver.names.insert("inside.example", vec!["10.0.0.7".parse().expect("ip")]);
    let local = HttpSender::with_lookup(TargetPolicy { allow_loopback: true }, Arc::new(resolver)).expect("sender");
    let sent = local.post(&url::Url::parse(&format!("http://rebound.example:{port}/")).expect("url"), &[], b"{}").await;
    assert_ne!(sent.error.as_deref(), Some("refused: not a public address"), "{sent:?}");
    let sent = local.post(&url::Url::parse(&format!("http://inside.example:{port}/")).expect("url"), &[], b"{}").await;
    assert_eq!(sent.error.as_deref(), Some("refused: not a public address"), "{sent:?}");
}

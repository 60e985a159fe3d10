//! One delivery over HTTP: a short timeout, no redirects followed (a redirect is a failed
//! delivery, so an endpoint cannot bounce Guildbridge elsewhere), no more of the answer kept
//! than a short excerpt, and a resolver that hands the connection only the addresses it
//! checked: a name that resolves (now, or after a rebinding) to anything but a public
//! address is refused on every try, before a connection is made.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;

use crate::domain::TargetPolicy;

/// How long one delivery may take, connecting included.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an answer is kept (for the tenant's delivery log).
pub const EXCERPT_BYTES: usize = 200;

/// What became of one POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The status the endpoint answered, if it answered.
    pub status: Option<u16>,
    pub latency: Duration,
    /// Why it failed (no answer, or the start of a non-2xx answer).
    pub error: Option<String>,
}

impl Sent {
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|status| (200..300).contains(&status))
    }
}

/// Posts a signed body to an endpoint.
#[async_trait]
pub trait WebhookSender: Send + Sync {
    async fn post(&self, url: &url::Url, headers: &[(&'static str, String)], body: &[u8]) -> Sent;
}

/// Names to addresses: the system's resolver in production; a test maps names itself.
#[async_trait]
pub trait NameLookup: Send + Sync + fmt::Debug {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>>;
}

/// The system's resolver (getaddrinfo, off the async threads).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

#[async_trait]
impl NameLookup for SystemLookup {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        Ok(tokio::net::lookup_host((host, 0)).await?.map(|address| address.ip()).collect())
    }
}

/// A name resolved to an address the policy refuses.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(&'static str);

/// Resolves through `lookup` and passes on every address only when each is one the policy
/// allows: one private answer refuses the name (a rebinding cannot slip one in beside a
/// public one), and the connection uses exactly these addresses.
#[derive(Debug)]
struct PublicOnly {
    lookup: Arc<dyn NameLookup>,
    targets: TargetPolicy,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (lookup, targets) = (self.lookup.clone(), self.targets);
        Box::pin(async move {
            let addresses = lookup.lookup(name.as_str()).await?;
            for address in &addresses {
                targets.may_reach(*address).map_err(Refused)?;
            }
            let addrs: reqwest::dns::Addrs = Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The production sender (reqwest, rustls).
#[derive(Debug, Clone)]
pub struct HttpSender {
    http: reqwest::Client,
    targets: TargetPolicy,
}

impl HttpSender {
    /// Through the system's resolver.
    pub fn new(targets: TargetPolicy) -> Result<Self, String> {
        Self::with_lookup(targets, Arc::new(SystemLookup))
    }

    pub fn with_lookup(targets: TargetPolicy, lookup: Arc<dyn NameLookup>) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(DELIVERY_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .no_proxy()
            .dns_resolver(PublicOnly { lookup, targets })
            .user_agent(concat!("Guildbridge-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| format!("HTTP client: {error}"))?;
        Ok(Self { http, targets })
    }
}

/// A coarse reason for a request that got no answer: never the target's own words, so a
/// tenant cannot use the delivery log to scan what lies behind an address.
fn no_answer_reason(error: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return refused.0.to_owned();
        }
        if cause.downcast_ref::<rustls::Error>().is_some() {
            return "TLS failed".to_owned();
        }
        source = cause.source();
    }
    if error.is_timeout() {
        format!("no answer within {} s", DELIVERY_TIMEOUT.as_secs())
    } else {
        "no answer".to_owned()
    }
}

/// At most [`EXCERPT_BYTES`] of the answer, read no further.
async fn excerpt(mut response: reqwest::Response) -> String {
    let mut kept = Vec::new();
    while kept.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk[..chunk.len().min(EXCERPT_BYTES - kept.len())]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&kept).trim().to_owned()
}

#[async_trait]
impl WebhookSender for HttpSender {
    async fn post(&self, url: &url::Url, headers: &[(&'static str, String)], body: &[u8]) -> Sent {
        let started = Instant::now();
        // An IP literal never reaches the resolver: it is checked here, on every try.
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(Err(why)) = literal.map(|ip| self.targets.may_reach(ip)) {
            return Sent { status: None, latency: started.elapsed(), error: Some(why.to_owned()) };
        }
        let mut request = self.http.post(url.clone()).header("content-type", "application/json").body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let error = match status.as_u16() {
                    200..=299 => None,
                    300..=399 => Some(format!("answered {status} (redirects are not followed)")),
                    _ => {
                        let text = excerpt(response).await;
                        Some(if text.is_empty() {
                            format!("answered {status}")
                        } else {
                            format!("answered {status}: {text}")
                        })
                    }
                };
                Sent { status: Some(status.as_u16()), latency: started.elapsed(), error }
            }
            Err(error) => Sent { status: None, latency: started.elapsed(), error: Some(no_answer_reason(&error)) },
        }
    }
}

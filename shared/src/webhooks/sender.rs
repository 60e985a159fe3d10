//! One delivery over HTTP: a short timeout, no redirects followed (a redirect is a failed
//! delivery, so an endpoint cannot bounce Guildbridge elsewhere), and no more of the answer
//! kept than a short excerpt.

use std::time::{Duration, Instant};

use async_trait::async_trait;

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

/// The production sender (reqwest, rustls).
#[derive(Debug, Clone)]
pub struct HttpSender {
    http: reqwest::Client,
}

impl HttpSender {
    pub fn new() -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(DELIVERY_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("Guildbridge-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| format!("HTTP client: {error}"))?;
        Ok(Self { http })
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
            Err(error) => {
                let why = if error.is_timeout() {
                    format!("no answer within {} s", DELIVERY_TIMEOUT.as_secs())
                } else if error.is_connect() {
                    "could not connect".to_owned()
                } else {
                    "the request failed".to_owned()
                };
                Sent { status: None, latency: started.elapsed(), error: Some(why) }
            }
        }
    }
}

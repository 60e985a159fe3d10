//! The platform's webhooks: what it hears (domain events: a channel made, a message
//! received, a sync finished, ...), the tenant's webhook endpoint that receives them, and the
//! rules for where an endpoint may point and how long a delivery keeps trying.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use twilight_model::id::{Id, marker::GuildMarker};

use super::{SubjectRef, TenantId};

/// The kinds of event a tenant can subscribe to, spelled as the payload's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "subject.channel.created")]
    ChannelCreated,
    #[serde(rename = "subject.channel.failed")]
    ChannelFailed,
    #[serde(rename = "subject.channel.archived")]
    ChannelArchived,
    #[serde(rename = "message.received")]
    MessageReceived,
    #[serde(rename = "sync.finished")]
    SyncFinished,
    #[serde(rename = "member.joined")]
    MemberJoined,
    #[serde(rename = "member.left")]
    MemberLeft,
    #[serde(rename = "member.linked")]
    MemberLinked,
    #[serde(rename = "job.dead_lettered")]
    JobDeadLettered,
    /// Sent by "send test event" whatever the subscription says.
    #[serde(rename = "webhook.test")]
    Test,
}

impl EventType {
    /// Every type a subscription may name (the test event is always sent).
    pub const SUBSCRIBABLE: [EventType; 9] = [
        EventType::ChannelCreated,
        EventType::ChannelFailed,
        EventType::ChannelArchived,
        EventType::MessageReceived,
        EventType::SyncFinished,
        EventType::MemberJoined,
        EventType::MemberLeft,
        EventType::MemberLinked,
        EventType::JobDeadLettered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ChannelCreated => "subject.channel.created",
            EventType::ChannelFailed => "subject.channel.failed",
            EventType::ChannelArchived => "subject.channel.archived",
            EventType::MessageReceived => "message.received",
            EventType::SyncFinished => "sync.finished",
            EventType::MemberJoined => "member.joined",
            EventType::MemberLeft => "member.left",
            EventType::MemberLinked => "member.linked",
            EventType::JobDeadLettered => "job.dead_lettered",
            EventType::Test => "webhook.test",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::SUBSCRIBABLE.into_iter().chain([EventType::Test]).find(|kind| kind.as_str() == text)
    }
}

/// Something that happened, before it is addressed to a tenant: its kind, a key that makes
/// its id stable (the same happening emitted twice is one event), and what it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct EventDraft {
    pub kind: EventType,
    /// Unique to the happening within its guild (`lead:7:channel:123`, a message id, ...).
    pub key: String,
    pub subject: Option<SubjectRef>,
    pub platform_user: Option<String>,
    pub occurred_at: u64,
    pub data: serde_json::Value,
}

impl EventDraft {
    pub fn new(kind: EventType, key: impl Into<String>, occurred_at: u64, data: serde_json::Value) -> Self {
        Self { kind, key: key.into(), subject: None, platform_user: None, occurred_at, data }
    }

    pub fn about(mut self, subject: &SubjectRef) -> Self {
        self.subject = Some(subject.clone());
        self
    }

    pub fn by(mut self, platform_user: Option<String>) -> Self {
        self.platform_user = platform_user;
        self
    }

    /// The event as a tenant receives it; its id is a hash of the guild, kind and key, so
    /// the same happening has the same id however often it is emitted.
    pub fn addressed(self, tenant_id: &TenantId, guild_id: Id<GuildMarker>) -> PlatformEvent {
        use sha2::Digest;
        let seed = format!("{guild_id}\n{}\n{}", self.kind.as_str(), self.key);
        let digest = sha2::Sha256::digest(seed.as_bytes());
        PlatformEvent {
            id: format!("evt_{}", hex::encode(&digest[..16])),
            kind: self.kind,
            tenant_id: tenant_id.clone(),
            guild_id,
            subject: self.subject.map(|subject| subject.to_string()),
            platform_user: self.platform_user,
            occurred_at: self.occurred_at,
            data: self.data,
        }
    }
}

/// One event as the tenant's endpoint receives it (the JSON body of the delivery).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformEvent {
    /// Stable across retries and re-emits: the receiver deduplicates on it (it is also the
    /// `webhook-id` header).
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub tenant_id: TenantId,
    pub guild_id: Id<GuildMarker>,
    /// `lead:7`, when the event is about a subject.
    pub subject: Option<String>,
    /// The platform user the event is about or by, when linked.
    pub platform_user: Option<String>,
    /// Unix seconds.
    pub occurred_at: u64,
    pub data: serde_json::Value,
}

/// A signing secret in the Standard Webhooks form: `whsec_` and base64 of 32 random bytes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SigningSecret(String);

impl SigningSecret {
    pub const PREFIX: &'static str = "whsec_";

    pub fn from_bytes(bytes: &[u8]) -> Self {
        use base64::Engine;
        Self(format!("{}{}", Self::PREFIX, base64::engine::general_purpose::STANDARD.encode(bytes)))
    }

    /// The key bytes the HMAC uses.
    pub fn key(&self) -> Option<Vec<u8>> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(self.0.strip_prefix(Self::PREFIX)?).ok()
    }

    /// The secret itself: shown to the tenant once, never logged.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

/// Why an endpoint stopped receiving deliveries, until the tenant resumes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub reason: String,
    pub at: u64,
}

/// A tenant's webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub tenant_id: TenantId,
    pub url: String,
    pub events: Vec<EventType>,
    /// The current secret signs every delivery.
    pub secret: SigningSecret,
    /// The secret before the last rotation, also signing until `previous_until`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<SigningSecret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_until: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<Pause>,
    pub updated_at: u64,
    /// Counts changes: a rotation, pause or resume applies only to the version it read.
    #[serde(default)]
    pub version: u64,
}

/// How long a rotated-out secret keeps signing, so the receiver can switch without a gap.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 60 * 60);

impl WebhookEndpoint {
    pub fn wants(&self, kind: EventType) -> bool {
        kind == EventType::Test || self.events.contains(&kind)
    }

    /// The secrets that sign a delivery made at `now`: the current one, and the previous
    /// one during its overlap.
    pub fn signing_secrets(&self, now: u64) -> Vec<&SigningSecret> {
        let mut secrets = vec![&self.secret];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_until)
            && now < until
        {
            secrets.push(previous);
        }
        secrets
    }
}

/// Where endpoints may point: `https` to public addresses only, except loopback (`http` or
/// `https`) where the host allows it (the local stack and tests). Names are checked again
/// where they are resolved, on every try (`webhooks::sender`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TargetPolicy {
    pub allow_loopback: bool,
}

/// Why a target is refused, as the tenant reads it.
pub const NOT_PUBLIC: &str = "refused: not a public address";
const LOOPBACK_LOCAL_ONLY: &str = "loopback targets are allowed only in the local stack";

impl TargetPolicy {
    pub const MAX_URL: usize = 2048;

    /// Whether a delivery may connect to this address.
    pub fn may_reach(self, ip: std::net::IpAddr) -> Result<(), &'static str> {
        match super::Reach::of(ip) {
            super::Reach::Public => Ok(()),
            super::Reach::Loopback if self.allow_loopback => Ok(()),
            super::Reach::Loopback | super::Reach::Private => Err(NOT_PUBLIC),
        }
    }

    /// The URL, or why it cannot be an endpoint.
    pub fn check(self, raw: &str) -> Result<url::Url, String> {
        if raw.len() > Self::MAX_URL {
            return Err(format!("at most {} characters", Self::MAX_URL));
        }
        let url = url::Url::parse(raw).map_err(|error| format!("not a URL: {error}"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("credentials in the URL are not allowed; sign with the secret instead".to_owned());
        }
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => self.may_reach(ip.into()).map(|()| ip.is_loopback()),
            Some(url::Host::Ipv6(ip)) => self.may_reach(ip.into()).map(|()| ip.is_loopback()),
            Some(url::Host::Domain(name)) if super::is_loopback_name(name) => match self.allow_loopback {
                true => Ok(true),
                false => Err(LOOPBACK_LOCAL_ONLY),
            },
            Some(url::Host::Domain(_)) => Ok(false),
            None => return Err("the URL needs a host".to_owned()),
        }
        .map_err(str::to_owned)?;
        match url.scheme() {
            "https" => Ok(url),
            "http" if loopback => Ok(url),
            _ => Err("an https URL".to_owned()),
        }
    }
}

/// When a failed delivery is tried again: the Standard Webhooks schedule (5 s, 5 min,
/// 30 min, 2 h, 5 h, 10 h, ...), cut so that the last try is within `give_up_after` of the
/// event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    pub delays: Vec<Duration>,
    pub give_up_after: Duration,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        Self {
            delays: vec![
                Duration::from_secs(5),
                minutes(5),
                minutes(30),
                minutes(120),
                minutes(300),
                minutes(600),
                minutes(600),
            ],
            give_up_after: Duration::from_secs(24 * 60 * 60),
        }
    }
}

impl RetrySchedule {
    /// Reads `5,300,1800` (seconds); the schedule's length bounds the tries, within the day.
    pub fn parse(text: &str) -> Option<Self> {
        let delays: Vec<Duration> = text
            .split(',')
            .map(|part| part.trim().parse::<u64>().ok().map(Duration::from_secs))
            .collect::<Option<_>>()?;
        if delays.is_empty() {
            return None;
        }
        Some(Self { delays, give_up_after: Self::default().give_up_after })
    }

    /// After `attempts` failed tries of an event that occurred at `occurred_at`, the wait
    /// before the next, or `None`: give up.
    pub fn next_delay(&self, attempts: u32, occurred_at: u64, now: u64) -> Option<Duration> {
        let delay = *self.delays.get(attempts.checked_sub(1)? as usize)?;
        let deadline = occurred_at + self.give_up_after.as_secs();
        let next = now + delay.as_secs();
        if now >= deadline {
            return None;
        }
        Some(if next > deadline { Duration::from_secs(deadline - now) } else { delay })
    }

    /// How many receives a queue must allow for this schedule (every try, and one spare).
    pub fn receives_needed(&self) -> u32 {
        self.delays.len() as u32 + 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_happening_has_one_id_and_a_different_one_another() {
        let tenant = TenantId::from("crm");
        let draft = |key: &str| EventDraft::new(EventType::MessageReceived, key, 10, serde_json::json!({}));
        let a = draft("message:1").addressed(&tenant, Id::new(5));
        assert_eq!(a.id, draft("message:1").addressed(&tenant, Id::new(5)).id);
        assert_ne!(a.id, draft("message:2").addressed(&tenant, Id::new(5)).id);
        assert_ne!(a.id, draft("message:1").addressed(&tenant, Id::new(6)).id, "another guild's message");
        let body = serde_json::to_value(&a).expect("json");
        assert_eq!(body["type"], "message.received");
        assert_eq!(body["guild_id"], "5");
    }

    #[test]
    fn endpoints_are_https_except_loopback_where_allowed() {
        let strict = TargetPolicy::default();
        let local = TargetPolicy { allow_loopback: true };
        assert!(strict.check("https://crm.example/hooks").is_ok());
        assert!(strict.check("http://crm.example/hooks").is_err());
        assert!(strict.check("http://127.0.0.1:9000/hooks").is_err());
        assert!(strict.check("https://localhost/hooks").is_err());
        assert!(local.check("http://127.0.0.1:9000/hooks").is_ok());
        assert!(local.check("http://[::1]:9000/").is_ok());
        assert!(local.check("http://10.0.0.1/hooks").is_err(), "only loopback may be plain http");
        assert!(local.check("https://10.0.0.1/hooks").is_err(), "the local stack reaches no private address either");
        assert!(strict.check("https://user:pw@crm.example/").is_err());
        assert!(strict.check("ftp://crm.example/").is_err());
        assert!(strict.check(&format!("https://crm.example/{}", "a".repeat(2100))).is_err());
    }

    #[test]
    fn no_spelling_of_an_internal_address_is_an_endpoint() {
        let strict = TargetPolicy::default();
        for url in [
            "https://169.254.169.254/latest/meta-data/",
            "https://0.0.0.0/",
            "https://10.0.0.1/",
            "https://192.168.1.1/",
            "https://172.16.0.1/",
            "https://[::ffff:127.0.0.1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://localhost./",
            "https://a.localhost/",
            "https://2130706433/",
            "https://0x7f.1/",
            "https://[::1]/",
        ] {
            let refused = strict.check(url).expect_err(url);
            assert!(refused.contains("not a public address") || refused.contains("loopback"), "{url}: {refused}");
        }
        assert_eq!(strict.check("https://169.254.169.254/").expect_err("metadata"), NOT_PUBLIC);
    }

    #[test]
    fn retries_follow_the_schedule_and_stop_within_a_day() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.next_delay(1, 0, 0), Some(Duration::from_secs(5)));
        assert_eq!(schedule.next_delay(2, 0, 5), Some(Duration::from_secs(300)));
        assert_eq!(schedule.next_delay(7, 0, 20 * 3600), Some(Duration::from_secs(4 * 3600)), "cut to the day");
        assert_eq!(schedule.next_delay(8, 0, 23 * 3600), None, "the schedule is spent");
        assert_eq!(schedule.next_delay(3, 0, 24 * 3600), None, "a day has passed");
        let quick = RetrySchedule::parse("1,2").expect("schedule");
        assert_eq!(quick.next_delay(2, 100, 101), Some(Duration::from_secs(2)));
        assert_eq!(quick.next_delay(3, 100, 103), None, "its two retries are spent");
        assert!(RetrySchedule::parse("1,x").is_none());
        assert_eq!(schedule.receives_needed(), 9);
    }

    #[test]
    fn secrets_stay_out_of_debug_output_and_both_sign_during_a_rotation() {
        let secret = SigningSecret::from_bytes(&[7; 32]);
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(secret.key().expect("key"), vec![7; 32]);
        assert!(!format!("{secret:?}").contains(secret.expose()));
        let endpoint = WebhookEndpoint {
            tenant_id: TenantId::from("crm"),
            url: "https://crm.example/".into(),
            events: vec![EventType::ChannelCreated],
            secret: SigningSecret::from_bytes(&[1; 32]),
            previous_secret: Some(secret),
            previous_until: Some(100),
            paused: None,
            updated_at: 0,
            version: 0,
        };
        assert_eq!(endpoint.signing_secrets(99).len(), 2);
        assert_eq!(endpoint.signing_secrets(100).len(), 1);
        assert!(endpoint.wants(EventType::ChannelCreated) && endpoint.wants(EventType::Test));
        assert!(!endpoint.wants(EventType::MemberLeft));
    }
}

//! How many API requests a tenant may make: a fixed window per minute, one budget for every
//! request and a tighter one for the requests that make the bot or the webhook sender reach
//! out (POSTs: channels, invites, messages, syncs, webhook tests, retries).

use std::num::NonZeroU32;

/// The length of a window, in seconds.
pub const WINDOW_SECONDS: u64 = 60;

/// A tenant's budgets per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Every authenticated request.
    pub per_minute: NonZeroU32,
    /// Requests that cause outbound traffic (counted in both budgets).
    pub outbound_per_minute: NonZeroU32,
}

impl Default for RequestLimits {
    /// 20 requests a second on average, 2 of them outbound: well above a platform's steady
    /// use, well below what would let one tenant crowd Discord's limits for the others.
    fn default() -> Self {
        Self {
            per_minute: NonZeroU32::MIN.saturating_add(1_199),
            outbound_per_minute: NonZeroU32::MIN.saturating_add(119),
        }
    }
}

/// Which budgets a request draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestClass {
    Any,
    Outbound,
}

impl RequestClass {
    /// POSTs act (every one but starting the connect flow, which only signs a link).
    pub fn of(method: &http::Method, path: &str) -> Self {
        if method == http::Method::POST && path != "/v1/connect" { RequestClass::Outbound } else { RequestClass::Any }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RequestClass::Any => "any",
            RequestClass::Outbound => "outbound",
        }
    }
}

/// The window holding `now`: its start, and the seconds until the next one.
pub fn window(now: u64) -> (u64, u64) {
    let start = now - now % WINDOW_SECONDS;
    (start, start + WINDOW_SECONDS - now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posts_but_the_connect_link_are_outbound() {
        assert_eq!(RequestClass::of(&http::Method::POST, "/v1/webhook/test"), RequestClass::Outbound);
        assert_eq!(RequestClass::of(&http::Method::POST, "/v1/subjects/event/spa/messages"), RequestClass::Outbound);
        assert_eq!(RequestClass::of(&http::Method::POST, "/v1/connect"), RequestClass::Any);
        assert_eq!(RequestClass::of(&http::Method::PUT, "/v1/settings"), RequestClass::Any);
    }

    #[test]
    fn a_window_ends_on_the_minute() {
        assert_eq!(window(1_800_000_030), (1_800_000_000, 30));
        assert_eq!(window(120), (120, 60));
        assert_eq!(window(179), (120, 1));
    }

    #[test]
    fn the_defaults_are_twenty_and_two_a_second() {
        let limits = RequestLimits::default();
        assert_eq!((limits.per_minute.get(), limits.outbound_per_minute.get()), (1_200, 120));
    }
}

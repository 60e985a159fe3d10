//! Discord's rate limits, learned from its headers: per-route buckets (shared by routes with
//! the same `X-RateLimit-Bucket`, separate per top-level resource), the global 50 requests a
//! second, and 429s with their scope. Waiting happens before sending, never after a refusal
//! that could have been foreseen; a wait that would pass the caller's deadline is returned
//! instead of slept.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::Duration,
};

use tokio::time::Instant;

/// Discord's global limit per bot token.
pub const GLOBAL_PER_SECOND: usize = 50;
/// The global window, with a margin: requests sent evenly can still arrive bunched.
const GLOBAL_WINDOW: Duration = Duration::from_millis(1050);
/// How often a request waiting on another's probe of an unknown bucket looks again.
const PROBE_POLL: Duration = Duration::from_millis(5);
/// Buckets past their reset tell nothing (the next answer's headers start a new window):
/// beyond this many known buckets, expired ones are dropped. Every interaction token has a
/// bucket of its own, so without this a long-lived worker's map only grows.
const PRUNE_ABOVE: usize = 256;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    remaining: u32,
    reset_at: Instant,
}

#[derive(Debug, Default)]
struct State {
    /// Route template -> the bucket hash Discord told us it shares.
    route_buckets: HashMap<String, String>,
    /// Bucket hash (or route template before learning it) + top-level resource -> state.
    buckets: HashMap<String, Bucket>,
    /// Buckets whose limits are unknown (new, or past their reset) with a request in flight
    /// to learn them: others wait for its headers instead of bursting into a 429.
    probing: std::collections::HashSet<String>,
    /// A global 429 blocks everything until then.
    global_until: Option<Instant>,
    /// When the most recent requests counted against the global limit were sent.
    recent: VecDeque<Instant>,
    /// The size at which expired buckets are next dropped (doubles while most are live).
    prune_at: usize,
}

impl State {
    fn insert_bucket(&mut self, id: String, bucket: Bucket) {
        self.buckets.insert(id, bucket);
        if self.buckets.len() > self.prune_at.max(PRUNE_ABOVE) {
            let now = Instant::now();
            self.buckets.retain(|_, bucket| bucket.reset_at > now);
            self.prune_at = (self.buckets.len() * 2).max(PRUNE_ABOVE);
        }
    }
}

/// Identifies a request for rate limiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteKey {
    /// Method and path template, e.g. `POST /guilds/{guild_id}/channels`.
    pub template: String,
    /// The top-level resource, e.g. `guild:123`; buckets are separate per resource.
    pub major: String,
    /// Interaction webhooks do not count against the global limit.
    pub global: bool,
}

#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<State>,
    /// This process's share of the bot's global limit (several processes share one token).
    global_per_second: usize,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::with_global_per_second(GLOBAL_PER_SECOND)
    }
}

/// What a rate-limit header set said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LimitHeaders {
    pub bucket: Option<String>,
    pub remaining: Option<u32>,
    pub reset_after: Option<Duration>,
}

/// A reserved slot. Dropped without [`Permit::answered`] (no answer came, the deadline passed,
/// the caller returned early), it ends the probe it started, so the bucket's next request is
/// not left waiting on an answer that will never come.
#[derive(Debug)]
#[must_use = "dropping the permit at once ends its probe before the request is sent"]
pub struct Permit<'a> {
    limiter: &'a RateLimiter,
    /// The unknown bucket this request probes, if it does.
    probe: Option<String>,
}

impl Permit<'_> {
    /// The answer came: its headers teach the bucket (and end the probe).
    pub fn answered(mut self, route: &RouteKey, headers: &LimitHeaders) {
        self.probe = None;
        self.limiter.update(route, headers);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.probe.take() {
            self.limiter.lock().probing.remove(&id);
        }
    }
}

impl RateLimiter {
    /// A limiter that sends at most `per_second` globally limited requests a second (at
    /// least one, at most Discord's 50).
    pub fn with_global_per_second(per_second: usize) -> Self {
        Self { state: Mutex::default(), global_per_second: per_second.clamp(1, GLOBAL_PER_SECOND) }
    }

    /// How many buckets the limiter remembers (bounded: expired ones go).
    pub fn tracked_buckets(&self) -> usize {
        self.lock().buckets.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn bucket_id(state: &State, route: &RouteKey) -> String {
        let hash = state.route_buckets.get(&route.template).unwrap_or(&route.template);
        format!("{hash}:{}", route.major)
    }

    /// Waits until the route may be used, reserving the slot. `Err(wait)` when the wait would
    /// end after `deadline`. The permit ends the probe of an unknown bucket when it is dropped
    /// unanswered, whatever path the caller leaves by.
    pub async fn acquire(&self, route: &RouteKey, deadline: Instant) -> Result<Permit<'_>, Duration> {
        loop {
            let wait = {
                let mut state = self.lock();
                let now = Instant::now();
                let wait = self.wait_needed(&mut state, route, now);
                if wait.is_zero() {
                    let id = Self::bucket_id(&state, route);
                    let probe = match state.buckets.get_mut(&id).filter(|b| b.reset_at > now) {
                        Some(bucket) => {
                            bucket.remaining = bucket.remaining.saturating_sub(1);
                            None
                        }
                        None => {
                            state.buckets.remove(&id);
                            state.probing.insert(id.clone());
                            Some(id)
                        }
                    };
                    if route.global {
                        state.recent.push_back(now);
                    }
                    return Ok(Permit { limiter: self, probe });
                }
                wait
            };
            if Instant::now() + wait > deadline {
                return Err(wait);
            }
            tokio::time::sleep(wait).await;
        }
    }

    fn wait_needed(&self, state: &mut State, route: &RouteKey, now: Instant) -> Duration {
        let mut wait = Duration::ZERO;
        if let Some(until) = state.global_until {
            wait = wait.max(until.saturating_duration_since(now));
        }
        if route.global {
            while state.recent.front().is_some_and(|sent| now.duration_since(*sent) >= GLOBAL_WINDOW) {
                state.recent.pop_front();
            }
            if let Some(oldest) = state.recent.front().filter(|_| state.recent.len() >= self.global_per_second) {
                wait = wait.max((*oldest + GLOBAL_WINDOW).saturating_duration_since(now));
            }
        }
        let id = Self::bucket_id(state, route);
        match state.buckets.get(&id) {
            Some(bucket) if bucket.remaining == 0 && bucket.reset_at > now => wait = wait.max(bucket.reset_at - now),
            Some(bucket) if bucket.reset_at > now => {}
            _ if state.probing.contains(&id) => wait = wait.max(PROBE_POLL),
            _ => {}
        }
        wait
    }

    /// Learns from a response's headers (every response, limited or not, ends a probe).
    pub fn update(&self, route: &RouteKey, headers: &LimitHeaders) {
        let mut state = self.lock();
        let probe = Self::bucket_id(&state, route);
        state.probing.remove(&probe);
        if let Some(hash) = &headers.bucket {
            state.route_buckets.insert(route.template.clone(), hash.clone());
        }
        if let (Some(remaining), Some(reset_after)) = (headers.remaining, headers.reset_after) {
            let id = Self::bucket_id(&state, route);
            state.probing.remove(&id);
            let bucket = Bucket { remaining, reset_at: Instant::now() + reset_after };
            // Answers can arrive out of order: keep the most pessimistic count in a window.
            let merged = match state.buckets.get(&id) {
                Some(known) if known.reset_at > Instant::now() && known.remaining < remaining => *known,
                _ => bucket,
            };
            state.insert_bucket(id, merged);
        }
    }

    /// Records a 429: the whole bot waits on a global one, the bucket on any other.
    pub fn limited(&self, route: &RouteKey, retry_after: Duration, global: bool) {
        let mut state = self.lock();
        let until = Instant::now() + retry_after;
        if global {
            state.global_until = Some(state.global_until.map_or(until, |current| current.max(until)));
        } else {
            let id = Self::bucket_id(&state, route);
            state.insert_bucket(id, Bucket { remaining: 0, reset_at: until });
        }
    }
}

/// Discord bans an IP after 10,000 invalid (401, 403, 429) requests in 10 minutes.
/// Counting them lets the client stop well before that.
#[derive(Debug)]
pub struct InvalidRequestBudget {
    limit: usize,
    window: Duration,
    seen: Mutex<VecDeque<Instant>>,
}

impl InvalidRequestBudget {
    /// Stops at 90% of Discord's 10,000 per 10 minutes.
    pub fn discord_default() -> Self {
        Self::new(9_000, Duration::from_secs(600))
    }

    pub fn new(limit: usize, window: Duration) -> Self {
        Self { limit, window, seen: Mutex::new(VecDeque::new()) }
    }

    fn prune(&self, seen: &mut VecDeque<Instant>, now: Instant) {
        while seen.front().is_some_and(|at| now.duration_since(*at) >= self.window) {
            seen.pop_front();
        }
    }

    pub fn record(&self) {
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        self.prune(&mut seen, now);
        seen.push_back(now);
    }

    /// `Some(wait)` when the budget is spent: how long until the oldest refusal leaves the window.
    pub fn exhausted(&self) -> Option<Duration> {
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        self.prune(&mut seen, now);
        (seen.len() >= self.limit).then(|| seen.front().map_or(Duration::ZERO, |oldest| (*oldest + self.window) - now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(template: &str, major: &str) -> RouteKey {
        RouteKey { template: template.to_owned(), major: major.to_owned(), global: true }
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_an_exhausted_bucket_and_shares_learned_buckets() {
        let limiter = RateLimiter::default();
        let create = route("POST /guilds/{guild_id}/channels", "guild:1");
        let list = route("GET /guilds/{guild_id}/channels", "guild:1");
        let headers =
            LimitHeaders { bucket: Some("abc".into()), remaining: Some(0), reset_after: Some(Duration::from_secs(2)) };
        limiter.update(&create, &headers);
        limiter.update(&list, &LimitHeaders { bucket: Some("abc".into()), ..LimitHeaders::default() });
        let started = Instant::now();
        let _permit = limiter.acquire(&list, started + Duration::from_secs(10)).await.expect("within deadline");
        assert!(started.elapsed() >= Duration::from_secs(2), "routes sharing a bucket share its wait");
        let other_guild = route("POST /guilds/{guild_id}/channels", "guild:2");
        let started = Instant::now();
        limiter.limited(&create, Duration::from_secs(5), false);
        let _permit = limiter
            .acquire(&other_guild, started + Duration::from_secs(1))
            .await
            .expect("another guild's bucket is free");
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_bucket_is_probed_by_one_request_at_a_time() {
        let limiter = std::sync::Arc::new(RateLimiter::default());
        let create = route("POST /guilds/{guild_id}/channels", "guild:1");
        let deadline = Instant::now() + Duration::from_secs(10);
        let probe = limiter.acquire(&create, deadline).await.expect("the probe goes first");
        let waiting = tokio::spawn({
            let (limiter, create) = (limiter.clone(), create.clone());
            async move { limiter.acquire(&create, deadline).await.map(drop) }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "a second request waits for the probe's answer");
        let headers =
            LimitHeaders { bucket: Some("b".into()), remaining: Some(4), reset_after: Some(Duration::from_secs(5)) };
        probe.answered(&create, &headers);
        assert_eq!(waiting.await.expect("task"), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_dropped_unanswered_frees_its_bucket_at_once() {
        let limiter = RateLimiter::default();
        let create = route("POST /guilds/{guild_id}/channels", "guild:1");
        // The deadline passes just as the probe is taken: the caller gives up without sending.
        let probe = limiter.acquire(&create, Instant::now()).await.expect("a probe is taken");
        tokio::time::advance(Duration::from_millis(1)).await;
        drop(probe);
        let started = Instant::now();
        let next = limiter.acquire(&create, started + Duration::from_secs(10)).await;
        assert!(next.is_ok(), "the next request goes");
        assert_eq!(started.elapsed(), Duration::ZERO, "at once, not after waiting on the abandoned probe");
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_past_the_deadline_is_returned_not_slept() {
        let limiter = RateLimiter::default();
        let create = route("POST /channels/{channel_id}/messages", "channel:1");
        limiter.limited(&create, Duration::from_secs(30), true);
        let started = Instant::now();
        let wait = limiter.acquire(&create, started + Duration::from_secs(5)).await.expect_err("too long");
        assert!(wait > Duration::from_secs(29));
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_than_fifty_a_second() {
        let limiter = RateLimiter::default();
        let started = Instant::now();
        for n in 0..120 {
            let _permit = limiter
                .acquire(&route("GET /x", &format!("r:{n}")), started + Duration::from_secs(10))
                .await
                .expect("fits");
        }
        assert!(started.elapsed() >= Duration::from_secs(2), "{:?}", started.elapsed());
        let mut webhook = route("PATCH /webhooks/{id}/{token}/messages/@original", "webhook:1");
        webhook.global = false;
        let before = Instant::now();
        for _ in 0..100 {
            let permit = limiter.acquire(&webhook, before + Duration::from_secs(10)).await.expect("fits");
            permit.answered(&webhook, &LimitHeaders::default());
        }
        assert_eq!(before.elapsed(), Duration::ZERO, "interaction webhooks are outside the global limit");
    }

    #[tokio::test(start_paused = true)]
    async fn a_share_of_the_global_limit_is_kept_to() {
        let limiter = RateLimiter::with_global_per_second(12);
        let started = Instant::now();
        for n in 0..36 {
            let _permit = limiter
                .acquire(&route("GET /x", &format!("r:{n}")), started + Duration::from_secs(10))
                .await
                .expect("fits");
        }
        assert!(started.elapsed() >= Duration::from_secs(2), "36 at 12 a second: {:?}", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn buckets_of_finished_interactions_are_forgotten() {
        let limiter = RateLimiter::default();
        let headers = LimitHeaders { bucket: None, remaining: Some(4), reset_after: Some(Duration::from_secs(5)) };
        let webhook = |n: u32| RouteKey {
            template: "PATCH /webhooks/{application_id}/{interaction_token}/messages/@original".to_owned(),
            major: format!("webhook:1:{n}"),
            global: false,
        };
        for n in 0..10_000 {
            limiter.update(&webhook(n), &headers);
            if n % 1_000 == 999 {
                tokio::time::advance(Duration::from_secs(6)).await;
            }
        }
        assert!(limiter.tracked_buckets() <= 2 * 1_000 + PRUNE_ABOVE, "{} buckets kept", limiter.tracked_buckets());
    }

    #[tokio::test(start_paused = true)]
    async fn the_invalid_request_budget_runs_out_and_recovers() {
        let budget = InvalidRequestBudget::new(3, Duration::from_secs(600));
        for _ in 0..3 {
            assert_eq!(budget.exhausted(), None);
            budget.record();
        }
        assert!(budget.exhausted().is_some());
        tokio::time::advance(Duration::from_secs(601)).await;
        assert_eq!(budget.exhausted(), None);
    }
}

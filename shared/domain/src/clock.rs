//! Time, as Guildbridge reads it. An instant is whole seconds since the Unix epoch (`u64`,
//! what the clock says and what every record, job and schedule stores); a span (a lease, a
//! time to live, a timeout) is a `Duration`. Code that decides by time takes a [`Clock`], so
//! tests step through windows and timeouts with a [`ManualClock`] instead of sleeping.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

/// Where "now" comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// A shared clock, as the use cases hold one.
pub type SharedClock = Arc<dyn Clock>;

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or_default()
    }
}

/// The machine's clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// The test double: a clock that moves only when told. Clones share one time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    pub fn starting_at(seconds: u64) -> Self {
        Self(Arc::new(AtomicU64::new(seconds)))
    }

    pub fn set(&self, seconds: u64) {
        self.0.store(seconds, Ordering::SeqCst);
    }

    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_its_clones_agree() {
        let clock = ManualClock::starting_at(100);
        let shared: SharedClock = Arc::new(clock.clone());
        assert_eq!(shared.now(), 100);
        clock.advance(5);
        assert_eq!(shared.now(), 105);
        clock.set(7);
        assert_eq!(shared.now(), 7);
        assert!(SystemClock.now() > 1_700_000_000, "the system clock reads the epoch seconds");
    }
}

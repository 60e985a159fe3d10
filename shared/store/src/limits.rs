//! The tenants' request counters: one item per tenant, budget and minute, counted up by a
//! conditional update that refuses at the limit. Every Lambda instance counts in the same
//! item, so the limit holds across them; the items expire after their minute.

use async_trait::async_trait;

use super::{
    Store, StoreError,
    items::{ItemError, ItemStore},
};
use guildbridge_domain::{
    TenantId,
    limits::{WINDOW_SECONDS, window},
};

/// Whether a request fits its tenant's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Over the budget until the window ends, this many seconds from now.
    Limited {
        retry_after: u64,
    },
}

#[async_trait]
pub trait RateStore: Send + Sync {
    /// Counts one request of `tenant` against `budget` (named) in the minute holding `now`;
    /// `Limited` once `limit` were counted there.
    async fn admit(&self, tenant: &TenantId, budget: &str, limit: u32, now: u64) -> Result<Admission, StoreError>;
}

#[async_trait]
impl<I: ItemStore> RateStore for Store<I> {
    /// 1 UpdateItem.
    async fn admit(&self, tenant: &TenantId, budget: &str, limit: u32, now: u64) -> Result<Admission, StoreError> {
        let (window_start, _) = window(now);
        let key = super::schema::keys::request_counter(tenant.as_str(), budget, window_start);
        let ends = window_start + WINDOW_SECONDS;
        match self.items.count_up(&key, "count", u64::from(limit), ends + WINDOW_SECONDS).await {
            Ok(_) => Ok(Admission::Admitted),
            Err(ItemError::ConditionFailed) => Ok(Admission::Limited { retry_after: ends.saturating_sub(now).max(1) }),
            Err(error) => Err(error.into()),
        }
    }
}

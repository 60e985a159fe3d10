//! The settings page's sessions and logins in flight. A session is stored under the SHA-256
//! of the id its cookie holds, so the table alone never yields a usable cookie; a login is
//! taken once (read, then a delete conditioned on it still being there).

use async_trait::async_trait;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    Store, StoreError, from_item,
    items::{Condition, ItemError, ItemStore},
    schema::{attr, keys},
    to_item,
};
use guildbridge_domain::{GuildAccess, LoginAttempt, SessionRecord};

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session under `session_id` (refused if that id is somehow taken).
    async fn create_session(&self, session_id: &str, session: &SessionRecord) -> Result<(), StoreError>;
    /// The live session `session_id` names, if any.
    async fn session(&self, session_id: &str, now: u64) -> Result<Option<SessionRecord>, StoreError>;
    /// Replaces a live session's guild list; `NotFound` once it has ended.
    async fn refresh_access(
        &self,
        session_id: &str,
        guilds: Vec<GuildAccess>,
        checked_at: u64,
        now: u64,
    ) -> Result<SessionRecord, StoreError>;
    /// Ends a session and returns what it held (for revoking its Discord token).
    async fn end_session(&self, session_id: &str, now: u64) -> Result<Option<SessionRecord>, StoreError>;
    async fn start_login(&self, state: &str, attempt: &LoginAttempt) -> Result<(), StoreError>;
    /// The login `state` names, once: a second take (or a replay) finds nothing.
    async fn take_login(&self, state: &str, now: u64) -> Result<Option<LoginAttempt>, StoreError>;
}

fn hashed(session_id: &str) -> String {
    hex::encode(Sha256::digest(session_id.as_bytes()))
}

fn live(item: &super::items::Item, now: u64) -> bool {
    item.get(attr::EXPIRES_AT).and_then(serde_json::Value::as_u64).is_some_and(|expires_at| expires_at > now)
}

#[async_trait]
impl<I: ItemStore> SessionStore for Store<I> {
    /// 1 conditional PutItem.
    async fn create_session(&self, session_id: &str, session: &SessionRecord) -> Result<(), StoreError> {
        let key = keys::session(&hashed(session_id));
        let item = to_item(&key, session, &[(attr::EXPIRES_AT, json!(session.expires_at))])?;
        match self.items.put(item, Some(Condition::NotExists)).await {
            Err(ItemError::ConditionFailed) => Err(StoreError::AlreadyExists("a session with this id")),
            other => Ok(other?),
        }
    }

    /// 1 GetItem.
    async fn session(&self, session_id: &str, now: u64) -> Result<Option<SessionRecord>, StoreError> {
        let item = self.items.get(&keys::session(&hashed(session_id))).await?;
        item.filter(|item| live(item, now)).map(from_item).transpose()
    }

    /// 1 GetItem + 1 conditional PutItem.
    async fn refresh_access(
        &self,
        session_id: &str,
        guilds: Vec<GuildAccess>,
        checked_at: u64,
        now: u64,
    ) -> Result<SessionRecord, StoreError> {
        let current = self.session(session_id, now).await?.ok_or(StoreError::NotFound("session"))?;
        let refreshed = SessionRecord { guilds, guilds_checked_at: checked_at, ..current };
        let key = keys::session(&hashed(session_id));
        let item = to_item(&key, &refreshed, &[(attr::EXPIRES_AT, json!(refreshed.expires_at))])?;
        // Only while the session still exists: a logout in between must not bring it back.
        match self.items.put(item, Some(Condition::Exists)).await {
            Err(ItemError::ConditionFailed) => Err(StoreError::NotFound("session")),
            other => other.map(|()| refreshed).map_err(StoreError::from),
        }
    }

    /// 1 GetItem + 1 DeleteItem.
    async fn end_session(&self, session_id: &str, now: u64) -> Result<Option<SessionRecord>, StoreError> {
        let key = keys::session(&hashed(session_id));
        let Some(item) = self.items.get(&key).await? else { return Ok(None) };
        let ended = live(&item, now).then(|| from_item(item)).transpose()?;
        self.items.delete(&key, None).await?;
        Ok(ended)
    }

    /// 1 conditional PutItem.
    async fn start_login(&self, state: &str, attempt: &LoginAttempt) -> Result<(), StoreError> {
        let item = to_item(&keys::login(state), attempt, &[(attr::EXPIRES_AT, json!(attempt.expires_at))])?;
        match self.items.put(item, Some(Condition::NotExists)).await {
            Err(ItemError::ConditionFailed) => Err(StoreError::AlreadyExists("a login with this state")),
            other => Ok(other?),
        }
    }

    /// 1 GetItem + 1 conditional DeleteItem.
    async fn take_login(&self, state: &str, now: u64) -> Result<Option<LoginAttempt>, StoreError> {
        let key = keys::login(state);
        let Some(item) = self.items.get(&key).await? else { return Ok(None) };
        let attempt: LoginAttempt = from_item(item)?;
        match self.items.delete(&key, Some(Condition::Exists)).await {
            // Someone took it between the read and the delete: theirs, not ours.
            Err(ItemError::ConditionFailed) => Ok(None),
            Err(error) => Err(error.into()),
            Ok(()) => Ok((attempt.expires_at > now).then_some(attempt)),
        }
    }
}

//! The connect flow's OAuth2 `state`: who started it, where to send them back, and until
//! when, sealed with HMAC so nobody can alter it. Single use comes from its nonce, spent in
//! the store at the callback.

use serde::{Deserialize, Serialize};

use crate::discord::custom_id::StateKey;

const PURPOSE: &str = "connect";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectState {
    pub tenant_id: String,
    pub nonce: String,
    pub return_url: String,
    /// The redirect URI the authorization named; the code exchange must name it again.
    pub redirect_uri: String,
    pub expires_at: u64,
    /// Started from the settings page with no platform: the guild becomes its own tenant,
    /// and `return_url` is on this site.
    #[serde(default)]
    pub standalone: bool,
}

/// Why a `state` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateRefusal {
    #[error("this connect link was altered or was not made by Guildbridge")]
    Tampered,
    #[error("this connect link has expired; start again from your platform")]
    Expired,
}

impl ConnectState {
    pub fn seal(&self, key: &StateKey) -> String {
        key.seal(PURPOSE, &serde_json::to_vec(self).unwrap_or_default())
    }

    /// The state `token` carries, if it is ours, intact, and not expired at `now`.
    pub fn open(key: &StateKey, token: &str, now: u64) -> Result<Self, StateRefusal> {
        let payload = key.unseal(PURPOSE, token).map_err(|_| StateRefusal::Tampered)?;
        let state: Self = serde_json::from_slice(&payload).map_err(|_| StateRefusal::Tampered)?;
        if state.expires_at <= now {
            return Err(StateRefusal::Expired);
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_opens_once_sealed_and_not_after_it_expires() {
        let key = StateKey::new(&[7; 32]).expect("key");
        let state = ConnectState {
            tenant_id: "club".into(),
            nonce: "n".into(),
            return_url: "https://club.example/".into(),
            redirect_uri: "https://web.example/connect/callback".into(),
            expires_at: 1_000,
            standalone: false,
        };
        let token = state.seal(&key);
        assert_eq!(ConnectState::open(&key, &token, 999), Ok(state));
        assert_eq!(ConnectState::open(&key, &token, 1_000), Err(StateRefusal::Expired));
        assert_eq!(ConnectState::open(&key, &format!("x{token}"), 1), Err(StateRefusal::Tampered));
    }
}

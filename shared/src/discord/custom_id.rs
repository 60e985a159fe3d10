//! Versioned, HMAC-signed `custom_id`s for buttons, selects and modals.
//!
//! Lambda keeps nothing in memory between invocations, so whatever a component needs to act
//! on (a subject, a page, a confirmation) travels in its `custom_id`. Users can forge any
//! `custom_id` they like, so the state is signed: `v1:<handler>:<state>:<tag>`, where the tag is
//! the first 12 bytes of HMAC-SHA256 over `v1:<handler>:<state>`, base64url without padding.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Discord's limit on a component's `custom_id`.
pub const MAX_CUSTOM_ID_LEN: usize = 100;
const VERSION: &str = "v1";
const TAG_BYTES: usize = 12;
const MIN_KEY_BYTES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomIdError {
    #[error("the state signing key must be at least {MIN_KEY_BYTES} bytes")]
    KeyTooShort,
    #[error("handler names are 1..=24 characters of a-z, 0-9, '-' and '_'")]
    BadHandlerName,
    #[error("the signed custom_id would be {0} characters; Discord allows {MAX_CUSTOM_ID_LEN}")]
    TooLong(usize),
    #[error("not a Guildbridge custom_id")]
    Unrecognised,
    #[error("custom_id signature does not match")]
    BadSignature,
}

/// The secret that signs component state.
#[derive(Clone)]
pub struct StateKey(Vec<u8>);

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateKey(<redacted>)")
    }
}

/// A verified `custom_id`: which handler it belongs to and the state it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedState<'a> {
    pub handler: &'a str,
    pub state: &'a str,
}

impl StateKey {
    pub fn new(secret: &[u8]) -> Result<Self, CustomIdError> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(CustomIdError::KeyTooShort);
        }
        Ok(Self(secret.to_vec()))
    }

    /// Builds the `custom_id` for `handler` carrying `state`.
    pub fn sign(&self, handler: &str, state: &str) -> Result<String, CustomIdError> {
        let valid_name = (1..=24).contains(&handler.len())
            && handler.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid_name {
            return Err(CustomIdError::BadHandlerName);
        }
        let unsigned = format!("{VERSION}:{handler}:{state}");
        let id = format!("{unsigned}:{}", URL_SAFE_NO_PAD.encode(self.tag(&unsigned)));
        if id.len() > MAX_CUSTOM_ID_LEN {
            return Err(CustomIdError::TooLong(id.len()));
        }
        Ok(id)
    }

    /// Checks a `custom_id` received from Discord and returns what it carries.
    pub fn verify<'a>(&self, custom_id: &'a str) -> Result<SignedState<'a>, CustomIdError> {
        let (unsigned, tag) = custom_id.rsplit_once(':').ok_or(CustomIdError::Unrecognised)?;
        let mut parts = unsigned.splitn(3, ':');
        let (Some(VERSION), Some(handler), Some(state)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CustomIdError::Unrecognised);
        };
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| CustomIdError::BadSignature)?;
        if tag.len() != TAG_BYTES || !bool::from(tag.ct_eq(&self.tag(unsigned))) {
            return Err(CustomIdError::BadSignature);
        }
        Ok(SignedState { handler, state })
    }

    /// Seals `payload` for one `purpose` (a URL-safe `body.tag`), for state that travels
    /// outside Discord components, such as the connect flow's OAuth2 `state`. A token sealed
    /// for one purpose never opens for another.
    pub fn seal(&self, purpose: &str, payload: &[u8]) -> String {
        let body = URL_SAFE_NO_PAD.encode(payload);
        let tag = self.tag(&format!("{VERSION}:{purpose}:{body}"));
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The payload of a token [`StateKey::seal`] made for `purpose`.
    pub fn unseal(&self, purpose: &str, token: &str) -> Result<Vec<u8>, CustomIdError> {
        let (body, tag) = token.split_once('.').ok_or(CustomIdError::Unrecognised)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| CustomIdError::BadSignature)?;
        let expected = self.tag(&format!("{VERSION}:{purpose}:{body}"));
        if tag.len() != TAG_BYTES || !bool::from(tag.ct_eq(&expected)) {
            return Err(CustomIdError::BadSignature);
        }
        URL_SAFE_NO_PAD.decode(body).map_err(|_| CustomIdError::Unrecognised)
    }

    fn tag(&self, unsigned: &str) -> [u8; TAG_BYTES] {
        // HMAC accepts keys of any length, and the length was checked in `new`.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return [0; TAG_BYTES];
        };
        mac.update(unsigned.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&full[..TAG_BYTES]);
        tag
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> StateKey {
        StateKey::new(&[byte; 32]).expect("32-byte key")
    }

    #[test]
    fn round_trips_state_including_colons() {
        let id = key(1).sign("confirm-archive", "event:42:page=2").expect("fits");
        assert!(id.len() <= MAX_CUSTOM_ID_LEN);
        assert_eq!(key(1).verify(&id), Ok(SignedState { handler: "confirm-archive", state: "event:42:page=2" }));
    }

    #[test]
    fn refuses_forged_or_foreign_ids() {
        let id = key(1).sign("confirm", "event:42").expect("fits");
        assert_eq!(key(2).verify(&id), Err(CustomIdError::BadSignature));
        let tampered = id.replace("event:42", "event:43");
        assert_eq!(key(1).verify(&tampered), Err(CustomIdError::BadSignature));
        assert_eq!(key(1).verify("some-other-bot-button"), Err(CustomIdError::Unrecognised));
        assert_eq!(key(1).verify(&id.replacen("v1", "v9", 1)), Err(CustomIdError::Unrecognised));
    }

    #[test]
    fn sealed_payloads_open_only_with_their_key_and_purpose() {
        let token = key(1).seal("connect", b"{\"tenant\":\"a\"}");
        assert_eq!(key(1).unseal("connect", &token).as_deref(), Ok(&b"{\"tenant\":\"a\"}"[..]));
        assert_eq!(key(2).unseal("connect", &token), Err(CustomIdError::BadSignature));
        assert_eq!(key(1).unseal("login", &token), Err(CustomIdError::BadSignature));
        let (body, tag) = token.split_once('.').expect("two parts");
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(b"{\"tenant\":\"b\"}"));
        assert_eq!(key(1).unseal("connect", &forged), Err(CustomIdError::BadSignature));
        assert_eq!(key(1).unseal("connect", body), Err(CustomIdError::Unrecognised));
    }

    #[test]
    fn enforces_discord_length_and_key_rules() {
        assert_eq!(StateKey::new(b"short").err(), Some(CustomIdError::KeyTooShort));
        assert!(matches!(key(1).sign("x", &"s".repeat(90)), Err(CustomIdError::TooLong(_))));
        assert_eq!(key(1).sign("Bad Name", "s"), Err(CustomIdError::BadHandlerName));
    }
}

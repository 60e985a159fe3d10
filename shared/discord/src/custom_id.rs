//! Versioned, HMAC-signed `custom_id`s for buttons, selects and modals.
//!
//! Lambda keeps nothing in memory between invocations, so whatever a component needs to act
//! on (a subject, a page, a confirmation) travels in its `custom_id`. Users can forge any
//! `custom_id` they like, so the state is signed: `v2:<handler>:<state>:<tag>`, where the tag is
//! the first 12 bytes of HMAC-SHA256 over `v2:<handler>:<state>`, base64url without padding.
//!
//! One secret (`STATE_SIGNING_KEY`) signs several kinds of state, so each kind signs with its
//! own key derived from it with HKDF-SHA256 (`custom_id`s one, each sealing purpose another):
//! a token made for one can never pass for another, whatever its shape.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Discord's limit on a component's `custom_id`.
pub const MAX_CUSTOM_ID_LEN: usize = 100;
const VERSION: &str = "v2";
/// `custom_id`s signed before keys were derived per purpose (on buttons already posted):
/// still verified with the secret itself. No sealed token ever had this shape with a
/// handler's name, so this opens nothing new.
const LEGACY_VERSION: &str = "v1";
/// HKDF's salt: fixed, naming the application (RFC 5869 allows a non-secret salt).
const SALT: &[u8] = b"guildbridge state keys";
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

/// The secret that signs component state, with the key derived from it for `custom_id`s.
#[derive(Clone)]
pub struct StateKey {
    secret: Vec<u8>,
    custom_ids: [u8; 32],
}

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
        Ok(Self { secret: secret.to_vec(), custom_ids: derive(secret, "custom-id") })
    }

    /// Builds the `custom_id` for `handler` carrying `state`.
    pub fn sign(&self, handler: &str, state: &str) -> Result<String, CustomIdError> {
        let valid_name = (1..=24).contains(&handler.len())
            && handler.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid_name {
            return Err(CustomIdError::BadHandlerName);
        }
        let unsigned = format!("{VERSION}:{handler}:{state}");
        let id = format!("{unsigned}:{}", URL_SAFE_NO_PAD.encode(tag(&self.custom_ids, &unsigned)));
        if id.len() > MAX_CUSTOM_ID_LEN {
            return Err(CustomIdError::TooLong(id.len()));
        }
        Ok(id)
    }

    /// Checks a `custom_id` received from Discord and returns what it carries.
    pub fn verify<'a>(&self, custom_id: &'a str) -> Result<SignedState<'a>, CustomIdError> {
        let (unsigned, sent) = custom_id.rsplit_once(':').ok_or(CustomIdError::Unrecognised)?;
        let mut parts = unsigned.splitn(3, ':');
        let (Some(version), Some(handler), Some(state)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CustomIdError::Unrecognised);
        };
        let key = match version {
            VERSION => self.custom_ids.as_slice(),
            LEGACY_VERSION => self.secret.as_slice(),
            _ => return Err(CustomIdError::Unrecognised),
        };
        let tag_sent = URL_SAFE_NO_PAD.decode(sent).map_err(|_| CustomIdError::BadSignature)?;
        if tag_sent.len() != TAG_BYTES || !bool::from(tag_sent.ct_eq(&tag(key, unsigned))) {
            return Err(CustomIdError::BadSignature);
        }
        Ok(SignedState { handler, state })
    }

    /// Seals `payload` for one `purpose` (a URL-safe `body.tag`), for state that travels
    /// outside Discord components, such as the connect flow's OAuth2 `state`. A token sealed
    /// for one purpose never opens for another.
    pub fn seal(&self, purpose: &str, payload: &[u8]) -> String {
        let body = URL_SAFE_NO_PAD.encode(payload);
        let key = derive(&self.secret, &format!("seal:{purpose}"));
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(tag(&key, body.as_str())))
    }

    /// The payload of a token [`StateKey::seal`] made for `purpose`.
    pub fn unseal(&self, purpose: &str, token: &str) -> Result<Vec<u8>, CustomIdError> {
        let (body, tag_sent) = token.split_once('.').ok_or(CustomIdError::Unrecognised)?;
        let tag_sent = URL_SAFE_NO_PAD.decode(tag_sent).map_err(|_| CustomIdError::BadSignature)?;
        let expected = tag(&derive(&self.secret, &format!("seal:{purpose}")), body);
        if tag_sent.len() != TAG_BYTES || !bool::from(tag_sent.ct_eq(&expected)) {
            return Err(CustomIdError::BadSignature);
        }
        URL_SAFE_NO_PAD.decode(body).map_err(|_| CustomIdError::Unrecognised)
    }
}

/// The key for one purpose: HKDF-SHA256 of the secret, the purpose as its `info`.
fn derive(secret: &[u8], purpose: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's limit (255 × 32), so expanding cannot fail.
    let _ =
        hkdf::Hkdf::<Sha256>::new(Some(SALT), secret).expand(format!("guildbridge/{purpose}/v2").as_bytes(), &mut key);
    key
}

fn tag(key: &[u8], unsigned: &str) -> [u8; TAG_BYTES] {
    // HMAC accepts keys of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return [0; TAG_BYTES];
    };
    mac.update(unsigned.as_bytes());
    let full = mac.finalize().into_bytes();
    let mut tag = [0u8; TAG_BYTES];
    tag.copy_from_slice(&full[..TAG_BYTES]);
    tag
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
        assert_eq!(key(1).verify(&id.replacen("v2", "v9", 1)), Err(CustomIdError::Unrecognised));
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
    fn each_purpose_signs_with_its_own_key() {
        // A sealed token's body and tag, dressed as a custom_id of a handler named like the
        // purpose, do not verify: the two never share a key.
        let token = key(1).seal("connect", b"x");
        let (body, sealed_tag) = token.split_once('.').expect("two parts");
        let dressed = format!("v2:connect:{body}:{sealed_tag}");
        assert_eq!(key(1).verify(&dressed), Err(CustomIdError::BadSignature));
        assert_ne!(derive(&[1; 32], "custom-id"), derive(&[1; 32], "seal:connect"));
    }

    #[test]
    fn buttons_signed_before_the_keys_were_derived_still_verify() {
        let secret = [1u8; 32];
        let unsigned = "v1:confirm:event:42";
        let old = format!("{unsigned}:{}", URL_SAFE_NO_PAD.encode(tag(&secret, unsigned)));
        assert_eq!(key(1).verify(&old), Ok(SignedState { handler: "confirm", state: "event:42" }));
        assert_eq!(key(2).verify(&old), Err(CustomIdError::BadSignature));
    }

    #[test]
    fn enforces_discord_length_and_key_rules() {
        assert_eq!(StateKey::new(b"short").err(), Some(CustomIdError::KeyTooShort));
        assert!(matches!(key(1).sign("x", &"s".repeat(90)), Err(CustomIdError::TooLong(_))));
        assert_eq!(key(1).sign("Bad Name", "s"), Err(CustomIdError::BadHandlerName));
    }
}

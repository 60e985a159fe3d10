//! The Standard Webhooks signature: `v1,` and base64 of HMAC-SHA256 over
//! `{webhook-id}.{webhook-timestamp}.{body}` with the secret's key bytes; several
//! signatures (during a rotation) are separated by spaces.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::domain::SigningSecret;

pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// The `webhook-signature` header's value; a secret whose key cannot be read is left out
/// (none can: they are made by [`SigningSecret::from_bytes`]).
pub fn signature_header(secrets: &[&SigningSecret], id: &str, timestamp: u64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(|secret| {
            let mut mac = Hmac::<Sha256>::new_from_slice(&secret.key()?).ok()?;
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            Some(format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in the Standard Webhooks specification (and its libraries' tests).
    #[test]
    fn signs_the_specifications_example() {
        let secret = SigningSecret::from_bytes(
            &base64::engine::general_purpose::STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("key"),
        );
        let body = br#"{"test": 2432232314}"#;
        let header = signature_header(&[&secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn every_secret_signs_during_a_rotation() {
        let (a, b) = (SigningSecret::from_bytes(&[1; 32]), SigningSecret::from_bytes(&[2; 32]));
        let both = signature_header(&[&a, &b], "evt_1", 10, b"{}");
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], signature_header(&[&a], "evt_1", 10, b"{}"));
        assert_ne!(parts[0], parts[1]);
        assert_ne!(signature_header(&[&a], "evt_1", 11, b"{}"), parts[0], "the timestamp is signed");
    }
}

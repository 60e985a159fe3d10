//! Ed25519 verification of Discord's interaction webhooks.
//!
//! Discord signs `timestamp || raw body` with the application's key and sends the signature
//! in `X-Signature-Ed25519` (hex) and the timestamp (unix seconds) in `X-Signature-Timestamp`.
//! Discord probes endpoints with bad signatures and removes one that accepts them, so every
//! defect here must end in a 401 before the body is looked at.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::{Signature, VerifyingKey};

pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";

/// Discord's own guidance and common practice: five minutes either way.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);

/// Why a request was refused. The reason is logged; the caller only learns "401".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing X-Signature-Ed25519 header")]
    MissingSignature,
    #[error("missing X-Signature-Timestamp header")]
    MissingTimestamp,
    #[error("signature is not hex")]
    SignatureNotHex,
    #[error("signature is not 64 bytes")]
    SignatureWrongLength,
    #[error("timestamp is not unix seconds")]
    TimestampNotInteger,
    #[error("timestamp is outside the freshness window")]
    Stale,
    #[error("signature does not match")]
    Mismatch,
}

/// Verifies Discord's signatures with one application's public key.
#[derive(Debug, Clone)]
pub struct SignatureVerifier {
    key: VerifyingKey,
    max_age: Duration,
}

impl SignatureVerifier {
    pub fn new(key: VerifyingKey, max_age: Duration) -> Self {
        Self { key, max_age }
    }

    /// Checks the headers' values against the exact body bytes received, at the current time.
    pub fn verify(&self, signature: Option<&[u8]>, timestamp: Option<&[u8]>, body: &[u8]) -> Result<(), VerifyError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        self.verify_at(signature, timestamp, body, now)
    }

    /// [`Self::verify`] at a given time since the epoch, for tests.
    pub fn verify_at(
        &self,
        signature: Option<&[u8]>,
        timestamp: Option<&[u8]>,
        body: &[u8],
        now: Duration,
    ) -> Result<(), VerifyError> {
        let signature = signature.ok_or(VerifyError::MissingSignature)?;
        let timestamp = timestamp.ok_or(VerifyError::MissingTimestamp)?;
        let signature = decode_signature(signature)?;
        let signed_at = std::str::from_utf8(timestamp)
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(VerifyError::TimestampNotInteger)?;
        if now.as_secs().abs_diff(signed_at) > self.max_age.as_secs() {
            return Err(VerifyError::Stale);
        }
        let mut message = Vec::with_capacity(timestamp.len() + body.len());
        message.extend_from_slice(timestamp);
        message.extend_from_slice(body);
        self.check(&message, &signature)
    }

    /// Checks a hex signature over arbitrary bytes, with no timestamp rules (test vectors).
    pub fn verify_message(&self, signature: &[u8], message: &[u8]) -> Result<(), VerifyError> {
        self.check(message, &decode_signature(signature)?)
    }

    fn check(&self, message: &[u8], signature: &Signature) -> Result<(), VerifyError> {
        // Strict verification refuses non-canonical and small-order encodings that plain
        // verification would let through (malleable signatures).
        self.key.verify_strict(message, signature).map_err(|_| VerifyError::Mismatch)
    }
}

fn decode_signature(hex_signature: &[u8]) -> Result<Signature, VerifyError> {
    if !hex_signature.iter().all(u8::is_ascii_hexdigit) {
        return Err(VerifyError::SignatureNotHex);
    }
    if hex_signature.len() != 128 {
        return Err(VerifyError::SignatureWrongLength);
    }
    let mut bytes = [0u8; 64];
    hex::decode_to_slice(hex_signature, &mut bytes).map_err(|_| VerifyError::SignatureNotHex)?;
    Ok(Signature::from_bytes(&bytes))
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    const NOW: Duration = Duration::from_secs(1_790_000_000);
    const BODY: &[u8] = br#"{"type":1}"#;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn verifier() -> SignatureVerifier {
        SignatureVerifier::new(key().verifying_key(), DEFAULT_MAX_AGE)
    }

    fn sign(timestamp: &str, body: &[u8]) -> String {
        let message = [timestamp.as_bytes(), body].concat();
        hex::encode(key().sign(&message).to_bytes())
    }

    fn check(signature: Option<&str>, timestamp: Option<&str>, body: &[u8]) -> Result<(), VerifyError> {
        verifier().verify_at(signature.map(str::as_bytes), timestamp.map(str::as_bytes), body, NOW)
    }

    #[test]
    fn accepts_a_fresh_valid_signature() {
        let ts = NOW.as_secs().to_string();
        assert_eq!(check(Some(&sign(&ts, BODY)), Some(&ts), BODY), Ok(()));
        assert_eq!(check(Some(&sign(&ts, BODY).to_uppercase()), Some(&ts), BODY), Ok(()));
    }

    #[test]
    fn refuses_every_defect_with_its_reason() {
        let ts = NOW.as_secs().to_string();
        let good = sign(&ts, BODY);
        assert_eq!(check(None, Some(&ts), BODY), Err(VerifyError::MissingSignature));
        assert_eq!(check(Some(&good), None, BODY), Err(VerifyError::MissingTimestamp));
        assert_eq!(check(Some(&format!("z{}", &good[1..])), Some(&ts), BODY), Err(VerifyError::SignatureNotHex));
        assert_eq!(check(Some(&good[..126]), Some(&ts), BODY), Err(VerifyError::SignatureWrongLength));
        assert_eq!(check(Some(&format!("{good}00")), Some(&ts), BODY), Err(VerifyError::SignatureWrongLength));
        assert_eq!(check(Some(&good), Some("17e8"), BODY), Err(VerifyError::TimestampNotInteger));
        assert_eq!(check(Some(&good), Some(""), BODY), Err(VerifyError::TimestampNotInteger));
        assert_eq!(check(Some(&good), Some(&ts), br#"{"type":2}"#), Err(VerifyError::Mismatch));
        let later = (NOW.as_secs() + 1).to_string();
        assert_eq!(check(Some(&good), Some(&later), BODY), Err(VerifyError::Mismatch));
        let mut flipped = hex::decode(&good).expect("hex");
        flipped[10] ^= 0x01;
        assert_eq!(check(Some(&hex::encode(flipped)), Some(&ts), BODY), Err(VerifyError::Mismatch));
    }

    #[test]
    fn refuses_timestamps_outside_the_window_either_way() {
        for offset in [-301i64, 301] {
            let ts = (NOW.as_secs() as i64 + offset).to_string();
            assert_eq!(check(Some(&sign(&ts, BODY)), Some(&ts), BODY), Err(VerifyError::Stale), "offset {offset}");
        }
        for offset in [-300i64, 300] {
            let ts = (NOW.as_secs() as i64 + offset).to_string();
            assert_eq!(check(Some(&sign(&ts, BODY)), Some(&ts), BODY), Ok(()), "offset {offset}");
        }
    }
}

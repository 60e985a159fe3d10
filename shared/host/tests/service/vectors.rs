//! The verifier agrees with other Ed25519 implementations: RFC 8032's published vectors and
//! signatures made by libsodium and OpenSSL (see tools/ed25519-vectors/make_vectors.py).

use std::time::Duration;

use guildbridge_core::discord::signature::{DEFAULT_MAX_AGE, SignatureVerifier, VerifyError};
use guildbridge_host::config::parse_public_key;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    valid: Vec<Raw>,
    discord_style: Vec<DiscordStyle>,
    invalid: Vec<Raw>,
}

#[derive(Deserialize)]
struct Raw {
    name: String,
    public_key: String,
    message: String,
    signature: String,
}

#[derive(Deserialize)]
struct DiscordStyle {
    name: String,
    public_key: String,
    timestamp: String,
    body: String,
    signature: String,
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("data/ed25519-vectors.json")).expect("vector file parses")
}

fn verifier(public_key: &str) -> SignatureVerifier {
    SignatureVerifier::new(parse_public_key(public_key).expect("valid public key"), DEFAULT_MAX_AGE)
}

fn raw_result(vector: &Raw) -> Result<(), VerifyError> {
    let message = hex::decode(&vector.message).expect("hex message");
    verifier(&vector.public_key).verify_message(vector.signature.as_bytes(), &message)
}

#[test]
fn accepts_rfc_8032_vectors() {
    let vectors = vectors();
    assert_eq!(vectors.valid.len(), 4);
    for vector in &vectors.valid {
        assert_eq!(raw_result(vector), Ok(()), "{}", vector.name);
    }
}

#[test]
fn refuses_what_strict_verifiers_refuse() {
    let vectors = vectors();
    assert_eq!(vectors.invalid.len(), 3);
    for vector in &vectors.invalid {
        assert_eq!(raw_result(vector), Err(VerifyError::Mismatch), "{}", vector.name);
    }
}

#[test]
fn accepts_discord_style_signatures_from_libsodium_and_openssl() {
    let vectors = vectors();
    let names: Vec<&str> = vectors.discord_style.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["libsodium", "openssl"]);
    for vector in &vectors.discord_style {
        let now = Duration::from_secs(vector.timestamp.parse().expect("unix seconds"));
        let check = |body: &[u8]| {
            verifier(&vector.public_key).verify_at(
                Some(vector.signature.as_bytes()),
                Some(vector.timestamp.as_bytes()),
                body,
                now,
            )
        };
        assert_eq!(check(vector.body.as_bytes()), Ok(()), "{}", vector.name);
        let mut altered = vector.body.clone().into_bytes();
        altered[1] ^= 0x20;
        assert_eq!(check(&altered), Err(VerifyError::Mismatch), "{} with an altered body", vector.name);
    }
}

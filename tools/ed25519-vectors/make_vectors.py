"""Writes shared/host/tests/service/data/ed25519-vectors.json: Ed25519 signatures made by implementations
other than ed25519-dalek, which the Rust verifier must agree with.

- RFC 8032 section 7.1 test vectors (checked here with libsodium and OpenSSL before writing);
- Discord-style signatures (timestamp || body) made by libsodium (PyNaCl) and OpenSSL
  (pyca/cryptography) with freshly generated keys;
- invalid signatures that strict verifiers refuse: non-canonical S, a small-order R.

Run: python3 -m venv /tmp/v && /tmp/v/bin/pip install pynacl==1.6.2 cryptography==50.0.2 &&
     /tmp/v/bin/python tools/ed25519-vectors/make_vectors.py
"""

import hashlib
import json
import pathlib

import nacl.bindings
import nacl.exceptions
import nacl.signing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

L = 2**252 + 27742317777372353535851937790883648493

RFC8032 = [
    ("rfc8032-test1-empty",
     "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("rfc8032-test2-one-byte",
     "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("rfc8032-test3-two-bytes",
     "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    ("rfc8032-test-sha-abc",
     "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     hashlib.sha512(b"abc").hexdigest(),
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"),
]

BODY = json.dumps({"id": "1100000000000002000", "application_id": "1100000000000000001", "type": 1,
                   "token": "vector-token", "version": 1}, separators=(",", ":"))


def sodium_accepts(public_hex, message, signature_hex):
    try:
        nacl.signing.VerifyKey(bytes.fromhex(public_hex)).verify(message, bytes.fromhex(signature_hex))
        return True
    except nacl.exceptions.BadSignatureError:
        return False


def main():
    vectors = {"valid": [], "discord_style": [], "invalid": []}
    for name, seed, public, message, signature in RFC8032:
        derived = nacl.signing.SigningKey(bytes.fromhex(seed))
        assert derived.verify_key.encode().hex() == public, name
        assert derived.sign(bytes.fromhex(message)).signature.hex() == signature, name
        vectors["valid"].append({"name": name, "source": "RFC 8032 section 7.1, checked with libsodium",
                                 "public_key": public, "message": message, "signature": signature})

    timestamp = "1795338000"
    sodium_key = nacl.signing.SigningKey.generate()
    sodium_sig = sodium_key.sign((timestamp + BODY).encode()).signature.hex()
    vectors["discord_style"].append({"name": "libsodium", "source": f"libsodium {nacl.__version__} via PyNaCl crypto_sign",
                                     "public_key": sodium_key.verify_key.encode().hex(), "timestamp": timestamp,
                                     "body": BODY, "signature": sodium_sig})
    openssl_key = Ed25519PrivateKey.generate()
    openssl_public = openssl_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    openssl_sig = openssl_key.sign((timestamp + BODY).encode()).hex()
    assert sodium_accepts(openssl_public, (timestamp + BODY).encode(), openssl_sig)
    vectors["discord_style"].append({"name": "openssl", "source": "OpenSSL via pyca/cryptography",
                                     "public_key": openssl_public, "timestamp": timestamp,
                                     "body": BODY, "signature": openssl_sig})

    # S + L: the same signature with a non-canonical scalar. Strict verifiers refuse it.
    name, _, public, message, signature = RFC8032[0]
    sig = bytes.fromhex(signature)
    s = int.from_bytes(sig[32:], "little") + L
    malleated = (sig[:32] + s.to_bytes(32, "little")).hex()
    assert not sodium_accepts(public, bytes.fromhex(message), malleated)
    vectors["invalid"].append({"name": "non-canonical-s", "source": "RFC 8032 TEST 1 with S + L; libsodium refuses it",
                               "public_key": public, "message": message, "signature": malleated})
    # R = the identity point (small order), S = 0: refused by strict verification.
    small_order = ("01" + "00" * 31) + ("00" * 32)
    assert not sodium_accepts(public, b"", small_order)
    vectors["invalid"].append({"name": "small-order-r", "source": "R is the identity point; libsodium refuses it",
                               "public_key": public, "message": "", "signature": small_order})
    # A valid signature checked against another message.
    vectors["invalid"].append({"name": "wrong-message", "source": "RFC 8032 TEST 2's signature over TEST 3's message",
                               "public_key": RFC8032[1][2], "message": RFC8032[2][3], "signature": RFC8032[1][4]})

    out = pathlib.Path(__file__).resolve().parents[2] / "shared/host/tests/service/data/ed25519-vectors.json"
    out.write_text(json.dumps(vectors, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

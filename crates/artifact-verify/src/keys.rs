//! Public keys for DSSE envelopes and cosign blob signatures: PEM
//! `PUBLIC KEY` (SubjectPublicKeyInfo) files, Ed25519 or ECDSA P-256, the
//! kinds cosign generates (`cosign.pub`) and `openssl pkey -pubout` writes.

use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePublicKey as _;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;

/// A verification key.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// ECDSA over P-256 with SHA-256.
    P256(p256::ecdsa::VerifyingKey),
}

/// A key with the name the policy gives it.
#[derive(Debug, Clone)]
pub struct NamedKey {
    /// Name shown in reports.
    pub name: String,
    /// The key.
    pub key: PublicKey,
}

impl PublicKey {
    /// Parses a PEM public key.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_pem(text.trim()) {
            return Ok(PublicKey::P256(k));
        }
        if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_pem(text.trim()) {
            return Ok(PublicKey::Ed25519(k));
        }
        Err("not a PEM public key of a supported kind (Ed25519 or ECDSA P-256; `-----BEGIN PUBLIC KEY-----`)".into())
    }

    /// The algorithm's name.
    pub fn kind(&self) -> &'static str {
        match self {
            PublicKey::Ed25519(_) => "Ed25519",
            PublicKey::P256(_) => "ECDSA P-256",
        }
    }

    /// Verifies `sig` (raw bytes; ECDSA as DER or fixed 64 bytes) over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            PublicKey::Ed25519(k) => ed25519_dalek::Signature::from_slice(sig).is_ok_and(|s| k.verify_strict(msg, &s).is_ok()),
            PublicKey::P256(k) => ecdsa_sig(sig).is_some_and(|s| k.verify(msg, &s).is_ok()),
        }
    }

    /// Verifies an ECDSA signature over a message whose SHA-256 is `digest`
    /// (cosign `sign-blob`); Ed25519 signs whole messages and cannot.
    pub fn verify_sha256_digest(&self, digest: &[u8; 32], sig: &[u8]) -> bool {
        match self {
            PublicKey::Ed25519(_) => false,
            PublicKey::P256(k) => ecdsa_sig(sig).is_some_and(|s| k.verify_prehash(digest, &s).is_ok()),
        }
    }
}

fn ecdsa_sig(sig: &[u8]) -> Option<p256::ecdsa::Signature> {
    p256::ecdsa::Signature::from_der(sig).or_else(|_| p256::ecdsa::Signature::from_slice(sig)).ok()
}

/// Decodes base64 as signers write it (standard or URL-safe, padded or not).
pub fn b64(text: &str) -> Option<Vec<u8>> {
    let t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&t)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&t))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(&t))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&t))
        .ok()
}

/// DSSE's pre-authentication encoding (DSSE v1 protocol).
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn rejects_what_is_not_a_key() {
        assert!(PublicKey::from_pem("hello").is_err());
        assert!(PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").is_err());
        assert_eq!(b64("aGk="), Some(b"hi".to_vec()));
        assert_eq!(b64("aGk"), Some(b"hi".to_vec()));
        assert_eq!(b64("***"), None);
    }
}

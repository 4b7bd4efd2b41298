//! SSH signatures (`ssh-keygen -Y sign`), verified the way `ssh-keygen -Y
//! verify` does: the signature's key must be listed for the principal in an
//! allowed-signers file, with the namespace the file's options allow, and the
//! signature must be valid over the exact bytes for that namespace.
//!
//! The allowed-signers format is OpenSSH's (`man ssh-keygen`, "ALLOWED
//! SIGNERS"): `principals [options] keytype base64 [comment]`, principals
//! comma-separated with `*`/`?` wildcards, options `namespaces="a,b"`,
//! `valid-after=`, `valid-before=` (YYYYMMDD[HHMM[SS]][Z]); `cert-authority`
//! lines are refused here (certificates are not supported).

use std::path::Path;

use signature::Verifier as _;
pub use ssh_key::HashAlg;
use ssh_key::{PublicKey, SshSig};
use thiserror::Error;

/// A problem with a signature or an allowed-signers file.
#[derive(Debug, Error)]
pub enum SigningError {
    /// The allowed-signers file cannot be read.
    #[error("{0}; check the path in the policy")]
    File(#[source] crate::paths::PathError),
    /// A line of the allowed-signers file is malformed.
    #[error("{path}:{line}: {message}")]
    BadLine {
        /// Path.
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// No signature.
    #[error("{0} is not signed: no {0}.sig beside it; sign it with ssh-keygen -Y sign -n {1}")]
    Unsigned(String, String),
    /// The signature is not a valid SSH signature.
    #[error("{0}: the signature file is not an SSH signature ({1})")]
    Malformed(String, String),
    /// Signed for another purpose.
    #[error("{file}: signed for namespace {found:?}, expected {expected:?}; re-sign with ssh-keygen -Y sign -n {expected}")]
    Namespace {
        /// File.
        file: String,
        /// Namespace found.
        found: String,
        /// Namespace expected.
        expected: String,
    },
    /// The key is not an allowed signer (for that principal, namespace or time).
    #[error("{file}: signed by a key that is not an allowed signer{detail}")]
    NotAllowed {
        /// File.
        file: String,
        /// Extra detail.
        detail: String,
    },
    /// The signature does not match the content.
    #[error("{0}: the signature does not match the file's content (changed after signing?)")]
    Invalid(String),
}

/// One line of an allowed-signers file.
#[derive(Debug, Clone)]
pub struct AllowedSigner {
    /// Principal patterns.
    pub principals: Vec<String>,
    /// Namespaces allowed (empty: any).
    pub namespaces: Vec<String>,
    /// Not valid before (UTC seconds).
    pub valid_after: Option<i64>,
    /// Not valid after (UTC seconds).
    pub valid_before: Option<i64>,
    /// The key.
    pub key: PublicKey,
}

/// A parsed allowed-signers file.
#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    /// Entries in file order.
    pub signers: Vec<AllowedSigner>,
}

/// `*` and `?` wildcards over the whole text (allowed-signers principals, release patterns).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

fn parse_time(v: &str) -> Option<i64> {
    let v = v.trim_matches('"');
    let (digits, utc) = match v.strip_suffix('Z') {
        Some(d) => (d, true),
        None => (v, false),
    };
    let fmt = match digits.len() {
        8 => format!("{digits}000000"),
        12 => format!("{digits}00"),
        14 => digits.to_owned(),
        _ => return None,
    };
    let dt = jiff::civil::DateTime::strptime("%Y%m%d%H%M%S", &fmt).ok()?;
    // ssh-keygen reads times without Z as local time; runners run in UTC.
    let _ = utc;
    dt.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp().as_second())
}

impl AllowedSigners {
    /// Parses the file's text.
    pub fn parse(text: &str, path: &str) -> Result<Self, SigningError> {
        let mut signers = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |message: String| SigningError::BadLine { path: path.to_owned(), line: i + 1, message };
            let mut rest = line;
            let (principals, after) = split_field(rest);
            rest = after;
            let mut namespaces = Vec::new();
            let (mut valid_after, mut valid_before) = (None, None);
            // Options come before the key type; a key type starts with ssh- or ecdsa- or sk-.
            let (field, after) = split_field(rest);
            let key_text = if is_key_type(field) {
                rest
            } else {
                for opt in split_options(field) {
                    let (name, value) = opt.split_once('=').unwrap_or((opt.as_str(), ""));
                    match name.to_ascii_lowercase().as_str() {
                        "namespaces" => namespaces = value.trim_matches('"').split(',').map(str::to_owned).collect(),
                        "valid-after" => valid_after = Some(parse_time(value).ok_or_else(|| bad(format!("bad valid-after {value:?}")))?),
                        "valid-before" => valid_before = Some(parse_time(value).ok_or_else(|| bad(format!("bad valid-before {value:?}")))?),
                        "cert-authority" => return Err(bad("cert-authority lines are not supported; list the signers' keys".into())),
                        other => return Err(bad(format!("unknown option {other:?}; expected namespaces=, valid-after= or valid-before="))),
                    }
                }
                after
            };
            let key = PublicKey::from_openssh(key_text.trim())
                .map_err(|e| bad(format!("not a public key ({e}); expected `principal [options] ssh-ed25519 AAAA… [comment]`")))?;
            signers.push(AllowedSigner {
                principals: principals.split(',').map(str::to_owned).collect(),
                namespaces,
                valid_after,
                valid_before,
                key,
            });
        }
        Ok(Self { signers })
    }

    /// Reads and parses an allowed-signers file inside the repository.
    pub fn read(root: &crate::paths::Root, path: &Path) -> Result<Self, SigningError> {
        let text = root.read_text(path, "allowed-signers file").map_err(SigningError::File)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Verifies a detached signature over `msg`; returns the principals of
    /// the matching allowed signer (the first pattern of the line that
    /// allowed it). `at` is the time for validity windows (UTC seconds).
    pub fn verify(&self, file: &str, msg: &[u8], sig_pem: &str, namespace: &str, at: i64) -> Result<Vec<String>, SigningError> {
        self.verify_digest(file, sig_pem, namespace, at, |alg| Some(alg.digest(msg)))
    }

    /// Like [`AllowedSigners::verify`], for a message already hashed:
    /// `digest(alg)` gives the message's digest for the signature's hash
    /// algorithm (`None` when it was not computed), so a large file is read
    /// once. The signature's hash algorithm is in [`signature_hash`].
    pub fn verify_digest(
        &self,
        file: &str,
        sig_pem: &str,
        namespace: &str,
        at: i64,
        digest: impl FnOnce(HashAlg) -> Option<Vec<u8>>,
    ) -> Result<Vec<String>, SigningError> {
        let sig = SshSig::from_pem(sig_pem).map_err(|e| SigningError::Malformed(file.to_owned(), e.to_string()))?;
        if sig.namespace() != namespace {
            return Err(SigningError::Namespace {
                file: file.to_owned(),
                found: sig.namespace().to_owned(),
                expected: namespace.to_owned(),
            });
        }
        let mut detail = String::new();
        for s in self.signers.iter().filter(|s| s.key.key_data() == sig.public_key()) {
            if !s.namespaces.is_empty() && !s.namespaces.iter().any(|n| glob_match(n, namespace)) {
                detail = format!(" for namespace {namespace:?}");
                continue;
            }
            if s.valid_after.is_some_and(|t| at < t) || s.valid_before.is_some_and(|t| at > t) {
                detail = " at this time (outside valid-after/valid-before)".into();
                continue;
            }
            let hash = digest(sig.hash_alg())
                .ok_or_else(|| SigningError::Malformed(file.to_owned(), format!("hash algorithm {} was not computed", sig.hash_alg())))?;
            let signed = signed_data(sig.namespace(), sig.reserved(), sig.hash_alg(), &hash);
            sig.public_key().verify(&signed, sig.signature()).map_err(|_| SigningError::Invalid(file.to_owned()))?;
            return Ok(s.principals.clone());
        }
        Err(SigningError::NotAllowed { file: file.to_owned(), detail })
    }
}

/// The hash algorithm an SSH signature was made with (`None` when the text
/// is not an SSH signature): lets a caller hash a large file once, with the
/// algorithm the signature needs.
pub fn signature_hash(sig_pem: &str) -> Option<HashAlg> {
    SshSig::from_pem(sig_pem).ok().map(|s| s.hash_alg())
}

/// PROTOCOL.sshsig's signed blob: magic, then SSH strings for namespace,
/// reserved, hash algorithm and the message's hash.
fn signed_data(namespace: &str, reserved: &[u8], alg: HashAlg, hash: &[u8]) -> Vec<u8> {
    let mut out = b"SSHSIG".to_vec();
    for field in [namespace.as_bytes(), reserved, alg.as_str().as_bytes(), hash] {
        out.extend_from_slice(&u32::try_from(field.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

/// Whether `login` is one of `principals` (patterns allowed; `login@domain`
/// principals match the login before `@`).
pub fn principal_matches(principals: &[String], login: &str) -> bool {
    principals.iter().any(|p| {
        let p = p.to_ascii_lowercase();
        let login = login.to_ascii_lowercase();
        glob_match(&p, &login) || p.split('@').next().is_some_and(|local| local == login)
    })
}

fn is_key_type(s: &str) -> bool {
    s.starts_with("ssh-") || s.starts_with("ecdsa-") || s.starts_with("sk-")
}

fn split_field(s: &str) -> (&str, &str) {
    // A field ends at whitespace outside double quotes.
    let s = s.trim_start();
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return (&s[..i], &s[i..]),
            _ => {}
        }
    }
    (s, "")
}

fn split_options(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_openssh_allowed_signers_lines() {
        let text = "# team\nalice@example.com,bob ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ alice\n\
carol namespaces=\"release-gate-exception\",valid-after=\"20260101\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ\n";
        let s = AllowedSigners::parse(text, "allowed_signers").expect("parse");
        assert_eq!(s.signers.len(), 2);
        assert_eq!(s.signers[0].principals, vec!["alice@example.com", "bob"]);
        assert_eq!(s.signers[1].namespaces, vec!["release-gate-exception"]);
        assert!(s.signers[1].valid_after.is_some());
        let e = AllowedSigners::parse("x cert-authority ssh-ed25519 AAAA\n", "f").expect_err("ca");
        assert!(e.to_string().starts_with("f:1: cert-authority"));
        let e = AllowedSigners::parse("x ssh-ed25519 notbase64\n", "f").expect_err("key");
        assert!(e.to_string().starts_with("f:1: not a public key"));
    }

    #[test]
    fn principals() {
        let p = vec!["alice@example.com".to_owned(), "ops-*".to_owned()];
        assert!(principal_matches(&p, "alice"));
        assert!(principal_matches(&p, "ops-bot"));
        assert!(!principal_matches(&p, "mallory"));
    }
}

//! Keeps tokens out of every log line: registered secrets are replaced by
//! `***` in anything the gates print, and `::add-mask::` tells the runner.

use std::sync::{Mutex, OnceLock};

fn secrets() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Registers a secret so that [`redact`] hides it. Values shorter than four
/// characters are ignored: masking them would garble ordinary text.
pub fn register(secret: &str) {
    if secret.len() < 4 {
        return;
    }
    if let Ok(mut list) = secrets().lock()
        && !list.iter().any(|s| s == secret)
    {
        list.push(secret.to_owned());
    }
}

/// Replaces every registered secret in `text` with `***`.
pub fn redact(text: &str) -> String {
    let mut out = text.to_owned();
    if let Ok(list) = secrets().lock() {
        for secret in list.iter() {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// A token that never shows itself in `Debug` or `Display` output.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps and registers a secret.
    pub fn new(value: String) -> Self {
        register(&value);
        Self(value)
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether no secret was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "Secret(empty)" } else { "Secret(***)" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_registered_secrets_and_hides_debug() {
        let s = Secret::new("ghs_abcdefgh12345".to_owned());
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(redact("token ghs_abcdefgh12345 leaked"), "token *** leaked");
        assert_eq!(s.expose(), "ghs_abcdefgh12345");
    }
}

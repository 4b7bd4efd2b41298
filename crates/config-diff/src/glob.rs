//! Path patterns for expected divergences, exceptions and list keys: `**`
//! matches anything, `*` anything but `/`, everything else is literal (so
//! `[name=app]` needs no escaping, unlike shell globs).
//!
//! A pattern is bounded (at most [`MAX_LEN`] characters and [`MAX_WILDCARDS`]
//! wildcards) and compiled when the file naming it is read, so a pattern
//! built to blow up the regex compiler is an error on its line, not a panic.

use regex::Regex;
use serde::{Deserialize, Deserializer};

/// Longest pattern, in characters.
pub const MAX_LEN: usize = 1024;
/// Most wildcards in one pattern.
pub const MAX_WILDCARDS: usize = 32;

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    re: Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Pattern::new(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

release_gate_core::string_schema!(Pattern, "Pattern", "A path pattern: ** matches anything, * anything but /, everything else is literal.");

impl Pattern {
    /// Compiles a pattern, or says why it cannot be one.
    pub fn new(text: &str) -> Result<Self, String> {
        let chars = text.chars().count();
        if chars > MAX_LEN {
            return Err(format!("the pattern is {chars} characters long, more than the {MAX_LEN} allowed; shorten it"));
        }
        let wildcards = text.split("**").map(|part| part.matches('*').count()).sum::<usize>() + text.matches("**").count();
        if wildcards > MAX_WILDCARDS {
            return Err(format!("the pattern has {wildcards} wildcards, more than the {MAX_WILDCARDS} allowed; use `**` for any depth"));
        }
        let mut re = String::from("^");
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix("**") {
                re.push_str(".*");
                rest = r;
            } else if let Some(r) = rest.strip_prefix('*') {
                re.push_str("[^/]*");
                rest = r;
            } else {
                let c = rest.chars().next().unwrap_or_default();
                re.push_str(&regex::escape(&c.to_string()));
                rest = &rest[c.len_utf8()..];
            }
        }
        re.push('$');
        let re = Regex::new(&re).map_err(|e| format!("the pattern {text:?} cannot be compiled ({e}); simplify it"))?;
        Ok(Self { text: text.to_owned(), re })
    }

    /// Whether `s` matches.
    pub fn matches(&self, s: &str) -> bool {
        self.re.is_match(s)
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stars() {
        let p = |t: &str| Pattern::new(t).unwrap();
        assert!(p("**/replicas").matches("/spec/replicas"));
        assert!(p("/spec/containers[name=app]/image").matches("/spec/containers[name=app]/image"));
        assert!(p("/spec/*/image").matches("/spec/x/image"));
        assert!(!p("/spec/*/image").matches("/spec/x/y/image"));
        assert!(p("app.yaml#**").matches("app.yaml#Deployment/prod/api/spec"));
    }

    #[test]
    fn patterns_built_to_blow_up_are_refused() {
        assert!(Pattern::new(&"a*".repeat(33)).unwrap_err().contains("33 wildcards"));
        assert!(Pattern::new(&"a".repeat(1025)).unwrap_err().contains("more than the 1024 allowed"));
        assert!(Pattern::new(&"a*".repeat(32)).is_ok());
    }
}

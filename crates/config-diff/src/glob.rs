//! Path patterns for expected divergences, exceptions and list keys: `**`
//! matches anything, `*` anything but `/`, everything else is literal (so
//! `[name=app]` needs no escaping, unlike shell globs).

use regex::Regex;

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    re: Regex,
}

impl Pattern {
    /// Compiles a pattern.
    pub fn new(text: &str) -> Self {
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
        // Every metacharacter is escaped, so this cannot fail.
        let re = Regex::new(&re).expect("an escaped pattern is a valid regex");
        Self { text: text.to_owned(), re }
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
mod tests {
    use super::*;

    #[test]
    fn stars() {
        assert!(Pattern::new("**/replicas").matches("/spec/replicas"));
        assert!(Pattern::new("/spec/containers[name=app]/image").matches("/spec/containers[name=app]/image"));
        assert!(Pattern::new("/spec/*/image").matches("/spec/x/image"));
        assert!(!Pattern::new("/spec/*/image").matches("/spec/x/y/image"));
        assert!(Pattern::new("app.yaml#**").matches("app.yaml#Deployment/prod/api/spec"));
    }
}

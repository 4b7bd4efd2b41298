//! Canonical hashes: SHA-256 over the RFC 8785 (JCS) serialisation of the
//! parsed data, named in the value as `jcs-sha256:<hex>`. Reformatting, key
//! order, comments, anchors and YAML-vs-JSON do not change a hash; any value
//! change does.
//!
//! Two deliberate points where plain JCS libraries fall short:
//! - integers beyond ±2^53 are written with all their digits, not rounded
//!   through a double (JCS would make 2^53 + 1 hash like 2^53);
//! - non-finite floats (`.inf`, `.nan`) have no JSON form and are refused
//!   rather than hashed as something they are not.
//!
//! Numbers otherwise follow JCS: `1.0` and `1` are the same number.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::yaml::{Int, Node, Value};

/// The scheme prefix of every hash.
pub const SCHEME: &str = "jcs-sha256:";

/// A value that has no canonical form.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("line {line}: {}", self.message())]
pub struct NotCanonical {
    /// Line of the value.
    pub line: u32,
    /// What it is.
    pub what: String,
}

impl NotCanonical {
    fn message(&self) -> String {
        format!("{} has no JSON form and cannot be hashed canonically; use a finite number or a string", self.what)
    }

    /// The same, at its line of `file` (annotated there).
    pub fn at(&self, file: &str) -> release_gate_core::error::Located {
        release_gate_core::error::Located::new(file, u64::from(self.line), self.message())
    }
}

/// ECMAScript's Number::toString for a finite double, as RFC 8785 requires.
pub fn number(f: f64) -> Result<String, NotCanonical> {
    if !f.is_finite() {
        return Err(NotCanonical { line: 0, what: format!("{f}") });
    }
    if f == 0.0 {
        return Ok("0".into());
    }
    // Rust's `{:e}` prints the shortest round-tripping digits: d.ddde±x.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let k = digits.len() as i32;
    let n = exp + 1; // value = 0.digits × 10^n
    let sign = if f < 0.0 { "-" } else { "" };
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let e = if e >= 0 { format!("+{e}") } else { e.to_string() };
        if k == 1 { format!("{digits}e{e}") } else { format!("{}.{}e{e}", &digits[..1], &digits[1..]) }
    };
    Ok(format!("{sign}{body}"))
}

/// Feeds text straight into SHA-256, so hashing a 50 MB file needs no 50 MB string.
pub struct HashWriter(pub Sha256);

impl std::fmt::Write for HashWriter {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

impl HashWriter {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self(Sha256::new())
    }

    /// `jcs-sha256:<hex>` of what was written.
    pub fn finish(self) -> String {
        format!("{SCHEME}{}", hex(&self.0.finalize()))
    }
}

impl Default for HashWriter {
    fn default() -> Self {
        Self::new()
    }
}

fn string<W: std::fmt::Write>(out: &mut W, s: &str) {
    let _ = out.write_char('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        let _ = out.write_str(&s[start..i]);
        match esc {
            Some(e) => {
                let _ = out.write_str(e);
            }
            None => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
        start = i + c.len_utf8();
    }
    let _ = out.write_str(&s[start..]);
    let _ = out.write_char('"');
}

/// Writes the canonical JSON of `node` into `out`.
pub fn write<W: std::fmt::Write>(out: &mut W, node: &Node) -> Result<(), NotCanonical> {
    match &node.value {
        Value::Null => {
            let _ = out.write_str("null");
        }
        Value::Bool(b) => {
            let _ = out.write_str(if *b { "true" } else { "false" });
        }
        Value::Int(Int::Small(i)) => {
            let _ = write!(out, "{i}");
        }
        Value::Int(Int::Big(s)) => {
            let _ = out.write_str(s);
        }
        Value::Float(f) => {
            // An integral double within ±2^53 is the same number as the integer.
            let _ = out.write_str(&number(*f).map_err(|e| NotCanonical { line: node.line, what: e.what })?);
        }
        Value::Str(s) => string(out, s),
        Value::Seq(items) => {
            let _ = out.write_char('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    let _ = out.write_char(',');
                }
                write(out, item)?;
            }
            let _ = out.write_char(']');
        }
        Value::Map(entries) => {
            // Keys sorted by their UTF-16 code units, as RFC 8785 says; for
            // keys without surrogate pairs that is plain byte order.
            let mut sorted: Vec<_> = entries.iter().collect();
            if entries.iter().all(|e| e.key.chars().all(|c| (c as u32) < 0x10000 && !('\u{e000}'..='\u{ffff}').contains(&c))) {
                sorted.sort_by(|a, b| a.key.cmp(&b.key));
            } else {
                sorted.sort_by(|a, b| a.key.encode_utf16().cmp(b.key.encode_utf16()));
            }
            let _ = out.write_char('{');
            for (i, e) in sorted.iter().enumerate() {
                if i > 0 {
                    let _ = out.write_char(',');
                }
                string(out, &e.key);
                let _ = out.write_char(':');
                write(out, &e.node)?;
            }
            let _ = out.write_char('}');
        }
    }
    Ok(())
}

/// The canonical JSON of a node.
pub fn to_string(node: &Node) -> Result<String, NotCanonical> {
    let mut s = String::new();
    write(&mut s, node)?;
    Ok(s)
}

/// `jcs-sha256:<hex>` of already canonical text.
pub fn hash_text(canonical: &str) -> String {
    format!("{SCHEME}{}", hex(&Sha256::digest(canonical.as_bytes())))
}

/// `jcs-sha256:<hex>` of a node.
pub fn hash(node: &Node) -> Result<String, NotCanonical> {
    let mut w = HashWriter::new();
    write(&mut w, node)?;
    Ok(w.finish())
}

/// Plain SHA-256 hex of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Budget, parse};

    fn h(text: &str) -> String {
        let docs = parse(text, "t.yaml", Budget::default()).expect("parse");
        hash(&docs[0]).expect("hash")
    }

    #[test]
    fn es6_number_forms() {
        let cases = [
            (1.0, "1"),
            (0.5, "0.5"),
            (-0.0, "0"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (123.456, "123.456"),
            (9007199254740992.0, "9007199254740992"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ];
        for (f, want) in cases {
            assert_eq!(number(f).expect("finite"), want, "{f}");
        }
        assert!(number(f64::NAN).is_err());
    }

    #[test]
    fn format_and_order_do_not_change_the_hash_values_do() {
        let a = h("# comment\nb: [1, 2]\na: {x: 'é', y: null}\n");
        let b = h("{\"a\": {\"y\": null, \"x\": \"\\u00e9\"}, \"b\": [1, 2]}");
        let c = h("base: &x 1\n");
        assert_eq!(a, b);
        assert!(a.starts_with("jcs-sha256:"));
        assert_ne!(a, h("b: [2, 1]\na: {x: 'é', y: null}\n"));
        assert_ne!(c, h("base: 2\n"));
        assert_eq!(h("a: 1.0\n"), h("a: 1\n"), "JCS: the same number");
    }

    #[test]
    fn big_integers_are_not_rounded() {
        assert_ne!(h("a: 9007199254740993\n"), h("a: 9007199254740992\n"));
        assert_ne!(h("a: 123456789012345678901234567890\n"), h("a: 123456789012345678901234567891\n"));
        let docs = parse("a: 123456789012345678901234567890\n", "t", Budget::default()).expect("p");
        assert_eq!(to_string(&docs[0]).expect("c"), "{\"a\":123456789012345678901234567890}");
    }

    #[test]
    fn key_order_by_utf16_and_escapes() {
        let docs = parse("\"\\u20ac\": 1\n\"\\U0001F600\": 2\n\"a\\tb\": \"\\u0001\"\n", "t", Budget::default()).expect("p");
        // U+20AC (0x20AC) sorts before U+1F600, whose UTF-16 form starts with 0xD83D.
        assert_eq!(to_string(&docs[0]).expect("c"), "{\"a\\tb\":\"\\u0001\",\"€\":1,\"😀\":2}");
    }

    #[test]
    fn non_finite_is_refused_with_its_line() {
        let docs = parse("a: 1\nb: .inf\n", "t", Budget::default()).expect("p");
        assert_eq!(hash(&docs[0]).expect_err("inf").line, 2);
    }
}

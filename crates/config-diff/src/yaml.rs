//! YAML 1.2 (and JSON) into a tree that remembers lines, built from
//! saphyr-parser's events so that every rule is ours to enforce:
//! - aliases are expanded under a node budget (a billion-laughs file is
//!   refused after a bounded amount of work, not after exhausting memory);
//! - merge keys (`<<`) are expanded, explicit keys winning;
//! - duplicate keys are refused;
//! - only the core schema's tags are accepted (`!!str`, `!!int`, ...); a
//!   custom tag such as `!Ref` is refused with its line, since its meaning
//!   is not in the file;
//! - plain scalars resolve by the YAML 1.2 core schema (`yes` is a string).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

/// An integer, kept exactly however large.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Int {
    /// Fits in 64 bits.
    Small(i64),
    /// Larger: the canonical decimal digits with an optional leading `-`.
    Big(Box<str>),
}

/// A value with the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// 1-based line.
    pub line: u32,
}

/// A mapping entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key, as text (shared: keys repeat across list items).
    pub key: Arc<str>,
    /// Line of the key.
    pub key_line: u32,
    /// The value.
    pub node: Node,
}

/// Parsed data. Compact on purpose (24 bytes): a 50 MB file becomes
/// millions of these, and config-diff holds both sides at once.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or empty.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(Int),
    /// A float.
    Float(f64),
    /// A string (short ones shared through the file's interner).
    Str(Arc<str>),
    /// A sequence.
    Seq(Box<[Node]>),
    /// A mapping, in document order.
    Map(Box<[Entry]>),
}

impl Value {
    /// The type's name, for "type changed" messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "list",
            Value::Map(_) => "mapping",
        }
    }

    /// Looks a key up in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Value::Map(entries) => entries.iter().find(|e| &*e.key == key).map(|e| &e.node),
            _ => None,
        }
    }

    /// The text of a scalar (for identities and keys).
    pub fn scalar_text(&self) -> Option<String> {
        Some(match self {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(Int::Small(i)) => i.to_string(),
            Value::Int(Int::Big(s)) => s.to_string(),
            Value::Float(f) => crate::canonical::number(*f).unwrap_or_else(|_| f.to_string()),
            Value::Str(s) => s.to_string(),
            Value::Seq(_) | Value::Map(_) => return None,
        })
    }
}

/// A file that is not valid YAML, or uses what the model refuses (the one
/// located error type: the gate reports it on its line).
pub type YamlError = release_gate_core::error::Located;

/// Limits for alias expansion.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Nodes that alias expansion may add, beyond those written in the file.
    pub alias_nodes: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Self { alias_nodes: 1_000_000 }
    }
}

/// Deepest nesting accepted, aliases included: every walk over the tree
/// (diff, hashes, drop) is bounded by it, and configuration needs far less.
pub const MAX_DEPTH: u32 = 128;

enum Frame {
    Seq { items: Vec<Node>, line: u32, anchor: usize, size: Size },
    Map { entries: Vec<Entry>, merges: Vec<(Node, u32)>, key: Option<(Arc<str>, u32, bool)>, line: u32, anchor: usize, size: Size },
}

impl Frame {
    fn size(&mut self) -> &mut Size {
        match self {
            Frame::Seq { size, .. } | Frame::Map { size, .. } => size,
        }
    }
}

/// A node's size, kept as the tree is built (no walk over it): its nodes and its depth.
#[derive(Clone, Copy, Default)]
struct Size {
    nodes: u64,
    depth: u32,
}

impl Size {
    fn leaf() -> Self {
        Self { nodes: 1, depth: 0 }
    }

    /// A collection's size, once its children are in.
    fn closed(self) -> Self {
        Self { nodes: self.nodes + 1, depth: self.depth + 1 }
    }

    fn add(&mut self, child: Size) {
        self.nodes += child.nodes;
        self.depth = self.depth.max(child.depth);
    }
}

struct Builder<'a> {
    file: &'a str,
    anchors: HashMap<usize, (Node, Size)>,
    expanded: u64,
    budget: Budget,
    /// Keys and short strings, stored once per file.
    interned: HashMap<Box<str>, Arc<str>>,
}

/// Strings up to this length are interned (identifiers, enums, hostnames).
const INTERN_MAX: usize = 48;

impl Builder<'_> {
    fn intern(&mut self, s: &str) -> Arc<str> {
        if s.len() > INTERN_MAX {
            return Arc::from(s);
        }
        if let Some(a) = self.interned.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.interned.insert(s.into(), a.clone());
        a
    }

    fn err(&self, line: u32, message: impl Into<String>) -> YamlError {
        YamlError::new(self.file, u64::from(line), message)
    }

    /// The node's core-schema tag (the rule is core's, shared with the policy files).
    fn check_tag(&self, tag: &Option<Cow<'_, Tag>>, line: u32, kind: &str) -> Result<Option<String>, YamlError> {
        let Some(tag) = tag else { return Ok(None) };
        release_gate_core::policy::core_tag(tag, kind).map(|t| Some(t.to_owned())).map_err(|m| {
            self.err(
                line,
                format!("{m}; config-diff compares plain data, so render the file first (e.g. resolve CloudFormation or Helm tags)"),
            )
        })
    }

    fn scalar(&mut self, text: &str, style: ScalarStyle, tag: Option<String>, line: u32) -> Result<Value, YamlError> {
        let bad = |what: &str| self.err(line, format!("{text:?} is not a valid {what}"));
        match tag.as_deref() {
            Some("str") => return Ok(Value::Str(self.intern(text))),
            Some("null") => return if resolve(text).is_some_and(|v| v == Value::Null) { Ok(Value::Null) } else { Err(bad("!!null")) },
            Some("bool") => {
                return match resolve(text) {
                    Some(v @ Value::Bool(_)) => Ok(v),
                    _ => Err(bad("!!bool")),
                };
            }
            Some("int") => {
                return match resolve(text) {
                    Some(v @ Value::Int(_)) => Ok(v),
                    _ => Err(bad("!!int")),
                };
            }
            Some("float") => {
                return match resolve(text) {
                    Some(Value::Float(f)) => Ok(Value::Float(f)),
                    Some(Value::Int(Int::Small(i))) => Ok(Value::Float(i as f64)),
                    _ => Err(bad("!!float")),
                };
            }
            _ => {}
        }
        if style != ScalarStyle::Plain {
            return Ok(Value::Str(self.intern(text)));
        }
        match resolve(text) {
            Some(v) => Ok(v),
            None => Ok(Value::Str(self.intern(text))),
        }
    }

    fn push(&mut self, stack: &mut [Frame], docs: &mut Vec<Node>, node: Node, size: Size, key_style_plain: bool) -> Result<(), YamlError> {
        if size.depth > MAX_DEPTH {
            return Err(
                self.err(node.line, format!("nesting deeper than {MAX_DEPTH} levels (aliases included); configuration needs far less"))
            );
        }
        if let Some(f) = stack.last_mut() {
            f.size().add(size);
        }
        match stack.last_mut() {
            None => docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, merges, key, .. }) => match key.take() {
                None => {
                    let text = match &node.value {
                        Value::Str(s) => s.clone(),
                        other => match other.scalar_text() {
                            Some(t) => Arc::from(t),
                            None => return Err(self.err(node.line, "a mapping or list used as a key; keys must be scalars")),
                        },
                    };
                    *key = Some((text, node.line, key_style_plain));
                }
                Some((k, key_line, plain)) => {
                    if &*k == "<<" && plain {
                        merges.push((node, key_line));
                    } else {
                        if entries.iter().any(|e| e.key == k) {
                            return Err(self.err(key_line, format!("duplicate key {k:?}; each key may appear once in a mapping")));
                        }
                        entries.push(Entry { key: k, key_line, node });
                    }
                }
            },
        }
        Ok(())
    }

    fn remember(&mut self, anchor: usize, node: &Node, size: Size) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
    }
}

/// Plain-scalar resolution by the YAML 1.2 core schema; `None` means string.
fn resolve(text: &str) -> Option<Value> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(Value::Float(f64::INFINITY)),
        "-.inf" | "-.Inf" | "-.INF" => return Some(Value::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Some(Value::Float(f64::NAN)),
        _ => {}
    }
    let b = text.as_bytes();
    let (sign, digits) = match b.first() {
        Some(b'-') => ("-", &text[1..]),
        Some(b'+') => ("", &text[1..]),
        _ => ("", text),
    };
    if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
        return Some(Value::Int(int_from_decimal(sign, digits)));
    }
    if let Some(oct) = text.strip_prefix("0o")
        && !oct.is_empty()
        && oct.bytes().all(|c| (b'0'..=b'7').contains(&c))
    {
        return i64::from_str_radix(oct, 8).ok().map(|i| Value::Int(Int::Small(i)));
    }
    if let Some(hex) = text.strip_prefix("0x")
        && !hex.is_empty()
        && hex.bytes().all(|c| c.is_ascii_hexdigit())
    {
        return i64::from_str_radix(hex, 16).ok().map(|i| Value::Int(Int::Small(i)));
    }
    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let mut i = 0;
    let s = digits.as_bytes();
    let int_len = s.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_len;
    let mut frac_len = 0;
    let mut dot = false;
    if i < s.len() && s[i] == b'.' {
        dot = true;
        i += 1;
        frac_len = s[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_len;
    }
    if int_len == 0 && frac_len == 0 {
        return None;
    }
    if int_len == 0 && !dot {
        return None;
    }
    if i < s.len() && (s[i] == b'e' || s[i] == b'E') {
        i += 1;
        if i < s.len() && (s[i] == b'-' || s[i] == b'+') {
            i += 1;
        }
        let exp_len = s[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp_len == 0 {
            return None;
        }
        i += exp_len;
    }
    if i != s.len() {
        return None;
    }
    text.parse::<f64>().ok().map(Value::Float)
}

fn int_from_decimal(sign: &str, digits: &str) -> Int {
    let trimmed = digits.trim_start_matches('0');
    let trimmed = if trimmed.is_empty() { "0" } else { trimmed };
    match format!("{sign}{trimmed}").parse::<i64>() {
        Ok(i) => Int::Small(i),
        Err(_) => Int::Big(format!("{sign}{trimmed}").into()),
    }
}

fn line_of(span: &Span) -> u32 {
    u32::try_from(span.start.line()).unwrap_or(u32::MAX)
}

fn merge(builder: &Builder<'_>, entries: &mut Vec<Entry>, merges: Vec<(Node, u32)>) -> Result<(), YamlError> {
    for (node, line) in merges {
        let sources: Vec<Node> = match node.value {
            Value::Map(_) => vec![node],
            Value::Seq(items) => items.into_vec(),
            _ => return Err(builder.err(line, "the value of a merge key `<<` must be a mapping or a list of mappings")),
        };
        for src in sources {
            let Value::Map(src_entries) = src.value else {
                return Err(builder.err(src.line, "the value of a merge key `<<` must be a mapping or a list of mappings"));
            };
            for e in src_entries.into_vec() {
                // Explicit keys, and earlier merged mappings, win.
                if !entries.iter().any(|x| x.key == e.key) {
                    entries.push(e);
                }
            }
        }
    }
    Ok(())
}

/// Parses every document of YAML or JSON text.
pub fn parse(text: &str, file: &str, budget: Budget) -> Result<Vec<Node>, YamlError> {
    parse_chars(text.chars(), file, budget)
}

/// Parses every document from a stream of characters, so that a large file
/// need not be held in memory beside its tree.
pub fn parse_chars<I: Iterator<Item = char>>(chars: I, file: &str, budget: Budget) -> Result<Vec<Node>, YamlError> {
    let mut builder = Builder { file, anchors: HashMap::new(), expanded: 0, budget, interned: HashMap::new() };
    let mut parser = Parser::new_from_iter(chars);
    let mut stack: Vec<Frame> = Vec::new();
    let mut docs = Vec::new();
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| {
            YamlError::new(file, e.marker().line() as u64, format!("invalid YAML: {} (column {})", e.info(), e.marker().col() + 1))
        })?;
        let line = line_of(&span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let tag = builder.check_tag(&tag, line, "scalar")?;
                let value = builder.scalar(&text, style, tag, line)?;
                let node = Node { value, line };
                builder.remember(anchor, &node, Size::leaf());
                builder.push(&mut stack, &mut docs, node, Size::leaf(), style == ScalarStyle::Plain)?;
            }
            Event::SequenceStart(anchor, tag) => {
                builder.check_tag(&tag, line, "sequence")?;
                if stack.len() >= MAX_DEPTH as usize {
                    return Err(builder.err(line, format!("nesting deeper than {MAX_DEPTH} levels; configuration needs far less")));
                }
                stack.push(Frame::Seq { items: Vec::new(), line, anchor, size: Size::default() });
            }
            Event::MappingStart(anchor, tag) => {
                builder.check_tag(&tag, line, "mapping")?;
                if stack.len() >= MAX_DEPTH as usize {
                    return Err(builder.err(line, format!("nesting deeper than {MAX_DEPTH} levels; configuration needs far less")));
                }
                stack.push(Frame::Map { entries: Vec::new(), merges: Vec::new(), key: None, line, anchor, size: Size::default() });
            }
            Event::SequenceEnd => {
                let Some(Frame::Seq { items, line, anchor, size }) = stack.pop() else {
                    return Err(builder.err(line, "unbalanced sequence end"));
                };
                let node = Node { value: Value::Seq(items.into_boxed_slice()), line };
                builder.remember(anchor, &node, size.closed());
                builder.push(&mut stack, &mut docs, node, size.closed(), false)?;
            }
            Event::MappingEnd => {
                let Some(Frame::Map { mut entries, merges, line, anchor, size, .. }) = stack.pop() else {
                    return Err(builder.err(line, "unbalanced mapping end"));
                };
                merge(&builder, &mut entries, merges)?;
                let node = Node { value: Value::Map(entries.into_boxed_slice()), line };
                builder.remember(anchor, &node, size.closed());
                builder.push(&mut stack, &mut docs, node, size.closed(), false)?;
            }
            Event::Alias(id) => {
                let Some((node, size)) = builder.anchors.get(&id).cloned() else {
                    return Err(builder.err(line, "alias to an unknown anchor"));
                };
                let n = size.nodes;
                builder.expanded += n;
                if builder.expanded > builder.budget.alias_nodes {
                    return Err(builder.err(
                        line,
                        format!(
                            "aliases expand to more than {} nodes; refusing to expand further (a \"billion laughs\" file?)",
                            builder.budget.alias_nodes
                        ),
                    ));
                }
                let node = Node { value: node.value, line };
                builder.push(&mut stack, &mut docs, node, size, false)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd | Event::Nothing => {}
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Value {
        let mut docs = parse(text, "t.yaml", Budget::default()).expect("parse");
        assert_eq!(docs.len(), 1);
        docs.remove(0).value
    }

    fn err(text: &str) -> String {
        parse(text, "t.yaml", Budget::default()).expect_err("refused").to_string()
    }

    #[test]
    fn core_schema_scalars() {
        let v = one("a: yes\nb: true\nc: 012\nd: 0x1F\ne: 1.5e3\nf: ~\ng: '1'\nh: 123456789012345678901234567890\ni: .5\nj: 1.\nk: -0\n");
        assert_eq!(v.get("a").map(|n| &n.value), Some(&Value::Str("yes".into())));
        assert_eq!(v.get("b").map(|n| &n.value), Some(&Value::Bool(true)));
        assert_eq!(v.get("c").map(|n| &n.value), Some(&Value::Int(Int::Small(12))));
        assert_eq!(v.get("d").map(|n| &n.value), Some(&Value::Int(Int::Small(31))));
        assert_eq!(v.get("e").map(|n| &n.value), Some(&Value::Float(1500.0)));
        assert_eq!(v.get("f").map(|n| &n.value), Some(&Value::Null));
        assert_eq!(v.get("g").map(|n| &n.value), Some(&Value::Str("1".into())));
        assert_eq!(v.get("h").map(|n| &n.value), Some(&Value::Int(Int::Big("123456789012345678901234567890".into()))));
        assert_eq!(v.get("i").map(|n| &n.value), Some(&Value::Float(0.5)));
        assert_eq!(v.get("j").map(|n| &n.value), Some(&Value::Float(1.0)));
        assert_eq!(v.get("k").map(|n| &n.value), Some(&Value::Int(Int::Small(0))));
        assert_eq!(v.get("b").map(|n| n.line), Some(2));
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let v = one("base: &b {cpu: 1, mem: 2}\nsvc:\n  <<: *b\n  mem: 4\nlist: [*b, *b]\nquoted:\n  '<<': x\n");
        let svc = v.get("svc").expect("svc");
        assert_eq!(svc.value.get("cpu").map(|n| &n.value), Some(&Value::Int(Int::Small(1))));
        assert_eq!(svc.value.get("mem").map(|n| &n.value), Some(&Value::Int(Int::Small(4))));
        assert!(matches!(&v.get("list").expect("list").value, Value::Seq(items) if items.len() == 2));
        assert_eq!(v.get("quoted").and_then(|n| n.value.get("<<")).map(|n| &n.value), Some(&Value::Str("x".into())));
        let v = one("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n");
        let c = v.get("c").expect("c");
        assert_eq!(c.value.get("x").map(|n| &n.value), Some(&Value::Int(Int::Small(1))), "earlier merge wins");
        assert_eq!(c.value.get("y").map(|n| &n.value), Some(&Value::Int(Int::Small(2))));
    }

    #[test]
    fn refusals_name_the_line() {
        assert!(err("a: 1\nb: 2\na: 3\n").starts_with("t.yaml:3: duplicate key \"a\""));
        assert!(err("a: !Ref Something\n").starts_with("t.yaml:1: tag !Ref is not in YAML's core schema"));
        assert!(err("a: !!binary aGk=\n").contains("not in YAML's core schema"));
        assert!(err("a: !!int abc\n").contains("is not a valid !!int"));
        assert!(err("a: [1, 2\nb: 3\n").starts_with("t.yaml:"));
        assert!(err("? [a]\n: 1\n").contains("keys must be scalars"));
    }

    #[test]
    fn deep_nesting_is_refused_on_its_line_not_a_stack_overflow() {
        // Flow style: the parser's own limit; block style: the model's.
        let flow = format!("a:\n  b: {}1{}\n", "[".repeat(20_000), "]".repeat(20_000));
        let e = parse(&flow, "deep.yaml", Budget::default()).expect_err("deep").to_string();
        assert!(e.starts_with("deep.yaml:2:"), "{e}");
        let block: String = (0..200).map(|i| format!("{}k{i}:\n", "  ".repeat(i))).collect::<String>() + &"  ".repeat(200) + "1\n";
        let e = parse(&block, "deep.yaml", Budget::default()).expect_err("deep").to_string();
        assert!(e.starts_with("deep.yaml:") && e.contains("nesting deeper than 128 levels"), "{e}");
        let json = format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000));
        assert!(parse(&json, "deep.json", Budget::default()).is_err());
        // Depth built from aliases, each a level deeper than the last.
        let mut chain = String::from("l0: &l0 [x]\n");
        for i in 1..200 {
            chain.push_str(&format!("l{i}: &l{i} [*l{}]\n", i - 1));
        }
        let e = parse(&chain, "chain.yaml", Budget::default()).expect_err("alias depth").to_string();
        assert!(e.contains("aliases included"), "{e}");
        assert!(parse("a: [[[[1]]]]\n", "ok.yaml", Budget::default()).is_ok());
    }

    #[test]
    fn billion_laughs_is_refused_quickly() {
        let mut doc = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().enumerate() {
            let prev = ["a", "b", "c", "d", "e", "f", "g", "h"][i];
            doc.push_str(&format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        }
        let started = std::time::Instant::now();
        let e = err(&doc);
        assert!(e.contains("billion laughs"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn json_and_multiple_documents() {
        let docs = parse("{\"a\": [1, 2.5, null, \"x\"]}", "t.json", Budget::default()).expect("json");
        assert_eq!(docs.len(), 1);
        let docs = parse("---\na: 1\n---\na: 2\n", "t.yaml", Budget::default()).expect("multi");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].line, 4);
    }
}

//! The semantic diff: documents matched by identity, mappings by key, list
//! items by identifier keys (reordering reported as moves), scalars by value
//! (`1` and `1.0` are the same number), multi-line strings line by line.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::canonical;
use crate::glob::Pattern;
use crate::yaml::{Int, Node, Value};

/// What kind of difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Only in production.
    Added,
    /// Only in staging.
    Removed,
    /// Both, with different values.
    Changed,
    /// Both, with values of different types.
    TypeChanged,
    /// A list item at another position.
    Moved,
}

impl Kind {
    /// The word shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Added => "added",
            Kind::Removed => "removed",
            Kind::Changed => "changed",
            Kind::TypeChanged => "type changed",
            Kind::Moved => "moved",
        }
    }
}

/// One difference between staging and production.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// File, relative to its side's source.
    pub file: String,
    /// Document identity within the file (`Kind/namespace/name`, a key's value, or `#index`).
    pub document: String,
    /// Readable path: `/spec/containers[name=app]/image`.
    pub path: String,
    /// JSON pointer into the production document (staging for removals).
    pub pointer: String,
    /// The kind.
    pub kind: Kind,
    /// Staging's value (secrets replaced by a short hash).
    pub staging: Option<Json>,
    /// Production's value (secrets replaced by a short hash).
    pub production: Option<Json>,
    /// Line in the staging file.
    pub staging_line: Option<u32>,
    /// Line in the production file.
    pub production_line: Option<u32>,
    /// SHA-256 (hex) of staging's canonical value, or `absent`.
    pub staging_sha256: String,
    /// SHA-256 (hex) of production's canonical value, or `absent`.
    pub production_sha256: String,
    /// Whether the values were hidden.
    pub secret: bool,
    /// Line-by-line diff of multi-line strings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_diff: Option<String>,
    /// For moves: index in staging and in production.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved: Option<(usize, usize)>,
}

impl Difference {
    /// `file#document/path`: what expected divergences and exceptions match.
    pub fn id(&self) -> String {
        format!("{}#{}{}", self.file, self.document, self.path)
    }
}

/// How to diff.
#[derive(Debug, Clone)]
pub struct Options {
    /// Identifier key for list items under a path pattern.
    pub list_keys: Vec<(Pattern, String)>,
    /// Keys tried, in order, when no pattern applies.
    pub default_keys: Vec<String>,
    /// Words that make a path segment secret.
    pub secret_words: Vec<String>,
    /// Document identity key (dotted path), beside Kubernetes' identity.
    pub identity_key: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            list_keys: Vec::new(),
            default_keys: vec!["name".into(), "id".into(), "key".into()],
            secret_words: ["password", "passwd", "secret", "token", "key", "credential", "credentials", "private", "apikey"]
                .map(String::from)
                .to_vec(),
            identity_key: None,
        }
    }
}

/// The words of a text, lowercased (`riskLimits` → risk, limits;
/// `KILL_SWITCH` → kill, switch), in order.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    any_word(text, |w| {
        out.push(w.to_lowercase());
        false
    });
    out
}

/// Calls `f` with each word of a segment (`apiKey` → api, Key; `DB_PASSWORD`
/// → DB, PASSWORD; `tls-key` → tls, key) until it returns true.
fn any_word(segment: &str, mut f: impl FnMut(&str) -> bool) -> bool {
    let mut start: Option<usize> = None;
    let mut prev_lower = false;
    for (i, c) in segment.char_indices() {
        if !c.is_alphanumeric() {
            if let Some(s) = start.take()
                && f(&segment[s..i])
            {
                return true;
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower {
            if let Some(s) = start
                && f(&segment[s..i])
            {
                return true;
            }
            start = Some(i);
        }
        if start.is_none() {
            start = Some(i);
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
    }
    start.is_some_and(|s| f(&segment[s..]))
}

impl Options {
    /// Whether a key, list-item identifier or name names a secret: one of
    /// its words is a secret word or its plural (`passwords`, `api-keys`,
    /// `client_secrets`), or it contains a secret word of five letters or
    /// more anywhere (`dbpassword`, `apitokens`). Hiding too much is safe
    /// (the values' hashes still tell a divergence); hiding too little is not.
    pub fn is_secret(&self, segment: &str) -> bool {
        let plural_of = |word: &str, secret: &str| {
            let w = word.to_ascii_lowercase();
            w == secret || w.strip_suffix('s').is_some_and(|x| x == secret) || w.strip_suffix("es").is_some_and(|x| x == secret)
        };
        let lower = segment.to_ascii_lowercase();
        any_word(segment, |w| self.secret_words.iter().any(|s| plural_of(w, &s.to_ascii_lowercase())))
            || self.secret_words.iter().any(|w| w.len() > 4 && lower.contains(&w.to_ascii_lowercase()))
    }

    /// A value as it may be shown: every value under a secret key, every
    /// value of a list item named like a secret (`{name: DB_PASSWORD,
    /// value: …}`) but its name, replaced by a short hash; the rest as is.
    pub fn shown(&self, node: &Node, secret: bool) -> Json {
        if secret {
            return Json::String(format!("«secret sha256:{}»", &value_sha256(Some(node))[..12]));
        }
        match &node.value {
            Value::Seq(items) => Json::Array(items.iter().map(|n| self.shown(n, false)).collect()),
            Value::Map(entries) => {
                let is_id = |k: &str| self.default_keys.iter().any(|d| d == k);
                let named_secret = entries.iter().any(|e| is_id(&e.key) && matches!(&e.node.value, Value::Str(v) if self.is_secret(v)));
                Json::Object(
                    entries
                        .iter()
                        .map(|e| (e.key.to_string(), self.shown(&e.node, self.is_secret(&e.key) || (named_secret && !is_id(&e.key)))))
                        .collect(),
                )
            }
            _ => to_json(node),
        }
    }
}

/// One step of the path being walked; strings are built only when a
/// difference is recorded, not for each of the millions of nodes visited.
#[derive(Clone)]
enum Seg {
    Key(Arc<str>),
    Item(usize),
    Id { key: String, id: String, index: usize },
}

fn escape_pointer(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

#[derive(Clone, Default)]
struct Path {
    segs: Vec<Seg>,
    /// How many segments on the stack are secret.
    secret: usize,
}

/// How a path is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    /// `/spec/containers[name=app]/image`.
    Human,
    /// Indices and identities as `*`: what list-key patterns match.
    Generic,
    /// A JSON pointer into the document.
    Pointer,
}

impl Seg {
    fn is_secret(&self, opts: &Options) -> bool {
        match self {
            Seg::Key(k) => opts.is_secret(k),
            Seg::Id { id, .. } => opts.is_secret(id),
            Seg::Item(_) => false,
        }
    }
}

impl Path {
    fn push(&mut self, seg: Seg, opts: &Options) {
        self.secret += usize::from(seg.is_secret(opts));
        self.segs.push(seg);
    }

    fn pop(&mut self, opts: &Options) {
        if let Some(seg) = self.segs.pop() {
            self.secret -= usize::from(seg.is_secret(opts));
        }
    }

    fn is_secret(&self) -> bool {
        self.secret > 0
    }

    fn render(&self, style: Style) -> String {
        let mut s = String::new();
        for seg in &self.segs {
            match (seg, style) {
                (Seg::Key(k), Style::Pointer) => {
                    s.push('/');
                    s.push_str(&escape_pointer(k));
                }
                (Seg::Key(k), _) => {
                    s.push('/');
                    s.push_str(k);
                }
                (Seg::Item(_) | Seg::Id { .. }, Style::Generic) => s.push_str("/*"),
                (Seg::Id { key, id, .. }, Style::Human) => s.push_str(&format!("[{key}={id}]")),
                (Seg::Item(i) | Seg::Id { index: i, .. }, _) => s.push_str(&format!("/{i}")),
            }
        }
        s
    }
}

/// Converts a node to JSON for display.
pub fn to_json(node: &Node) -> Json {
    match &node.value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(Int::Small(i)) => Json::from(*i),
        Value::Int(Int::Big(s)) => Json::String(s.to_string()),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or_else(|| Json::String(f.to_string()), Json::Number),
        Value::Str(s) => Json::String(s.to_string()),
        Value::Seq(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => Json::Object(entries.iter().map(|e| (e.key.to_string(), to_json(&e.node))).collect()),
    }
}

/// SHA-256 hex of a value's canonical form (`absent` for none).
pub fn value_sha256(node: Option<&Node>) -> String {
    match node {
        None => "absent".into(),
        Some(n) => match canonical::to_string(n) {
            Ok(c) => canonical::sha256_hex(c.as_bytes()),
            Err(_) => canonical::sha256_hex(format!("{:?}", n.value).as_bytes()),
        },
    }
}

fn same(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Int(Int::Small(i)), Value::Float(f)) | (Value::Float(f), Value::Int(Int::Small(i))) => (*i as f64) == *f,
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::Seq(x), Value::Seq(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().all(|e| y.iter().any(|f| f.key == e.key && same(&e.node, &f.node)))
        }
        (x, y) => x == y,
    }
}

fn is_number(v: &Value) -> bool {
    matches!(v, Value::Int(_) | Value::Float(_))
}

/// Diffs documents of one file pair.
pub struct Differ<'a> {
    opts: &'a Options,
    file: String,
    document: String,
    /// A Kubernetes `Secret`: only key names and value hashes are ever shown.
    secret_document: bool,
    path: Path,
    /// The differences found.
    pub out: Vec<Difference>,
}

impl<'a> Differ<'a> {
    fn new(opts: &'a Options, file: &str, document: &str) -> Self {
        Self {
            opts,
            file: file.to_owned(),
            document: document.to_owned(),
            secret_document: document.starts_with("Secret/"),
            path: Path::default(),
            out: Vec::new(),
        }
    }

    /// Records a difference at the current path plus `last` (if any).
    fn record_at(&mut self, last: Option<Seg>, kind: Kind, a: Option<&Node>, b: Option<&Node>) -> &mut Difference {
        if let Some(seg) = last.clone() {
            self.path.push(seg, self.opts);
        }
        let secret = self.path.is_secret() || self.secret_document;
        let opts = self.opts;
        let shown = |n: Option<&Node>| n.map(|n| opts.shown(n, secret));
        let text_diff = match (a.map(|n| &n.value), b.map(|n| &n.value)) {
            (Some(Value::Str(x)), Some(Value::Str(y))) if !secret && (x.contains('\n') || y.contains('\n')) => {
                Some(similar::TextDiff::from_lines(&**x, &**y).unified_diff().context_radius(2).header("staging", "production").to_string())
            }
            _ => None,
        };
        let human = self.path.render(Style::Human);
        self.out.push(Difference {
            file: self.file.clone(),
            document: self.document.clone(),
            path: if human.is_empty() { "/".into() } else { human },
            pointer: self.path.render(Style::Pointer),
            kind,
            staging: shown(a),
            production: shown(b),
            staging_line: a.map(|n| n.line),
            production_line: b.map(|n| n.line),
            staging_sha256: value_sha256(a),
            production_sha256: value_sha256(b),
            secret,
            text_diff,
            moved: None,
        });
        if last.is_some() {
            self.path.pop(self.opts);
        }
        let n = self.out.len() - 1;
        &mut self.out[n]
    }

    fn walk_in(&mut self, seg: Seg, a: &Node, b: &Node) {
        self.path.push(seg, self.opts);
        self.walk(a, b);
        self.path.pop(self.opts);
    }

    fn walk(&mut self, a: &Node, b: &Node) {
        match (&a.value, &b.value) {
            (Value::Map(x), Value::Map(y)) => {
                for e in x.iter() {
                    match y.iter().find(|f| f.key == e.key) {
                        Some(f) => self.walk_in(Seg::Key(e.key.clone()), &e.node, &f.node),
                        None => {
                            self.record_at(Some(Seg::Key(e.key.clone())), Kind::Removed, Some(&e.node), None);
                        }
                    }
                }
                for f in y.iter().filter(|f| !x.iter().any(|e| e.key == f.key)) {
                    self.record_at(Some(Seg::Key(f.key.clone())), Kind::Added, None, Some(&f.node));
                }
            }
            (Value::Seq(x), Value::Seq(y)) => self.walk_list(x, y),
            (va, vb) if va.type_name() != vb.type_name() && !(is_number(va) && is_number(vb)) => {
                self.record_at(None, Kind::TypeChanged, Some(a), Some(b));
            }
            _ => {
                if !same(a, b) {
                    self.record_at(None, Kind::Changed, Some(a), Some(b));
                }
            }
        }
    }

    fn list_key(&self, x: &[Node], y: &[Node]) -> Option<String> {
        let configured = if self.opts.list_keys.is_empty() {
            None
        } else {
            let (generic, human) = (self.path.render(Style::Generic), self.path.render(Style::Human));
            self.opts.list_keys.iter().find(|(p, _)| p.matches(&generic) || p.matches(&human)).map(|(_, k)| k.clone())
        };
        let candidates: Vec<String> = match configured {
            Some(k) => vec![k],
            None => self.opts.default_keys.clone(),
        };
        candidates.into_iter().find(|k| {
            [x, y].iter().all(|items| {
                let mut seen = HashSet::new();
                !items.is_empty()
                    && items.iter().all(|n| n.value.get(k).and_then(|v| v.value.scalar_text()).is_some_and(|id| seen.insert(id)))
            })
        })
    }

    fn walk_list(&mut self, x: &[Node], y: &[Node]) {
        if let Some(key) = self.list_key(x, y) {
            let id = |n: &Node| n.value.get(&key).and_then(|v| v.value.scalar_text()).unwrap_or_default();
            let ids_x: Vec<String> = x.iter().map(id).collect();
            let ids_y: Vec<String> = y.iter().map(id).collect();
            let pos_y: HashMap<&str, usize> = ids_y.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();
            let pos_x: HashMap<&str, usize> = ids_x.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();
            let seg = |id: &str, index: usize| Seg::Id { key: key.clone(), id: id.to_owned(), index };
            for (i, n) in x.iter().enumerate() {
                match pos_y.get(ids_x[i].as_str()) {
                    Some(&j) => self.walk_in(seg(&ids_x[i], j), n, &y[j]),
                    None => {
                        self.record_at(Some(seg(&ids_x[i], i)), Kind::Removed, Some(n), None);
                    }
                }
            }
            for (j, n) in y.iter().enumerate() {
                if !pos_x.contains_key(ids_y[j].as_str()) {
                    self.record_at(Some(seg(&ids_y[j], j)), Kind::Added, None, Some(n));
                }
            }
            // Order: common items outside the longest common subsequence moved.
            let common_x: Vec<&str> = ids_x.iter().map(String::as_str).filter(|s| pos_y.contains_key(s)).collect();
            let common_y: Vec<&str> = ids_y.iter().map(String::as_str).filter(|s| pos_x.contains_key(s)).collect();
            let stay = lcs(&common_x, &common_y);
            for s in common_x.iter().filter(|s| !stay.contains(*s)) {
                let (i, j) = (pos_x[s], pos_y[s]);
                let d = self.record_at(Some(seg(s, j)), Kind::Moved, None, None);
                d.moved = Some((i, j));
                d.staging_line = Some(x[i].line);
                d.production_line = Some(y[j].line);
            }
            return;
        }
        let scalars = |v: &[Node]| v.iter().all(|n| n.value.scalar_text().is_some());
        if scalars(x) && scalars(y) {
            let tx: Vec<String> = x.iter().map(|n| canonical::to_string(n).unwrap_or_default()).collect();
            let ty: Vec<String> = y.iter().map(|n| canonical::to_string(n).unwrap_or_default()).collect();
            let ops = similar::capture_diff_slices(similar::Algorithm::Myers, &tx, &ty);
            let mut removed: Vec<usize> = Vec::new();
            let mut added: Vec<usize> = Vec::new();
            for op in ops {
                match op {
                    similar::DiffOp::Equal { .. } => {}
                    similar::DiffOp::Delete { old_index, old_len, .. } => removed.extend(old_index..old_index + old_len),
                    similar::DiffOp::Insert { new_index, new_len, .. } => added.extend(new_index..new_index + new_len),
                    similar::DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                        removed.extend(old_index..old_index + old_len);
                        added.extend(new_index..new_index + new_len);
                    }
                }
            }
            // A value removed here and added there moved.
            let mut moved = Vec::new();
            removed.retain(|&i| match added.iter().position(|&j| tx[i] == ty[j]) {
                Some(k) => {
                    moved.push((i, added.remove(k)));
                    false
                }
                None => true,
            });
            // Removed and added at the same index is a change.
            for &i in &removed {
                match added.iter().position(|&j| j == i) {
                    Some(k) => {
                        added.remove(k);
                        self.record_at(Some(Seg::Item(i)), Kind::Changed, Some(&x[i]), Some(&y[i]));
                    }
                    None => {
                        self.record_at(Some(Seg::Item(i)), Kind::Removed, Some(&x[i]), None);
                    }
                }
            }
            for j in added {
                self.record_at(Some(Seg::Item(j)), Kind::Added, None, Some(&y[j]));
            }
            for (i, j) in moved {
                self.record_at(Some(Seg::Item(j)), Kind::Moved, Some(&x[i]), Some(&y[j])).moved = Some((i, j));
            }
            return;
        }
        for i in 0..x.len().max(y.len()) {
            match (x.get(i), y.get(i)) {
                (Some(a), Some(b)) => self.walk_in(Seg::Item(i), a, b),
                (Some(a), None) => {
                    self.record_at(Some(Seg::Item(i)), Kind::Removed, Some(a), None);
                }
                (None, Some(b)) => {
                    self.record_at(Some(Seg::Item(i)), Kind::Added, None, Some(b));
                }
                (None, None) => {}
            }
        }
    }
}

fn lcs<'s>(a: &[&'s str], b: &[&'s str]) -> HashSet<&'s str> {
    // Patience-free O(n·m) would be too slow on 100k items; the order of
    // common ids is a permutation, so the LCS is a longest increasing
    // subsequence of b's positions in a's order.
    let pos: HashMap<&str, usize> = b.iter().enumerate().map(|(i, s)| (*s, i)).collect();
    let seq: Vec<usize> = a.iter().map(|s| pos[s]).collect();
    let mut tails: Vec<usize> = Vec::new(); // indices into seq
    let mut prev: Vec<Option<usize>> = vec![None; seq.len()];
    for (i, &v) in seq.iter().enumerate() {
        let k = tails.partition_point(|&t| seq[t] < v);
        if k > 0 {
            prev[i] = Some(tails[k - 1]);
        }
        if k == tails.len() {
            tails.push(i);
        } else {
            tails[k] = i;
        }
    }
    let mut keep = HashSet::new();
    let mut cur = tails.last().copied();
    while let Some(i) = cur {
        keep.insert(a[i]);
        cur = prev[i];
    }
    keep
}

/// A document's identity: Kubernetes `kind/namespace/name`, else the
/// configured key's value, else its index.
pub fn identity(doc: &Node, index: usize, key: Option<&str>) -> String {
    let at = |path: &str| -> Option<String> {
        let mut node = doc;
        for seg in path.split('.') {
            node = node.value.get(seg)?;
        }
        node.value.scalar_text()
    };
    if let (Some(_), Some(kind), Some(name)) = (at("apiVersion"), at("kind"), at("metadata.name")) {
        return format!("{kind}/{}/{name}", at("metadata.namespace").unwrap_or_else(|| "-".into()));
    }
    if let Some(v) = key.and_then(at) {
        return v;
    }
    format!("#{index}")
}

/// Diffs two parsed files.
pub fn files(file: &str, staging: &[Node], production: &[Node], opts: &Options) -> Vec<Difference> {
    let ids = |docs: &[Node]| docs.iter().enumerate().map(|(i, d)| identity(d, i, opts.identity_key.as_deref())).collect::<Vec<_>>();
    let (ia, ib) = (ids(staging), ids(production));
    let mut out = Vec::new();
    for (i, a) in staging.iter().enumerate() {
        let mut d = Differ::new(opts, file, &ia[i]);
        match ib.iter().position(|x| *x == ia[i]) {
            Some(j) => d.walk(a, &production[j]),
            None => {
                d.record_at(None, Kind::Removed, Some(a), None);
            }
        }
        out.extend(d.out);
    }
    for (j, b) in production.iter().enumerate() {
        if !ia.contains(&ib[j]) {
            let mut d = Differ::new(opts, file, &ib[j]);
            d.record_at(None, Kind::Added, None, Some(b));
            out.extend(d.out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{Budget, parse};

    fn diff(a: &str, b: &str) -> Vec<Difference> {
        let x = parse(a, "s.yaml", Budget::default()).expect("a");
        let y = parse(b, "p.yaml", Budget::default()).expect("b");
        files("app.yaml", &x, &y, &Options::default())
    }

    fn summary(d: &[Difference]) -> Vec<String> {
        d.iter().map(|d| format!("{} {} {}", d.kind.as_str(), d.document, d.path)).collect()
    }

    #[test]
    fn maps_scalars_and_types() {
        let d = diff("a: 1\nb: x\nc: [1]\nd: 1\n", "a: 2\nb: x\nc: {x: 1}\ne: 1.0\n");
        assert_eq!(summary(&d), ["changed #0 /a", "type changed #0 /c", "removed #0 /d", "added #0 /e"]);
        assert_eq!((d[0].staging_line, d[0].production_line), (Some(1), Some(1)));
        assert_eq!(d[0].pointer, "/a");
        assert!(diff("a: 1\n", "a: 1.0\n").is_empty(), "1 and 1.0 are the same number");
    }

    #[test]
    fn kubernetes_documents_and_identified_list_items() {
        let a = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: prod}\nspec:\n  containers:\n    - {name: app, image: app:1}\n    - {name: sidecar, image: envoy:1}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: api}\n";
        let b = "apiVersion: v1\nkind: Service\nmetadata: {name: api}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: prod}\nspec:\n  containers:\n    - {name: sidecar, image: envoy:1}\n    - {name: app, image: app:2}\n";
        let d = diff(a, b);
        // Two items swapped: one of them moved (the longest common order keeps the other).
        assert_eq!(
            summary(&d),
            ["changed Deployment/prod/api /spec/containers[name=app]/image", "moved Deployment/prod/api /spec/containers[name=app]"]
        );
        assert_eq!(d[0].pointer, "/spec/containers/1/image");
        assert_eq!(d[0].production_line, Some(11));
        assert_eq!(d[1].moved, Some((0, 1)));
    }

    #[test]
    fn reordering_many_items_is_a_few_moves_not_a_wall() {
        let items: Vec<String> = (0..50).map(|i| format!("  - {{id: {i}, v: {i}}}\n")).collect();
        let a = format!("list:\n{}", items.concat());
        let mut moved = items.clone();
        let x = moved.remove(3);
        moved.insert(40, x);
        let b = format!("list:\n{}", moved.concat());
        assert_eq!(summary(&diff(&a, &b)), ["moved #0 /list[id=3]"]);
    }

    #[test]
    fn scalar_lists() {
        let d = diff("l: [a, b, c, d]\n", "l: [a, c, b, e]\n");
        let s = summary(&d);
        assert!(s.contains(&"changed #0 /l/3".to_owned()), "{s:?}");
        assert!(s.iter().any(|x| x.starts_with("moved #0 /l/")), "{s:?}");
    }

    #[test]
    fn secrets_are_hidden_and_text_is_diffed_by_line() {
        let d = diff(
            "db:\n  password: hunter2\n  apiKey: k1\nenv:\n  - {name: DB_PASSWORD, value: s1}\nscript: |\n  a\n  b\n  c\n",
            "db:\n  password: hunter3\n  apiKey: k2\nenv:\n  - {name: DB_PASSWORD, value: s2}\nscript: |\n  a\n  B\n  c\n",
        );
        let text = serde_json::to_string(&d).expect("json");
        for secret in ["hunter2", "hunter3", "k1", "k2", "s1", "s2"] {
            assert!(!text.contains(&format!("\"{secret}\"")), "{secret} leaked: {text}");
        }
        assert!(d.iter().filter(|d| d.secret).count() == 3);
        assert!(d[0].staging.as_ref().and_then(Json::as_str).is_some_and(|s| s.starts_with("«secret sha256:")));
        let script = d.iter().find(|d| d.path == "/script").expect("script");
        assert!(script.text_diff.as_deref().is_some_and(|t| t.contains("-b\n+B\n")), "{:?}", script.text_diff);
        assert!(
            !Options::default().is_secret("monkey")
                && Options::default().is_secret("tls-key")
                && Options::default().is_secret("clientSecret")
        );
    }

    #[test]
    fn secrets_inside_added_removed_and_named_values_are_hidden() {
        let o = Options::default();
        for key in ["passwords", "api-keys", "client_secrets", "dbPassword", "DB_PASSWORDS", "apitokens", "privateKeys"] {
            assert!(o.is_secret(key), "{key}");
        }
        for key in ["monkey", "keyboard_layout", "name", "replicas"] {
            assert!(!o.is_secret(key), "{key}");
        }
        let d = diff(
            "spec:\n  replicas: 2\n",
            "spec:\n  replicas: 2\n  db:\n    host: db.internal\n    password: hunter2\n    creds: {apiKeys: [k-123]}\n  env:\n    - {name: DB_PASSWORD, value: s3cr3t}\n    - {name: LOG_LEVEL, value: debug}\n",
        );
        let text = serde_json::to_string(&d).expect("json");
        for leaked in ["hunter2", "k-123", "s3cr3t"] {
            assert!(!text.contains(leaked), "{leaked} leaked: {text}");
        }
        assert!(text.contains("db.internal") && text.contains("debug"), "what is not secret stays readable: {text}");
        // A whole Secret document, added or changed: only names and hashes.
        let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: venue-creds}\nstringData:\n  gateway: wss://venue\n  note: rotated\n";
        let d = diff("a: 1\n", &format!("a: 1\n---\n{secret}"));
        let text = serde_json::to_string(&d).expect("json");
        assert!(!text.contains("wss://venue") && !text.contains("rotated"), "{text}");
        let d = diff(secret, &secret.replace("rotated", "rotated again"));
        let text = serde_json::to_string(&d).expect("json");
        assert!(!text.contains("rotated") && text.contains("/stringData/note"), "{text}");
    }
}

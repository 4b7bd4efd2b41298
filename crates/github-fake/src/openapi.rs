//! Checks requests against GitHub's published OpenAPI description
//! (npm `@octokit/openapi`, `generated/api.github.com.json`): the method
//! and path must be an operation, path and query parameters must match
//! their schemas, and a JSON body must match the request-body schema.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context as _, bail};
use regex::Regex;
use serde_json::{Map, Value};

/// Where the test set-up installs the description, relative to the workspace.
pub const DEFAULT_SPEC: &str = ".tools/node_modules/@octokit/openapi/generated/api.github.com.json";

/// Finds the description: `$GITHUB_OPENAPI_SPEC`, else the test set-up's install.
pub fn spec_path() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("GITHUB_OPENAPI_SPEC") {
        return Ok(PathBuf::from(p));
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let p = workspace.join(DEFAULT_SPEC);
    if p.exists() {
        return Ok(p);
    }
    bail!(
        "GitHub's OpenAPI description is not installed at {}; run the test command from the README (scripts/test), which installs npm @octokit/openapi, or set GITHUB_OPENAPI_SPEC",
        p.display()
    )
}

/// A compiled body validator, or `None` when the schema did not compile.
type CachedValidator = Option<std::sync::Arc<jsonschema::Validator>>;

struct Route {
    template: String,
    regex: Regex,
    params: Vec<String>,
    literal_len: usize,
}

/// The loaded description.
pub struct Spec {
    doc: Value,
    routes: Vec<Route>,
    validators: Mutex<HashMap<(String, String), CachedValidator>>,
}

/// A matched operation.
pub struct Operation {
    /// Path template, e.g. `/repos/{owner}/{repo}/check-runs`.
    pub template: String,
    /// Path parameters by name.
    pub params: HashMap<String, String>,
}

impl Spec {
    /// Loads and indexes the description.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let doc: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
        let paths = doc.get("paths").and_then(Value::as_object).context("no paths in the description")?;
        let param_re = Regex::new(r"\{([^}]+)\}")?;
        let mut routes = Vec::new();
        for template in paths.keys() {
            let mut pattern = String::from("^");
            let mut last = 0;
            let mut params = Vec::new();
            for cap in param_re.captures_iter(template) {
                let m = cap.get(0).context("match")?;
                pattern.push_str(&regex::escape(&template[last..m.start()]));
                // A trailing `{path}` (contents API) or `{ref}` (git refs) spans segments.
                let spans = m.end() == template.len() && (&cap[1] == "path" || &cap[1] == "ref");
                pattern.push_str(if spans { "(.+)" } else { "([^/]+)" });
                params.push(cap[1].to_owned());
                last = m.end();
            }
            pattern.push_str(&regex::escape(&template[last..]));
            pattern.push('$');
            let literal_len = param_re.replace_all(template, "").len();
            routes.push(Route { template: template.clone(), regex: Regex::new(&pattern)?, params, literal_len });
        }
        // Prefer the most literal template when several match (`/issues/comments/{id}` over `/issues/{n}/{x}`).
        routes.sort_by_key(|r| std::cmp::Reverse(r.literal_len));
        Ok(Self { doc, routes, validators: Mutex::new(HashMap::new()) })
    }

    /// Validates one request; returns the operation or every reason the real API would refuse it.
    pub fn check(&self, method: &str, path: &str, query: &[(String, String)], body: Option<&Value>) -> Result<Operation, Vec<String>> {
        let method_lc = method.to_lowercase();
        let mut path_matched = false;
        for route in &self.routes {
            let Some(caps) = route.regex.captures(path) else { continue };
            path_matched = true;
            let Some(op) = self.doc["paths"][&route.template].get(&method_lc) else { continue };
            let params: HashMap<String, String> =
                route.params.iter().enumerate().filter_map(|(i, n)| caps.get(i + 1).map(|m| (n.clone(), m.as_str().to_owned()))).collect();
            let mut problems = Vec::new();
            self.check_params(op, &params, query, &mut problems);
            self.check_body(method, &route.template, op, body, &mut problems);
            return if problems.is_empty() { Ok(Operation { template: route.template.clone(), params }) } else { Err(problems) };
        }
        Err(vec![if path_matched {
            format!("{method} {path}: the path exists but GitHub's description has no {method} operation for it")
        } else {
            format!("{method} {path}: no such path in GitHub's REST API description")
        }])
    }

    /// Validates `value` against the description's `#/components/schemas/<name>`
    /// (e.g. a webhook payload, `webhook-deployment-protection-rule-requested`);
    /// every reason it does not fit.
    pub fn check_schema(&self, name: &str, value: &Value) -> Vec<String> {
        let Some(schema) = self.doc.pointer(&format!("/components/schemas/{name}")) else {
            return vec![format!("GitHub's description has no schema {name}")];
        };
        let schema = self.to_json_schema(schema, 0);
        match jsonschema::options().with_draft(jsonschema::Draft::Draft7).build(&schema) {
            Ok(v) => v.iter_errors(value).map(|e| format!("{name} at {:?}: {e}", e.instance_path().as_str())).collect(),
            Err(e) => vec![format!("the schema {name} does not compile: {e}")],
        }
    }

    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => r.strip_prefix("#/").map(|p| p.split('/').fold(&self.doc, |acc, seg| &acc[seg])).unwrap_or(v),
            None => v,
        }
    }

    fn check_params(&self, op: &Value, path_params: &HashMap<String, String>, query: &[(String, String)], problems: &mut Vec<String>) {
        let declared: Vec<&Value> =
            op.get("parameters").and_then(Value::as_array).map(|a| a.iter().map(|p| self.resolve(p)).collect()).unwrap_or_default();
        for (name, value) in query {
            match declared.iter().find(|p| p["in"] == "query" && p["name"] == name.as_str()) {
                None => problems.push(format!("query parameter {name:?} is not defined for this operation")),
                Some(p) => {
                    if let Some(why) = scalar_mismatch(&p["schema"], value) {
                        problems.push(format!("query parameter {name}={value:?}: {why}"));
                    }
                }
            }
        }
        for p in declared.iter().filter(|p| p["in"] == "query" && p["required"] == true) {
            let name = p["name"].as_str().unwrap_or_default();
            if !query.iter().any(|(n, _)| n == name) {
                problems.push(format!("required query parameter {name:?} is missing"));
            }
        }
        for (name, value) in path_params {
            if let Some(p) = declared.iter().find(|p| p["in"] == "path" && p["name"] == name.as_str())
                && let Some(why) = scalar_mismatch(&p["schema"], value)
            {
                problems.push(format!("path parameter {name}={value:?}: {why}"));
            }
        }
    }

    fn check_body(&self, method: &str, template: &str, op: &Value, body: Option<&Value>, problems: &mut Vec<String>) {
        let request_body = op.get("requestBody").map(|rb| self.resolve(rb));
        let Some(rb) = request_body else {
            if body.is_some_and(|b| !b.is_null()) && method != "GET" && method != "DELETE" {
                problems.push("this operation takes no request body".to_owned());
            }
            return;
        };
        let Some(body) = body else {
            if rb["required"] == true {
                problems.push("a JSON request body is required".to_owned());
            }
            return;
        };
        let key = (method.to_owned(), template.to_owned());
        let validator = {
            let mut cache = self.validators.lock().unwrap_or_else(|e| e.into_inner());
            cache
                .entry(key)
                .or_insert_with(|| {
                    let schema = rb.pointer("/content/application~1json/schema")?;
                    let schema = self.to_json_schema(schema, 0);
                    jsonschema::options().with_draft(jsonschema::Draft::Draft7).build(&schema).ok().map(std::sync::Arc::new)
                })
                .clone()
        };
        match validator {
            Some(v) => {
                for err in v.iter_errors(body) {
                    problems.push(format!("request body at {:?}: {err}", err.instance_path().as_str()));
                }
            }
            None => problems.push("the description's body schema for this operation could not be compiled".to_owned()),
        }
    }

    /// OpenAPI 3.0 schema to JSON Schema: `$ref`s inlined (bounded depth) and
    /// `nullable: true` turned into a `null` type.
    fn to_json_schema(&self, schema: &Value, depth: usize) -> Value {
        if depth > 24 {
            return Value::Object(Map::new());
        }
        match schema {
            Value::Object(map) => {
                if map.contains_key("$ref") {
                    return self.to_json_schema(self.resolve(schema), depth + 1);
                }
                let mut out = Map::new();
                for (k, v) in map {
                    let v = match k.as_str() {
                        "properties" | "patternProperties" => Value::Object(
                            v.as_object()
                                .map(|m| m.iter().map(|(pk, pv)| (pk.clone(), self.to_json_schema(pv, depth + 1))).collect())
                                .unwrap_or_default(),
                        ),
                        "items" | "additionalProperties" | "not" => self.to_json_schema(v, depth + 1),
                        "allOf" | "anyOf" | "oneOf" => Value::Array(
                            v.as_array().map(|a| a.iter().map(|s| self.to_json_schema(s, depth + 1)).collect()).unwrap_or_default(),
                        ),
                        "example" | "examples" | "description" | "nullable" | "discriminator" | "readOnly" | "writeOnly"
                        | "externalDocs" => continue,
                        _ => v.clone(),
                    };
                    out.insert(k.clone(), v);
                }
                if map.get("nullable") == Some(&Value::Bool(true)) {
                    match out.get("type").cloned() {
                        Some(Value::String(t)) => {
                            out.insert("type".into(), serde_json::json!([t, "null"]));
                        }
                        _ => {
                            let inner = Value::Object(out);
                            return serde_json::json!({ "anyOf": [inner, { "type": "null" }] });
                        }
                    }
                    if let Some(Value::Array(e)) = out.get_mut("enum")
                        && !e.contains(&Value::Null)
                    {
                        e.push(Value::Null);
                    }
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }
}

/// Why a path or query string value does not fit its schema, if it does not.
fn scalar_mismatch(schema: &Value, value: &str) -> Option<String> {
    let ty = schema.get("type").and_then(Value::as_str).unwrap_or("string");
    match ty {
        "integer" => {
            let Ok(n) = value.parse::<i64>() else { return Some("expected an integer".into()) };
            if let Some(max) = schema.get("maximum").and_then(Value::as_i64)
                && n > max
            {
                return Some(format!("must be at most {max}"));
            }
            if let Some(min) = schema.get("minimum").and_then(Value::as_i64)
                && n < min
            {
                return Some(format!("must be at least {min}"));
            }
        }
        "boolean" if value != "true" && value != "false" => return Some("expected true or false".into()),
        _ => {}
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.iter().any(|o| o.as_str() == Some(value))
    {
        return Some(format!("must be one of {}", Value::Array(options.clone())));
    }
    None
}

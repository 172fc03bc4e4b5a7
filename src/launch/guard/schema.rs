//! Argument checks: a tool's pinned `inputSchema` compiled once, and
//! `tools/call` arguments validated against it.
//!
//! JSON Schema 2020-12 unless `$schema` names draft-07 (MCP's default is
//! 2020-12); other `$schema` values are refused. Offline: a `$ref` to a
//! document outside the schema fails the build (the crate is built
//! without its HTTP and file retrievers, and `offline()` refuses the
//! rest), and a tool whose schema cannot be built cannot be called.

use serde_json::Value;

use super::truncate;

/// Largest schema accepted, as canonical JSON.
pub const MAX_SCHEMA_BYTES: usize = 256 * 1024;
/// Deepest nesting of a schema.
pub const MAX_SCHEMA_DEPTH: usize = 32;
/// Problems reported per call.
const MAX_PROBLEMS: usize = 3;

/// A compiled input schema.
pub struct ArgSchema {
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for ArgSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ArgSchema")
    }
}

fn depth(v: &Value) -> usize {
    // Iterative: a schema from a peer decides the depth.
    let mut max = 0;
    let mut stack = vec![(v, 1usize)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        if d > MAX_SCHEMA_DEPTH {
            return d;
        }
        match v {
            Value::Object(m) => stack.extend(m.values().map(|x| (x, d + 1))),
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    max
}

impl ArgSchema {
    /// Compiles `schema`; `strict` treats a top-level schema with
    /// `properties` as if it said `additionalProperties: false`.
    pub fn compile(schema: &Value, strict: bool) -> Result<ArgSchema, String> {
        let size = super::pins::canonical_json(schema).len();
        if size > MAX_SCHEMA_BYTES {
            return Err(format!(
                "the input schema is {size} bytes, more than the {MAX_SCHEMA_BYTES}-byte limit"
            ));
        }
        if depth(schema) > MAX_SCHEMA_DEPTH {
            return Err(format!(
                "the input schema nests deeper than {MAX_SCHEMA_DEPTH} levels"
            ));
        }
        let draft = match schema.get("$schema") {
            None => jsonschema::Draft::Draft202012,
            Some(Value::String(s)) => {
                let s = s.trim_end_matches('#');
                if s.ends_with("/draft-07/schema") {
                    jsonschema::Draft::Draft7
                } else if s.ends_with("/draft/2020-12/schema") {
                    jsonschema::Draft::Draft202012
                } else {
                    return Err(format!(
                        "the input schema's $schema `{s}` is neither JSON Schema 2020-12 nor draft-07"
                    ));
                }
            }
            Some(_) => return Err("the input schema's $schema is not a string".into()),
        };
        let mut owned;
        let mut schema = schema;
        if strict
            && let Some(obj) = schema.as_object()
            && obj.contains_key("properties")
            && obj.get("additionalProperties") != Some(&Value::Bool(false))
        {
            owned = schema.clone();
            if let Some(o) = owned.as_object_mut() {
                o.insert("additionalProperties".into(), Value::Bool(false));
            }
            schema = &owned;
        }
        let validator = jsonschema::options()
            .with_draft(draft)
            .offline()
            .build(schema)
            .map_err(|e| format!("the input schema cannot be used: {}", e.masked()))?;
        Ok(ArgSchema { validator })
    }

    /// Checks `args` (absent arguments are checked as `{}`); on failure,
    /// one line naming the fields and problems, without the values.
    pub fn check(&self, args: &Value) -> Result<(), String> {
        let mut problems = Vec::new();
        for e in self.validator.iter_errors(args).take(MAX_PROBLEMS + 1) {
            let at = e.instance_path().to_string();
            let at = if at.is_empty() { "/".to_string() } else { at };
            problems.push(format!("at {at}: {}", e.masked()));
        }
        if problems.is_empty() {
            return Ok(());
        }
        let more = problems.len() > MAX_PROBLEMS;
        problems.truncate(MAX_PROBLEMS);
        let mut s = problems.join("; ");
        if more {
            s.push_str("; and more");
        }
        Err(truncate(&s, 400))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type":"object","properties":{"path":{"type":"string"},"n":{"type":"integer"}},"required":["path"]})
    }

    #[test]
    fn valid_and_invalid() {
        let s = ArgSchema::compile(&schema(), false).unwrap();
        assert!(s.check(&json!({"path":"/tmp","n":3})).is_ok());
        let e = s.check(&json!({"n":"secret-value"})).unwrap_err();
        assert!(e.contains("/n"), "{e}");
        assert!(e.contains("path"), "{e}");
        assert!(!e.contains("secret-value"), "{e}");
        // Extra fields pass unless the schema or strict mode says no.
        assert!(s.check(&json!({"path":"a","extra":1})).is_ok());
    }

    #[test]
    fn additional_properties_and_strict() {
        let mut sc = schema();
        sc["additionalProperties"] = json!(false);
        let s = ArgSchema::compile(&sc, false).unwrap();
        let e = s.check(&json!({"path":"a","extra":1})).unwrap_err();
        assert!(e.contains("extra"), "{e}");
        let strict = ArgSchema::compile(&schema(), true).unwrap();
        assert!(strict.check(&json!({"path":"a","extra":1})).is_err());
        assert!(strict.check(&json!({"path":"a"})).is_ok());
    }

    #[test]
    fn drafts() {
        // prefixItems is a 2020-12 keyword; draft-07 ignores it.
        let d7 = json!({"$schema":"http://json-schema.org/draft-07/schema#","type":"object",
            "properties":{"t":{"prefixItems":[{"type":"string"}]}}});
        let s = ArgSchema::compile(&d7, false).unwrap();
        assert!(s.check(&json!({"t":[1]})).is_ok());
        let mut d2020 = d7.clone();
        d2020["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        let s = ArgSchema::compile(&d2020, false).unwrap();
        assert!(s.check(&json!({"t":[1]})).is_err());
        // 2020-12 by default: prefixItems applies.
        let p = ArgSchema::compile(
            &json!({"type":"object","properties":{"t":{"prefixItems":[{"type":"string"}]}}}),
            false,
        )
        .unwrap();
        assert!(p.check(&json!({"t":[1]})).is_err());
        assert!(ArgSchema::compile(&json!({"$schema":"http://example.com/other"}), false).is_err());
    }

    #[test]
    fn remote_refs_and_bounds_refused() {
        let r = json!({"type":"object","properties":{"a":{"$ref":"https://example.com/s.json"}}});
        assert!(ArgSchema::compile(&r, false).is_err());
        let mut deep = json!({"type":"object"});
        for _ in 0..40 {
            deep = json!({"items": deep});
        }
        assert!(ArgSchema::compile(&deep, false).is_err());
        let big = json!({"description": "x".repeat(MAX_SCHEMA_BYTES)});
        assert!(ArgSchema::compile(&big, false).is_err());
        // A local $ref is fine.
        let local = json!({"$defs":{"s":{"type":"string"}},"type":"object",
            "properties":{"a":{"$ref":"#/$defs/s"}}});
        let s = ArgSchema::compile(&local, false).unwrap();
        assert!(s.check(&json!({"a":1})).is_err());
    }
}

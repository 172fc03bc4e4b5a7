//! The guard's strict decode against independent decoders (issue 16).
//!
//! A seeded corpus of MCP-shaped JSON-RPC messages, generated and mutated
//! (byte flips, truncations, escaped keys and values, surrogates, duplicate
//! keys at every depth, numbers in every form, broken UTF-8, nesting about
//! the depth bound, BOM, whitespace, trailing garbage), is judged by:
//!
//! - the framer, both ways it reads a line: [`scan_message`] (the one-pass
//!   validator) and a [`FrameReader`] over the whole corpus in odd-sized
//!   reads (the incremental scan);
//! - [`reference`], a strict decode written independently on serde_json
//!   (a value visitor that refuses duplicate names, inexact integers and
//!   depth over the bound);
//! - the envelope decode ([`Envelope::decode`]) from the scan's spans and
//!   from serde, which must agree.
//!
//! Every line the framer accepts is then parsed by Node's `JSON.parse` and
//! Python's `json.loads` (one process each over the whole corpus), and
//! their canonical re-serialisations (sorted keys, numbers by exact value,
//! strings by their text) must equal serde_json's. A line the guard
//! accepts that either runtime refuses, or reads differently, fails.

use std::collections::HashSet;
use std::fmt;
use std::io::{self, Read};
use std::process::Command;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::Limits;
use super::envelope::Envelope;
use super::frame::{Frame, FrameReader, Scanned, scan_message};

// ---- the reference strict decode ----------------------------------------

/// serde_json into a value, refusing what the guard must refuse: invalid
/// UTF-8, lone surrogates and numbers out of the f64 range (serde_json
/// does), a name twice in one object, integers a double cannot hold
/// exactly, and nesting deeper than `max_depth`.
pub(super) fn reference(line: &[u8], max_depth: usize) -> Result<Value, String> {
    std::str::from_utf8(line).map_err(|e| e.to_string())?;
    let mut de = serde_json::Deserializer::from_slice(line);
    // serde_json's own recursion limit (128) is above every bound tested.
    let v = Strict {
        depth: 0,
        max: max_depth,
    }
    .deserialize(&mut de)
    .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    // serde hands integers beyond u64/i64 over as doubles: check their text.
    if let Some(t) = inexact_integer_token(line) {
        return Err(format!("inexact integer {t}"));
    }
    Ok(v)
}

#[derive(Clone, Copy)]
struct Strict {
    depth: usize,
    max: usize,
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_u64<E: serde::de::Error>(self, u: u64) -> Result<Value, E> {
        if (u as f64) as u128 != u128::from(u) {
            return Err(E::custom("inexact integer"));
        }
        Ok(Value::from(u))
    }
    fn visit_i64<E: serde::de::Error>(self, i: i64) -> Result<Value, E> {
        if (i as f64) as i128 != i128::from(i) {
            return Err(E::custom("inexact integer"));
        }
        Ok(Value::from(i))
    }
    fn visit_f64<E: serde::de::Error>(self, f: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| E::custom("not finite"))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let inner = self.deeper::<A::Error>()?;
        let mut v = Vec::new();
        while let Some(x) = a.next_element_seed(inner)? {
            v.push(x);
        }
        Ok(Value::Array(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let inner = self.deeper::<A::Error>()?;
        let mut m = Map::new();
        let mut names = HashSet::new();
        while let Some(k) = a.next_key::<String>()? {
            if !names.insert(k.clone()) {
                return Err(serde::de::Error::custom(format!("duplicate name {k:?}")));
            }
            let v = a.next_value_seed(inner)?;
            m.insert(k, v);
        }
        Ok(Value::Object(m))
    }
}

impl Strict {
    fn deeper<E: serde::de::Error>(self) -> Result<Strict, E> {
        if self.depth + 1 > self.max {
            return Err(E::custom("too deep"));
        }
        Ok(Strict {
            depth: self.depth + 1,
            ..self
        })
    }
}

/// The first integer token (no fraction, no exponent) of a well-formed
/// document whose value no double holds exactly. Independent of the
/// framer's check: the nearest double's exact value is expanded in decimal
/// by hand (base 10^9 limbs) and compared digit for digit.
fn inexact_integer_token(line: &[u8]) -> Option<String> {
    let mut i = 0;
    let mut in_str = false;
    while i < line.len() {
        let c = line[i];
        if in_str {
            match c {
                b'\\' => i += 1,
                b'"' => in_str = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if c == b'"' {
            in_str = true;
            i += 1;
            continue;
        }
        if c == b'-' || c.is_ascii_digit() {
            let s = i;
            while i < line.len()
                && matches!(line[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
            {
                i += 1;
            }
            let tok = std::str::from_utf8(&line[s..i]).ok()?;
            if tok.contains(['.', 'e', 'E']) {
                continue;
            }
            let digits = tok.trim_start_matches('-');
            let f: f64 = tok.parse().ok()?;
            if exact_decimal(f.abs()) != digits {
                return Some(tok.to_string());
            }
            continue;
        }
        i += 1;
    }
    None
}

/// The exact decimal expansion of a finite, integral, non-negative double.
fn exact_decimal(f: f64) -> String {
    let bits = f.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1 << 52) - 1);
    if exp == 0 {
        return if frac == 0 { "0".into() } else { "x".into() };
    }
    let mut m = frac | (1 << 52);
    let mut e = exp - 1075;
    while e < 0 {
        if m & 1 == 1 {
            return "x".into(); // not an integer
        }
        m >>= 1;
        e += 1;
    }
    // m * 2^e in base 10^9, least significant limb first.
    const BASE: u64 = 1_000_000_000;
    let mut limbs = vec![m % BASE, (m / BASE) % BASE, m / BASE / BASE];
    for _ in 0..e {
        let mut carry = 0;
        for l in limbs.iter_mut() {
            let v = *l * 2 + carry;
            *l = v % BASE;
            carry = v / BASE;
        }
        if carry > 0 {
            limbs.push(carry);
        }
    }
    while limbs.len() > 1 && limbs.last() == Some(&0) {
        limbs.pop();
    }
    let mut s = limbs.last().unwrap().to_string();
    for l in limbs.iter().rev().skip(1) {
        s.push_str(&format!("{l:09}"));
    }
    s
}

// ---- canonical forms --------------------------------------------------------

/// A decoded value with numbers and strings tagged so that the three
/// runtimes can be compared: `i:DIGITS` for an integral number (its exact
/// value; `-0` is `0`), `f:HEX` for another double (its bits), `s:TEXT`
/// for a string. Objects keep their names.
fn tag(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::String(if let Some(u) = n.as_u64() {
            format!("i:{u}")
        } else if let Some(i) = n.as_i64() {
            format!("i:{i}")
        } else {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 {
                let d = exact_decimal(f.abs());
                if f < 0.0 {
                    format!("i:-{d}")
                } else {
                    format!("i:{d}")
                }
            } else {
                format!("f:{:016x}", f.to_bits())
            }
        }),
        Value::String(s) => Value::String(format!("s:{s}")),
        Value::Array(a) => Value::Array(a.iter().map(tag).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), tag(v))).collect()),
        _ => v.clone(),
    }
}

/// `v` serialised with every object's names sorted (by UTF-8 bytes, which
/// is code point order).
fn sorted(v: &Value) -> String {
    fn go(v: &Value, out: &mut String) {
        match v {
            Value::Array(a) => {
                out.push('[');
                for (j, x) in a.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    go(x, out);
                }
                out.push(']');
            }
            Value::Object(o) => {
                let mut names: Vec<&String> = o.keys().collect();
                names.sort();
                out.push('{');
                for (j, k) in names.into_iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    go(&o[k], out);
                }
                out.push('}');
            }
            _ => out.push_str(&v.to_string()),
        }
    }
    let mut s = String::new();
    go(v, &mut s);
    s
}

const NODE: &str = r#"
const fs = require('fs');
const buf = fs.readFileSync(process.argv[1]);
const dec = new TextDecoder('utf-8', { fatal: true });
const dv = new DataView(new ArrayBuffer(8));
function tag(v) {
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return 'i:' + BigInt(v).toString();
    dv.setFloat64(0, v);
    return 'f:' + dv.getBigUint64(0).toString(16).padStart(16, '0');
  }
  if (typeof v === 'string') return 's:' + v;
  if (Array.isArray(v)) return v.map(tag);
  const o = Object.create(null);
  for (const k of Object.keys(v)) o[k] = tag(v[k]);
  return o;
}
const out = [];
let start = 0;
for (;;) {
  let end = buf.indexOf(10, start);
  if (end < 0) end = buf.length;
  try {
    out.push(JSON.stringify(tag(JSON.parse(dec.decode(buf.subarray(start, end))))));
  } catch (e) {
    out.push('ERR ' + String(e).slice(0, 200).replace(/\n/g, ' '));
  }
  if (end === buf.length) break;
  start = end + 1;
}
process.stdout.write(out.join('\n') + '\n');
"#;

const PYTHON: &str = r#"
import json, struct, sys
def tag(v):
    if v is None or isinstance(v, bool): return v
    if isinstance(v, int): return 'i:%d' % v
    if isinstance(v, float):
        if v.is_integer(): return 'i:%d' % int(v)
        return 'f:' + struct.pack('>d', v).hex()
    if isinstance(v, str): return 's:' + v
    if isinstance(v, list): return [tag(x) for x in v]
    return {k: tag(x) for k, x in v.items()}
out = []
for line in open(sys.argv[1], 'rb').read().split(b'\n'):
    try:
        out.append(json.dumps(tag(json.loads(line.decode('utf-8')))))
    except Exception as e:
        out.append('ERR ' + repr(e)[:200].replace('\n', ' '))
sys.stdout.write('\n'.join(out) + '\n')
"#;

/// Each line of `lines` as `runtime` reads it: its canonical form, or
/// `Err` with the runtime's error.
fn run_runtime(
    name: &str,
    cmd: &str,
    args: &[&str],
    file: &std::path::Path,
    n: usize,
) -> Vec<Result<String, String>> {
    let out = Command::new(cmd)
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!("{name} ({cmd}) is needed by this test (scripts/test installs it): {e}")
        });
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    let got: Vec<Result<String, String>> = text
        .lines()
        .map(|l| match l.strip_prefix("ERR ") {
            Some(e) => Err(e.to_string()),
            // (What serde cannot read back, a lone surrogate, stays text.)
            None => Ok(serde_json::from_str::<Value>(l)
                .map_or_else(|_| format!("unreadable: {l}"), |v| sorted(&v))),
        })
        .collect();
    assert_eq!(got.len(), n, "{name} answered {} lines of {n}", got.len());
    got
}

// ---- the corpus -------------------------------------------------------------

use super::test_rng::Rng;

/// A generated value: numbers and strings as their JSON text (so that
/// mutations can spell them in every form), names likewise.
#[derive(Clone, Debug)]
enum G {
    Lit(&'static str),
    Num(String),
    Str(String),
    Arr(Vec<G>),
    Obj(Vec<(String, G)>),
}

fn s(t: &str) -> G {
    G::Str(format!("\"{t}\""))
}
fn n(t: impl ToString) -> G {
    G::Num(t.to_string())
}
fn obj(m: Vec<(&str, G)>) -> G {
    G::Obj(
        m.into_iter()
            .map(|(k, v)| (format!("\"{k}\""), v))
            .collect(),
    )
}

/// Numbers in every form, exact and not, in and out of range.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "40",
    "40.0",
    "4e1",
    "4E+1",
    "400e-1",
    "-0.0",
    "0.1",
    "1e-7",
    "2.5e-324",
    "5e-324",
    "1e-400",
    "1.7976931348623157e308",
    "1e308",
    "1e309",
    "1e999",
    "-1e999",
    "9007199254740991",
    "9007199254740992",
    "9007199254740993",
    "-9007199254740993",
    "18014398509481984",
    "18014398509481985",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "1152921504606846976",
    "100000000000000000000",
    "100000000000000000001",
    "123456789012345678901234567890",
    "0.30000000000000004",
    "3.141592653589793238462643383279",
    "1234567890123456.7",
    "01",
    "1.",
    ".5",
    "+1",
    "0x10",
    "NaN",
    "Infinity",
    "-",
];

fn gen_number(r: &mut Rng) -> G {
    match r.below(5) {
        0 => n(r.pick(NUMBERS)),
        1 => n(r.below(1000)),
        2 => n(format!("-{}.{}", r.below(100), r.below(1000))),
        // Long decimals, where a parser that does not round correctly
        // reads another double than Node and Python.
        3 => n(format!(
            "{}.{:019}{:019}e{}",
            r.below(10),
            r.next() % 10_000_000_000_000_000_000,
            r.next() % 10_000_000_000_000_000_000,
            r.below(600) as i64 - 300
        )),
        _ => n(r.next() >> r.below(64)),
    }
}

/// String contents: plain, escaped, surrogate pairs, and now and then what
/// only a strict decoder refuses.
const PIECES: &[&str] = &[
    "a",
    "text",
    "hello world",
    "\\\"",
    "\\\\",
    "\\/",
    "\\b\\f\\n\\r\\t",
    "\\u0041",
    "\\u00e9",
    "\\u2028",
    "\\uFEFF",
    "\\u0000",
    "\\ud83d\\ude00",
    "\\uD834\\uDD1E",
    "é",
    "€",
    "𝄞",
    "\u{2028}",
    "\u{feff}",
    "{[,:]}",
    "mcp-warden-",
    " ",
];

fn gen_text(r: &mut Rng) -> String {
    let mut t = String::new();
    for _ in 0..r.below(5) {
        t.push_str(r.pick(PIECES));
    }
    if r.one_in(80) {
        t.push_str(r.pick(&["\\ud800", "\\udc00", "\\udead", "\\ud800\\u0041", "\\ud83d"]));
    }
    t
}

fn gen_value(r: &mut Rng, depth: usize) -> G {
    let k = if depth >= 4 { r.below(6) } else { r.below(9) };
    match k {
        0 => G::Lit(r.pick(&["true", "false", "null"])),
        1 | 2 => gen_number(r),
        3..=5 => G::Str(format!("\"{}\"", gen_text(r))),
        6 => G::Arr((0..r.below(4)).map(|_| gen_value(r, depth + 1)).collect()),
        _ => gen_object(r, depth),
    }
}

const NAMES: &[&str] = &[
    "id",
    "name",
    "text",
    "arguments",
    "type",
    "uri",
    "content",
    "_meta",
    "a",
    "b",
    "\u{e9}",
    "𝄞",
    "__proto__",
    "constructor",
    "",
    "0",
    "10",
];

fn gen_object(r: &mut Rng, depth: usize) -> G {
    let mut m = Vec::new();
    let mut used = HashSet::new();
    let most = if r.one_in(10) { 20 } else { 5 };
    for _ in 0..r.below(most) {
        let k = if r.one_in(3) {
            format!("k{}", r.below(100))
        } else {
            r.pick(NAMES).to_string()
        };
        if used.insert(k.clone()) {
            m.push((format!("\"{k}\""), gen_value(r, depth + 1)));
        }
    }
    G::Obj(m)
}

const METHODS: &[&str] = &[
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "prompts/get",
    "prompts/list",
    "resources/read",
    "resources/list",
    "elicitation/create",
    "sampling/createMessage",
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/tools/list_changed",
    "tools\\/call",
    "tools/c\\u0061ll",
    "Tools/Call",
];

const TOOLS: &[&str] = &[
    "echo",
    "delete_all",
    "delete_\\u0061ll",
    "delete_all ",
    "ｄelete_all",
    "run_shell",
    "read_file",
];

fn gen_id(r: &mut Rng) -> G {
    match r.below(8) {
        0..=2 => n(r.below(100)),
        3 => n(r.pick(NUMBERS)),
        4 => s(&format!("req-{}", r.below(50))),
        5 => s(&format!("mcp-warden-{:x}", r.next())),
        6 => G::Str(format!("\"{}\"", gen_text(r))),
        _ => G::Lit(r.pick(&["null", "true"])),
    }
}

/// One JSON-RPC message of an MCP shape.
fn gen_message(r: &mut Rng) -> G {
    let mut m: Vec<(&str, G)> = Vec::new();
    if !r.one_in(10) {
        m.push(("jsonrpc", s("2.0")));
    }
    match r.below(10) {
        // Requests and notifications.
        0..=5 => {
            let method = r.pick(METHODS);
            if !method.starts_with("notifications/") || r.one_in(5) {
                m.push(("id", gen_id(r)));
            }
            m.push(("method", s(method)));
            let params = match method {
                "tools/call" => obj(vec![
                    ("name", s(r.pick(TOOLS))),
                    ("arguments", gen_object(r, 2)),
                    ("_meta", obj(vec![("progressToken", n(r.below(10)))])),
                ]),
                "prompts/get" => obj(vec![
                    ("name", s(r.pick(&["greet", "hidden"]))),
                    ("arguments", gen_object(r, 2)),
                ]),
                "resources/read" => obj(vec![("uri", s("file:///tmp/\\u0078"))]),
                "initialize" => obj(vec![
                    ("protocolVersion", s("2025-11-25")),
                    ("capabilities", obj(vec![("elicitation", obj(vec![]))])),
                    (
                        "clientInfo",
                        obj(vec![("name", s("t")), ("version", s("1"))]),
                    ),
                ]),
                "notifications/cancelled" => obj(vec![("requestId", gen_id(r))]),
                _ => gen_object(r, 1),
            };
            if !r.one_in(6) {
                m.push(("params", params));
            }
        }
        // Answers.
        6..=8 => {
            m.push(("id", gen_id(r)));
            let result = match r.below(3) {
                0 => obj(vec![(
                    "tools",
                    G::Arr(
                        (0..r.below(4))
                            .map(|_| {
                                obj(vec![
                                    ("name", s(r.pick(TOOLS))),
                                    ("description", G::Str(format!("\"{}\"", gen_text(r)))),
                                    (
                                        "inputSchema",
                                        obj(vec![
                                            ("type", s("object")),
                                            ("properties", gen_object(r, 3)),
                                        ]),
                                    ),
                                ])
                            })
                            .collect(),
                    ),
                )]),
                1 => obj(vec![
                    (
                        "content",
                        G::Arr(vec![obj(vec![
                            ("type", s("text")),
                            ("text", G::Str(format!("\"{}\"", gen_text(r)))),
                        ])]),
                    ),
                    ("isError", G::Lit(r.pick(&["true", "false"]))),
                ]),
                _ => obj(vec![(
                    "action",
                    s(r.pick(&["accept", "decline", "cancel"])),
                )]),
            };
            m.push(("result", result));
        }
        _ => {
            m.push(("id", gen_id(r)));
            m.push((
                "error",
                obj(vec![
                    (
                        "code",
                        n(r.pick(&["-32600", "-32601", "-32700.0", "-3.26e4"])),
                    ),
                    ("message", G::Str(format!("\"{}\"", gen_text(r)))),
                ]),
            ));
        }
    }
    if r.one_in(30) {
        // Both a method and a result, or extras.
        m.push((r.pick(&["result", "method", "error", "extra"]), s("x")));
    }
    obj(m)
}

fn count_objects(g: &G) -> usize {
    match g {
        G::Obj(m) => 1 + m.iter().map(|(_, v)| count_objects(v)).sum::<usize>(),
        G::Arr(a) => a.iter().map(count_objects).sum(),
        _ => 0,
    }
}

/// The `k`-th object of `g` in pre-order.
fn nth_object<'a>(g: &'a mut G, k: &mut usize) -> Option<&'a mut Vec<(String, G)>> {
    match g {
        G::Obj(m) => {
            if *k == 0 {
                return Some(m);
            }
            *k -= 1;
            for (_, v) in m.iter_mut() {
                if let Some(x) = nth_object(v, k) {
                    return Some(x);
                }
            }
            None
        }
        G::Arr(a) => {
            for v in a.iter_mut() {
                if let Some(x) = nth_object(v, k) {
                    return Some(x);
                }
            }
            None
        }
        _ => None,
    }
}

/// A random object of `g`, to mutate.
fn some_object<'a>(r: &mut Rng, g: &'a mut G) -> Option<&'a mut Vec<(String, G)>> {
    let n = count_objects(g);
    if n == 0 {
        return None;
    }
    let mut k = r.below(n);
    nth_object(g, &mut k)
}

/// A name spelled with an escape: `"id"` as `"i\u0064"`, say.
fn escape_name(r: &mut Rng, quoted: &str) -> String {
    let inner = &quoted[1..quoted.len() - 1];
    let chars: Vec<char> = inner.chars().collect();
    if chars.is_empty() || inner.contains('\\') {
        return quoted.to_string();
    }
    let at = r.below(chars.len());
    let mut out = String::from("\"");
    for (j, c) in chars.iter().enumerate() {
        if j == at {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&if r.one_in(2) {
                    format!("\\u{u:04x}")
                } else {
                    format!("\\u{u:04X}")
                });
            }
        } else {
            out.push(*c);
        }
    }
    out.push('"');
    out
}

/// A structural mutation of the tree.
fn mutate_tree(r: &mut Rng, g: &mut G) {
    match r.below(7) {
        // A duplicate name in some object, spelled the same or escaped.
        0 | 1 => {
            if let Some(m) = some_object(r, g)
                && !m.is_empty()
            {
                let (k, _) = m[r.below(m.len())].clone();
                let k2 = if r.one_in(2) { escape_name(r, &k) } else { k };
                let v = gen_value(r, 3);
                let at = r.below(m.len() + 1);
                m.insert(at, (k2, v));
            }
        }
        // An escaped name (no duplicate).
        2 => {
            if let Some(m) = some_object(r, g)
                && !m.is_empty()
            {
                let j = r.below(m.len());
                m[j].0 = escape_name(r, &m[j].0);
            }
        }
        // A number in another form, somewhere.
        3 => {
            fn nums<'a>(g: &'a mut G, out: &mut Vec<&'a mut String>) {
                match g {
                    G::Num(t) => out.push(t),
                    G::Arr(a) => a.iter_mut().for_each(|v| nums(v, out)),
                    G::Obj(m) => m.iter_mut().for_each(|(_, v)| nums(v, out)),
                    _ => {}
                }
            }
            let form = r.pick(NUMBERS).to_string();
            let mut all = Vec::new();
            nums(g, &mut all);
            if !all.is_empty() {
                let k = r.below(all.len());
                *all[k] = form;
            } else if let Some(m) = some_object(r, g) {
                m.push(("\"n\"".into(), n(r.pick(NUMBERS))));
            }
        }
        // Nesting at and about the depth bound (64).
        4 => {
            if let Some(m) = some_object(r, g) {
                let levels = 58 + r.below(10);
                let mut v = G::Lit("1");
                for j in 0..levels {
                    v = if j % 3 == 0 {
                        G::Obj(vec![("\"d\"".into(), v)])
                    } else {
                        G::Arr(vec![v])
                    };
                }
                m.push(("\"deep\"".into(), v));
            }
        }
        // A string with a lone surrogate or a pair.
        5 => {
            if let Some(m) = some_object(r, g) {
                let t = r.pick(&[
                    "\"\\ud800\"",
                    "\"x\\udfff\"",
                    "\"\\ud83d\\ude00\"",
                    "\"\\ud83d\\u0041\"",
                    "\"\\uDBFF\\uDFFF\"",
                ]);
                m.push(("\"s\"".into(), G::Str(t.into())));
            }
        }
        // The id in another form.
        _ => {
            if let G::Obj(m) = g {
                let id = n(r.pick(NUMBERS));
                match m.iter_mut().find(|(k, _)| k == "\"id\"") {
                    Some((_, v)) => *v = id,
                    None => m.push(("\"id\"".into(), id)),
                }
            }
        }
    }
}

/// JSON whitespace, and now and then what only looks like it.
fn ws(r: &mut Rng, out: &mut Vec<u8>, odd: bool) {
    if r.one_in(6) {
        out.extend_from_slice(r.pick(&[&b" "[..], b"\t", b"\r", b" \t\r "]));
    }
    if odd && r.one_in(40) {
        out.extend_from_slice(r.pick(&[
            &b"\x0b"[..],
            b"\x0c",
            "\u{a0}".as_bytes(),
            "\u{2028}".as_bytes(),
            b"\x00",
        ]));
    }
}

fn write(r: &mut Rng, g: &G, out: &mut Vec<u8>, odd: bool) {
    match g {
        G::Lit(t) => out.extend_from_slice(t.as_bytes()),
        G::Num(t) | G::Str(t) => out.extend_from_slice(t.as_bytes()),
        G::Arr(a) => {
            out.push(b'[');
            for (j, v) in a.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                ws(r, out, odd);
                write(r, v, out, odd);
                ws(r, out, odd);
            }
            out.push(b']');
        }
        G::Obj(m) => {
            out.push(b'{');
            for (j, (k, v)) in m.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                ws(r, out, odd);
                out.extend_from_slice(k.as_bytes());
                ws(r, out, odd);
                out.push(b':');
                ws(r, out, odd);
                write(r, v, out, odd);
                ws(r, out, odd);
            }
            out.push(b'}');
        }
    }
}

/// Bytes a byte-level mutation puts in.
const MUTANTS: &[u8] = &[
    b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'0', b'1', b'-', b'+', b'.', b'e', b'E',
    b't', b'n', b'u', b'a', b' ', b'\t', b'\r', 0x00, 0x08, 0x1f, 0x7f, 0x80, 0xbf, 0xc0, 0xc3,
    0xe2, 0xed, 0xf0, 0xf4, 0xf5, 0xff,
];

fn mutate_bytes(r: &mut Rng, m: &mut Vec<u8>) {
    for _ in 0..1 + r.below(2) {
        let at = r.below(m.len() + 1);
        match r.below(9) {
            0 if at < m.len() => m[at] = r.pick(MUTANTS),
            1 if at < m.len() => m[at] ^= 1 << r.below(8),
            2 => m.insert(at, r.pick(MUTANTS)),
            3 if at < m.len() => {
                m.remove(at);
            }
            4 => m.truncate(at),
            // Invalid UTF-8 sequences: overlong, surrogate, truncated, > U+10FFFF.
            5 => {
                let bad: &[u8] = r.pick(&[
                    &b"\xc0\xaf"[..],
                    b"\xed\xa0\x80",
                    b"\xe2\x82",
                    b"\xf4\x90\x80\x80",
                    b"\xff",
                    b"\x80",
                ]);
                m.splice(at..at, bad.iter().copied());
            }
            6 => {
                let bom: &[u8] = "\u{feff}".as_bytes();
                m.splice(0..0, bom.iter().copied());
            }
            7 => m.extend_from_slice(r.pick(&[
                &b" x"[..],
                b"}",
                b",",
                b"{}",
                b" ",
                b"\r",
                b"\x00",
                b" //",
            ])),
            _ => {
                let from = r.below(m.len() + 1);
                let piece = m[from.min(at)..from.max(at)].to_vec();
                m.splice(at..at, piece);
            }
        }
    }
}

/// The corpus: `count` lines, none holding a newline or blank.
fn corpus(seed: u64, count: usize) -> Vec<Vec<u8>> {
    let mut r = Rng(seed);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let mut g = gen_message(&mut r);
        let kind = r.below(10);
        if kind >= 4 {
            for _ in 0..1 + r.below(2) {
                mutate_tree(&mut r, &mut g);
            }
        }
        let mut line = Vec::new();
        write(&mut r, &g, &mut line, kind == 3);
        if kind >= 8 {
            mutate_bytes(&mut r, &mut line);
        }
        if line.contains(&b'\n') || line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            continue;
        }
        out.push(line);
    }
    out
}

// ---- the test ---------------------------------------------------------------

/// A reader that hands out the input in reads of varying sizes.
struct Uneven<'a> {
    data: &'a [u8],
    r: Rng,
}
impl Read for Uneven<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = [1, 7, 100, 4096, 65536][self.r.below(5)];
        let k = self.data.len().min(want).min(buf.len());
        buf[..k].copy_from_slice(&self.data[..k]);
        self.data = &self.data[k..];
        Ok(k)
    }
}

fn limits() -> Limits {
    Limits {
        max_message: 1 << 20,
        max_depth: 64,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Judged {
    Refused,
    Accepted,
}

/// The envelope's decode from the scan's spans and from serde alone agree.
fn envelope_ok(line: &[u8], sc: &Scanned) -> bool {
    let fast = Envelope::decode(line, sc).map(|e| (e.kind, e.id, e.method.map(|m| m.into_owned())));
    let slow = Envelope::decode(line, &Scanned::default())
        .map(|e| (e.kind, e.id, e.method.map(|m| m.into_owned())));
    assert_eq!(fast, slow, "envelope: {}", String::from_utf8_lossy(line));
    fast.is_ok()
}

#[test]
fn strict_decode_agrees_with_serde_node_and_python_on_100k_messages() {
    let started = std::time::Instant::now();
    let lines = corpus(0x16_d1ff_5eed, 100_000);
    let l = limits();

    // 1. The framer's one-pass check and the reference decode agree.
    let mut verdicts = Vec::with_capacity(lines.len());
    let mut accepted_json: Vec<(usize, Value)> = Vec::new();
    let (mut messages, mut dup_refused) = (0usize, 0usize);
    for (j, line) in lines.iter().enumerate() {
        let scan = scan_message(line, l);
        let want = reference(line, l.max_depth);
        match (&scan, &want) {
            (Ok(sc), Ok(v)) => {
                verdicts.push(Judged::Accepted);
                messages += usize::from(envelope_ok(line, sc));
                accepted_json.push((j, v.clone()));
            }
            (Err(f), Err(_)) => {
                verdicts.push(Judged::Refused);
                // (Which fault comes first may differ: serde stops at a
                // duplicate name, the framer at the object's end.)
                if let super::frame::Fault::Ambiguous { detail } = f
                    && detail.contains("twice")
                {
                    dup_refused += 1;
                }
            }
            _ => panic!(
                "the framer says {scan:?}, serde says {want:?}, on {:?}",
                String::from_utf8_lossy(line)
            ),
        }
    }

    // 2. The framer reading the corpus as a stream in uneven reads (the
    // incremental scan for lines that arrive in parts) says the same.
    let mut stream = lines.join(&b'\n');
    stream.push(b'\n');
    let mut reader = FrameReader::new(
        Uneven {
            data: &stream,
            r: Rng(7),
        },
        l,
    );
    let mut j = 0;
    while let Some(f) = reader.next_frame(&mut || Ok(())).unwrap() {
        let got = match f {
            Frame::Line(raw, _) => {
                assert_eq!(raw, &lines[j][..]);
                Judged::Accepted
            }
            Frame::Refused(_) => Judged::Refused,
        };
        assert_eq!(
            got,
            verdicts[j],
            "stream and line disagree on {:?}",
            String::from_utf8_lossy(&lines[j])
        );
        j += 1;
    }
    assert_eq!(j, lines.len());

    // 3. What the framer accepts means the same to Node and Python.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accepted.jsonl");
    let text: Vec<&[u8]> = accepted_json.iter().map(|(j, _)| &lines[*j][..]).collect();
    std::fs::write(&file, text.join(&b'\n')).unwrap();
    let n = accepted_json.len();
    let node = run_runtime("Node", "node", &["-e", NODE], &file, n);
    let python = run_runtime("Python", "python3", &["-c", PYTHON], &file, n);
    for (k, (j, v)) in accepted_json.iter().enumerate() {
        let want = sorted(&tag(v));
        let line = String::from_utf8_lossy(&lines[*j]);
        for (who, got) in [("Node", &node[k]), ("Python", &python[k])] {
            match got {
                Ok(c) => assert_eq!(c, &want, "{who} reads another value from {line:?}"),
                Err(e) => panic!("{who} refuses what the guard accepts ({e}): {line:?}"),
            }
        }
    }

    let refused = lines.len() - n;
    assert!(lines.len() >= 100_000);
    assert!(
        n > 30_000 && refused > 30_000,
        "{n} accepted, {refused} refused"
    );
    assert!(
        messages > 10_000 && dup_refused > 5_000,
        "{messages} {dup_refused}"
    );
    println!(
        "differential: {} lines; {n} accepted as JSON ({messages} as JSON-RPC messages), \
         {refused} refused ({dup_refused} for a duplicate name); \
         framer = serde reference = stream, Node and Python agree on all {n}; {:.1?}",
        lines.len(),
        started.elapsed()
    );
}

/// Why the guard refuses what it refuses: the runtimes read these lines
/// differently (or one of them refuses them).
#[test]
fn the_runtimes_disagree_on_what_the_guard_refuses() {
    let lines: &[&[u8]] = &[
        b"9007199254740993",
        br#"{"a":1,"a":2}"#,
        br#"{"a":1,"\u0061":2}"#,
        br#""\ud800""#,
        b"1e999",
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("refused.jsonl");
    std::fs::write(&file, lines.join(&b'\n')).unwrap();
    let node = run_runtime("Node", "node", &["-e", NODE], &file, lines.len());
    let python = run_runtime("Python", "python3", &["-c", PYTHON], &file, lines.len());
    for (j, line) in lines.iter().enumerate() {
        assert!(scan_message(line, limits()).is_err());
        let serde = serde_json::from_slice::<Value>(line)
            .map(|v| sorted(&tag(&v)))
            .map_err(|e| e.to_string());
        let text = String::from_utf8_lossy(line);
        match j {
            // Node rounds, Python and serde do not.
            0 => {
                assert_ne!(node[j], python[j], "{text}");
                assert_eq!(python[j], serde, "{text}");
            }
            // Everyone keeps the last value, which the guard would not
            // have judged had it read the first.
            1 | 2 => assert_eq!(node[j], python[j], "{text}"),
            // serde refuses, Node and Python accept (a lone surrogate, an
            // infinity).
            _ => {
                assert!(
                    serde.is_err() && node[j].is_ok() && python[j].is_ok(),
                    "{text}"
                );
            }
        }
    }
}

#[test]
fn exact_decimal_expands_doubles() {
    assert_eq!(exact_decimal(0.0), "0");
    assert_eq!(exact_decimal(40.0), "40");
    assert_eq!(exact_decimal(2f64.powi(64)), "18446744073709551616");
    assert_eq!(exact_decimal(1e22), "10000000000000000000000");
    assert_eq!(exact_decimal(1e23), "99999999999999991611392");
    assert_eq!(exact_decimal(0.5), "x");
}

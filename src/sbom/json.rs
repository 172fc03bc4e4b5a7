//! JSON SBOMs checked against their official schema piece by piece.
//!
//! Building one `serde_json::Value` tree of a whole document costs 15 to 25
//! times its size (measured on the 100,000-component benchmark SBOM), and
//! the schema needs a tree. So the document is split: its top-level
//! members are read as borrowed raw text, the large arrays (`components`,
//! `packages`, ...) are held back, and what is left (the "shell") is
//! checked against the whole schema with those arrays empty. Each held-back
//! item is then parsed alone, checked against the schema of that array's
//! items, handed to the format's model and dropped, on as many threads as
//! the document is worth. `uniqueItems` is checked across the items by a
//! structural hash, with equal hashes compared in full.
//!
//! Only arrays whose schema says nothing but `type`, `items`,
//! `uniqueItems` and annotations are split, so the pieces together judge
//! exactly what the whole schema would.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{MAX_SCHEMA_ERRORS, SbomError, clip};

/// Items below this many bytes of JSON (in all) are checked on one thread:
/// starting another costs more than it saves.
const PARALLEL_FROM_BYTES: usize = 256 << 10;
/// At most this many threads check a document's items.
const MAX_THREADS: usize = 8;
/// Items are handed to threads in blocks, so that a thread that starts
/// late (half a millisecond is common on small VMs) takes fewer blocks
/// instead of holding the others up: at least this many items a block...
const MIN_BLOCK: usize = 64;
/// ...and at most about this many blocks an array (each block's state
/// costs a little memory until the blocks are merged).
const BLOCKS_PER_ARRAY: usize = 32;

/// Keywords an array's schema may carry for the array to be split.
/// (`additionalItems` means nothing beside a single `items` schema; `$id`
/// is a plain-name anchor there.)
const SPLITTABLE_KEYWORDS: [&str; 9] = [
    "type",
    "items",
    "additionalItems",
    "$id",
    "uniqueItems",
    "title",
    "description",
    "$comment",
    "deprecated",
];

/// A document's top-level members in order. Arrays are read as their
/// items' raw JSON text (each item only scanned, without recursion, not
/// built); other values are built. A repeated key keeps its last value, as
/// `serde_json::Value` does.
pub(crate) struct Members<'a>(Vec<(String, Member<'a>)>);

pub(crate) enum Member<'a> {
    Array(Vec<&'a RawValue>),
    Value(Value),
}

impl<'a> Members<'a> {
    /// Reads the top level of a JSON object in one pass.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, SbomError> {
        serde_json::from_slice(bytes).map_err(|e| SbomError::Json(e.to_string()))
    }

    fn get(&self, key: &str) -> Option<&Member<'a>> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// A member that must be a string (a version): `Ok(None)` when it is
    /// missing, `Err` with what was found instead.
    pub fn string(&self, key: &str) -> Result<Option<&str>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Member::Value(Value::String(s))) => Ok(Some(s)),
            Some(Member::Value(other)) => Err(clip(other.to_string())),
            Some(Member::Array(items)) => Err(format!("an array of {} items", items.len())),
        }
    }

    /// A member's JSON text, for a look at what it names.
    pub fn text(&self, key: &str) -> String {
        match self.get(key) {
            None => String::new(),
            Some(Member::Value(v)) => v.to_string(),
            Some(Member::Array(items)) => {
                items.iter().map(|r| r.get()).collect::<Vec<_>>().join(",")
            }
        }
    }

    /// The items of an array member that deserialize as `T`; others are
    /// skipped.
    pub fn items<T: Deserialize<'a>>(&self, key: &str) -> Vec<T> {
        match self.get(key) {
            Some(Member::Array(items)) => items
                .iter()
                .filter_map(|r| serde_json::from_str(r.get()).ok())
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members: Vec<(String, Member<'de>)> = Vec::new();
                let mut seen: HashMap<String, usize> = HashMap::new();
                while let Some((k, v)) = map.next_entry::<String, Member<'de>>()? {
                    match seen.get(&k) {
                        Some(&i) => members[i].1 = v,
                        None => {
                            seen.insert(k.clone(), members.len());
                            members.push((k, v));
                        }
                    }
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Member<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Member<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<&'de RawValue>()? {
                    items.push(item);
                }
                Ok(Member::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(MapAccessDeserializer::new(map)).map(Member::Value)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Member::Value(Value::String(v.to_string())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Member::Value(Value::String(v)))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Member::Value(Value::Bool(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Member::Value(Value::from(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Member::Value(Value::from(v)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Member::Value(Value::from(v)))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(Member::Value(Value::Null))
            }
        }
        d.deserialize_any(V)
    }
}

/// A format version's schema, compiled on first use: the whole schema for
/// the shell, and one validator per split array, for its items.
pub(crate) struct Schema {
    /// For messages: `CycloneDX 1.6`.
    pub name: &'static str,
    text: &'static str,
    /// The other schemas its `$ref`s reach, by the URI they resolve to.
    resources: &'static [(&'static str, &'static str)],
    compiled: OnceLock<Result<Compiled, String>>,
}

struct Compiled {
    whole: jsonschema::Validator,
    /// `$id` and `$schema` of the root, for the item schemas' references.
    id: String,
    draft: Value,
    arrays: HashMap<String, ArrayRule>,
}

struct ArrayRule {
    unique: bool,
    items: OnceLock<Result<jsonschema::Validator, String>>,
}

impl Schema {
    pub const fn new(
        name: &'static str,
        text: &'static str,
        resources: &'static [(&'static str, &'static str)],
    ) -> Self {
        Schema {
            name,
            text,
            resources,
            compiled: OnceLock::new(),
        }
    }

    fn compiled(&self) -> Result<&Compiled, SbomError> {
        self.compiled
            .get_or_init(|| self.compile())
            .as_ref()
            .map_err(|e| self.broken(e))
    }

    fn broken(&self, e: &str) -> SbomError {
        SbomError::Internal(format!("the {} schema does not compile: {e}", self.name))
    }

    fn compile(&self) -> Result<Compiled, String> {
        let root: Value = serde_json::from_str(self.text).map_err(|e| e.to_string())?;
        let whole = build(&root, self.resources, None)?;
        let id = root
            .get("$id")
            .and_then(Value::as_str)
            .ok_or("the schema has no $id")?
            .to_string();
        let draft = root.get("$schema").cloned().unwrap_or(Value::Null);
        let mut arrays = HashMap::new();
        if let Some(props) = root.get("properties").and_then(Value::as_object) {
            for (key, rule) in props {
                let Some(rule) = rule.as_object() else {
                    continue;
                };
                let splittable = rule.get("type").and_then(Value::as_str) == Some("array")
                    && rule.get("items").is_some_and(Value::is_object)
                    && rule
                        .keys()
                        .all(|k| SPLITTABLE_KEYWORDS.contains(&k.as_str()));
                if splittable {
                    let unique = rule.get("uniqueItems") == Some(&Value::Bool(true));
                    arrays.insert(
                        key.clone(),
                        ArrayRule {
                            unique,
                            items: OnceLock::new(),
                        },
                    );
                }
            }
        }
        Ok(Compiled {
            whole,
            id,
            draft,
            arrays,
        })
    }

    /// Compiles every piece; how many there are.
    #[cfg(test)]
    pub fn compile_all(&self) -> Result<usize, SbomError> {
        let keys: Vec<String> = self.compiled()?.arrays.keys().cloned().collect();
        for k in &keys {
            self.items(k)?;
        }
        Ok(keys.len() + 1)
    }

    /// The validator for the items of top-level array `key`, if it is split.
    fn items(&self, key: &str) -> Result<Option<(&jsonschema::Validator, bool)>, SbomError> {
        let c = self.compiled()?;
        let Some(rule) = c.arrays.get(key) else {
            return Ok(None);
        };
        let validator = rule
            .items
            .get_or_init(|| {
                let pointer = key.replace('~', "~0").replace('/', "~1");
                let mut wrapper = Map::new();
                if !c.draft.is_null() {
                    wrapper.insert("$schema".into(), c.draft.clone());
                }
                wrapper.insert(
                    "$ref".into(),
                    Value::String(format!("{}#/properties/{pointer}/items", c.id)),
                );
                let root: Value = serde_json::from_str(self.text).map_err(|e| e.to_string())?;
                build(&Value::Object(wrapper), self.resources, Some((&c.id, root)))
            })
            .as_ref()
            .map_err(|e| self.broken(e))?;
        Ok(Some((validator, rule.unique)))
    }
}

/// Builds a validator for `schema`; `resources` (and `root`, under its
/// `$id`) are what its `$ref`s reach. Offline: any other reference fails
/// the build instead of being fetched.
fn build(
    schema: &Value,
    resources: &[(&str, &str)],
    root: Option<(&str, Value)>,
) -> Result<jsonschema::Validator, String> {
    let mut registry = jsonschema::Registry::new();
    for (uri, text) in resources {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("{uri}: {e}"))?;
        registry = registry
            .add(*uri, value)
            .map_err(|e| format!("{uri}: {e}"))?;
    }
    if let Some((uri, value)) = root {
        registry = registry
            .add(uri, value)
            .map_err(|e| format!("{uri}: {e}"))?;
    }
    let registry = registry.prepare().map_err(|e| e.to_string())?;
    jsonschema::options()
        .with_registry(&registry)
        .should_validate_formats(true)
        .with_format("iri-reference", lenient_reference)
        .offline()
        .build(schema)
        .map_err(|e| e.to_string())
}

/// CycloneDX types external reference URLs as `iri-reference`, but the
/// generators write scp-style git locations there (npm 11's `npm sbom`:
/// `git@github.com:owner/repo.git`), which are not IRI references. They
/// are only locators, never read by the policy, so any text without
/// spaces or control characters passes; every other format is checked.
fn lenient_reference(s: &str) -> bool {
    !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A document split for checking: the shell (every top-level member, split
/// arrays left empty) and the split arrays' raw items.
pub(crate) struct Split<'a> {
    pub shell: Map<String, Value>,
    arrays: Vec<(String, Vec<&'a RawValue>)>,
}

/// A checked document: the shell, and per wanted array the states of the
/// threads that read it, in document order.
pub(crate) type Checked<S> = (Map<String, Value>, Vec<Vec<S>>);

/// What a thread made of one block of an array's items.
struct Share<S> {
    state: S,
    errors: Vec<String>,
    /// An item that is not JSON the model can hold (nested too deep).
    malformed: Option<String>,
    /// (structural hash, index) of each item, for `uniqueItems`.
    hashes: Vec<(u64, usize)>,
}

impl<'a> Split<'a> {
    /// Builds the shell of `members` for `schema`.
    pub fn new(members: Members<'a>, schema: &Schema) -> Result<Self, SbomError> {
        let compiled = schema.compiled()?;
        let mut shell = Map::new();
        let mut arrays = Vec::new();
        let parse = |raw: &RawValue| -> Result<Value, SbomError> {
            serde_json::from_str(raw.get()).map_err(|e| SbomError::Json(e.to_string()))
        };
        for (key, member) in members.0 {
            match member {
                Member::Array(items) if compiled.arrays.contains_key(&key) => {
                    shell.insert(key.clone(), Value::Array(Vec::new()));
                    arrays.push((key, items));
                }
                Member::Array(items) => {
                    let values = items.into_iter().map(parse).collect::<Result<_, _>>()?;
                    shell.insert(key, Value::Array(values));
                }
                Member::Value(v) => {
                    shell.insert(key, v);
                }
            }
        }
        Ok(Split { shell, arrays })
    }

    /// How many items the split array `key` holds.
    pub fn len(&self, key: &str) -> usize {
        self.arrays
            .iter()
            .find(|(k, _)| k == key)
            .map_or(0, |(_, items)| items.len())
    }

    /// Checks the shell and every split array against `schema`. The items
    /// of the arrays named in `wanted` are handed to `each` (with the
    /// thread's state, made by `init`), the others are checked and
    /// dropped; `init` gets the number of items a thread takes. Returns,
    /// per wanted array in `wanted`'s order, the states in document order;
    /// or the first schema errors.
    pub fn check<S, I, E>(
        self,
        schema: &Schema,
        wanted: &[&str],
        init: I,
        each: E,
    ) -> Result<Checked<S>, SbomError>
    where
        S: Send,
        I: Fn(usize) -> S + Sync,
        E: Fn(&str, &mut S, Value) -> Result<(), String> + Sync,
    {
        let compiled = schema.compiled()?;
        let shell = Value::Object(self.shell);
        let mut works = Vec::new();
        for (key, items) in &self.arrays {
            let Some((validator, unique)) = schema.items(key)? else {
                continue;
            };
            works.push(Work {
                key,
                items,
                validator,
                unique,
                slot: wanted.iter().position(|w| *w == key.as_str()),
            });
        }
        let each = |key: &str, state: &mut S, v: Value| each(key, state, v);
        let run = Run::new(&works, &init, &each);
        // The shell is checked while the other threads start on the items.
        let (mut errors, blocks) = run.go(|| {
            if compiled.whole.is_valid(&shell) {
                return Vec::new();
            }
            let mut errors: Vec<String> = compiled
                .whole
                .iter_errors(&shell)
                .take(MAX_SCHEMA_ERRORS)
                .map(|e| describe("", &e))
                .collect();
            if errors.is_empty() {
                // is_valid and the error listing disagree only through a
                // bug upstream; refuse all the same.
                errors.push("/: the document fails its schema".to_string());
            }
            errors
        })?;
        let mut out: Vec<Vec<S>> = wanted.iter().map(|_| Vec::new()).collect();
        // Blocks are merged in document order, and only up to the point
        // where enough errors are known: every block before it has been
        // checked, whatever the threads' timing, so the result is the same
        // on every run.
        let mut blocks = blocks.into_iter().peekable();
        for (w, work) in works.iter().enumerate() {
            if errors.len() >= MAX_SCHEMA_ERRORS {
                break;
            }
            let mut hashes = Vec::new();
            let mut states = Vec::new();
            while let Some((_, _, share)) = blocks.next_if(|b| b.0 == w) {
                if let Some(e) = share.malformed {
                    return Err(SbomError::Json(e));
                }
                errors.extend(share.errors);
                if errors.len() >= MAX_SCHEMA_ERRORS {
                    break;
                }
                hashes.extend(share.hashes);
                states.push(share.state);
            }
            if errors.len() >= MAX_SCHEMA_ERRORS {
                break;
            }
            if work.unique {
                errors.extend(duplicates(work.key, work.items, hashes)?);
            }
            if let Some(i) = work.slot {
                out[i] = states;
            }
        }
        let mut shell = match shell {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        if errors.is_empty() {
            // A wanted array the schema kept whole: its items, already
            // checked with the shell, go to the model here.
            for (slot, key) in wanted.iter().enumerate() {
                if self.arrays.iter().any(|(k, _)| k == key) {
                    continue;
                }
                if let Some(Value::Array(items)) = shell.remove(*key) {
                    let mut state = init(items.len());
                    for (i, item) in items.into_iter().enumerate() {
                        if let Err(e) = each(key, &mut state, item) {
                            errors.push(clip(format!("/{key}/{i}: {e}")));
                        }
                    }
                    out[slot] = vec![state];
                }
            }
        }
        if errors.is_empty() {
            Ok((shell, out))
        } else {
            errors.truncate(MAX_SCHEMA_ERRORS);
            Err(SbomError::Schema { errors })
        }
    }
}

/// The hasher of [`structural_hash`]: fast, and fixed, so that a run is
/// repeatable (nothing here is keyed by attacker-chosen input in a table
/// whose collisions would cost: equal hashes are only compared).
fn hasher() -> foldhash::fast::FoldHasher<'static> {
    foldhash::fast::FixedState::with_seed(0x6d63_702d_7761_7264).build_hasher()
}

fn block_size(items: usize) -> usize {
    items.div_ceil(BLOCKS_PER_ARRAY).max(MIN_BLOCK)
}

/// One split array to check: its items and its item schema.
struct Work<'w> {
    key: &'w str,
    items: &'w [&'w RawValue],
    validator: &'w jsonschema::Validator,
    unique: bool,
    /// Where in `wanted` the array is, when its items go to the model.
    slot: Option<usize>,
}

/// (array, first item, what the block made of it).
type Block<S> = (usize, usize, Share<S>);

/// The items of every split array, handed out in blocks to the threads.
struct Run<'r, S> {
    works: &'r [Work<'r>],
    /// (array, first item) of each block, in document order.
    blocks: Vec<(usize, usize)>,
    next: AtomicUsize,
    /// Errors found so far (a malformed item counts as all of them): once
    /// there are enough, no thread takes another block.
    errors: AtomicUsize,
    init: &'r (dyn Fn(usize) -> S + Sync),
    each: &'r (dyn Fn(&str, &mut S, Value) -> Result<(), String> + Sync),
}

impl<'r, S: Send> Run<'r, S> {
    fn new(
        works: &'r [Work<'r>],
        init: &'r (dyn Fn(usize) -> S + Sync),
        each: &'r (dyn Fn(&str, &mut S, Value) -> Result<(), String> + Sync),
    ) -> Self {
        let blocks = works
            .iter()
            .enumerate()
            .flat_map(|(w, work)| {
                let n = work.items.len();
                (0..n).step_by(block_size(n)).map(move |i| (w, i))
            })
            .collect();
        Run {
            works,
            blocks,
            next: AtomicUsize::new(0),
            errors: AtomicUsize::new(0),
            init,
            each,
        }
    }

    /// Runs `first` on this thread, then checks every block on as many
    /// threads as the items are worth. Returns what `first` returned and
    /// the blocks in document order (those taken before enough errors were
    /// known).
    fn go(
        &self,
        first: impl FnOnce() -> Vec<String>,
    ) -> Result<(Vec<String>, Vec<Block<S>>), SbomError> {
        let bytes: usize = self
            .works
            .iter()
            .flat_map(|w| w.items.iter())
            .map(|r| r.get().len())
            .sum();
        let threads = if bytes < PARALLEL_FROM_BYTES {
            1
        } else {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(MAX_THREADS)
                .min(self.blocks.len())
        };
        let (first, mut blocks) = std::thread::scope(|scope| {
            let handles: Vec<_> = (1..threads).map(|_| scope.spawn(|| self.work())).collect();
            let first = first();
            self.errors.fetch_add(first.len(), Ordering::Relaxed);
            let mut blocks = self.work();
            let mut failed = false;
            for h in handles {
                match h.join() {
                    Ok(b) => blocks.extend(b),
                    Err(_) => failed = true,
                }
            }
            (first, (!failed).then_some(blocks))
        });
        let Some(blocks) = blocks.as_mut() else {
            return Err(SbomError::Json(
                "internal error: a checking thread failed".to_string(),
            ));
        };
        blocks.sort_unstable_by_key(|b| (b.0, b.1));
        Ok((first, std::mem::take(blocks)))
    }

    /// Takes blocks until none is left or enough errors are known.
    fn work(&self) -> Vec<Block<S>> {
        let mut done = Vec::new();
        while self.errors.load(Ordering::Relaxed) < MAX_SCHEMA_ERRORS {
            let b = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(&(w, first)) = self.blocks.get(b) else {
                break;
            };
            let work = &self.works[w];
            let end = (first + block_size(work.items.len())).min(work.items.len());
            let share = self.block(work, first, &work.items[first..end]);
            let found = if share.malformed.is_some() {
                MAX_SCHEMA_ERRORS
            } else {
                share.errors.len()
            };
            self.errors.fetch_add(found, Ordering::Relaxed);
            done.push((w, first, share));
        }
        done
    }

    fn block(&self, work: &Work, base: usize, items: &[&RawValue]) -> Share<S> {
        let mut share = Share {
            state: (self.init)(items.len()),
            errors: Vec::new(),
            malformed: None,
            hashes: Vec::with_capacity(if work.unique { items.len() } else { 0 }),
        };
        for (n, raw) in items.iter().enumerate() {
            let i = base + n;
            // serde_json's recursion limit (128) holds here: the raw scan
            // that found the item had none.
            let value: Value = match serde_json::from_str(raw.get()) {
                Ok(v) => v,
                Err(e) => {
                    share.malformed = Some(format!("/{}/{i}: {e}", work.key));
                    break;
                }
            };
            if !work.validator.is_valid(&value) {
                let at = format!("/{}/{i}", work.key);
                let room = MAX_SCHEMA_ERRORS.saturating_sub(share.errors.len());
                let before = share.errors.len();
                share.errors.extend(
                    work.validator
                        .iter_errors(&value)
                        .take(room)
                        .map(|e| describe(&at, &e)),
                );
                if share.errors.len() == before {
                    share.errors.push(format!("{at}: fails its schema"));
                }
                if share.errors.len() >= MAX_SCHEMA_ERRORS {
                    break;
                }
                continue;
            }
            if work.unique {
                let mut h = hasher();
                structural_hash(&value, &mut h);
                share.hashes.push((h.finish(), i));
            }
            if work.slot.is_some()
                && let Err(e) = (self.each)(work.key, &mut share.state, value)
            {
                share.errors.push(clip(format!("/{}/{i}: {e}", work.key)));
                if share.errors.len() >= MAX_SCHEMA_ERRORS {
                    break;
                }
            }
        }
        share
    }
}

/// `uniqueItems`: items whose structural hashes are equal are parsed again
/// and compared in full.
fn duplicates(
    key: &str,
    items: &[&RawValue],
    mut hashes: Vec<(u64, usize)>,
) -> Result<Vec<String>, SbomError> {
    hashes.sort_unstable();
    let mut errors = Vec::new();
    for group in hashes.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
        let values = group
            .iter()
            .map(|&(_, i)| {
                serde_json::from_str::<Value>(items[i].get())
                    .map(|v| (i, v))
                    .map_err(|e| SbomError::Json(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (n, (j, b)) in values.iter().enumerate().skip(1) {
            if let Some((i, _)) = values[..n].iter().find(|(_, a)| json_eq(a, b)) {
                errors.push(format!(
                    "/{key}/{j}: the same as /{key}/{i}, but the schema requires unique items"
                ));
                if errors.len() >= MAX_SCHEMA_ERRORS {
                    return Ok(errors);
                }
            }
        }
    }
    Ok(errors)
}

/// A hash under which values JSON Schema calls equal hash alike: object
/// members in any order, `1` and `1.0`.
fn structural_hash(v: &Value, h: &mut impl Hasher) {
    match v {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => (1u8, b).hash(h),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            // -0.0 == 0.0
            let f = if f == 0.0 { 0.0 } else { f };
            (2u8, f.to_bits()).hash(h)
        }
        Value::String(s) => (3u8, s).hash(h),
        Value::Array(a) => {
            (4u8, a.len()).hash(h);
            for x in a {
                structural_hash(x, h);
            }
        }
        Value::Object(m) => {
            let mut sum = 0u64;
            for (k, x) in m {
                let mut member = hasher();
                k.hash(&mut member);
                structural_hash(x, &mut member);
                sum = sum.wrapping_add(member.finish());
            }
            (5u8, m.len(), sum).hash(h)
        }
    }
}

/// JSON Schema's equality: numbers by value, object members in any order.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(p), Some(q)) = (x.as_i64(), y.as_i64()) {
                p == q
            } else if let (Some(p), Some(q)) = (x.as_u64(), y.as_u64()) {
                p == q
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, p)| y.get(k).is_some_and(|q| json_eq(p, q)))
        }
        _ => a == b,
    }
}

/// A schema error led by the JSON pointer of the offending value (under
/// `prefix`), the value itself masked: it can be huge.
fn describe(prefix: &str, e: &jsonschema::ValidationError) -> String {
    let at = format!("{prefix}{}", e.instance_path().as_str());
    let at = if at.is_empty() { "/" } else { at.as_str() };
    clip(format!("{at}: {}", e.masked()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hash(v: &Value) -> u64 {
        let mut h = hasher();
        structural_hash(v, &mut h);
        h.finish()
    }

    #[test]
    fn equal_values_hash_alike() {
        let a = json!({"a": 1, "b": [1.0, "x", null, {"c": true}]});
        let b = json!({"b": [1, "x", null, {"c": true}], "a": 1.0});
        assert!(json_eq(&a, &b));
        assert_eq!(hash(&a), hash(&b));
        let c = json!({"a": 1, "b": [1.0, "x", null, {"c": false}]});
        assert!(!json_eq(&a, &c));
        assert_ne!(hash(&a), hash(&c));
        assert!(!json_eq(&json!([1, 2]), &json!([2, 1])));
        assert!(!json_eq(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
    }

    #[test]
    fn members_keep_the_last_of_a_repeated_key() {
        let m = Members::parse(br#"{"a": 1, "b": [2, {"y": 1}], "a": {"x": 3}}"#).unwrap();
        assert_eq!(m.0.len(), 2);
        assert_eq!(m.text("a"), r#"{"x":3}"#);
        assert_eq!(m.text("b"), r#"2,{"y": 1}"#);
        assert_eq!(m.string("a"), Err(r#"{"x":3}"#.to_string()));
        assert_eq!(m.string("b"), Err("an array of 2 items".to_string()));
        assert_eq!(m.string("c"), Ok(None));
        assert!(Members::parse(b"[1]").is_err());
        assert!(Members::parse(br#"{"a": 1"#).is_err());
    }
}

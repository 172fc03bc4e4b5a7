//! List pinning and filtering: the first list of each kind becomes the
//! pins (or must match the policy's pinned digest), changed and new
//! items are hidden and recorded as pending, the guard's own re-list
//! after a `list_changed`, and the list requests that were cancelled or
//! answered (a late answer to one is dropped, never passed unfiltered).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value, json};

use super::{Era, GuardSession, shown};
use crate::launch::guard::envelope::{Envelope, Id};
use crate::launch::guard::pins::{self, Kind};
use crate::launch::guard::{Outbox, Verdict};

/// Pages the guard fetches itself in one re-check.
pub(super) const MAX_GUARD_PAGES: u32 = 100;
/// Items gathered across pages while a policy pin is checked.
const MAX_CANDIDATES: usize = pins::MAX_ITEMS;
/// List requests remembered after they were cancelled or answered.
const MAX_STALE_LISTS: usize = 256;

/// The guard's own re-list, sent to the server.
#[derive(Debug)]
pub(super) struct GuardList {
    pub(super) kind: Kind,
    pub(super) pages: u32,
}

#[derive(Debug, Default)]
pub(super) struct ListState {
    /// The store had no pins of this kind when the current listing began:
    /// its items become the pins.
    pub(super) initial: bool,
    /// Listed in this session and equal to the pin: usable.
    pub(super) ok: HashSet<String>,
    /// Hidden from the client, with the definition the server gave.
    pub(super) hidden: HashMap<String, Value>,
    /// A policy pin is being checked across pages: the items so far.
    pub(super) candidates: BTreeMap<String, Value>,
    /// The guard's own re-check is under way.
    pub(super) rechecking: bool,
    /// The server's `list_changed`, forwarded once the re-check is done.
    pub(super) held_notice: Option<Vec<u8>>,
}

pub(super) fn kind_index(k: Kind) -> usize {
    match k {
        Kind::Tools => 0,
        Kind::Prompts => 1,
        Kind::Resources => 2,
    }
}

impl GuardSession {
    pub(super) fn note_stale_list(&mut self, id: &Id) {
        if self.stale_lists.len() >= MAX_STALE_LISTS {
            self.stale_lists.pop_front();
        }
        self.stale_lists.push_back(id.clone());
    }

    pub(super) fn guard_list_answer(
        &mut self,
        kind: Kind,
        pages: u32,
        env: &Envelope,
        out: &mut Outbox,
    ) {
        let idx = kind_index(kind);
        let result = env
            .result
            .and_then(|r| serde_json::from_str::<Value>(r.get()).ok());
        let mut more = None;
        if let Some(mut result) = result {
            self.list_page(kind, &mut result, pages == 0, false, out);
            more = result.get("nextCursor").filter(|c| !c.is_null()).cloned();
        } else {
            out.notes.push(format!(
                "the server did not answer the guard's {}; its {} stay as they were",
                kind.method(),
                kind.key()
            ));
        }
        if let Some(cursor) = more
            && pages + 1 < MAX_GUARD_PAGES
        {
            self.send_guard_list(kind, pages + 1, Some(cursor), out);
            return;
        }
        let st = &mut self.lists[idx];
        st.rechecking = false;
        if let Some(n) = st.held_notice.take() {
            out.to_client.push(n);
        }
    }

    pub(super) fn send_guard_list(
        &mut self,
        kind: Kind,
        pages: u32,
        cursor: Option<Value>,
        out: &mut Outbox,
    ) {
        let gid = Self::guard_id();
        let mut params = serde_json::Map::new();
        if let Some(c) = cursor {
            params.insert("cursor".into(), c);
        }
        if self.era == Era::Stateless
            && let Some(m) = &self.last_meta
        {
            // The protocol version and capabilities, not what belonged to
            // the client's own request (its progress token, say).
            let mut m = m.clone();
            if let Some(o) = m.as_object_mut() {
                o.retain(|k, _| k.starts_with("io.modelcontextprotocol/"));
            }
            params.insert("_meta".into(), m);
        }
        let body = json!({"jsonrpc":"2.0","method":kind.method(),"params":params}).to_string();
        let mut text = body;
        text.insert_str(1, &format!("\"id\":{gid},"));
        out.to_server.push(text.into_bytes());
        self.asking_server.insert(gid, GuardList { kind, pages });
        self.lists[kind_index(kind)].rechecking = true;
    }

    /// One page of a list result: pins (first list), hides changed and
    /// new items, records them as pending and reports them. Returns
    /// whether `result` was changed (items removed).
    pub(super) fn list_page(
        &mut self,
        kind: Kind,
        result: &mut Value,
        first_page: bool,
        for_client: bool,
        out: &mut Outbox,
    ) -> bool {
        let idx = kind_index(kind);
        let last_page = result.get("nextCursor").is_none_or(Value::is_null);
        let Some(items) = result.get_mut(kind.key()).and_then(Value::as_array_mut) else {
            return false;
        };
        if first_page {
            if let Err(e) = self.store.reload() {
                out.notes.push(format!(
                    "cannot read the pins of server {}: {e}; changed items stay hidden",
                    self.rules.server
                ));
            } else {
                self.schemas.clear();
            }
            let st = &mut self.lists[idx];
            st.ok.clear();
            st.candidates.clear();
            st.initial = self.store.pinned(kind).is_none();
        }
        let policy = if kind == Kind::Tools {
            self.rules.pinned.clone()
        } else {
            None
        };
        // A policy pin the store does not match yet: the list must match
        // it as a whole before anything of it is pinned.
        let gathering = policy.as_ref().is_some_and(|p| {
            self.store
                .pinned(kind)
                .is_none_or(|m| &pins::list_digest(m) != p)
        });
        let mut keep = Vec::with_capacity(items.len());
        let mut changed: Vec<String> = Vec::new();
        let mut new_pins: Vec<(String, Value)> = Vec::new();
        let mut new_pending: Vec<(String, Value)> = Vec::new();
        let st = &mut self.lists[idx];
        for item in items.iter() {
            let Some((name, def)) = pins::definition(kind, item) else {
                // Nothing to pin it by: it does not reach the client.
                keep.push(false);
                continue;
            };
            if gathering {
                if st.candidates.len() < MAX_CANDIDATES {
                    st.candidates.insert(name.clone(), def.clone());
                }
                keep.push(false);
                st.hidden.insert(name, def);
                continue;
            }
            match self.store.pin(kind, &name) {
                Some(p) if *p == def => {
                    st.hidden.remove(&name);
                    st.ok.insert(name);
                    keep.push(true);
                }
                None if st.initial => {
                    new_pins.push((name.clone(), def));
                    st.ok.insert(name);
                    keep.push(true);
                }
                _ => {
                    if st.hidden.get(&name) != Some(&def) {
                        changed.push(name.clone());
                    }
                    st.ok.remove(&name);
                    new_pending.push((name.clone(), def.clone()));
                    if st.hidden.len() < pins::MAX_ITEMS || st.hidden.contains_key(&name) {
                        st.hidden.insert(name, def);
                    }
                    keep.push(false);
                }
            }
        }
        let mut list_changed_to_client = false;
        if gathering && last_page {
            let candidates = std::mem::take(&mut st.candidates);
            let digest = pins::list_digest(&candidates);
            if Some(&digest) == policy.as_ref() {
                // The first list is the one the policy approved.
                if let Some(m) = self.store.file.pinned.get_mut(&kind) {
                    m.clear();
                }
                for (name, def) in &candidates {
                    st.hidden.remove(name);
                    st.ok.insert(name.clone());
                    new_pins.push((name.clone(), def.clone()));
                }
                if first_page {
                    keep.iter_mut().for_each(|k| *k = true);
                } else if for_client {
                    list_changed_to_client = true;
                }
            } else {
                for (name, def) in candidates {
                    changed.push(name.clone());
                    new_pending.push((name, def));
                }
                out.notes.push(format!(
                    "the tool list of server {} has digest {digest}, not the {} the policy pins",
                    self.rules.server,
                    policy.as_deref().unwrap_or("")
                ));
            }
        }
        if last_page {
            self.lists[idx].initial = false;
        }
        if !new_pins.is_empty() || !new_pending.is_empty() {
            self.persist(kind, new_pins, new_pending, out);
        }
        if !changed.is_empty() {
            changed.sort();
            let names: Vec<String> = changed.iter().take(20).map(|n| shown(n)).collect();
            let more = if changed.len() > 20 {
                format!(" and {} more", changed.len() - 20)
            } else {
                String::new()
            };
            out.notes.push(format!(
                "server {} changed or added {} {}{more}: hidden from the client until approved; review with `{}`",
                self.rules.server,
                kind.key(),
                names.join(", "),
                self.rules.approve_command()
            ));
            self.guard_event(kind.changed(), format!("{}{more}", names.join(", ")));
        }
        if list_changed_to_client {
            out.to_client.push(
                format!(
                    r#"{{"jsonrpc":"2.0","method":"notifications/{}/list_changed"}}"#,
                    kind.key()
                )
                .into_bytes(),
            );
        }
        if keep.iter().all(|k| *k) {
            return false;
        }
        let mut it = keep.into_iter();
        items.retain(|_| it.next().unwrap_or(false));
        true
    }

    /// Writes new pins and pending items on top of the file as it is now
    /// (`approve` may have written it since it was read).
    pub(super) fn persist(
        &mut self,
        kind: Kind,
        new_pins: Vec<(String, Value)>,
        new_pending: Vec<(String, Value)>,
        out: &mut Outbox,
    ) {
        let replace = kind == Kind::Tools
            && self.rules.pinned.is_some()
            && new_pins.len() == self.lists[0].ok.len()
            && !new_pins.is_empty();
        let _ = self.store.reload();
        if replace && let Some(m) = self.store.file.pinned.get_mut(&kind) {
            m.clear();
        }
        let mut dirty = false;
        for (n, d) in new_pins {
            dirty |= self.store.set_pin(kind, &n, d);
        }
        for (n, d) in &new_pending {
            if self.store.pin(kind, n) != Some(d) {
                dirty |= self.store.set_pending(kind, n, d);
            }
        }
        if dirty && let Err(e) = self.store.save() {
            out.notes.push(format!(
                "cannot record the pins of server {}: {e}",
                self.rules.server
            ));
        }
    }

    pub(super) fn server_notification(
        &mut self,
        method: &str,
        env: &Envelope,
        raw: &[u8],
        out: &mut Outbox,
    ) -> Verdict {
        if method == "notifications/cancelled" {
            // The client's answer to a cancelled request is not awaited.
            let id = env
                .params
                .and_then(|p| p.decode().ok())
                .and_then(|p| p.get("requestId").and_then(Id::from_value));
            if let Some(id) = id {
                self.server_reqs.remove(&id);
            }
            return Verdict::Pass;
        }
        let Some(kind) = Kind::from_changed_notification(method) else {
            return Verdict::Pass;
        };
        let idx = kind_index(kind);
        if self.lists[idx].rechecking {
            // One re-check at a time; its end forwards one notice.
            self.lists[idx].held_notice = Some(raw.to_vec());
            return Verdict::Drop;
        }
        self.lists[idx].held_notice = Some(raw.to_vec());
        self.send_guard_list(kind, 0, None, out);
        Verdict::Drop
    }
}

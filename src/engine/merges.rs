//! Merge and unmerge, the audit trail, and GDPR export and erasure.
//!
//! A merge is one store batch: the survivor's new version, the merged contacts removed and
//! turned into aliases of the survivor, a snapshot of every contact as it was (sealed with
//! its own key), history entries on all of them, and the merge record (ids and choices
//! only). Undo is the reverse batch. Erasure removes the contact and everything merged into
//! it, then shreds their keys and purges their documents from the index segments.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{json, Map, Value};

use super::{load_meta, Control, Engine, EngineError, Result};
use crate::audit::{self, Origin};
use crate::merge::{self, MergeInput};
use crate::model::{self, Contact, ContactInput, ValidationError, WriteContext};
use crate::store::{Op, Store};

/// Follows aliases from `id` to the live contact it resolves to (itself when it exists).
pub(super) fn resolve(store: &Store, ws: &str, id: &str) -> Result<Option<String>> {
    let mut cur = id.to_string();
    for _ in 0..64 {
        if store.contact_exists(ws, &cur)? {
            return Ok(Some(cur));
        }
        match alias_of(store, ws, &cur)? {
            Some((into, _)) => cur = into,
            None => return Ok(None),
        }
    }
    Ok(None)
}

/// (survivor id, merge id) of a merged-away id.
fn alias_of(store: &Store, ws: &str, id: &str) -> Result<Option<(String, String)>> {
    let Some(raw) = store.alias(ws, id)? else {
        return Ok(None);
    };
    let v: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Ok(Some((
        v["into"].as_str().unwrap_or_default().to_string(),
        v["merge_id"].as_str().unwrap_or_default().to_string(),
    )))
}

/// Refuses a write to an id that was merged away (writing it would bring back a duplicate).
pub(super) fn refuse_merged(store: &Store, ws: &str, id: &str) -> Result<()> {
    if let Some((into, merge_id)) = alias_of(store, ws, id)? {
        return Err(EngineError::Conflict(format!(
            "contact {id:?} was merged into {into:?} (merge {merge_id}); write to {into:?}, or undo the merge first"
        )));
    }
    Ok(())
}

fn merge_record(store: &Store, ws: &str, merge_id: &str) -> Result<Option<Map<String, Value>>> {
    Ok(store
        .merge_record(ws, merge_id)?
        .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok())
        .and_then(|v| v.as_object().cloned()))
}

fn ids_of(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn bytes(v: Map<String, Value>) -> Vec<u8> {
    Value::Object(v).to_string().into_bytes()
}

fn contact_json(c: &Contact) -> Vec<u8> {
    serde_json::to_vec(c).unwrap_or_default()
}

fn not_found(ws: &str, id: &str) -> EngineError {
    EngineError::NotFound(format!("contact {id:?} does not exist in workspace {ws:?}"))
}

/// The ids merged into `id` by merges still standing, recursively (not `id` itself).
fn lineage(store: &Store, ws: &str, id: &str) -> Result<Vec<(String, Map<String, Value>)>> {
    let records: Vec<Map<String, Value>> = store
        .merge_records(ws)
        .filter_map(|r| r.ok())
        .filter_map(|raw| serde_json::from_slice::<Value>(&raw).ok())
        .filter_map(|v| v.as_object().cloned())
        .filter(|r| r.get("undone_at").is_none_or(Value::is_null))
        .collect();
    let mut out: Vec<(String, Map<String, Value>)> = Vec::new();
    let mut todo = vec![id.to_string()];
    while let Some(cur) = todo.pop() {
        for r in &records {
            if r.get("primary").and_then(Value::as_str) == Some(cur.as_str()) {
                for m in ids_of(&r["merged"]) {
                    if m != id && !out.iter().any(|(x, _)| *x == m) {
                        todo.push(m.clone());
                        out.push((m, r.clone()));
                    }
                }
            }
        }
    }
    Ok(out)
}

impl Engine {
    /// Merges contacts into a primary. Returns the merge record and the survivor.
    #[tracing::instrument(level = "debug", skip_all, fields(ws = %ws))]
    pub fn merge(&self, ws: &str, input: MergeInput, origin: &Origin) -> Result<(Value, Contact, u64)> {
        self.existing_ws(ws)?;
        self.check_space()?;
        model::validate_contact_id(&input.primary)?;
        if input.merged.is_empty() {
            return Err(EngineError::BadRequest(
                "merged: name at least one contact to merge into the primary".into(),
            ));
        }
        for m in &input.merged {
            model::validate_contact_id(m)?;
        }
        let cfg = self.cfg.clone();
        let now = Utc::now();
        let merge_id = format!("m-{}", uuid::Uuid::new_v4().simple());
        let ((record, survivor), seq) = self.store.commit::<_, EngineError>(|store| {
            let primary = resolve(store, ws, &input.primary)?.ok_or_else(|| not_found(ws, &input.primary))?;
            // requested id → live id; choices may name either
            let mut ids = vec![primary.clone()];
            let mut requested = vec![input.primary.clone()];
            for m in &input.merged {
                let live = resolve(store, ws, m)?.ok_or_else(|| not_found(ws, m))?;
                if live == primary {
                    return Err(EngineError::BadRequest(format!(
                        "merged: {m:?} is the primary contact (or was already merged into it); a contact cannot be merged with itself"
                    )));
                }
                if ids.contains(&live) {
                    return Err(EngineError::BadRequest(format!(
                        "merged: {m:?} is named twice (or resolves to a contact already in the merge)"
                    )));
                }
                ids.push(live);
                requested.push(m.clone());
            }
            let contacts: Vec<Contact> = ids
                .iter()
                .map(|id| store.contact(ws, id)?.ok_or_else(|| not_found(ws, id)))
                .collect::<Result<_>>()?;
            let meta = load_meta(store, &cfg, ws)?;
            let docs: Vec<Map<String, Value>> = contacts.iter().map(merge::doc).collect();
            let doc_refs: Vec<&Map<String, Value>> = docs.iter().collect();
            let fields = input
                .fields
                .iter()
                .map(|(f, v)| {
                    let v = match requested.iter().position(|r| r == v) {
                        Some(i) => ids[i].clone(),
                        None => v.clone(),
                    };
                    (f.clone(), v)
                })
                .collect();
            let choices =
                merge::parse_choices(&fields, &ids, &meta.fields, &doc_refs).map_err(EngineError::BadRequest)?;
            let combined = merge::combine(&ids, &doc_refs, &choices, &meta.fields);
            let body: ContactInput = serde_json::from_value(Value::Object(combined))
                .map_err(|e| EngineError::Validation(ValidationError::new("merge", e.to_string())))?;
            let ctx = WriteContext {
                settings: &meta.settings,
                fields: &meta.fields,
            };
            let v = Contact::from_input(&primary, body, &ctx, Some(&contacts[0]), now)?;
            let survivor = Arc::new(v.contact);
            let merged: Vec<String> = ids[1..].to_vec();

            let mut record = audit::entry(origin, &now, "merge");
            record.remove("action");
            record.insert("merge_id".into(), json!(merge_id));
            record.insert("primary".into(), json!(primary));
            record.insert("merged".into(), json!(merged));
            record.insert("requested".into(), json!(requested));
            record.insert("fields".into(), json!(input.fields));
            record.insert("undone_at".into(), Value::Null);

            let mut ops = Vec::new();
            let mut e = audit::entry(origin, &now, "merge");
            e.insert("merge_id".into(), json!(merge_id));
            e.insert("merged".into(), json!(merged));
            e.insert(
                "changes".into(),
                Value::Array(audit::diff(&docs[0], &survivor.to_input_json())),
            );
            ops.push(Op::History {
                ws: ws.into(),
                id: primary.clone(),
                entry: bytes(e),
            });
            ops.push(Op::Snapshot {
                ws: ws.into(),
                id: primary.clone(),
                merge_id: merge_id.clone(),
                doc: Some(contact_json(&contacts[0])),
            });
            ops.push(Op::Snapshot {
                ws: ws.into(),
                id: primary.clone(),
                merge_id: format!("{merge_id}:after"),
                doc: Some(contact_json(&survivor)),
            });
            ops.push(Op::PutContact {
                ws: ws.into(),
                contact: survivor.clone(),
                fresh: false,
                birth: None,
            });
            for (m, c) in merged.iter().zip(&contacts[1..]) {
                let mut e = audit::entry(origin, &now, "merged_into");
                e.insert("merge_id".into(), json!(merge_id));
                e.insert("into".into(), json!(primary));
                ops.push(Op::History {
                    ws: ws.into(),
                    id: m.clone(),
                    entry: bytes(e),
                });
                ops.push(Op::Snapshot {
                    ws: ws.into(),
                    id: m.clone(),
                    merge_id: merge_id.clone(),
                    doc: Some(contact_json(c)),
                });
                ops.push(Op::DeleteContact {
                    ws: ws.into(),
                    id: m.clone(),
                });
                ops.push(Op::Alias {
                    ws: ws.into(),
                    id: m.clone(),
                    alias: Some(json!({"into": primary, "merge_id": merge_id}).to_string().into_bytes()),
                });
            }
            ops.push(Op::PutMerge {
                ws: ws.into(),
                merge_id: merge_id.clone(),
                record: bytes(record.clone()),
            });
            Ok((ops, (Value::Object(record), survivor)))
        })?;
        self.invalidate(ws);
        self.after_write(seq, 1);
        Ok((record, (*survivor).clone(), seq))
    }

    /// A merge record.
    pub fn get_merge(&self, ws: &str, merge_id: &str) -> Result<Value> {
        self.existing_ws(ws)?;
        merge_record(&self.store, ws, merge_id)?
            .map(Value::Object)
            .ok_or_else(|| EngineError::NotFound(format!("merge {merge_id:?} does not exist in workspace {ws:?}")))
    }

    /// Undoes a merge: the merged contacts come back as they were; what the merge brought
    /// into the survivor leaves it, changes made to it since stay. The pairs are remembered
    /// as not-the-same-person, so the dedup proposal does not come back.
    #[tracing::instrument(level = "debug", skip_all, fields(ws = %ws))]
    pub fn undo_merge(&self, ws: &str, merge_id: &str, origin: &Origin) -> Result<(Value, Option<Contact>, u64)> {
        self.existing_ws(ws)?;
        self.check_space()?;
        let cfg = self.cfg.clone();
        let now = Utc::now();
        let ((answer, survivor), seq) = self.store.commit::<_, EngineError>(|store| {
            let mut record = merge_record(store, ws, merge_id)?.ok_or_else(|| {
                EngineError::NotFound(format!("merge {merge_id:?} does not exist in workspace {ws:?}"))
            })?;
            if let Some(at) = record.get("undone_at").and_then(Value::as_str) {
                return Err(EngineError::Conflict(format!(
                    "merge {merge_id} was already undone at {at}"
                )));
            }
            if let Some(at) = record.get("erased_at").and_then(Value::as_str) {
                return Err(EngineError::Conflict(format!(
                    "merge {merge_id} cannot be undone: its contacts were erased at {at}"
                )));
            }
            let primary = record
                .get("primary")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let merged = ids_of(&record["merged"]);
            if let Some((into, later)) = alias_of(store, ws, &primary)? {
                return Err(EngineError::Conflict(format!(
                    "contact {primary:?} was merged into {into:?} later (merge {later}); undo that merge first"
                )));
            }
            let mut restored = Vec::new();
            for m in &merged {
                match alias_of(store, ws, m)? {
                    Some((_, mid)) if mid == merge_id => {}
                    _ => {
                        return Err(EngineError::Conflict(format!(
                            "contact {m:?} no longer points to merge {merge_id}; it cannot be restored"
                        )))
                    }
                }
                let snap = store.snapshot(ws, m, merge_id)?.ok_or_else(|| {
                    EngineError::Conflict(format!("the snapshot of {m:?} taken by merge {merge_id} is gone"))
                })?;
                let c: Contact = serde_json::from_value(snap)
                    .map_err(|e| EngineError::Unavailable(format!("snapshot of {m:?} cannot be read: {e}")))?;
                restored.push(c);
            }
            let mut ops = Vec::new();
            let mut survivor = None;
            if let Some(now_c) = store.contact(ws, &primary)? {
                let before: Option<Contact> = store
                    .snapshot(ws, &primary, merge_id)?
                    .and_then(|v| serde_json::from_value(v).ok());
                let after: Option<Contact> = store
                    .snapshot(ws, &primary, &format!("{merge_id}:after"))?
                    .and_then(|v| serde_json::from_value(v).ok());
                if let (Some(before), Some(after)) = (before, after) {
                    let meta = load_meta(store, &cfg, ws)?;
                    let doc = merge::revert(&merge::doc(&now_c), &merge::doc(&before), &merge::doc(&after));
                    let body: ContactInput = serde_json::from_value(Value::Object(doc))
                        .map_err(|e| EngineError::Validation(ValidationError::new("undo", e.to_string())))?;
                    let ctx = WriteContext {
                        settings: &meta.settings,
                        fields: &meta.fields,
                    };
                    let v = Contact::from_input(&primary, body, &ctx, Some(&now_c), now)?;
                    let mut e = audit::entry(origin, &now, "unmerge");
                    e.insert("merge_id".into(), json!(merge_id));
                    e.insert("restored".into(), json!(merged));
                    e.insert(
                        "changes".into(),
                        Value::Array(audit::diff(&now_c.to_input_json(), &v.contact.to_input_json())),
                    );
                    ops.push(Op::History {
                        ws: ws.into(),
                        id: primary.clone(),
                        entry: bytes(e),
                    });
                    let c = Arc::new(v.contact);
                    ops.push(Op::PutContact {
                        ws: ws.into(),
                        contact: c.clone(),
                        fresh: false,
                        birth: None,
                    });
                    survivor = Some(c);
                }
            }
            for suffix in ["", ":after"] {
                ops.push(Op::Snapshot {
                    ws: ws.into(),
                    id: primary.clone(),
                    merge_id: format!("{merge_id}{suffix}"),
                    doc: None,
                });
            }
            for c in restored {
                let mut e = audit::entry(origin, &now, "restored");
                e.insert("merge_id".into(), json!(merge_id));
                e.insert("from".into(), json!(primary));
                ops.push(Op::History {
                    ws: ws.into(),
                    id: c.id.clone(),
                    entry: bytes(e),
                });
                ops.push(Op::Alias {
                    ws: ws.into(),
                    id: c.id.clone(),
                    alias: None,
                });
                ops.push(Op::Snapshot {
                    ws: ws.into(),
                    id: c.id.clone(),
                    merge_id: merge_id.into(),
                    doc: None,
                });
                ops.push(Op::PutRejection {
                    ws: ws.into(),
                    a: primary.clone(),
                    b: c.id.clone(),
                });
                ops.push(Op::PutContact {
                    ws: ws.into(),
                    contact: Arc::new(c),
                    fresh: false,
                    birth: None,
                });
            }
            record.insert("undone_at".into(), json!(model::fmt_time(&now)));
            record.insert("undone_by".into(), json!(origin.actor));
            ops.push(Op::PutMerge {
                ws: ws.into(),
                merge_id: merge_id.into(),
                record: bytes(record),
            });
            Ok((ops, (json!({"merge_id": merge_id, "restored": merged}), survivor)))
        })?;
        self.invalidate(ws);
        self.after_write(seq, 1);
        Ok((answer, survivor.map(|c| (*c).clone()), seq))
    }

    /// A contact's history, newest first, paged by an opaque cursor.
    pub fn history(
        &self,
        ws: &str,
        id: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Value>, Option<String>)> {
        self.existing_ws(ws)?;
        model::validate_contact_id(id)?;
        let before = match cursor {
            None => None,
            Some(c) => Some(
                decode_cursor(c)
                    .ok_or_else(|| EngineError::BadRequest("cursor: not a history cursor from this route".into()))?,
            ),
        };
        let items = self.store.history(ws, id, before, limit + 1)?;
        if items.is_empty() && before.is_none() {
            return Err(not_found(ws, id));
        }
        let more = items.len() > limit;
        let mut out = Vec::with_capacity(limit);
        let mut next = None;
        for it in items.into_iter().take(limit) {
            next = Some(encode_cursor(&it.pos));
            out.push(serde_json::from_slice(&it.entry).unwrap_or(Value::Null));
        }
        Ok((out, if more { next } else { None }))
    }

    /// Everything held about a contact (a merged-away id exports its survivor): the
    /// document, the merges that folded contacts into it with their snapshots, and the
    /// history of it and of every contact merged into it.
    pub fn export_contact(&self, ws: &str, id: &str) -> Result<Value> {
        self.existing_ws(ws)?;
        model::validate_contact_id(id)?;
        let live = resolve(&self.store, ws, id)?.ok_or_else(|| not_found(ws, id))?;
        let c = self.store.contact(ws, &live)?.ok_or_else(|| not_found(ws, id))?;
        let lin = lineage(&self.store, ws, &live)?;
        let mut merges: Vec<Map<String, Value>> = Vec::new();
        for (m, record) in &lin {
            let mid = record.get("merge_id").and_then(Value::as_str).unwrap_or_default();
            let snap = self
                .store
                .snapshot(ws, m, mid)?
                .and_then(|v| serde_json::from_value::<Contact>(v).ok())
                .map(|c| c.to_api())
                .unwrap_or(Value::Null);
            match merges.iter_mut().find(|r| r.get("merge_id") == record.get("merge_id")) {
                Some(r) => {
                    if let Some(Value::Object(s)) = r.get_mut("snapshots") {
                        s.insert(m.clone(), snap);
                    }
                }
                None => {
                    let mut r = record.clone();
                    r.insert("snapshots".into(), json!({ m.clone(): snap }));
                    merges.push(r);
                }
            }
        }
        let mut history = Vec::new();
        for hid in std::iter::once(live.clone()).chain(lin.iter().map(|(m, _)| m.clone())) {
            for it in self.store.history(ws, &hid, None, usize::MAX)? {
                let mut e: Value = serde_json::from_slice(&it.entry).unwrap_or(Value::Null);
                e["contact_id"] = json!(hid);
                history.push(e);
            }
        }
        history.sort_by(|a, b| b["at"].as_str().cmp(&a["at"].as_str()));
        Ok(json!({
            "id": live,
            "workspace": ws,
            "contact": c.to_api(),
            "merges": merges,
            "history": history,
            "exported_at": model::fmt_time(&Utc::now()),
        }))
    }

    /// GDPR erasure of a contact and everything merged into it: the records leave the store,
    /// their keys are shredded (so the sealed bytes sled still holds are unreadable), and the
    /// index segments holding their documents are merged away. Returns the erased ids.
    #[tracing::instrument(level = "info", skip_all, fields(ws = %ws))]
    pub fn erase_contact(&self, ws: &str, id: &str, origin: &Origin) -> Result<Vec<String>> {
        self.existing_ws(ws)?;
        model::validate_contact_id(id)?;
        let now = Utc::now();
        let (erased, seq) = self.store.commit::<_, EngineError>(|store| {
            let live = match resolve(store, ws, id)? {
                Some(live) => live,
                // a deleted contact: its history still holds personal values until erased
                None if has_unerased_history(store, ws, id)? => id.to_string(),
                None => return Err(not_found(ws, id)),
            };
            let lin = lineage(store, ws, &live)?;
            let mut ids = vec![live.clone()];
            ids.extend(lin.iter().map(|(m, _)| m.clone()));
            let entry = bytes(audit::entry(origin, &now, "erase"));
            let mut ops = Vec::new();
            for e in &ids {
                ops.push(Op::Erase {
                    ws: ws.into(),
                    id: e.clone(),
                    entry: entry.clone(),
                });
                ops.push(Op::Alias {
                    ws: ws.into(),
                    id: e.clone(),
                    alias: None,
                });
            }
            let mut seen = std::collections::HashSet::new();
            for (_, record) in &lin {
                let mid = record.get("merge_id").and_then(Value::as_str).unwrap_or_default();
                if seen.insert(mid.to_string()) {
                    let mut r = record.clone();
                    r.insert("erased_at".into(), json!(model::fmt_time(&now)));
                    ops.push(Op::PutMerge {
                        ws: ws.into(),
                        merge_id: mid.into(),
                        record: bytes(r),
                    });
                }
            }
            Ok((ops, ids))
        })?;
        self.store.wait_durable(seq)?;
        self.store.complete_erasures()?;
        self.after_write(seq, erased.len() as u64);
        let (tx, rx) = crossbeam_channel::bounded(1);
        let keys = erased.iter().map(|e| (ws.to_string(), e.clone())).collect();
        self.control
            .send(Control::Purge { seq, keys, reply: tx })
            .map_err(|_| EngineError::Unavailable("the indexer is not running".into()))?;
        rx.recv_timeout(std::time::Duration::from_secs(600))
            .map_err(|_| EngineError::Unavailable("the index purge did not finish in time".into()))??;
        Ok(erased)
    }
}

/// Whether a contact id has history that was not erased (its newest entry is not `erase`).
fn has_unerased_history(store: &Store, ws: &str, id: &str) -> Result<bool> {
    let newest = store.history(ws, id, None, 1)?;
    Ok(newest.first().is_some_and(|it| {
        serde_json::from_slice::<Value>(&it.entry)
            .ok()
            .is_some_and(|v| v["action"] != "erase")
    }))
}

fn encode_cursor(pos: &[u8; 12]) -> String {
    pos.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(s: &str) -> Option<[u8; 12]> {
    if s.len() != 24 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 12];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_cursor_round_trips_and_rejects_junk() {
        let pos = [0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 255];
        assert_eq!(decode_cursor(&encode_cursor(&pos)), Some(pos));
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor(&"g".repeat(24)), None);
        assert_eq!(decode_cursor(&"é".repeat(12)), None);
    }
}

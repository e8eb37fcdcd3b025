//! Merging contacts, as pure functions over contact documents (the shape of
//! [`Contact::to_input_json`]); the engine validates the result like any write and stores it.
//!
//! Field rules (documented in the README):
//! - a choice `"field": "<contact id>"` takes that contact's value (absent clears it);
//! - `"field": "union"` (lists only: phones, emails, tags, multi-select custom fields) unites
//!   the lists, primary first, without repeats;
//! - unchosen lists unite; unchosen scalars keep the primary's value, or, when the primary
//!   has none, the first merged contact's (in request order) that has one; `created_at` is
//!   the earliest and `last_interaction_at` the latest of all.
//!
//! Undo is a three-way revert: for each field, if the survivor still holds what the merge
//! wrote, it goes back to what it held before; if it changed since, the change stays. For
//! lists, the items the merge added are removed and the items it dropped come back.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::model::{Contact, FieldDef, FieldType};

/// What a merge request chose for one field.
#[derive(Debug, Clone, PartialEq)]
pub enum Choice {
    From(String),
    Union,
}

/// A merge request as the client sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    pub primary: String,
    pub merged: Vec<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

const LISTS: &[&str] = &["phones", "emails", "tags"];
const SCALARS: &[&str] = &[
    "name",
    "source",
    "status",
    "photo_url",
    "created_by",
    "created_at",
    "last_interaction_at",
];

/// Whether a field (name or `custom.<key>`) is a list.
fn is_list(field: &str, defs: &BTreeMap<String, FieldDef>, docs: &[&Map<String, Value>]) -> bool {
    if LISTS.contains(&field) {
        return true;
    }
    match field.strip_prefix("custom.") {
        Some(key) => match defs.get(key) {
            Some(d) => d.field_type == FieldType::MultiSelect,
            None => docs.iter().any(|d| custom(d, key).is_some_and(Value::is_array)),
        },
        None => false,
    }
}

fn custom<'a>(doc: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    doc.get("custom").and_then(|c| c.get(key))
}

fn get<'a>(doc: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    let v = match field.strip_prefix("custom.") {
        Some(key) => custom(doc, key),
        None => doc.get(field),
    };
    v.filter(|v| !empty(v))
}

fn set(doc: &mut Map<String, Value>, field: &str, v: Option<Value>) {
    match field.strip_prefix("custom.") {
        Some(key) => {
            let c = doc.entry("custom").or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(c) = c {
                match v {
                    Some(v) => {
                        c.insert(key.to_string(), v);
                    }
                    None => {
                        c.remove(key);
                    }
                }
            }
        }
        None => match v {
            Some(v) => {
                doc.insert(field.to_string(), v);
            }
            None => {
                doc.remove(field);
            }
        },
    }
}

fn empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn union<'a>(lists: impl Iterator<Item = Option<&'a Value>>) -> Option<Value> {
    let mut out: Vec<Value> = Vec::new();
    for l in lists.flatten() {
        let items: Vec<Value> = match l {
            Value::Array(a) => a.clone(),
            other => vec![other.clone()],
        };
        for i in items {
            let dup = out.iter().any(|o| match (o, &i) {
                (Value::String(a), Value::String(b)) => a.to_lowercase() == b.to_lowercase(),
                (a, b) => a == b,
            });
            if !dup {
                out.push(i);
            }
        }
    }
    (!out.is_empty()).then_some(Value::Array(out))
}

/// Every field any of the documents holds (custom ones as `custom.<key>`).
fn all_fields(docs: &[&Map<String, Value>]) -> Vec<String> {
    let mut out: Vec<String> = SCALARS.iter().chain(LISTS).map(|s| s.to_string()).collect();
    for d in docs {
        if let Some(Value::Object(c)) = d.get("custom") {
            for k in c.keys() {
                let f = format!("custom.{k}");
                if !out.contains(&f) {
                    out.push(f);
                }
            }
        }
    }
    out
}

/// Checks the field choices against the contacts in the merge.
pub fn parse_choices(
    fields: &BTreeMap<String, String>,
    ids: &[String],
    defs: &BTreeMap<String, FieldDef>,
    docs: &[&Map<String, Value>],
) -> Result<BTreeMap<String, Choice>, String> {
    let mut out = BTreeMap::new();
    for (f, v) in fields {
        let known = SCALARS.contains(&f.as_str())
            || LISTS.contains(&f.as_str())
            || f.strip_prefix("custom.")
                .is_some_and(|k| defs.contains_key(k) || docs.iter().any(|d| custom(d, k).is_some()));
        if !known {
            return Err(format!(
                "fields: {f:?} is not a contact field (name, phones, emails, tags, source, status, photo_url, created_by, created_at, last_interaction_at or custom.<key> of a defined field)"
            ));
        }
        let choice = if v == "union" {
            if !is_list(f, defs, docs) {
                return Err(format!(
                    "fields: {f:?} holds one value; \"union\" applies only to lists (phones, emails, tags, multi-select fields); name the contact to take it from"
                ));
            }
            Choice::Union
        } else if ids.contains(v) {
            Choice::From(v.clone())
        } else {
            return Err(format!(
                "fields: {f:?} takes its value from {v:?}, which is not one of the contacts being merged ({})",
                ids.join(", ")
            ));
        };
        out.insert(f.clone(), choice);
    }
    Ok(out)
}

/// The survivor's document: `docs[0]` is the primary, the rest the merged contacts, with
/// their ids in `ids` (same order).
pub fn combine(
    ids: &[String],
    docs: &[&Map<String, Value>],
    choices: &BTreeMap<String, Choice>,
    defs: &BTreeMap<String, FieldDef>,
) -> Map<String, Value> {
    let mut out = docs[0].clone();
    for f in all_fields(docs) {
        let v = match choices.get(&f) {
            Some(Choice::From(id)) => {
                let i = ids.iter().position(|x| x == id).unwrap_or(0);
                get(docs[i], &f).cloned()
            }
            Some(Choice::Union) => union(docs.iter().map(|d| get(d, &f))),
            None if is_list(&f, defs, docs) => union(docs.iter().map(|d| get(d, &f))),
            None if f == "created_at" => docs
                .iter()
                .filter_map(|d| get(d, &f))
                .min_by_key(|v| time_key(v))
                .cloned(),
            None if f == "last_interaction_at" => docs
                .iter()
                .filter_map(|d| get(d, &f))
                .max_by_key(|v| time_key(v))
                .cloned(),
            None => docs.iter().find_map(|d| get(d, &f)).cloned(),
        };
        set(&mut out, &f, v);
    }
    out
}

fn time_key(v: &Value) -> i64 {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.timestamp_millis())
        .unwrap_or(0)
}

/// Undo for the survivor: `now` is its current document, `before` and `after` what it was
/// just before and just after the merge.
pub fn revert(now: &Map<String, Value>, before: &Map<String, Value>, after: &Map<String, Value>) -> Map<String, Value> {
    let docs = [now, before, after];
    let mut out = now.clone();
    for f in all_fields(&docs) {
        let (n, b, a) = (get(now, &f), get(before, &f), get(after, &f));
        let lists = [n, b, a].iter().any(|v| v.is_some_and(Value::is_array));
        let v = if lists {
            let items = |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
            let (n, b, a) = (items(n), items(b), items(a));
            let mut r: Vec<Value> = n.iter().filter(|x| b.contains(x) || !a.contains(x)).cloned().collect();
            for x in &b {
                if !a.contains(x) && !r.contains(x) {
                    r.push(x.clone());
                }
            }
            (!r.is_empty()).then_some(Value::Array(r))
        } else if n == a {
            b.cloned()
        } else {
            n.cloned()
        };
        set(&mut out, &f, v);
    }
    out
}

/// A contact's document for merging.
pub fn doc(c: &Contact) -> Map<String, Value> {
    c.to_input_json()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn default_rules_primary_wins_lists_unite() {
        let a = m(
            json!({"id": "a", "name": "Ana", "phones": ["+5511987654321"], "tags": ["vip"],
                         "created_at": "2025-02-01T00:00:00Z", "custom": {"tier": "Gold"}}),
        );
        let b = m(
            json!({"id": "b", "name": "Ana S.", "source": "whatsapp", "phones": ["+5511911112222"],
                         "tags": ["VIP", "lead"], "created_at": "2024-01-01T00:00:00Z",
                         "last_interaction_at": "2025-06-01T00:00:00Z", "custom": {"tier": "Silver", "city": "Rio"}}),
        );
        let ids = vec!["a".to_string(), "b".to_string()];
        let out = combine(&ids, &[&a, &b], &BTreeMap::new(), &BTreeMap::new());
        assert_eq!(out["id"], "a");
        assert_eq!(out["name"], "Ana");
        assert_eq!(out["source"], "whatsapp");
        assert_eq!(out["phones"], json!(["+5511987654321", "+5511911112222"]));
        assert_eq!(out["tags"], json!(["vip", "lead"]));
        assert_eq!(out["created_at"], "2024-01-01T00:00:00Z");
        assert_eq!(out["last_interaction_at"], "2025-06-01T00:00:00Z");
        assert_eq!(out["custom"], json!({"tier": "Gold", "city": "Rio"}));
    }

    #[test]
    fn choices_take_a_contacts_value_or_clear() {
        let a = m(json!({"id": "a", "name": "Ana", "emails": ["a@x.com"], "source": "web"}));
        let b = m(json!({"id": "b", "name": "Ana Souza", "emails": ["b@y.com"]}));
        let ids = vec!["a".to_string(), "b".to_string()];
        let fields: BTreeMap<String, String> = [
            ("name".to_string(), "b".to_string()),
            ("emails".to_string(), "b".to_string()),
            ("source".to_string(), "b".to_string()),
        ]
        .into();
        let choices = parse_choices(&fields, &ids, &BTreeMap::new(), &[&a, &b]).unwrap();
        let out = combine(&ids, &[&a, &b], &choices, &BTreeMap::new());
        assert_eq!(out["name"], "Ana Souza");
        assert_eq!(out["emails"], json!(["b@y.com"]));
        assert!(out.get("source").is_none());
    }

    #[test]
    fn bad_choices_are_refused() {
        let a = m(json!({"id": "a", "name": "Ana"}));
        let ids = vec!["a".to_string(), "b".to_string()];
        let bad = |f: &str, v: &str| {
            let fields: BTreeMap<String, String> = [(f.to_string(), v.to_string())].into();
            parse_choices(&fields, &ids, &BTreeMap::new(), &[&a]).is_err()
        };
        assert!(bad("name", "union"));
        assert!(bad("name", "zzz"));
        assert!(bad("shoe_size", "a"));
        assert!(bad("custom.nope", "a"));
        assert!(!bad("tags", "union"));
        assert!(!bad("name", "b"));
    }

    #[test]
    fn revert_undoes_the_merge_but_keeps_later_changes() {
        let before = m(json!({"id": "a", "name": "Ana", "tags": ["vip"], "phones": ["1"]}));
        let after = m(
            json!({"id": "a", "name": "Ana", "tags": ["vip", "lead"], "phones": ["1", "2"],
                             "source": "web"}),
        );
        // after the merge an agent renamed her and tagged her "won"
        let now = m(
            json!({"id": "a", "name": "Ana Paula", "tags": ["vip", "lead", "won"], "phones": ["1", "2"],
                           "source": "web"}),
        );
        let out = revert(&now, &before, &after);
        assert_eq!(out["name"], "Ana Paula");
        assert_eq!(out["tags"], json!(["vip", "won"]));
        assert_eq!(out["phones"], json!(["1"]));
        assert!(out.get("source").is_none());
    }

    #[test]
    fn revert_brings_back_what_a_choice_replaced() {
        let before = m(json!({"id": "a", "emails": ["a@x.com"]}));
        let after = m(json!({"id": "a", "emails": ["b@y.com"]}));
        let out = revert(&after, &before, &after);
        assert_eq!(out["emails"], json!(["a@x.com"]));
    }
}

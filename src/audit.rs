//! The audit trail: who changed what, when, through which route. Pure functions that turn a
//! change into a history entry (JSON); the engine stores entries with the write itself (one
//! sled batch), sealed with the contact's key, so erasure destroys them with the contact.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::model::{fmt_time, Contact, ValidationError};

/// Where a write came from: the actor (`X-Actor`, e.g. `agent:ana`, `bot:welcome`) and the
/// route (`PATCH /v1/workspaces/{ws}/contacts/{id}`, `cli import`).
#[derive(Debug, Clone)]
pub struct Origin {
    pub actor: String,
    pub route: String,
}

pub const MAX_ACTOR_CHARS: usize = 128;

impl Origin {
    /// Checks the actor: 1–128 characters, no control characters. Absent → `unknown`.
    pub fn new(actor: Option<&str>, route: impl Into<String>) -> Result<Origin, ValidationError> {
        let actor = match actor.map(str::trim) {
            None | Some("") => "unknown".to_string(),
            Some(a) if a.chars().count() > MAX_ACTOR_CHARS => {
                return Err(ValidationError::new(
                    "X-Actor",
                    format!("is longer than {MAX_ACTOR_CHARS} characters"),
                ))
            }
            Some(a) if a.chars().any(char::is_control) => {
                return Err(ValidationError::new("X-Actor", "contains control characters"))
            }
            Some(a) => a.to_string(),
        };
        Ok(Origin {
            actor,
            route: route.into(),
        })
    }

    /// An origin for internal callers (CLI, tests, benches).
    pub fn system(route: &str) -> Origin {
        Origin {
            actor: "system".into(),
            route: route.into(),
        }
    }
}

/// A history entry with no changes listed.
pub fn entry(origin: &Origin, at: &DateTime<Utc>, action: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("at".into(), Value::String(fmt_time(at)));
    m.insert("actor".into(), Value::String(origin.actor.clone()));
    m.insert("route".into(), Value::String(origin.route.clone()));
    m.insert("action".into(), Value::String(action.into()));
    m
}

/// The entry for a create (`old` = None: who, when, which route) or an update: the fields
/// that changed, with old and new values (lists also with what was added and removed).
/// `None` when nothing changed.
pub fn write_entry(origin: &Origin, at: &DateTime<Utc>, old: Option<&Contact>, new: &Contact) -> Option<Vec<u8>> {
    let e = match old {
        // who created it, when and how; the values are the contact's own (kept short: bulk
        // imports write one per contact)
        None => entry(origin, at, "create"),
        Some(old) => {
            let changes = diff(&old.to_input_json(), &new.to_input_json());
            if changes.is_empty() {
                return None;
            }
            let mut e = entry(origin, at, "update");
            e.insert("changes".into(), Value::Array(changes));
            e
        }
    };
    Some(Value::Object(e).to_string().into_bytes())
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Top-level fields with `custom` spread into `custom.<key>`; `id` left out.
fn flat_fields(doc: &Map<String, Value>) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (k, v) in doc {
        match (k.as_str(), v) {
            ("id", _) => {}
            ("custom", Value::Object(c)) => {
                for (ck, cv) in c {
                    out.push((format!("custom.{ck}"), cv.clone()));
                }
            }
            _ => out.push((k.clone(), v.clone())),
        }
    }
    out
}

/// Field-by-field changes between two documents (as [`Contact::to_input_json`] makes them).
pub fn diff(old: &Map<String, Value>, new: &Map<String, Value>) -> Vec<Value> {
    let old_f: std::collections::BTreeMap<String, Value> = flat_fields(old).into_iter().collect();
    let new_f: std::collections::BTreeMap<String, Value> = flat_fields(new).into_iter().collect();
    let mut keys: Vec<&String> = old_f.keys().chain(new_f.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        let o = old_f.get(k).cloned().unwrap_or(Value::Null);
        let n = new_f.get(k).cloned().unwrap_or(Value::Null);
        if o == n || (is_empty(&o) && is_empty(&n)) {
            continue;
        }
        let mut c = json!({"field": k, "old": o, "new": n});
        if (o.is_array() || o.is_null()) && (n.is_array() || n.is_null()) {
            let a = o.as_array().cloned().unwrap_or_default();
            let b = n.as_array().cloned().unwrap_or_default();
            c["added"] = Value::Array(b.iter().filter(|x| !a.contains(x)).cloned().collect());
            c["removed"] = Value::Array(a.iter().filter(|x| !b.contains(x)).cloned().collect());
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn diff_lists_scalars_and_custom_keys() {
        let old = doc(json!({"id": "a", "name": "Ana", "tags": ["vip", "lead"], "custom": {"tier": "Gold", "n": 1}}));
        let new = doc(json!({"id": "a", "name": "Ana Souza", "tags": ["vip", "won"], "custom": {"tier": "Gold"}}));
        let d = diff(&old, &new);
        let fields: Vec<&str> = d.iter().map(|c| c["field"].as_str().unwrap_or("")).collect();
        assert_eq!(fields, vec!["custom.n", "name", "tags"]);
        assert_eq!(d[0]["old"], 1);
        assert_eq!(d[0]["new"], Value::Null);
        assert_eq!(d[1]["old"], "Ana");
        assert_eq!(d[1]["new"], "Ana Souza");
        assert_eq!(d[2]["added"], json!(["won"]));
        assert_eq!(d[2]["removed"], json!(["lead"]));
    }

    #[test]
    fn nothing_changed_is_no_change() {
        let a = doc(json!({"id": "a", "name": "Ana", "tags": []}));
        let b = doc(json!({"id": "a", "name": "Ana"}));
        assert!(diff(&a, &b).is_empty());
    }

    #[test]
    fn actors_are_checked() {
        assert_eq!(Origin::new(None, "r").map(|o| o.actor).ok(), Some("unknown".into()));
        assert_eq!(
            Origin::new(Some(" agent:ana "), "r").map(|o| o.actor).ok(),
            Some("agent:ana".into())
        );
        assert!(Origin::new(Some(&"x".repeat(129)), "r").is_err());
        assert!(Origin::new(Some("a\u{7}b"), "r").is_err());
    }
}

//! Access control: API keys, agent tokens, and the scope a request runs with.
//!
//! - **API keys** (`cdxk_<id>_<secret>`): shown once at creation; the store keeps only the
//!   SHA-256 of the secret, compared in constant time. A key carries actions (search, write,
//!   dedup, merge, admin) and a workspace set (`*` = all).
//! - **Agent tokens** (`cdxt_<payload>.<mac>`): HMAC-SHA256-signed with a server secret;
//!   derived from a key (or the master key) and only ever narrower: one workspace, a
//!   mandatory filter ANDed into everything the token reads, hidden fields that never
//!   appear in an answer and cannot be searched, filtered, sorted or faceted on, and an
//!   expiry. A token dies with its parent key.
//! - A [`Scope`] is what a request may do; the HTTP edge checks it and redacts answers.

use std::collections::BTreeSet;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::search::{Hidden, SearchRequest};

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Search,
    Write,
    Dedup,
    Merge,
    Admin,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Search,
        Action::Write,
        Action::Dedup,
        Action::Merge,
        Action::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Search => "search",
            Action::Write => "write",
            Action::Dedup => "dedup",
            Action::Merge => "merge",
            Action::Admin => "admin",
        }
    }
}

/// Why a credential was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AccessError {
    /// 401
    #[error("{0}")]
    Unauthenticated(String),
    /// 403
    #[error("{0}")]
    Forbidden(String),
    /// 400
    #[error("{0}")]
    BadRequest(String),
}

/// The fields a token may hide.
pub const HIDEABLE: &str =
    "name, phones, emails, tags, source, status, photo_url, created_by, created_at, last_interaction_at, custom.<key>";

fn hideable(f: &str) -> bool {
    matches!(
        f,
        "name"
            | "phones"
            | "emails"
            | "tags"
            | "source"
            | "status"
            | "photo_url"
            | "created_by"
            | "created_at"
            | "last_interaction_at"
    ) || f.strip_prefix("custom.").is_some_and(|k| !k.is_empty())
}

/// What a request may do and see.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    /// `master`, `open` (no auth configured), `key:<id>` or `token:<key id>`.
    pub principal: String,
    pub actions: BTreeSet<Action>,
    /// `None`: every workspace.
    pub workspaces: Option<BTreeSet<String>>,
    /// Tokens: ANDed into every read.
    pub filter: Option<Value>,
    /// Tokens: fields that never appear and cannot be queried.
    pub hidden: BTreeSet<String>,
    pub is_token: bool,
}

impl Scope {
    /// Everything (the master key, or a service without auth).
    pub fn full(principal: &str) -> Scope {
        Scope {
            principal: principal.into(),
            actions: Action::ALL.into_iter().collect(),
            workspaces: None,
            filter: None,
            hidden: BTreeSet::new(),
            is_token: false,
        }
    }

    pub fn may_use_workspace(&self, ws: &str) -> bool {
        self.workspaces
            .as_ref()
            .is_none_or(|w| w.contains(ws) || w.contains("*"))
    }

    /// Checks an action (and the workspace, when the route has one).
    pub fn check(&self, action: Action, ws: Option<&str>) -> Result<(), AccessError> {
        if !self.actions.contains(&action) {
            return Err(AccessError::Forbidden(format!(
                "this credential ({}) may not {}: it lacks the {:?} action",
                self.principal,
                describe(action),
                action.as_str()
            )));
        }
        if let Some(ws) = ws {
            if !self.may_use_workspace(ws) {
                return Err(AccessError::Forbidden(format!(
                    "this credential ({}) has no access to workspace {ws:?}",
                    self.principal
                )));
            }
        }
        Ok(())
    }

    /// Whether anything narrows reads (then single-contact reads check visibility).
    pub fn narrows(&self) -> bool {
        self.filter.is_some() || !self.hidden.is_empty()
    }

    pub fn hides(&self, field: &str) -> bool {
        self.hidden.contains(field)
    }

    /// What a search must not match on.
    pub fn hidden_flags(&self) -> Hidden {
        Hidden {
            name: self.hides("name"),
            phones: self.hides("phones"),
            emails: self.hides("emails"),
            tags: self.hides("tags"),
            custom: self.hidden.iter().any(|h| h.starts_with("custom.")),
        }
    }

    /// Refuses a search that filters, sorts or facets on a hidden field, and ANDs the
    /// token's filter into it.
    pub fn scope_search(&self, req: &mut SearchRequest) -> Result<(), AccessError> {
        if let Some(f) = &req.filter {
            let mut fields = Vec::new();
            filter_fields(f, &mut fields);
            self.refuse_hidden(fields.iter().map(String::as_str), "filter on")?;
        }
        if let Some(sort) = &req.sort {
            self.refuse_hidden(sort.iter().map(|s| s.field.as_str()), "sort by")?;
        }
        if let Some(facets) = &req.facets {
            self.refuse_hidden(facets.iter().map(String::as_str), "facet on")?;
        }
        req.filter = self.and_filter(req.filter.take());
        req.hidden = self.hidden_flags();
        Ok(())
    }

    /// The token's filter ANDed with a request's.
    pub fn and_filter(&self, f: Option<Value>) -> Option<Value> {
        match (&self.filter, f) {
            (None, f) => f,
            (Some(t), None) => Some(t.clone()),
            (Some(t), Some(f)) => Some(json!({"and": [t, f]})),
        }
    }

    /// Refuses a hidden field (filter, sort, facet or export column).
    pub fn refuse_hidden<'a>(&self, fields: impl Iterator<Item = &'a str>, what: &str) -> Result<(), AccessError> {
        for f in fields {
            let base = if f == "phones_e164" { "phones" } else { f };
            if self.hides(base) {
                return Err(AccessError::Forbidden(format!(
                    "this credential may not {what} {f:?}: the field is hidden from it"
                )));
            }
        }
        Ok(())
    }

    /// Removes hidden fields from a contact document (as `Contact::to_api` makes it).
    pub fn redact(&self, doc: &mut Value) {
        if self.hidden.is_empty() {
            return;
        }
        let Some(m) = doc.as_object_mut() else { return };
        for h in &self.hidden {
            match h.strip_prefix("custom.") {
                Some(key) => {
                    if let Some(Value::Object(c)) = m.get_mut("custom") {
                        c.remove(key);
                    }
                }
                None => {
                    m.remove(h);
                    if h == "phones" {
                        m.remove("phones_e164");
                        m.remove("phones_unverified");
                    }
                }
            }
        }
    }

    /// Removes hidden fields from a history entry (changed fields and field lists).
    pub fn redact_history(&self, entry: &mut Value) {
        if self.hidden.is_empty() {
            return;
        }
        if let Some(Value::Array(changes)) = entry.get_mut("changes") {
            changes.retain(|c| !c["field"].as_str().is_some_and(|f| self.hides(f)));
        }
        if let Some(Value::Array(fields)) = entry.get_mut("fields") {
            fields.retain(|f| !f.as_str().is_some_and(|f| self.hides(f)));
        }
    }

    /// Whether a per-field reason (dedup) or explain entry may be shown.
    pub fn shows_field(&self, field: &str) -> bool {
        let base = match field {
            "phone" => "phones",
            "email" => "emails",
            "custom" => return !self.hidden.iter().any(|h| h.starts_with("custom.")),
            other => other,
        };
        !self.hides(base)
    }
}

fn describe(a: Action) -> &'static str {
    match a {
        Action::Search => "read or search contacts",
        Action::Write => "write contacts",
        Action::Dedup => "run or read duplicate detection",
        Action::Merge => "merge or unmerge contacts",
        Action::Admin => "administer keys, settings, fields, metrics or GDPR requests",
    }
}

fn filter_fields(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(f) = m.get("field").and_then(Value::as_str) {
                out.push(f.to_string());
            }
            for k in ["and", "or", "not"] {
                if let Some(x) = m.get(k) {
                    filter_fields(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| filter_fields(x, out)),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// keys

/// A request to create a key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyInput {
    pub actions: Vec<Action>,
    pub workspaces: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// A stored key: never the secret, only its hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: String,
    pub hash: String,
    pub actions: BTreeSet<Action>,
    pub workspaces: BTreeSet<String>,
    pub description: Option<String>,
    pub created_at: String,
    pub created_by: String,
}

impl KeyRecord {
    /// The key as listed (no hash).
    pub fn public(&self) -> Value {
        json!({"id": self.id, "actions": self.actions, "workspaces": self.workspaces,
               "description": self.description, "created_at": self.created_at, "created_by": self.created_by})
    }

    pub fn scope(&self) -> Scope {
        Scope {
            principal: format!("key:{}", self.id),
            actions: self.actions.clone(),
            workspaces: if self.workspaces.contains("*") {
                None
            } else {
                Some(self.workspaces.clone())
            },
            filter: None,
            hidden: BTreeSet::new(),
            is_token: false,
        }
    }
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Constant-time equality.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn random_b64(n: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; n];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Checks a key request against its creator (a key can only hand out what it holds) and
/// makes the record and the secret key string (shown once).
pub fn new_key(input: KeyInput, creator: &Scope, now: &str) -> Result<(KeyRecord, String), AccessError> {
    if creator.is_token {
        return Err(AccessError::Forbidden("an agent token cannot create keys".into()));
    }
    if input.actions.is_empty() {
        return Err(AccessError::BadRequest(
            "actions: name at least one of search, write, dedup, merge, admin".into(),
        ));
    }
    if input.workspaces.is_empty() {
        return Err(AccessError::BadRequest(
            "workspaces: name at least one workspace, or [\"*\"] for all".into(),
        ));
    }
    for w in &input.workspaces {
        if w != "*" {
            crate::model::validate_workspace_id(w).map_err(|e| AccessError::BadRequest(format!("workspaces: {e}")))?;
        }
        let ok = if w == "*" {
            creator.workspaces.is_none()
        } else {
            creator.may_use_workspace(w)
        };
        if !ok {
            return Err(AccessError::Forbidden(format!(
                "workspaces: {w:?} is beyond this credential's own workspaces"
            )));
        }
    }
    for a in &input.actions {
        if !creator.actions.contains(a) {
            return Err(AccessError::Forbidden(format!(
                "actions: {:?} is beyond this credential's own actions",
                a.as_str()
            )));
        }
    }
    if input.description.as_ref().is_some_and(|d| d.chars().count() > 512) {
        return Err(AccessError::BadRequest("description: at most 512 characters".into()));
    }
    let id = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
    let secret = random_b64(32);
    let record = KeyRecord {
        id: id.clone(),
        hash: sha256_hex(&secret),
        actions: input.actions.into_iter().collect(),
        workspaces: input.workspaces.into_iter().collect(),
        description: input.description,
        created_at: now.into(),
        created_by: creator.principal.clone(),
    };
    Ok((record, format!("cdxk_{id}_{secret}")))
}

/// Splits a presented key into (id, secret).
pub fn parse_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("cdxk_")?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 16 && !secret.is_empty()).then_some((id, secret))
}

/// Whether `secret` is the key stored as `record`.
pub fn key_matches(record: &KeyRecord, secret: &str) -> bool {
    constant_time_eq(sha256_hex(secret).as_bytes(), record.hash.as_bytes())
}

// ---------------------------------------------------------------------------------------
// tokens

/// A request to create an agent token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    pub workspace: String,
    #[serde(default)]
    pub filter: Option<Value>,
    #[serde(default)]
    pub hidden_fields: Vec<String>,
    pub expires_at: String,
    /// Defaults to the parent's actions without admin.
    #[serde(default)]
    pub actions: Option<Vec<Action>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenClaims {
    /// The parent key's id, or `master` / `open`.
    pub kid: String,
    pub ws: String,
    #[serde(default)]
    pub filter: Option<Value>,
    #[serde(default)]
    pub hidden: BTreeSet<String>,
    pub actions: BTreeSet<Action>,
    /// Unix seconds.
    pub exp: i64,
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], payload: &str) -> Vec<u8> {
    // HMAC takes keys of any length.
    let mut m = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    m.update(payload.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// Checks a token request against its parent and makes the claims.
pub fn new_token(input: TokenInput, parent: &Scope, parent_id: &str, now: i64) -> Result<TokenClaims, AccessError> {
    if parent.is_token {
        return Err(AccessError::Forbidden("an agent token cannot create tokens".into()));
    }
    crate::model::validate_workspace_id(&input.workspace).map_err(|e| AccessError::BadRequest(e.to_string()))?;
    if !parent.may_use_workspace(&input.workspace) {
        return Err(AccessError::Forbidden(format!(
            "workspace {:?} is beyond this credential's own workspaces",
            input.workspace
        )));
    }
    let exp = chrono::DateTime::parse_from_rfc3339(&input.expires_at)
        .map_err(|_| AccessError::BadRequest("expires_at: use an RFC 3339 time, e.g. 2026-12-01T00:00:00Z".into()))?
        .timestamp();
    if exp <= now {
        return Err(AccessError::BadRequest("expires_at: the time is already past".into()));
    }
    for h in &input.hidden_fields {
        if !hideable(h) {
            return Err(AccessError::BadRequest(format!(
                "hidden_fields: {h:?} cannot be hidden; use one of {HIDEABLE}"
            )));
        }
    }
    if let Some(f) = &input.filter {
        crate::search::parse_filter(f).map_err(|e| AccessError::BadRequest(format!("filter: {e}")))?;
    }
    let actions: BTreeSet<Action> = match input.actions {
        Some(a) => {
            for x in &a {
                if !parent.actions.contains(x) || *x == Action::Admin {
                    return Err(AccessError::Forbidden(format!(
                        "actions: {:?} is beyond what a token derived from this credential may do",
                        x.as_str()
                    )));
                }
            }
            a.into_iter().collect()
        }
        None => parent.actions.iter().copied().filter(|a| *a != Action::Admin).collect(),
    };
    if actions.is_empty() {
        return Err(AccessError::BadRequest("the token would allow no action".into()));
    }
    Ok(TokenClaims {
        kid: parent_id.into(),
        ws: input.workspace,
        filter: input.filter,
        hidden: input.hidden_fields.into_iter().collect(),
        actions,
        exp,
    })
}

/// Signs claims into a token string.
pub fn sign_token(claims: &TokenClaims, secret: &[u8]) -> String {
    let payload =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac(secret, &payload));
    format!("cdxt_{payload}.{sig}")
}

/// Verifies a token's signature and expiry; the caller checks the parent still exists.
pub fn verify_token(token: &str, secret: &[u8], now: i64) -> Result<TokenClaims, AccessError> {
    let bad = || AccessError::Unauthenticated("the token is not valid".into());
    let rest = token.strip_prefix("cdxt_").ok_or_else(bad)?;
    let (payload, sig) = rest.split_once('.').ok_or_else(bad)?;
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| bad())?;
    if !constant_time_eq(&mac(secret, payload), &sig) {
        return Err(bad());
    }
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| bad())?;
    let claims: TokenClaims = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if claims.exp <= now {
        return Err(AccessError::Unauthenticated("the token has expired".into()));
    }
    Ok(claims)
}

/// The scope of a verified token, narrowed by its parent's scope.
pub fn token_scope(claims: &TokenClaims, parent: &Scope) -> Scope {
    Scope {
        principal: format!("token:{}", claims.kid),
        actions: claims.actions.intersection(&parent.actions).copied().collect(),
        workspaces: if parent.may_use_workspace(&claims.ws) {
            Some([claims.ws.clone()].into_iter().collect())
        } else {
            Some(BTreeSet::new())
        },
        filter: claims.filter.clone(),
        hidden: claims.hidden.clone(),
        is_token: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_scope(actions: &[Action], ws: &[&str]) -> Scope {
        Scope {
            principal: "key:k".into(),
            actions: actions.iter().copied().collect(),
            workspaces: Some(ws.iter().map(|s| s.to_string()).collect()),
            filter: None,
            hidden: BTreeSet::new(),
            is_token: false,
        }
    }

    #[test]
    fn keys_hash_and_match_in_constant_time() {
        let (rec, key) = new_key(
            KeyInput {
                actions: vec![Action::Search],
                workspaces: vec!["acme".into()],
                description: None,
            },
            &Scope::full("master"),
            "now",
        )
        .unwrap();
        let (id, secret) = parse_key(&key).unwrap();
        assert_eq!(id, rec.id);
        assert!(!rec.hash.contains(secret));
        assert!(key_matches(&rec, secret));
        assert!(!key_matches(&rec, "wrong"));
        assert!(parse_key("cdxk_short_x").is_none());
        assert!(parse_key("Bearer x").is_none());
    }

    #[test]
    fn a_key_cannot_hand_out_more_than_it_holds() {
        let parent = key_scope(&[Action::Search, Action::Admin], &["acme"]);
        let mk = |actions: Vec<Action>, ws: Vec<&str>| {
            new_key(
                KeyInput {
                    actions,
                    workspaces: ws.into_iter().map(String::from).collect(),
                    description: None,
                },
                &parent,
                "now",
            )
        };
        assert!(mk(vec![Action::Search], vec!["acme"]).is_ok());
        assert!(matches!(
            mk(vec![Action::Write], vec!["acme"]),
            Err(AccessError::Forbidden(_))
        ));
        assert!(matches!(
            mk(vec![Action::Search], vec!["other"]),
            Err(AccessError::Forbidden(_))
        ));
        assert!(matches!(
            mk(vec![Action::Search], vec!["*"]),
            Err(AccessError::Forbidden(_))
        ));
        assert!(matches!(mk(vec![], vec!["acme"]), Err(AccessError::BadRequest(_))));
    }

    #[test]
    fn tokens_verify_expire_and_resist_tampering() {
        let parent = key_scope(&[Action::Search, Action::Write, Action::Admin], &["acme"]);
        let claims = new_token(
            TokenInput {
                workspace: "acme".into(),
                filter: Some(json!({"field": "tags", "op": "eq", "value": "mine"})),
                hidden_fields: vec!["phones".into()],
                expires_at: "2030-01-01T00:00:00Z".into(),
                actions: None,
            },
            &parent,
            "k",
            1_700_000_000,
        )
        .unwrap();
        assert!(!claims.actions.contains(&Action::Admin));
        let secret = b"server secret";
        let t = sign_token(&claims, secret);
        assert_eq!(verify_token(&t, secret, 1_700_000_000).unwrap(), claims);
        assert!(verify_token(&t, b"other secret", 1_700_000_000).is_err());
        assert!(verify_token(&t, secret, 2_000_000_000).is_err(), "expired");
        // a tampered payload (wider workspace) fails the MAC
        let mut wider = claims.clone();
        wider.ws = "other".into();
        let forged = sign_token(&wider, b"guess");
        assert!(verify_token(&forged, secret, 1_700_000_000).is_err());
        let (p, s) = t.split_once('.').unwrap();
        assert!(verify_token(&format!("{p}x.{s}"), secret, 1_700_000_000).is_err());
        // a token's scope never exceeds its parent's
        let narrower_parent = key_scope(&[Action::Search], &["acme"]);
        let sc = token_scope(&claims, &narrower_parent);
        assert_eq!(sc.actions, [Action::Search].into_iter().collect());
        let elsewhere = key_scope(&[Action::Search], &["other"]);
        assert!(!token_scope(&claims, &elsewhere).may_use_workspace("acme"));
    }

    #[test]
    fn tokens_refuse_widening_and_bad_fields() {
        let parent = key_scope(&[Action::Search], &["acme"]);
        let mk = |ws: &str, hidden: Vec<&str>, actions: Option<Vec<Action>>, exp: &str| {
            new_token(
                TokenInput {
                    workspace: ws.into(),
                    filter: None,
                    hidden_fields: hidden.into_iter().map(String::from).collect(),
                    expires_at: exp.into(),
                    actions,
                },
                &parent,
                "k",
                1_700_000_000,
            )
        };
        let future = "2030-01-01T00:00:00Z";
        assert!(mk("acme", vec!["phones", "custom.tier"], None, future).is_ok());
        assert!(mk("other", vec![], None, future).is_err());
        assert!(mk("acme", vec!["shoe"], None, future).is_err());
        assert!(mk("acme", vec![], Some(vec![Action::Write]), future).is_err());
        assert!(mk("acme", vec![], None, "2000-01-01T00:00:00Z").is_err());
        assert!(mk("acme", vec![], None, "tomorrow").is_err());
    }

    #[test]
    fn redaction_and_search_scoping() {
        let mut s = Scope::full("t");
        s.is_token = true;
        s.hidden = ["phones".to_string(), "custom.salary".to_string()]
            .into_iter()
            .collect();
        s.filter = Some(json!({"field": "tags", "op": "eq", "value": "mine"}));
        let mut doc = json!({"id": "a", "name": "Ana", "phones": ["1"], "phones_e164": ["+1"],
                             "custom": {"salary": 10, "tier": "Gold"}});
        s.redact(&mut doc);
        assert_eq!(doc, json!({"id": "a", "name": "Ana", "custom": {"tier": "Gold"}}));
        let mut req = SearchRequest {
            filter: Some(json!({"field": "phones", "op": "exists", "value": true})),
            ..Default::default()
        };
        assert!(s.scope_search(&mut req).is_err());
        let mut req = SearchRequest {
            facets: Some(vec!["custom.salary".into()]),
            ..Default::default()
        };
        assert!(s.scope_search(&mut req).is_err());
        let mut req = SearchRequest {
            q: Some("ana".into()),
            ..Default::default()
        };
        s.scope_search(&mut req).unwrap();
        assert_eq!(req.filter, s.filter);
        assert!(req.hidden.phones && req.hidden.custom && !req.hidden.name);
    }
}

//! The data model: contacts as received and as stored, custom field definitions and
//! workspace settings, with validation against the contract.
//!
//! A [`ContactInput`] is what a client sends; [`Contact::from_input`] checks it against the
//! workspace's settings and field definitions and normalises it once (phones parsed, emails
//! lower-cased, dates in UTC). The stored [`Contact`] keeps both the text as typed and the
//! normalised forms, so nothing is parsed again on the read or index path.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::normalize;

/// Limits on the size of one contact's fields.
pub mod limits {
    pub const NAME_CHARS: usize = 1024;
    pub const LIST_ITEMS: usize = 64;
    pub const PHONE_CHARS: usize = 64;
    pub const EMAIL_CHARS: usize = 254;
    pub const TAG_CHARS: usize = 128;
    pub const TAGS: usize = 256;
    pub const CUSTOM_KEYS: usize = 256;
    pub const TEXT_CHARS: usize = 4096;
    pub const LONG_TEXT_CHARS: usize = 65_536;
    pub const SHORT_CHARS: usize = 256;
    pub const URL_CHARS: usize = 2048;
}

/// A value a client sent that the contract does not allow. User error: the message says
/// which field and what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError {
            field: field.into(),
            message: message.into(),
        }
    }
}

type VResult<T> = Result<T, ValidationError>;

/// Checks a workspace id: `[a-z0-9][a-z0-9_-]{0,63}`.
pub fn validate_workspace_id(ws: &str) -> VResult<()> {
    let ok = !ws.is_empty()
        && ws.len() <= 64
        && ws
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_lowercase() || b.is_ascii_digit() || (i > 0 && (b == b'_' || b == b'-')));
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            "workspace",
            format!("workspace id {ws:?} is not valid: use 1–64 chars of [a-z0-9_-], starting with a letter or digit"),
        ))
    }
}

/// Checks a contact id: 1–128 chars of `[A-Za-z0-9._:-]`.
pub fn validate_contact_id(id: &str) -> VResult<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            "id",
            format!(
                "contact id {:?} is not valid: use 1–128 chars of [A-Za-z0-9._:-]",
                truncate(id, 140)
            ),
        ))
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Per-workspace settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkspaceSettings {
    /// ISO 3166-1 alpha-2 region for phones written without a country code.
    pub default_region: String,
    /// Unverified phones are errors instead of being kept as typed.
    pub strict_phones: bool,
    /// Unknown custom keys create a `text` field on first sight.
    pub auto_create_fields: bool,
}

impl Default for WorkspaceSettings {
    fn default() -> Self {
        WorkspaceSettings {
            default_region: "US".into(),
            strict_phones: false,
            auto_create_fields: false,
        }
    }
}

impl WorkspaceSettings {
    /// Checks the region code and upper-cases it.
    pub fn validate(&self) -> VResult<()> {
        if normalize::parse_region(&self.default_region).is_none() {
            return Err(ValidationError::new(
                "default_region",
                format!(
                    "{:?} is not a known region: use an ISO 3166-1 alpha-2 code like \"BR\" or \"US\"",
                    self.default_region
                ),
            ));
        }
        Ok(())
    }

    pub fn normalized(mut self) -> VResult<Self> {
        self.default_region = self.default_region.trim().to_ascii_uppercase();
        self.validate()?;
        Ok(self)
    }

    /// The phone region (validated at write time; falls back to US if the stored one is
    /// somehow unknown).
    pub fn region(&self) -> phonenumber::country::Id {
        normalize::parse_region(&self.default_region).unwrap_or(phonenumber::country::Id::US)
    }
}

/// The ten custom field types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    LongText,
    Number,
    Date,
    SingleSelect,
    MultiSelect,
    Checkbox,
    Url,
    Email,
    Phone,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::LongText => "long_text",
            FieldType::Number => "number",
            FieldType::Date => "date",
            FieldType::SingleSelect => "single_select",
            FieldType::MultiSelect => "multi_select",
            FieldType::Checkbox => "checkbox",
            FieldType::Url => "url",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
        }
    }
}

/// A custom field definition of one workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDef {
    pub key: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// Body of `PUT …/fields/{key}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDefInput {
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub options: Vec<String>,
}

/// Checks a custom field key: `[a-z][a-z0-9_]{0,63}`.
pub fn validate_field_key(key: &str) -> VResult<()> {
    let ok = !key.is_empty()
        && key.len() <= 64
        && key.as_bytes()[0].is_ascii_lowercase()
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            "key",
            format!(
                "field key {:?} is not valid: use 1–64 chars of [a-z0-9_], starting with a letter",
                truncate(key, 80)
            ),
        ))
    }
}

impl FieldDef {
    pub fn new(key: &str, field_type: FieldType, label: Option<String>, options: Vec<String>) -> VResult<FieldDef> {
        validate_field_key(key)?;
        let is_select = matches!(field_type, FieldType::SingleSelect | FieldType::MultiSelect);
        if is_select && options.is_empty() {
            return Err(ValidationError::new(
                "options",
                format!(
                    "field {key:?} of type {} needs a non-empty \"options\" list",
                    field_type.as_str()
                ),
            ));
        }
        if !is_select && !options.is_empty() {
            return Err(ValidationError::new(
                "options",
                format!("field {key:?} of type {} takes no \"options\"", field_type.as_str()),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for o in &options {
            if o.trim().is_empty() || o.chars().count() > limits::SHORT_CHARS {
                return Err(ValidationError::new("options", "options must be 1–256 chars each"));
            }
            if !seen.insert(normalize::fold(o)) {
                return Err(ValidationError::new("options", format!("option {o:?} is listed twice")));
            }
        }
        if label.as_ref().is_some_and(|l| l.chars().count() > limits::SHORT_CHARS) {
            return Err(ValidationError::new("label", "label must be at most 256 chars"));
        }
        Ok(FieldDef {
            key: key.to_string(),
            field_type,
            label,
            options,
        })
    }
}

/// A contact as a client sends it (PUT, POST, bulk line, merged PATCH).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phones: Option<Vec<String>>,
    #[serde(default)]
    pub emails: Option<Vec<String>>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default, alias = "custom_fields")]
    pub custom: Option<Map<String, Value>>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub photo_url: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub last_interaction_at: Option<String>,
    // Derived fields of a response, accepted (and ignored) so a read document can be
    // written back as it is.
    #[serde(default, rename = "phones_e164")]
    pub _phones_e164: Option<Value>,
    #[serde(default, rename = "phones_unverified")]
    pub _phones_unverified: Option<Value>,
    #[serde(default, rename = "updated_at")]
    pub _updated_at: Option<Value>,
    #[serde(default, rename = "workspace")]
    pub _workspace: Option<Value>,
}

/// One phone as stored: as typed plus its normalised forms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phone {
    pub raw: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e164: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national: Option<String>,
    pub digits: String,
    pub verified: bool,
}

/// Contact status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Inactive,
    Blocked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Inactive => "inactive",
            Status::Blocked => "blocked",
        }
    }
}

/// A contact as stored in sled (the source of truth) and rendered to clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
    /// Lower-cased, trimmed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Validated against the field definitions (selects in their canonical spelling,
    /// numbers as numbers, dates as `YYYY-MM-DD` or RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_url: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_interaction_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// Formats a timestamp the way the API shows it: RFC 3339, UTC, `Z`.
pub fn fmt_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Parses an RFC 3339 timestamp or a `YYYY-MM-DD` date (midnight UTC), in the years
/// 1700–2200 (the index stores times as i64 nanoseconds).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    use chrono::Datelike;
    let s = s.trim();
    let t = match DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()?
            .and_hms_opt(0, 0, 0)?
            .and_utc(),
    };
    (1700..=2200).contains(&t.year()).then_some(t)
}

/// What the engine needs to know about a workspace to validate a contact.
pub struct WriteContext<'a> {
    pub settings: &'a WorkspaceSettings,
    pub fields: &'a BTreeMap<String, FieldDef>,
}

/// The result of validating one contact.
pub struct Validated {
    pub contact: Contact,
    /// Text fields to create because the workspace auto-creates fields.
    pub new_fields: Vec<FieldDef>,
}

fn check_len(field: &str, s: &str, max: usize) -> VResult<()> {
    if s.chars().count() > max {
        return Err(ValidationError::new(field, format!("is longer than {max} characters")));
    }
    Ok(())
}

fn opt_text(field: &str, v: Option<String>, max: usize) -> VResult<Option<String>> {
    match v {
        None => Ok(None),
        Some(s) => {
            let t = s.trim();
            check_len(field, t, max)?;
            Ok(if t.is_empty() { None } else { Some(t.to_string()) })
        }
    }
}

fn list(field: &str, v: Option<Vec<String>>, max_items: usize) -> VResult<Vec<String>> {
    let v = v.unwrap_or_default();
    if v.len() > max_items {
        return Err(ValidationError::new(
            field,
            format!("has {} items; at most {max_items} are allowed", v.len()),
        ));
    }
    Ok(v)
}

impl Contact {
    /// Validates and normalises a client's contact. `id` is the id from the path (or a
    /// generated one); a different id in the body is an error. `previous` keeps
    /// `created_at` stable across upserts.
    pub fn from_input(
        id: &str,
        input: ContactInput,
        ctx: &WriteContext<'_>,
        previous: Option<&Contact>,
        now: DateTime<Utc>,
    ) -> VResult<Validated> {
        validate_contact_id(id)?;
        if let Some(body_id) = &input.id {
            if body_id != id {
                return Err(ValidationError::new(
                    "id",
                    format!("the body's id {body_id:?} differs from the path's id {id:?}"),
                ));
            }
        }
        let name = opt_text("name", input.name, limits::NAME_CHARS)?;

        let region = ctx.settings.region();
        let mut phones = Vec::new();
        let mut seen_phones = std::collections::HashSet::new();
        for (i, raw) in list("phones", input.phones, limits::LIST_ITEMS)?
            .into_iter()
            .enumerate()
        {
            let field = format!("phones[{i}]");
            check_len(&field, &raw, limits::PHONE_CHARS)?;
            let p = normalize::normalize_phone(&raw, region, ctx.settings.strict_phones)
                .map_err(|e| ValidationError::new(field, e.to_string()))?;
            let key = p.e164.clone().unwrap_or_else(|| p.digits.clone());
            if seen_phones.insert(key) {
                phones.push(Phone {
                    raw: p.raw,
                    e164: p.e164,
                    national: p.national,
                    digits: p.digits,
                    verified: p.verified,
                });
            }
        }

        let mut emails = Vec::new();
        for (i, raw) in list("emails", input.emails, limits::LIST_ITEMS)?
            .into_iter()
            .enumerate()
        {
            let field = format!("emails[{i}]");
            check_len(&field, &raw, limits::EMAIL_CHARS)?;
            let e = normalize::normalize_email(&raw).map_err(|e| ValidationError::new(field, e.to_string()))?;
            if !emails.contains(&e.lower) {
                emails.push(e.lower);
            }
        }

        let mut tags: Vec<String> = Vec::new();
        for (i, t) in list("tags", input.tags, limits::TAGS)?.into_iter().enumerate() {
            let t = t.trim().to_string();
            let field = format!("tags[{i}]");
            check_len(&field, &t, limits::TAG_CHARS)?;
            if t.is_empty() {
                return Err(ValidationError::new(field, "a tag cannot be empty"));
            }
            let f = normalize::fold(&t);
            if !tags.iter().any(|x| normalize::fold(x) == f) {
                tags.push(t);
            }
        }

        let mut custom = BTreeMap::new();
        let mut new_fields = Vec::new();
        let input_custom = input.custom.unwrap_or_default();
        if input_custom.len() > limits::CUSTOM_KEYS {
            return Err(ValidationError::new(
                "custom",
                format!("at most {} keys are allowed", limits::CUSTOM_KEYS),
            ));
        }
        for (key, value) in input_custom {
            if value.is_null() {
                continue;
            }
            let field = format!("custom.{key}");
            let def = match ctx.fields.get(&key) {
                Some(d) => d.clone(),
                None if ctx.settings.auto_create_fields => {
                    let d = FieldDef::new(&key, FieldType::Text, None, Vec::new())
                        .map_err(|e| ValidationError::new(&field, e.message))?;
                    new_fields.push(d.clone());
                    d
                }
                None => {
                    return Err(ValidationError::new(
                        &field,
                        format!(
                            "no custom field {key:?} is defined in this workspace: define it with PUT /v1/workspaces/{{ws}}/fields/{key} (defined: {})",
                            ctx.fields.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    ))
                }
            };
            let v = check_custom_value(&def, value, region, ctx.settings.strict_phones)
                .map_err(|m| ValidationError::new(&field, m))?;
            custom.insert(key, v);
        }

        let source = opt_text("source", input.source, limits::SHORT_CHARS)?;
        let status = match opt_text("status", input.status, limits::SHORT_CHARS)? {
            None => None,
            Some(s) => Some(match s.to_ascii_lowercase().as_str() {
                "active" => Status::Active,
                "inactive" => Status::Inactive,
                "blocked" => Status::Blocked,
                _ => {
                    return Err(ValidationError::new(
                        "status",
                        format!("{s:?} is not a status: use active, inactive or blocked"),
                    ))
                }
            }),
        };
        let photo_url = opt_text("photo_url", input.photo_url, limits::URL_CHARS)?;
        let created_by = opt_text("created_by", input.created_by, limits::SHORT_CHARS)?;
        let time = |field: &str, v: Option<String>| -> VResult<Option<DateTime<Utc>>> {
            match opt_text(field, v, limits::SHORT_CHARS)? {
                None => Ok(None),
                Some(s) => parse_time(&s).map(Some).ok_or_else(|| {
                    ValidationError::new(
                        field,
                        format!(
                            "{s:?} is not a date: use RFC 3339 (2025-03-01T12:00:00Z) or YYYY-MM-DD, years 1700–2200"
                        ),
                    )
                }),
            }
        };
        let created_at = time("created_at", input.created_at)?
            .or(previous.map(|p| p.created_at))
            .unwrap_or(now);
        let last_interaction_at = time("last_interaction_at", input.last_interaction_at)?;

        Ok(Validated {
            contact: Contact {
                id: id.to_string(),
                name,
                phones,
                emails,
                tags,
                custom,
                source,
                status,
                photo_url,
                created_at,
                created_by,
                last_interaction_at,
                updated_at: now,
            },
            new_fields,
        })
    }

    /// The document as the API shows it: the contract's shape plus normalised forms
    /// (`phones_e164`, `phones_unverified`) and `updated_at`.
    pub fn to_api(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), Value::String(self.id.clone()));
        if let Some(n) = &self.name {
            m.insert("name".into(), Value::String(n.clone()));
        }
        m.insert(
            "phones".into(),
            self.phones.iter().map(|p| Value::String(p.raw.clone())).collect(),
        );
        m.insert(
            "phones_e164".into(),
            self.phones
                .iter()
                .filter_map(|p| p.e164.clone().map(Value::String))
                .collect(),
        );
        let unverified: Vec<Value> = self
            .phones
            .iter()
            .filter(|p| !p.verified)
            .map(|p| Value::String(p.raw.clone()))
            .collect();
        if !unverified.is_empty() {
            m.insert("phones_unverified".into(), Value::Array(unverified));
        }
        m.insert(
            "emails".into(),
            self.emails.iter().cloned().map(Value::String).collect(),
        );
        m.insert("tags".into(), self.tags.iter().cloned().map(Value::String).collect());
        m.insert(
            "custom".into(),
            Value::Object(self.custom.clone().into_iter().collect()),
        );
        if let Some(s) = &self.source {
            m.insert("source".into(), Value::String(s.clone()));
        }
        if let Some(s) = self.status {
            m.insert("status".into(), Value::String(s.as_str().into()));
        }
        if let Some(s) = &self.photo_url {
            m.insert("photo_url".into(), Value::String(s.clone()));
        }
        m.insert("created_at".into(), Value::String(fmt_time(&self.created_at)));
        if let Some(s) = &self.created_by {
            m.insert("created_by".into(), Value::String(s.clone()));
        }
        if let Some(t) = &self.last_interaction_at {
            m.insert("last_interaction_at".into(), Value::String(fmt_time(t)));
        }
        m.insert("updated_at".into(), Value::String(fmt_time(&self.updated_at)));
        Value::Object(m)
    }

    /// The document in input shape (what a PATCH is merged into).
    pub fn to_input_json(&self) -> Map<String, Value> {
        let mut v = match self.to_api() {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        v.remove("phones_e164");
        v.remove("phones_unverified");
        v.remove("updated_at");
        v
    }
}

/// Applies a JSON merge patch (RFC 7396) to `target`: objects merge key by key, `null`
/// removes a key, anything else replaces.
pub fn merge_patch(target: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (k, v) in patch {
        match v {
            Value::Null => {
                target.remove(&k);
            }
            Value::Object(p) => match target.get_mut(&k) {
                Some(Value::Object(t)) => merge_patch(t, p),
                _ => {
                    let mut t = Map::new();
                    merge_patch(&mut t, p);
                    target.insert(k, Value::Object(t));
                }
            },
            other => {
                target.insert(k, other);
            }
        }
    }
}

/// Checks one custom value against its definition and returns its stored form.
pub fn check_custom_value(
    def: &FieldDef,
    value: Value,
    region: phonenumber::country::Id,
    strict_phones: bool,
) -> Result<Value, String> {
    let t = def.field_type.as_str();
    let want = |what: &str, got: &Value| format!("field of type {t} needs {what}, got {}", json_kind(got));
    match def.field_type {
        FieldType::Text | FieldType::LongText => match value {
            Value::String(s) => {
                let max = if def.field_type == FieldType::Text {
                    limits::TEXT_CHARS
                } else {
                    limits::LONG_TEXT_CHARS
                };
                if s.chars().count() > max {
                    return Err(format!("text is longer than {max} characters"));
                }
                Ok(Value::String(s))
            }
            Value::Number(n) => Ok(Value::String(n.to_string())),
            other => Err(want("a string", &other)),
        },
        FieldType::Number => match value {
            Value::Number(n) => {
                if n.as_f64().is_some_and(|f| f.is_finite()) {
                    Ok(Value::Number(n))
                } else {
                    Err("number is not finite".into())
                }
            }
            Value::String(s) => {
                let f: f64 = s.trim().parse().map_err(|_| format!("{s:?} is not a number"))?;
                serde_json::Number::from_f64(f)
                    .map(|n| {
                        if f.fract() == 0.0 && f.abs() < 9e15 {
                            Value::Number((f as i64).into())
                        } else {
                            Value::Number(n)
                        }
                    })
                    .ok_or_else(|| format!("{s:?} is not a finite number"))
            }
            other => Err(want("a number", &other)),
        },
        FieldType::Date => match value {
            Value::String(s) => {
                let s = s.trim();
                match parse_time(s) {
                    Some(_) if s.len() == 10 => Ok(Value::String(s.to_string())),
                    Some(t) => Ok(Value::String(fmt_time(&t))),
                    None => Err(format!(
                        "{s:?} is not a date: use YYYY-MM-DD or RFC 3339, years 1700–2200"
                    )),
                }
            }
            other => Err(want("a date string (YYYY-MM-DD)", &other)),
        },
        FieldType::SingleSelect => match value {
            Value::String(s) => select_option(def, &s).map(Value::String),
            other => Err(want("one of its options as a string", &other)),
        },
        FieldType::MultiSelect => {
            let items = match value {
                Value::String(s) => vec![Value::String(s)],
                Value::Array(a) => a,
                other => return Err(want("a list of its options", &other)),
            };
            let mut out: Vec<Value> = Vec::new();
            for it in items {
                match it {
                    Value::String(s) => {
                        let o = Value::String(select_option(def, &s)?);
                        if !out.contains(&o) {
                            out.push(o);
                        }
                    }
                    other => return Err(want("a list of option strings", &other)),
                }
            }
            Ok(Value::Array(out))
        }
        FieldType::Checkbox => match value {
            Value::Bool(b) => Ok(Value::Bool(b)),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            other => Err(want("true or false", &other)),
        },
        FieldType::Url => match value {
            Value::String(s) => {
                let s = s.trim().to_string();
                let lower = s.to_ascii_lowercase();
                let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
                match rest {
                    Some(r) if !r.is_empty() && !s.contains(char::is_whitespace) && s.len() <= limits::URL_CHARS => {
                        Ok(Value::String(s))
                    }
                    _ => Err(format!("{s:?} is not an http(s) URL")),
                }
            }
            other => Err(want("a URL string", &other)),
        },
        FieldType::Email => match value {
            Value::String(s) => normalize::normalize_email(&s)
                .map(|e| Value::String(e.lower))
                .map_err(|e| e.to_string()),
            other => Err(want("an email string", &other)),
        },
        FieldType::Phone => match value {
            Value::String(s) => normalize::normalize_phone(&s, region, strict_phones)
                .map(|p| Value::String(p.raw))
                .map_err(|e| e.to_string()),
            other => Err(want("a phone string", &other)),
        },
    }
}

fn select_option(def: &FieldDef, s: &str) -> Result<String, String> {
    let f = normalize::fold(s.trim());
    def.options
        .iter()
        .find(|o| normalize::fold(o) == f)
        .cloned()
        .ok_or_else(|| {
            format!(
                "{s:?} is not an option of this field (options: {})",
                def.options.join(", ")
            )
        })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx_fields() -> BTreeMap<String, FieldDef> {
        let mut m = BTreeMap::new();
        for d in [
            FieldDef::new(
                "tier",
                FieldType::SingleSelect,
                None,
                vec!["Gold".into(), "Premium".into()],
            )
            .unwrap(),
            FieldDef::new("ltv", FieldType::Number, None, vec![]).unwrap(),
            FieldDef::new("renewal", FieldType::Date, None, vec![]).unwrap(),
            FieldDef::new("news", FieldType::Checkbox, None, vec![]).unwrap(),
            FieldDef::new("prods", FieldType::MultiSelect, None, vec!["A".into(), "B".into()]).unwrap(),
        ] {
            m.insert(d.key.clone(), d);
        }
        m
    }

    fn validate(v: Value) -> VResult<Contact> {
        let settings = WorkspaceSettings {
            default_region: "BR".into(),
            ..Default::default()
        };
        let fields = ctx_fields();
        let ctx = WriteContext {
            settings: &settings,
            fields: &fields,
        };
        let input: ContactInput = serde_json::from_value(v).map_err(|e| ValidationError::new("body", e.to_string()))?;
        Contact::from_input("c1", input, &ctx, None, Utc::now()).map(|v| v.contact)
    }

    #[test]
    fn ids_are_checked() {
        assert!(validate_workspace_id("acme").is_ok());
        assert!(validate_workspace_id("a_b-1").is_ok());
        assert!(validate_workspace_id("-a").is_err());
        assert!(validate_workspace_id("Acme").is_err());
        assert!(validate_workspace_id(&"a".repeat(65)).is_err());
        assert!(validate_contact_id("c-001:x.y_z").is_ok());
        assert!(validate_contact_id("").is_err());
        assert!(validate_contact_id("a b").is_err());
        assert!(validate_contact_id(&"a".repeat(129)).is_err());
    }

    #[test]
    fn custom_values_are_typed() {
        let c = validate(serde_json::json!({"custom": {"tier": "premium", "ltv": "15000", "renewal": "2025-12-31", "news": true, "prods": ["b", "A", "B"]}})).unwrap();
        assert_eq!(c.custom["tier"], "Premium");
        assert_eq!(c.custom["ltv"], 15000);
        assert_eq!(c.custom["prods"], serde_json::json!(["B", "A"]));
        assert!(validate(serde_json::json!({"custom": {"ltv": "lots"}})).is_err());
        assert!(validate(serde_json::json!({"custom": {"tier": "Bronze"}})).is_err());
        assert!(validate(serde_json::json!({"custom": {"news": 1}})).is_err());
        assert!(validate(serde_json::json!({"custom": {"renewal": "31/12/2025"}})).is_err());
        let e = validate(serde_json::json!({"custom": {"nope": "x"}})).unwrap_err();
        assert!(e.message.contains("no custom field"), "{e}");
    }

    #[test]
    fn status_and_dates_are_checked() {
        assert!(validate(serde_json::json!({"status": "deleted"})).is_err());
        assert!(validate(serde_json::json!({"created_at": "yesterday"})).is_err());
        let c = validate(serde_json::json!({"status": "Active", "created_at": "2025-03-01"})).unwrap();
        assert_eq!(c.status, Some(Status::Active));
        assert_eq!(fmt_time(&c.created_at), "2025-03-01T00:00:00Z");
    }

    #[test]
    fn body_id_must_match_path() {
        assert!(validate(serde_json::json!({"id": "other"})).is_err());
        assert!(validate(serde_json::json!({"id": "c1"})).is_ok());
    }

    #[test]
    fn unknown_top_level_fields_are_rejected() {
        assert!(validate(serde_json::json!({"phone": "123"})).is_err());
    }

    #[test]
    fn merge_patch_follows_rfc7396() {
        let mut t = serde_json::json!({"a": 1, "c": {"x": 1, "y": 2}})
            .as_object()
            .unwrap()
            .clone();
        let p = serde_json::json!({"a": null, "b": 2, "c": {"x": null, "z": 3}})
            .as_object()
            .unwrap()
            .clone();
        merge_patch(&mut t, p);
        assert_eq!(Value::Object(t), serde_json::json!({"b": 2, "c": {"y": 2, "z": 3}}));
    }

    #[test]
    fn stored_contact_round_trips_through_input_shape() {
        let c = validate(
            serde_json::json!({"name": "Ana", "emails": ["Ana@X.com"], "tags": ["vip", "VIP"], "custom": {"ltv": 10}}),
        )
        .unwrap();
        assert_eq!(c.emails, vec!["ana@x.com"]);
        assert_eq!(c.tags, vec!["vip"]);
        let back: ContactInput = serde_json::from_value(Value::Object(c.to_input_json())).unwrap();
        assert_eq!(back.name.as_deref(), Some("Ana"));
    }
}

//! Exchange formats for contacts: NDJSON and CSV rows (export now; CSV import reads the same
//! columns, so a file written by export imports back unchanged).
//!
//! CSV columns: `id, name, phone, email, tags, source, status, photo_url, created_at,
//! created_by, last_interaction_at`, then `custom.<key>` for every defined field. Lists
//! (phones, emails, tags, multi-select values) are joined with `;`.

use serde_json::Value;

use crate::model::{fmt_time, Contact, FieldDef};

/// The fixed columns before the custom ones.
pub const BASE_COLUMNS: &[&str] = &[
    "id",
    "name",
    "phone",
    "email",
    "tags",
    "source",
    "status",
    "photo_url",
    "created_at",
    "created_by",
    "last_interaction_at",
];

/// The header row for a workspace's definitions.
pub fn csv_header(defs: &[FieldDef]) -> Vec<String> {
    BASE_COLUMNS
        .iter()
        .map(|c| c.to_string())
        .chain(defs.iter().map(|d| format!("custom.{}", d.key)))
        .collect()
}

fn custom_cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(custom_cell).collect::<Vec<_>>().join(";"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// One contact as a CSV record matching [`csv_header`].
pub fn csv_row(c: &Contact, defs: &[FieldDef]) -> Vec<String> {
    let mut row = vec![
        c.id.clone(),
        c.name.clone().unwrap_or_default(),
        c.phones.iter().map(|p| p.raw.as_str()).collect::<Vec<_>>().join(";"),
        c.emails.join(";"),
        c.tags.join(";"),
        c.source.clone().unwrap_or_default(),
        c.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        c.photo_url.clone().unwrap_or_default(),
        fmt_time(&c.created_at),
        c.created_by.clone().unwrap_or_default(),
        c.last_interaction_at.as_ref().map(fmt_time).unwrap_or_default(),
    ];
    for d in defs {
        row.push(c.custom.get(&d.key).map(custom_cell).unwrap_or_default());
    }
    row
}

/// Writes records as CSV bytes.
pub fn csv_bytes(rows: &[Vec<String>]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        // Writing to a Vec cannot fail.
        let _ = w.write_record(r);
    }
    w.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let bytes = csv_bytes(&[vec![
            "a,b".into(),
            "line\nbreak".into(),
            "q\"uote".into(),
            "plain".into(),
        ]]);
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text, "\"a,b\",\"line\nbreak\",\"q\"\"uote\",plain\n");
    }
}

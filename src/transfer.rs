//! Exchange formats for contacts: NDJSON and CSV rows. CSV import reads the same columns
//! export writes, so a file written by export imports back unchanged.
//!
//! CSV columns: `id, name, phone, email, tags, source, status, photo_url, created_at,
//! created_by, last_interaction_at`, then `custom.<key>` for every defined field. Lists
//! (phones, emails, tags, multi-select values) are joined with `;`.

use std::io::{BufRead, BufReader, Read};

use serde_json::{Map, Value};

use crate::model::{fmt_time, Contact, ContactInput, FieldDef, FieldType};

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

/// A CSV import that cannot start (a header problem): nothing is stored.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("the CSV is empty: it needs a header row (id, name, phone, email, tags, custom.<key>, …)")]
    Empty,
    #[error("the CSV header has an unknown column {0:?}; columns are {cols} and custom.<key>", cols = BASE_COLUMNS.join(", "))]
    UnknownColumn(String),
    #[error("the CSV header names column {0:?} twice")]
    DuplicateColumn(String),
    #[error("the CSV header cannot be read: {0}")]
    Header(String),
}

/// One bad CSV row: its number (the header is row 1), the line it starts on, and which
/// column is wrong when one is.
#[derive(Debug, Clone)]
pub struct RowError {
    pub row: usize,
    pub line: usize,
    pub id: Option<String>,
    pub column: Option<String>,
    pub error: String,
}

/// A parsed CSV row.
pub struct CsvRow {
    pub row: usize,
    pub line: usize,
    pub input: ContactInput,
}

/// Reads contacts from CSV, streaming: header first (delimiter `,`, `;` or tab, detected
/// from it; an optional UTF-8 BOM), then one [`CsvRow`] or [`RowError`] per record. List
/// cells (phones, emails, tags, multi-select values) are `;`-separated.
pub struct CsvImport<R: Read> {
    records: csv::StringRecordsIntoIter<BufReader<Tail<R>>>,
    /// The record after the current one (to know which record is the last).
    ahead: Option<Result<csv::StringRecord, csv::Error>>,
    columns: Vec<String>,
    row: usize,
    types: std::collections::HashMap<String, FieldType>,
    last_byte: std::sync::Arc<std::sync::atomic::AtomicU8>,
    /// The csv reader reports a record's line one short when lines end in CRLF (it notes the
    /// position between the `\r` and the `\n`).
    line_shift: usize,
}

/// Remembers the last non-blank byte read, to tell a quote left open at the end of the file
/// (the csv reader silently ends such a cell at EOF) from a real multi-line cell.
struct Tail<R> {
    inner: R,
    last: std::sync::Arc<std::sync::atomic::AtomicU8>,
}

impl<R: Read> Read for Tail<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(b) = buf[..n].iter().rev().find(|b| !b.is_ascii_whitespace()) {
            self.last.store(*b, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(n)
    }
}

impl<R: Read> CsvImport<R> {
    pub fn new(input: R) -> Result<CsvImport<R>, CsvError> {
        let last_byte = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(0));
        let tail = Tail {
            inner: input,
            last: last_byte.clone(),
        };
        let mut buf = BufReader::with_capacity(256 * 1024, tail);
        let head = buf.fill_buf().map_err(|e| CsvError::Header(e.to_string()))?;
        if head.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(CsvError::Empty);
        }
        let delimiter = sniff_delimiter(head);
        let first_line = head.split(|b| *b == b'\n').next().unwrap_or(head);
        let line_shift = usize::from(first_line.len() < head.len() && first_line.ends_with(b"\r"));
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(true)
            .flexible(true)
            .from_reader(buf);
        let headers = reader.headers().map_err(|e| CsvError::Header(e.to_string()))?.clone();
        let mut columns: Vec<String> = Vec::new();
        for h in headers.iter() {
            let name = h.trim_start_matches('\u{feff}').trim();
            let col = match name.strip_prefix("custom.").or_else(|| name.strip_prefix("CUSTOM.")) {
                Some(key) if !key.is_empty() => format!("custom.{key}"),
                _ => {
                    let lower = name.to_ascii_lowercase();
                    let canonical = match lower.as_str() {
                        "phones" => "phone",
                        "emails" => "email",
                        "tag" => "tags",
                        other => other,
                    };
                    if !BASE_COLUMNS.contains(&canonical) {
                        return Err(CsvError::UnknownColumn(name.to_string()));
                    }
                    canonical.to_string()
                }
            };
            if columns.contains(&col) {
                return Err(CsvError::DuplicateColumn(col));
            }
            columns.push(col);
        }
        let mut records = reader.into_records();
        let ahead = records.next();
        Ok(CsvImport {
            records,
            ahead,
            columns,
            row: 1,
            types: Default::default(),
            last_byte,
            line_shift,
        })
    }

    /// The custom keys the header names.
    pub fn custom_keys(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter_map(|c| c.strip_prefix("custom.").map(String::from))
            .collect()
    }

    /// Field definitions, so typed cells (multi-select lists, checkboxes) are read right.
    pub fn with_fields(mut self, defs: &[FieldDef]) -> Self {
        self.types = defs.iter().map(|d| (d.key.clone(), d.field_type)).collect();
        self
    }

    fn to_input(&self, rec: &csv::StringRecord, row: usize, line: usize) -> Result<ContactInput, RowError> {
        let err = |column: Option<&str>, id: Option<String>, error: String| RowError {
            row,
            line,
            id,
            column: column.map(String::from),
            error,
        };
        if rec.len() != self.columns.len() && !(rec.len() < self.columns.len() && rec.iter().all(str::is_empty)) {
            return Err(err(
                None,
                rec.get(self.columns.iter().position(|c| c == "id").unwrap_or(usize::MAX))
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty()),
                format!(
                    "the row has {} cells but the header has {} columns (a broken quote or a stray delimiter)",
                    rec.len(),
                    self.columns.len()
                ),
            ));
        }
        let mut doc = Map::new();
        let mut custom = Map::new();
        for (col, cell) in self.columns.iter().zip(rec.iter()) {
            let cell = cell.trim();
            if cell.is_empty() {
                continue;
            }
            let list = || Value::Array(split_list(cell).map(|s| Value::String(s.to_string())).collect());
            match col.as_str() {
                "phone" => {
                    doc.insert("phones".into(), list());
                }
                "email" => {
                    doc.insert("emails".into(), list());
                }
                "tags" => {
                    doc.insert("tags".into(), list());
                }
                c => match c.strip_prefix("custom.") {
                    Some(key) => {
                        let v = match self.types.get(key) {
                            Some(FieldType::MultiSelect) => list(),
                            Some(FieldType::Checkbox) => match cell.to_ascii_lowercase().as_str() {
                                "true" | "yes" | "1" | "x" => Value::Bool(true),
                                "false" | "no" | "0" => Value::Bool(false),
                                _ => Value::String(cell.to_string()),
                            },
                            _ => Value::String(cell.to_string()),
                        };
                        custom.insert(key.to_string(), v);
                    }
                    None => {
                        doc.insert(c.to_string(), Value::String(cell.to_string()));
                    }
                },
            }
        }
        let id = doc.get("id").and_then(Value::as_str).map(String::from);
        if id.is_none() {
            return Err(err(Some("id"), None, "the row has no id".into()));
        }
        if !custom.is_empty() {
            doc.insert("custom".into(), Value::Object(custom));
        }
        serde_json::from_value(Value::Object(doc)).map_err(|e| err(None, id, e.to_string()))
    }
}

impl<R: Read> Iterator for CsvImport<R> {
    type Item = Result<CsvRow, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let rec = self.ahead.take()?;
            self.ahead = self.records.next();
            self.row += 1;
            let row = self.row;
            return Some(match rec {
                Ok(rec) => {
                    let line = rec
                        .position()
                        .map(|p| p.line() as usize + self.line_shift)
                        .unwrap_or(row);
                    if rec.iter().all(|c| c.trim().is_empty()) {
                        continue; // blank line
                    }
                    let open_quote = self.ahead.is_none()
                        && rec.iter().next_back().is_some_and(|c| c.contains('\n'))
                        && self.last_byte.load(std::sync::atomic::Ordering::Relaxed) != b'"';
                    if open_quote {
                        return Some(Err(RowError {
                            row,
                            line,
                            id: None,
                            column: self.columns.last().cloned(),
                            error: "a quote opened in this row is never closed: the cell runs to the end of the file"
                                .into(),
                        }));
                    }
                    self.to_input(&rec, row, line).map(|input| CsvRow { row, line, input })
                }
                Err(e) => {
                    if e.is_io_error() {
                        // the input itself failed (a body over its limit, a broken connection):
                        // stop; the caller reports why
                        self.ahead = None;
                        return None;
                    }
                    let line = e.position().map(|p| p.line() as usize + self.line_shift).unwrap_or(row);
                    let error = match e.kind() {
                        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8".to_string(),
                        _ => format!("the row cannot be read: {e}"),
                    };
                    Err(RowError {
                        row,
                        line,
                        id: None,
                        column: None,
                        error,
                    })
                }
            });
        }
    }
}

/// Splits a list cell on `;` (empty items dropped).
pub fn split_list(cell: &str) -> impl Iterator<Item = &str> {
    cell.split(';').map(str::trim).filter(|s| !s.is_empty())
}

/// The delimiter of a CSV, from its first line: the most frequent of `,` `;` tab outside
/// quotes (`,` on a tie or when none occurs).
pub fn sniff_delimiter(head: &[u8]) -> u8 {
    let line = head.split(|b| *b == b'\n').next().unwrap_or(head);
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for b in line {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let delims = [b',', b';', b'\t'];
    let mut best = 0;
    for i in 1..3 {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    delims[best]
}

/// The CSV column a validation error belongs to (`phones[1]` → `phone`).
pub fn column_of(field: &str) -> String {
    let base = field.split('[').next().unwrap_or(field);
    match base {
        "phones" => "phone".into(),
        "emails" => "email".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Vec<Result<CsvRow, RowError>> {
        CsvImport::new(text.as_bytes()).expect("header").collect()
    }

    #[test]
    fn reads_quotes_newlines_bom_and_crlf() {
        let text = "\u{feff}ID,Name,Phone,email,tags\r\n\
                    a1,\"Silva, José\",+5511987654321;(11) 3333-4444,j@x.com,vip;lead\r\n\
                    a2,\"Ana\nPaula\",,,\r\n";
        let r = rows(text);
        assert_eq!(r.len(), 2);
        let a1 = r[0].as_ref().expect("row 2");
        assert_eq!(a1.row, 2);
        assert_eq!(a1.input.name.as_deref(), Some("Silva, José"));
        assert_eq!(a1.input.phones.as_ref().map(Vec::len), Some(2));
        assert_eq!(a1.input.tags, Some(vec!["vip".to_string(), "lead".to_string()]));
        let a2 = r[1].as_ref().expect("row 3");
        assert_eq!(a2.input.name.as_deref(), Some("Ana\nPaula"));
        assert_eq!((a1.line, a2.line), (2, 3));
    }

    #[test]
    fn semicolon_delimiter_is_detected() {
        assert_eq!(sniff_delimiter(b"id;name;phone\n"), b';');
        assert_eq!(sniff_delimiter(b"id,name,\"a;b\"\n"), b',');
        assert_eq!(sniff_delimiter(b"id\tname\n"), b'\t');
        let r = rows("id;name;custom.tier\nx;Ana;Gold\n");
        let x = r[0].as_ref().expect("row");
        assert_eq!(
            x.input.custom.as_ref().and_then(|c| c.get("tier")),
            Some(&Value::String("Gold".into()))
        );
    }

    #[test]
    fn bad_rows_and_headers_are_reported() {
        assert!(matches!(
            CsvImport::new("id,shoe\n".as_bytes()),
            Err(CsvError::UnknownColumn(_))
        ));
        assert!(matches!(
            CsvImport::new("id,ID\n".as_bytes()),
            Err(CsvError::DuplicateColumn(_))
        ));
        assert!(matches!(CsvImport::new("".as_bytes()), Err(CsvError::Empty)));
        let r = rows("id,name\n,Nameless\nok,Fine\nx1,\"Unclosed,foo\nx2,Bar\n");
        let e = r[0].as_ref().err().expect("no id");
        assert_eq!((e.row, e.column.as_deref()), (2, Some("id")));
        assert!(r[1].is_ok());
        assert!(r[2].is_err(), "a broken quote swallows the rest into one bad row");
    }

    #[test]
    fn columns_of_validation_errors() {
        assert_eq!(column_of("phones[0]"), "phone");
        assert_eq!(column_of("emails[2]"), "email");
        assert_eq!(column_of("custom.tier"), "custom.tier");
    }

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

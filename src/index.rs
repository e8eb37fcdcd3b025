//! The full-text index: tantivy, derived from the store and rebuildable from it.
//!
//! Every searchable text is tokenised by [`crate::normalize`] before it reaches tantivy and
//! indexed as pre-made terms (raw tokenizer, one value per term), so the index, the query
//! builder and the dedup keys all share one normaliser.
//!
//! **Visibility.** Documents added through [`IndexWriter`] become searchable only after
//! [`IndexWriter::commit`] and [`SearchIndex::reload`]. A commit carries the store sequence it
//! covers in its payload; after a crash the engine replays the store's change log from there.
//! Contacts are NOT stored in the index (the store is the source of truth): only the id.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, JsonObjectOptions, Schema, TextFieldIndexing,
    TextOptions, FAST, STRING,
};
use tantivy::{DateTime, Index, IndexReader, ReloadPolicy, TantivyDocument, Term};

use crate::model::{Contact, FieldDef, FieldType};
use crate::normalize;

/// Bumped when the schema or the way documents are built changes: an index of another
/// version is rebuilt from the store at start-up.
pub const SCHEMA_VERSION: u32 = 7;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("tantivy: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("index directory {0}: {1}")]
    Io(String, std::io::Error),
    #[error("the index was built by another schema version ({0}); it must be rebuilt")]
    SchemaVersion(u32),
}

pub type Result<T> = std::result::Result<T, IndexError>;

/// The JSON fast field with typed custom values (sort keys and facets): `cfast.<key>`.
pub const CFAST: &str = "cfast";

/// Separator between a custom key and its encoded value in the `cf` field.
pub const CF_SEP: char = '\u{1}';

/// The schema's fields.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    /// `ws \0 id`, for upsert/delete.
    pub key: Field,
    pub ws: Field,
    pub id: Field,
    /// Folded name tokens (+ transliterations).
    pub name: Field,
    /// The whole folded person name, for `eq` filters and sorting.
    pub name_exact: Field,
    /// Phone digit strings: E.164 digits, national number, digits as typed.
    pub phone: Field,
    /// Each phone's local number (national, else as typed) written backwards: its last
    /// digits are a prefix of this term, so "last digits" is one term-range walk, and a
    /// phone costs one term here instead of one per suffix length.
    pub phone_rev: Field,
    pub email: Field,
    /// Folded tag words and whole tags (for `q`).
    pub tag: Field,
    /// Whole folded tags (filters, facets).
    pub tag_exact: Field,
    /// Folded tokens of every custom value (for `q`).
    pub custom: Field,
    /// The leading 1..=[`SHORT_PREFIX_MAX`] characters of every term of `name`, the leading
    /// [`WIDE_PREFIX_MIN`]..=[`PREFIX_MAX`] of every term of `email` and
    /// [`WIDE_PREFIX_MIN`]..=[`SHORT_PREFIX_MAX`] of every term of `custom`: a word
    /// typed so far is one term lookup here instead of a walk over every term it begins (see
    /// [`prefixes`]). Tags have none: a workspace uses a few hundred distinct tag words, so
    /// the walk over the `tag` terms a prefix begins is short, and their prefixes were a
    /// twelfth of all indexed tokens.
    pub name_pre: Field,
    pub email_pre: Field,
    pub custom_pre: Field,
    /// `key \x01 typed-encoding` for custom filters (see [`encode_custom`]).
    pub cf: Field,
    /// Names of the fields this contact has that an `exists` filter cannot find in a fast
    /// column (see [`EXISTS_BY_COLUMN`]).
    pub present: Field,
    /// Typed custom values as a JSON fast field (numbers f64, dates, folded strings).
    pub cfast: Field,
    pub source: Field,
    pub status: Field,
    pub created_by: Field,
    pub created_at: Field,
    pub last_interaction_at: Field,
    pub updated_at: Field,
}

/// Separates the terms of one field packed into one value (see [`TermListTokenizer`]).
const TERM_SEP: &str = "\u{1f}";
const TERM_SEP_CHAR: char = '\u{1f}';

/// The tokenizer of the term fields: a value packs whole terms separated by U+001F, and each
/// is one token (as the `raw` tokenizer makes of a whole value). A document then has one
/// value per field instead of one per term, which saves tantivy a token stream and a sort
/// entry per term. Words never hold U+001F (tokens are letters and digits); a whole tag typed
/// with that control character in it is indexed as its pieces.
#[derive(Clone, Default)]
pub struct TermListTokenizer {
    token: tantivy::tokenizer::Token,
}

pub struct TermListStream<'a> {
    text: &'a str,
    pieces: std::str::Split<'a, char>,
    token: &'a mut tantivy::tokenizer::Token,
}

impl tantivy::tokenizer::Tokenizer for TermListTokenizer {
    type TokenStream<'a> = TermListStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> TermListStream<'a> {
        self.token.reset();
        TermListStream {
            text,
            pieces: text.split(TERM_SEP_CHAR),
            token: &mut self.token,
        }
    }
}

impl tantivy::tokenizer::TokenStream for TermListStream<'_> {
    fn advance(&mut self) -> bool {
        let Some(piece) = self.pieces.by_ref().find(|p| !p.is_empty()) else {
            return false;
        };
        // a piece is a subslice of the text: its offset is the distance between the two
        let start = piece.as_ptr() as usize - self.text.as_ptr() as usize;
        self.token.position = self.token.position.wrapping_add(1);
        self.token.position_length = 1;
        self.token.offset_from = start;
        self.token.offset_to = start + piece.len();
        self.token.text.clear();
        self.token.text.push_str(piece);
        true
    }

    fn token(&self) -> &tantivy::tokenizer::Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut tantivy::tokenizer::Token {
        self.token
    }
}

/// Name of [`TermListTokenizer`] in the index's tokenizer manager.
const TERMS_TOKENIZER: &str = "terms";

/// Adds `terms` to `field` as one packed value (nothing when there are none).
fn add_terms<S: std::borrow::Borrow<str>>(d: &mut TantivyDocument, field: Field, terms: &[S]) {
    if !terms.is_empty() {
        d.add_text(field, terms.join(TERM_SEP));
    }
}

/// A field of packed terms (see [`TermListTokenizer`]). Only `name` is scored by BM25: it
/// alone keeps term frequencies and field norms; every other field is matched as a set of
/// terms, and norms or frequencies there would be work at every document for nothing.
fn token_field(b: &mut tantivy::schema::SchemaBuilder, name: &str, scored: bool) -> Field {
    let idx = TextFieldIndexing::default()
        .set_tokenizer(TERMS_TOKENIZER)
        .set_fieldnorms(scored)
        .set_index_option(if scored {
            IndexRecordOption::WithFreqs
        } else {
            IndexRecordOption::Basic
        });
    b.add_text_field(name, TextOptions::default().set_indexing_options(idx))
}

/// `opts` (tantivy's `STRING`, a whole value as one term) without field norms: these fields
/// are never scored by BM25.
fn unscored(opts: TextOptions) -> TextOptions {
    match opts.get_indexing_options().cloned() {
        Some(idx) => opts.set_indexing_options(idx.set_fieldnorms(false)),
        None => opts,
    }
}

/// Builds the schema.
pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    // Dates are fast fields only: tantivy's RangeQuery reads a fast field's column and never
    // its terms, so indexing them would only add a unique term per contact.
    let date = DateOptions::default()
        .set_fast()
        .set_precision(DateTimePrecision::Seconds);
    let f = Fields {
        key: b.add_text_field("key", unscored(STRING)),
        ws: b.add_text_field("ws", unscored(STRING)),
        // hits read the id from its column; an id filter looks up `key` (one unique term per
        // contact fewer: the term dictionary of unique terms is a third of indexing time)
        id: b.add_text_field("id", TextOptions::from(FAST)),
        name: token_field(&mut b, "name", true),
        name_exact: b.add_text_field("name_exact", unscored(STRING | FAST)),
        phone: token_field(&mut b, "phone", false),
        phone_rev: token_field(&mut b, "phone_rev", false),
        email: token_field(&mut b, "email", false),
        tag: token_field(&mut b, "tag", false),
        tag_exact: b.add_text_field("tag_exact", unscored(STRING | FAST)),
        custom: token_field(&mut b, "custom", false),
        name_pre: token_field(&mut b, "name_pre", false),
        email_pre: token_field(&mut b, "email_pre", false),
        custom_pre: token_field(&mut b, "custom_pre", false),
        cf: b.add_text_field("cf", unscored(STRING)),
        present: token_field(&mut b, "present", false),
        cfast: b.add_json_field(CFAST, JsonObjectOptions::default().set_fast("raw")),
        source: b.add_text_field("source", unscored(STRING | FAST)),
        status: b.add_text_field("status", unscored(STRING | FAST)),
        created_by: b.add_text_field("created_by", unscored(STRING | FAST)),
        created_at: b.add_date_field("created_at", date.clone()),
        last_interaction_at: b.add_date_field("last_interaction_at", date.clone()),
        updated_at: b.add_date_field("updated_at", date),
    };
    (b.build(), f)
}

/// The index's unique key of a contact.
pub fn doc_key(ws: &str, id: &str) -> String {
    let mut k = String::with_capacity(ws.len() + id.len() + 1);
    k.push_str(ws);
    k.push('\0');
    k.push_str(id);
    k
}

fn to_tantivy_date(t: &chrono::DateTime<chrono::Utc>) -> DateTime {
    DateTime::from_timestamp_secs(t.timestamp())
}

/// Order-preserving text encoding of an f64 (16 hex digits).
pub fn encode_f64(f: f64) -> String {
    let bits = f.to_bits();
    let key = if f.is_sign_negative() { !bits } else { bits | (1 << 63) };
    format!("{key:016x}")
}

/// Order-preserving text encoding of a timestamp (seconds, 16 hex digits).
pub fn encode_time(secs: i64) -> String {
    format!("{:016x}", (secs as u64) ^ (1 << 63))
}

/// The `cf` terms of one custom value: `key \x01 kind value`, where kind is `s` (folded
/// text/option), `n` (number), `d` (date), `b` (bool).
pub fn encode_custom(key: &str, ft: Option<FieldType>, v: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value;
    let p = |kind: char, s: &str| format!("{key}{CF_SEP}{kind}{s}");
    match v {
        Value::Array(a) => {
            for x in a {
                encode_custom(key, ft, x, out);
            }
        }
        Value::Bool(b) => out.push(p('b', if *b { "1" } else { "0" })),
        Value::Number(n) => {
            if let Some(f) = n.as_f64() {
                out.push(p('n', &encode_f64(f)));
                // a number field's filters read the 'n' term only
                if ft == Some(FieldType::Number) {
                    return;
                }
            }
            out.push(p('s', &n.to_string()));
        }
        Value::String(s) => {
            if ft == Some(FieldType::Date) {
                if let Some(t) = crate::model::parse_time(s) {
                    out.push(p('d', &encode_time(t.timestamp())));
                    // a date field's filters read the 'd' term only
                    return;
                }
            }
            let mut f = normalize::fold(s.trim());
            if ft == Some(FieldType::Phone) {
                f = s.chars().filter(|c| c.is_ascii_digit()).collect();
            }
            if f.len() > 512 {
                let mut cut = 512;
                while !f.is_char_boundary(cut) {
                    cut -= 1;
                }
                f.truncate(cut);
            }
            out.push(p('s', &f));
        }
        Value::Null | Value::Object(_) => {}
    }
}

/// Shortest and longest run of digits searched as a phone's last digits. Longer runs are
/// national or international numbers, matched whole in the `phone` field.
pub const SUFFIX_MIN: usize = 4;
pub const SUFFIX_MAX: usize = 10;

/// `s` written backwards (the `phone_rev` term of a local number, or of a query's digits).
pub fn reversed(s: &str) -> String {
    s.chars().rev().collect()
}

/// Whether `digits` (a query's run of [`SUFFIX_MIN`]..=[`SUFFIX_MAX`] digits) ends one of
/// the local numbers: the check `explain` makes for a "last digits" match.
pub fn ends_a_phone(local: &[String], digits: &str) -> bool {
    (SUFFIX_MIN..=SUFFIX_MAX).contains(&digits.len()) && local.iter().any(|l| l.ends_with(digits))
}

/// Longest prefix held in `email_pre`. A longer word typed so far begins few terms, and is
/// matched by walking the term dictionary instead. Emails are nearly all distinct terms (1.7
/// per contact), so a short walk there can still visit thousands of one-document terms.
pub const PREFIX_MAX: usize = 6;

/// Longest prefix held in `name_pre` and `custom_pre`. Their dictionaries are small (at 1M
/// contacts, 31k distinct name words and 66k custom words), so the terms a 5- or 6-letter
/// word begins are a handful, and walking them costs about what one prefix term does. The
/// 5th and 6th letters were 13 % of all indexed tokens.
pub const SHORT_PREFIX_MAX: usize = 4;

/// Shortest word typed so far that is looked up as a prefix of emails and custom values
/// (names and tags take any length): "jo" begins half the custom values of a base, and
/// nobody finds an email by its first two letters. The `email_pre` and `custom_pre` fields
/// hold no shorter prefixes, which saves a third of their postings.
pub const WIDE_PREFIX_MIN: usize = 3;

/// The distinct leading `min`..=[`PREFIX_MAX`] characters of `terms` (each term's whole self
/// included when it is that short).
pub fn prefixes(terms: &[String], min: usize, max: usize) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for t in terms {
        for (n, (i, ch)) in t.char_indices().enumerate().take(max) {
            let p = &t[..i + ch.len_utf8()];
            if n + 1 >= min && !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// The searchable terms of a contact, per field: what the index holds for `q`, and what
/// `explain` checks a hit against. One function, so the two never disagree.
#[derive(Debug, Default, Clone)]
pub struct SearchTerms {
    pub name: Vec<String>,
    pub phone: Vec<String>,
    /// Each phone's local number (national, else the digits as typed), for last digits.
    pub phone_local: Vec<String>,
    pub email: Vec<String>,
    pub tag: Vec<String>,
    pub custom: Vec<String>,
}

fn push_unique(v: &mut Vec<String>, t: &str) {
    if !v.iter().any(|x| x == t) {
        v.push(t.to_string());
    }
}

/// Derives the searchable terms of a contact.
pub fn search_terms(c: &Contact, defs: &dyn Fn(&str) -> Option<FieldType>) -> SearchTerms {
    let mut t = SearchTerms::default();
    if let Some(name) = &c.name {
        normalize::for_each_token(name, |w| push_unique(&mut t.name, w));
        for i in 0..t.name.len() {
            if let Some(tr) = normalize::transliterate_latin(&t.name[i]) {
                push_unique(&mut t.name, &tr);
            }
        }
    }
    for p in &c.phones {
        if let Some(e) = &p.e164 {
            push_unique(&mut t.phone, e.trim_start_matches('+'));
        }
        if let Some(n) = &p.national {
            push_unique(&mut t.phone, n);
        }
        push_unique(&mut t.phone, &p.digits);
        // the number as dialled without country code or trunk prefix, else as typed
        let local = p.national.as_deref().unwrap_or(&p.digits);
        if local.len() >= SUFFIX_MIN {
            push_unique(&mut t.phone_local, local);
        }
    }
    for e in &c.emails {
        if let Ok(n) = normalize::normalize_email(e) {
            for x in normalize::email::email_tokens(&n) {
                push_unique(&mut t.email, &x);
            }
        }
    }
    for tag in &c.tags {
        let whole = normalize::fold(tag);
        normalize::for_each_token(tag, |w| push_unique(&mut t.tag, w));
        if whole.contains(|ch: char| !ch.is_alphanumeric()) {
            push_unique(&mut t.tag, &whole);
        }
    }
    for (k, v) in &c.custom {
        custom_tokens(defs(k), v, &mut |w| push_unique(&mut t.custom, w));
    }
    t
}

/// Builds the tantivy document of a contact.
pub fn document(f: &Fields, ws: &str, c: &Contact, defs: &dyn Fn(&str) -> Option<FieldType>) -> TantivyDocument {
    let mut d = TantivyDocument::new();
    d.add_text(f.key, doc_key(ws, &c.id));
    d.add_text(f.ws, ws);
    d.add_text(f.id, &c.id);
    let terms = search_terms(c, defs);
    for (field, values) in [
        (f.name, &terms.name),
        (f.phone, &terms.phone),
        (f.email, &terms.email),
        (f.tag, &terms.tag),
        (f.custom, &terms.custom),
    ] {
        add_terms(&mut d, field, values);
    }
    let rev: Vec<String> = terms.phone_local.iter().map(|l| reversed(l)).collect();
    add_terms(&mut d, f.phone_rev, &rev);
    for (field, values, min, max) in [
        (f.name_pre, &terms.name, 1, SHORT_PREFIX_MAX),
        (f.email_pre, &terms.email, WIDE_PREFIX_MIN, PREFIX_MAX),
        (f.custom_pre, &terms.custom, WIDE_PREFIX_MIN, SHORT_PREFIX_MAX),
    ] {
        add_terms(&mut d, field, &prefixes(values, min, max));
    }
    // `present` names the fields an `exists` filter cannot read from a fast column (see
    // `EXISTS_BY_COLUMN`): phones, emails, photo_url, and a value whose column entry came out
    // empty. Before, it named every field a contact has, a seventh of all indexed tokens.
    let mut present: Vec<std::borrow::Cow<'static, str>> = Vec::new();
    if let Some(name) = &c.name {
        let (person, _) = normalize::split_display_name(name);
        let exact = normalize::tokens(&person).join(" ");
        if exact.is_empty() {
            present.push("name".into());
        }
        d.add_text(f.name_exact, exact);
    }
    if !c.phones.is_empty() {
        present.push("phones".into());
    }
    if !c.emails.is_empty() {
        present.push("emails".into());
    }
    if !c.tags.is_empty() {
        let folded: Vec<String> = c.tags.iter().map(|t| normalize::fold(t)).collect();
        if folded.iter().all(String::is_empty) {
            present.push("tags".into());
        }
        for t in folded {
            d.add_text(f.tag_exact, t);
        }
    }
    let mut fast = std::collections::BTreeMap::new();
    for (k, v) in &c.custom {
        let ft = defs(k);
        match fast_value(ft, v) {
            Some(fv) if !empty_value(&fv) => {
                fast.insert(k.clone(), fv);
            }
            _ => present.push(format!("custom.{k}").into()),
        }
        let mut cf = Vec::new();
        encode_custom(k, ft, v, &mut cf);
        for t in cf {
            d.add_text(f.cf, t);
        }
    }
    if !fast.is_empty() {
        d.add_object(f.cfast, fast);
    }
    for (field, name, value) in [
        (f.source, "source", &c.source),
        (f.created_by, "created_by", &c.created_by),
    ] {
        if let Some(s) = value {
            let folded = normalize::fold(s);
            if folded.is_empty() {
                present.push(name.into());
            }
            d.add_text(field, folded);
        }
    }
    if let Some(s) = c.status {
        d.add_text(f.status, s.as_str());
    }
    if c.photo_url.is_some() {
        present.push("photo_url".into());
    }
    d.add_date(f.created_at, to_tantivy_date(&c.created_at));
    d.add_date(f.updated_at, to_tantivy_date(&c.updated_at));
    if let Some(t) = &c.last_interaction_at {
        d.add_date(f.last_interaction_at, to_tantivy_date(t));
    }
    add_terms(&mut d, f.present, &present);
    d
}

/// Whether a fast value holds nothing a column records (an empty text or list).
fn empty_value(v: &tantivy::schema::OwnedValue) -> bool {
    use tantivy::schema::OwnedValue as O;
    match v {
        O::Str(s) => s.is_empty(),
        O::Array(a) => a.iter().all(empty_value),
        _ => false,
    }
}

/// The fields an `exists` filter reads from a fast column (tantivy's `ExistsQuery`), with that
/// column; a custom field's column is `cfast.<key>`. The other fields, and a value whose
/// column entry came out empty, are named in `present` (see [`document`]).
pub const EXISTS_BY_COLUMN: [(&str, &str); 6] = [
    ("name", "name_exact"),
    ("tags", "tag_exact"),
    ("source", "source"),
    ("status", "status"),
    ("created_by", "created_by"),
    ("last_interaction_at", "last_interaction_at"),
];

/// The typed value of a custom field for sorting and faceting.
fn fast_value(ft: Option<FieldType>, v: &serde_json::Value) -> Option<tantivy::schema::OwnedValue> {
    use serde_json::Value;
    use tantivy::schema::OwnedValue as O;
    let text = |s: &str| {
        let mut f = normalize::fold(s.trim());
        if f.len() > 256 {
            let mut cut = 256;
            while !f.is_char_boundary(cut) {
                cut -= 1;
            }
            f.truncate(cut);
        }
        O::Str(f)
    };
    match (ft, v) {
        (Some(FieldType::LongText), _) | (None, _) => None,
        (Some(FieldType::Number), Value::Number(n)) => n.as_f64().map(O::F64),
        (Some(FieldType::Checkbox), Value::Bool(b)) => Some(O::F64(if *b { 1.0 } else { 0.0 })),
        (Some(FieldType::Date), Value::String(s)) => {
            crate::model::parse_time(s).map(|t| O::Date(DateTime::from_timestamp_secs(t.timestamp())))
        }
        (Some(FieldType::MultiSelect), Value::Array(a)) => {
            Some(O::Array(a.iter().filter_map(|x| x.as_str().map(text)).collect()))
        }
        (_, Value::String(s)) => Some(text(s)),
        _ => None,
    }
}

fn custom_tokens(ft: Option<FieldType>, v: &serde_json::Value, out: &mut dyn FnMut(&str)) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            if ft == Some(FieldType::Phone) {
                let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
                out(&digits);
            } else {
                normalize::for_each_token(s, |t| out(t));
            }
        }
        Value::Number(n) => normalize::for_each_token(&n.to_string(), |t| out(t)),
        Value::Array(a) => {
            for x in a {
                custom_tokens(ft, x, out);
            }
        }
        Value::Bool(_) | Value::Null | Value::Object(_) => {}
    }
}

/// Field type lookup for a workspace's definitions.
pub fn def_lookup(defs: &[FieldDef]) -> impl Fn(&str) -> Option<FieldType> + '_ {
    move |k| defs.iter().find(|d| d.key == k).map(|d| d.field_type)
}

#[derive(Serialize, Deserialize)]
struct Payload {
    seq: u64,
    schema: u32,
}

/// The opened index: what was found on disk.
pub struct Opened {
    pub index: SearchIndex,
    pub writer: IndexWriter,
    /// Store sequence covered by the last commit; `None` when the index was (re)created and
    /// must be rebuilt from the store.
    pub committed_seq: Option<u64>,
}

/// Read side of the index. Cheap to clone.
#[derive(Clone)]
pub struct SearchIndex {
    pub index: Index,
    pub reader: IndexReader,
    pub fields: Fields,
    pub ids: Arc<IdTables>,
}

/// One segment's contact ids in the order of its `id` column's dictionary.
pub struct IdTable {
    buf: String,
    ends: Vec<u32>,
}

impl IdTable {
    /// The id of dictionary ordinal `ord`.
    pub fn get(&self, ord: u64) -> Option<&str> {
        let i = usize::try_from(ord).ok()?;
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.buf.get(start..end)
    }

    fn build(seg: &tantivy::SegmentReader) -> Option<IdTable> {
        let col = seg.fast_fields().str("id").ok()??;
        let dict = col.dictionary();
        let mut t = IdTable {
            buf: String::new(),
            ends: Vec::with_capacity(dict.num_terms()),
        };
        let mut stream = dict.stream().ok()?;
        while stream.advance() {
            t.buf.push_str(std::str::from_utf8(stream.key()).ok()?);
            t.ends.push(u32::try_from(t.buf.len()).ok()?);
        }
        Some(t)
    }
}

/// Every live segment's [`IdTable`], decoded once per segment (segments never change) by a
/// tantivy warmer when a reload brings the segment in, and dropped with it. A search hit's id
/// is then an array lookup instead of opening a compressed dictionary block (which was ~18 %
/// of search CPU at 1M contacts).
#[derive(Default)]
pub struct IdTables {
    map: RwLock<HashMap<tantivy::index::SegmentId, Arc<IdTable>>>,
}

impl IdTables {
    /// The table of a segment, built now if the warmer has not.
    pub fn table(&self, seg: &tantivy::SegmentReader) -> Option<Arc<IdTable>> {
        let id = seg.segment_id();
        if let Some(t) = self.map.read().ok()?.get(&id) {
            return Some(t.clone());
        }
        let t = Arc::new(IdTable::build(seg)?);
        self.map.write().ok()?.insert(id, t.clone());
        Some(t)
    }
}

impl tantivy::Warmer for IdTables {
    fn warm(&self, searcher: &tantivy::Searcher) -> tantivy::Result<()> {
        for seg in searcher.segment_readers() {
            self.table(seg);
        }
        Ok(())
    }

    fn garbage_collect(&self, live: &[&tantivy::SearcherGeneration]) {
        if let Ok(mut map) = self.map.write() {
            map.retain(|id, _| live.iter().any(|g| g.segments().contains_key(id)));
        }
    }
}

impl SearchIndex {
    /// Makes the last commit visible to new searches.
    pub fn reload(&self) -> Result<()> {
        self.reader.reload()?;
        Ok(())
    }

    pub fn searcher(&self) -> tantivy::Searcher {
        self.reader.searcher()
    }

    /// Number of documents visible now.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The segments searches run over now.
    /// Live documents per searchable segment.
    pub fn segment_docs(&self) -> Vec<u64> {
        self.reader
            .searcher()
            .segment_readers()
            .iter()
            .map(|s| u64::from(s.num_docs()))
            .collect()
    }

    /// Whether the last commit on disk (a merge's end writes one too) names other segments
    /// than the reader sees: a background merge finished since the last reload.
    pub fn merged_since_reload(&self) -> bool {
        let Ok(mut on_disk) = self.index.searchable_segment_ids() else {
            return false;
        };
        let mut seen = self.segment_ids();
        on_disk.sort();
        seen.sort();
        on_disk != seen
    }

    pub fn segment_ids(&self) -> Vec<tantivy::index::SegmentId> {
        self.reader
            .searcher()
            .segment_readers()
            .iter()
            .map(|s| s.segment_id())
            .collect()
    }

    /// The segments whose term dictionary still names one of these contacts, alive or
    /// deleted: a deleted document's terms stay in its segment until the segment is merged.
    pub fn segments_holding(&self, keys: &[(String, String)]) -> Result<Vec<tantivy::index::SegmentId>> {
        let searcher = self.reader.searcher();
        let mut out = Vec::new();
        for seg in searcher.segment_readers() {
            let inv = seg.inverted_index(self.fields.key)?;
            for (ws, id) in keys {
                let term = Term::from_field_text(self.fields.key, &doc_key(ws, id));
                if inv
                    .get_term_info(&term)
                    .map_err(|e| IndexError::Io("term dictionary".into(), e))?
                    .is_some()
                {
                    out.push(seg.segment_id());
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// Write side of the index. One per index directory.
pub struct IndexWriter {
    writer: tantivy::IndexWriter<TantivyDocument>,
    fields: Fields,
    merges: Arc<AtomicU8>,
}

/// Which merges tantivy may start on its own (see [`IndexWriter::set_merge_mode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum MergeMode {
    /// None: a bulk load, whose segments are merged later, at once.
    Off = 0,
    /// tantivy's log merge policy: small segments are merged as they pile up.
    Log = 1,
    /// The log policy, and a layout of several large segments (what a bulk load or a rebuild
    /// leaves) merged into one (see [`needs_consolidation`]). Set only while no writes come.
    Consolidate = 2,
    /// Writes pouring in (a bulk load over HTTP): the log policy over the small segments only
    /// (below [`bulk_merge_cap`]). Each commit adds segments of a few thousand documents;
    /// merged once, they wait for the one merge into a single segment when the writes pause,
    /// instead of being rewritten at every level of the log policy while the load runs.
    Bulk = 3,
}

/// Segments with fewer documents than this are merged by the log policy during a bulk load.
pub fn bulk_merge_cap(total_docs: u64) -> u64 {
    (total_docs / BULK_MERGE_SHARE).max(BULK_MERGE_MIN_DOCS)
}

const BULK_MERGE_MIN_DOCS: u64 = 32_000;
const BULK_MERGE_SHARE: u64 = 32;

/// A layout worth merging into one segment: at least `CONSOLIDATE_MIN_LARGE` segments each
/// holding `1 / CONSOLIDATE_LARGE_SHARE` of the documents or more. Segments smaller than that
/// are few documents to walk (and the log policy's to merge); three larger ones mean a bulk
/// load, a rebuild or a long run of writes left the index split. Every typo and prefix word
/// of a query walks each segment's term dictionary, so the search mix over the 8 segments a
/// 1M-contact bulk load left took twice the time it takes over one (BENCHMARKS.md); the log
/// policy leaves such segments alone when their sizes differ. Small segments next to one
/// large one are the log policy's business.
pub fn needs_consolidation(docs_per_segment: &[u64]) -> bool {
    let total: u64 = docs_per_segment.iter().sum();
    if total < CONSOLIDATE_MIN_DOCS {
        return false;
    }
    let large = docs_per_segment
        .iter()
        .filter(|&&n| n.saturating_mul(CONSOLIDATE_LARGE_SHARE) >= total)
        .count();
    large >= CONSOLIDATE_MIN_LARGE
}

const CONSOLIDATE_MIN_LARGE: usize = 3;
const CONSOLIDATE_LARGE_SHARE: u64 = 64;
/// Below this the segments are small enough that walking each costs nothing worth a merge.
const CONSOLIDATE_MIN_DOCS: u64 = 1_000;

/// The merge policy of the writer: [`MergeMode`] read at each decision, so a mode change
/// applies to the next one without replacing the policy.
#[derive(Debug)]
struct ContactMergePolicy {
    mode: Arc<AtomicU8>,
    log: tantivy::indexer::LogMergePolicy,
}

impl tantivy::indexer::MergePolicy for ContactMergePolicy {
    fn compute_merge_candidates(
        &self,
        segments: &[tantivy::index::SegmentMeta],
    ) -> Vec<tantivy::indexer::MergeCandidate> {
        // `segments` are those no running merge holds (tantivy checks that for its policy)
        let mode = self.mode.load(Ordering::Acquire);
        if mode == MergeMode::Off as u8 {
            return Vec::new();
        }
        if mode == MergeMode::Consolidate as u8 {
            let docs: Vec<u64> = segments.iter().map(|s| u64::from(s.num_docs())).collect();
            if needs_consolidation(&docs) {
                return vec![tantivy::indexer::MergeCandidate(
                    segments.iter().map(|s| s.id()).collect(),
                )];
            }
        }
        if mode == MergeMode::Bulk as u8 {
            let cap = bulk_merge_cap(segments.iter().map(|s| u64::from(s.num_docs())).sum());
            let small: Vec<tantivy::index::SegmentMeta> = segments
                .iter()
                .filter(|s| u64::from(s.num_docs()) < cap)
                .cloned()
                .collect();
            return self.log.compute_merge_candidates(&small);
        }
        self.log.compute_merge_candidates(segments)
    }
}

fn open_existing(dir: &Path) -> Result<(Index, Option<u64>)> {
    let index = Index::open_in_dir(dir)?;
    let metas = index.load_metas()?;
    let payload: Option<Payload> = metas.payload.as_deref().and_then(|p| serde_json::from_str(p).ok());
    let (schema, _) = schema();
    if index.schema() != schema {
        return Err(IndexError::SchemaVersion(0));
    }
    match payload {
        Some(p) if p.schema != SCHEMA_VERSION => Err(IndexError::SchemaVersion(p.schema)),
        Some(p) => Ok((index, Some(p.seq))),
        None => Ok((index, None)),
    }
}

/// Opens the index in `dir`, or creates it. An index that is missing, unreadable or of
/// another schema version is wiped and created empty (`committed_seq: None`): the caller
/// rebuilds it from the store.
pub fn open(dir: &Path, memory_mb: usize, threads: usize) -> Result<Opened> {
    std::fs::create_dir_all(dir).map_err(|e| IndexError::Io(dir.display().to_string(), e))?;
    let (index, seq) = match open_existing(dir) {
        Ok(x) => x,
        Err(e) => {
            let had_files = std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false);
            if had_files {
                tracing::warn!(error = %e, dir = %dir.display(), "index unreadable; rebuilding it from the store");
                std::fs::remove_dir_all(dir).map_err(|e| IndexError::Io(dir.display().to_string(), e))?;
                std::fs::create_dir_all(dir).map_err(|e| IndexError::Io(dir.display().to_string(), e))?;
            }
            (Index::create_in_dir(dir, schema().0)?, None)
        }
    };
    index
        .tokenizers()
        .register(TERMS_TOKENIZER, TermListTokenizer::default());
    let (_, fields) = schema();
    let writer = index.writer_with_num_threads(threads, memory_mb * 1024 * 1024)?;
    let merges = Arc::new(AtomicU8::new(MergeMode::Log as u8));
    writer.set_merge_policy(Box::new(ContactMergePolicy {
        mode: merges.clone(),
        log: tantivy::indexer::LogMergePolicy::default(),
    }));
    let ids = Arc::new(IdTables::default());
    let warmer: Arc<dyn tantivy::Warmer> = ids.clone();
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .warmers(vec![Arc::downgrade(&warmer)])
        .try_into()?;
    Ok(Opened {
        index: SearchIndex {
            index,
            reader,
            fields,
            ids,
        },
        writer: IndexWriter { writer, fields, merges },
        committed_seq: seq,
    })
}

impl IndexWriter {
    /// Replaces (or adds) a contact's document. Not visible until commit + reload.
    pub fn upsert(&self, ws: &str, c: &Contact, defs: &dyn Fn(&str) -> Option<FieldType>) -> Result<()> {
        self.writer
            .delete_term(Term::from_field_text(self.fields.key, &doc_key(ws, &c.id)));
        self.writer.add_document(document(&self.fields, ws, c, defs))?;
        Ok(())
    }

    /// Adds a document without deleting a previous one (bulk rebuild into an empty index).
    pub fn add(&self, ws: &str, c: &Contact, defs: &dyn Fn(&str) -> Option<FieldType>) -> Result<()> {
        self.writer.add_document(document(&self.fields, ws, c, defs))?;
        Ok(())
    }

    pub fn delete(&self, ws: &str, id: &str) {
        self.writer
            .delete_term(Term::from_field_text(self.fields.key, &doc_key(ws, id)));
    }

    /// Removes every document (before a rebuild).
    pub fn clear(&mut self) -> Result<()> {
        self.writer.delete_all_documents()?;
        Ok(())
    }

    /// Commits everything added so far, recording the store sequence it covers. Durable on
    /// return; visible after [`SearchIndex::reload`].
    pub fn commit(&mut self, seq: u64) -> Result<()> {
        let mut prepared = self.writer.prepare_commit()?;
        let payload = serde_json::to_string(&Payload {
            seq,
            schema: SCHEMA_VERSION,
        })
        .unwrap_or_default();
        prepared.set_payload(&payload);
        prepared.commit()?;
        Ok(())
    }

    /// Rewrites these segments without their deleted documents (and the terms only those
    /// held), then deletes the files no commit needs any more.
    pub fn merge_segments(&mut self, ids: &[tantivy::index::SegmentId]) -> Result<()> {
        if !ids.is_empty() {
            self.writer.merge(ids).wait()?;
        }
        self.writer.garbage_collect_files().wait()?;
        Ok(())
    }

    /// Deletes the files no commit needs any more.
    pub fn collect_garbage(&self) -> Result<()> {
        self.writer.garbage_collect_files().wait()?;
        Ok(())
    }

    /// Sets which merges tantivy may start on its own from now on; a merge already running
    /// goes on. tantivy asks at each commit and at the end of each merge. Off during a bulk
    /// load, also because an explicit merge ([`IndexWriter::merge_segments`]) does not check
    /// the segments a background merge holds, and the two would rewrite the same segments.
    pub fn set_merge_mode(&self, mode: MergeMode) {
        self.merges.store(mode as u8, Ordering::Release);
    }

    /// Waits for background merges (at shutdown).
    pub fn finish(self) -> Result<()> {
        self.writer.wait_merging_threads()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f64_encoding_preserves_order() {
        let xs = [-1e9, -2.5, -0.0, 0.0, 1.0, 2.5, 15000.0, 1e12];
        for w in xs.windows(2) {
            assert!(encode_f64(w[0]) <= encode_f64(w[1]), "{} {}", w[0], w[1]);
        }
        assert!(encode_time(-5) < encode_time(0) && encode_time(0) < encode_time(1_700_000_000));
    }

    #[test]
    fn many_large_segments_need_consolidation_one_large_among_small_ones_does_not() {
        // a 1M bulk load: 8 segments of ~125k
        assert!(needs_consolidation(&[125_000; 8]));
        // uneven but all large: the log policy would leave these alone
        assert!(needs_consolidation(&[400_000, 250_000, 150_000, 90_000]));
        // what a 1M bulk load over HTTP leaves (`MergeMode::Bulk`)
        assert!(needs_consolidation(&[40_000; 25]));
        // one large segment and the small ones steady writes make
        assert!(!needs_consolidation(&[1_000_000, 12_000, 8_000, 5_000, 800]));
        // two large ones: not worth rewriting everything
        assert!(!needs_consolidation(&[600_000, 400_000, 10_000]));
        assert!(!needs_consolidation(&[]));
        assert!(!needs_consolidation(&[1_000_000]));
        // tiny indexes are cheap to walk however split
        assert!(!needs_consolidation(&[300, 300, 300]));
    }

    #[test]
    fn the_merge_policy_follows_its_mode() {
        use tantivy::indexer::MergePolicy;
        let index = Index::create_in_ram(schema().0);
        let metas = |sizes: &[u32]| -> Vec<tantivy::index::SegmentMeta> {
            sizes
                .iter()
                .map(|&n| index.new_segment_meta(tantivy::index::SegmentId::generate_random(), n))
                .collect()
        };
        let mode = Arc::new(AtomicU8::new(MergeMode::Off as u8));
        let policy = ContactMergePolicy {
            mode: mode.clone(),
            log: tantivy::indexer::LogMergePolicy::default(),
        };
        let bulk = metas(&[400_000, 250_000, 150_000, 90_000]);
        let small = metas(&[20_000; 8]);
        for m in [&bulk, &small] {
            assert!(policy.compute_merge_candidates(m).is_empty(), "off merges nothing");
        }
        mode.store(MergeMode::Log as u8, Ordering::Release);
        assert!(
            policy.compute_merge_candidates(&bulk).is_empty(),
            "log leaves uneven large segments"
        );
        assert_eq!(
            policy.compute_merge_candidates(&small).len(),
            1,
            "log merges 8 of a size"
        );
        mode.store(MergeMode::Consolidate as u8, Ordering::Release);
        let c = policy.compute_merge_candidates(&bulk);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].0.len(), bulk.len(), "all segments into one");
        let mut steady = metas(&[1_000_000]);
        steady.extend(metas(&[5_000; 3]));
        assert!(policy.compute_merge_candidates(&steady).is_empty());
        // a bulk load merges what its commits add, and leaves what is merged once
        mode.store(MergeMode::Bulk as u8, Ordering::Release);
        let mut loading = metas(&[40_000; 8]);
        loading.extend(metas(&[5_000; 8]));
        let c = policy.compute_merge_candidates(&loading);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].0.len(), 8);
        let small: Vec<_> = loading[8..].iter().map(|m| m.id()).collect();
        assert!(c[0].0.iter().all(|id| small.contains(id)), "only the 5k segments");
        mode.store(MergeMode::Log as u8, Ordering::Release);
        assert_eq!(
            policy.compute_merge_candidates(&loading).len(),
            2,
            "log merges both levels"
        );
    }

    #[test]
    fn prefixes_are_leading_characters_up_to_the_limit() {
        let terms = [
            "josé".to_string(),
            "jo".to_string(),
            "márcia".to_string(),
            "дмитрий".to_string(),
        ];
        let p = prefixes(&terms, 1, PREFIX_MAX);
        assert_eq!(
            p,
            [
                "j",
                "jo",
                "jos",
                "josé",
                "m",
                "má",
                "már",
                "márc",
                "márci",
                "márcia",
                "д",
                "дм",
                "дми",
                "дмит",
                "дмитр",
                "дмитри"
            ]
        );
        assert!(prefixes(&[], 1, PREFIX_MAX).is_empty());
        assert_eq!(
            prefixes(&terms, WIDE_PREFIX_MIN, PREFIX_MAX),
            [
                "jos",
                "josé",
                "már",
                "márc",
                "márci",
                "márcia",
                "дми",
                "дмит",
                "дмитр",
                "дмитри"
            ],
            "a term shorter than the minimum has none"
        );
        assert_eq!(
            prefixes(&terms, 1, SHORT_PREFIX_MAX),
            ["j", "jo", "jos", "josé", "m", "má", "már", "márc", "д", "дм", "дми", "дмит"]
        );
    }

    #[test]
    fn a_packed_value_is_one_token_per_term() {
        use tantivy::tokenizer::{TokenStream, Tokenizer};
        let mut t = TermListTokenizer::default();
        let text = format!("ana{TERM_SEP}maria{TERM_SEP}{TERM_SEP}são paulo{TERM_SEP}");
        let mut stream = t.token_stream(&text);
        let mut got = Vec::new();
        while stream.advance() {
            let tok = stream.token();
            assert_eq!(&text[tok.offset_from..tok.offset_to], tok.text);
            got.push((tok.text.clone(), tok.position));
        }
        assert_eq!(
            got,
            vec![("ana".into(), 0), ("maria".into(), 1), ("são paulo".into(), 2)]
        );
        let mut stream = t.token_stream("");
        assert!(!stream.advance());
    }

    #[test]
    fn last_digits_end_a_local_number() {
        let local = vec!["11987654321".to_string()];
        assert!(ends_a_phone(&local, "4321"));
        assert!(ends_a_phone(&local, "987654321"));
        assert!(ends_a_phone(&local, "1987654321"));
        assert!(
            !ends_a_phone(&local, "11987654321"),
            "longer runs are whole numbers, not last digits"
        );
        assert!(!ends_a_phone(&local, "321"), "too short");
        assert!(!ends_a_phone(&local, "5432"), "not at the end");
        assert_eq!(reversed("11987654321"), "12345678911");
    }
}

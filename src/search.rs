//! Search: the request shape, the filter tree, `q` → tantivy query, sort + cursor pages,
//! facets. Pure read side: it sees only the index (the engine loads the documents).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::ops::Bound;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, FuzzyTermQuery, Occur, Query, RangeQuery,
    TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader, Term};

use crate::config::{Boosts, SearchConfig};
use crate::index::{encode_f64, encode_time, Fields, SearchIndex, CF_SEP};
use crate::model::{parse_time, FieldDef, FieldType};
use crate::normalize;

/// Search errors: all but `Index` are the client's.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the cursor is not valid for this search: {0}")]
    BadCursor(String),
    #[error("index: {0}")]
    Index(#[from] tantivy::TantivyError),
}

type SResult<T> = Result<T, SearchError>;

fn bad(m: impl Into<String>) -> SearchError {
    SearchError::BadRequest(m.into())
}

/// Body of `POST …/search`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub filter: Option<Value>,
    #[serde(default)]
    pub sort: Option<Vec<SortSpec>>,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub facets: Option<Vec<String>>,
    /// Adds, per hit, which field and kind of match (exact, prefix, typo, nickname,
    /// last_digits) each query word came from.
    #[serde(default)]
    pub explain: bool,
    /// Fields `q` must not match (set by the access layer for agent tokens, never by JSON).
    #[serde(skip)]
    pub hidden: Hidden,
}

/// Fields a query must not match on (hidden from an agent token).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hidden {
    pub name: bool,
    pub phones: bool,
    pub emails: bool,
    pub tags: bool,
    /// Any custom field: the custom values share one index field.
    pub custom: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SortSpec {
    pub field: String,
    #[serde(default)]
    pub order: Option<String>,
}

/// One hit: id and score (the engine adds the document).
#[derive(Debug, Clone)]
pub struct RawHit {
    pub id: String,
    pub score: f32,
}

/// What a search found.
#[derive(Debug)]
pub struct Outcome {
    pub hits: Vec<RawHit>,
    pub total: u64,
    pub next_cursor: Option<String>,
    pub facets: Option<serde_json::Map<String, Value>>,
}

/// The filter tree.
#[derive(Debug, Clone)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Leaf { field: String, op: FilterOp, value: Value },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Eq,
    Neq,
    In,
    Gt,
    Gte,
    Lt,
    Lte,
    Exists,
    Prefix,
}

const MAX_FILTER_DEPTH: usize = 32;
const MAX_FILTER_NODES: usize = 1024;

/// Parses a filter tree from JSON.
pub fn parse_filter(v: &Value) -> SResult<Filter> {
    let mut nodes = 0;
    parse_filter_at(v, 0, &mut nodes)
}

fn parse_filter_at(v: &Value, depth: usize, nodes: &mut usize) -> SResult<Filter> {
    if depth > MAX_FILTER_DEPTH {
        return Err(bad(format!(
            "the filter is nested deeper than {MAX_FILTER_DEPTH} levels"
        )));
    }
    *nodes += 1;
    if *nodes > MAX_FILTER_NODES {
        return Err(bad(format!("the filter has more than {MAX_FILTER_NODES} nodes")));
    }
    let obj = v.as_object().ok_or_else(|| bad("a filter node must be an object: {\"and\": [...]}, {\"or\": [...]}, {\"not\": {...}} or {\"field\", \"op\", \"value\"}"))?;
    let mut list = |x: &Value, what: &str| -> SResult<Vec<Filter>> {
        let a = x
            .as_array()
            .ok_or_else(|| bad(format!("\"{what}\" takes a list of filter nodes")))?;
        a.iter().map(|n| parse_filter_at(n, depth + 1, nodes)).collect()
    };
    if obj.len() == 1 {
        if let Some(x) = obj.get("and") {
            return Ok(Filter::And(list(x, "and")?));
        }
        if let Some(x) = obj.get("or") {
            return Ok(Filter::Or(list(x, "or")?));
        }
        if let Some(x) = obj.get("not") {
            return Ok(Filter::Not(Box::new(parse_filter_at(x, depth + 1, nodes)?)));
        }
    }
    let field = obj
        .get("field")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("a filter leaf needs \"field\" (a string), \"op\" and \"value\""))?;
    let op = match obj.get("op").and_then(Value::as_str).unwrap_or("eq") {
        "eq" => FilterOp::Eq,
        "neq" => FilterOp::Neq,
        "in" => FilterOp::In,
        "gt" => FilterOp::Gt,
        "gte" => FilterOp::Gte,
        "lt" => FilterOp::Lt,
        "lte" => FilterOp::Lte,
        "exists" => FilterOp::Exists,
        "prefix" => FilterOp::Prefix,
        other => {
            return Err(bad(format!(
                "unknown filter op {other:?}: use eq neq in gt gte lt lte exists prefix"
            )))
        }
    };
    for k in obj.keys() {
        if !matches!(k.as_str(), "field" | "op" | "value") {
            return Err(bad(format!(
                "unknown key {k:?} in a filter leaf (expected field, op, value)"
            )));
        }
    }
    let value = obj.get("value").cloned().unwrap_or(Value::Null);
    if value.is_null() && op != FilterOp::Exists {
        return Err(bad(format!("filter on {field:?} needs a \"value\"")));
    }
    Ok(Filter::Leaf {
        field: field.to_string(),
        op,
        value,
    })
}

/// What the query builder knows about the workspace.
pub struct Ctx<'a> {
    pub ws: &'a str,
    pub fields: &'a Fields,
    pub defs: &'a [FieldDef],
    pub region: phonenumber::country::Id,
    pub cfg: &'a SearchConfig,
    pub hidden: Hidden,
}

fn term(f: Field, s: &str) -> Term {
    Term::from_field_text(f, s)
}

fn term_q(f: Field, s: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(term(f, s), IndexRecordOption::Basic))
}

/// Phones whose local number ends with `digits`: the reversed digits begin a `phone_rev` term.
fn last_digits_q(f: &Fields, digits: &str) -> Box<dyn Query> {
    Box::new(ExpandQuery::prefix(term(f.phone_rev, &crate::index::reversed(digits))))
}

/// tantivy's explanation for a constant-score weight: `what` with `score` when `doc` matches.
fn explain_match(
    w: &dyn tantivy::query::Weight,
    reader: &SegmentReader,
    doc: DocId,
    what: &'static str,
    score: Score,
) -> tantivy::Result<tantivy::query::Explanation> {
    let mut s = w.scorer(reader, 1.0)?;
    if s.doc() > doc || s.seek(doc) != doc {
        return Err(tantivy::TantivyError::InvalidArgument(format!(
            "document {doc} does not match {what}"
        )));
    }
    Ok(tantivy::query::Explanation::new(what, score))
}

/// The documents holding one term, scored 0 (the workspace clause of every search). In a
/// segment where every document holds the term (one workspace per segment, the common case) it
/// matches all, and tantivy drops it from the intersection instead of seeking through a posting
/// list as long as the segment.
#[derive(Clone, Debug)]
struct ScopeQuery(Term);

struct ScopeWeight(Term);

impl Query for ScopeQuery {
    fn weight(&self, _scoring: tantivy::query::EnableScoring<'_>) -> tantivy::Result<Box<dyn tantivy::query::Weight>> {
        Ok(Box::new(ScopeWeight(self.0.clone())))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        visitor(&self.0, false);
    }
}

impl tantivy::query::Weight for ScopeWeight {
    fn scorer(&self, reader: &SegmentReader, _boost: Score) -> tantivy::Result<Box<dyn tantivy::query::Scorer>> {
        let inverted = reader.inverted_index(self.0.field())?;
        let Some(info) = inverted.get_term_info(&self.0)? else {
            return Ok(Box::new(tantivy::query::EmptyScorer));
        };
        if info.doc_freq == reader.max_doc() {
            return Ok(Box::new(tantivy::query::AllScorer::new(reader.max_doc())));
        }
        let postings = inverted.read_postings_from_terminfo(&info, IndexRecordOption::Basic)?;
        Ok(Box::new(tantivy::query::ConstScorer::new(postings, 0.0)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<tantivy::query::Explanation> {
        explain_match(self, reader, doc, "scope", 0.0)
    }
}

/// A word expanded over the term dictionary: with typos (`dist` edits), or as a prefix
/// longer than the `*_pre` fields hold (or of a tag, which has none). Matches what tantivy's `FuzzyTermQuery` matches, but
/// gathers the matched terms first: a segment where none match costs no allocation, and a
/// sparse match becomes a sorted list of documents instead of a zeroed bitset as large as the
/// segment (which was a fifth of search CPU under write load, when small segments abound).
#[derive(Clone, Debug)]
struct ExpandQuery {
    term: Term,
    dist: u8,
    prefix: bool,
}

impl ExpandQuery {
    /// Terms within `dist` edits of `term` (transpositions count as one).
    fn typos(term: Term, dist: u8) -> Self {
        ExpandQuery {
            term,
            dist,
            prefix: false,
        }
    }

    /// Terms that begin with `term`.
    fn prefix(term: Term) -> Self {
        ExpandQuery {
            term,
            dist: 0,
            prefix: true,
        }
    }
}

struct ExpandWeight {
    field: Field,
    automaton: tantivy::query::AutomatonWeight<tantivy::query::DfaWrapper>,
}

impl Query for ExpandQuery {
    fn weight(&self, _scoring: tantivy::query::EnableScoring<'_>) -> tantivy::Result<Box<dyn tantivy::query::Weight>> {
        let q = if self.prefix {
            FuzzyTermQuery::new_prefix(self.term.clone(), self.dist, true)
        } else {
            FuzzyTermQuery::new(self.term.clone(), self.dist, true)
        };
        Ok(Box::new(ExpandWeight {
            field: self.term.field(),
            automaton: tantivy::query::AutomatonWeight::new(self.term.field(), q.automaton()?),
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        visitor(&self.term, false);
    }
}

impl tantivy::query::Weight for ExpandWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn tantivy::query::Scorer>> {
        let infos = self.automaton.get_match_term_infos(reader)?;
        if infos.is_empty() {
            return Ok(Box::new(tantivy::query::EmptyScorer));
        }
        let inverted = reader.inverted_index(self.field)?;
        let max_doc = reader.max_doc();
        let total: u64 = infos.iter().map(|i| u64::from(i.doc_freq)).sum();
        let each = |f: &mut dyn FnMut(&[DocId])| -> tantivy::Result<()> {
            for info in &infos {
                let mut block = inverted.read_block_postings_from_terminfo(info, IndexRecordOption::Basic)?;
                while !block.docs().is_empty() {
                    f(block.docs());
                    block.advance();
                }
            }
            Ok(())
        };
        if total * 32 >= u64::from(max_doc) {
            let mut bits = tantivy::BitSet::with_max_value(max_doc);
            each(&mut |docs| {
                for &d in docs {
                    bits.insert(d);
                }
            })?;
            let docs = tantivy::query::BitSetDocSet::from(bits);
            return Ok(Box::new(tantivy::query::ConstScorer::new(docs, boost)));
        }
        let mut docs: Vec<DocId> = Vec::with_capacity(total as usize);
        each(&mut |d| docs.extend_from_slice(d))?;
        if infos.len() > 1 {
            docs.sort_unstable();
            docs.dedup();
        }
        Ok(Box::new(tantivy::query::ConstScorer::new(
            SortedDocs { docs, i: 0 },
            boost,
        )))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<tantivy::query::Explanation> {
        explain_match(self, reader, doc, "expanded term", 1.0)
    }
}

/// A sorted, deduplicated list of documents as a doc set.
struct SortedDocs {
    docs: Vec<DocId>,
    i: usize,
}

impl tantivy::DocSet for SortedDocs {
    fn advance(&mut self) -> DocId {
        self.i = (self.i + 1).min(self.docs.len());
        self.doc()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        let rest = self.docs.get(self.i..).unwrap_or(&[]);
        self.i += rest.partition_point(|&d| d < target);
        self.doc()
    }

    fn doc(&self) -> DocId {
        self.docs.get(self.i).copied().unwrap_or(tantivy::TERMINATED)
    }

    fn size_hint(&self) -> u32 {
        u32::try_from(self.docs.len()).unwrap_or(u32::MAX)
    }
}

fn prefix_range(f: Field, p: &str) -> Box<dyn Query> {
    let mut hi = p.to_string();
    hi.push(char::MAX);
    Box::new(RangeQuery::new(
        Bound::Included(term(f, p)),
        Bound::Excluded(term(f, &hi)),
    ))
}

fn boosted(q: Box<dyn Query>, b: f32) -> (Occur, Box<dyn Query>) {
    (Occur::Should, Box::new(BoostQuery::new(q, b)))
}

fn konst(q: Box<dyn Query>, b: f32) -> (Occur, Box<dyn Query>) {
    (Occur::Should, Box::new(ConstScoreQuery::new(q, b)))
}

fn not(q: Box<dyn Query>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, Box::new(AllQuery)),
        (Occur::MustNot, q),
    ]))
}

fn any_of(qs: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    if qs.is_empty() {
        return Box::new(EmptyQuery);
    }
    Box::new(BooleanQuery::new(qs.into_iter().map(|q| (Occur::Should, q)).collect()))
}

/// Builds the filter query.
pub fn filter_query(ctx: &Ctx<'_>, f: &Filter) -> SResult<Box<dyn Query>> {
    match f {
        Filter::And(xs) => {
            if xs.is_empty() {
                return Ok(Box::new(AllQuery));
            }
            let qs = xs
                .iter()
                .map(|x| Ok((Occur::Must, filter_query(ctx, x)?)))
                .collect::<SResult<Vec<_>>>()?;
            Ok(Box::new(BooleanQuery::new(qs)))
        }
        Filter::Or(xs) => Ok(any_of(
            xs.iter().map(|x| filter_query(ctx, x)).collect::<SResult<Vec<_>>>()?,
        )),
        Filter::Not(x) => Ok(not(filter_query(ctx, x)?)),
        Filter::Leaf { field, op, value } => leaf_query(ctx, field, *op, value),
    }
}

fn value_str<'v>(field: &str, v: &'v Value) -> SResult<std::borrow::Cow<'v, str>> {
    match v {
        Value::String(s) => Ok(std::borrow::Cow::Borrowed(s.as_str())),
        Value::Number(n) => Ok(std::borrow::Cow::Owned(n.to_string())),
        Value::Bool(b) => Ok(std::borrow::Cow::Owned(b.to_string())),
        _ => Err(bad(format!(
            "filter on {field:?}: value must be a string, number or boolean"
        ))),
    }
}

const FILTER_FIELDS: &str =
    "tags source status created_at last_interaction_at updated_at created_by id name phones emails custom.<key>";

fn leaf_query(ctx: &Ctx<'_>, field: &str, op: FilterOp, value: &Value) -> SResult<Box<dyn Query>> {
    let f = ctx.fields;
    match op {
        FilterOp::In => {
            let items = value
                .as_array()
                .ok_or_else(|| bad(format!("filter on {field:?} with op \"in\" needs a list value")))?;
            if items.len() > 1024 {
                return Err(bad("an \"in\" list may hold at most 1024 values"));
            }
            let qs = items
                .iter()
                .map(|v| leaf_query(ctx, field, FilterOp::Eq, v))
                .collect::<SResult<Vec<_>>>()?;
            return Ok(any_of(qs));
        }
        FilterOp::Neq => return Ok(not(leaf_query(ctx, field, FilterOp::Eq, value)?)),
        FilterOp::Exists => {
            let want = value.as_bool().unwrap_or(true);
            let name = match field {
                "tags"
                | "source"
                | "status"
                | "created_by"
                | "name"
                | "phones"
                | "emails"
                | "last_interaction_at"
                | "photo_url" => field.to_string(),
                "created_at" | "updated_at" | "id" => {
                    return Ok(if want { Box::new(AllQuery) } else { Box::new(EmptyQuery) })
                }
                _ if field.starts_with("custom.") => {
                    custom_def(ctx, field)?;
                    field.to_string()
                }
                _ => {
                    return Err(bad(format!(
                        "unknown filter field {field:?}; filterable fields: {FILTER_FIELDS}"
                    )))
                }
            };
            // a field with a fast column is found there; `present` holds the rest (see
            // index::document)
            let column = crate::index::EXISTS_BY_COLUMN
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, col)| col.to_string())
                .or_else(|| {
                    name.strip_prefix("custom.")
                        .map(|k| format!("{}.{k}", crate::index::CFAST))
                });
            let q = match column {
                Some(col) => any_of(vec![
                    term_q(f.present, &name),
                    Box::new(tantivy::query::ExistsQuery::new(col, false)),
                ]),
                None => term_q(f.present, &name),
            };
            return Ok(if want { q } else { not(q) });
        }
        _ => {}
    }
    let range = |fld: Field, lo: Term, make: &dyn Fn(&str) -> Term, v: &str| -> Box<dyn Query> {
        let _ = fld;
        let t = make(v);
        let (l, u) = match op {
            FilterOp::Gt => (Bound::Excluded(t), Bound::Unbounded),
            FilterOp::Gte => (Bound::Included(t), Bound::Unbounded),
            FilterOp::Lt => (Bound::Unbounded, Bound::Excluded(t)),
            _ => (Bound::Unbounded, Bound::Included(t)),
        };
        // An unbounded side is bounded by the key prefix `lo` for encoded fields.
        let l = match l {
            Bound::Unbounded => Bound::Included(lo.clone()),
            x => x,
        };
        let u = match u {
            Bound::Unbounded => {
                let mut s = lo.value().as_str().unwrap_or("").to_string();
                s.push(char::MAX);
                Bound::Excluded(Term::from_field_text(lo.field(), &s))
            }
            x => x,
        };
        Box::new(RangeQuery::new(l, u))
    };
    let is_range = matches!(op, FilterOp::Gt | FilterOp::Gte | FilterOp::Lt | FilterOp::Lte);
    match field {
        "id" => {
            // the id is not indexed on its own: `key` is the workspace and the id
            let s = value_str(field, value)?;
            let k = |v: &str| term(f.key, &crate::index::doc_key(ctx.ws, v));
            Ok(match op {
                FilterOp::Eq => Box::new(TermQuery::new(k(&s), IndexRecordOption::Basic)),
                FilterOp::Prefix => prefix_range(f.key, &crate::index::doc_key(ctx.ws, &s)),
                _ => range(f.key, k(""), &k, &s),
            })
        }
        "tags" | "source" | "status" | "created_by" => {
            let fld = match field {
                "tags" => f.tag_exact,
                "source" => f.source,
                "status" => f.status,
                _ => f.created_by,
            };
            let s = value_str(field, value)?;
            let s = normalize::fold(s.trim());
            Ok(match op {
                FilterOp::Eq => term_q(fld, &s),
                FilterOp::Prefix => prefix_range(fld, &s),
                _ => range(fld, term(fld, ""), &|v| term(fld, v), &s),
            })
        }
        "created_at" | "last_interaction_at" | "updated_at" => {
            let fld = match field {
                "created_at" => f.created_at,
                "updated_at" => f.updated_at,
                _ => f.last_interaction_at,
            };
            let s = value_str(field, value)?;
            let t = parse_time(&s).ok_or_else(|| {
                bad(format!(
                    "filter on {field:?}: {s:?} is not a date (RFC 3339 or YYYY-MM-DD)"
                ))
            })?;
            let date_only = s.trim().len() == 10;
            let dt = |secs: i64| Term::from_field_date(fld, tantivy::DateTime::from_timestamp_secs(secs));
            let start = t.timestamp();
            let end = if date_only { start + 86_400 } else { start + 1 };
            let (l, u) = match op {
                FilterOp::Eq => (Bound::Included(dt(start)), Bound::Excluded(dt(end))),
                FilterOp::Gt => (Bound::Included(dt(end)), Bound::Unbounded),
                FilterOp::Gte => (Bound::Included(dt(start)), Bound::Unbounded),
                FilterOp::Lt => (Bound::Unbounded, Bound::Excluded(dt(start))),
                FilterOp::Lte => (Bound::Unbounded, Bound::Excluded(dt(end))),
                _ => return Err(bad(format!("filter on {field:?}: op prefix does not apply to dates"))),
            };
            let l = match l {
                Bound::Unbounded => Bound::Included(dt(-9_000_000_000)),
                x => x,
            };
            let u = match u {
                Bound::Unbounded => Bound::Included(dt(9_000_000_000)),
                x => x,
            };
            Ok(Box::new(RangeQuery::new(l, u)))
        }
        "name" => {
            let s = value_str(field, value)?;
            let toks = normalize::tokens(&s);
            match op {
                FilterOp::Eq => {
                    let (person, _) = normalize::split_display_name(&s);
                    Ok(term_q(f.name_exact, &normalize::tokens(&person).join(" ")))
                }
                FilterOp::Prefix => {
                    if toks.is_empty() {
                        return Ok(Box::new(AllQuery));
                    }
                    Ok(prefix_range(f.name_exact, &toks.join(" ")))
                }
                _ if is_range => Ok(range(
                    f.name_exact,
                    term(f.name_exact, ""),
                    &|v| term(f.name_exact, v),
                    &toks.join(" "),
                )),
                _ => Err(bad("unsupported op on name")),
            }
        }
        "phones" => {
            let s = value_str(field, value)?;
            let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
            if digits.is_empty() {
                return Err(bad(format!("filter on phones: {s:?} has no digits")));
            }
            match op {
                FilterOp::Eq => {
                    let pq = normalize::phone_query(&s, ctx.region);
                    let key = pq
                        .and_then(|p| p.e164)
                        .map(|e| e.trim_start_matches('+').to_string())
                        .unwrap_or(digits);
                    Ok(term_q(f.phone, &key))
                }
                FilterOp::Prefix => Ok(prefix_range(f.phone, &digits)),
                _ => Err(bad("filter on phones supports eq, neq, in, prefix and exists")),
            }
        }
        "emails" => {
            let s = value_str(field, value)?.trim().to_lowercase();
            match op {
                FilterOp::Eq => Ok(term_q(f.email, &s)),
                FilterOp::Prefix => Ok(prefix_range(f.email, &s)),
                _ => Err(bad("filter on emails supports eq, neq, in, prefix and exists")),
            }
        }
        _ if field.starts_with("custom.") => {
            let def = custom_def(ctx, field)?;
            let key = &def.key;
            let enc = |kind: char, s: &str| format!("{key}{CF_SEP}{kind}{s}");
            let (kind, encoded) = match def.field_type {
                FieldType::Number => {
                    let n = match value {
                        Value::Number(n) => n.as_f64(),
                        Value::String(s) => s.trim().parse::<f64>().ok(),
                        _ => None,
                    }
                    .ok_or_else(|| bad(format!("filter on {field:?}: {value} is not a number")))?;
                    ('n', encode_f64(n))
                }
                FieldType::Date => {
                    let s = value_str(field, value)?;
                    let t = parse_time(&s).ok_or_else(|| bad(format!("filter on {field:?}: {s:?} is not a date")))?;
                    ('d', encode_time(t.timestamp()))
                }
                FieldType::Checkbox => {
                    let b = match value {
                        Value::Bool(b) => *b,
                        Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                        Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                        _ => return Err(bad(format!("filter on {field:?}: value must be true or false"))),
                    };
                    ('b', if b { "1".to_string() } else { "0".to_string() })
                }
                FieldType::Phone => {
                    let s = value_str(field, value)?;
                    ('s', s.chars().filter(|c| c.is_ascii_digit()).collect())
                }
                _ => ('s', normalize::fold(value_str(field, value)?.trim())),
            };
            let t = term(f.cf, &enc(kind, &encoded));
            match op {
                FilterOp::Eq => Ok(Box::new(TermQuery::new(t, IndexRecordOption::Basic))),
                FilterOp::Prefix => Ok(prefix_range(f.cf, &enc(kind, &encoded))),
                _ => Ok(range(
                    f.cf,
                    term(f.cf, &enc(kind, "")),
                    &|v| term(f.cf, &enc(kind, v)),
                    &encoded,
                )),
            }
        }
        _ => Err(bad(format!(
            "unknown filter field {field:?}; filterable fields: {FILTER_FIELDS}"
        ))),
    }
}

fn custom_def<'a>(ctx: &'a Ctx<'_>, field: &str) -> SResult<&'a FieldDef> {
    let key = field.trim_start_matches("custom.");
    ctx.defs.iter().find(|d| d.key == key).ok_or_else(|| {
        bad(format!(
            "no custom field {key:?} is defined in this workspace (defined: {})",
            ctx.defs.iter().map(|d| d.key.as_str()).collect::<Vec<_>>().join(", ")
        ))
    })
}

/// True when `q` looks like a phone number or a run of its digits.
fn phone_like(q: &str) -> bool {
    let digits = q.chars().filter(|c| c.is_ascii_digit()).count();
    digits >= 4 && q.chars().all(|c| c.is_ascii_digit() || " +-().\u{a0}/".contains(c))
}

/// Builds the query for `q`: every word must match somewhere; each word matches exactly,
/// as a prefix or with typos in name, email, phone, tag and custom values.
pub fn text_query(ctx: &Ctx<'_>, q: &str, df: &dyn Fn(Field, &str) -> u64) -> Option<Box<dyn Query>> {
    let b = &ctx.cfg.boosts;
    let toks = normalize::tokens(q);
    let words = word_query(
        ctx.fields,
        b,
        &ctx.cfg.nickname_map,
        &toks,
        ctx.cfg.common_term_df,
        df,
        &ctx.hidden,
    );
    if phone_like(q) && !ctx.hidden.phones {
        let digits: String = q.chars().filter(|c| c.is_ascii_digit()).collect();
        let f = ctx.fields;
        let mut clauses = vec![konst(term_q(f.phone, &digits), b.phone_exact)];
        if digits.len() <= crate::index::SUFFIX_MAX {
            clauses.push(konst(last_digits_q(f, &digits), b.phone_suffix));
        }
        // a national number typed with its trunk prefix ("030 1234567", "06 12 34 56 78")
        let trunkless = digits.trim_start_matches('0');
        if trunkless.len() >= 6 && trunkless.len() < digits.len() {
            clauses.push(konst(term_q(f.phone, trunkless), b.phone_exact));
        }
        if let Some(e) = normalize::phone_query(q, ctx.region).and_then(|p| p.e164) {
            clauses.push(konst(term_q(f.phone, e.trim_start_matches('+')), b.phone_exact * 1.5));
        }
        if let Some(w) = words {
            clauses.push((Occur::Should, w));
        }
        return Some(Box::new(BooleanQuery::new(clauses)));
    }
    if let Some(e) = email_like(q).filter(|_| !ctx.hidden.emails) {
        // a whole address or domain: matched as one term, or word by word
        let f = ctx.fields;
        let mut clauses = vec![konst(term_q(f.email, &e), b.email_exact * 1.5)];
        if let Some(w) = words {
            clauses.push((Occur::Should, w));
        }
        return Some(Box::new(BooleanQuery::new(clauses)));
    }
    words
}

/// The lower-cased query when it looks like an email address or a domain (one word with `@`
/// or a dot between letters).
fn email_like(q: &str) -> Option<String> {
    let t = q.trim();
    if t.is_empty() || t.contains(char::is_whitespace) {
        return None;
    }
    let lower = t.to_lowercase();
    if lower.contains('@') {
        return Some(lower.trim_start_matches("mailto:").to_string());
    }
    let labels: Vec<&str> = lower.split('.').collect();
    let domainish = labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        && labels.last().is_some_and(|l| l.chars().any(char::is_alphabetic));
    domainish.then_some(lower)
}

/// Edits allowed for a query word of `n` characters: 1 from 4, 2 from 8.
pub fn typo_distance(n: usize) -> u8 {
    if n >= 8 {
        2
    } else if n >= 4 {
        1
    } else {
        0
    }
}

/// One group per query word, all required. A word that is common as typed (found in at
/// least `common_df` documents) is taken as typed: no typo expansion, and no prefix expansion
/// unless it is the last word. Expanding "maria" to "mario", "marie", "mariana"… would add
/// hundreds of thousands of documents that all rank below the exact ones anyway.
fn word_query(
    f: &Fields,
    b: &Boosts,
    nicknames: &HashMap<String, Vec<String>>,
    toks: &[String],
    common_df: u64,
    df: &dyn Fn(Field, &str) -> u64,
    hidden: &Hidden,
) -> Option<Box<dyn Query>> {
    if toks.is_empty() {
        return None;
    }
    let mut groups: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        let last = i + 1 == toks.len();
        let n = t.chars().count();
        let mut c: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let tq =
            |fld: Field| -> Box<dyn Query> { Box::new(TermQuery::new(term(fld, t), IndexRecordOption::WithFreqs)) };
        // a word typed so far: one term of the field's prefix field when it is that short,
        // else a walk over the terms it begins
        let pq = |fld: Field, pre: Field, max: usize| -> Box<dyn Query> {
            if n <= max {
                Box::new(TermQuery::new(term(pre, t), IndexRecordOption::Basic))
            } else {
                Box::new(ExpandQuery::prefix(term(fld, t)))
            }
        };
        let common = df(f.name, t) + df(f.email, t) + df(f.custom, t) + df(f.tag, t) >= common_df;
        let dist = if common { 0 } else { typo_distance(n) };
        let fq = |fld: Field| -> Box<dyn Query> { Box::new(ExpandQuery::typos(term(fld, t), dist)) };
        let prefix_ok = last || (n >= 2 && !common);
        // a one- or two-letter last word expands in names and tags only
        let wide_prefix = prefix_ok && n >= crate::index::WIDE_PREFIX_MIN;
        // name
        if !hidden.name {
            c.push(konst(tq(f.name), b.name_exact));
            c.push(boosted(tq(f.name), 1.0));
            if prefix_ok {
                c.push(konst(
                    pq(f.name, f.name_pre, crate::index::SHORT_PREFIX_MAX),
                    b.name_prefix,
                ));
            }
            if dist > 0 {
                c.push(konst(fq(f.name), b.name_typo));
            }
            for v in nicknames.get(t.as_str()).into_iter().flatten() {
                c.push(konst(term_q(f.name, v), b.name_nickname));
            }
        }
        // email
        if !hidden.emails {
            c.push(konst(tq(f.email), b.email_exact));
            if wide_prefix {
                c.push(konst(
                    pq(f.email, f.email_pre, crate::index::PREFIX_MAX),
                    b.email_prefix,
                ));
            }
        }
        // phone digits inside a mixed query
        if !hidden.phones && t.len() >= 4 && t.bytes().all(|x| x.is_ascii_digit()) {
            c.push(konst(tq(f.phone), b.phone_exact));
            if t.len() <= crate::index::SUFFIX_MAX {
                c.push(konst(last_digits_q(f, t), b.phone_suffix));
            }
        }
        // tags
        if !hidden.tags {
            c.push(konst(tq(f.tag), b.tag_exact));
            if prefix_ok {
                // few distinct tag words: the walk over those a prefix begins is short
                c.push(konst(Box::new(ExpandQuery::prefix(term(f.tag, t))), b.tag_prefix));
            }
        }
        // custom values
        if !hidden.custom {
            c.push(konst(tq(f.custom), b.custom_exact));
            if wide_prefix {
                c.push(konst(
                    pq(f.custom, f.custom_pre, crate::index::SHORT_PREFIX_MAX),
                    b.custom_prefix,
                ));
            }
            if dist > 0 {
                c.push(konst(fq(f.custom), b.custom_typo));
            }
        }
        if c.is_empty() {
            c.push((Occur::Should, Box::new(EmptyQuery)));
        }
        groups.push((Occur::Must, Box::new(BooleanQuery::new(c))));
    }
    Some(Box::new(BooleanQuery::new(groups)))
}

/// Why a contact matched `q`: one entry per (query word, field) that matched, with the kind
/// of match, checked against the same terms the index holds.
pub fn explain(ctx: &Ctx<'_>, q: &str, terms: &crate::index::SearchTerms) -> Vec<Value> {
    let mut out = Vec::new();
    if phone_like(q) {
        let digits: String = q.chars().filter(|c| c.is_ascii_digit()).collect();
        let e164 = normalize::phone_query(q, ctx.region)
            .and_then(|p| p.e164)
            .map(|e| e.trim_start_matches('+').to_string());
        if e164.as_ref().is_some_and(|e| terms.phone.contains(e)) || terms.phone.contains(&digits) {
            out.push(serde_json::json!({"word": q, "field": "phones", "match": "exact"}));
        } else if crate::index::ends_a_phone(&terms.phone_local, &digits) {
            out.push(serde_json::json!({"word": q, "field": "phones", "match": "last_digits"}));
        }
    }
    let toks = normalize::tokens(q);
    for (i, t) in toks.iter().enumerate() {
        let last = i + 1 == toks.len();
        let n = t.chars().count();
        let dist = typo_distance(n) as usize;
        let prefix_ok = last || n >= 2;
        let nick = ctx.cfg.nickname_map.get(t.as_str());
        let fields: [(&str, &Vec<String>); 5] = [
            ("name", &terms.name),
            ("emails", &terms.email),
            ("phones", &terms.phone_local),
            ("tags", &terms.tag),
            ("custom", &terms.custom),
        ];
        for (field, list) in fields {
            let kind = if field == "phones" {
                if terms.phone.contains(t) {
                    Some("exact")
                } else if crate::index::ends_a_phone(list, t) {
                    Some("last_digits")
                } else {
                    None
                }
            } else if list.iter().any(|x| x == t) {
                Some("exact")
            } else if prefix_ok
                && field != "phones"
                && (n >= crate::index::WIDE_PREFIX_MIN || field == "name" || field == "tags")
                && list.iter().any(|x| x.starts_with(t.as_str()))
            {
                Some("prefix")
            } else if field == "name" && nick.is_some_and(|vs| vs.iter().any(|v| list.contains(v))) {
                Some("nickname")
            } else if dist > 0 && field != "phones" && list.iter().any(|x| strsim::osa_distance(x, t) <= dist) {
                Some("typo")
            } else {
                None
            };
            if let Some(kind) = kind {
                out.push(serde_json::json!({"word": t, "field": field, "match": kind}));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// sort, cursor, collection

/// A sortable column: the score, a date, a string (compared by dictionary order) or a
/// number (custom number fields, in the `cfast` JSON fast field).
#[derive(Debug, Clone, PartialEq, Eq)]
enum SortField {
    Score,
    Date(String),
    Str(String),
    Num(String),
}

#[derive(Debug, Clone)]
struct SortKeySpec {
    field: SortField,
    desc: bool,
}

fn parse_sort(ctx: &Ctx<'_>, specs: &[SortSpec]) -> SResult<Vec<SortKeySpec>> {
    if specs.len() > 4 {
        return Err(bad("at most 4 sort keys"));
    }
    specs
        .iter()
        .map(|s| {
            let desc = match s.order.as_deref().unwrap_or(if s.field == "score" { "desc" } else { "asc" }) {
                "asc" => false,
                "desc" => true,
                o => return Err(bad(format!("sort order {o:?}: use asc or desc"))),
            };
            let field = match s.field.as_str() {
                "score" => SortField::Score,
                "created_at" | "last_interaction_at" | "updated_at" => SortField::Date(s.field.clone()),
                "name" => SortField::Str("name_exact".into()),
                "source" | "status" | "created_by" | "id" => SortField::Str(s.field.clone()),
                "tags" => SortField::Str("tag_exact".into()),
                f if f.starts_with("custom.") => {
                    let def = custom_def(ctx, f)?;
                    let col = format!("{}.{}", crate::index::CFAST, def.key);
                    match def.field_type {
                        FieldType::Number => SortField::Num(col),
                        FieldType::Date => SortField::Date(col),
                        FieldType::LongText => return Err(bad(format!("cannot sort by {f:?}: long_text fields are not sortable"))),
                        FieldType::Checkbox => SortField::Num(col),
                        _ => SortField::Str(col),
                    }
                }
                other => {
                    return Err(bad(format!(
                        "cannot sort by {other:?}: sortable fields are score, id, name, tags, created_at, last_interaction_at, updated_at, source, status, created_by, custom.<key>"
                    )))
                }
            };
            Ok(SortKeySpec { field, desc })
        })
        .collect()
}

/// A sort value: a number, a string, or missing (always last).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Key {
    N(u64),
    S(String),
    M,
}

fn cmp_key(a: &Key, b: &Key, desc: bool) -> Ordering {
    match (a, b) {
        (Key::M, Key::M) => Ordering::Equal,
        (Key::M, _) => Ordering::Greater,
        (_, Key::M) => Ordering::Less,
        (Key::N(x), Key::N(y)) => {
            if desc {
                y.cmp(x)
            } else {
                x.cmp(y)
            }
        }
        (Key::S(x), Key::S(y)) => {
            if desc {
                y.cmp(x)
            } else {
                x.cmp(y)
            }
        }
        (Key::N(_), Key::S(_)) => Ordering::Less,
        (Key::S(_), Key::N(_)) => Ordering::Greater,
    }
}

/// Orders two (keys, id) positions: Less = earlier in the results. Ties broken by id.
fn cmp_pos(specs: &[SortKeySpec], a: &[Key], aid: &str, b: &[Key], bid: &str) -> Ordering {
    for (i, s) in specs.iter().enumerate() {
        let o = cmp_key(&a[i], &b[i], s.desc);
        if o != Ordering::Equal {
            return o;
        }
    }
    aid.cmp(bid)
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    /// workspace
    w: String,
    /// hash of the query (q, filter, sort)
    h: u64,
    k: Vec<Key>,
    id: String,
}

fn fnv(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in data {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn query_hash(req: &SearchRequest) -> u64 {
    let s = serde_json::json!([req.q, req.filter, req.sort]).to_string();
    fnv(s.as_bytes())
}

fn encode_cursor(c: &Cursor) -> String {
    let json = serde_json::to_vec(c).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_cursor(s: &str, ws: &str, h: u64, nkeys: usize) -> SResult<Cursor> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim())
        .map_err(|_| SearchError::BadCursor("it is not a cursor this service issued".into()))?;
    let c: Cursor = serde_json::from_slice(&raw)
        .map_err(|_| SearchError::BadCursor("it is not a cursor this service issued".into()))?;
    if c.w != ws {
        return Err(SearchError::BadCursor("it belongs to another workspace".into()));
    }
    if c.h != h || c.k.len() != nkeys {
        return Err(SearchError::BadCursor(
            "it belongs to another query (q, filter and sort must stay the same across pages)".into(),
        ));
    }
    Ok(c)
}

struct Hit {
    keys: Vec<Key>,
    id: String,
    score: f32,
}

struct TopCollector {
    specs: Vec<SortKeySpec>,
    limit: usize,
    after: Option<(Vec<Key>, String)>,
    facets: Vec<(String, String)>,
    scoring: bool,
    ids: std::sync::Arc<crate::index::IdTables>,
}

struct SegFruit {
    count: u64,
    hits: Vec<Hit>,
    facets: Vec<HashMap<String, u64>>,
}

enum SegCol {
    Score,
    Date(Option<tantivy::columnar::Column<tantivy::DateTime>>),
    Str(Option<StrColumn>),
    Num(Option<tantivy::columnar::Column<f64>>),
}

/// A hit inside one segment. String sort keys and the id are kept as `2·ord + 1` of the
/// segment's sorted dictionary, so a segment compares integers only and reads strings just
/// for the hits it keeps. A cursor string maps to `2·ord + 1` when the segment holds it and
/// to `2·next_ord` when it does not, which orders it correctly among the segment's values.
struct SegHit {
    keys: Vec<Key>,
    id: u64,
    score: f32,
}

struct TopSegment {
    specs: Vec<SortKeySpec>,
    cols: Vec<SegCol>,
    id_col: Option<StrColumn>,
    id_table: Option<std::sync::Arc<crate::index::IdTable>>,
    limit: usize,
    after: Option<(Vec<Key>, u64)>,
    count: u64,
    hits: Vec<SegHit>,
    /// current worst kept hit, once `hits` is full
    worst: Option<(Vec<Key>, u64)>,
    facet_cols: Vec<Option<StrColumn>>,
    facet_counts: Vec<Vec<u64>>,
    /// reused for the keys of each collected document
    scratch: Vec<Key>,
}

fn seg_ord(col: &Option<StrColumn>, doc: DocId) -> Option<u64> {
    col.as_ref()?.term_ords(doc).next().map(|o| 2 * o + 1)
}

/// The strings of many segment-space ordinals at once: the dictionary is read in order, so
/// each (compressed) block is opened once instead of once per ordinal.
fn seg_strs(col: &Option<StrColumn>, xs: impl Iterator<Item = u64>) -> HashMap<u64, String> {
    let mut out = HashMap::new();
    let Some(c) = col.as_ref() else { return out };
    let mut ords: Vec<u64> = xs.filter(|x| x % 2 == 1).map(|x| (x - 1) / 2).collect();
    ords.sort_unstable();
    ords.dedup();
    let mut i = 0;
    let found = c.dictionary().sorted_ords_to_term_cb(&ords, |bytes| {
        if let (Some(o), Ok(s)) = (ords.get(i), std::str::from_utf8(bytes)) {
            out.insert(2 * o + 1, s.to_string());
        }
        i += 1;
    });
    if !matches!(found, Ok(true)) {
        tracing::warn!("a sort or id column lacks ordinals its documents hold");
    }
    out
}

/// Position of a string among a segment's dictionary, in segment space.
fn seg_position(col: &Option<StrColumn>, s: &str) -> u64 {
    let Some(c) = col.as_ref() else { return 0 };
    let n = c.dictionary().num_terms() as u64;
    match c.dictionary().term_ord_or_next(s.as_bytes()) {
        Ok(tantivy::columnar::TermOrdHit::Exact(o)) => 2 * o + 1,
        Ok(tantivy::columnar::TermOrdHit::Next(o)) => 2 * o.min(n),
        Err(_) => 2 * n,
    }
}

fn cmp_keys(specs: &[SortKeySpec], a: &[Key], b: &[Key]) -> Ordering {
    for (i, s) in specs.iter().enumerate() {
        let o = cmp_key(&a[i], &b[i], s.desc);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn cmp_seg(specs: &[SortKeySpec], a: &[Key], aid: u64, b: &[Key], bid: u64) -> Ordering {
    cmp_keys(specs, a, b).then(aid.cmp(&bid))
}

impl TopSegment {
    /// The sort keys of `doc`, into `out`.
    fn keys_of(&self, doc: DocId, score: Score, out: &mut Vec<Key>) {
        out.clear();
        out.extend(self.cols.iter().map(|c| match c {
            SegCol::Score => Key::N(score.max(0.0).to_bits() as u64),
            SegCol::Date(col) => match col.as_ref().and_then(|c| c.first(doc)) {
                Some(d) => Key::N((d.into_timestamp_secs() as u64) ^ (1 << 63)),
                None => Key::M,
            },
            SegCol::Str(col) => seg_ord(col, doc).map_or(Key::M, Key::N),
            SegCol::Num(col) => match col.as_ref().and_then(|c| c.first(doc)) {
                Some(f) => Key::N(ordered_f64(f)),
                None => Key::M,
            },
        }));
    }

    /// Whether a hit with these keys may still enter the page: after the cursor and before
    /// the worst hit kept. The id (a column read) is looked up only when the keys tie.
    fn admits(&self, keys: &[Key], doc: DocId) -> Option<u64> {
        let mut id = None;
        let mut id_of = || -> Option<u64> {
            if id.is_none() {
                id = seg_ord(&self.id_col, doc);
            }
            id
        };
        if let Some((ak, aid)) = &self.after {
            match cmp_keys(&self.specs, keys, ak) {
                Ordering::Less => return None,
                Ordering::Equal if id_of()? <= *aid => return None,
                _ => {}
            }
        }
        if let Some((wk, wid)) = &self.worst {
            match cmp_keys(&self.specs, keys, wk) {
                Ordering::Greater => return None,
                Ordering::Equal if id_of()? >= *wid => return None,
                _ => {}
            }
        }
        id_of()
    }

    fn prune(&mut self) {
        let specs = &self.specs;
        self.hits.sort_by(|a, b| cmp_seg(specs, &a.keys, a.id, &b.keys, b.id));
        self.hits.truncate(self.limit);
        if self.hits.len() == self.limit {
            if let Some(w) = self.hits.last() {
                self.worst = Some((w.keys.clone(), w.id));
            }
        }
    }
}

impl SegmentCollector for TopSegment {
    type Fruit = SegFruit;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.count += 1;
        for (i, col) in self.facet_cols.iter().enumerate() {
            if let Some(c) = col {
                for ord in c.term_ords(doc) {
                    if let Some(n) = self.facet_counts[i].get_mut(ord as usize) {
                        *n += 1;
                    }
                }
            }
        }
        if self.limit == 0 {
            return;
        }
        let mut keys = std::mem::take(&mut self.scratch);
        self.keys_of(doc, score, &mut keys);
        let admitted = self.admits(&keys, doc);
        if let Some(id) = admitted {
            self.hits.push(SegHit {
                keys: keys.clone(),
                id,
                score,
            });
        }
        self.scratch = keys;
        if admitted.is_none() {
            return;
        }
        if self.hits.len() >= self.limit * 2 + 16 {
            self.prune();
        }
    }

    fn harvest(mut self) -> SegFruit {
        self.prune();
        let ids = match &self.id_table {
            Some(t) => self
                .hits
                .iter()
                .filter_map(|h| Some((h.id, t.get((h.id - 1) / 2)?.to_string())))
                .collect(),
            None => seg_strs(&self.id_col, self.hits.iter().map(|h| h.id)),
        };
        let strs: Vec<HashMap<u64, String>> = self
            .cols
            .iter()
            .enumerate()
            .map(|(i, c)| match c {
                SegCol::Str(col) => seg_strs(
                    col,
                    self.hits.iter().filter_map(|h| match h.keys.get(i) {
                        Some(Key::N(x)) => Some(*x),
                        _ => None,
                    }),
                ),
                _ => HashMap::new(),
            })
            .collect();
        let mut hits = Vec::with_capacity(self.hits.len());
        for h in &self.hits {
            let Some(id) = ids.get(&h.id).cloned() else {
                continue;
            };
            let keys = h
                .keys
                .iter()
                .zip(&self.cols)
                .enumerate()
                .map(|(i, (k, c))| match (k, c) {
                    (Key::N(x), SegCol::Str(_)) => strs[i].get(x).cloned().map_or(Key::M, Key::S),
                    (k, _) => k.clone(),
                })
                .collect();
            hits.push(Hit {
                keys,
                id,
                score: h.score,
            });
        }
        let mut facets = Vec::new();
        for (i, counts) in self.facet_counts.iter().enumerate() {
            let mut m = HashMap::new();
            if let Some(c) = &self.facet_cols[i] {
                for (ord, n) in counts.iter().enumerate() {
                    if *n == 0 {
                        continue;
                    }
                    let mut s = String::new();
                    if let Ok(true) = c.ord_to_str(ord as u64, &mut s) {
                        *m.entry(s).or_insert(0) += n;
                    }
                }
            }
            facets.push(m);
        }
        SegFruit {
            count: self.count,
            hits,
            facets,
        }
    }
}

impl Collector for TopCollector {
    type Fruit = SegFruit;
    type Child = TopSegment;

    fn for_segment(&self, _ord: SegmentOrdinal, seg: &SegmentReader) -> tantivy::Result<TopSegment> {
        let ff = seg.fast_fields();
        let mut cols = Vec::new();
        for s in &self.specs {
            cols.push(match &s.field {
                SortField::Score => SegCol::Score,
                SortField::Date(name) => SegCol::Date(ff.column_opt::<tantivy::DateTime>(name)?),
                SortField::Str(name) => SegCol::Str(ff.str(name)?),
                SortField::Num(name) => SegCol::Num(ff.column_opt::<f64>(name)?),
            });
        }
        let id_col = ff.str("id")?;
        // the cursor, translated into this segment's ordinals
        let after = self.after.as_ref().map(|(keys, id)| {
            let keys = keys
                .iter()
                .zip(&cols)
                .map(|(k, c)| match (k, c) {
                    (Key::S(s), SegCol::Str(col)) => Key::N(seg_position(col, s)),
                    (k, _) => k.clone(),
                })
                .collect::<Vec<_>>();
            (keys, seg_position(&id_col, id))
        });
        let mut facet_cols = Vec::new();
        let mut facet_counts = Vec::new();
        for (_, col) in &self.facets {
            let c = ff.str(col)?;
            facet_counts.push(vec![0u64; c.as_ref().map_or(0, |c| c.dictionary().num_terms())]);
            facet_cols.push(c);
        }
        Ok(TopSegment {
            specs: self.specs.clone(),
            cols,
            id_table: self.ids.table(seg),
            id_col,
            limit: self.limit,
            after,
            count: 0,
            hits: Vec::new(),
            worst: None,
            facet_cols,
            facet_counts,
            scratch: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.scoring
    }

    fn merge_fruits(&self, fruits: Vec<SegFruit>) -> tantivy::Result<SegFruit> {
        let mut count = 0;
        let mut hits = Vec::new();
        let mut facets: Vec<HashMap<String, u64>> = vec![HashMap::new(); self.facets.len()];
        for f in fruits {
            count += f.count;
            hits.extend(f.hits);
            for (i, m) in f.facets.into_iter().enumerate() {
                for (k, v) in m {
                    *facets[i].entry(k).or_insert(0) += v;
                }
            }
        }
        let specs = &self.specs;
        hits.sort_by(|a, b| cmp_pos(specs, &a.keys, &a.id, &b.keys, &b.id));
        hits.truncate(self.limit);
        Ok(SegFruit { count, hits, facets })
    }
}

/// Order-preserving u64 of an f64.
fn ordered_f64(f: f64) -> u64 {
    let bits = f.to_bits();
    if f.is_sign_negative() {
        !bits
    } else {
        bits | (1 << 63)
    }
}

fn facet_column(ctx: &Ctx<'_>, name: &str) -> SResult<String> {
    Ok(match name {
        "tags" => "tag_exact".into(),
        "source" | "status" | "created_by" => name.into(),
        f if f.starts_with("custom.") => {
            let def = custom_def(ctx, f)?;
            match def.field_type {
                FieldType::SingleSelect | FieldType::MultiSelect | FieldType::Text | FieldType::Url | FieldType::Email => {
                    format!("{}.{}", crate::index::CFAST, def.key)
                }
                t => {
                    return Err(bad(format!(
                        "cannot facet on {f:?}: facets take select, text, url and email fields, not {}",
                        t.as_str()
                    )))
                }
            }
        }
        other => {
            return Err(bad(format!(
                "cannot facet on {other:?}: facets are available on tags, source, status, created_by and custom.<key> of select or text fields"
            )))
        }
    })
}

/// A facet value as shown: select options in their defined spelling.
fn facet_label(ctx: &Ctx<'_>, facet: &str, folded: &str) -> String {
    if let Some(key) = facet.strip_prefix("custom.") {
        if let Some(def) = ctx.defs.iter().find(|d| d.key == key) {
            if let Some(o) = def.options.iter().find(|o| normalize::fold(o) == folded) {
                return o.clone();
            }
        }
    }
    folded.to_string()
}

/// Runs a search in one workspace.
pub fn run(index: &SearchIndex, ctx: &Ctx<'_>, req: &SearchRequest) -> SResult<Outcome> {
    let q = req.q.as_deref().unwrap_or("").trim();
    let limit = req.limit.unwrap_or(ctx.cfg.default_limit);
    if limit > ctx.cfg.max_limit {
        return Err(bad(format!(
            "limit {limit} is over the maximum of {}",
            ctx.cfg.max_limit
        )));
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> =
        vec![(Occur::Must, Box::new(ScopeQuery(term(ctx.fields.ws, ctx.ws))))];
    let searcher = index.searcher();
    let df = |f: Field, t: &str| searcher.doc_freq(&term(f, t)).unwrap_or(0);
    let text = if q.is_empty() { None } else { text_query(ctx, q, &df) };
    let has_text = text.is_some();
    if let Some(t) = text {
        clauses.push((Occur::Must, t));
    } else if !q.is_empty() {
        // q had no searchable characters (only emoji or punctuation): nothing can match it.
        clauses.push((Occur::Must, Box::new(EmptyQuery)));
    }
    if let Some(fv) = &req.filter {
        let f = parse_filter(fv)?;
        clauses.push((Occur::Must, Box::new(ConstScoreQuery::new(filter_query(ctx, &f)?, 0.0))));
    }
    let query = BooleanQuery::new(clauses);

    let specs = match &req.sort {
        Some(s) if !s.is_empty() => parse_sort(ctx, s)?,
        _ => vec![SortKeySpec {
            field: SortField::Score,
            desc: true,
        }],
    };
    let h = query_hash(req);
    let after = match &req.cursor {
        Some(c) if !c.is_empty() => {
            let c = decode_cursor(c, ctx.ws, h, specs.len())?;
            Some((c.k, c.id))
        }
        _ => None,
    };
    let facets = req
        .facets
        .iter()
        .flatten()
        .map(|n| Ok((n.clone(), facet_column(ctx, n)?)))
        .collect::<SResult<Vec<_>>>()?;
    let scoring = has_text && specs.iter().any(|s| s.field == SortField::Score);
    let collector = TopCollector {
        specs: specs.clone(),
        limit,
        after,
        facets: facets.clone(),
        scoring,
        ids: index.ids.clone(),
    };
    let fruit = searcher.search(&query, &collector)?;

    // total counts every hit of the query, not only those after the cursor
    let total = if req.cursor.is_some() {
        searcher.search(&query, &tantivy::collector::Count)? as u64
    } else {
        fruit.count
    };
    let next_cursor = if fruit.hits.len() == limit && limit > 0 {
        fruit.hits.last().map(|last| {
            encode_cursor(&Cursor {
                w: ctx.ws.to_string(),
                h,
                k: last.keys.clone(),
                id: last.id.clone(),
            })
        })
    } else {
        None
    };
    let facets_out = if facets.is_empty() {
        None
    } else {
        let mut m = serde_json::Map::new();
        for (i, (name, _)) in facets.iter().enumerate() {
            let mut counts: Vec<(String, u64)> = fruit.facets[i].iter().map(|(k, v)| (k.clone(), *v)).collect();
            counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let obj: serde_json::Map<String, Value> = counts
                .into_iter()
                .take(100)
                .map(|(k, v)| (facet_label(ctx, name, &k), Value::from(v)))
                .collect();
            m.insert(name.clone(), Value::Object(obj));
        }
        Some(m)
    };
    Ok(Outcome {
        hits: fruit
            .hits
            .into_iter()
            .map(|h| RawHit {
                id: h.id,
                score: if scoring { h.score } else { 0.0 },
            })
            .collect(),
        total,
        next_cursor,
        facets: facets_out,
    })
}

/// Candidate duplicates of a record from the index: contacts of the workspace sharing a
/// phone or an email, or whose name matches every word of this one (exactly or with one
/// typo, any order). Best `limit` by score.
pub fn duplicate_candidates(
    index: &SearchIndex,
    ws: &str,
    r: &crate::dedup::Record,
    limit: usize,
) -> Result<Vec<String>, SearchError> {
    let f = &index.fields;
    let mut should: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for p in &r.phones {
        should.push(konst(term_q(f.phone, p.trim_start_matches('+')), 10.0));
    }
    for e in &r.emails {
        should.push(konst(term_q(f.email, e), 10.0));
    }
    if !r.name_tokens.is_empty() {
        let words: Vec<(Occur, Box<dyn Query>)> = r
            .name_tokens
            .iter()
            .map(|t| {
                let d = typo_distance(t.chars().count()).min(1);
                let q: Box<dyn Query> = if d > 0 {
                    Box::new(ExpandQuery::typos(term(f.name, t), d))
                } else {
                    term_q(f.name, t)
                };
                (Occur::Must, q)
            })
            .collect();
        should.push(konst(Box::new(BooleanQuery::new(words)), 5.0));
    }
    if should.is_empty() {
        return Ok(Vec::new());
    }
    let query = BooleanQuery::new(vec![
        (Occur::Must, Box::new(ScopeQuery(term(f.ws, ws)))),
        (Occur::Must, Box::new(BooleanQuery::new(should))),
    ]);
    let collector = TopCollector {
        specs: vec![SortKeySpec {
            field: SortField::Score,
            desc: true,
        }],
        limit: limit.max(1),
        after: None,
        facets: Vec::new(),
        scoring: true,
        ids: index.ids.clone(),
    };
    let fruit = index.searcher().search(&query, &collector)?;
    Ok(fruit.hits.into_iter().map(|h| h.id).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Documents of `q` over a small in-memory index, in doc order.
    fn matches(index: &tantivy::Index, q: &dyn Query) -> Vec<DocId> {
        let searcher = index.reader().expect("reader").searcher();
        let mut out: Vec<DocId> = searcher
            .search(q, &tantivy::collector::DocSetCollector)
            .expect("search")
            .into_iter()
            .map(|a| a.doc_id)
            .collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn expanded_words_match_what_tantivys_fuzzy_query_matches() {
        let mut b = tantivy::schema::Schema::builder();
        let f = b.add_text_field("w", tantivy::schema::STRING);
        let index = tantivy::Index::create_in_ram(b.build());
        let mut w = index.writer_with_num_threads(1, 15_000_000).expect("writer");
        // many documents, so that a rare word takes the sparse path and a common one the dense
        let words = [
            "maria", "mario", "marie", "marcos", "mariana", "silva", "silvia", "jose",
        ];
        for i in 0..2000 {
            let mut d = tantivy::TantivyDocument::new();
            d.add_text(f, words[i % words.len()]);
            if i % 97 == 0 {
                d.add_text(f, "rodrigues");
            }
            w.add_document(d).expect("add");
        }
        w.commit().expect("commit");
        for (word, dist, prefix) in [
            ("mari", 1, false),
            ("maria", 1, false),
            ("rodrigez", 2, false),
            ("rodrigues", 0, true),
            ("mariana", 0, true),
            ("zzzz", 1, false),
        ] {
            let t = Term::from_field_text(f, word);
            let ours = ExpandQuery {
                term: t.clone(),
                dist,
                prefix,
            };
            let theirs = if prefix {
                FuzzyTermQuery::new_prefix(t, dist, true)
            } else {
                FuzzyTermQuery::new(t, dist, true)
            };
            assert_eq!(
                matches(&index, &ours),
                matches(&index, &theirs),
                "{word} {dist} {prefix}"
            );
        }
        assert!(matches(&index, &ExpandQuery::typos(Term::from_field_text(f, "rodrigez"), 2)).len() > 10);
    }

    #[test]
    fn sorted_docs_advance_and_seek() {
        use tantivy::DocSet;
        let mut d = SortedDocs {
            docs: vec![2, 5, 9, 40],
            i: 0,
        };
        assert_eq!(d.doc(), 2);
        assert_eq!(d.seek(5), 5);
        assert_eq!(d.seek(6), 9);
        assert_eq!(d.advance(), 40);
        assert_eq!(d.advance(), tantivy::TERMINATED);
        assert_eq!(d.advance(), tantivy::TERMINATED);
        assert_eq!(d.seek(50), tantivy::TERMINATED);
    }

    #[test]
    fn filter_parsing_accepts_trees_and_rejects_junk() {
        let f = parse_filter(
            &serde_json::json!({"and": [{"field": "tags", "op": "eq", "value": "vip"}, {"not": {"field": "status", "op": "eq", "value": "blocked"}}]}),
        );
        assert!(matches!(f, Ok(Filter::And(ref v)) if v.len() == 2));
        assert!(parse_filter(&serde_json::json!({"field": "tags", "op": "like", "value": "x"})).is_err());
        assert!(parse_filter(&serde_json::json!([1, 2])).is_err());
        assert!(parse_filter(&serde_json::json!({"field": "tags", "op": "eq"})).is_err());
        let mut deep = serde_json::json!({"field": "tags", "op": "eq", "value": "x"});
        for _ in 0..40 {
            deep = serde_json::json!({"not": deep});
        }
        assert!(parse_filter(&deep).is_err());
    }

    #[test]
    fn cursor_round_trip_and_tamper() {
        let c = Cursor {
            w: "a".into(),
            h: 7,
            k: vec![Key::N(3), Key::M],
            id: "x".into(),
        };
        let s = encode_cursor(&c);
        assert!(decode_cursor(&s, "a", 7, 2).is_ok());
        assert!(decode_cursor(&s, "b", 7, 2).is_err());
        assert!(decode_cursor(&s, "a", 8, 2).is_err());
        assert!(decode_cursor("!!!", "a", 7, 2).is_err());
    }

    #[test]
    fn ordering_puts_missing_last_and_breaks_ties_by_id() {
        let specs = [SortKeySpec {
            field: SortField::Date("created_at".into()),
            desc: true,
        }];
        assert_eq!(cmp_pos(&specs, &[Key::N(5)], "b", &[Key::N(3)], "a"), Ordering::Less);
        assert_eq!(cmp_pos(&specs, &[Key::M], "a", &[Key::N(3)], "b"), Ordering::Greater);
        assert_eq!(cmp_pos(&specs, &[Key::N(3)], "a", &[Key::N(3)], "b"), Ordering::Less);
    }

    #[test]
    fn phone_like_queries() {
        assert!(phone_like("+55 (11) 98765-4321"));
        assert!(phone_like("4321"));
        assert!(!phone_like("432"));
        assert!(!phone_like("maria 4321"));
    }
}

#[cfg(test)]
mod cursor_props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn any_string_is_refused_or_decoded_without_panic(s in "\\PC{0,80}") {
            let _ = decode_cursor(&s, "ws", 1, 0);
        }

        #[test]
        fn cursors_round_trip_and_stay_in_their_workspace(
            w in "[a-z0-9]{1,10}", other in "[a-z0-9]{1,10}", h in any::<u64>(), id in "[A-Za-z0-9._:-]{1,20}"
        ) {
            let c = Cursor { w: w.clone(), h, k: vec![], id: id.clone() };
            let enc = encode_cursor(&c);
            let dec = decode_cursor(&enc, &w, h, 0).map(|c| c.id);
            prop_assert_eq!(dec.ok(), Some(id));
            if other != w {
                prop_assert!(decode_cursor(&enc, &other, h, 0).is_err());
            }
            prop_assert!(decode_cursor(&enc, &w, h.wrapping_add(1), 0).is_err());
            // one character changed: refused or another valid cursor, never a panic
            let mut bytes = enc.into_bytes();
            let mid = bytes.len() / 2;
            bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
            let _ = decode_cursor(&String::from_utf8_lossy(&bytes), &w, h, 0);
        }
    }
}

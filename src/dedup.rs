//! Duplicate detection: blocking, Fellegi–Sunter scoring with strsim comparators, and
//! clustering, for a whole workspace (batch, rayon-parallel) or one contact (on demand).
//!
//! Pipeline (batch): contacts → [`Record`]s (the same `normalize` functions as the index) →
//! blocking keys (phone, canonical email, typo- and order-tolerant name keys, configured
//! custom keys) → candidate pairs (all pairs in small blocks; sorted neighbourhood in huge
//! ones) → [`Scorer::score`] per pair in parallel → pairs at or above the threshold →
//! clusters (greedy, complete-linkage: a pair joins two clusters only if every cross pair
//! matches, so one shared phone cannot chain different people together).
//!
//! Scoring: each field falls into a comparison level with a configured m (probability of the
//! level among true duplicates) and u (among non-duplicates); the match weight is the prior
//! log-odds plus Σ log2(m/u). Frequencies adjust the evidence: an exact name match counts less
//! when the name's rarest word is common ("Maria Silva"), and a phone or email shared by many
//! contacts (a switchboard, a family phone) counts less.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::{DedupConfig, Level};
use crate::model::Contact;
use crate::normalize;

/// The comparable form of a contact.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub id: String,
    /// Person-part name words, folded, nicknames mapped to their formal name.
    pub name_tokens: Vec<String>,
    /// `name_tokens` sorted and joined: order-insensitive.
    pub name_key: String,
    /// E.164 (or digits when unparsed).
    pub phones: Vec<String>,
    /// Canonical emails (lower-case, gmail dots/plus removed).
    pub emails: Vec<String>,
    pub email_locals: Vec<String>,
    /// Folded values of the configured custom rules, in rule order.
    pub custom: Vec<Option<String>>,
}

/// Nickname → formal name, for name keys and comparisons.
pub type Formal = HashMap<String, String>;

/// Builds the nickname → formal map from the config's formal → nicknames table.
pub fn formal_map(table: &std::collections::BTreeMap<String, Vec<String>>) -> Formal {
    let mut m = HashMap::new();
    for (formal, nicks) in table {
        let f = normalize::fold(formal.trim());
        for n in nicks {
            m.entry(normalize::fold(n.trim())).or_insert_with(|| f.clone());
        }
    }
    m
}

/// Derives the comparable record of a contact.
pub fn record(c: &Contact, cfg: &DedupConfig, formal: &Formal) -> Record {
    let mut r = Record {
        id: c.id.clone(),
        ..Default::default()
    };
    if let Some(name) = &c.name {
        let (person, _) = normalize::split_display_name(name);
        normalize::for_each_token(&person, |t| {
            let t = formal.get(t).map(String::as_str).unwrap_or(t);
            if !r.name_tokens.iter().any(|x| x == t) {
                r.name_tokens.push(t.to_string());
            }
        });
        let mut sorted = r.name_tokens.clone();
        sorted.sort();
        r.name_key = sorted.join(" ");
    }
    for p in &c.phones {
        let v = p.e164.clone().unwrap_or_else(|| p.digits.clone());
        if !r.phones.contains(&v) {
            r.phones.push(v);
        }
    }
    for e in &c.emails {
        if let Ok(n) = normalize::normalize_email(e) {
            if !r.emails.contains(&n.canonical) {
                r.emails.push(n.canonical.clone());
                let local = n.canonical.split('@').next().unwrap_or("").to_string();
                r.email_locals.push(local);
            }
        }
    }
    r.custom = cfg
        .custom
        .iter()
        .map(|rule| {
            c.custom.get(&rule.key).and_then(|v| match v {
                serde_json::Value::String(s) => Some(normalize::fold(s.trim())),
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Bool(b) => Some(b.to_string()),
                _ => None,
            })
        })
        .collect();
    r
}

/// Frequencies for the evidence adjustments.
pub trait Freq: Sync {
    /// Number of contacts in the base.
    fn total(&self) -> f64;
    /// Contacts with this name word.
    fn name_token(&self, t: &str) -> f64;
    /// Contacts with this phone.
    fn phone(&self, p: &str) -> f64;
    /// Contacts with this email.
    fn email(&self, e: &str) -> f64;
}

/// Frequencies counted over a batch of records.
#[derive(Default)]
pub struct BatchFreq {
    n: f64,
    tokens: HashMap<String, u32>,
    phones: HashMap<String, u32>,
    emails: HashMap<String, u32>,
}

impl BatchFreq {
    pub fn new(records: &[Record]) -> BatchFreq {
        let mut f = BatchFreq {
            n: records.len() as f64,
            ..Default::default()
        };
        for r in records {
            for t in &r.name_tokens {
                *f.tokens.entry(t.clone()).or_insert(0) += 1;
            }
            for p in &r.phones {
                *f.phones.entry(p.clone()).or_insert(0) += 1;
            }
            for e in &r.emails {
                *f.emails.entry(e.clone()).or_insert(0) += 1;
            }
        }
        f
    }
}

impl Freq for BatchFreq {
    fn total(&self) -> f64 {
        self.n.max(1.0)
    }
    fn name_token(&self, t: &str) -> f64 {
        self.tokens.get(t).copied().unwrap_or(1) as f64
    }
    fn phone(&self, p: &str) -> f64 {
        self.phones.get(p).copied().unwrap_or(1) as f64
    }
    fn email(&self, e: &str) -> f64 {
        self.emails.get(e).copied().unwrap_or(1) as f64
    }
}

/// Why a field contributed what it did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Reason {
    pub field: String,
    pub level: String,
    pub weight: f64,
}

/// A scored pair.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scored {
    /// Match probability.
    pub score: f64,
    /// Match weight (log2 odds).
    pub weight: f64,
    pub reasons: Vec<Reason>,
}

fn w(l: &Level) -> f64 {
    (l.m / l.u).log2()
}

/// Scores pairs of records.
pub struct Scorer<'a> {
    pub cfg: &'a DedupConfig,
}

/// Word-aligned name similarity: each word of one name against its best match in the
/// other (Jaro-Winkler), averaged, taking the weaker direction. Insensitive to word order,
/// and a typo in a first letter costs one word, not the whole sort order.
fn jw_names(a: &Record, b: &Record) -> f64 {
    let dir = |x: &[String], y: &[String]| {
        x.iter()
            .map(|t| y.iter().map(|u| strsim::jaro_winkler(t, u)).fold(0.0, f64::max))
            .sum::<f64>()
            / x.len() as f64
    };
    dir(&a.name_tokens, &b.name_tokens).min(dir(&b.name_tokens, &a.name_tokens))
}

/// Both names have a given name and a surname, and neither given name resembles any word
/// of the other name (so swapped order still counts as the same).
fn given_names_differ(a: &Record, b: &Record) -> bool {
    if a.name_tokens.len() < 2 || b.name_tokens.len() < 2 {
        return false;
    }
    let unlike = |g: &str, other: &[String]| {
        other
            .iter()
            .all(|t| strsim::jaro_winkler(g, t) < 0.85 && !t.contains(g) && !g.contains(t.as_str()))
    };
    unlike(&a.name_tokens[0], &b.name_tokens) && unlike(&b.name_tokens[0], &a.name_tokens)
}

fn subset(a: &[String], b: &[String]) -> bool {
    !a.is_empty() && a.iter().all(|t| b.contains(t))
}

impl Scorer<'_> {
    /// Scores one pair. Pure: the same pair gives the same score in batch and on demand
    /// when the frequencies agree.
    pub fn score(&self, a: &Record, b: &Record, freq: &dyn Freq) -> Scored {
        let cfg = self.cfg;
        let prior = (cfg.prior / (1.0 - cfg.prior)).log2();
        let mut reasons = Vec::with_capacity(3 + cfg.custom.len());
        let n = freq.total();

        // name
        if a.name_tokens.is_empty() || b.name_tokens.is_empty() {
            reasons.push(Reason {
                field: "name".into(),
                level: "missing".into(),
                weight: 0.0,
            });
        } else if a.name_key == b.name_key {
            // rarer names weigh more: u is at least the share of contacts with its rarest word
            let rarest = a
                .name_tokens
                .iter()
                .map(|t| freq.name_token(t))
                .fold(f64::INFINITY, f64::min);
            let u = cfg.name.exact.u.max(rarest / n);
            let wt = (cfg.name.exact.m / u).log2();
            reasons.push(Reason {
                field: "name".into(),
                level: "exact".into(),
                weight: wt,
            });
        } else {
            let jw = jw_names(a, b);
            let (level, l) = if given_names_differ(a, b) {
                // "Maria Silva Alves" / "Eduardo Silva Alves": a household, not a typo
                ("different", &cfg.name.different)
            } else if jw >= cfg.name.typo_jw {
                ("typo", &cfg.name.typo)
            } else if subset(&a.name_tokens, &b.name_tokens) || subset(&b.name_tokens, &a.name_tokens) {
                ("partial", &cfg.name.partial)
            } else if jw >= cfg.name.similar_jw {
                ("similar", &cfg.name.similar)
            } else {
                ("different", &cfg.name.different)
            };
            reasons.push(Reason {
                field: "name".into(),
                level: level.into(),
                weight: w(l),
            });
        }

        // phones: shared by many contacts → weaker
        if a.phones.is_empty() || b.phones.is_empty() {
            reasons.push(Reason {
                field: "phones".into(),
                level: "missing".into(),
                weight: 0.0,
            });
        } else if let Some(p) = a.phones.iter().find(|p| b.phones.contains(p)) {
            let share = (freq.phone(p) - 1.0).max(1.0);
            let wt = (cfg.phone.exact.m / (cfg.phone.exact.u * share)).log2();
            reasons.push(Reason {
                field: "phones".into(),
                level: "exact".into(),
                weight: wt,
            });
        } else if a.phones.iter().any(|p| {
            let pt = tail(p, 8);
            pt.len() == 8 && b.phones.iter().any(|q| tail(q, 8) == pt)
        }) {
            reasons.push(Reason {
                field: "phones".into(),
                level: "last8".into(),
                weight: w(&cfg.phone.last8),
            });
        } else {
            reasons.push(Reason {
                field: "phones".into(),
                level: "different".into(),
                weight: w(&cfg.phone.different),
            });
        }

        // emails
        if a.emails.is_empty() || b.emails.is_empty() {
            reasons.push(Reason {
                field: "emails".into(),
                level: "missing".into(),
                weight: 0.0,
            });
        } else if let Some(e) = a.emails.iter().find(|e| b.emails.contains(e)) {
            let share = (freq.email(e) - 1.0).max(1.0);
            let wt = (cfg.email.exact.m / (cfg.email.exact.u * share)).log2();
            reasons.push(Reason {
                field: "emails".into(),
                level: "exact".into(),
                weight: wt,
            });
        } else if a
            .email_locals
            .iter()
            .any(|l| l.len() >= 4 && b.email_locals.contains(l))
        {
            reasons.push(Reason {
                field: "emails".into(),
                level: "local_part".into(),
                weight: w(&cfg.email.local),
            });
        } else {
            reasons.push(Reason {
                field: "emails".into(),
                level: "different".into(),
                weight: w(&cfg.email.different),
            });
        }

        // configured custom fields
        for (i, rule) in cfg.custom.iter().enumerate() {
            let field = format!("custom.{}", rule.key);
            match (
                a.custom.get(i).and_then(|x| x.as_ref()),
                b.custom.get(i).and_then(|x| x.as_ref()),
            ) {
                (Some(x), Some(y)) => {
                    let (level, l) = if x == y {
                        ("exact", &rule.exact)
                    } else if rule.comparator == "jaro_winkler" && strsim::jaro_winkler(x, y) >= rule.similar_jw {
                        ("similar", &rule.similar)
                    } else {
                        ("different", &rule.different)
                    };
                    reasons.push(Reason {
                        field,
                        level: level.into(),
                        weight: w(l),
                    });
                }
                _ => reasons.push(Reason {
                    field,
                    level: "missing".into(),
                    weight: 0.0,
                }),
            }
        }

        let weight = prior + reasons.iter().map(|r| r.weight).sum::<f64>();
        let score = 1.0 / (1.0 + (-weight).exp2());
        for r in &mut reasons {
            r.weight = (r.weight * 100.0).round() / 100.0;
        }
        Scored {
            score: (score * 10_000.0).round() / 10_000.0,
            weight: (weight * 100.0).round() / 100.0,
            reasons,
        }
    }
}

fn tail(s: &str, n: usize) -> &str {
    let digits = s.trim_start_matches('+');
    &digits[digits.len().saturating_sub(n)..]
}

fn key_hash(kind: u8, s: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    kind.hash(&mut h);
    s.hash(&mut h);
    h.finish()
}

/// The blocking keys of a record.
pub fn blocking_keys(r: &Record, cfg: &DedupConfig, out: &mut Vec<u64>) {
    for p in &r.phones {
        out.push(key_hash(b'p', p));
        // the same number without (or with another) country code: last 8 digits
        let t = tail(p, 8);
        if t.len() == 8 {
            out.push(key_hash(b'q', t));
        }
    }
    for e in &r.emails {
        out.push(key_hash(b'e', e));
    }
    if r.name_tokens.len() >= 2 {
        // the two longest words, in sorted order: survives word order; one key on their
        // first three letters and one on their last three survives a typo in either half
        let mut words: Vec<&String> = r.name_tokens.iter().collect();
        words.sort_by(|a, b| b.chars().count().cmp(&a.chars().count()).then(a.cmp(b)));
        let mut two = [words[0].as_str(), words[1].as_str()];
        two.sort();
        let head = |s: &str| s.chars().take(3).collect::<String>();
        let last = |s: &str| {
            let c: Vec<char> = s.chars().collect();
            c[c.len().saturating_sub(3)..].iter().collect::<String>()
        };
        out.push(key_hash(b'h', &format!("{}|{}", head(two[0]), head(two[1]))));
        out.push(key_hash(b't', &format!("{}|{}", last(two[0]), last(two[1]))));
    }
    for (i, rule) in cfg.custom.iter().enumerate() {
        if rule.block {
            if let Some(Some(v)) = r.custom.get(i) {
                out.push(key_hash(b'c', &format!("{i}:{v}")));
            }
        }
    }
}

/// Progress of a batch job, shared with whoever reports it.
#[derive(Default)]
pub struct Progress {
    /// 0 load, 1 block, 2 score, 3 cluster, 4 done
    pub stage: AtomicU64,
    pub done: AtomicU64,
    pub total: AtomicU64,
    pub candidate_pairs: AtomicU64,
}

impl Progress {
    pub fn stage_name(&self) -> &'static str {
        match self.stage.load(Ordering::Relaxed) {
            0 => "load",
            1 => "block",
            2 => "score",
            3 => "cluster",
            _ => "done",
        }
    }

    /// Overall fraction: load 0–0.2, block 0.2–0.35, score 0.35–0.95, cluster 0.95–1.
    pub fn fraction(&self) -> f64 {
        let (lo, hi) = match self.stage.load(Ordering::Relaxed) {
            0 => (0.0, 0.2),
            1 => (0.2, 0.35),
            2 => (0.35, 0.95),
            3 => (0.95, 1.0),
            _ => return 1.0,
        };
        let t = self.total.load(Ordering::Relaxed).max(1) as f64;
        let d = self.done.load(Ordering::Relaxed) as f64;
        lo + (hi - lo) * (d / t).min(1.0)
    }

    fn set(&self, stage: u64, total: u64) {
        self.stage.store(stage, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
    }
}

/// A proposed pair (record indices).
#[derive(Debug, Clone)]
pub struct PairOut {
    pub a: u32,
    pub b: u32,
    pub scored: Scored,
}

/// What a batch run found.
pub struct BatchResult {
    pub pairs: Vec<PairOut>,
    pub clusters: Vec<Vec<u32>>,
    pub candidate_pairs: u64,
}

/// The job was cancelled.
#[derive(Debug)]
pub struct Cancelled;

/// Runs blocking, scoring and clustering over `records`. `min_score` keeps pairs at or
/// above it (the threshold, or lower for evaluation); clusters use `cfg.threshold`.
pub fn run_batch(
    records: &[Record],
    cfg: &DedupConfig,
    min_score: f64,
    rejected: &HashSet<(String, String)>,
    progress: &Progress,
    cancel: &AtomicBool,
) -> Result<BatchResult, Cancelled> {
    let n = records.len();
    progress.set(1, n as u64);
    // blocking keys
    let mut keyed: Vec<(u64, u32)> = records
        .par_iter()
        .enumerate()
        .flat_map_iter(|(i, r)| {
            let mut keys = Vec::with_capacity(6);
            blocking_keys(r, cfg, &mut keys);
            progress.done.fetch_add(1, Ordering::Relaxed);
            keys.into_iter().map(move |k| (k, i as u32))
        })
        .collect();
    keyed.par_sort_unstable();
    if cancel.load(Ordering::Relaxed) {
        return Err(Cancelled);
    }
    // candidate pairs
    let mut groups: Vec<&[(u64, u32)]> = Vec::new();
    let mut start = 0;
    for i in 1..=keyed.len() {
        if i == keyed.len() || keyed[i].0 != keyed[start].0 {
            if i - start >= 2 {
                groups.push(&keyed[start..i]);
            }
            start = i;
        }
    }
    let mut pairs: Vec<u64> = groups
        .par_iter()
        .flat_map_iter(|g| {
            let mut members: Vec<u32> = g.iter().map(|(_, i)| *i).collect();
            members.dedup();
            let mut out = Vec::new();
            let push = |out: &mut Vec<u64>, a: u32, b: u32| {
                if a != b {
                    let (x, y) = if a < b { (a, b) } else { (b, a) };
                    out.push(((x as u64) << 32) | y as u64);
                }
            };
            if members.len() <= cfg.max_block {
                for i in 0..members.len() {
                    for j in i + 1..members.len() {
                        push(&mut out, members[i], members[j]);
                    }
                }
            } else {
                // a huge block (thousands of "Maria Silva"): sorted neighbourhood on a
                // secondary key, so near-identical records meet without all pairs
                let sec = |i: u32| {
                    let r = &records[i as usize];
                    format!(
                        "{}|{}|{}",
                        r.name_key,
                        r.email_locals.first().map(String::as_str).unwrap_or(""),
                        r.phones.first().map(|p| tail(p, 4)).unwrap_or("")
                    )
                };
                let mut sorted: Vec<(String, u32)> = members.iter().map(|&i| (sec(i), i)).collect();
                sorted.sort();
                for i in 0..sorted.len() {
                    for j in i + 1..(i + 1 + cfg.window).min(sorted.len()) {
                        push(&mut out, sorted[i].1, sorted[j].1);
                    }
                }
            }
            out
        })
        .collect();
    pairs.par_sort_unstable();
    pairs.dedup();
    let candidate_pairs = pairs.len() as u64;
    progress.candidate_pairs.store(candidate_pairs, Ordering::Relaxed);
    if cancel.load(Ordering::Relaxed) {
        return Err(Cancelled);
    }

    // scoring
    progress.set(2, candidate_pairs);
    let freq = BatchFreq::new(records);
    let scorer = Scorer { cfg };
    let chunk = 1 << 14;
    let scored: Vec<PairOut> = pairs
        .par_chunks(chunk)
        .flat_map_iter(|c| {
            let mut out = Vec::new();
            if !cancel.load(Ordering::Relaxed) {
                for &p in c {
                    let (a, b) = ((p >> 32) as u32, p as u32);
                    let (ra, rb) = (&records[a as usize], &records[b as usize]);
                    let s = scorer.score(ra, rb, &freq);
                    if s.score >= min_score && !is_rejected(rejected, &ra.id, &rb.id) {
                        out.push(PairOut { a, b, scored: s });
                    }
                }
            }
            progress.done.fetch_add(c.len() as u64, Ordering::Relaxed);
            out
        })
        .collect();
    if cancel.load(Ordering::Relaxed) {
        return Err(Cancelled);
    }

    // clusters
    progress.set(3, scored.len() as u64);
    let clusters = cluster(records, &scored, cfg, &scorer, &freq, rejected);
    progress.set(4, 1);
    Ok(BatchResult {
        pairs: scored,
        clusters,
        candidate_pairs,
    })
}

/// Whether an agent said these two are not the same person.
pub fn is_rejected(rejected: &HashSet<(String, String)>, a: &str, b: &str) -> bool {
    if rejected.is_empty() {
        return false;
    }
    let key = if a < b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    };
    rejected.contains(&key)
}

/// Greedy complete-linkage clustering over the pairs at or above the threshold, strongest
/// first: two clusters join only if every cross pair scores at or above the threshold and
/// the result stays within `max_cluster`.
fn cluster(
    records: &[Record],
    pairs: &[PairOut],
    cfg: &DedupConfig,
    scorer: &Scorer<'_>,
    freq: &dyn Freq,
    rejected: &HashSet<(String, String)>,
) -> Vec<Vec<u32>> {
    let mut edges: Vec<&PairOut> = pairs.iter().filter(|p| p.scored.score >= cfg.threshold).collect();
    edges.sort_by(|x, y| {
        y.scored
            .score
            .total_cmp(&x.scored.score)
            .then((x.a, x.b).cmp(&(y.a, y.b)))
    });
    let mut cluster_of: HashMap<u32, usize> = HashMap::new();
    let mut members: Vec<Vec<u32>> = Vec::new();
    let known: HashMap<(u32, u32), f64> = pairs.iter().map(|p| ((p.a, p.b), p.scored.score)).collect();
    for e in edges {
        let ca = cluster_of.get(&e.a).copied();
        let cb = cluster_of.get(&e.b).copied();
        match (ca, cb) {
            (Some(x), Some(y)) if x == y => continue,
            _ => {}
        }
        let ma = ca.map(|c| members[c].clone()).unwrap_or_else(|| vec![e.a]);
        let mb = cb.map(|c| members[c].clone()).unwrap_or_else(|| vec![e.b]);
        if ma.len() + mb.len() > cfg.max_cluster {
            continue;
        }
        let all_match = ma.iter().all(|&x| {
            mb.iter().all(|&y| {
                let k = if x < y { (x, y) } else { (y, x) };
                let s = match known.get(&k) {
                    Some(s) => *s,
                    None => {
                        let (rx, ry) = (&records[x as usize], &records[y as usize]);
                        if is_rejected(rejected, &rx.id, &ry.id) {
                            0.0
                        } else {
                            scorer.score(rx, ry, freq).score
                        }
                    }
                };
                s >= cfg.threshold
            })
        });
        if !all_match {
            continue;
        }
        let target = match (ca, cb) {
            (Some(x), _) => x,
            (None, Some(y)) => y,
            (None, None) => {
                members.push(Vec::new());
                members.len() - 1
            }
        };
        for &m in ma.iter().chain(mb.iter()) {
            if cluster_of.get(&m) != Some(&target) {
                cluster_of.insert(m, target);
                members[target].push(m);
            }
        }
        for c in [ca, cb].into_iter().flatten() {
            if c != target {
                members[c].clear();
            }
        }
    }
    let mut out: Vec<Vec<u32>> = members.into_iter().filter(|m| m.len() >= 2).collect();
    for m in &mut out {
        m.sort_unstable();
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::model::{ContactInput, WorkspaceSettings, WriteContext};

    fn cfg() -> Config {
        Config::from_toml(include_str!("../index-config/default.toml")).unwrap()
    }

    fn rec(c: &Config, v: serde_json::Value) -> Record {
        let settings = WorkspaceSettings {
            default_region: "BR".into(),
            ..Default::default()
        };
        let fields = c.default_fields().into_iter().map(|d| (d.key.clone(), d)).collect();
        let ctx = WriteContext {
            settings: &settings,
            fields: &fields,
        };
        let input: ContactInput = serde_json::from_value(v).unwrap();
        let id = input.id.clone().unwrap();
        let contact = Contact::from_input(&id, input, &ctx, None, chrono::Utc::now())
            .unwrap()
            .contact;
        record(&contact, &c.dedup, &formal_map(&c.search.nicknames))
    }

    struct Flat(f64);
    impl Freq for Flat {
        fn total(&self) -> f64 {
            100_000.0
        }
        fn name_token(&self, _t: &str) -> f64 {
            self.0
        }
        fn phone(&self, _p: &str) -> f64 {
            2.0
        }
        fn email(&self, _e: &str) -> f64 {
            2.0
        }
    }

    fn score(c: &Config, a: serde_json::Value, b: serde_json::Value, name_freq: f64) -> Scored {
        Scorer { cfg: &c.dedup }.score(&rec(c, a), &rec(c, b), &Flat(name_freq))
    }

    #[test]
    fn same_phone_and_nickname_is_a_match() {
        let c = cfg();
        let s = score(
            &c,
            serde_json::json!({"id": "a", "name": "Robert Johnson", "phones": ["+1 415 555 2671"]}),
            serde_json::json!({"id": "b", "name": "Bob", "phones": ["(415) 555-2671"]}),
            50.0,
        );
        assert!(s.score >= c.dedup.threshold, "{s:?}");
    }

    #[test]
    fn family_sharing_a_phone_is_not() {
        let c = cfg();
        let s = score(
            &c,
            serde_json::json!({"id": "a", "name": "Maria Silva", "phones": ["+55 11 98765-4321"]}),
            serde_json::json!({"id": "b", "name": "João Silva", "phones": ["+55 11 98765-4321"]}),
            50.0,
        );
        assert!(s.score < c.dedup.threshold, "{s:?}");
    }

    #[test]
    fn household_with_shared_surnames_and_phone_is_not() {
        let c = cfg();
        let s = score(
            &c,
            serde_json::json!({"id": "a", "name": "Eduardo Silva Alves", "phones": ["+55 85 96342-8957"]}),
            serde_json::json!({"id": "b", "name": "Maria Silva Alves", "phones": ["+55 85 96342-8957"]}),
            50.0,
        );
        assert!(s.score < c.dedup.threshold, "{s:?}");
        assert_eq!(s.reasons[0].level, "different");
    }

    #[test]
    fn common_name_alone_is_not_but_rare_name_weighs_more() {
        let c = cfg();
        let common = score(
            &c,
            serde_json::json!({"id": "a", "name": "Maria Silva"}),
            serde_json::json!({"id": "b", "name": "Maria Silva"}),
            5000.0,
        );
        assert!(common.score < c.dedup.threshold, "{common:?}");
        let rare = score(
            &c,
            serde_json::json!({"id": "a", "name": "Zbigniew Brzęczyszczykiewicz"}),
            serde_json::json!({"id": "b", "name": "Zbigniew Brzeczyszczykiewicz"}),
            1.0,
        );
        assert!(rare.weight > common.weight, "{rare:?} vs {common:?}");
    }

    #[test]
    fn email_match_with_typo_and_swapped_name_is_a_match() {
        let c = cfg();
        let s = score(
            &c,
            serde_json::json!({"id": "a", "name": "Fernanda Oliveira", "emails": ["fernanda.oliveira@gmail.com"]}),
            serde_json::json!({"id": "b", "name": "Oliveira Fernada", "emails": ["Fernanda.Oliveira+shop@GMAIL.com"], "phones": ["+55 21 99999-1111"]}),
            50.0,
        );
        assert!(s.score >= c.dedup.threshold, "{s:?}");
        assert!(s.reasons.iter().any(|r| r.field == "emails" && r.level == "exact"));
    }

    #[test]
    fn custom_rules_block_and_score() {
        let mut c = cfg();
        c.fields.insert(
            "cpf".into(),
            crate::config::FieldDefConfig {
                field_type: crate::model::FieldType::Text,
                label: None,
                options: vec![],
            },
        );
        c.dedup.custom.push(crate::config::CustomRule {
            key: "cpf".into(),
            comparator: "exact".into(),
            block: true,
            exact: Level { m: 0.9, u: 0.000001 },
            similar: Level { m: 0.1, u: 0.01 },
            different: Level { m: 0.01, u: 0.99 },
            similar_jw: 0.9,
        });
        let a = rec(
            &c,
            serde_json::json!({"id": "a", "name": "Ana Paula", "custom": {"cpf": "123.456.789-00"}}),
        );
        let b = rec(
            &c,
            serde_json::json!({"id": "b", "name": "A. Paula Souza", "custom": {"cpf": "123.456.789-00"}}),
        );
        let (mut ka, mut kb) = (Vec::new(), Vec::new());
        blocking_keys(&a, &c.dedup, &mut ka);
        blocking_keys(&b, &c.dedup, &mut kb);
        assert!(
            ka.iter().any(|k| kb.contains(k)),
            "the document number is a blocking key"
        );
        let s = Scorer { cfg: &c.dedup }.score(&a, &b, &Flat(50.0));
        assert!(s.score >= c.dedup.threshold, "{s:?}");
        assert!(s.reasons.iter().any(|r| r.field == "custom.cpf" && r.level == "exact"));
    }

    #[test]
    fn blocking_keys_survive_order_accents_and_typos() {
        let c = cfg();
        let mut k1 = Vec::new();
        let mut k2 = Vec::new();
        let mut k3 = Vec::new();
        blocking_keys(
            &rec(&c, serde_json::json!({"id": "a", "name": "José Fernandes"})),
            &c.dedup,
            &mut k1,
        );
        blocking_keys(
            &rec(&c, serde_json::json!({"id": "b", "name": "fernandes jose"})),
            &c.dedup,
            &mut k2,
        );
        blocking_keys(
            &rec(&c, serde_json::json!({"id": "c", "name": "Jose Fernandez"})),
            &c.dedup,
            &mut k3,
        );
        assert!(k1.iter().any(|k| k2.contains(k)));
        assert!(k1.iter().any(|k| k3.contains(k)));
    }

    #[test]
    fn huge_blocks_use_a_window_and_still_pair_near_identical_records() {
        let c = cfg();
        let mut records: Vec<Record> = (0..300)
            .map(|i| rec(&c, serde_json::json!({"id": format!("m{i:03}"), "name": "Maria Silva", "emails": [format!("ms{i:03}x@mail{i}.com")]})))
            .collect();
        records.push(rec(
            &c,
            serde_json::json!({"id": "z1", "name": "Maria Silva", "emails": ["mariazz@a.com"]}),
        ));
        records.push(rec(
            &c,
            serde_json::json!({"id": "z2", "name": "Maria Silva", "emails": ["mariazz@b.com"]}),
        ));
        let p = Progress::default();
        let out = run_batch(&records, &c.dedup, 0.0, &HashSet::new(), &p, &AtomicBool::new(false)).unwrap();
        let n = records.len() as u64;
        assert!(
            out.candidate_pairs < n * (n - 1) / 2 / 10,
            "{} candidate pairs",
            out.candidate_pairs
        );
        assert!(
            out.pairs.iter().any(|x| (x.a, x.b) == (300, 301)),
            "the near-identical pair meets in the window"
        );
    }

    #[test]
    fn clusters_do_not_chain_through_one_phone() {
        let c = cfg();
        let records = vec![
            rec(
                &c,
                serde_json::json!({"id": "a", "name": "Ana Lima", "phones": ["+55 11 90000-0001"], "emails": ["ana@x.com"]}),
            ),
            rec(
                &c,
                serde_json::json!({"id": "b", "name": "Ana Lima", "phones": ["+55 11 90000-0001"], "emails": ["ana@x.com"]}),
            ),
            rec(
                &c,
                serde_json::json!({"id": "c", "name": "Pedro Souza", "phones": ["+55 11 90000-0001"], "emails": ["pedro@y.com"]}),
            ),
            rec(
                &c,
                serde_json::json!({"id": "d", "name": "Pedro Souza", "phones": ["+55 11 90000-0001"], "emails": ["pedro@y.com"]}),
            ),
        ];
        let p = Progress::default();
        let out = run_batch(&records, &c.dedup, 0.0, &HashSet::new(), &p, &AtomicBool::new(false)).unwrap();
        assert_eq!(out.clusters, vec![vec![0, 1], vec![2, 3]]);
        let rej: HashSet<(String, String)> = [("a".to_string(), "b".to_string())].into_iter().collect();
        let out = run_batch(&records, &c.dedup, 0.0, &rej, &p, &AtomicBool::new(false)).unwrap();
        assert_eq!(out.clusters, vec![vec![2, 3]]);
    }
}

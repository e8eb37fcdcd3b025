//! The engine's side of duplicate detection: batch jobs (threads with progress and cancel,
//! results persisted in the store), the on-demand check through the index, rejections.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Value};

use super::{Engine, EngineError, Result};
use crate::dedup::{self, Freq, Progress, Record};
use crate::model;
use crate::store::Op;

/// A batch dedup job.
pub struct Job {
    pub id: String,
    pub ws: String,
    pub progress: Progress,
    pub cancel: AtomicBool,
    state: Mutex<JobState>,
}

struct JobState {
    status: &'static str,
    result: Option<Value>,
    error: Option<String>,
    started: Instant,
    elapsed_s: Option<f64>,
}

impl Job {
    /// The job as `GET …/dedup/jobs/{id}` shows it.
    pub fn to_json(&self) -> Value {
        let st = self.state.lock().map(|s| {
            (
                s.status,
                s.result.clone(),
                s.error.clone(),
                s.elapsed_s.unwrap_or(s.started.elapsed().as_secs_f64()),
            )
        });
        let (status, result, error, elapsed) = st.unwrap_or(("failed", None, Some("job state lost".into()), 0.0));
        let p = &self.progress;
        let mut v = json!({
            "job_id": self.id, "status": status,
            "progress": {"fraction": (p.fraction() * 1000.0).round() / 1000.0, "stage": p.stage_name(),
                         "done": p.done.load(Ordering::Relaxed), "total": p.total.load(Ordering::Relaxed),
                         "candidate_pairs": p.candidate_pairs.load(Ordering::Relaxed)},
            "elapsed_s": (elapsed * 1000.0).round() / 1000.0,
        });
        if let Some(r) = result {
            v["result"] = r;
        }
        if let Some(e) = error {
            v["error"] = Value::String(e);
        }
        v
    }

    fn finish(&self, status: &'static str, result: Option<Value>, error: Option<String>) {
        if let Ok(mut s) = self.state.lock() {
            s.status = status;
            s.result = result;
            s.error = error;
            s.elapsed_s = Some(s.started.elapsed().as_secs_f64());
        }
    }

    pub fn status(&self) -> &'static str {
        self.state.lock().map(|s| s.status).unwrap_or("failed")
    }
}

/// What a batch run produced, for the CLI's CSV files.
pub struct DedupRun {
    pub records: Vec<Record>,
    pub result: dedup::BatchResult,
    pub summary: Value,
}

/// Frequencies from the index (for the on-demand check): document frequencies of the
/// contact's own terms. They count every workspace in the index, a close stand-in for the
/// workspace's own counts that costs one term-dictionary lookup each.
struct IndexFreq {
    searcher: tantivy::Searcher,
    fields: crate::index::Fields,
}

impl IndexFreq {
    fn df(&self, f: tantivy::schema::Field, t: &str) -> f64 {
        self.searcher
            .doc_freq(&tantivy::Term::from_field_text(f, t))
            .unwrap_or(0)
            .max(1) as f64
    }
}

impl Freq for IndexFreq {
    fn total(&self) -> f64 {
        self.searcher.num_docs().max(1) as f64
    }
    fn name_token(&self, t: &str) -> f64 {
        self.df(self.fields.name, t)
    }
    fn phone(&self, p: &str) -> f64 {
        self.df(self.fields.phone, p.trim_start_matches('+'))
    }
    fn email(&self, e: &str) -> f64 {
        self.df(self.fields.email, e)
    }
}

impl Engine {
    fn formal(&self) -> dedup::Formal {
        dedup::formal_map(&self.cfg.search.nicknames)
    }

    /// Loads a workspace's contacts as dedup records: read in chunks, decoded in parallel.
    fn dedup_records(&self, ws: &str, progress: &Progress, cancel: &AtomicBool) -> Result<Vec<Record>> {
        use rayon::prelude::*;
        let formal = self.formal();
        progress.stage.store(0, Ordering::Relaxed);
        progress
            .total
            .store(self.store.count_contacts(ws)? as u64, Ordering::Relaxed);
        let mut out = Vec::new();
        let mut raw = self.store.contacts_raw(ws);
        loop {
            let chunk: Vec<sled::IVec> = raw.by_ref().take(32_768).collect::<std::result::Result<_, _>>()?;
            if chunk.is_empty() {
                break;
            }
            let records: Vec<Record> = chunk
                .par_iter()
                .map(|v| {
                    self.store
                        .decode_contact(v)
                        .map(|c| dedup::record(&c, &self.cfg.dedup, &formal))
                })
                .collect::<std::result::Result<_, _>>()?;
            out.extend(records);
            progress.done.store(out.len() as u64, Ordering::Relaxed);
            if cancel.load(Ordering::Relaxed) {
                return Err(EngineError::Unavailable("cancelled".into()));
            }
        }
        Ok(out)
    }

    /// Runs a batch dedup over a workspace (blocking; reports through `progress`), persists
    /// the proposals at `threshold` and returns them with every pair from `min_score` up.
    /// Holds no lock over the store or the index while it runs: searches and writes go on.
    pub fn run_dedup(
        &self,
        ws: &str,
        threshold: Option<f64>,
        min_score: Option<f64>,
        progress: &Progress,
        cancel: &AtomicBool,
    ) -> Result<DedupRun> {
        let start = Instant::now();
        self.existing_ws(ws)?;
        let mut cfg = self.cfg.dedup.clone();
        if let Some(t) = threshold {
            if !(0.0..=1.0).contains(&t) {
                return Err(EngineError::BadRequest(format!(
                    "threshold {t} must be between 0 and 1"
                )));
            }
            cfg.threshold = t;
        }
        let rejected = self.store.rejections(ws)?;
        let records = self.dedup_records(ws, progress, cancel)?;
        let load_s = start.elapsed().as_secs_f64();
        let min = min_score.unwrap_or(cfg.threshold).min(cfg.threshold);
        let result = dedup::run_batch(&records, &cfg, min, &rejected, progress, cancel)
            .map_err(|_| EngineError::Unavailable("cancelled".into()))?;
        // proposals: clusters with their pairs and reasons
        let mut pair_index: HashMap<(u32, u32), usize> = HashMap::new();
        for (i, p) in result.pairs.iter().enumerate() {
            pair_index.insert((p.a, p.b), i);
        }
        let mut proposals = Vec::with_capacity(result.clusters.len());
        for (ci, members) in result.clusters.iter().enumerate() {
            let mut pairs = Vec::new();
            let mut min_s: f64 = 1.0;
            for (i, &a) in members.iter().enumerate() {
                for &b in &members[i + 1..] {
                    if let Some(&pi) = pair_index.get(&(a.min(b), a.max(b))) {
                        let p = &result.pairs[pi];
                        min_s = min_s.min(p.scored.score);
                        pairs.push(json!({"a": records[p.a as usize].id, "b": records[p.b as usize].id,
                                          "score": p.scored.score, "weight": p.scored.weight, "reasons": p.scored.reasons}));
                    }
                }
            }
            let ids: Vec<&str> = members.iter().map(|&m| records[m as usize].id.as_str()).collect();
            proposals.push(json!({"cluster_id": format!("k{ci:07}"), "members": ids, "score": min_s, "pairs": pairs}));
        }
        let encoded: Vec<Vec<u8>> = proposals.iter().map(|p| p.to_string().into_bytes()).collect();
        let ((), seq) = self.store.commit::<_, EngineError>(|_| {
            Ok((
                vec![Op::ReplaceProposals {
                    ws: ws.into(),
                    proposals: encoded,
                }],
                (),
            ))
        })?;
        self.store.wait_durable(seq)?;
        let summary = json!({
            "contacts": records.len(), "candidate_pairs": result.candidate_pairs,
            "pairs_above_threshold": result.pairs.iter().filter(|p| p.scored.score >= cfg.threshold).count(),
            "clusters": result.clusters.len(), "threshold": cfg.threshold,
            "load_s": (load_s * 1000.0).round() / 1000.0,
            "total_s": (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        });
        Ok(DedupRun {
            records,
            result,
            summary,
        })
    }

    /// Starts a batch job in the background; its progress is at [`Engine::dedup_job`].
    pub fn start_dedup_job(self: &Arc<Self>, ws: &str) -> Result<Arc<Job>> {
        self.existing_ws(ws)?;
        let job = Arc::new(Job {
            id: format!("dj-{}", uuid::Uuid::new_v4().simple()),
            ws: ws.to_string(),
            progress: Progress::default(),
            cancel: AtomicBool::new(false),
            state: Mutex::new(JobState {
                status: "queued",
                result: None,
                error: None,
                started: Instant::now(),
                elapsed_s: None,
            }),
        });
        if let Ok(mut jobs) = self.jobs.lock() {
            if jobs
                .values()
                .any(|j| j.ws == ws && matches!(j.status(), "queued" | "running"))
            {
                return Err(EngineError::Conflict(format!(
                    "a dedup job is already running in workspace {ws:?}"
                )));
            }
            jobs.insert(job.id.clone(), job.clone());
        }
        let engine = self.clone();
        let j = job.clone();
        std::thread::Builder::new()
            .name("dedup-job".into())
            .spawn(move || {
                if let Ok(mut s) = j.state.lock() {
                    s.status = "running";
                }
                match engine.run_dedup(&j.ws, None, None, &j.progress, &j.cancel) {
                    Ok(run) => j.finish("done", Some(run.summary), None),
                    Err(_) if j.cancel.load(Ordering::Relaxed) => j.finish("cancelled", None, None),
                    Err(e) => {
                        tracing::error!(error = %e, job = %j.id, "dedup job failed");
                        j.finish("failed", None, Some(e.to_string()))
                    }
                }
            })
            .map_err(|e| EngineError::Unavailable(format!("cannot start a dedup job: {e}")))?;
        Ok(job)
    }

    /// A job of this workspace.
    pub fn dedup_job(&self, ws: &str, id: &str) -> Result<Arc<Job>> {
        self.jobs
            .lock()
            .ok()
            .and_then(|j| j.get(id).cloned())
            .filter(|j| j.ws == ws)
            .ok_or_else(|| EngineError::NotFound(format!("no dedup job {id:?} in workspace {ws:?}")))
    }

    /// Asks a job to stop.
    pub fn cancel_dedup_job(&self, ws: &str, id: &str) -> Result<Arc<Job>> {
        let j = self.dedup_job(ws, id)?;
        j.cancel.store(true, Ordering::Relaxed);
        Ok(j)
    }

    /// The last job's proposals that still stand: members that still exist, pairs not
    /// rejected since. Paged by position.
    pub fn duplicates(&self, ws: &str, offset: usize, limit: usize) -> Result<(Vec<Value>, Option<usize>, usize)> {
        self.existing_ws(ws)?;
        let rejected = self.store.rejections(ws)?;
        let mut out = Vec::new();
        let all = self.store.proposals(ws)?;
        let total = all.len();
        let mut next = None;
        for (i, raw) in all.into_iter().enumerate().skip(offset) {
            if out.len() == limit {
                next = Some(i);
                break;
            }
            let Ok(mut p) = serde_json::from_slice::<Value>(&raw) else {
                continue;
            };
            let members: Vec<String> = p["members"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m.as_str().map(String::from))
                .collect();
            let mut alive: Vec<String> = Vec::new();
            for m in members {
                if self.store.contact(ws, &m)?.is_some() {
                    alive.push(m);
                }
            }
            let pairs: Vec<Value> = p["pairs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|pp| {
                    let (a, b) = (pp["a"].as_str().unwrap_or(""), pp["b"].as_str().unwrap_or(""));
                    alive.iter().any(|x| x == a) && alive.iter().any(|x| x == b) && !dedup::is_rejected(&rejected, a, b)
                })
                .cloned()
                .collect();
            if alive.len() < 2 || pairs.is_empty() {
                continue;
            }
            p["members"] = json!(alive);
            p["pairs"] = Value::Array(pairs);
            out.push(p);
        }
        Ok((out, next, total))
    }

    /// Likely duplicates of one contact, now: candidates from the index (same phone, same
    /// email, or a name that matches word by word with typos), scored like the batch job.
    pub fn contact_duplicates(&self, ws: &str, id: &str, limit: usize) -> Result<Vec<Value>> {
        let c = self.get_contact(ws, id)?;
        let formal = self.formal();
        let me = dedup::record(&c, &self.cfg.dedup, &formal);
        let searcher = self.index.searcher();
        let ids = crate::search::duplicate_candidates(&self.index, ws, &me, 50)?;
        let freq = IndexFreq {
            searcher,
            fields: self.index.fields,
        };
        let rejected = self.store.rejections(ws)?;
        let scorer = dedup::Scorer { cfg: &self.cfg.dedup };
        let mut out: Vec<(f64, Value)> = Vec::new();
        for other in ids {
            if other == id || dedup::is_rejected(&rejected, id, &other) {
                continue;
            }
            let Some(oc) = self.store.contact(ws, &other)? else {
                continue;
            };
            let s = scorer.score(&me, &dedup::record(&oc, &self.cfg.dedup, &formal), &freq);
            if s.score >= self.cfg.dedup.suggest_threshold {
                out.push((
                    s.score,
                    json!({"id": other, "score": s.score, "weight": s.weight,
                           "proposed": s.score >= self.cfg.dedup.threshold, "reasons": s.reasons, "contact": oc.to_api()}),
                ));
            }
        }
        out.sort_by(|a, b| b.0.total_cmp(&a.0));
        Ok(out.into_iter().take(limit).map(|(_, v)| v).collect())
    }

    /// Records that the given contacts are not the same person (every pair among them).
    pub fn reject_duplicates(&self, ws: &str, ids: &[String]) -> Result<u64> {
        self.existing_ws(ws)?;
        if ids.len() < 2 || ids.len() > 100 {
            return Err(EngineError::BadRequest("\"ids\" needs 2 to 100 contact ids".into()));
        }
        let uniq: HashSet<&String> = ids.iter().collect();
        if uniq.len() != ids.len() {
            return Err(EngineError::BadRequest("\"ids\" lists a contact twice".into()));
        }
        for i in ids {
            model::validate_contact_id(i)?;
            if self.store.contact(ws, i)?.is_none() {
                return Err(EngineError::NotFound(format!(
                    "contact {i:?} does not exist in workspace {ws:?}"
                )));
            }
        }
        let mut ops = Vec::new();
        for (k, a) in ids.iter().enumerate() {
            for b in &ids[k + 1..] {
                ops.push(Op::PutRejection {
                    ws: ws.into(),
                    a: a.clone(),
                    b: b.clone(),
                });
            }
        }
        let ((), seq) = self.store.commit::<_, EngineError>(|_| Ok((ops, ())))?;
        self.store.wait_durable(seq)?;
        Ok(seq)
    }
}

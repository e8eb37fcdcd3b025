//! The engine: the one place that ties the store (source of truth) and the index (derived)
//! together. The API and the CLI call only the engine.
//!
//! Write path: validate → normalise → [`Store::commit`] (sled batch with sequence + change
//! log) → [`Engine::wait_durable`] (group flush; the caller acknowledges only after it) → the
//! indexer thread receives the change set, updates tantivy, and commits at most once per
//! `commit_interval_ms` (or at once when a caller waits for visibility), with the sequence in
//! the commit payload → the change log is trimmed up to that commit.
//!
//! Read path: search the index for ids → load the documents from the store.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::Utc;
use crossbeam_channel::{select, Receiver, Sender};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::audit::{self, Origin};
use crate::config::Config;
use crate::index::{self, IndexError, SearchIndex};
use crate::metrics::Metrics;
use crate::model::{
    self, Contact, ContactInput, FieldDef, FieldDefInput, ValidationError, WorkspaceSettings, WriteContext,
};
use crate::search::{self, SearchError, SearchRequest};
use crate::store::{ChangeSet, Op, Store, StoreError};

mod access;
mod dedup;
mod merges;
pub use dedup::{DedupRun, Job};

/// Engine errors. `Validation`, `NotFound`, `BadRequest`, `Conflict` and `Search(BadRequest)`
/// are the client's; the rest are internal.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Access(crate::access::AccessError),
    #[error("{0}")]
    InsufficientStorage(String),
}

pub type Result<T> = std::result::Result<T, EngineError>;

/// A workspace's settings and field definitions (config defaults overlaid by its own).
#[derive(Debug, Clone)]
pub struct WsMeta {
    pub exists: bool,
    pub settings: WorkspaceSettings,
    pub fields: BTreeMap<String, FieldDef>,
}

impl WsMeta {
    pub fn defs(&self) -> Vec<FieldDef> {
        self.fields.values().cloned().collect()
    }
}

/// One rejected line of a bulk request.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    /// Bulk: the line number. CSV: the row number (the header is row 1).
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// CSV: the column at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    pub error: String,
    /// CSV: the physical line the row starts on.
    #[serde(skip)]
    pub at_line: Option<usize>,
}

impl Rejected {
    pub fn new(line: usize, id: Option<String>, error: impl Into<String>) -> Rejected {
        Rejected {
            line,
            id,
            column: None,
            error: error.into(),
            at_line: None,
        }
    }
}

/// One item of a bulk write: an NDJSON line, an already parsed contact (CSV row), or a row
/// that failed before validation.
pub enum BulkItem {
    Line(usize, String),
    Input {
        row: usize,
        line: usize,
        input: Box<ContactInput>,
    },
    Bad(Rejected),
}

/// Result of one bulk chunk.
#[derive(Debug, Default)]
pub struct BulkOutcome {
    pub accepted: usize,
    pub rejected: Vec<Rejected>,
    pub seq: u64,
}

/// Validated bulk lines, ready to store.
struct Prepared {
    /// (line, validated contact)
    good: Vec<(usize, model::Validated)>,
    rejected: Vec<Rejected>,
    now: chrono::DateTime<Utc>,
}

/// A search answer with documents.
#[derive(Debug, Serialize)]
pub struct SearchResponse {
    pub hits: Vec<SearchHit>,
    pub total: u64,
    pub next_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facets: Option<Map<String, Value>>,
    pub took_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct SearchHit {
    pub id: String,
    pub score: f32,
    pub contact: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Vec<Value>>,
}

struct Visibility {
    /// Highest sequence a search can see.
    visible: tokio::sync::watch::Sender<u64>,
    /// Highest sequence a caller is waiting to see (forces an early commit).
    wanted: AtomicU64,
    ready: AtomicBool,
}

enum Control {
    Refresh,
    /// Erasure: once the index has applied `seq`, commit, then merge away every segment that
    /// still holds these contacts (their deleted documents' terms), and answer.
    Purge {
        seq: u64,
        keys: Vec<(String, String)>,
        reply: Sender<Result<()>>,
    },
    /// After a bulk load: commit, merge every segment into one, and answer how many there were.
    Compact {
        reply: Sender<Result<usize>>,
    },
    Shutdown,
}

/// The engine. Share it behind an `Arc`.
pub struct Engine {
    pub cfg: Arc<Config>,
    store: Arc<Store>,
    index: SearchIndex,
    ws_cache: Arc<RwLock<HashMap<String, Arc<WsMeta>>>>,
    vis: Arc<Visibility>,
    control: Sender<Control>,
    indexer: std::sync::Mutex<Option<JoinHandle<()>>>,
    pub metrics: Arc<Metrics>,
    jobs: std::sync::Mutex<HashMap<String, Arc<Job>>>,
    data_dir: std::path::PathBuf,
    flusher_stop: Arc<AtomicBool>,
}

const BULK_CHUNK: usize = 2000;

impl Engine {
    /// Opens the store (refusing a corrupt or locked one) and the index (rebuilding it when
    /// missing or unreadable), and starts the indexer, which first catches the index up with
    /// the store. [`Engine::is_ready`] turns true once it has.
    pub fn open(data_dir: &Path, cfg: Config) -> Result<Engine> {
        let cfg = Arc::new(cfg);
        std::fs::create_dir_all(data_dir)
            .map_err(|e| EngineError::Unavailable(format!("cannot create data dir {}: {e}", data_dir.display())))?;
        let store = Arc::new(Store::open(&data_dir.join("store"), 64)?);
        let opened = index::open(
            &data_dir.join("index"),
            cfg.index.writer_memory_mb,
            cfg.index.writer_threads,
        )?;
        let metrics = Arc::new(Metrics::new());
        let (vis_tx, _) = tokio::sync::watch::channel(0u64);
        let vis = Arc::new(Visibility {
            visible: vis_tx,
            wanted: AtomicU64::new(0),
            ready: AtomicBool::new(false),
        });
        let (change_tx, change_rx) = crossbeam_channel::bounded::<ChangeSet>(8);
        let (control_tx, control_rx) = crossbeam_channel::unbounded();
        store.set_listener(change_tx);
        let ws_cache = Arc::new(RwLock::new(HashMap::new()));
        let merge_mode = if cfg.index.bulk_load {
            index::MergeMode::Off
        } else {
            index::MergeMode::Log
        };
        opened.writer.set_merge_mode(merge_mode);
        let worker = Indexer {
            store: store.clone(),
            index: opened.index.clone(),
            writer: Some(opened.writer),
            cfg: cfg.clone(),
            vis: vis.clone(),
            metrics: metrics.clone(),
            ws_cache: ws_cache.clone(),
            committed_seq: opened.committed_seq,
            upsert_through: u64::MAX,
            merge_mode,
            applied_since_commit: 0,
            last_bulk_commit: None,
        };
        let handle = std::thread::Builder::new()
            .name("indexer".into())
            .spawn(move || worker.run(change_rx, control_rx))
            .map_err(|e| EngineError::Unavailable(format!("cannot start the indexer thread: {e}")))?;
        metrics.store_seq.set(store.last_seq() as i64);
        // Background flush (sled's own is off: it must not write records before their keys).
        let flusher_stop = Arc::new(AtomicBool::new(false));
        {
            let (store, stop) = (store.clone(), flusher_stop.clone());
            std::thread::Builder::new()
                .name("store-flusher".into())
                .spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        std::thread::sleep(Duration::from_millis(200));
                        if let Err(e) = store.flush() {
                            tracing::warn!(error = %e, "background store flush failed");
                        }
                    }
                })
                .map_err(|e| EngineError::Unavailable(format!("cannot start the flusher thread: {e}")))?;
        }
        Ok(Engine {
            flusher_stop,
            cfg,
            store,
            index: opened.index,
            ws_cache,
            vis,
            control: control_tx,
            indexer: std::sync::Mutex::new(Some(handle)),
            metrics,
            jobs: std::sync::Mutex::new(HashMap::new()),
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// True once the index has caught up with the store after start-up.
    pub fn is_ready(&self) -> bool {
        self.vis.ready.load(Ordering::Acquire)
    }

    /// The highest store sequence visible to searches.
    pub fn visible_seq(&self) -> u64 {
        *self.vis.visible.borrow()
    }

    /// Blocks until the writes up to `seq` are on disk.
    pub fn wait_durable(&self, seq: u64) -> Result<()> {
        Ok(self.store.wait_durable(seq)?)
    }

    /// Waits (async) until searches see every write up to `seq`, asking the indexer to commit
    /// now rather than at its next interval.
    pub async fn wait_visible(&self, seq: u64) -> Result<()> {
        let mut rx = self.vis.visible.subscribe();
        if *rx.borrow() >= seq {
            return Ok(());
        }
        self.vis.wanted.fetch_max(seq, Ordering::AcqRel);
        let _ = self.control.send(Control::Refresh);
        let waited = tokio::time::timeout(Duration::from_secs(60), rx.wait_for(|v| *v >= seq))
            .await
            .map(|r| r.is_ok());
        match waited {
            Ok(true) => Ok(()),
            _ => Err(EngineError::Unavailable(
                "the index did not catch up within 60 s".into(),
            )),
        }
    }

    /// Blocking variant of [`Engine::wait_visible`] (CLI).
    pub fn wait_visible_blocking(&self, seq: u64) -> Result<()> {
        let start = Instant::now();
        self.vis.wanted.fetch_max(seq, Ordering::AcqRel);
        let _ = self.control.send(Control::Refresh);
        while self.visible_seq() < seq {
            if start.elapsed() > Duration::from_secs(600) {
                return Err(EngineError::Unavailable("the index did not catch up".into()));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Flushes the store, commits the index and stops the indexer. Idempotent.
    pub fn shutdown(&self) -> Result<()> {
        self.flusher_stop.store(true, Ordering::Release);
        self.store.flush()?;
        let _ = self.control.send(Control::Shutdown);
        let handle = self.indexer.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle {
            self.store.clear_listener();
            let _ = h.join();
            self.store.sync()?;
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // workspaces

    /// The workspace's settings and fields (cached; defaults for a workspace not yet created).
    pub fn ws_meta(&self, ws: &str) -> Result<Arc<WsMeta>> {
        if let Some(m) = self.ws_cache.read().ok().and_then(|c| c.get(ws).cloned()) {
            return Ok(m);
        }
        let m = Arc::new(load_meta(&self.store, &self.cfg, ws)?);
        if m.exists {
            if let Ok(mut c) = self.ws_cache.write() {
                c.insert(ws.to_string(), m.clone());
            }
        }
        Ok(m)
    }

    fn invalidate(&self, ws: &str) {
        if let Ok(mut c) = self.ws_cache.write() {
            c.remove(ws);
        }
    }

    fn existing_ws(&self, ws: &str) -> Result<Arc<WsMeta>> {
        model::validate_workspace_id(ws)?;
        let m = self.ws_meta(ws)?;
        if !m.exists {
            return Err(EngineError::NotFound(format!(
                "workspace {ws:?} does not exist (a workspace is created by its first write)"
            )));
        }
        Ok(m)
    }

    pub fn get_settings(&self, ws: &str) -> Result<WorkspaceSettings> {
        Ok(self.existing_ws(ws)?.settings.clone())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(ws = %ws))]
    pub fn put_settings(&self, ws: &str, settings: WorkspaceSettings) -> Result<(WorkspaceSettings, u64)> {
        model::validate_workspace_id(ws)?;
        self.check_space()?;
        let settings = settings.normalized()?;
        let s2 = settings.clone();
        let ((), seq) = self.store.commit::<_, EngineError>(|_| {
            Ok((
                vec![Op::PutSettings {
                    ws: ws.into(),
                    settings: s2,
                }],
                (),
            ))
        })?;
        self.invalidate(ws);
        Ok((settings, seq))
    }

    pub fn list_fields(&self, ws: &str) -> Result<Vec<FieldDef>> {
        Ok(self.existing_ws(ws)?.defs())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(ws = %ws))]
    pub fn put_field(&self, ws: &str, key: &str, input: FieldDefInput) -> Result<(FieldDef, u64)> {
        model::validate_workspace_id(ws)?;
        self.check_space()?;
        let def = FieldDef::new(key, input.field_type, input.label, input.options)?;
        let d2 = def.clone();
        let cfg = self.cfg.clone();
        let ((), seq) = self.store.commit::<_, EngineError>(|store| {
            let meta = load_meta(store, &cfg, ws)?;
            if let Some(old) = meta.fields.get(key) {
                if old.field_type != d2.field_type && has_values(store, ws, key)? {
                    return Err(EngineError::Conflict(format!(
                        "field {key:?} is already defined as {} and contacts hold values for it; its type cannot change to {}",
                        old.field_type.as_str(),
                        d2.field_type.as_str()
                    )));
                }
            }
            let mut ops = Vec::new();
            if !meta.exists {
                ops.push(Op::PutSettings { ws: ws.into(), settings: meta.settings.clone() });
            }
            ops.push(Op::PutField { ws: ws.into(), def: d2 });
            Ok((ops, ()))
        })?;
        self.invalidate(ws);
        Ok((def, seq))
    }

    // -----------------------------------------------------------------------------------
    // contacts

    /// Reads a contact; a merged-away id resolves to the contact it was merged into.
    pub fn get_contact(&self, ws: &str, id: &str) -> Result<Contact> {
        self.existing_ws(ws)?;
        model::validate_contact_id(id)?;
        let live = merges::resolve(&self.store, ws, id)?
            .ok_or_else(|| EngineError::NotFound(format!("contact {id:?} does not exist in workspace {ws:?}")))?;
        self.store
            .contact(ws, &live)?
            .ok_or_else(|| EngineError::NotFound(format!("contact {id:?} does not exist in workspace {ws:?}")))
    }

    /// Creates or replaces a contact. With `create_only`, an existing id is a conflict.
    /// Returns the stored contact, whether it was created, and the write's sequence.
    #[tracing::instrument(level = "debug", skip_all, fields(ws = %ws))]
    pub fn upsert_contact(
        &self,
        ws: &str,
        id: &str,
        input: ContactInput,
        create_only: bool,
        origin: &Origin,
    ) -> Result<(Contact, bool, u64)> {
        model::validate_workspace_id(ws)?;
        model::validate_contact_id(id)?;
        self.check_space()?;
        let cfg = self.cfg.clone();
        let meta = self.ws_meta(ws)?;
        let now = Utc::now();
        let (r, seq) = self.store.commit::<_, EngineError>(|store| {
            let previous = store.contact(ws, id)?;
            if create_only && previous.is_some() {
                return Err(EngineError::Conflict(format!(
                    "contact {id:?} already exists; use PUT to replace it or PATCH to change it"
                )));
            }
            if previous.is_none() {
                merges::refuse_merged(store, ws, id)?;
            }
            let meta = if meta.exists {
                meta.clone()
            } else {
                Arc::new(load_meta(store, &cfg, ws)?)
            };
            let ctx = WriteContext {
                settings: &meta.settings,
                fields: &meta.fields,
            };
            let v = Contact::from_input(id, input, &ctx, previous.as_ref(), now)?;
            let mut ops = Vec::new();
            if !meta.exists {
                ops.push(Op::PutSettings {
                    ws: ws.into(),
                    settings: meta.settings.clone(),
                });
            }
            for d in v.new_fields {
                ops.push(Op::PutField { ws: ws.into(), def: d });
            }
            let entry = audit::write_entry(origin, &now, previous.as_ref(), &v.contact);
            let birth = history_op(&mut ops, ws, id, previous.is_none(), entry);
            let c = Arc::new(v.contact);
            ops.push(Op::PutContact {
                ws: ws.into(),
                contact: c.clone(),
                fresh: previous.is_none(),
                birth,
            });
            Ok((ops, (c, previous.is_none(), !meta.exists)))
        })?;
        let (c, created, new_ws) = r;
        if new_ws || !c.custom.is_empty() {
            self.invalidate(ws);
        }
        self.after_write(seq, 1);
        Ok(((*c).clone(), created, seq))
    }

    /// Changes only the given fields (JSON merge patch: `null` clears a field; `custom` merges
    /// key by key). The read-modify-write runs under the store's write lock, so concurrent
    /// patches never lose each other's changes.
    #[tracing::instrument(level = "debug", skip_all, fields(ws = %ws))]
    pub fn patch_contact(
        &self,
        ws: &str,
        id: &str,
        patch: Map<String, Value>,
        origin: &Origin,
    ) -> Result<(Contact, u64)> {
        self.existing_ws(ws)?;
        model::validate_contact_id(id)?;
        self.check_space()?;
        if let Some(v) = patch.get("id") {
            if v.as_str() != Some(id) {
                return Err(EngineError::BadRequest(format!(
                    "a PATCH cannot change the id (path id {id:?})"
                )));
            }
        }
        let cfg = self.cfg.clone();
        let now = Utc::now();
        let (c, seq) = self.store.commit::<_, EngineError>(|store| {
            let Some(previous) = store.contact(ws, id)? else {
                merges::refuse_merged(store, ws, id)?;
                return Err(EngineError::NotFound(format!(
                    "contact {id:?} does not exist in workspace {ws:?}"
                )));
            };
            let meta = load_meta(store, &cfg, ws)?;
            let mut doc = previous.to_input_json();
            model::merge_patch(&mut doc, patch);
            let input: ContactInput = serde_json::from_value(Value::Object(doc))
                .map_err(|e| EngineError::Validation(ValidationError::new("body", e.to_string())))?;
            let ctx = WriteContext {
                settings: &meta.settings,
                fields: &meta.fields,
            };
            let v = Contact::from_input(id, input, &ctx, Some(&previous), now)?;
            let mut ops: Vec<Op> = v
                .new_fields
                .into_iter()
                .map(|d| Op::PutField { ws: ws.into(), def: d })
                .collect();
            if let Some(entry) = audit::write_entry(origin, &now, Some(&previous), &v.contact) {
                ops.push(Op::History {
                    ws: ws.into(),
                    id: id.into(),
                    entry,
                });
            }
            let c = Arc::new(v.contact);
            ops.push(Op::PutContact {
                ws: ws.into(),
                contact: c.clone(),
                fresh: false,
                birth: None,
            });
            Ok((ops, c))
        })?;
        self.invalidate(ws);
        self.after_write(seq, 1);
        Ok(((*c).clone(), seq))
    }

    /// Deletes a contact. Returns the write's sequence.
    #[tracing::instrument(level = "debug", skip_all, fields(ws = %ws))]
    pub fn delete_contact(&self, ws: &str, id: &str, origin: &Origin) -> Result<u64> {
        self.existing_ws(ws)?;
        model::validate_contact_id(id)?;
        self.check_space()?;
        let now = Utc::now();
        let ((), seq) = self.store.commit::<_, EngineError>(|store| {
            if !store.contact_exists(ws, id)? {
                merges::refuse_merged(store, ws, id)?;
                return Err(EngineError::NotFound(format!(
                    "contact {id:?} does not exist in workspace {ws:?}"
                )));
            }
            let entry = Value::Object(audit::entry(origin, &now, "delete"))
                .to_string()
                .into_bytes();
            Ok((
                vec![
                    Op::History {
                        ws: ws.into(),
                        id: id.into(),
                        entry,
                    },
                    Op::DeleteContact {
                        ws: ws.into(),
                        id: id.into(),
                    },
                ],
                (),
            ))
        })?;
        self.after_write(seq, 1);
        Ok(seq)
    }

    /// Refuses a write while the data dir's disk is nearly full (`server.min_free_bytes`), so
    /// a write never fails half-way for lack of space. Reads are never refused.
    pub fn check_space(&self) -> Result<()> {
        let min = self.cfg.server.min_free_bytes;
        if min == 0 {
            return Ok(());
        }
        match fs2::available_space(&self.data_dir) {
            Ok(free) if free < min => Err(EngineError::InsufficientStorage(format!(
                "the data disk has {} MiB free, below the {} MiB kept in reserve: writes are refused until space is freed (reads keep working)",
                free >> 20,
                min >> 20
            ))),
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the free space of the data dir");
                Ok(())
            }
        }
    }

    fn after_write(&self, seq: u64, n: u64) {
        self.metrics.writes.inc_by(n);
        self.metrics.store_seq.set(seq as i64);
    }

    /// Parses and validates bulk lines in parallel (no store access).
    fn prepare_chunk(&self, meta: &WsMeta, items: Vec<BulkItem>, now: chrono::DateTime<Utc>) -> Prepared {
        let parsed: Vec<std::result::Result<(usize, model::Validated), Rejected>> = items
            .into_par_iter()
            .filter(|it| !matches!(it, BulkItem::Line(_, l) if l.trim().is_empty()))
            .map(|item| {
                let (line, at_line, input) = match item {
                    BulkItem::Bad(r) => return Err(r),
                    BulkItem::Input { row, line, input } => (row, Some(line), *input),
                    BulkItem::Line(line, text) => {
                        let input: ContactInput = serde_json::from_str(&text)
                            .map_err(|e| Rejected::new(line, None, format!("invalid JSON: {e}")))?;
                        (line, None, input)
                    }
                };
                let Some(id) = input.id.clone() else {
                    let mut r = Rejected::new(line, None, "id: a row needs an \"id\"");
                    if at_line.is_some() {
                        r.column = Some("id".into());
                        r.at_line = at_line;
                    }
                    return Err(r);
                };
                let ctx = WriteContext {
                    settings: &meta.settings,
                    fields: &meta.fields,
                };
                Contact::from_input(&id, input, &ctx, None, now)
                    .map(|v| (line, v))
                    .map_err(|e| Rejected {
                        line,
                        id: Some(id),
                        column: at_line.map(|_| crate::transfer::column_of(&e.field)),
                        error: e.to_string(),
                        at_line,
                    })
            })
            .collect();
        let mut out = Prepared {
            good: Vec::with_capacity(parsed.len()),
            rejected: Vec::new(),
            now,
        };
        for p in parsed {
            match p {
                Ok(v) => out.good.push(v),
                Err(r) => out.rejected.push(r),
            }
        }
        out
    }

    /// Stores prepared contacts in one batch (one sequence number).
    fn commit_prepared(
        &self,
        ws: &str,
        meta: &Arc<WsMeta>,
        prepared: Prepared,
        origin: &Origin,
    ) -> Result<BulkOutcome> {
        let Prepared { good, rejected, now } = prepared;
        let mut out = BulkOutcome {
            accepted: 0,
            rejected,
            seq: 0,
        };
        if good.is_empty() {
            self.metrics.bulk_rejected.inc_by(out.rejected.len() as u64);
            return Ok(out);
        }
        self.check_space()?;
        let cfg = self.cfg.clone();
        let late = &mut out.rejected;
        let ((accepted, new_ws, new_fields), seq) = self.store.commit::<_, EngineError>(|store| {
            let meta_now = if meta.exists {
                meta.clone()
            } else {
                Arc::new(load_meta(store, &cfg, ws)?)
            };
            let mut ops = Vec::with_capacity(good.len() + 1);
            if !meta_now.exists {
                ops.push(Op::PutSettings {
                    ws: ws.into(),
                    settings: meta_now.settings.clone(),
                });
            }
            let mut created = std::collections::HashSet::new();
            let mut in_batch = std::collections::HashSet::new();
            let mut n = 0;
            for (line, v) in good {
                let mut c = v.contact;
                let prev = store.contact(ws, &c.id)?;
                if prev.is_none() {
                    if let Err(e) = merges::refuse_merged(store, ws, &c.id) {
                        late.push(Rejected::new(line, Some(c.id.clone()), e.to_string()));
                        continue;
                    }
                }
                for d in v.new_fields {
                    if !meta_now.fields.contains_key(&d.key) && created.insert(d.key.clone()) {
                        ops.push(Op::PutField { ws: ws.into(), def: d });
                    }
                }
                // a line without created_at keeps the stored contact's
                if let Some(prev) = &prev {
                    if c.created_at == now {
                        c.created_at = prev.created_at;
                    }
                }
                // an id repeated inside one batch replaces its earlier line
                let fresh = prev.is_none() && in_batch.insert(c.id.clone());
                let birth = history_op(
                    &mut ops,
                    ws,
                    &c.id,
                    fresh,
                    audit::write_entry(origin, &now, prev.as_ref(), &c),
                );
                ops.push(Op::PutContact {
                    ws: ws.into(),
                    contact: Arc::new(c),
                    fresh,
                    birth,
                });
                n += 1;
            }
            Ok((ops, (n, !meta_now.exists, !created.is_empty())))
        })?;
        if new_ws || new_fields {
            self.invalidate(ws);
        }
        out.rejected.sort_by_key(|r| r.line);
        self.metrics.bulk_rejected.inc_by(out.rejected.len() as u64);
        out.accepted = accepted;
        out.seq = seq;
        self.after_write(seq, accepted as u64);
        Ok(out)
    }

    /// Stores a stream of lines in chunks, pipelined: this thread parses and validates chunk
    /// N+1 (in parallel) while a second thread writes chunk N to the store.
    pub fn bulk(&self, ws: &str, lines: impl Iterator<Item = (usize, String)>, origin: &Origin) -> Result<BulkOutcome> {
        self.bulk_items(ws, lines.map(|(n, l)| BulkItem::Line(n, l)), origin)
    }

    /// Imports a CSV (see [`crate::transfer::CsvImport`]), streaming, through the bulk path:
    /// a header problem (unknown column, undefined custom field) refuses the whole file;
    /// a bad row is reported with its row, line and column and never sinks the others.
    pub fn import_csv(&self, ws: &str, input: impl std::io::Read, origin: &Origin) -> Result<BulkOutcome> {
        model::validate_workspace_id(ws)?;
        let csv = crate::transfer::CsvImport::new(input).map_err(|e| EngineError::BadRequest(e.to_string()))?;
        let meta = self.ws_meta(ws)?;
        if !meta.settings.auto_create_fields {
            for key in csv.custom_keys() {
                if !meta.fields.contains_key(&key) {
                    return Err(EngineError::BadRequest(format!(
                        "column custom.{key}: the workspace has no field {key:?}; define it first (PUT /v1/workspaces/{ws}/fields/{key}) or drop the column"
                    )));
                }
            }
        }
        let rows = csv.with_fields(&meta.defs()).map(|r| match r {
            Ok(row) => BulkItem::Input {
                row: row.row,
                line: row.line,
                input: Box::new(row.input),
            },
            Err(e) => BulkItem::Bad(Rejected {
                line: e.row,
                id: e.id,
                column: e.column,
                error: e.error,
                at_line: Some(e.line),
            }),
        });
        self.bulk_items(ws, rows, origin)
    }

    fn bulk_items(&self, ws: &str, items: impl Iterator<Item = BulkItem>, origin: &Origin) -> Result<BulkOutcome> {
        model::validate_workspace_id(ws)?;
        let meta = self.ws_meta(ws)?;
        std::thread::scope(|scope| {
            let (tx, rx) = crossbeam_channel::bounded::<Prepared>(2);
            let meta2 = meta.clone();
            let committer = scope.spawn(move || -> Result<BulkOutcome> {
                let mut total = BulkOutcome::default();
                let mut meta = meta2;
                for prepared in rx {
                    let o = self.commit_prepared(ws, &meta, prepared, origin)?;
                    if !meta.exists {
                        meta = self.ws_meta(ws)?;
                    }
                    total.accepted += o.accepted;
                    total.rejected.extend(o.rejected);
                    total.seq = total.seq.max(o.seq);
                }
                Ok(total)
            });
            let mut chunk = Vec::with_capacity(BULK_CHUNK);
            let mut lines = items.peekable();
            while lines.peek().is_some() {
                chunk.extend(lines.by_ref().take(BULK_CHUNK));
                let prepared = self.prepare_chunk(&meta, std::mem::take(&mut chunk), Utc::now());
                if tx.send(prepared).is_err() {
                    break; // the committer failed; its error is returned below
                }
            }
            drop(tx);
            committer
                .join()
                .unwrap_or_else(|_| Err(EngineError::Unavailable("the bulk committer thread panicked".into())))
        })
    }

    // -----------------------------------------------------------------------------------
    // search

    pub fn search(&self, ws: &str, req: &SearchRequest) -> Result<SearchResponse> {
        let start = Instant::now();
        let meta = self.existing_ws(ws)?;
        if let Some(q) = &req.q {
            if q.len() > self.cfg.server.max_query_bytes {
                return Err(EngineError::BadRequest(format!(
                    "q is {} bytes; the limit is {}",
                    q.len(),
                    self.cfg.server.max_query_bytes
                )));
            }
        }
        let defs = meta.defs();
        let ctx = self.search_ctx(ws, &meta, &defs, req.hidden);
        let out = search::run(&self.index, &ctx, req)?;
        let lookup = index::def_lookup(&defs);
        let q = req.q.as_deref().unwrap_or("");
        let mut hits = Vec::with_capacity(out.hits.len());
        for h in out.hits {
            // A contact deleted since the last commit is skipped.
            if let Some(c) = self.store.contact(ws, &h.id)? {
                let explain = req
                    .explain
                    .then(|| search::explain(&ctx, q, &index::search_terms(&c, &lookup)));
                hits.push(SearchHit {
                    id: h.id,
                    score: h.score,
                    contact: c.to_api(),
                    explain,
                });
            }
        }
        Ok(SearchResponse {
            hits,
            total: out.total,
            next_cursor: out.next_cursor,
            facets: out.facets,
            took_ms: (start.elapsed().as_secs_f64() * 1e6).round() / 1e3,
        })
    }

    /// One page of an export: the contacts matching `q` and `filter`, in id order, after
    /// `cursor`. Returns the contacts, the workspace's field definitions and the next cursor.
    pub fn export_page(
        &self,
        ws: &str,
        q: Option<String>,
        filter: Option<Value>,
        cursor: Option<String>,
        limit: usize,
        hidden: search::Hidden,
    ) -> Result<(Vec<Contact>, Vec<FieldDef>, Option<String>)> {
        let meta = self.existing_ws(ws)?;
        let defs = meta.defs();
        let req = SearchRequest {
            q,
            filter,
            cursor,
            limit: Some(limit.min(self.cfg.search.max_limit)),
            sort: Some(vec![search::SortSpec {
                field: "id".into(),
                order: Some("asc".into()),
            }]),
            hidden,
            ..Default::default()
        };
        let ctx = self.search_ctx(ws, &meta, &defs, hidden);
        let out = search::run(&self.index, &ctx, &req)?;
        let mut contacts = Vec::with_capacity(out.hits.len());
        for h in out.hits {
            if let Some(c) = self.store.contact(ws, &h.id)? {
                contacts.push(c);
            }
        }
        Ok((contacts, defs, out.next_cursor))
    }

    fn search_ctx<'a>(
        &'a self,
        ws: &'a str,
        meta: &WsMeta,
        defs: &'a [FieldDef],
        hidden: search::Hidden,
    ) -> search::Ctx<'a> {
        search::Ctx {
            ws,
            fields: &self.index.fields,
            defs,
            region: meta.settings.region(),
            cfg: &self.cfg.search,
            hidden,
        }
    }

    /// Whether contact `id` passes `filter` (as of the last index commit).
    pub fn visible(&self, ws: &str, id: &str, filter: &Value) -> Result<bool> {
        let meta = self.existing_ws(ws)?;
        let defs = meta.defs();
        let req = SearchRequest {
            filter: Some(serde_json::json!({"and": [filter, {"field": "id", "op": "eq", "value": id}]})),
            limit: Some(1),
            ..Default::default()
        };
        let ctx = self.search_ctx(ws, &meta, &defs, search::Hidden::default());
        Ok(search::run(&self.index, &ctx, &req)?.total > 0)
    }

    /// Bytes on disk: (store, index).
    pub fn disk_usage(&self, data_dir: &Path) -> (u64, u64) {
        (dir_size(&data_dir.join("store")), dir_size(&data_dir.join("index")))
    }

    /// Number of documents visible in the index (all workspaces).
    pub fn indexed_docs(&self) -> u64 {
        self.index.num_docs()
    }

    /// How many segments searches run over.
    pub fn index_segments(&self) -> usize {
        self.index.segment_ids().len()
    }

    /// Commits what the index holds and merges every segment into one (after a bulk load,
    /// see `contactdex import`); returns how many segments there were. Searches keep running
    /// over the old segments meanwhile.
    pub fn compact_index(&self) -> Result<usize> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.control
            .send(Control::Compact { reply: tx })
            .map_err(|_| EngineError::Unavailable("the indexer is not running".into()))?;
        rx.recv_timeout(Duration::from_secs(3600))
            .map_err(|_| EngineError::Unavailable("the index compaction did not finish in time".into()))?
    }
}

/// Places a write's history entry: a create's (`fresh`) is returned, to travel inside the
/// contact record (see `Op::PutContact`); any other becomes an `Op::History`.
fn history_op(ops: &mut Vec<Op>, ws: &str, id: &str, fresh: bool, entry: Option<Vec<u8>>) -> Option<Vec<u8>> {
    match entry {
        Some(entry) if !fresh => {
            ops.push(Op::History {
                ws: ws.into(),
                id: id.into(),
                entry,
            });
            None
        }
        entry => entry,
    }
}

fn dir_size(p: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => n += dir_size(&e.path()),
                Ok(m) => n += m.len(),
                Err(_) => {}
            }
        }
    }
    n
}

fn has_values(store: &Store, ws: &str, key: &str) -> Result<bool> {
    for c in store.contacts(ws) {
        if c?.custom.contains_key(key) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn load_meta(store: &Store, cfg: &Config, ws: &str) -> Result<WsMeta> {
    let stored = store.settings(ws)?;
    let exists = stored.is_some();
    let settings = stored.unwrap_or_else(|| cfg.workspace_defaults.clone());
    let mut fields: BTreeMap<String, FieldDef> = cfg.default_fields().into_iter().map(|d| (d.key.clone(), d)).collect();
    if exists {
        for d in store.fields(ws)? {
            fields.insert(d.key.clone(), d);
        }
    }
    Ok(WsMeta {
        exists,
        settings,
        fields,
    })
}

/// The indexer thread: applies change sets to tantivy and commits.
struct Indexer {
    store: Arc<Store>,
    index: SearchIndex,
    writer: Option<index::IndexWriter>,
    cfg: Arc<Config>,
    vis: Arc<Visibility>,
    metrics: Arc<Metrics>,
    ws_cache: Arc<RwLock<HashMap<String, Arc<WsMeta>>>>,
    committed_seq: Option<u64>,
    /// Change sets up to this sequence always replace (see `run`).
    upsert_through: u64,
    /// What the writer's merge policy may do now (see `IndexWriter::set_merge_mode`).
    merge_mode: index::MergeMode,
    /// Contacts applied since the last commit: many mean a bulk load (`MergeMode::Bulk`).
    applied_since_commit: usize,
    /// When a commit last covered a bulk load's worth of contacts.
    last_bulk_commit: Option<Instant>,
}

/// A commit covering at least this many contacts (at the 500 ms default interval, 4,000
/// contacts/s) counts as part of a bulk load, and the next one's merges are `Bulk`.
const BULK_DOCS_PER_COMMIT: usize = 2_000;
/// Merges stay `Bulk` this long after such a commit: a load's commits do not all cover a full
/// interval (one lands right after a `?refresh=true`, or between two requests), and each small
/// one switching back to `Log` let the log policy start its large merges mid-load.
const BULK_HOLD: Duration = Duration::from_secs(5);

/// After this long without a write, the indexer checks the segment layout and has a layout of
/// several large segments (a bulk load's, a rebuild's) merged into one in the background.
const CONSOLIDATE_AFTER_IDLE: Duration = Duration::from_secs(3);
/// While such a merge runs, this often the indexer looks whether it has finished, to show
/// its segment to searches (a reload; a commit does that too).
const MERGE_POLL: Duration = Duration::from_secs(1);

impl Indexer {
    fn defs(&self, ws: &str, local: &mut HashMap<String, Arc<Vec<FieldDef>>>) -> Arc<Vec<FieldDef>> {
        if let Some(d) = local.get(ws) {
            return d.clone();
        }
        let d = Arc::new(match self.ws_cache.read().ok().and_then(|c| c.get(ws).cloned()) {
            Some(m) => m.defs(),
            None => load_meta(&self.store, &self.cfg, ws)
                .map(|m| m.defs())
                .unwrap_or_default(),
        });
        local.insert(ws.to_string(), d.clone());
        d
    }

    fn run(mut self, changes: Receiver<ChangeSet>, control: Receiver<Control>) {
        if let Err(e) = self.catch_up() {
            tracing::error!(error = %e, "index catch-up failed; searches may be stale until restart");
        }
        // Changes written while the catch-up scanned the store may already be in the index:
        // those are replaced (delete + add) even when they were new to the store.
        self.upsert_through = self.store.last_seq();
        self.metrics.index_segments.set(self.index.segment_ids().len() as i64);
        self.vis.ready.store(true, Ordering::Release);
        let interval = Duration::from_millis(self.cfg.index.commit_interval_ms);
        let mut pending_seq: Option<u64> = None;
        let mut first_pending = Instant::now();
        let mut applied_seq = self.committed_seq.unwrap_or(0);
        let mut shutdown = false;
        let mut defs_cache: HashMap<String, Arc<Vec<FieldDef>>> = HashMap::new();
        // background consolidation (see `consolidate`): not during a bulk load, which merges
        // at its end if asked to
        let mut last_write = Instant::now();
        let mut idle_checked = self.cfg.index.bulk_load;
        let mut consolidating = false;
        loop {
            let timeout = match pending_seq {
                Some(_) => interval.saturating_sub(first_pending.elapsed()),
                None if consolidating => MERGE_POLL,
                None if !idle_checked => CONSOLIDATE_AFTER_IDLE.saturating_sub(last_write.elapsed()),
                None => Duration::from_secs(3600),
            };
            select! {
                recv(changes) -> msg => match msg {
                    Ok(cs) => {
                        last_write = Instant::now();
                        if !self.cfg.index.bulk_load {
                            idle_checked = false;
                            consolidating = false;
                            if self.merge_mode == index::MergeMode::Consolidate {
                                self.set_merge_mode(index::MergeMode::Log);
                            }
                        }
                        self.apply(&cs, &mut defs_cache);
                        if pending_seq.is_none() { first_pending = Instant::now(); }
                        pending_seq = Some(cs.seq);
                        applied_seq = cs.seq;
                        // drain what is already queued without blocking
                        while let Ok(cs) = changes.try_recv() {
                            self.apply(&cs, &mut defs_cache);
                            pending_seq = Some(cs.seq);
                            applied_seq = cs.seq;
                        }
                    }
                    Err(_) => shutdown = true,
                },
                recv(control) -> msg => match msg {
                    Ok(Control::Refresh) => {
                        defs_cache.clear();
                    }
                    Ok(Control::Purge { seq, keys, reply }) => {
                        while applied_seq < seq {
                            match changes.recv_timeout(Duration::from_secs(30)) {
                                Ok(cs) => {
                                    self.apply(&cs, &mut defs_cache);
                                    pending_seq = Some(cs.seq);
                                    applied_seq = cs.seq;
                                }
                                Err(_) => break,
                            }
                        }
                        if let Some(seq) = pending_seq.take() {
                            self.commit(seq);
                        }
                        let _ = reply.send(self.purge(&keys));
                    }
                    Ok(Control::Compact { reply }) => {
                        if let Some(seq) = pending_seq.take() {
                            self.commit(seq);
                        }
                        let _ = reply.send(self.compact());
                    }
                    Ok(Control::Shutdown) | Err(_) => shutdown = true,
                },
                default(timeout) => {}
            }
            if shutdown {
                while let Ok(cs) = changes.try_recv() {
                    self.apply(&cs, &mut defs_cache);
                    pending_seq = Some(cs.seq);
                }
            }
            let wanted = self.vis.wanted.load(Ordering::Acquire);
            let visible = *self.vis.visible.borrow();
            let due = pending_seq.is_some() && (first_pending.elapsed() >= interval || shutdown || wanted > visible);
            if due {
                if let Some(seq) = pending_seq.take() {
                    self.commit(seq);
                }
                defs_cache.clear();
            } else if wanted > visible && pending_seq.is_none() && applied_seq >= wanted {
                let _ = self.vis.visible.send_replace(applied_seq);
            }
            if shutdown {
                break;
            }
            if pending_seq.is_none() {
                if consolidating && self.index.merged_since_reload() {
                    if let Err(e) = self.index.reload() {
                        tracing::error!(error = %e, "index reload failed");
                    }
                    self.metrics.index_segments.set(self.index.segment_ids().len() as i64);
                    consolidating = index::needs_consolidation(&self.index.segment_docs());
                    if !consolidating {
                        tracing::info!(
                            segments = self.index.segment_ids().len(),
                            "index merged in the background"
                        );
                    }
                }
                if !idle_checked && last_write.elapsed() >= CONSOLIDATE_AFTER_IDLE {
                    idle_checked = true;
                    consolidating = self.consolidate(applied_seq);
                }
            }
        }
        // a merge running now is waited for; none starts after it
        self.set_merge_mode(index::MergeMode::Off);
        if let Some(w) = self.writer.take() {
            if let Err(e) = w.finish() {
                tracing::warn!(error = %e, "waiting for index merges failed");
            }
        }
    }

    fn set_merge_mode(&mut self, mode: index::MergeMode) {
        if self.merge_mode != mode {
            if let Some(w) = &self.writer {
                w.set_merge_mode(mode);
            }
            self.merge_mode = mode;
        }
    }

    /// Has a layout of several large segments merged into one by tantivy's merge threads
    /// (see `index::needs_consolidation`), while searches and writes go on. Called once the
    /// writes have paused, so a bulk load over HTTP is not slowed by rewriting what it is
    /// still adding to. Returns whether such a merge was asked for.
    fn consolidate(&mut self, seq: u64) -> bool {
        let docs = self.index.segment_docs();
        if !index::needs_consolidation(&docs) {
            return false;
        }
        self.set_merge_mode(index::MergeMode::Consolidate);
        // tantivy consults its merge policy at a commit: one with nothing new in it
        self.commit(seq);
        self.metrics.consolidations.inc();
        tracing::info!(
            segments = docs.len(),
            docs = docs.iter().sum::<u64>(),
            "merging the index into one segment in the background"
        );
        true
    }

    fn apply(&mut self, cs: &ChangeSet, defs_cache: &mut HashMap<String, Arc<Vec<FieldDef>>>) {
        self.applied_since_commit += cs.contacts.len();
        for (ws, id, c, fresh) in &cs.contacts {
            match c {
                Some(c) => {
                    let defs = self.defs(ws, defs_cache);
                    let lookup = index::def_lookup(&defs);
                    if let Some(w) = &self.writer {
                        let r = if *fresh && cs.seq > self.upsert_through {
                            w.add(ws, c, &lookup)
                        } else {
                            w.upsert(ws, c, &lookup)
                        };
                        if let Err(e) = r {
                            tracing::error!(error = %e, ws, id, "indexing a contact failed");
                        }
                    }
                    self.metrics.docs_indexed.inc();
                }
                None => {
                    if let Some(w) = &self.writer {
                        w.delete(ws, id);
                    }
                    self.metrics.docs_deleted.inc();
                }
            }
        }
    }

    /// Makes `seq` durable in the store, commits the index with it, reloads readers,
    /// publishes visibility and trims the change log.
    fn commit(&mut self, seq: u64) {
        let start = Instant::now();
        // merges while writes pour in are deferred to one when they pause (`MergeMode::Bulk`)
        if std::mem::take(&mut self.applied_since_commit) >= BULK_DOCS_PER_COMMIT {
            self.last_bulk_commit = Some(start);
        }
        let bulk = self
            .last_bulk_commit
            .is_some_and(|t| start.duration_since(t) < BULK_HOLD);
        match (self.merge_mode, bulk) {
            (index::MergeMode::Log, true) => self.set_merge_mode(index::MergeMode::Bulk),
            (index::MergeMode::Bulk, false) => self.set_merge_mode(index::MergeMode::Log),
            _ => {}
        }
        if let Err(e) = self.store.wait_durable(seq) {
            tracing::error!(error = %e, "store flush before index commit failed");
            return;
        }
        let Some(w) = self.writer.as_mut() else {
            return;
        };
        if let Err(e) = w.commit(seq) {
            tracing::error!(error = %e, seq, "index commit failed");
            return;
        }
        if let Err(e) = self.index.reload() {
            tracing::error!(error = %e, "index reload failed");
        }
        let _ = self.vis.visible.send_replace(seq);
        self.metrics.visible_seq.set(seq as i64);
        self.metrics.index_segments.set(self.index.segment_ids().len() as i64);
        self.metrics.commit_seconds.observe(start.elapsed().as_secs_f64());
        match self.store.trim_log(seq) {
            Ok(n) => tracing::debug!(
                seq,
                trimmed = n,
                ms = start.elapsed().as_millis() as u64,
                "index committed"
            ),
            Err(e) => tracing::warn!(error = %e, "trimming the change log failed"),
        }
    }

    /// Merges away every segment that still holds one of these contacts' terms (their
    /// deleted documents), until none does. A segment busy in a background merge is retried.
    fn purge(&mut self, keys: &[(String, String)]) -> Result<()> {
        let start = Instant::now();
        let mut rounds = 0;
        loop {
            let segs = self.index.segments_holding(keys)?;
            if segs.is_empty() {
                break;
            }
            rounds += 1;
            if rounds > 50 {
                return Err(EngineError::Unavailable(
                    "erased contacts are still in index segments after 50 merge attempts; retry the erasure".into(),
                ));
            }
            let Some(w) = self.writer.as_mut() else {
                return Err(EngineError::Unavailable("the indexer is stopping".into()));
            };
            if let Err(e) = w.merge_segments(&segs) {
                // most likely a background merge holds one of the segments: wait for it
                tracing::debug!(error = %e, "purge merge deferred");
                std::thread::sleep(Duration::from_millis(100));
            }
            self.index.reload()?;
        }
        if let Some(w) = &self.writer {
            w.collect_garbage()?;
        }
        tracing::info!(
            contacts = keys.len(),
            rounds,
            ms = start.elapsed().as_millis() as u64,
            "erased contacts purged from the index"
        );
        Ok(())
    }

    /// Merges every segment into one; returns how many there were. A bulk load (an import, a
    /// rebuild) leaves a segment per indexing thread and commit, and tantivy's log merge policy
    /// leaves segments of unequal size apart: a 1M-contact rebuild ended with 8 segments, over
    /// which the search mix took 2.4× the median time of one merged segment (BENCHMARKS.md).
    fn compact(&mut self) -> Result<usize> {
        let start = Instant::now();
        let segs = self.index.segment_ids();
        if segs.len() < 2 {
            return Ok(segs.len());
        }
        let Some(w) = self.writer.as_mut() else {
            return Err(EngineError::Unavailable("the indexer is stopping".into()));
        };
        // background merges are off during a bulk load (see `IndexWriter::set_background_merges`);
        // one still running from before may hold segments: retry with what is left
        let mut tries = 0;
        loop {
            let ids = self.index.segment_ids();
            if ids.len() < 2 {
                break;
            }
            match w.merge_segments(&ids) {
                Ok(()) => break,
                Err(e) => {
                    tries += 1;
                    if tries > 100 {
                        return Err(EngineError::Unavailable(format!("index compaction: {e}")));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                    self.index.reload()?;
                }
            }
        }
        self.index.reload()?;
        w.collect_garbage()?;
        tracing::info!(
            segments = segs.len(),
            ms = start.elapsed().as_millis() as u64,
            "index compacted into one segment"
        );
        Ok(segs.len())
    }

    /// Brings the index up to the store: replays the change log after the committed
    /// sequence, or rebuilds everything when the index was (re)created.
    fn catch_up(&mut self) -> Result<()> {
        let start = Instant::now();
        let target = self.store.last_seq();
        let mut defs_cache = HashMap::new();
        let mut n = 0u64;
        let mut rebuilt = false;
        match self.committed_seq {
            Some(seq) if seq >= target => {
                let _ = self.vis.visible.send_replace(seq);
                return Ok(());
            }
            Some(seq) => {
                let entries: Vec<_> = self.store.log_since(seq).collect::<std::result::Result<_, _>>()?;
                for (_, keys) in entries {
                    for (ws, id) in keys {
                        let c = self.store.contact(&ws, &id)?.map(Arc::new);
                        self.apply(
                            &ChangeSet {
                                seq: 0,
                                contacts: vec![(ws, id, c, false)],
                            },
                            &mut defs_cache,
                        );
                        n += 1;
                    }
                }
                tracing::info!(
                    from = seq,
                    to = target,
                    replayed = n,
                    "replaying the change log into the index"
                );
            }
            None => {
                rebuilt = true;
                // no merges while rebuilding: the rebuilt segments are merged once, in the
                // background when writes pause (see `consolidate`), or by the caller
                self.set_merge_mode(index::MergeMode::Off);
                if let Some(w) = self.writer.as_mut() {
                    w.clear()?;
                }
                for item in self.store.all_contacts() {
                    let (ws, c) = item?;
                    let defs = self.defs(&ws, &mut defs_cache);
                    let lookup = index::def_lookup(&defs);
                    if let Some(w) = &self.writer {
                        w.add(&ws, &c, &lookup)?;
                    }
                    n += 1;
                }
                tracing::info!(contacts = n, "rebuilt the index from the store");
            }
        }
        self.commit(target);
        self.committed_seq = Some(target);
        if rebuilt && !self.cfg.index.bulk_load {
            self.set_merge_mode(index::MergeMode::Log);
        }
        self.metrics.startup_replayed.set(i64::try_from(n).unwrap_or(i64::MAX));
        tracing::info!(contacts = n, ms = start.elapsed().as_millis() as u64, "index caught up");
        Ok(())
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

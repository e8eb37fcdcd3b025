//! The source of truth: one sled database behind a narrow interface.
//!
//! Layout (one tree, prefix-encoded keys, so that one write is one atomic `sled::Batch`):
//!
//! | key                      | value                                  |
//! |--------------------------|----------------------------------------|
//! | `w` ws                   | workspace settings (JSON)              |
//! | `f` ws `\0` key          | custom field definition (JSON)         |
//! | `c` ws `\0` id           | contact (JSON, sealed; may carry its create entry, see [`Op::PutContact`]) |
//! | `h` ws `\0` id `\0` n    | history entry n (JSON, sealed; erasure markers plain) |
//! | `a` ws `\0` id           | alias: merged-away id → survivor (JSON) |
//! | `g` ws `\0` merge id     | merge record (JSON, ids only)           |
//! | `s` ws `\0` id `\0` merge | the contact as it was before that merge (sealed) |
//! | `z` slot (u64 BE)        | key slot waiting to be shredded         |
//! | `K` id                   | API key record (hash of the secret, never the secret) |
//! | `x` ws `\0` n (u32 BE)   | duplicate proposal n of the last job   |
//! | `r` ws `\0` a `\0` b     | rejected pair (a < b)                  |
//! | `l` seq (u64 BE)         | change-log entry: the (ws, id)s written |
//! | `m` name                 | metadata: `seq`, `format`              |
//!
//! **Writes.** [`Store::commit`] runs under one write lock: the caller reads what it needs,
//! returns its operations, and they are applied as one batch together with the next sequence
//! number and a change-log entry; the batch is then handed to the change listener (the
//! indexer) in sequence order. The batch is in memory until flushed: **acknowledge a write only
//! after [`Store::wait_durable`] returned for its sequence.** Concurrent writers share one
//! flush (group commit): a flush covers every batch applied before it started.
//!
//! **Personal data** is sealed with the contact's own key (see [`seal`]); the keys live in a
//! separate file (`keys` beside sled's files) that erasure overwrites in place.
//!
//! **Crash.** After `kill -9` every batch whose `wait_durable` returned is on disk. The change
//! log keeps entries until the index confirms a commit that covers them
//! ([`Store::trim_log`]), so the index can always catch up by replaying it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;
use serde::{Deserialize, Serialize};

use crate::model::{Contact, FieldDef, WorkspaceSettings};

pub mod seal;
use seal::{KeyFile, SealError};

const FORMAT: &[u8] = b"contactdex-store-v3";
/// The previous format: the same records, except that no contact record carries its create
/// entry. Opened as is and re-marked v3, so an older binary then refuses the store instead
/// of failing on the records it cannot read.
const FORMAT_V2: &[u8] = b"contactdex-store-v2";

/// Store errors. All are internal (a client cannot cause them) except none: validation
/// happens before the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store at {path} cannot be opened: {message}. It is left untouched; restore it from a backup or move it away to start empty")]
    Corrupt { path: String, message: String },
    #[error("the store at {path} is in use by another process (sled lock): stop the other contactdex first")]
    Locked { path: String },
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("a stored record cannot be decoded ({key}): {message}")]
    Decode { key: String, message: String },
    #[error("sealed data: {0}")]
    Seal(#[from] SealError),
    #[error("the store was closed")]
    Closed,
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// One mutation inside a [`Store::commit`].
#[derive(Debug, Clone)]
pub enum Op {
    PutSettings {
        ws: String,
        settings: WorkspaceSettings,
    },
    PutField {
        ws: String,
        def: FieldDef,
    },
    PutContact {
        ws: String,
        contact: Arc<Contact>,
        /// The caller checked, under the write lock, that no version of this contact exists:
        /// the index may add it without deleting an old document first.
        fresh: bool,
        /// The contact's create entry for its history (JSON). It is kept inside the contact
        /// record, so a created contact costs one record instead of two, until the contact is
        /// next written or deleted: then it becomes a history record of its own, at the
        /// position it was given here. Readers see the same history either way.
        birth: Option<Vec<u8>>,
    },
    DeleteContact {
        ws: String,
        id: String,
    },
    /// Appends an entry (JSON) to a contact's history, sealed with the contact's key.
    History {
        ws: String,
        id: String,
        entry: Vec<u8>,
    },
    /// Makes `id` resolve to another contact (JSON alias record), or stops it (`None`).
    Alias {
        ws: String,
        id: String,
        alias: Option<Vec<u8>>,
    },
    /// Writes a merge record (JSON; ids and choices only, no personal values).
    PutMerge {
        ws: String,
        merge_id: String,
        record: Vec<u8>,
    },
    /// The contact `id` as it was before merge `merge_id` (JSON), sealed with its key.
    /// `None` removes it.
    Snapshot {
        ws: String,
        id: String,
        merge_id: String,
        doc: Option<Vec<u8>>,
    },
    /// GDPR erasure: removes the contact, its history and snapshots, schedules its key for
    /// shredding (see [`Store::complete_erasures`]) and leaves one plain history entry.
    Erase {
        ws: String,
        id: String,
        entry: Vec<u8>,
    },
    /// Replaces the workspace's duplicate proposals (JSON documents, in order).
    ReplaceProposals {
        ws: String,
        proposals: Vec<Vec<u8>>,
    },
    /// Stores (`Some`) or revokes (`None`) an API key record (JSON).
    ApiKey {
        id: String,
        record: Option<Vec<u8>>,
    },
    /// Records that two contacts are not the same person.
    PutRejection {
        ws: String,
        a: String,
        b: String,
    },
}

/// What a committed batch changed, as handed to the change listener in sequence order.
#[derive(Debug, Clone)]
pub struct ChangeSet {
    pub seq: u64,
    /// Contacts written (`Some`) or deleted (`None`), and whether a written one is new.
    pub contacts: Vec<(String, String, Option<Arc<Contact>>, bool)>,
}

#[derive(Serialize, Deserialize)]
struct LogEntry {
    /// (workspace, contact id) pairs whose current state the index must reflect.
    c: Vec<(String, String)>,
}

struct WriteState {
    seq: u64,
    /// Next free key slot.
    next_slot: u64,
    listener: Option<Sender<ChangeSet>>,
}

/// The sled-backed store. Cheap to share behind an `Arc`.
pub struct Store {
    db: sled::Db,
    path: String,
    write: Mutex<WriteState>,
    /// Highest sequence applied to sled (maybe not yet durable).
    applied: AtomicU64,
    /// Highest sequence known to be on disk.
    durable: AtomicU64,
    flush_lock: Mutex<()>,
    keys: KeyFile,
    /// New keys written since the key file was last synced.
    keys_dirty: std::sync::atomic::AtomicBool,
}

/// A stored history entry: its position (for paging) and JSON.
pub struct HistoryItem {
    pub pos: [u8; 12],
    pub entry: Vec<u8>,
}

fn ws_key(prefix: u8, ws: &str, rest: Option<&str>) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + ws.len() + rest.map_or(0, str::len));
    k.push(prefix);
    k.extend_from_slice(ws.as_bytes());
    if let Some(r) = rest {
        k.push(0);
        k.extend_from_slice(r.as_bytes());
    }
    k
}

fn sub_key(prefix: u8, ws: &str, id: &str, rest: &[u8]) -> Vec<u8> {
    let mut k = ws_key(prefix, ws, Some(id));
    k.push(0);
    k.extend_from_slice(rest);
    k
}

fn u64_of(v: &[u8]) -> Option<u64> {
    let b: [u8; 8] = v.get(..8)?.try_into().ok()?;
    Some(u64::from_be_bytes(b))
}

fn log_key(seq: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = b'l';
    k[1..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// First byte of a contact record's plain bytes that carry a create entry (JSON starts with `{`).
const BIRTH_TAG: u8 = 1;

/// A contact record's plain bytes with its create entry in front:
/// `BIRTH_TAG | position (12) | entry length (u32 BE) | entry | contact JSON`.
fn with_birth(pos: &[u8; 12], entry: &[u8], contact: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(17 + entry.len() + contact.len());
    out.push(BIRTH_TAG);
    out.extend_from_slice(pos);
    out.extend_from_slice(&(entry.len() as u32).to_be_bytes());
    out.extend_from_slice(entry);
    out.extend_from_slice(contact);
    out
}

/// A create entry as a contact record carries it: its position and JSON.
type CarriedEntry<'a> = ([u8; 12], &'a [u8]);

/// Splits a contact record's plain bytes into its create entry, if it carries one, and the
/// contact's JSON.
fn split_birth(plain: &[u8]) -> (Option<CarriedEntry<'_>>, &[u8]) {
    if plain.first() != Some(&BIRTH_TAG) || plain.len() < 17 {
        return (None, plain);
    }
    let mut pos = [0u8; 12];
    pos.copy_from_slice(&plain[1..13]);
    let len = u32::from_be_bytes([plain[13], plain[14], plain[15], plain[16]]) as usize;
    match plain.get(17..17 + len) {
        Some(entry) => (Some((pos, entry)), &plain[17 + len..]),
        None => (None, plain),
    }
}

/// A create entry held in a contact record: its position, entry and the record's key slot.
struct Birth {
    pos: [u8; 12],
    entry: Vec<u8>,
    slot: u64,
}

fn decode<T: for<'de> Deserialize<'de>>(key: &[u8], v: &[u8]) -> Result<T> {
    serde_json::from_slice(v).map_err(|e| StoreError::Decode {
        key: String::from_utf8_lossy(key).replace('\0', "/"),
        message: e.to_string(),
    })
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // Our own types serialise infallibly (no maps with non-string keys).
    serde_json::to_vec(v).unwrap_or_default()
}

impl Store {
    /// Opens (or creates) the store in `path`. A store that sled cannot open, or a non-empty
    /// directory that is not a contactdex store, is refused and left untouched.
    pub fn open(path: &std::path::Path, cache_mb: u64) -> Result<Store> {
        let display = path.display().to_string();
        let existed = path.join("db").exists() || path.join("conf").exists();
        if !existed && path.exists() && std::fs::read_dir(path).map(|mut d| d.next().is_some()).unwrap_or(false) {
            return Err(StoreError::Corrupt {
                path: display,
                message: "the directory is not empty but holds no sled database".into(),
            });
        }
        // No background flush: sled is flushed only by `wait_durable`, after the key file is
        // synced, so no record reaches the disk before its key does.
        let db = sled::Config::default()
            .path(path)
            .cache_capacity(cache_mb * 1024 * 1024)
            .flush_every_ms(None)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(ref io)
                    if io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("lock") =>
                {
                    StoreError::Locked { path: display.clone() }
                }
                other => StoreError::Corrupt {
                    path: display.clone(),
                    message: other.to_string(),
                },
            })?;
        match db.get(b"mformat")? {
            Some(v) if v.as_ref() == FORMAT => {}
            Some(v) if v.as_ref() == FORMAT_V2 => {
                db.insert(b"mformat", FORMAT)?;
                db.flush()?;
            }
            Some(v) => {
                return Err(StoreError::Corrupt {
                    path: display,
                    message: format!(
                        "store format {:?} is not {:?} (written by another contactdex version; export it with that version and import it here)",
                        String::from_utf8_lossy(&v),
                        String::from_utf8_lossy(FORMAT)
                    ),
                })
            }
            None if existed && !db.is_empty() => {
                return Err(StoreError::Corrupt {
                    path: display,
                    message: "the store has no format marker".into(),
                })
            }
            None => {
                db.insert(b"mformat", FORMAT)?;
                db.flush()?;
            }
        }
        let seq = match db.get(b"mseq")? {
            Some(v) if v.len() == 8 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&v);
                u64::from_be_bytes(b)
            }
            Some(_) => {
                return Err(StoreError::Corrupt {
                    path: display,
                    message: "sequence record is damaged".into(),
                })
            }
            None => 0,
        };
        let next_slot = db.get(b"mslot")?.and_then(|v| u64_of(&v)).unwrap_or(0);
        let key_path = path.join("keys");
        if next_slot > 0 && !key_path.exists() {
            return Err(StoreError::Corrupt {
                path: display,
                message: format!(
                    "the key file {} is missing: the contacts cannot be decrypted without it",
                    key_path.display()
                ),
            });
        }
        let keys = KeyFile::open(&key_path)?;
        if keys.len() < next_slot {
            // Only writes that were never acknowledged can be missing their keys.
            tracing::warn!(
                have = keys.len(),
                need = next_slot,
                "the key file is shorter than the slot counter (a crash before an acknowledgement)"
            );
            keys.ensure_len(next_slot);
        }
        let store = Store {
            db,
            path: display,
            write: Mutex::new(WriteState {
                seq,
                next_slot,
                listener: None,
            }),
            applied: AtomicU64::new(seq),
            durable: AtomicU64::new(seq),
            flush_lock: Mutex::new(()),
            keys,
            keys_dirty: std::sync::atomic::AtomicBool::new(false),
        };
        // Erasures interrupted by a crash are finished before anything else.
        store.complete_erasures()?;
        Ok(store)
    }

    /// The key slot of a contact, allocating one (in `new_keys`) when it has none.
    fn slot_for(
        &self,
        ws: &str,
        id: &str,
        w: &mut WriteState,
        local: &mut std::collections::HashMap<(String, String), u64>,
        first_new: &mut Option<u64>,
        fresh: bool,
    ) -> Result<u64> {
        if let Some(s) = local.get(&(ws.to_string(), id.to_string())) {
            return Ok(*s);
        }
        let slot = match self.slot_in_use(ws, id, fresh)? {
            Some(s) => s,
            None => {
                let s = w.next_slot;
                w.next_slot += 1;
                first_new.get_or_insert(s);
                s
            }
        };
        local.insert((ws.to_string(), id.to_string()), slot);
        Ok(slot)
    }

    /// The key slot a contact's sealed records use: the one in its stored record's header,
    /// else in its newest sealed history entry's (a deleted contact keeps its history). A
    /// `fresh` contact has no stored record (the caller read none under the write lock).
    fn slot_in_use(&self, ws: &str, id: &str, fresh: bool) -> Result<Option<u64>> {
        if !fresh {
            if let Some(v) = self.db.get(ws_key(b'c', ws, Some(id)))? {
                if let Some(s) = seal::slot_of(&v) {
                    return Ok(Some(s));
                }
            }
        }
        let mut p = ws_key(b'h', ws, Some(id));
        p.push(0);
        for kv in self.db.scan_prefix(&p).values().rev() {
            if let Some(s) = seal::slot_of(&kv?) {
                return Ok(Some(s));
            }
        }
        Ok(None)
    }

    /// Before a contact's record is replaced or removed, queues the create entry it carries
    /// (the one written earlier in this batch, else the stored one; none when the caller
    /// knows the contact is `fresh`) as a history record at its position. Writing it again is
    /// harmless: same key, same entry.
    fn release_birth(
        &self,
        ws: &str,
        id: &str,
        fresh: bool,
        births: &mut std::collections::HashMap<(String, String), Birth>,
        to_seal: &mut Vec<(Vec<u8>, u64, Vec<u8>)>,
    ) -> Result<()> {
        let birth = match births.remove(&(ws.to_string(), id.to_string())) {
            Some(b) => Some(b),
            None if fresh => None,
            None => self.stored_birth(ws, id)?,
        };
        if let Some(b) = birth {
            to_seal.push((sub_key(b'h', ws, id, &b.pos), b.slot, b.entry));
        }
        Ok(())
    }

    /// The create entry held in a contact's stored record, if any.
    fn stored_birth(&self, ws: &str, id: &str) -> Result<Option<Birth>> {
        let k = ws_key(b'c', ws, Some(id));
        let Some(v) = self.db.get(&k)? else {
            return Ok(None);
        };
        let Some(slot) = seal::slot_of(&v) else {
            return Ok(None);
        };
        let plain = self.open_record(&k, &v)?;
        Ok(split_birth(&plain).0.map(|(pos, entry)| Birth {
            pos,
            entry: entry.to_vec(),
            slot,
        }))
    }

    /// Every key slot a contact's records use (contact, history, snapshots).
    fn slots_of(&self, ws: &str, id: &str) -> Result<std::collections::BTreeSet<u64>> {
        let mut out = std::collections::BTreeSet::new();
        if let Some(v) = self.db.get(ws_key(b'c', ws, Some(id)))? {
            out.extend(seal::slot_of(&v));
        }
        for prefix in [b'h', b's'] {
            let mut p = ws_key(prefix, ws, Some(id));
            p.push(0);
            for v in self.db.scan_prefix(&p).values() {
                out.extend(seal::slot_of(&v?));
            }
        }
        Ok(out)
    }

    /// Shreds the keys of finished erasures (`z` records) and syncs the key file. Called
    /// after the erasing batch is durable, and at start-up.
    pub fn complete_erasures(&self) -> Result<usize> {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for kv in self.db.scan_prefix(b"z") {
            let (k, _) = kv?;
            if let Some(slot) = u64_of(&k[1..]) {
                self.keys.shred(slot)?;
            }
            batch.remove(k);
            n += 1;
        }
        if n > 0 {
            self.keys.sync()?;
            self.db.apply_batch(batch)?;
            self.db.flush()?;
        }
        Ok(n)
    }

    /// Where the store lives.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Sets the listener that receives every committed [`ChangeSet`], in sequence order.
    pub fn set_listener(&self, tx: Sender<ChangeSet>) {
        if let Ok(mut w) = self.write.lock() {
            w.listener = Some(tx);
        }
    }

    /// Drops the listener (the indexer then drains and stops).
    pub fn clear_listener(&self) {
        if let Ok(mut w) = self.write.lock() {
            w.listener = None;
        }
    }

    /// The last sequence applied.
    pub fn last_seq(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Runs `build` under the write lock (so what it reads cannot change before its
    /// operations apply), then applies its operations atomically with a new sequence number
    /// and a change-log entry. Returns the closure's result and the sequence; the write is
    /// NOT durable until [`Store::wait_durable`] returns for that sequence.
    pub fn commit<R, E: From<StoreError>>(
        &self,
        build: impl FnOnce(&Store) -> std::result::Result<(Vec<Op>, R), E>,
    ) -> std::result::Result<(R, u64), E> {
        let mut guard = self.write.lock().map_err(|_| StoreError::Closed)?;
        let w = &mut *guard;
        let (ops, r) = build(self)?;
        if ops.is_empty() {
            return Ok((r, w.seq));
        }
        let seq = w.seq + 1;
        let mut batch = sled::Batch::default();
        let mut changed = Vec::new();
        let mut logged = Vec::new();
        // Values to seal, once every new key of this batch exists: (sled key, slot, plain).
        let mut to_seal: Vec<(Vec<u8>, u64, Vec<u8>)> = Vec::new();
        let mut slots = std::collections::HashMap::new();
        let mut first_new: Option<u64> = None;
        // create entries carried by contact records of this batch
        let mut births: std::collections::HashMap<(String, String), Birth> = std::collections::HashMap::new();
        for (n, op) in ops.into_iter().enumerate() {
            let pos = {
                let mut p = [0u8; 12];
                p[..8].copy_from_slice(&seq.to_be_bytes());
                p[8..].copy_from_slice(&(n as u32).to_be_bytes());
                p
            };
            match op {
                Op::PutSettings { ws, settings } => batch.insert(ws_key(b'w', &ws, None), encode(&settings)),
                Op::PutField { ws, def } => batch.insert(ws_key(b'f', &ws, Some(&def.key)), encode(&def)),
                Op::PutContact {
                    ws,
                    contact,
                    fresh,
                    birth,
                } => {
                    let slot = self.slot_for(&ws, &contact.id, w, &mut slots, &mut first_new, fresh)?;
                    self.release_birth(&ws, &contact.id, fresh, &mut births, &mut to_seal)?;
                    let json = encode(contact.as_ref());
                    let plain = match birth {
                        Some(entry) => {
                            let plain = with_birth(&pos, &entry, &json);
                            births.insert((ws.clone(), contact.id.clone()), Birth { pos, entry, slot });
                            plain
                        }
                        None => json,
                    };
                    to_seal.push((ws_key(b'c', &ws, Some(&contact.id)), slot, plain));
                    logged.push((ws.clone(), contact.id.clone()));
                    changed.push((ws, contact.id.clone(), Some(contact), fresh));
                }
                Op::DeleteContact { ws, id } => {
                    self.release_birth(&ws, &id, false, &mut births, &mut to_seal)?;
                    batch.remove(ws_key(b'c', &ws, Some(&id)));
                    logged.push((ws.clone(), id.clone()));
                    changed.push((ws, id, None, false));
                }
                Op::History { ws, id, entry } => {
                    let slot = self.slot_for(&ws, &id, w, &mut slots, &mut first_new, false)?;
                    to_seal.push((sub_key(b'h', &ws, &id, &pos), slot, entry));
                }
                Op::Alias { ws, id, alias } => match alias {
                    Some(a) => batch.insert(ws_key(b'a', &ws, Some(&id)), a),
                    None => batch.remove(ws_key(b'a', &ws, Some(&id))),
                },
                Op::PutMerge { ws, merge_id, record } => batch.insert(ws_key(b'g', &ws, Some(&merge_id)), record),
                Op::Snapshot { ws, id, merge_id, doc } => {
                    let k = sub_key(b's', &ws, &id, merge_id.as_bytes());
                    match doc {
                        Some(d) => {
                            let slot = self.slot_for(&ws, &id, w, &mut slots, &mut first_new, false)?;
                            to_seal.push((k, slot, d));
                        }
                        None => batch.remove(k),
                    }
                }
                Op::Erase { ws, id, entry } => {
                    births.remove(&(ws.clone(), id.clone()));
                    let mut doomed = self.slots_of(&ws, &id)?;
                    doomed.extend(slots.remove(&(ws.clone(), id.clone())));
                    for slot in doomed {
                        let mut z = vec![b'z'];
                        z.extend_from_slice(&slot.to_be_bytes());
                        batch.insert(z, &b""[..]);
                    }
                    to_seal.retain(|(k, _, _)| !k.starts_with(&ws_key(b'c', &ws, Some(&id))));
                    for prefix in [b'h', b's'] {
                        let mut p = ws_key(prefix, &ws, Some(&id));
                        p.push(0);
                        for k in self.db.scan_prefix(&p).keys() {
                            batch.remove(k.map_err(StoreError::from)?);
                        }
                        to_seal.retain(|(k, _, _)| !k.starts_with(&p));
                    }
                    batch.remove(ws_key(b'c', &ws, Some(&id)));
                    batch.insert(sub_key(b'h', &ws, &id, &pos), seal::plain(&entry));
                    logged.push((ws.clone(), id.clone()));
                    changed.push((ws, id, None, false));
                }
                Op::ReplaceProposals { ws, proposals } => {
                    let mut p = ws_key(b'x', &ws, None);
                    p.push(0);
                    for k in self.db.scan_prefix(&p).keys() {
                        batch.remove(k.map_err(StoreError::from)?);
                    }
                    for (i, doc) in proposals.into_iter().enumerate() {
                        let mut k = p.clone();
                        k.extend_from_slice(&(i as u32).to_be_bytes());
                        batch.insert(k, doc);
                    }
                }
                Op::ApiKey { id, record } => {
                    let mut k = vec![b'K'];
                    k.extend_from_slice(id.as_bytes());
                    match record {
                        Some(r) => batch.insert(k, r),
                        None => batch.remove(k),
                    }
                }
                Op::PutRejection { ws, a, b } => {
                    let (a, b) = if a < b { (a, b) } else { (b, a) };
                    let mut k = ws_key(b'r', &ws, Some(&a));
                    k.push(0);
                    k.extend_from_slice(b.as_bytes());
                    batch.insert(k, &b""[..]);
                }
            }
        }
        if let Some(first) = first_new {
            self.keys
                .create(first, (w.next_slot - first) as usize)
                .map_err(StoreError::from)?;
            self.keys_dirty.store(true, Ordering::Release);
            batch.insert(&b"mslot"[..], &w.next_slot.to_be_bytes()[..]);
        }
        for (k, slot, plain) in to_seal {
            batch.insert(k, self.keys.seal(slot, &plain).map_err(StoreError::from)?);
        }
        if !logged.is_empty() {
            batch.insert(&log_key(seq)[..], encode(&LogEntry { c: logged }));
        }
        batch.insert(&b"mseq"[..], &seq.to_be_bytes()[..]);
        self.db.apply_batch(batch).map_err(StoreError::from)?;
        w.seq = seq;
        self.applied.store(seq, Ordering::Release);
        if !changed.is_empty() {
            if let Some(tx) = &w.listener {
                // A closed listener means the indexer stopped; the change log still has it.
                let _ = tx.send(ChangeSet { seq, contacts: changed });
            }
        }
        Ok((r, seq))
    }

    /// Blocks until every batch up to `seq` is on disk. Concurrent callers share one flush.
    pub fn wait_durable(&self, seq: u64) -> Result<()> {
        if self.durable.load(Ordering::Acquire) >= seq {
            return Ok(());
        }
        let _g = self.flush_lock.lock().map_err(|_| StoreError::Closed)?;
        if self.durable.load(Ordering::Acquire) >= seq {
            return Ok(());
        }
        let upto = self.applied.load(Ordering::Acquire);
        if self.keys_dirty.swap(false, Ordering::AcqRel) {
            if let Err(e) = self.keys.sync() {
                self.keys_dirty.store(true, Ordering::Release);
                return Err(e.into());
            }
        }
        self.db.flush()?;
        self.durable.fetch_max(upto, Ordering::AcqRel);
        Ok(())
    }

    /// Flushes everything applied so far.
    pub fn flush(&self) -> Result<()> {
        self.wait_durable(self.last_seq())
    }

    /// Flushes sled even when every sequence is durable already: the change-log trim after
    /// the last index commit writes no sequence (at shutdown; else sled drops it at the next
    /// start, and the trimmed entries are trimmed again then).
    pub fn sync(&self) -> Result<()> {
        let _g = self.flush_lock.lock().map_err(|_| StoreError::Closed)?;
        self.db.flush()?;
        Ok(())
    }

    pub fn settings(&self, ws: &str) -> Result<Option<WorkspaceSettings>> {
        let k = ws_key(b'w', ws, None);
        self.db.get(&k)?.map(|v| decode(&k, &v)).transpose()
    }

    /// Whether the workspace has been created (by its first write).
    pub fn workspace_exists(&self, ws: &str) -> Result<bool> {
        Ok(self.db.contains_key(ws_key(b'w', ws, None))?)
    }

    /// All workspaces.
    pub fn workspaces(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for kv in self.db.scan_prefix(b"w") {
            let (k, _) = kv?;
            out.push(String::from_utf8_lossy(&k[1..]).into_owned());
        }
        Ok(out)
    }

    pub fn fields(&self, ws: &str) -> Result<Vec<FieldDef>> {
        let mut p = ws_key(b'f', ws, None);
        p.push(0);
        let mut out = Vec::new();
        for kv in self.db.scan_prefix(&p) {
            let (k, v) = kv?;
            out.push(decode(&k, &v)?);
        }
        Ok(out)
    }

    /// Whether a contact exists (no decoding).
    pub fn contact_exists(&self, ws: &str, id: &str) -> Result<bool> {
        Ok(self.db.contains_key(ws_key(b'c', ws, Some(id)))?)
    }

    pub fn contact(&self, ws: &str, id: &str) -> Result<Option<Contact>> {
        let k = ws_key(b'c', ws, Some(id));
        self.db.get(&k)?.map(|v| self.unseal_contact(&k, &v)).transpose()
    }

    /// Opens a sealed contact record and decodes its JSON (past a create entry it carries).
    fn unseal_contact(&self, key: &[u8], v: &[u8]) -> Result<Contact> {
        decode(key, split_birth(&self.open_record(key, v)?).1)
    }

    /// Opens a sealed record and decodes its JSON.
    fn unseal<T: for<'de> Deserialize<'de>>(&self, key: &[u8], v: &[u8]) -> Result<T> {
        decode(key, &self.open_record(key, v)?)
    }

    /// Opens a sealed (or plain) record's bytes; `key` names it in the error.
    fn open_record(&self, key: &[u8], v: &[u8]) -> Result<Vec<u8>> {
        self.keys.open_value(v).map_err(|e| StoreError::Decode {
            key: String::from_utf8_lossy(key).replace('\0', "/"),
            message: e.to_string(),
        })
    }

    /// Iterates a workspace's contacts in id order.
    pub fn contacts(&self, ws: &str) -> impl Iterator<Item = Result<Contact>> + '_ {
        let mut p = ws_key(b'c', ws, None);
        p.push(0);
        self.db.scan_prefix(&p).map(|kv| {
            let (k, v) = kv?;
            self.unseal_contact(&k, &v)
        })
    }

    /// Number of contacts in a workspace (a key scan; no values decoded).
    pub fn count_contacts(&self, ws: &str) -> Result<usize> {
        let mut p = ws_key(b'c', ws, None);
        p.push(0);
        let mut n = 0;
        for k in self.db.scan_prefix(&p).keys() {
            k?;
            n += 1;
        }
        Ok(n)
    }

    /// Iterates a workspace's contacts as stored bytes (decode with [`Store::decode_contact`]),
    /// so callers can decode in parallel.
    pub fn contacts_raw(&self, ws: &str) -> impl Iterator<Item = Result<sled::IVec>> + '_ {
        let mut p = ws_key(b'c', ws, None);
        p.push(0);
        self.db.scan_prefix(&p).values().map(|v| Ok(v?))
    }

    /// Decodes a contact read by [`Store::contacts_raw`].
    pub fn decode_contact(&self, raw: &[u8]) -> Result<Contact> {
        self.unseal_contact(b"c", raw)
    }

    /// Iterates every contact of every workspace as (workspace, contact).
    pub fn all_contacts(&self) -> impl Iterator<Item = Result<(String, Contact)>> + '_ {
        self.db.scan_prefix(b"c").map(|kv| {
            let (k, v) = kv?;
            let rest = &k[1..];
            let ws_end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            let ws = String::from_utf8_lossy(&rest[..ws_end]).into_owned();
            Ok((ws, self.unseal_contact(&k, &v)?))
        })
    }

    /// An API key record (JSON).
    pub fn api_key(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let mut k = vec![b'K'];
        k.extend_from_slice(id.as_bytes());
        Ok(self.db.get(k)?.map(|v| v.to_vec()))
    }

    /// Every API key record (JSON).
    pub fn api_keys(&self) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for kv in self.db.scan_prefix(b"K") {
            out.push(kv?.1.to_vec());
        }
        Ok(out)
    }

    /// The secret that signs agent tokens (made on first use; kept in the store).
    pub fn token_secret(&self) -> Result<Vec<u8>> {
        if let Some(v) = self.db.get(b"mtoken")? {
            return Ok(v.to_vec());
        }
        use rand::RngCore;
        let mut s = vec![0u8; 32];
        rand::rng().fill_bytes(&mut s);
        // first writer wins, so concurrent first uses agree
        let _ = self
            .db
            .compare_and_swap(b"mtoken", None as Option<&[u8]>, Some(s.as_slice()))?;
        self.db.flush()?;
        Ok(self.db.get(b"mtoken")?.map(|v| v.to_vec()).unwrap_or(s))
    }

    /// Where a merged-away id points (alias record JSON).
    pub fn alias(&self, ws: &str, id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(ws_key(b'a', ws, Some(id)))?.map(|v| v.to_vec()))
    }

    /// A merge record (JSON).
    pub fn merge_record(&self, ws: &str, merge_id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(ws_key(b'g', ws, Some(merge_id)))?.map(|v| v.to_vec()))
    }

    /// Every merge record of a workspace (JSON), in merge id order.
    pub fn merge_records(&self, ws: &str) -> impl Iterator<Item = Result<Vec<u8>>> + '_ {
        let mut p = ws_key(b'g', ws, None);
        p.push(0);
        self.db.scan_prefix(&p).values().map(|v| Ok(v?.to_vec()))
    }

    /// The contact as it was before a merge (JSON), if still held.
    pub fn snapshot(&self, ws: &str, id: &str, merge_id: &str) -> Result<Option<serde_json::Value>> {
        let k = sub_key(b's', ws, id, merge_id.as_bytes());
        self.db.get(&k)?.map(|v| self.unseal(&k, &v)).transpose()
    }

    /// A contact's history, newest first: up to `limit` entries before position `before`.
    pub fn history(&self, ws: &str, id: &str, before: Option<[u8; 12]>, limit: usize) -> Result<Vec<HistoryItem>> {
        let carried = self.stored_birth(ws, id)?;
        let mut p = ws_key(b'h', ws, Some(id));
        p.push(0);
        let mut end = p.clone();
        match before {
            Some(b) => end.extend_from_slice(&b),
            None => end.extend_from_slice(&[0xff; 13]),
        }
        let mut out = Vec::new();
        for kv in self.db.range(p.clone()..end).rev() {
            if out.len() >= limit {
                break;
            }
            let (k, v) = kv?;
            let Some(pos) = k.get(p.len()..).and_then(|r| <[u8; 12]>::try_from(r).ok()) else {
                continue;
            };
            let entry = self.open_record(&k, &v)?;
            out.push(HistoryItem { pos, entry });
        }
        // the create entry, when the contact's record carried it (read before the history
        // records: a write in between moves it there, and the position check drops the copy)
        if let Some(b) = carried {
            if before.is_none_or(|before| b.pos < before) && !out.iter().any(|it| it.pos == b.pos) {
                out.push(HistoryItem {
                    pos: b.pos,
                    entry: b.entry,
                });
                out.sort_by_key(|it| std::cmp::Reverse(it.pos));
                out.truncate(limit);
            }
        }
        Ok(out)
    }

    /// The workspace's duplicate proposals (raw JSON), in order.
    pub fn proposals(&self, ws: &str) -> Result<Vec<Vec<u8>>> {
        let mut p = ws_key(b'x', ws, None);
        p.push(0);
        let mut out = Vec::new();
        for kv in self.db.scan_prefix(&p) {
            out.push(kv?.1.to_vec());
        }
        Ok(out)
    }

    /// The workspace's rejected pairs, each as (smaller id, larger id).
    pub fn rejections(&self, ws: &str) -> Result<std::collections::HashSet<(String, String)>> {
        let mut p = ws_key(b'r', ws, None);
        p.push(0);
        let mut out = std::collections::HashSet::new();
        for kv in self.db.scan_prefix(&p) {
            let (k, _) = kv?;
            let rest = &k[p.len()..];
            if let Some(pos) = rest.iter().position(|b| *b == 0) {
                out.insert((
                    String::from_utf8_lossy(&rest[..pos]).into_owned(),
                    String::from_utf8_lossy(&rest[pos + 1..]).into_owned(),
                ));
            }
        }
        Ok(out)
    }

    /// Change-log entries after `seq`, in order: (sequence, [(ws, id)]).
    pub fn log_since(&self, seq: u64) -> impl Iterator<Item = Result<(u64, Vec<(String, String)>)>> + '_ {
        let start = log_key(seq.saturating_add(1));
        let end = [b'm'];
        self.db.range(start.to_vec()..end.to_vec()).map(|kv| {
            let (k, v) = kv?;
            let mut b = [0u8; 8];
            b.copy_from_slice(&k[1..9]);
            let e: LogEntry = decode(&k, &v)?;
            Ok((u64::from_be_bytes(b), e.c))
        })
    }

    /// Removes change-log entries up to and including `seq` (call only after an index commit
    /// that covers them).
    pub fn trim_log(&self, seq: u64) -> Result<usize> {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for kv in self
            .db
            .range(log_key(0).to_vec()..log_key(seq.saturating_add(1)).to_vec())
        {
            let (k, _) = kv?;
            batch.remove(k);
            n += 1;
        }
        if n > 0 {
            self.db.apply_batch(batch)?;
        }
        Ok(n)
    }

    /// Bytes sled reports on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Contact;
    use chrono::Utc;

    fn contact(id: &str) -> Arc<Contact> {
        Arc::new(Contact {
            id: id.into(),
            name: Some(format!("name {id}")),
            phones: vec![],
            emails: vec![],
            tags: vec![],
            custom: Default::default(),
            source: None,
            status: None,
            photo_url: None,
            created_at: Utc::now(),
            created_by: None,
            last_interaction_at: None,
            updated_at: Utc::now(),
        })
    }

    #[test]
    fn commit_log_and_trim() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("store"), 16).unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        s.set_listener(tx);
        for i in 0..3 {
            let ((), seq) = s
                .commit::<_, StoreError>(|_| {
                    Ok((
                        vec![Op::PutContact {
                            ws: "a".into(),
                            contact: contact(&format!("c{i}")),
                            fresh: true,
                            birth: None,
                        }],
                        (),
                    ))
                })
                .unwrap();
            s.wait_durable(seq).unwrap();
        }
        assert_eq!(rx.try_iter().map(|c| c.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(s.log_since(1).count(), 2);
        s.trim_log(2).unwrap();
        let left: Vec<u64> = s.log_since(0).map(|e| e.unwrap().0).collect();
        assert_eq!(left, vec![3]);
        assert_eq!(s.contacts("a").count(), 3);
        assert_eq!(s.contacts("b").count(), 0);
        drop(s);
        let s = Store::open(&dir.path().join("store"), 16).unwrap();
        assert_eq!(s.last_seq(), 3);
        assert!(s.contact("a", "c1").unwrap().is_some());
    }

    fn entries(s: &Store, id: &str) -> Vec<String> {
        s.history("a", id, None, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|it| String::from_utf8(it.entry).unwrap())
            .collect()
    }

    fn put(s: &Store, ops: Vec<Op>) -> u64 {
        s.commit::<_, StoreError>(|_| Ok((ops, ()))).unwrap().1
    }

    fn put_op(id: &str, fresh: bool, birth: Option<&str>) -> Op {
        Op::PutContact {
            ws: "a".into(),
            contact: contact(id),
            fresh,
            birth: birth.map(|b| b.as_bytes().to_vec()),
        }
    }

    fn erase_op(id: &str, entry: &str) -> Op {
        Op::Erase {
            ws: "a".into(),
            id: id.into(),
            entry: entry.as_bytes().to_vec(),
        }
    }

    fn history_op(id: &str, entry: &str) -> Op {
        Op::History {
            ws: "a".into(),
            id: id.into(),
            entry: entry.as_bytes().to_vec(),
        }
    }

    /// A create entry carried in the contact record reads like any other history entry, and
    /// outlives the record: an update or a delete turns it into a history record; paging
    /// sees it in place; erasure removes it.
    #[test]
    fn a_create_entry_inside_the_record_is_history() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("store"), 16).unwrap();
        put(&s, vec![put_op("x", true, Some("create"))]);
        assert_eq!(entries(&s, "x"), vec!["create"]);
        assert_eq!(s.contact("a", "x").unwrap().map(|c| c.id), Some("x".to_string()));
        assert_eq!(s.contacts("a").count(), 1);
        // an update turns it into a record of its own
        put(&s, vec![history_op("x", "update 1"), put_op("x", false, None)]);
        put(&s, vec![history_op("x", "update 2"), put_op("x", false, None)]);
        assert_eq!(entries(&s, "x"), vec!["update 2", "update 1", "create"]);
        let page = s.history("a", "x", None, 2).unwrap();
        assert_eq!(page.len(), 2);
        let rest = s.history("a", "x", Some(page[1].pos), 10).unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].entry, b"create");

        // carried, then paged: the newest first, the create entry last
        put(&s, vec![put_op("y", true, Some("create y"))]);
        put(&s, vec![history_op("y", "tagged"), put_op("y", false, None)]);
        put(&s, vec![put_op("z", true, Some("create z"))]);
        assert_eq!(entries(&s, "z"), vec!["create z"]);
        let first = s.history("a", "z", None, 1).unwrap();
        assert!(s.history("a", "z", Some(first[0].pos), 5).unwrap().is_empty());

        // deleted: the entry stays as history
        put(
            &s,
            vec![
                history_op("z", "delete"),
                Op::DeleteContact {
                    ws: "a".into(),
                    id: "z".into(),
                },
            ],
        );
        assert!(s.contact("a", "z").unwrap().is_none());
        assert_eq!(entries(&s, "z"), vec!["delete", "create z"]);

        // written twice in one batch: both entries kept
        put(
            &s,
            vec![
                put_op("w", true, Some("create w")),
                history_op("w", "create w again"),
                put_op("w", false, None),
            ],
        );
        assert_eq!(entries(&s, "w"), vec!["create w again", "create w"]);

        // survives a restart
        drop(s);
        let s = Store::open(&dir.path().join("store"), 16).unwrap();
        assert_eq!(entries(&s, "y"), vec!["tagged", "create y"]);

        // erased: nothing but the erasure marker
        put(&s, vec![erase_op("y", "erased")]);
        assert_eq!(entries(&s, "y"), vec!["erased"]);
        put(&s, vec![put_op("v", true, Some("create v"))]);
        put(&s, vec![erase_op("v", "erased v")]);
        assert_eq!(entries(&s, "v"), vec!["erased v"]);
    }

    #[test]
    fn a_v2_store_opens_and_is_marked_v3() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let s = Store::open(&path, 16).unwrap();
        put(&s, vec![put_op("x", true, None)]);
        s.db.insert(b"mformat", FORMAT_V2).unwrap();
        s.db.flush().unwrap();
        drop(s);
        let s = Store::open(&path, 16).unwrap();
        assert_eq!(s.db.get(b"mformat").unwrap().as_deref(), Some(FORMAT));
        assert!(s.contact("a", "x").unwrap().is_some());
        s.db.insert(b"mformat", &b"contactdex-store-v9"[..]).unwrap();
        s.db.flush().unwrap();
        drop(s);
        assert!(matches!(Store::open(&path, 16), Err(StoreError::Corrupt { .. })));
    }

    #[test]
    fn a_foreign_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("something"), b"x").unwrap();
        match Store::open(dir.path(), 16) {
            Err(StoreError::Corrupt { .. }) => {}
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("a foreign directory must be refused"),
        }
        assert!(dir.path().join("something").exists());
    }
}

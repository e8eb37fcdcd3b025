//! Per-contact encryption keys, so that erasing a contact can destroy its data for good
//! (crypto-shredding).
//!
//! sled never overwrites in place: after `remove` + `flush` the old bytes stay in its log
//! until a segment happens to be rewritten. So every stored value that holds personal data
//! (the contact, its history, merge snapshots) is sealed with AES-256-GCM under a key that
//! belongs to that contact alone, and the keys live OUTSIDE sled, in a flat file of 32-byte
//! slots that we overwrite in place. Erasure zeroes the slot and syncs the file: the sealed
//! bytes left behind in sled's files can no longer be read by anyone.
//!
//! Sealed value: `1 | slot (u64 BE) | nonce (12) | ciphertext + tag`. Plain value: `0 | bytes`.
//!
//! Crash order: new keys are written to the file (page cache) before the sled batch that
//! uses them is applied, and [`KeyFile::sync`] runs before every sled flush that
//! acknowledges writes, so an acknowledged record always has its key on disk.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::sync::RwLock;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore;

pub const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const HEADER: usize = 1 + 8 + NONCE_LEN;

/// Why a sealed value could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the value is truncated")]
    Truncated,
    #[error("unknown value tag {0}")]
    Tag(u8),
    #[error("key slot {0} does not exist")]
    NoSlot(u64),
    #[error("key slot {0} was erased")]
    Erased(u64),
    #[error("the value does not decrypt with its key (damaged)")]
    Damaged,
    #[error("key file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The key file: slot `n` is bytes `32n .. 32n+32`. All zeroes = erased (or never written).
pub struct KeyFile {
    file: File,
    path: String,
    keys: RwLock<Vec<[u8; KEY_LEN]>>,
}

impl KeyFile {
    /// Opens or creates the key file and loads every slot into memory (32 bytes per contact).
    pub fn open(path: &std::path::Path) -> Result<KeyFile, SealError> {
        let display = path.display().to_string();
        let io = |source| SealError::Io {
            path: display.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let bytes = std::fs::read(path).map_err(io)?;
        // A torn write at the very end (a crash mid-append) leaves a partial slot: it belonged
        // to a batch that was never applied, so it is ignored and overwritten.
        let keys = bytes
            .chunks_exact(KEY_LEN)
            .map(|c| {
                let mut k = [0u8; KEY_LEN];
                k.copy_from_slice(c);
                k
            })
            .collect();
        Ok(KeyFile {
            file,
            path: display,
            keys: RwLock::new(keys),
        })
    }

    fn io(&self, source: std::io::Error) -> SealError {
        SealError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Number of slots in the file.
    pub fn len(&self) -> u64 {
        self.keys.read().map(|k| k.len() as u64).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes room for slots up to `n` (zero keys; used when the file is shorter than the
    /// store's slot counter after a crash).
    pub fn ensure_len(&self, n: u64) {
        if let Ok(mut k) = self.keys.write() {
            while (k.len() as u64) < n {
                k.push([0u8; KEY_LEN]);
            }
        }
    }

    /// Writes fresh random keys for slots `first .. first + count` (one write call). The
    /// caller owns that slot range (it holds the store's write lock).
    pub fn create(&self, first: u64, count: usize) -> Result<(), SealError> {
        if count == 0 {
            return Ok(());
        }
        let mut buf = vec![0u8; count * KEY_LEN];
        rand::rng().fill_bytes(&mut buf);
        self.file
            .write_all_at(&buf, first * KEY_LEN as u64)
            .map_err(|e| self.io(e))?;
        let mut keys = self.keys.write().map_err(|_| SealError::Damaged)?;
        let need = (first as usize) + count;
        if keys.len() < need {
            keys.resize(need, [0u8; KEY_LEN]);
        }
        for (i, c) in buf.chunks_exact(KEY_LEN).enumerate() {
            keys[first as usize + i].copy_from_slice(c);
        }
        Ok(())
    }

    /// Destroys a key: zeroes it in memory and in the file. Call [`KeyFile::sync`] after.
    pub fn shred(&self, slot: u64) -> Result<(), SealError> {
        if let Ok(mut keys) = self.keys.write() {
            if let Some(k) = keys.get_mut(slot as usize) {
                *k = [0u8; KEY_LEN];
            }
        }
        self.file
            .write_all_at(&[0u8; KEY_LEN], slot * KEY_LEN as u64)
            .map_err(|e| self.io(e))
    }

    /// Forces the key file to disk.
    pub fn sync(&self) -> Result<(), SealError> {
        self.file.sync_data().map_err(|e| self.io(e))
    }

    fn cipher(&self, slot: u64) -> Result<Aes256Gcm, SealError> {
        let keys = self.keys.read().map_err(|_| SealError::Damaged)?;
        let k = keys.get(slot as usize).ok_or(SealError::NoSlot(slot))?;
        if k.iter().all(|b| *b == 0) {
            return Err(SealError::Erased(slot));
        }
        Ok(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(k)))
    }

    /// Seals `plain` under the key in `slot`.
    pub fn seal(&self, slot: u64, plain: &[u8]) -> Result<Vec<u8>, SealError> {
        let cipher = self.cipher(slot)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), plain)
            .map_err(|_| SealError::Damaged)?;
        let mut out = Vec::with_capacity(HEADER + ct.len());
        out.push(1);
        out.extend_from_slice(&slot.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens a sealed or plain value.
    pub fn open_value(&self, v: &[u8]) -> Result<Vec<u8>, SealError> {
        match v.first() {
            Some(0) => Ok(v[1..].to_vec()),
            Some(1) => {
                if v.len() < HEADER {
                    return Err(SealError::Truncated);
                }
                let slot = slot_of(v).ok_or(SealError::Truncated)?;
                let cipher = self.cipher(slot)?;
                cipher
                    .decrypt(Nonce::from_slice(&v[9..HEADER]), &v[HEADER..])
                    .map_err(|_| SealError::Damaged)
            }
            Some(t) => Err(SealError::Tag(*t)),
            None => Err(SealError::Truncated),
        }
    }
}

/// A plain (unsealed) value.
pub fn plain(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 1);
    out.push(0);
    out.extend_from_slice(bytes);
    out
}

/// The key slot a sealed value names.
pub fn slot_of(v: &[u8]) -> Option<u64> {
    if v.first() != Some(&1) || v.len() < 9 {
        return None;
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(&v[1..9]);
    Some(u64::from_be_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_shred() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let kf = KeyFile::open(&path).unwrap();
        kf.create(0, 3).unwrap();
        let sealed = kf.seal(1, b"Maria Qzxv").unwrap();
        assert!(
            !sealed.windows(4).any(|w| w == b"Qzxv"),
            "ciphertext must not hold the plaintext"
        );
        assert_eq!(kf.open_value(&sealed).unwrap(), b"Maria Qzxv");
        assert_eq!(kf.open_value(&plain(b"x")).unwrap(), b"x");
        kf.sync().unwrap();
        drop(kf);
        // keys survive a reopen
        let kf = KeyFile::open(&path).unwrap();
        assert_eq!(kf.len(), 3);
        assert_eq!(kf.open_value(&sealed).unwrap(), b"Maria Qzxv");
        kf.shred(1).unwrap();
        kf.sync().unwrap();
        assert!(matches!(kf.open_value(&sealed), Err(SealError::Erased(1))));
        drop(kf);
        let kf = KeyFile::open(&path).unwrap();
        assert!(matches!(kf.open_value(&sealed), Err(SealError::Erased(1))));
        // other slots are untouched
        let s0 = kf.seal(0, b"other").unwrap();
        assert_eq!(kf.open_value(&s0).unwrap(), b"other");
    }

    #[test]
    fn tampered_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let kf = KeyFile::open(&dir.path().join("keys")).unwrap();
        kf.create(0, 1).unwrap();
        let mut sealed = kf.seal(0, b"hello").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(matches!(kf.open_value(&sealed), Err(SealError::Damaged)));
        assert!(matches!(kf.open_value(&[1, 0, 0]), Err(SealError::Truncated)));
        assert!(matches!(kf.open_value(&[7]), Err(SealError::Tag(7))));
        let mut other_slot = kf.seal(0, b"x").unwrap();
        other_slot[8] = 9;
        assert!(matches!(kf.open_value(&other_slot), Err(SealError::NoSlot(9))));
    }
}

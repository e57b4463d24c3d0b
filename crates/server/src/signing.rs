//! The log's signing keys over time (CONTRACT section 3, checkpoints; section 7,
//! `evident keys rotate-signing`): the history of verifier keys kept with the log,
//! the private keys a signing process holds, and the rotation's files.
//!
//! **History.** The store's `meta` keeps [`META_SIGNING_KEYS`], the list of the log's
//! verifier keys with the tree size from which each signs. A log never rotated has no
//! such row: its one key is [`crate::datadir::META_VERIFIER_KEY`], from size 0. A
//! rotation appends its `key_change` event and rewrites this row (and the current
//! verifier key) in one transaction, so the row cannot name a key the log does not
//! announce. The event's `seq` is not known before that transaction, so the row names
//! the announcing event by `event_id`, and the size is resolved on reading:
//!
//! **Where a key takes over.** The entry announcing a new key at `seq` S is covered by
//! a checkpoint of size S + 1 signed with the *old* key: that checkpoint is the old
//! key's last word, vouching for its successor. The new key signs from size S + 2. So
//! a verifier who trusts the first key trusts every later one, through the log itself.
//! The checkpointer signs size S + 1 before any larger size
//! ([`crate::checkpointer::sign_if_grown`]).
//!
//! **Files.** The private key lives in `FILE` (`<data>/secrets/signing.key`, or
//! `--signing-key-file`). A rotation writes the new key durably to `FILE.next` before
//! it commits anything; once the log records the new key and the old key's last
//! checkpoint (size S + 1) is stored, `FILE.next` is renamed over `FILE`: the old
//! private key is gone, as it is no longer needed (old checkpoints are checked with
//! verifier keys, which the log keeps). A crash at any step leaves a state the next
//! process completes: a `FILE.next` the log does not name is discarded by the next
//! rotation; one it names is used, and renamed once its turn has come.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use evident_core::verify::VerifierKeys;
use evident_store::{Store, StoreError};
use evident_tlog::LogSigner;
use serde::{Deserialize, Serialize};

use crate::datadir::META_VERIFIER_KEY;

/// The `meta` row holding the history of verifier keys (JSON, see [`KeyRecord`]).
pub const META_SIGNING_KEYS: &str = "signing_keys";

/// One verifier key of the history, as `meta` keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub verifier_key: String,
    /// The tree size from which it signs: 0 for the first key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_size: Option<u64>,
    /// The `event_id` of the `key_change` entry announcing it; it signs from that
    /// entry's `seq` + 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announced_by: Option<String>,
}

/// A verifier key with where it takes over, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInForce {
    pub verifier_key: String,
    pub from_size: u64,
    /// The `seq` of the entry announcing it (none for the first key).
    pub announced_at: Option<u64>,
}

/// Why the history of signing keys cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("the store has no verifier key; was it initialised?")]
    Uninitialised,
    #[error("the signing-key history is damaged: {0}")]
    Damaged(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The raw history row, or the one-key history of a log never rotated.
async fn records(store: &dyn Store) -> Result<Vec<KeyRecord>, HistoryError> {
    if let Some(raw) = store.get_meta(META_SIGNING_KEYS).await? {
        return serde_json::from_str(&raw).map_err(|e| HistoryError::Damaged(e.to_string()));
    }
    let key = store
        .get_meta(META_VERIFIER_KEY)
        .await?
        .ok_or(HistoryError::Uninitialised)?;
    Ok(vec![KeyRecord {
        verifier_key: key,
        from_size: Some(0),
        announced_by: None,
    }])
}

/// The log's verifier keys, oldest first, each with the size from which it signs.
///
/// # Errors
/// The store is not initialised, or the history names an announcing entry the log
/// does not hold.
pub async fn history(store: &dyn Store) -> Result<Vec<KeyInForce>, HistoryError> {
    let mut keys = Vec::new();
    for record in records(store).await? {
        let (from_size, announced_at) = match (&record.announced_by, record.from_size) {
            (Some(event_id), _) => {
                let entry = store.entry_by_event_id(event_id).await?.ok_or_else(|| {
                    HistoryError::Damaged(format!(
                        "the entry {event_id} announcing {} is missing",
                        record.verifier_key
                    ))
                })?;
                (entry.seq + 2, Some(entry.seq))
            }
            (None, Some(from)) => (from, None),
            (None, None) => {
                return Err(HistoryError::Damaged(format!(
                    "{} has neither a size nor an announcement",
                    record.verifier_key
                )))
            }
        };
        keys.push(KeyInForce {
            verifier_key: record.verifier_key,
            from_size,
            announced_at,
        });
    }
    Ok(keys)
}

/// The history as the pure verifier takes it.
///
/// # Errors
/// Those of [`history`]; a history that does not start at size 0.
pub async fn verifier_keys(store: &dyn Store) -> Result<VerifierKeys, HistoryError> {
    let history = history(store).await?;
    VerifierKeys::new(
        history
            .into_iter()
            .map(|k| (k.from_size, k.verifier_key))
            .collect(),
    )
    .map_err(HistoryError::Damaged)
}

/// The history row after a rotation to `new_key`, announced by `event_id`.
///
/// # Errors
/// The current history cannot be read.
pub async fn rotated_records(
    store: &dyn Store,
    new_key: &str,
    event_id: &str,
) -> Result<String, HistoryError> {
    let mut records = records(store).await?;
    records.push(KeyRecord {
        verifier_key: new_key.to_owned(),
        from_size: None,
        announced_by: Some(event_id.to_owned()),
    });
    serde_json::to_string(&records).map_err(|e| HistoryError::Damaged(e.to_string()))
}

/// Where a rotation puts the new private key until it takes over: `FILE.next`.
pub fn next_key_file(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".next");
    PathBuf::from(name)
}

/// The private keys a signing process holds, by verifier key. A key rotated in by
/// another process (`evident keys rotate-signing` while `serve` runs) is read from
/// its file the first time a checkpoint needs it.
pub struct Signers {
    key_file: PathBuf,
    origin: String,
    loaded: Mutex<Vec<LogSigner>>,
}

impl Signers {
    /// Holds `first`, and reads further keys from `key_file` and `key_file.next`.
    pub fn new(key_file: PathBuf, first: LogSigner) -> Self {
        Self {
            key_file,
            origin: first.name().to_owned(),
            loaded: Mutex::new(vec![first]),
        }
    }

    /// The file the signing key lives in.
    pub fn key_file(&self) -> &Path {
        &self.key_file
    }

    /// The private key of `verifier_key`, reading the key files if it is not held
    /// yet; `None` if neither file holds it (this process cannot sign those sizes).
    pub fn for_key(&self, verifier_key: &str) -> Option<LogSigner> {
        let held = |loaded: &Vec<LogSigner>| {
            loaded
                .iter()
                .find(|s| s.verifier_key() == verifier_key)
                .cloned()
        };
        if let Some(signer) = held(&*self.loaded.lock().ok()?) {
            return Some(signer);
        }
        // `.next` first: a rotation renames it over the key file, so reading them in
        // this order never misses a key that moves in between.
        for path in [next_key_file(&self.key_file), self.key_file.clone()] {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(signer) = LogSigner::new(text.trim()) else {
                tracing::warn!(file = %path.display(), "unreadable signing key file");
                continue;
            };
            if signer.verifier_key() == verifier_key && signer.name() == self.origin {
                let mut loaded = self.loaded.lock().ok()?;
                loaded.push(signer.clone());
                return Some(signer);
            }
        }
        None
    }
}

/// Finishes a rotation once the new key has taken over: if `FILE.next` holds the
/// newest key of `history` and a checkpoint of `latest_size` covers its announcement
/// (the old key's last checkpoint is stored), renames it over `FILE` (the old key is
/// no longer needed) and syncs the directory. Does nothing otherwise.
///
/// # Errors
/// I/O errors renaming.
pub fn promote_next_key(
    key_file: &Path,
    history: &[KeyInForce],
    latest_size: u64,
) -> std::io::Result<bool> {
    let Some(newest) = history.last() else {
        return Ok(false);
    };
    if newest.from_size == 0 || latest_size + 1 < newest.from_size {
        return Ok(false);
    }
    let next = next_key_file(key_file);
    let holds_newest = std::fs::read_to_string(&next)
        .ok()
        .and_then(|text| LogSigner::new(text.trim()).ok())
        .is_some_and(|s| s.verifier_key() == newest.verifier_key);
    if !holds_newest {
        return Ok(false);
    }
    match std::fs::rename(&next, key_file) {
        Ok(()) => {}
        // Another process promoted it first.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    }
    if let Some(dir) = key_file.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    tracing::info!(verifier_key = %newest.verifier_key, "the rotated signing key took over");
    Ok(true)
}

/// The key of `history` in force at `size`.
pub fn key_for_size(history: &[KeyInForce], size: u64) -> Option<&KeyInForce> {
    history.iter().rev().find(|k| k.from_size <= size)
}

/// The size the checkpointer signs next, given the latest checkpoint's size and the
/// tree head's: the head, unless a key takes over in between; then first the old
/// key's last size (the new key's `from_size` - 1), which covers the announcement.
pub fn next_size_to_sign(history: &[KeyInForce], latest: Option<u64>, head: u64) -> u64 {
    history
        .iter()
        .filter(|k| k.from_size > 0)
        .map(|k| k.from_size - 1)
        .filter(|last_of_old| latest.is_none_or(|l| *last_of_old > l) && *last_of_old <= head)
        .min()
        .unwrap_or(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(from_size: u64, name: &str) -> KeyInForce {
        KeyInForce {
            verifier_key: name.into(),
            from_size,
            announced_at: from_size.checked_sub(2),
        }
    }

    #[test]
    fn the_old_keys_last_size_is_signed_before_the_head() {
        let history = vec![key(0, "a"), key(12, "b"), key(20, "c")];
        assert_eq!(next_size_to_sign(&history, Some(5), 30), 11);
        assert_eq!(next_size_to_sign(&history, None, 30), 11);
        assert_eq!(next_size_to_sign(&history, Some(11), 30), 19);
        assert_eq!(next_size_to_sign(&history, Some(19), 30), 30);
        assert_eq!(next_size_to_sign(&history, Some(11), 15), 15);
        assert_eq!(next_size_to_sign(&[key(0, "a")], Some(3), 9), 9);
        assert_eq!(key_for_size(&history, 11).unwrap().verifier_key, "a");
        assert_eq!(key_for_size(&history, 12).unwrap().verifier_key, "b");
        assert_eq!(key_for_size(&history, 25).unwrap().verifier_key, "c");
    }
}

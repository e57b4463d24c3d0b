//! The vault and the content store's keys (CONTRACT section 2).
//!
//! Every subject has one data key (the log has a default key for events without a
//! subject); blobs and vault values are sealed under it with XChaCha20-Poly1305, and
//! the data key is stored wrapped by the master key. Erasing a subject destroys its
//! data keys: its blobs and values become ciphertext nobody can open.
//!
//! Unwrapped keys are cached for at most [`KEY_CACHE_TTL`], so an erasure made by
//! another process stops every server from reading within that time; the process
//! that erases forgets the keys at once.
//!
//! Declared identifiers remembered for a subject (CONTRACT section 2) are sealed
//! under its key too; the opened values are cached per subject token the same way
//! (at most [`KEY_CACHE_TTL`], forgotten at once by the erasing process), negative
//! answers included, so an event whose subject has nothing remembered costs one
//! cache hit. With several servers on one database, identifiers another server
//! remembered are seen within that TTL.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use evident_core::blob::{BlobRef, NewBlob};
use evident_core::crypto::{blob_aad, vault_aad, SecretKey};
use evident_core::record::PreparedEvent;
use evident_store::{
    DataKey, Effect, EventToAppend, SealedBlob, SealedIdentifier, SealedValue, Store, StoreError,
    StoredBlob,
};
use rand::RngCore;

/// How long an unwrapped key is trusted without asking the store.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(1);

/// Subjects whose remembered identifiers are cached at most; the cache is emptied
/// when full (every entry lives [`KEY_CACHE_TTL`] at most anyway), so memory stays
/// bounded whatever the number of subjects.
pub const IDENTIFIER_CACHE_SUBJECTS: usize = 4_096;

/// What the events of one request have sealed so far, by data key: a subject's
/// events repeat its identifiers, so most of their vault values and remembered
/// identifiers were sealed by an earlier one. Each event still carries its own copy
/// (the same bytes: same plaintext, nonce and key), since an event that turns out to
/// be a duplicate stores nothing and none may rely on another's rows. It holds no
/// plaintext, and lives as long as the request.
#[derive(Default)]
pub struct SealedHere {
    /// By key id and token.
    values: HashMap<(String, String), Vec<u8>>,
    /// By key id, subject and value hash.
    identifiers: HashMap<(String, String, Vec<u8>), Vec<u8>>,
}

/// A subject's remembered identifiers, opened: `(kind, value)` pairs.
pub type Remembered = Arc<Vec<(String, String)>>;

/// The associated data a remembered identifier is sealed with: its subject and its
/// token, so a row moved to another subject or kind does not open.
fn identifier_aad(subject: &str, token: &[u8]) -> Vec<u8> {
    [
        b"evident/identifier\0".as_slice(),
        subject.as_bytes(),
        b"\0",
        token,
    ]
    .concat()
}

/// The subject name of the log's default key.
pub const DEFAULT_SUBJECT: &str = "";

/// A blob's content, or the fact that it was crypto-shredded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobContent {
    Readable {
        salt: [u8; 32],
        bytes: Vec<u8>,
    },
    /// Its data key was destroyed (erasure).
    Erased,
}

/// A data key ready to use.
#[derive(Clone)]
pub struct ActiveKey {
    pub key_id: String,
    pub key: SecretKey,
}

/// The master key and its epoch (incremented by each rotation).
#[derive(Clone)]
pub struct MasterKey {
    pub key: SecretKey,
    pub epoch: u32,
}

/// Seals and opens with per-subject keys.
pub struct Vault {
    store: Arc<dyn Store>,
    master: std::sync::RwLock<MasterKey>,
    /// Where the master key is read from, so a rotation made by another process
    /// (`evident keys rotate-master` while serving) is picked up.
    master_file: Option<std::path::PathBuf>,
    by_id: Mutex<HashMap<String, (Instant, Option<SecretKey>)>>,
    by_subject: Mutex<HashMap<String, (Instant, ActiveKey)>>,
    identifiers: Mutex<HashMap<String, (Instant, Remembered)>>,
}

fn fresh<T: Clone>(entry: Option<&(Instant, T)>) -> Option<T> {
    entry
        .filter(|(at, _)| at.elapsed() < KEY_CACHE_TTL)
        .map(|(_, v)| v.clone())
}

impl Vault {
    pub fn new(
        store: Arc<dyn Store>,
        master: MasterKey,
        master_file: Option<std::path::PathBuf>,
    ) -> Self {
        Self {
            store,
            master: std::sync::RwLock::new(master),
            master_file,
            by_id: Mutex::new(HashMap::new()),
            by_subject: Mutex::new(HashMap::new()),
            identifiers: Mutex::new(HashMap::new()),
        }
    }

    pub fn master_epoch(&self) -> u32 {
        self.master().epoch
    }

    fn master(&self) -> MasterKey {
        match self.master.read() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The active key of each subject (`""` = default), created where missing.
    ///
    /// # Errors
    /// Store errors; `Corrupt` if a stored key does not unwrap with the master key.
    pub async fn active_keys(
        &self,
        subjects: &BTreeSet<String>,
    ) -> Result<HashMap<String, ActiveKey>, StoreError> {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        if let Ok(cache) = self.by_subject.lock() {
            for subject in subjects {
                match fresh(cache.get(subject)) {
                    Some(key) => {
                        found.insert(subject.clone(), key);
                    }
                    None => missing.push(subject.clone()),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let mut stored = self.store.active_data_keys(&missing).await?;
        let absent: Vec<&String> = missing
            .iter()
            .filter(|s| !stored.contains_key(*s))
            .collect();
        if !absent.is_empty() {
            let now = evident_core::time::now_utc_micros().1;
            let master = self.wrapping_master().await?;
            let new_keys: Vec<DataKey> = {
                let mut rng = rand::thread_rng();
                absent
                    .iter()
                    .map(|subject| {
                        let key_id = new_key_id(&mut rng);
                        let key = SecretKey::generate(&mut rng);
                        DataKey {
                            wrapped: master.key.wrap(&key_id, &key, &mut rng),
                            key_id,
                            subject: (*subject).clone(),
                            master_epoch: master.epoch,
                            created_micros: now,
                        }
                    })
                    .collect()
            };
            self.store.insert_data_keys(new_keys).await?;
            // Another writer may have created a key first: read back the winners.
            let absent: Vec<String> = absent.into_iter().cloned().collect();
            stored.extend(self.store.active_data_keys(&absent).await?);
        }
        for subject in missing {
            let data_key = stored.get(&subject).ok_or_else(|| {
                StoreError::Internal(format!("no data key for {subject:?} after creating one"))
            })?;
            let active = ActiveKey {
                key: self.unwrap(data_key)?,
                key_id: data_key.key_id.clone(),
            };
            if let Ok(mut cache) = self.by_subject.lock() {
                cache.insert(subject.clone(), (Instant::now(), active.clone()));
            }
            found.insert(subject, active);
        }
        Ok(found)
    }

    fn unwrap(&self, data_key: &DataKey) -> Result<SecretKey, StoreError> {
        if let Ok(key) = self
            .master()
            .key
            .unwrap_key(&data_key.key_id, &data_key.wrapped)
        {
            return Ok(key);
        }
        // The master key may have been rotated by another process: read it again.
        if let Some(reloaded) = self.reload_master() {
            if let Ok(key) = reloaded.unwrap_key(&data_key.key_id, &data_key.wrapped) {
                if let Ok(mut master) = self.master.write() {
                    *master = MasterKey {
                        key: reloaded,
                        epoch: data_key.master_epoch,
                    };
                }
                return Ok(key);
            }
        }
        Err(StoreError::Corrupt(format!(
            "data key {} does not unwrap with the master key",
            data_key.key_id
        )))
    }

    /// The master key new data keys must be wrapped with: the one whose check value
    /// the store records now. After a rotation by another process that is the new key
    /// (read from the key file, or the `.new` file while the rotation finishes), never
    /// the retired one.
    async fn wrapping_master(&self) -> Result<MasterKey, StoreError> {
        let current = self.master();
        let Some(recorded) = self
            .store
            .get_meta(crate::datadir::META_MASTER_CHECK)
            .await?
        else {
            return Ok(current);
        };
        if crate::datadir::opens_check(&current.key, &recorded) {
            return Ok(current);
        }
        let epoch: u32 = self
            .store
            .get_meta(crate::datadir::META_MASTER_EPOCH)
            .await?
            .and_then(|e| e.parse().ok())
            .unwrap_or(current.epoch + 1);
        let pending = self
            .master_file
            .as_ref()
            .map(|f| f.with_extension("key.new"));
        for file in self.master_file.iter().chain(pending.iter()) {
            if let Some(key) =
                read_key_file(file).filter(|k| crate::datadir::opens_check(k, &recorded))
            {
                let fresh = MasterKey { key, epoch };
                if let Ok(mut master) = self.master.write() {
                    *master = fresh.clone();
                }
                return Ok(fresh);
            }
        }
        Err(StoreError::Unavailable(
            "the master key was rotated and the new key cannot be read here; restart with the new key".into(),
        ))
    }

    fn reload_master(&self) -> Option<SecretKey> {
        read_key_file(self.master_file.as_ref()?)
    }

    /// A data key by id; `None` if an erasure destroyed it.
    ///
    /// # Errors
    /// Store errors; `Corrupt` if it does not unwrap, or is missing but was never
    /// destroyed.
    pub async fn key(&self, key_id: &str) -> Result<Option<SecretKey>, StoreError> {
        let mut keys = self.keys(&[key_id.to_owned()]).await?;
        Ok(keys.remove(key_id).flatten())
    }

    /// Data keys by id, `None` for each one an erasure destroyed: the ones not cached
    /// are read with one store call (and one more if some are missing), whatever
    /// their number.
    ///
    /// # Errors
    /// As [`Vault::key`], for any of them.
    pub async fn keys(
        &self,
        key_ids: &[String],
    ) -> Result<HashMap<String, Option<SecretKey>>, StoreError> {
        let ids: BTreeSet<String> = key_ids.iter().cloned().collect();
        self.keys_each(&ids)
            .await?
            .into_iter()
            .map(|(id, key)| key.map(|key| (id, key)))
            .collect()
    }

    /// Data keys by id, each as [`Vault::key`] would return it, asking the store once
    /// for all of them that are not cached (`verify` opens a chunk of blobs with them).
    /// Unlike [`Vault::keys`], a bad key does not fail the call: `verify` reports the
    /// first blob it cannot open, by `seq`.
    ///
    /// # Errors
    /// Store errors; a key that is missing but never destroyed, or that does not
    /// unwrap, is an error in its own slot of the map.
    pub async fn keys_each(
        &self,
        key_ids: &BTreeSet<String>,
    ) -> Result<HashMap<String, Result<Option<SecretKey>, StoreError>>, StoreError> {
        let mut found = HashMap::with_capacity(key_ids.len());
        let mut missing = Vec::new();
        if let Ok(cache) = self.by_id.lock() {
            for id in key_ids {
                match fresh(cache.get(id)) {
                    Some(key) => {
                        found.insert(id.clone(), Ok(key));
                    }
                    None => missing.push(id.clone()),
                }
            }
        } else {
            missing.extend(key_ids.iter().cloned());
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let stored = self.store.data_keys(&missing).await?;
        let absent: Vec<String> = missing
            .iter()
            .filter(|id| !stored.contains_key(*id))
            .cloned()
            .collect();
        let destroyed = if absent.is_empty() {
            Default::default()
        } else {
            self.store.destroyed_keys(&absent).await?
        };
        let mut cache = self.by_id.lock().ok();
        for id in missing {
            let key = match stored.get(&id) {
                Some(data_key) => self.unwrap(data_key).map(Some),
                None if destroyed.contains(&id) => Ok(None),
                None => Err(StoreError::Corrupt(format!(
                    "data key {id} is missing but was never destroyed by an erasure"
                ))),
            };
            if let (Some(cache), Ok(key)) = (cache.as_mut(), &key) {
                if cache.len() > 100_000 {
                    cache.clear();
                }
                cache.insert(id.clone(), (Instant::now(), key.clone()));
            }
            found.insert(id, key);
        }
        Ok(found)
    }

    /// Forgets every cached key (after an erasure in this process).
    pub fn forget_all(&self) {
        if let Ok(mut cache) = self.by_id.lock() {
            cache.clear();
        }
        if let Ok(mut cache) = self.by_subject.lock() {
            cache.clear();
        }
        if let Ok(mut cache) = self.identifiers.lock() {
            cache.clear();
        }
    }

    /// The identifiers remembered for each subject token, opened: from the cache,
    /// else one store read per subject. Values whose key an erasure destroyed are
    /// left out (the erasure deletes them too).
    ///
    /// # Errors
    /// Store errors; `Corrupt` if a value does not open under its live key (fail
    /// closed: an event is not stored with an identifier left in clear).
    pub async fn remembered(
        &self,
        subjects: &BTreeSet<String>,
    ) -> Result<HashMap<String, Remembered>, StoreError> {
        let mut found = HashMap::with_capacity(subjects.len());
        let mut missing = Vec::new();
        if let Ok(cache) = self.identifiers.lock() {
            for subject in subjects {
                match fresh(cache.get(subject)) {
                    Some(values) => {
                        found.insert(subject.clone(), values);
                    }
                    None => missing.push(subject.clone()),
                }
            }
        } else {
            missing.extend(subjects.iter().cloned());
        }
        for subject in missing {
            let rows = self.store.remembered_identifiers(&subject).await?;
            let values = Arc::new(self.open_identifiers(&subject, &rows).await?);
            if let Ok(mut cache) = self.identifiers.lock() {
                if cache.len() >= IDENTIFIER_CACHE_SUBJECTS {
                    cache.clear();
                }
                cache.insert(subject.clone(), (Instant::now(), values.clone()));
            }
            found.insert(subject, values);
        }
        Ok(found)
    }

    async fn open_identifiers(
        &self,
        subject: &str,
        rows: &[SealedIdentifier],
    ) -> Result<Vec<(String, String)>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let key_ids: Vec<String> = rows.iter().map(|r| r.key_id.clone()).collect();
        let keys = self.keys(&key_ids).await?;
        let mut values = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(Some(key)) = keys.get(&row.key_id) else {
                continue;
            };
            let clear = key
                .open(&row.sealed, &identifier_aad(subject, &row.value_hash))
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "a remembered identifier of {subject} does not open under key {}",
                        row.key_id
                    ))
                })?;
            values.push((row.kind.clone(), clear));
        }
        Ok(values)
    }

    /// Adds identifiers this process just remembered (committed) for `subject` to a
    /// cached entry, so that its next event needs no store read.
    pub fn remembered_now(&self, subject: &str, new: &[(String, String)]) {
        let Ok(mut cache) = self.identifiers.lock() else {
            return;
        };
        let Some((at, values)) = cache.get_mut(subject) else {
            return;
        };
        let mut merged = values.as_ref().clone();
        for pair in new {
            if !merged.contains(pair) {
                merged.push(pair.clone());
            }
        }
        *values = Arc::new(merged);
        *at = Instant::now();
    }

    /// Seals an event's payloads and personal data under `key`, taking the plaintext
    /// out of the event.
    pub fn seal_event(&self, event: PreparedEvent, key: &ActiveKey) -> EventToAppend {
        self.seal_event_sharing(event, key, &mut SealedHere::default())
    }

    /// [`Vault::seal_event`] for one of the events of a request: a vault value or
    /// remembered identifier an earlier event of it sealed under the same key is not
    /// sealed again, its sealed bytes are copied (see [`SealedHere`]).
    pub fn seal_event_sharing(
        &self,
        mut event: PreparedEvent,
        key: &ActiveKey,
        here: &mut SealedHere,
    ) -> EventToAppend {
        let mut rng = rand::thread_rng();
        let blobs = std::mem::take(&mut event.blobs)
            .iter()
            .map(|blob| seal_blob(blob, key, &mut rng))
            .collect();
        // A value found several times (a name in the request and in the reply) has one
        // token and one vault row: sealed once.
        let mut tokens = std::collections::HashSet::new();
        let vault: Vec<SealedValue> = std::mem::take(&mut event.pii)
            .into_iter()
            .filter(|finding| tokens.insert(finding.token.clone()))
            .map(|finding| SealedValue {
                sealed: here
                    .values
                    .entry((key.key_id.clone(), finding.token.clone()))
                    .or_insert_with(|| {
                        key.key.seal(
                            finding.value.as_bytes(),
                            &vault_aad(&finding.token),
                            &mut rng,
                        )
                    })
                    .clone(),
                token: finding.token,
                kind: finding.kind,
                key_id: key.key_id.clone(),
            })
            .collect();
        let remember = match &event.index.subject {
            Some(subject) => std::mem::take(&mut event.identifiers)
                .into_iter()
                .map(|finding| {
                    let value_hash = finding.token.into_bytes();
                    SealedIdentifier {
                        sealed: here
                            .identifiers
                            .entry((key.key_id.clone(), subject.clone(), value_hash.clone()))
                            .or_insert_with(|| {
                                key.key.seal(
                                    finding.value.as_bytes(),
                                    &identifier_aad(subject, &value_hash),
                                    &mut rng,
                                )
                            })
                            .clone(),
                        subject: subject.clone(),
                        kind: finding.kind,
                        value_hash,
                        key_id: key.key_id.clone(),
                    }
                })
                .collect(),
            None => Vec::new(),
        };
        event.identifiers.clear();
        EventToAppend {
            event: event.into(),
            blobs,
            vault,
            claimed_uploads: Vec::new(),
            remember,
        }
    }

    /// Opens a stored blob.
    ///
    /// # Errors
    /// Store errors; `Corrupt` if the key exists but the blob does not open.
    pub async fn open_blob(&self, blob: &StoredBlob) -> Result<BlobContent, StoreError> {
        let key = self.key(&blob.key_id).await?;
        open_blob_with(key.as_ref(), blob)
    }

    /// Seals an upload, and the clear values found in it, under a new data key of the
    /// upload's own (`evident_store::upload_key_subject`).
    ///
    /// # Errors
    /// Store errors.
    pub async fn seal_upload(
        &self,
        blob: &NewBlob,
        found: Vec<evident_core::pii::Finding>,
    ) -> Result<(SealedBlob, Vec<SealedValue>), StoreError> {
        let subject = evident_store::upload_key_subject(&blob.reference);
        let keys = self.active_keys(&BTreeSet::from([subject.clone()])).await?;
        let key = keys
            .get(&subject)
            .ok_or_else(|| StoreError::Internal("no key for an upload".into()))?;
        let mut rng = rand::thread_rng();
        let values = found
            .into_iter()
            .map(|f| SealedValue {
                sealed: key
                    .key
                    .seal(f.value.as_bytes(), &vault_aad(&f.token), &mut rng),
                token: f.token,
                kind: f.kind,
                key_id: key.key_id.clone(),
            })
            .collect();
        Ok((seal_blob(blob, key, &mut rng), values))
    }

    /// What claiming an uploaded blob for an event sealed under `key` takes: the blob
    /// and the values found in it re-sealed under `key`, and the upload's own key to
    /// destroy in the same commit.
    ///
    /// # Errors
    /// Store errors; `NotFound` if the upload is gone or unreadable; `Conflict` if an
    /// event sealed under another key (another subject's) claimed it first.
    pub async fn claim_upload(
        &self,
        reference: &BlobRef,
        key: &ActiveKey,
    ) -> Result<Option<UploadClaim>, StoreError> {
        let Some(stored) = self.store.blob(reference).await? else {
            return Err(StoreError::NotFound(format!("upload {reference}")));
        };
        if stored.key_id == key.key_id {
            return Ok(None);
        }
        if stored.seq.is_some() {
            return Err(StoreError::Conflict(format!(
                "upload {reference} belongs to an event of another subject (or of none); \
                 upload it again for this event"
            )));
        }
        let BlobContent::Readable { salt, bytes } = self.open_blob(&stored).await? else {
            return Err(StoreError::NotFound(format!(
                "upload {reference} was erased"
            )));
        };
        let blob = NewBlob {
            reference: *reference,
            salt,
            media_type: stored.media_type,
            bytes,
        };
        let upload_subject = evident_store::upload_key_subject(reference);
        // Only values under the upload's own key move (an upload stored before uploads
        // had keys of their own sits under the default key, which it does not own).
        let owned = self
            .store
            .data_keys(std::slice::from_ref(&stored.key_id))
            .await?
            .get(&stored.key_id)
            .is_some_and(|k| k.subject == upload_subject);
        let mut clear_values = Vec::new();
        if owned {
            let upload_key = self
                .key(&stored.key_id)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("upload {reference} was erased")))?;
            for value in self.store.vault_values_under(&stored.key_id).await? {
                let clear = upload_key
                    .open(&value.sealed, &vault_aad(&value.token))
                    .map_err(|_| {
                        StoreError::Corrupt(format!("vault value {} does not decrypt", value.token))
                    })?;
                clear_values.push((value, clear));
            }
        }
        // No `.await` below: the thread-local RNG must not live across one.
        let mut rng = rand::thread_rng();
        let values = clear_values
            .into_iter()
            .map(|(value, clear)| SealedValue {
                sealed: key.key.seal(&clear, &vault_aad(&value.token), &mut rng),
                token: value.token,
                kind: value.kind,
                key_id: key.key_id.clone(),
            })
            .collect();
        Ok(Some(UploadClaim {
            blob: seal_blob(&blob, key, &mut rng),
            values,
            destroy: owned.then(|| Effect::DestroyDataKeys {
                subject: upload_subject,
                now_micros: evident_core::time::now_utc_micros().1,
            }),
        }))
    }

    /// Opens vault values: token → clear value, and the tokens whose values exist only
    /// under destroyed keys.
    ///
    /// # Errors
    /// Store errors.
    pub async fn reveal(&self, tokens: &[String]) -> Result<Revealed, StoreError> {
        let mut revealed = Revealed::default();
        let values = self.store.vault_values(tokens).await?;
        for value in values {
            if revealed.values.contains_key(&value.token) {
                continue;
            }
            match self.key(&value.key_id).await? {
                Some(key) => {
                    let clear =
                        key.open(&value.sealed, &vault_aad(&value.token))
                            .map_err(|_| {
                                StoreError::Corrupt(format!(
                                    "vault value {} does not decrypt",
                                    value.token
                                ))
                            })?;
                    revealed.erased.remove(&value.token);
                    revealed
                        .values
                        .insert(value.token, String::from_utf8_lossy(&clear).into_owned());
                }
                None => {
                    revealed.erased.insert(value.token);
                }
            }
        }
        Ok(revealed)
    }

    /// Re-wraps every data key not yet under `new_master` (by epoch), all or nothing;
    /// returns how many.
    ///
    /// # Errors
    /// Store errors; `Corrupt` if a key does not unwrap with the current master.
    pub async fn rewrap_all(&self, new_master: &MasterKey) -> Result<u64, StoreError> {
        let rewrapped = self.rewrapped_keys(new_master).await?;
        let n = rewrapped.len() as u64;
        self.store.rewrap_data_keys(rewrapped).await?;
        Ok(n)
    }

    /// Every data key not yet under `new_master` (by epoch), wrapped by it: what a
    /// rotation stores.
    ///
    /// # Errors
    /// Store errors; `Corrupt` if a key does not unwrap with the current master.
    pub async fn rewrapped_keys(&self, new_master: &MasterKey) -> Result<Vec<DataKey>, StoreError> {
        let keys = self.store.all_data_keys().await?;
        let mut rng = rand::thread_rng();
        let mut rewrapped = Vec::with_capacity(keys.len());
        for key in keys
            .into_iter()
            .filter(|k| k.master_epoch != new_master.epoch)
        {
            let data_key = self.unwrap(&key)?;
            rewrapped.push(DataKey {
                wrapped: new_master.key.wrap(&key.key_id, &data_key, &mut rng),
                master_epoch: new_master.epoch,
                ..key
            });
        }
        Ok(rewrapped)
    }
}

/// An upload re-sealed for the event that claims it (see [`Vault::claim_upload`]).
#[derive(Debug)]
pub struct UploadClaim {
    pub blob: SealedBlob,
    pub values: Vec<SealedValue>,
    /// Destroys the upload's own key, in the claiming commit.
    pub destroy: Option<Effect>,
}

/// What a reveal found.
#[derive(Debug, Default)]
pub struct Revealed {
    pub values: HashMap<String, String>,
    pub erased: BTreeSet<String>,
}

fn seal_blob(blob: &NewBlob, key: &ActiveKey, rng: &mut dyn RngCore) -> SealedBlob {
    let plaintext = [blob.salt.as_slice(), &blob.bytes].concat();
    SealedBlob {
        reference: blob.reference,
        key_id: key.key_id.clone(),
        media_type: blob.media_type.clone(),
        size: blob.bytes.len() as u64,
        sealed: key.key.seal(&plaintext, &blob_aad(&blob.reference), rng),
    }
}

fn new_key_id(rng: &mut dyn RngCore) -> String {
    let mut bytes = [0u8; 12];
    rng.fill_bytes(&mut bytes);
    format!("dk_{}", evident_core::blob::hex(&bytes))
}

/// Reads a key file of 64 hex digits.
fn read_key_file(path: &std::path::Path) -> Option<SecretKey> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(SecretKey::from_bytes(bytes))
}

/// Opens a stored blob with its data key, already fetched (`None`: destroyed by an
/// erasure). No I/O, so a batch of blobs can be opened on one blocking thread.
///
/// # Errors
/// `Corrupt` if the blob does not open with the key.
pub fn open_blob_with(
    key: Option<&SecretKey>,
    blob: &StoredBlob,
) -> Result<BlobContent, StoreError> {
    let Some(key) = key else {
        return Ok(BlobContent::Erased);
    };
    let plaintext = key
        .open(&blob.sealed, &blob_aad(&blob.reference))
        .map_err(|_| StoreError::Corrupt(format!("blob {} does not decrypt", blob.reference)))?;
    if plaintext.len() < 32 {
        return Err(StoreError::Corrupt(format!(
            "blob {} is too short",
            blob.reference
        )));
    }
    let (salt, bytes) = plaintext.split_at(32);
    Ok(BlobContent::Readable {
        salt: salt.try_into().unwrap_or([0; 32]),
        bytes: bytes.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use evident_store::sqlite::{SqliteOptions, SqliteStore};

    use super::*;

    fn master() -> MasterKey {
        MasterKey {
            key: SecretKey::from_bytes([1; 32]),
            epoch: 1,
        }
    }

    fn data_key(key_id: &str, subject: &str, key: &SecretKey) -> DataKey {
        DataKey {
            key_id: key_id.into(),
            subject: subject.into(),
            wrapped: master().key.wrap(key_id, key, &mut rand::thread_rng()),
            master_epoch: 1,
            created_micros: 0,
        }
    }

    #[tokio::test]
    async fn keys_are_fetched_together_and_erased_ones_are_none() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(dir.path(), &SqliteOptions::default()).unwrap());
        let (a, b, gone) = (
            SecretKey::from_bytes([2; 32]),
            SecretKey::from_bytes([3; 32]),
            SecretKey::from_bytes([4; 32]),
        );
        store
            .insert_data_keys(vec![
                data_key("dk_a", "subj_a", &a),
                data_key("dk_b", "subj_b", &b),
                data_key("dk_gone", "subj_gone", &gone),
            ])
            .await
            .unwrap();
        evident_store::conformance::erase_for_test(&*store, "erase", "subj_gone", 5).await;
        let vault = Vault::new(store, master(), None);
        let ids = ["dk_a", "dk_gone", "dk_b", "dk_a"].map(String::from);
        let keys = vault.keys(&ids).await.unwrap();
        assert_eq!(keys.len(), 3);
        assert_eq!(
            keys["dk_a"].as_ref().map(SecretKey::as_bytes),
            Some(a.as_bytes())
        );
        assert_eq!(
            keys["dk_b"].as_ref().map(SecretKey::as_bytes),
            Some(b.as_bytes())
        );
        assert!(keys["dk_gone"].is_none());
        // Cached now; the single lookup agrees.
        assert_eq!(
            vault
                .key("dk_b")
                .await
                .unwrap()
                .as_ref()
                .map(SecretKey::as_bytes),
            Some(b.as_bytes())
        );
        // A key that is missing without an erasure is damage, and fails the batch.
        let ids = ["dk_a", "dk_never"].map(String::from);
        assert!(matches!(
            vault.keys(&ids).await,
            Err(StoreError::Corrupt(_))
        ));
        assert!(vault.keys(&[]).await.unwrap().is_empty());
    }
}

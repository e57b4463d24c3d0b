//! Reading entries back: the stored record with its payloads resolved from blobs.
//! Tokens stay tokens; only the privacy role's vault reveal turns them back.
//!
//! A page of entries is resolved in one batch: its blobs come with it from the store
//! (see [`evident_store::SearchStore::search_with_blobs`]), the data keys they need are
//! fetched together, and decryption and splicing run in one pass (on the blocking
//! pool, in a few parts side by side, when the page is large). A record is assembled
//! from bytes: the entry's members are copied as stored, each JSON payload is copied
//! in as decrypted, and neither is parsed into a tree or written out again (both are
//! checked to be JSON on the way).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, OnceLock};

use evident_core::blob::{parse_blob_ref, BlobRef};
use evident_core::crypto::SecretKey;
use evident_core::event::PAYLOAD_FIELDS;
use evident_store::{StoredBlob, StoredEntry};
use evident_tlog::Hash;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::state::App;
use crate::vault::{open_blob_with, BlobContent};

/// Pages with more bytes than this (entries plus sealed blobs) are resolved on the
/// blocking pool; smaller ones (a trace, one event: tens of microseconds of work)
/// right on the async thread, which saves a thread hand-off. Large pages are split
/// in parts of at least this size.
const INLINE_BYTES: usize = 64 * 1024;

/// Most parts a page is resolved in side by side: a DSAR page of 1,000 records is
/// ~15 ms of decryption and splicing on one core.
const MAX_PARTS: usize = 4;

/// How many parts a large page is split into: the cores this process may use, at
/// most [`MAX_PARTS`] (read once: it can cost a few file reads).
fn parallelism() -> usize {
    static PARTS: OnceLock<usize> = OnceLock::new();
    *PARTS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(MAX_PARTS)
    })
}

/// A record ready to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    /// The record as a JSON object: the entry's members, payloads resolved.
    pub json: String,
    /// Some payload is crypto-shredded (its commitment says `"erased": true`).
    pub erased: bool,
    /// The members a causal tree and its order need, read on the way.
    pub event_id: Option<String>,
    pub parent_event_id: Option<String>,
    pub timestamp: Option<String>,
}

impl Record {
    /// The record as a JSON tree, for callers that look inside it.
    ///
    /// # Errors
    /// Never for records built here (their bytes were checked); 500 otherwise.
    pub fn to_map(&self) -> ApiResult<Map<String, Value>> {
        serde_json::from_str(&self.json)
            .map_err(|e| ApiError::internal(format!("record at seq {}: {e}", self.seq)))
    }
}

/// The event with this `event_id`, payloads resolved, and its leaf hash; `None` if
/// the log has no such event.
///
/// # Errors
/// As [`records`].
pub async fn event_by_id(app: &App, event_id: &str) -> ApiResult<Option<(Record, Hash)>> {
    let Some(entry) = app.store.entry_by_event_id(event_id).await? else {
        return Ok(None);
    };
    let leaf_hash = evident_tlog::leaf_hash(&entry.entry);
    let blobs = app.store.blobs_in_range(entry.seq, entry.seq + 1).await?;
    let record = records(app, vec![entry], blobs)
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("an entry resolved to no record"))?;
    Ok(Some((record, leaf_hash)))
}

/// Parses an entry into its record, payloads left as commitments.
///
/// # Errors
/// 500 if the stored bytes are not a JSON object (`evident verify` would say where).
pub fn parse_record(entry: &StoredEntry) -> ApiResult<Map<String, Value>> {
    match serde_json::from_slice(&entry.entry) {
        Ok(Value::Object(record)) => Ok(record),
        _ => Err(not_an_object(entry.seq)),
    }
}

fn not_an_object(seq: u64) -> ApiError {
    ApiError::internal(format!("entry at seq {seq} is not a JSON object"))
}

/// The records of `entries`, in their order, each payload replaced by its content
/// where the blob is stored and is JSON. Other media types keep the commitment: fetch
/// them with `GET /api/v1/blobs/{ref}`. A crypto-shredded payload keeps its
/// commitment with `"erased": true`.
///
/// `blobs` are the blobs read with the entries; any other blob an entry references
/// (an upload another entry claimed first) is fetched here.
///
/// # Errors
/// 500 if an entry is not a JSON object or a blob does not open with its key; store
/// errors.
pub async fn records(
    app: &App,
    entries: Vec<StoredEntry>,
    blobs: Vec<StoredBlob>,
) -> ApiResult<Vec<Record>> {
    let blobs: HashMap<BlobRef, StoredBlob> = blobs.into_iter().map(|b| (b.reference, b)).collect();
    let keys = keys_for(app, blobs.values()).await?;
    let batch = Arc::new(Batch {
        entries,
        blobs,
        keys,
        complete: false,
        purged: HashMap::new(),
    });
    let mut out = batch.resolve_all().await?;
    // Entries that reference blobs read with another entry: fetch those and go again.
    let missing: HashSet<BlobRef> = out
        .iter()
        .filter_map(|r| match r {
            Resolved::Missing(refs) => Some(refs.iter().copied()),
            _ => None,
        })
        .flatten()
        .collect();
    if missing.is_empty() {
        return out.into_iter().map(Resolved::finished).collect();
    }
    let mut fetched = Vec::with_capacity(missing.len());
    let mut gone = Vec::new();
    for reference in &missing {
        match app.store.blob(reference).await? {
            Some(blob) => fetched.push(blob),
            None => gone.push(*reference),
        }
    }
    let purged = if gone.is_empty() {
        HashMap::new()
    } else {
        app.store.purged_blobs(&gone).await?
    };
    let extra_keys = keys_for(app, fetched.iter()).await?;
    // The parts of the first round are done: the batch is ours again.
    let Batch {
        entries,
        mut blobs,
        mut keys,
        ..
    } = Arc::unwrap_or_clone(batch);
    let (redo, entries): (Vec<usize>, Vec<StoredEntry>) = entries
        .into_iter()
        .enumerate()
        .filter(|(i, _)| matches!(out[*i], Resolved::Missing(_)))
        .unzip();
    blobs.extend(fetched.into_iter().map(|b| (b.reference, b)));
    keys.extend(extra_keys);
    let again = Arc::new(Batch {
        entries,
        blobs,
        keys,
        complete: true,
        purged,
    })
    .resolve_all()
    .await?;
    for (i, resolved) in redo.into_iter().zip(again) {
        out[i] = resolved;
    }
    out.into_iter().map(Resolved::finished).collect()
}

/// The data keys of these blobs (`None`: destroyed by an erasure), in one vault call.
async fn keys_for<'a>(
    app: &App,
    blobs: impl Iterator<Item = &'a StoredBlob>,
) -> ApiResult<HashMap<String, Option<SecretKey>>> {
    let mut ids: Vec<String> = blobs.map(|b| b.key_id.clone()).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(app.vault.keys(&ids).await?)
}

/// Entries to resolve with everything they need, owned so the work can move to the
/// blocking pool.
#[derive(Clone)]
struct Batch {
    entries: Vec<StoredEntry>,
    blobs: HashMap<BlobRef, StoredBlob>,
    keys: HashMap<String, Option<SecretKey>>,
    /// Every blob that exists is in `blobs`: one that is not was deleted (retention),
    /// and its payload keeps the commitment.
    complete: bool,
    /// Blobs among the missing that a retention run purged: their commitments say so.
    purged: HashMap<BlobRef, evident_store::PurgedBlob>,
}

/// One entry's outcome.
enum Resolved {
    Done(Record),
    /// Its bytes are not a JSON object.
    Broken(u64),
    /// Blobs it references that are not in the batch yet.
    Missing(Vec<BlobRef>),
}

impl Resolved {
    fn finished(self) -> ApiResult<Record> {
        match self {
            Resolved::Done(record) => Ok(record),
            Resolved::Broken(seq) => Err(not_an_object(seq)),
            Resolved::Missing(_) => Err(ApiError::internal("a blob was left unresolved")),
        }
    }
}

impl Batch {
    fn bytes(&self) -> usize {
        let entries: usize = self.entries.iter().map(|e| e.entry.len()).sum();
        let blobs: usize = self.blobs.values().map(|b| b.sealed.len()).sum();
        entries + blobs
    }

    /// Resolves every entry, in order: right here if the batch is small, else on the
    /// blocking pool in up to [`parallelism`] parts of at least [`INLINE_BYTES`]
    /// each, side by side.
    async fn resolve_all(self: &Arc<Self>) -> ApiResult<Vec<Resolved>> {
        let (count, bytes) = (self.entries.len(), self.bytes());
        if bytes <= INLINE_BYTES {
            return self.resolve(0..count);
        }
        let parts = (bytes / INLINE_BYTES).clamp(1, parallelism());
        let per_part = count.div_ceil(parts).max(1);
        let tasks: Vec<_> = (0..count)
            .step_by(per_part)
            .map(|start| {
                let batch = Arc::clone(self);
                let end = (start + per_part).min(count);
                tokio::task::spawn_blocking(move || batch.resolve(start..end))
            })
            .collect();
        let mut out = Vec::with_capacity(count);
        for task in tasks {
            let part = task
                .await
                .map_err(|e| ApiError::internal(format!("resolving payloads: {e}")))??;
            out.extend(part);
        }
        Ok(out)
    }

    fn resolve(&self, range: std::ops::Range<usize>) -> ApiResult<Vec<Resolved>> {
        self.entries[range]
            .iter()
            .map(|e| self.resolve_entry(e))
            .collect()
    }

    fn resolve_entry(&self, entry: &StoredEntry) -> ApiResult<Resolved> {
        let Ok(Members(members)) = serde_json::from_slice::<Members<'_>>(&entry.entry) else {
            return Ok(Resolved::Broken(entry.seq));
        };
        let text_of = |name: &str| {
            members
                .iter()
                .find(|(key, _)| key == name)
                .and_then(|(_, raw)| serde_json::from_str::<String>(raw.get()).ok())
        };
        let mut record = Record {
            seq: entry.seq,
            json: String::with_capacity(entry.entry.len() + 1024),
            erased: false,
            event_id: text_of("event_id"),
            parent_event_id: text_of("parent_event_id"),
            timestamp: text_of("timestamp"),
        };
        let mut missing = Vec::new();
        record.json.push('{');
        for (i, (key, raw)) in members.iter().enumerate() {
            if i > 0 {
                record.json.push(',');
            }
            push_json_string(&mut record.json, key);
            record.json.push(':');
            if !PAYLOAD_FIELDS.contains(&key.as_ref()) {
                record.json.push_str(raw.get());
                continue;
            }
            match self.payload(raw)? {
                Payload::AsStored => record.json.push_str(raw.get()),
                Payload::Missing(reference) => {
                    missing.push(reference);
                    record.json.push_str(raw.get());
                }
                Payload::Content(bytes) => match serde_json::from_slice::<&RawValue>(&bytes) {
                    // Checked to be JSON, then copied in as it is.
                    Ok(content) => record.json.push_str(content.get()),
                    Err(_) => record.json.push_str(raw.get()),
                },
                Payload::Erased => {
                    record.erased = true;
                    record.json.push_str(&erased_commitment(raw)?);
                }
                Payload::Purged(purged) => {
                    record.json.push_str(&purged_commitment(raw, &purged)?);
                }
            }
        }
        record.json.push('}');
        if !missing.is_empty() {
            return Ok(Resolved::Missing(missing));
        }
        Ok(Resolved::Done(record))
    }

    /// What a payload member becomes.
    fn payload(&self, raw: &RawValue) -> ApiResult<Payload> {
        let Some(reference) = serde_json::from_str::<Commitment<'_>>(raw.get())
            .ok()
            .and_then(|c| c.blob)
            .and_then(|text| parse_blob_ref(&text))
        else {
            return Ok(Payload::AsStored);
        };
        let Some(blob) = self.blobs.get(&reference) else {
            return Ok(if !self.complete {
                Payload::Missing(reference)
            } else if let Some(purged) = self.purged.get(&reference) {
                Payload::Purged(purged.clone())
            } else {
                Payload::AsStored
            });
        };
        if blob.media_type != evident_core::record::JSON_MEDIA_TYPE {
            return Ok(Payload::AsStored);
        }
        let key = self
            .keys
            .get(&blob.key_id)
            .ok_or_else(|| ApiError::internal(format!("no key looked up for blob {reference}")))?;
        Ok(match open_blob_with(key.as_ref(), blob)? {
            BlobContent::Erased => Payload::Erased,
            BlobContent::Readable { bytes, .. } => Payload::Content(bytes),
        })
    }
}

/// A payload member's resolution.
enum Payload {
    /// Keep the member as stored: not a commitment, not JSON, or the blob is gone.
    AsStored,
    /// The blob is not in the batch (yet).
    Missing(BlobRef),
    /// The decrypted payload (JSON if its bytes parse).
    Content(Vec<u8>),
    /// The blob's key was destroyed.
    Erased,
    /// A retention run deleted the blob.
    Purged(evident_store::PurgedBlob),
}

/// The `$blob` of a payload commitment (other members ignored).
#[derive(serde::Deserialize)]
struct Commitment<'a> {
    #[serde(rename = "$blob", borrow)]
    blob: Option<Cow<'a, str>>,
}

/// A commitment with `"erased": true` added.
fn erased_commitment(raw: &RawValue) -> ApiResult<String> {
    let mut commitment: Map<String, Value> = serde_json::from_str(raw.get())
        .map_err(|e| ApiError::internal(format!("a payload commitment: {e}")))?;
    commitment.insert("erased".into(), Value::Bool(true));
    serde_json::to_string(&commitment).map_err(ApiError::internal)
}

/// A commitment with `"purged": {"run_id", "at"}` added.
fn purged_commitment(raw: &RawValue, purged: &evident_store::PurgedBlob) -> ApiResult<String> {
    let mut commitment: Map<String, Value> = serde_json::from_str(raw.get())
        .map_err(|e| ApiError::internal(format!("a payload commitment: {e}")))?;
    commitment.insert(
        "purged".into(),
        serde_json::json!({
            "run_id": purged.run_id,
            "at": crate::clock::format_micros(purged.purged_micros),
        }),
    );
    serde_json::to_string(&commitment).map_err(ApiError::internal)
}

/// Appends `text` as a JSON string.
fn push_json_string(out: &mut String, text: &str) {
    // Writing a str to a String cannot fail; to_string only errs on non-string map keys.
    out.push_str(&serde_json::to_string(text).unwrap_or_else(|_| String::from("\"\"")));
}

/// The top-level members of a JSON object in stored order, each value as its raw,
/// checked bytes; names borrowed unless they hold escapes.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(24));
                while let Some(Name(name)) = map.next_key()? {
                    members.push((name, map.next_value::<&'de RawValue>()?));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// A member name, borrowed from the input when it has no escapes.
struct Name<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

#[cfg(test)]
mod tests {
    use evident_core::blob::BlobRef;
    use evident_core::crypto::{blob_aad, SecretKey};
    use serde_json::{json, Value};

    use super::*;

    fn key() -> SecretKey {
        SecretKey::from_bytes([3; 32])
    }

    /// A blob of `bytes` sealed under [`key`] (as `dk_1`), first referenced by `seq`.
    fn blob(seq: u64, media_type: &str, bytes: &[u8]) -> StoredBlob {
        let salt = [seq as u8; 32];
        let reference = BlobRef::commit(&salt, bytes);
        let plaintext = [salt.as_slice(), bytes].concat();
        StoredBlob {
            reference,
            media_type: media_type.into(),
            size: bytes.len() as u64,
            key_id: "dk_1".into(),
            sealed: key().seal(&plaintext, &blob_aad(&reference), &mut rand::thread_rng()),
            seq: Some(seq),
        }
    }

    fn commitment(blob: &StoredBlob) -> Value {
        json!({"$blob": blob.reference.to_ref_string(), "size": blob.size, "media_type": blob.media_type})
    }

    fn entry(seq: u64, record: &Value) -> StoredEntry {
        StoredEntry {
            seq,
            entry: serde_json::to_vec(record).unwrap(),
        }
    }

    fn batch(entries: Vec<StoredEntry>, blobs: Vec<StoredBlob>, key: Option<SecretKey>) -> Batch {
        Batch {
            entries,
            blobs: blobs.into_iter().map(|b| (b.reference, b)).collect(),
            keys: HashMap::from([("dk_1".to_owned(), key)]),
            complete: false,
            purged: HashMap::new(),
        }
    }

    fn done(resolved: &Resolved) -> Value {
        match resolved {
            Resolved::Done(record) => serde_json::from_str(&record.json).unwrap(),
            _ => panic!("not resolved"),
        }
    }

    #[test]
    fn payloads_are_spliced_in_and_other_members_kept_as_stored() {
        let input = blob(0, "application/json", br#"{"b":[1,2.5,"\u00e9"],"a":null}"#);
        let output = blob(0, "text/plain", b"plain text");
        let attributes = blob(0, "application/json", b"{not json");
        let record = json!({
            "event_id": "e\"1", "seq": 0, "parent_event_id": null, "timestamp": "2026-01-01T00:00:00Z",
            "input": commitment(&input), "output": commitment(&output),
            "attributes": commitment(&attributes), "decision": {"$blob": "not a ref"},
            "na\u{1F600}me \"quoted\"": [1, {"x": "y"}],
        });
        let batch = batch(
            vec![entry(0, &record)],
            vec![input, output, attributes],
            Some(key()),
        );
        let resolved = batch.resolve(0..1).unwrap();
        let mut expected = record.clone();
        expected["input"] = json!({"a": null, "b": [1, 2.5, "é"]});
        assert_eq!(done(&resolved[0]), expected);
        let Resolved::Done(record) = &resolved[0] else {
            unreachable!()
        };
        assert_eq!(record.event_id.as_deref(), Some("e\"1"));
        assert_eq!(record.parent_event_id, None);
        assert_eq!(record.timestamp.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert!(!record.erased);
    }

    #[test]
    fn a_destroyed_key_marks_the_commitment_erased() {
        let input = blob(4, "application/json", b"\"secret\"");
        let record = json!({"seq": 4, "input": commitment(&input), "output": "inline"});
        let batch = batch(vec![entry(4, &record)], vec![input.clone()], None);
        let resolved = batch.resolve(0..1).unwrap();
        let mut expected = record.clone();
        expected["input"]["erased"] = json!(true);
        assert_eq!(done(&resolved[0]), expected);
        assert!(matches!(&resolved[0], Resolved::Done(r) if r.erased));
    }

    #[test]
    fn blobs_outside_the_batch_are_asked_for_then_kept_as_commitments() {
        let elsewhere = blob(1, "application/json", b"[]");
        let record = json!({"seq": 2, "input": commitment(&elsewhere)});
        let mut batch = batch(vec![entry(2, &record)], Vec::new(), Some(key()));
        let resolved = batch.resolve(0..1).unwrap();
        assert!(matches!(&resolved[0], Resolved::Missing(refs) if refs == &[elsewhere.reference]));
        // Once every stored blob is in the batch, a missing one was deleted.
        batch.complete = true;
        assert_eq!(done(&batch.resolve(0..1).unwrap()[0]), record);
    }

    #[test]
    fn entries_that_are_not_objects_are_broken_and_bad_blobs_are_errors() {
        let entries = vec![
            StoredEntry {
                seq: 7,
                entry: b"[1, 2]".to_vec(),
            },
            StoredEntry {
                seq: 8,
                entry: b"{\"a\": 1".to_vec(),
            },
        ];
        let resolved = batch(entries, Vec::new(), Some(key()))
            .resolve(0..2)
            .unwrap();
        assert!(matches!(resolved[0], Resolved::Broken(7)));
        assert!(matches!(resolved[1], Resolved::Broken(8)));
        // A blob that does not open with its key is damage: the answer fails.
        let mut input = blob(9, "application/json", b"1");
        input.sealed[30] ^= 1;
        let record = json!({"seq": 9, "input": commitment(&input)});
        assert!(batch(vec![entry(9, &record)], vec![input], Some(key()))
            .resolve(0..1)
            .is_err());
    }
}

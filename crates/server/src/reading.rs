//! Reading entries back: the stored record with its payloads resolved from blobs.
//! Tokens stay tokens; only the privacy role's vault reveal turns them back.

use evident_core::blob::parse_blob_ref;
use evident_core::event::PAYLOAD_FIELDS;
use evident_store::{Store, StoredEntry};
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// Parses an entry into its record.
///
/// # Errors
/// 500 if the stored bytes are not a JSON object (`evident verify` would say where).
pub fn parse_record(entry: &StoredEntry) -> ApiResult<Map<String, Value>> {
    match serde_json::from_slice(&entry.entry) {
        Ok(Value::Object(record)) => Ok(record),
        _ => Err(ApiError::internal(format!(
            "entry at seq {} is not a JSON object",
            entry.seq
        ))),
    }
}

/// Replaces each payload commitment of `record` by the payload, where the blob is
/// stored and is JSON. Other media types keep the commitment: fetch them with
/// `GET /api/v1/blobs/{ref}`.
///
/// # Errors
/// Store errors.
pub async fn resolve_payloads(store: &dyn Store, record: &mut Map<String, Value>) -> ApiResult<()> {
    for field in PAYLOAD_FIELDS {
        let Some(reference) = record
            .get(*field)
            .and_then(|v| v.get("$blob"))
            .and_then(Value::as_str)
            .and_then(parse_blob_ref)
        else {
            continue;
        };
        let Some(blob) = store.blob(&reference).await? else {
            continue;
        };
        if blob.media_type != evident_core::record::JSON_MEDIA_TYPE {
            continue;
        }
        if let Ok(payload) = serde_json::from_slice::<Value>(&blob.bytes) {
            record.insert((*field).to_owned(), payload);
        }
    }
    Ok(())
}

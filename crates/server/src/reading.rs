//! Reading entries back: the stored record with its payloads resolved from blobs.
//! Tokens stay tokens; only the privacy role's vault reveal turns them back.

use evident_core::blob::parse_blob_ref;
use evident_core::event::PAYLOAD_FIELDS;
use evident_store::StoredEntry;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::state::App;
use crate::vault::BlobContent;

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
/// `GET /api/v1/blobs/{ref}`. A crypto-shredded payload keeps its commitment with
/// `"erased": true`. Returns `true` if any payload was erased.
///
/// # Errors
/// Store errors.
pub async fn resolve_payloads(app: &App, record: &mut Map<String, Value>) -> ApiResult<bool> {
    let mut any_erased = false;
    for field in PAYLOAD_FIELDS {
        let Some(reference) = record
            .get(*field)
            .and_then(|v| v.get("$blob"))
            .and_then(Value::as_str)
            .and_then(parse_blob_ref)
        else {
            continue;
        };
        let Some(blob) = app.store.blob(&reference).await? else {
            continue;
        };
        if blob.media_type != evident_core::record::JSON_MEDIA_TYPE {
            continue;
        }
        match app.vault.open_blob(&blob).await? {
            BlobContent::Erased => {
                any_erased = true;
                if let Some(Value::Object(commitment)) = record.get_mut(*field) {
                    commitment.insert("erased".into(), Value::Bool(true));
                }
            }
            BlobContent::Readable { bytes, .. } => {
                if let Ok(payload) = serde_json::from_slice::<Value>(&bytes) {
                    record.insert((*field).to_owned(), payload);
                }
            }
        }
    }
    Ok(any_erased)
}

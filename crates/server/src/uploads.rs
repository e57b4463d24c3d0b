//! Uploaded blobs (`POST /api/v1/blobs`): stored salted like inline payloads, and
//! dropped if no event references them within [`UPLOAD_TTL`].

use std::sync::Arc;
use std::time::Duration;

use evident_core::blob::{BlobRef, NewBlob, SALT_LEN};
use evident_store::Store;
use rand::RngCore;

use crate::error::ApiResult;

/// How long an upload waits for an event to reference it.
pub const UPLOAD_TTL: Duration = Duration::from_secs(24 * 3600);

/// How often stale uploads are swept.
const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// Tokenizes the personal data in an upload (JSON and text), seals the upload and the
/// clear values found in it under a data key of the upload's own
/// (`evident_store::upload_key_subject`), and returns its reference (the commitment
/// to the tokenized bytes).
///
/// The first event that claims the upload moves both under its subject's key and
/// destroys the upload's key, in its commit (see `ingest::seal_all`), so erasing that
/// subject makes them unreadable; an upload nobody claims is dropped with its key and
/// values after [`UPLOAD_TTL`].
///
/// # Errors
/// 400 for a JSON upload that is not I-JSON or text that is not UTF-8; store errors.
pub async fn upload(
    app: &crate::state::App,
    bytes: Vec<u8>,
    media_type: &str,
) -> ApiResult<BlobRef> {
    let (received_at, received_micros) = app.now();
    let submission = evident_core::record::Submission {
        token_key: &app.token_key,
        detectors: &app.settings.detectors,
        principal: "",
        received_at: &received_at,
        received_micros,
    };
    let (bytes, found) = evident_core::record::tokenize_upload(bytes, media_type, &submission)?;
    let blob = {
        let mut salt = [0u8; SALT_LEN];
        rand::thread_rng().fill_bytes(&mut salt);
        NewBlob {
            reference: BlobRef::commit(&salt, &bytes),
            salt,
            media_type: media_type.to_owned(),
            bytes,
        }
    };
    let reference = blob.reference;
    let (sealed, values) = app.vault.seal_upload(&blob, found).await?;
    // The blob first: values never wait for a blob that a failure kept out (the sweep
    // finds an upload's key through its blob).
    app.store.put_upload(sealed, received_micros).await?;
    if !values.is_empty() {
        app.store.put_vault_values(values).await?;
    }
    Ok(reference)
}

/// Drops stale uploads, forever; "stale" by `clock` (the app's).
pub async fn sweep(store: Arc<dyn Store>, clock: Arc<dyn crate::clock::Clock>) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        let ttl = i64::try_from(UPLOAD_TTL.as_micros()).unwrap_or(i64::MAX);
        let cutoff = clock.now_micros() - ttl;
        match store.drop_stale_uploads(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(dropped = n, "dropped unreferenced uploads"),
            Err(e) => tracing::warn!(error = %e, "sweeping uploads failed"),
        }
    }
}

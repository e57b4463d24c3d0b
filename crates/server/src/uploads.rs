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

/// Stores an upload and returns its reference.
///
/// # Errors
/// The store failed.
pub async fn upload(
    app: &crate::state::App,
    bytes: Vec<u8>,
    media_type: &str,
) -> ApiResult<BlobRef> {
    let mut salt = [0u8; SALT_LEN];
    rand::thread_rng().fill_bytes(&mut salt);
    let blob = NewBlob {
        reference: BlobRef::commit(&salt, &bytes),
        salt,
        media_type: media_type.to_owned(),
        bytes,
    };
    let reference = blob.reference;
    let sealed = app.vault.seal_upload(&blob).await?;
    app.store
        .put_upload(sealed, evident_core::time::now_utc_micros().1)
        .await?;
    Ok(reference)
}

/// Drops stale uploads, forever.
pub async fn sweep(store: Arc<dyn Store>) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        let ttl = i64::try_from(UPLOAD_TTL.as_micros()).unwrap_or(i64::MAX);
        let cutoff = evident_core::time::now_utc_micros().1 - ttl;
        match store.drop_stale_uploads(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(dropped = n, "dropped unreferenced uploads"),
            Err(e) => tracing::warn!(error = %e, "sweeping uploads failed"),
        }
    }
}

//! The checkpointer: signs a C2SP checkpoint for the integrated tree.
//!
//! It wakes when the sequencer commits (or every [`IDLE_TICK`] in case another process
//! appended), and at most once per `interval` signs the tree head if it grew. Before
//! signing it recomputes the root from the stored tiles and refuses to sign a head the
//! tiles do not support: a signature is forever, so it is never put on a guess.
//!
//! Each checkpoint is signed with the key in force at its size (the history in the
//! store, re-read every time, so a key rotated in by `evident keys rotate-signing`
//! while this process runs is picked up at the next checkpoint). When a new key takes
//! over between the latest checkpoint and the head, the old key first signs the size
//! that covers the new key's announcement, then the new key signs the head (see
//! [`crate::signing`]).

use std::sync::Arc;
use std::time::Duration;

use evident_store::{Store, StoredCheckpoint};
use evident_tlog::Checkpoint;
use tokio::sync::Notify;

use crate::state::App;

/// How often the checkpointer looks at the tree when nothing notified it.
pub const IDLE_TICK: Duration = Duration::from_millis(500);

/// Runs until the process ends.
pub async fn run(app: Arc<App>, appended: Arc<Notify>, interval: Duration) {
    loop {
        let started = tokio::time::Instant::now();
        if let Err(e) = sign_if_grown(&app).await {
            tracing::warn!(error = %e, "checkpointing failed; retrying");
        }
        // At most one signature per `interval`, counted from the start of the last one:
        // storing it may have waited behind a long group commit already.
        tokio::time::sleep(interval.saturating_sub(started.elapsed())).await;
        let _ = tokio::time::timeout(IDLE_TICK, appended.notified()).await;
    }
}

/// Signs and stores a checkpoint if the tree grew past the latest one (or none exists):
/// one of the tree head, preceded by the old key's last checkpoint where a key takes
/// over in between. Returns the last checkpoint signed.
///
/// # Errors
/// The store failed, the stored tiles do not support the tree head, or this process
/// does not hold the key in force.
pub async fn sign_if_grown(app: &App) -> anyhow::Result<Option<StoredCheckpoint>> {
    // One signing at a time in this process: the periodic task and the last
    // checkpoint at shutdown would otherwise race on the mirrored file's temp file.
    static SIGNING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = SIGNING.lock().await;
    let store: &dyn Store = &*app.store;
    // Several servers may share the store: only the elected one signs.
    if !store.try_lead().await? {
        return Ok(None);
    }
    let head = store.tree_head().await?;
    let mut latest = store.latest_checkpoint().await?.map(|cp| cp.size);
    let history = crate::signing::history(store).await?;
    let signers = app.identity.signer()?;
    let mut signed = None;
    // Each pass signs a larger size, the head at the latest.
    while latest.is_none_or(|size| size < head.size) {
        // Where a key takes over between the latest checkpoint and the head, the old
        // key's last size is signed first: that checkpoint covers the announcement.
        let size = crate::signing::next_size_to_sign(&history, latest, head.size);
        let checkpoint = sign(app, &history, signers, &head, size).await?;
        latest = Some(checkpoint.size);
        signed = Some(checkpoint);
    }
    finish_rotation(signers, &history, latest.unwrap_or(0));
    Ok(signed)
}

/// Signs the tree at `size` (at most the head's) with the key in force there, stores
/// the checkpoint and mirrors it.
async fn sign(
    app: &App,
    history: &[crate::signing::KeyInForce],
    signers: &crate::signing::Signers,
    head: &evident_store::TreeHead,
    size: u64,
) -> anyhow::Result<StoredCheckpoint> {
    let store: &dyn Store = &*app.store;
    let in_force = crate::signing::key_for_size(history, size)
        .ok_or_else(|| anyhow::anyhow!("no signing key is in force at size {size}"))?;
    let signer = signers.for_key(&in_force.verifier_key).ok_or_else(|| {
        anyhow::anyhow!(
            "this process does not hold the signing key in force at size {size} ({}); it belongs in {} or {}",
            in_force.verifier_key,
            signers.key_file().display(),
            crate::signing::next_key_file(signers.key_file()).display()
        )
    })?;
    let mut wanted = evident_tlog::tiles_for_root(head.size);
    wanted.extend(evident_tlog::tiles_for_root(size));
    let tiles = store.read_tiles(&wanted).await?;
    let head_root = evident_tlog::tree_root(head.size, &tiles)?;
    anyhow::ensure!(
        head_root == head.root,
        "tree head root at size {} does not match its tiles",
        head.size
    );
    let root = evident_tlog::tree_root(size, &tiles)?;
    let note = signer.sign_checkpoint(&Checkpoint {
        origin: app.identity.origin.clone(),
        size,
        root,
    })?;
    let checkpoint = StoredCheckpoint {
        size,
        root,
        note,
        created_micros: app.now_micros(),
    };
    store.put_checkpoint(checkpoint.clone()).await?;
    if let Some(path) = &app.settings.checkpoint_file {
        write_checkpoint_file(path, &checkpoint.note)?;
    }
    app.metrics.record_checkpoint();
    app.checkpointed.notify_one();
    tracing::debug!(tree_size = size, "signed checkpoint");
    Ok(checkpoint)
}

/// Moves a rotated signing key into the key file once the old key's last checkpoint
/// is stored (see [`crate::signing::promote_next_key`]); a failure only delays it.
fn finish_rotation(
    signers: &crate::signing::Signers,
    history: &[crate::signing::KeyInForce],
    latest: u64,
) {
    if let Err(e) = crate::signing::promote_next_key(signers.key_file(), history, latest) {
        tracing::warn!(error = %e, "moving the rotated signing key into place failed; retrying");
    }
}

/// Replaces `path` with `note` atomically and durably (write, fsync, rename, fsync dir).
///
/// # Errors
/// I/O errors.
pub fn write_checkpoint_file(path: &std::path::Path, note: &str) -> std::io::Result<()> {
    use std::io::Write;
    let temp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(note.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

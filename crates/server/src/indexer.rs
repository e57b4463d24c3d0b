//! The text indexer: feeds the full-text index behind ingest, off the durable path.
//!
//! Ingest never waits for it. It follows the log in `seq` order, resolves the
//! payloads of each step's entries in one batch (their blobs read by `seq` range),
//! extracts the searchable text (evident-core `text`) and appends it
//! to the store's full-text index, which records how far it got (`indexed_through`).
//! Advancing is compare-and-swap, so two indexers (two processes) never double-index.

use std::sync::Arc;
use std::time::Duration;

use evident_store::StoreError;

use crate::state::App;

/// Entries indexed per step.
const STEP: u64 = 2_000;

/// Pause when the index has caught up with the log.
const IDLE: Duration = Duration::from_millis(100);

/// Runs until the process ends.
pub async fn run(app: Arc<App>) {
    loop {
        match index_step(&app).await {
            Ok(0) => tokio::time::sleep(IDLE).await,
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => {}
            Err(e) => {
                tracing::warn!(error = %e, "text indexing failed; retrying");
                tokio::time::sleep(IDLE * 10).await;
            }
        }
    }
}

/// Indexes the next entries not yet indexed; returns how many.
///
/// # Errors
/// Store errors; `Conflict` if another indexer moved first.
pub async fn index_step(app: &App) -> Result<u64, StoreError> {
    let store = &*app.store;
    if !store.try_lead().await? {
        return Ok(0);
    }
    let from = store.text_indexed_through().await?;
    let head = store.tree_head().await?;
    if from >= head.size {
        return Ok(0);
    }
    let end = (from + STEP).min(head.size);
    let entries = store.read_entries(from, end).await?;
    let blobs = store.blobs_in_range(from, end).await?;
    let records = crate::reading::records_or_broken(app, entries, blobs)
        .await
        .map_err(|e| StoreError::Internal(e.detail))?;
    let mut docs = Vec::with_capacity(records.len());
    for record in records {
        let text = match record {
            // An erased subject's events get no search text back.
            Ok(record) if record.erased => String::new(),
            Ok(record) => {
                let fields = record
                    .to_map()
                    .map_err(|e| StoreError::Internal(e.detail))?;
                evident_core::text::searchable_text(&fields)
            }
            // Not a JSON object: nothing to search (`evident verify` reports it).
            Err(_) => String::new(),
        };
        docs.push(text);
    }
    let n = docs.len() as u64;
    store.index_text(from, docs).await?;
    Ok(n)
}

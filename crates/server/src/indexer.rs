//! The text indexer: feeds the full-text index behind ingest, off the durable path.
//!
//! Ingest never waits for it. It follows the log in `seq` order, resolves each
//! entry's payloads, extracts the searchable text (evident-core `text`) and appends it
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
    let entries = store
        .read_entries(from, (from + STEP).min(head.size))
        .await?;
    let mut docs = Vec::with_capacity(entries.len());
    for entry in &entries {
        let text = match serde_json::from_slice(&entry.entry) {
            Ok(serde_json::Value::Object(mut record)) => {
                let erased = crate::reading::resolve_payloads(app, &mut record)
                    .await
                    .map_err(|e| StoreError::Internal(e.detail))?;
                // An erased subject's events get no search text back.
                if erased {
                    String::new()
                } else {
                    evident_core::text::searchable_text(&record)
                }
            }
            _ => String::new(),
        };
        docs.push(text);
    }
    let n = docs.len() as u64;
    store.index_text(from, docs).await?;
    Ok(n)
}

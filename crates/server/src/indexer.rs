//! The text indexer: feeds the full-text index behind ingest, off the durable path.
//!
//! Ingest never waits for it. It follows the log in `seq` order, resolves each
//! entry's payloads, extracts the searchable text (evident-core `text`) and appends it
//! to the store's full-text index, which records how far it got (`indexed_through`).
//! Advancing is compare-and-swap, so two indexers (two processes) never double-index.
//!
//! The ingest path already had each event's text in hand (before its payloads were
//! encrypted): it leaves it in the [`TextBuffer`] under the event's `seq`, and the
//! indexer takes it from there. Only what the buffer lacks (events ingested by
//! another server, uploads, text dropped because the buffer was full, anything before
//! a restart) is read back from the store and decrypted, a page of entries with their
//! blobs at a time as the read API does it (one entry and one blob at a time, a
//! 10M-event bench showed this path at ~3,700 entries/s: slower than ingest, so an
//! indexer that once fell behind never caught up). The store blanks the text of
//! erased subjects as it indexes (`Store::index_text`), so a buffered text never
//! outlives an erasure.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use evident_store::StoreError;

use crate::state::App;

/// Entries indexed per step.
const STEP: u64 = 2_000;

/// Pause when the index has caught up with the log.
const IDLE: Duration = Duration::from_millis(100);

/// Most bytes of text the buffer holds; beyond it new texts are dropped (and read back
/// from the store when their turn comes), so a stalled indexer cannot exhaust memory.
const BUFFER_BYTES: usize = 32 << 20;

/// Searchable texts of events this process appended, by `seq`, waiting for the indexer.
#[derive(Debug, Default)]
pub struct TextBuffer {
    inner: Mutex<Buffered>,
}

#[derive(Debug, Default)]
struct Buffered {
    texts: BTreeMap<u64, String>,
    bytes: usize,
}

impl TextBuffer {
    /// Keeps the text of the entry at `seq`, if there is room.
    pub fn put(&self, seq: u64, text: String) {
        let Ok(mut buffered) = self.inner.lock() else {
            return;
        };
        if buffered.bytes + text.len() > BUFFER_BYTES {
            return;
        }
        buffered.bytes += text.len();
        if let Some(old) = buffered.texts.insert(seq, text) {
            buffered.bytes -= old.len();
        }
    }

    /// Takes the texts of `from..to` out of the buffer (one slot per `seq`, `None`
    /// where it has none) and forgets anything older, which another indexer covered.
    fn take(&self, from: u64, to: u64) -> Vec<Option<String>> {
        let Ok(mut buffered) = self.inner.lock() else {
            return vec![None; usize::try_from(to - from).unwrap_or(0)];
        };
        let mut kept = buffered.texts.split_off(&from);
        let rest = kept.split_off(&to);
        let stale = std::mem::replace(&mut buffered.texts, rest);
        let mut slots = vec![None; usize::try_from(to - from).unwrap_or(0)];
        let mut freed: usize = stale.values().map(String::len).sum();
        for (seq, text) in kept {
            freed += text.len();
            if let Some(slot) = usize::try_from(seq - from)
                .ok()
                .and_then(|i| slots.get_mut(i))
            {
                *slot = Some(text);
            }
        }
        buffered.bytes = buffered.bytes.saturating_sub(freed);
        slots
    }
}

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
    // One step at a time per app: the background task and a caller that wants the
    // index current now (`evident search` without a server, tests) would otherwise
    // both start from the same position and one would lose with a `Conflict`. Other
    // processes are kept apart by the store's compare-and-swap.
    let _one_at_a_time = app.indexing.lock().await;
    let store = &*app.store;
    if !store.try_lead().await? {
        return Ok(0);
    }
    let from = store.text_indexed_through().await?;
    let head = store.tree_head().await?;
    if from >= head.size {
        return Ok(0);
    }
    let to = (from + STEP).min(head.size);
    let buffered = app.texts.take(from, to);
    if buffered.iter().all(Option::is_some) {
        let docs: Vec<String> = buffered.into_iter().flatten().collect();
        let n = docs.len() as u64;
        store.index_text(from, docs).await?;
        return Ok(n);
    }
    let mut docs = Vec::with_capacity(buffered.len());
    let mut read_back = read_back_texts(app, from, &buffered).await?.into_iter();
    for (seq, buffered) in (from..).zip(buffered) {
        match buffered {
            Some(text) => docs.push(text),
            None => match read_back.next() {
                Some((read_seq, text)) if read_seq == seq => docs.push(text),
                // The store lacks an entry the head covers: index what came before.
                _ => break,
            },
        }
    }
    let n = docs.len() as u64;
    store.index_text(from, docs).await?;
    Ok(n)
}

/// The searchable texts of the entries whose slot in `buffered` (from `from` on) is
/// empty, by `seq`, read back from the store: entries with their blobs a page at a
/// time (one store call each, the page's data keys in one vault call, decryption and
/// splicing as the read API does them, `reading::records`). An erased subject's
/// events get no text.
async fn read_back_texts(
    app: &App,
    from: u64,
    buffered: &[Option<String>],
) -> Result<Vec<(u64, String)>, StoreError> {
    let missing = |i: usize| buffered.get(i).is_some_and(Option::is_none);
    let Some(first) = (0..buffered.len()).find(|&i| missing(i)) else {
        return Ok(Vec::new());
    };
    let last = (0..buffered.len())
        .rev()
        .find(|&i| missing(i))
        .unwrap_or(first);
    let (start, end) = (from + first as u64, from + last as u64 + 1);
    let internal = |e: crate::error::ApiError| StoreError::Internal(e.detail);
    let mut texts = Vec::with_capacity(last + 1 - first);
    let mut after = start.checked_sub(1);
    loop {
        let page = app
            .store
            .search_with_blobs(&evident_store::SearchQuery {
                after_seq: after,
                before_seq: Some(end),
                limit: evident_store::MAX_SEARCH_LIMIT,
                ..evident_store::SearchQuery::default()
            })
            .await?;
        let Some(last_read) = page.entries.last().map(|e| e.seq) else {
            break;
        };
        for record in crate::reading::records(app, page.entries, page.blobs)
            .await
            .map_err(internal)?
        {
            if !missing(usize::try_from(record.seq - from).unwrap_or(usize::MAX)) {
                continue;
            }
            let text = if record.erased {
                String::new()
            } else {
                evident_core::text::searchable_text(&record.to_map().map_err(internal)?)
            };
            texts.push((record.seq, text));
        }
        if last_read + 1 >= end {
            break;
        }
        after = Some(last_read);
    }
    Ok(texts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_hands_out_a_range_and_forgets_what_is_older() {
        let buffer = TextBuffer::default();
        for seq in [1, 2, 4, 7] {
            buffer.put(seq, format!("text {seq}"));
        }
        assert_eq!(
            buffer.take(2, 5),
            vec![Some("text 2".into()), None, Some("text 4".into())]
        );
        // 1 was older than the range taken: gone; 7 is still there.
        assert_eq!(buffer.take(0, 8)[7], Some("text 7".into()));
        assert_eq!(buffer.take(0, 8), vec![None; 8]);
        assert_eq!(buffer.inner.lock().unwrap().bytes, 0);
    }

    #[test]
    fn a_full_buffer_drops_new_texts() {
        let buffer = TextBuffer::default();
        buffer.put(0, "x".repeat(BUFFER_BYTES));
        buffer.put(1, "y".into());
        assert_eq!(buffer.take(0, 2)[1], None);
    }
}

//! Checkpointing the write-ahead log off the writer's path.
//!
//! By default SQLite copies the WAL back into the database inside the commit that
//! pushes it past 1,000 pages, so the single writer (and every request waiting on its
//! group commit) pays for it. Here the writer connection has `wal_autocheckpoint = 0`
//! and a thread with its own connection runs `PASSIVE` checkpoints instead, which
//! copy what they can without blocking the writer or readers. Under a load that
//! never pauses the WAL could then grow without bound, because SQLite rewinds it only
//! once a checkpoint has caught up; past [`DEFAULT_REWIND_FRAMES`] the thread asks the writer
//! to run a `RESTART` checkpoint between two of its commits
//! ([`Checkpointer::rewind_if_asked`]). The thread cannot do it itself: a `RESTART`
//! needs a moment with no write transaction, and a writer committing back to back
//! never leaves one that a waiting connection's busy handler catches (in a 10M-event
//! bench the WAL grew past 4 GB that way).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::StoreResult;

/// How often the thread checkpoints.
const INTERVAL: Duration = Duration::from_millis(200);

/// WAL frames (pages, 4 KiB by default) beyond which the WAL is rewound even if that
/// briefly holds up the writer: 16 Ki frames, about 64 MiB. Kept small on purpose:
/// the file is not truncated after a rewind, so commits write over blocks the file
/// already has, and appending to fresh blocks (which the filesystem must zero first)
/// cost the writer more than the copying it saves.
pub(super) const DEFAULT_REWIND_FRAMES: i64 = 16_384;

/// The checkpointing thread; dropping it stops the thread and waits for it.
pub(super) struct Checkpointer {
    stop: Arc<AtomicBool>,
    /// Set by the thread when the WAL should be rewound; taken by the writer.
    rewind: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`.
    ///
    /// # Errors
    /// The database cannot be opened.
    pub(super) fn start(path: &Path, rewind_frames: i64) -> StoreResult<Self> {
        let conn = super::open_connection(path, false)?;
        // Checkpointing streams pages from the WAL to the database: it needs no cache
        // of its own beyond a few pages (the default 32 MB would count against RSS).
        conn.pragma_update(None, "cache_size", -2_000)
            .map_err(super::map_err)?;
        let stop = Arc::new(AtomicBool::new(false));
        let rewind = Arc::new(AtomicBool::new(false));
        let (stopping, asking) = (stop.clone(), rewind.clone());
        let thread = std::thread::Builder::new()
            .name("evident-wal".into())
            .spawn(move || run(&conn, &stopping, &asking, rewind_frames))
            .map_err(|e| crate::StoreError::Internal(format!("cannot start a thread: {e}")))?;
        Ok(Self {
            stop,
            rewind,
            thread: Some(thread),
        })
    }

    /// Called by the writer between two commits, on its own connection: rewinds the
    /// WAL if the thread asked for it. The thread has already copied most of the WAL
    /// into the database, so this copies the rest and waits for readers of older
    /// snapshots (a few milliseconds) before the next commit writes from the start.
    pub(super) fn rewind_if_asked(&self, writer: &Connection) {
        if !self.rewind.swap(false, Ordering::Relaxed) {
            return;
        }
        match checkpoint_result(writer, "RESTART") {
            Ok((0, _)) => {}
            // Readers held on for the whole busy timeout: the thread asks again.
            Ok((_, frames)) => tracing::debug!(frames, "write-ahead log not rewound: busy"),
            Err(e) => tracing::warn!(error = %e, "could not rewind the write-ahead log"),
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

fn run(conn: &Connection, stop: &AtomicBool, rewind: &AtomicBool, rewind_frames: i64) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::park_timeout(INTERVAL);
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match checkpoint_result(conn, "PASSIVE") {
            Ok((_, frames)) if frames > rewind_frames => rewind.store(true, Ordering::Relaxed),
            Ok(_) => {}
            // A full disk or a busy database: the next round tries again, and commits
            // go on appending to the WAL meanwhile.
            Err(e) => tracing::debug!(error = %e, "write-ahead log checkpoint failed"),
        }
    }
}

/// Runs one checkpoint; returns whether it was kept from finishing (1) or not (0),
/// and the WAL's size in frames.
fn checkpoint_result(conn: &Connection, mode: &str) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
}

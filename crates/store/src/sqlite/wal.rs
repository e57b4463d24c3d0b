//! Checkpointing the write-ahead log off the writer's path.
//!
//! By default SQLite copies the WAL back into the database inside the commit that
//! pushes it past 1,000 pages, so the single writer (and every request waiting on its
//! group commit) pays for it. Here the writer connection has `wal_autocheckpoint = 0`
//! and a thread with its own connection runs `PASSIVE` checkpoints instead, which
//! copy what they can without blocking the writer or readers. Under a load that
//! never pauses the WAL could then grow without bound, because SQLite rewinds it only
//! once a checkpoint has caught up; past [`RESTART_FRAMES`] the thread runs a
//! `RESTART` checkpoint, which waits for the writer between two commits.

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
const RESTART_FRAMES: i64 = 16_384;

/// The checkpointing thread; dropping it stops the thread and waits for it.
pub(super) struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path`.
    ///
    /// # Errors
    /// The database cannot be opened.
    pub(super) fn start(path: &Path) -> StoreResult<Self> {
        let conn = super::open_connection(path, false)?;
        // Checkpointing streams pages from the WAL to the database: it needs no cache
        // of its own beyond a few pages (the default 32 MB would count against RSS).
        conn.pragma_update(None, "cache_size", -2_000)
            .map_err(super::map_err)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("evident-wal".into())
            .spawn(move || run(&conn, &stopping))
            .map_err(|e| crate::StoreError::Internal(format!("cannot start a thread: {e}")))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
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

fn run(conn: &Connection, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::park_timeout(INTERVAL);
        if stop.load(Ordering::Relaxed) {
            break;
        }
        match checkpoint(conn, "PASSIVE") {
            Ok(frames) if frames > RESTART_FRAMES => {
                if let Err(e) = checkpoint(conn, "RESTART") {
                    tracing::warn!(error = %e, "could not rewind the write-ahead log");
                }
            }
            Ok(_) => {}
            // A full disk or a busy database: the next round tries again, and commits
            // go on appending to the WAL meanwhile.
            Err(e) => tracing::debug!(error = %e, "write-ahead log checkpoint failed"),
        }
    }
}

/// Runs one checkpoint; returns the WAL's size in frames.
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<i64> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        r.get::<_, i64>(1)
    })
}

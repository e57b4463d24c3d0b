//! Crypto-shredding a subject in the embedded store (CONTRACT section 2, "Erasure").
//!
//! How no decryptable copy of the key survives in the data dir:
//! 1. the subject's `data_keys` rows are deleted, in the transaction that appends the
//!    `subject_erasure` event ([`crate::Effect::EraseSubject`]); `secure_delete=ON`
//!    makes SQLite overwrite the deleted bytes with zeros in the page, and freed
//!    pages too;
//! 2. the commit goes to the WAL, whose older frames still hold the page with the
//!    wrapped key. Right after the commit, the writer runs
//!    `wal_checkpoint(TRUNCATE)`, which copies the new page into the database and
//!    truncates the WAL to zero bytes. It does not wait for readers (nor sleep holding
//!    the writer): if a reader still holds old frames, the writer tries again after
//!    each following commit, and at the latest on close, until one succeeds
//!    ([`WalScrub`]). The erasure's success never depends on it: the commit is what
//!    is durable;
//! 3. the wrapped key was only ever decryptable with the master key, which is not in
//!    the database; old backups of the database (and WAL frames not yet truncated)
//!    hold only wrapped keys, and rotating the master key (`evident keys
//!    rotate-master`) retires the key that opens them.
//!
//! Blobs and vault values stay as ciphertext nobody can open (reads answer 410); the
//! subject's search text is deleted; entries and proofs are untouched.

use rusqlite::{params, Connection, Transaction};

use super::map_err;
use crate::{ErasureReport, StoreResult};

/// What erasing `subject` would destroy, as this connection sees it.
pub(super) fn plan(conn: &Connection, subject: &str) -> rusqlite::Result<ErasureReport> {
    let count = |sql: &str| -> rusqlite::Result<u64> {
        conn.query_row(sql, [subject], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or_default())
    };
    Ok(ErasureReport {
        keys: count("SELECT count(*) FROM data_keys WHERE subject = ?1")?,
        blobs: count(
            "SELECT count(*) FROM blobs WHERE key_id IN (SELECT key_id FROM data_keys WHERE subject = ?1)",
        )?,
        values: count(
            "SELECT count(*) FROM vault WHERE key_id IN (SELECT key_id FROM data_keys WHERE subject = ?1)",
        )?,
        texts: count(
            "SELECT count(*) FROM events_fts WHERE rowid IN (SELECT seq FROM entries WHERE subject = ?1)",
        )?,
    })
}

/// Erases `subject` inside `tx` if it would destroy exactly `expect`; returns what it
/// would destroy otherwise, changing nothing.
pub(super) fn erase_subject(
    tx: &Transaction<'_>,
    subject: &str,
    now_micros: i64,
    expect: &ErasureReport,
) -> StoreResult<Result<(), ErasureReport>> {
    let found = plan(tx, subject).map_err(map_err)?;
    if found != *expect {
        return Ok(Err(found));
    }
    tx.execute(
        "DELETE FROM events_fts WHERE rowid IN (SELECT seq FROM entries WHERE subject = ?1)",
        [subject],
    )
    .map_err(map_err)?;
    tx.execute(
        "INSERT OR IGNORE INTO destroyed_keys(key_id, subject, destroyed_at)
         SELECT key_id, subject, ?2 FROM data_keys WHERE subject = ?1",
        params![subject, now_micros],
    )
    .map_err(map_err)?;
    tx.execute("DELETE FROM data_keys WHERE subject = ?1", [subject])
        .map_err(map_err)?;
    // Sealed under the keys just destroyed: unreadable already, deleted so that
    // nothing of the subject's identifiers remains.
    tx.execute(
        "DELETE FROM subject_identifiers WHERE subject = ?1",
        [subject],
    )
    .map_err(map_err)?;
    tx.execute(
        "INSERT INTO erasures(subject, erased_at) VALUES (?1, ?2)
         ON CONFLICT(subject) DO UPDATE SET erased_at = excluded.erased_at",
        params![subject, now_micros],
    )
    .map_err(map_err)?;
    Ok(Ok(()))
}

/// Destroys the data keys of `subject` and the vault values sealed under them,
/// without recording an erasure (an upload's own key once an event claimed it).
pub(super) fn destroy_data_keys(tx: &Transaction<'_>, subject: &str) -> StoreResult<u64> {
    tx.execute(
        "DELETE FROM vault WHERE key_id IN (SELECT key_id FROM data_keys WHERE subject = ?1)",
        [subject],
    )
    .map_err(map_err)?;
    let n = tx
        .execute("DELETE FROM data_keys WHERE subject = ?1", [subject])
        .map_err(map_err)?;
    Ok(n as u64)
}

/// Whether the WAL may still hold pages with destroyed secrets: set by a commit that
/// destroyed some, cleared by the first `wal_checkpoint(TRUNCATE)` that completes.
#[derive(Debug, Default)]
pub(super) struct WalScrub {
    pending: bool,
}

impl WalScrub {
    /// After a commit that destroyed secrets.
    pub(super) fn needed(&mut self) {
        self.pending = true;
    }

    /// Tries once to fold the WAL into the database and truncate it to zero bytes, if
    /// a commit destroyed secrets since the last success. Never waits on readers
    /// beyond the connection's busy timeout: a reader holding old frames means a
    /// later try.
    pub(super) fn try_truncate(&mut self, conn: &Connection) {
        if !self.pending {
            return;
        }
        // A zero busy timeout for this one call: readers make it give up, not wait.
        if let Err(e) = conn.busy_timeout(std::time::Duration::ZERO) {
            tracing::warn!(error = %e, "could not truncate the write-ahead log");
            return;
        }
        let truncated = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            r.get::<_, i64>(0)
        });
        if let Err(e) = conn.busy_timeout(super::BUSY_TIMEOUT) {
            tracing::warn!(error = %e, "could not restore the busy timeout");
        }
        match truncated {
            Ok(0) => self.pending = false,
            Ok(_) => tracing::debug!("write-ahead log not truncated yet: readers hold old frames"),
            Err(e) => tracing::warn!(error = %e, "could not truncate the write-ahead log"),
        }
    }
}

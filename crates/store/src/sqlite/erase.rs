//! Crypto-shredding a subject in the embedded store (CONTRACT section 2, "Erasure").
//!
//! How no decryptable copy of the key survives in the data dir:
//! 1. the subject's `data_keys` rows are deleted; `secure_delete=ON` makes SQLite
//!    overwrite the deleted bytes with zeros in the page, and freed pages too;
//! 2. the change commits to the WAL, whose older frames still hold the page with the
//!    wrapped key; `wal_checkpoint(TRUNCATE)` copies the new page into the database
//!    and truncates the WAL to zero bytes, so no frame with the old page remains;
//! 3. the wrapped key was only ever decryptable with the master key, which is not in
//!    the database; old backups of the database hold only wrapped keys, and rotating
//!    the master key (`evident keys rotate-master`) retires the key that opens them.
//!
//! Blobs and vault values stay as ciphertext nobody can open (reads answer 410); the
//! subject's search text is deleted; entries and proofs are untouched.

use rusqlite::{params, Connection, TransactionBehavior};

use super::map_err;
use crate::{ErasureReport, StoreResult};

pub(super) fn erase_subject(
    conn: &mut Connection,
    subject: &str,
    now_micros: i64,
) -> StoreResult<ErasureReport> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let count = |sql: &str| -> StoreResult<u64> {
        tx.query_row(sql, [subject], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or_default())
            .map_err(map_err)
    };
    let blobs = count(
        "SELECT count(*) FROM blobs WHERE key_id IN (SELECT key_id FROM data_keys WHERE subject = ?1)",
    )?;
    let values = count(
        "SELECT count(*) FROM vault WHERE key_id IN (SELECT key_id FROM data_keys WHERE subject = ?1)",
    )?;
    let texts = tx
        .execute(
            "DELETE FROM events_fts WHERE rowid IN (SELECT seq FROM entries WHERE subject = ?1)",
            [subject],
        )
        .map_err(map_err)? as u64;
    tx.execute(
        "INSERT OR IGNORE INTO destroyed_keys(key_id, subject, destroyed_at)
         SELECT key_id, subject, ?2 FROM data_keys WHERE subject = ?1",
        params![subject, now_micros],
    )
    .map_err(map_err)?;
    let keys = tx
        .execute("DELETE FROM data_keys WHERE subject = ?1", [subject])
        .map_err(map_err)? as u64;
    tx.execute(
        "INSERT INTO erasures(subject, erased_at) VALUES (?1, ?2)
         ON CONFLICT(subject) DO UPDATE SET erased_at = excluded.erased_at",
        params![subject, now_micros],
    )
    .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    truncate_wal(conn)?;
    Ok(ErasureReport {
        keys,
        blobs,
        values,
        texts,
    })
}

/// Folds the WAL into the database and truncates it to zero bytes, waiting (bounded)
/// for readers that hold old frames.
///
/// # Errors
/// [`crate::StoreError::Unavailable`] if readers kept the WAL busy for 10 s.
pub(super) fn truncate_wal(conn: &Connection) -> StoreResult<()> {
    for _ in 0..100 {
        let busy: i64 = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .map_err(map_err)?;
        if busy == 0 {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(crate::StoreError::Unavailable(
        "readers kept the write-ahead log busy; the erasure is committed but old pages may remain until the next checkpoint".into(),
    ))
}

//! Bytes on disk by table and index of an embedded store, from SQLite's `dbstat`
//! virtual table: what `evident bench` reports as bytes per event. Read-only; the
//! SQL stays in this crate.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::map_err;
use crate::StoreResult;

/// The database's pages, by table and index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSizes {
    /// Each table's and index's bytes, largest first.
    pub tables: Vec<(String, u64)>,
    /// The whole database file's pages (used and free).
    pub database_bytes: u64,
}

/// Measures the database file `db` (e.g. `<data>/evident.db`), opened read-only.
///
/// # Errors
/// The file cannot be opened, or this SQLite was built without `dbstat`.
pub fn table_sizes(db: &Path) -> StoreResult<TableSizes> {
    let conn =
        Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(map_err)?;
    let mut stmt = conn
        .prepare("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")
        .map_err(map_err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map_err(map_err)?;
    let mut tables = Vec::new();
    for row in rows {
        let (name, bytes) = row.map_err(map_err)?;
        tables.push((name, u64::try_from(bytes).unwrap_or(0)));
    }
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .map_err(map_err)?;
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(map_err)?;
    Ok(TableSizes {
        tables,
        database_bytes: u64::try_from(pages * page_size).unwrap_or(0),
    })
}

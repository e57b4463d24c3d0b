//! The conformance suite against the embedded SQLite store.

use evident_store::sqlite::{SqliteOptions, SqliteStore};

async fn fresh_store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), &SqliteOptions::default()).unwrap();
    (store, dir)
}

evident_store::conformance_suite!(fresh_store);

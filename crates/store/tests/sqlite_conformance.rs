//! The conformance suite against the embedded SQLite store.

use evident_store::sqlite::{SqliteOptions, SqliteStore};

async fn fresh_store() -> (std::sync::Arc<dyn evident_store::Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), &SqliteOptions::default()).unwrap();
    (std::sync::Arc::new(store), dir)
}

evident_store::conformance_suite!(fresh_store);

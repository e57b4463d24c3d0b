//! The conformance suite against a real PostgreSQL server.
//!
//! `./scripts/test` starts a throwaway cluster and sets `EVIDENT_TEST_DATABASE_URL`
//! (a superuser URL); each test gets a database of its own. Without the variable the
//! tests say so and pass, unless `EVIDENT_REQUIRE_POSTGRES=1` (set by the test
//! script, so CI never skips them).

use std::sync::Arc;

use evident_store::postgres::PgStore;
use evident_store::Store;

/// Drops the test's database when the test ends.
pub struct TestDatabase {
    admin_url: String,
    name: String,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // A fresh runtime: the test's own is shutting down.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await
                {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A store on a new, empty database; `None` when no PostgreSQL is configured.
pub async fn fresh_database() -> Option<(String, TestDatabase)> {
    let Ok(admin_url) = std::env::var("EVIDENT_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("EVIDENT_REQUIRE_POSTGRES").is_err(),
            "EVIDENT_TEST_DATABASE_URL is not set but PostgreSQL tests are required"
        );
        eprintln!("SKIPPED: no PostgreSQL (run ./scripts/test, which starts one)");
        return None;
    };
    let name = format!("evident_test_{:016x}", rand::random::<u64>());
    let (client, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = with_database(&admin_url, &name);
    Some((url, TestDatabase { admin_url, name }))
}

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, ""), |(b, q)| (b, q));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    if query.is_empty() {
        format!("{base}/{name}")
    } else {
        format!("{base}/{name}?{query}")
    }
}

async fn fresh_store() -> (
    Arc<dyn Store>,
    Option<TestDatabase>,
    Option<tempfile::TempDir>,
) {
    match fresh_database().await {
        Some((url, guard)) => (
            Arc::new(PgStore::connect(&url).await.unwrap()),
            Some(guard),
            None,
        ),
        None => {
            // Without PostgreSQL the suite runs on SQLite, so the test still checks
            // something real; the skip was announced above.
            let dir = tempfile::tempdir().unwrap();
            let store =
                evident_store::sqlite::SqliteStore::open(dir.path(), &Default::default()).unwrap();
            (Arc::new(store), None, Some(dir))
        }
    }
}

async fn fresh() -> (
    Arc<dyn Store>,
    (Option<TestDatabase>, Option<tempfile::TempDir>),
) {
    let (store, database, dir) = fresh_store().await;
    (store, (database, dir))
}

evident_store::conformance_suite!(fresh);

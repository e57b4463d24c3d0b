//! Faults in the store: the Nth append fails before writing, or fails after its commit
//! reached the disk ("failed but persisted"). Either way: no fork, no gap, a retry gets
//! the first answer, the next append works, and `verify` passes.

use std::sync::Arc;

use evident_server::auth::{Principal, Role};
use evident_server::datadir::{self, SecretPaths};
use evident_server::state::{App, Settings};
use evident_server::verifier::{verify_store, Depth};
use evident_store::faulty::{FailMode, FaultyStore};
use evident_store::sqlite::{SqliteOptions, SqliteStore};
use evident_store::Store;
use serde_json::{json, Value};

fn batch(prefix: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({"event_id": format!("{prefix}-{i}"), "trace_id": "t", "timestamp": "2026-11-23T10:00:00Z",
                   "actor": {"type": "agent", "id": "a"}, "event_type": "step", "input": {"i": i}})
        })
        .collect()
}

async fn app_with_fault(dir: &std::path::Path, mode: FailMode, fail_at: u64) -> Arc<App> {
    let store = SqliteStore::open(dir, &SqliteOptions::default()).unwrap();
    let paths = SecretPaths::new(dir, None);
    datadir::initialize(&store, &paths, Some("faults.example/log"))
        .await
        .unwrap();
    let secrets = datadir::load(&store, &paths).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(FaultyStore::new(store, mode, fail_at));
    App::start(store, secrets, Settings::default())
}

fn admin() -> Principal {
    Principal {
        name: "test".into(),
        role: Role::Admin,
        agents: evident_store::AgentBinding::Any,
    }
}

async fn check_fault(mode: FailMode) {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with_fault(dir.path(), mode, 3).await;
    let p = admin();
    let first = evident_server::ingest::ingest(&app, &p, batch("a", 5))
        .await
        .unwrap();
    evident_server::ingest::ingest(&app, &p, batch("b", 5))
        .await
        .unwrap();
    // The third append fails.
    let failed = evident_server::ingest::ingest(&app, &p, batch("c", 5))
        .await
        .unwrap_err();
    assert_eq!(failed.status.as_u16(), 503);
    let size_after_failure = app.store.tree_head().await.unwrap().size;
    match mode {
        FailMode::BeforeWrite | FailMode::BetweenEffectAndAppend => {
            assert_eq!(size_after_failure, 10)
        }
        FailMode::AfterPersist => assert_eq!(size_after_failure, 15),
    }
    // The client retries: its events land once, at one position.
    let retried = evident_server::ingest::ingest(&app, &p, batch("c", 5))
        .await
        .unwrap();
    assert_eq!(
        retried.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![10, 11, 12, 13, 14]
    );
    assert_eq!(retried[0].is_dup, mode == FailMode::AfterPersist);
    // Earlier answers are unchanged, the next append continues without a gap.
    let again = evident_server::ingest::ingest(&app, &p, batch("a", 5))
        .await
        .unwrap();
    assert_eq!(
        again,
        first
            .into_iter()
            .map(|mut a| {
                a.is_dup = true;
                a
            })
            .collect::<Vec<_>>()
    );
    let next = evident_server::ingest::ingest(&app, &p, batch("d", 2))
        .await
        .unwrap();
    assert_eq!(next[0].seq, 15);
    evident_server::checkpointer::sign_if_grown(&app)
        .await
        .unwrap();
    let report = verify_store(
        &*app.store,
        &app.vault,
        &app.identity.verifier_key,
        &[],
        Depth::Full,
        &|_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(report.tree_size, 17);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_before_write_stores_nothing_and_the_log_goes_on() {
    check_fault(FailMode::BeforeWrite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_after_persist_is_answered_by_the_retry() {
    check_fault(FailMode::AfterPersist).await;
}

/// A failure inside the transaction (after the request's effects, before its events)
/// rolls back like one before the write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_inside_the_transaction_stores_nothing() {
    check_fault(FailMode::BetweenEffectAndAppend).await;
}

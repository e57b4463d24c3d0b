//! The conformance suite against the embedded SQLite store.

use evident_store::sqlite::{SqliteOptions, SqliteStore};

async fn fresh_store() -> (std::sync::Arc<dyn evident_store::Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), &SqliteOptions::default()).unwrap();
    (std::sync::Arc::new(store), dir)
}

evident_store::conformance_suite!(fresh_store);

/// Two processes may open one data dir (`serve` and an `evident ingest --data`). Each
/// keeps a cache of the newest `seq` per trace and subject for the back-links; an
/// append by the other must never leave it pointing at a stale entry.
#[tokio::test]
async fn back_links_stay_exact_when_another_writer_appends() {
    use evident_store::conformance::{test_event, test_token_key};
    use evident_store::{AppendRequest, Store};
    use serde_json::Value;

    let dir = tempfile::tempdir().unwrap();
    let first = SqliteStore::open(dir.path(), &SqliteOptions::default()).unwrap();
    let second = SqliteStore::open(dir.path(), &SqliteOptions::default()).unwrap();
    let append = |store: &SqliteStore, id: &str, trace: &str, subject: Option<&str>| {
        let event = test_event(id, trace, subject, "x");
        let store = store.clone();
        async move {
            store
                .append(vec![AppendRequest {
                    events: vec![event],
                }])
                .await
                .unwrap()
        }
    };
    append(&first, "e0", "t", Some("alice")).await;
    append(&first, "e1", "t", Some("alice")).await; // first's cache: t → 1
    append(&second, "e2", "t", Some("alice")).await; // behind first's back
    append(&first, "e3", "t", Some("alice")).await; // must link to 2, not 1
    append(&second, "e4", "u", None).await;
    append(&first, "e5", "t", None).await; // must link to 3

    let entries = first.read_entries(0, 6).await.unwrap();
    let field = |seq: usize, name: &str| -> Value {
        serde_json::from_slice::<Value>(&entries[seq].entry).unwrap()[name].clone()
    };
    let expected_trace_prev = [None, Some(0), Some(1), Some(2), None, Some(3)];
    let expected_subject_prev = [None, Some(0), Some(1), Some(2), None, None];
    for seq in 0..6 {
        assert_eq!(
            field(seq, "trace_prev"),
            expected_trace_prev[seq].map_or(Value::Null, Value::from),
            "trace_prev of seq {seq}"
        );
        assert_eq!(
            field(seq, "subject_prev"),
            expected_subject_prev[seq].map_or(Value::Null, Value::from),
            "subject_prev of seq {seq}"
        );
    }
    let token = test_token_key().subject_token("alice");
    assert_eq!(field(3, "context")["subject"], Value::from(token));
}

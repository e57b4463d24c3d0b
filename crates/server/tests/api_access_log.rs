//! The read-access log (CONTRACT section 4, `GET /api/v1/access-log`): every read path
//! is noted with key, role, path and status (a subject only as its token), written in
//! batches with an `access_log_checkpoint` event each; `verify` catches an edited,
//! deleted or added record.

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::{json, Value};

async fn flush(t: &TestApp) {
    evident_server::access_log::flush(&t.app)
        .await
        .expect("the flush writes");
}

async fn access_log(t: &TestApp, query: &str) -> Value {
    let reply = t
        .get(&format!("/api/v1/access-log{query}"), Some(&t.auditor))
        .await;
    reply.ok_json()
}

async fn verify(t: &TestApp) -> Result<evident_server::verifier::VerifyReport, String> {
    evident_server::verifier::verify_store(
        &*t.app.store,
        &t.app.vault,
        &t.verifier_key,
        &[],
        evident_server::verifier::Depth::Log,
        &|_, _| {},
    )
    .await
    .map_err(|e| e.to_string())
}

fn event(id: &str) -> Value {
    json!({
        "event_id": id, "trace_id": "t-1", "timestamp": "2026-11-23T10:00:00Z",
        "actor": {"type": "agent", "id": "bot"}, "event_type": "tool_call",
        "context": {"subject": "wei-1042", "job_id": "job-1"},
        "input": {"text": "hello wei@example.org"},
    })
}

/// Reads through every kind of path, then the log says who read what.
async fn read_everything(t: &TestApp) -> String {
    t.ingest_ok(&json!([event("e1")])).await;
    t.sign().await;
    let shown = t.get_event("e1").await.ok_json();
    let blob = shown["record"]["input"].clone();
    assert!(blob.is_object());
    let entry: Value = serde_json::from_slice(
        &t.store
            .entry_by_event_id("e1")
            .await
            .unwrap()
            .unwrap()
            .entry,
    )
    .unwrap();
    let reference = entry["input"]["$blob"].as_str().unwrap().to_owned();
    let reads = [
        "/api/v1/events?subject=wei-1042".to_owned(),
        "/api/v1/traces/t-1".to_owned(),
        "/api/v1/jobs/job-1".to_owned(),
        format!("/api/v1/blobs/{reference}"),
        "/tile/entries/000.p/1".to_owned(),
        "/api/v1/events/no-such".to_owned(),
    ];
    for path in &reads {
        t.get(path, Some(&t.auditor)).await;
    }
    // A reveal is a `vault_access` event of the main log too.
    let token = t.app.token_key.subject_token("wei-1042");
    t.send(
        Method::POST,
        "/api/v1/vault/reveal",
        Some(&t.privacy),
        Some("application/json"),
        json!({"tokens": [token], "reason": "check"}).to_string(),
    )
    .await
    .ok_json();
    // An erasure of a subject no event carries: 404, and the attempt is noted.
    t.send(
        Method::POST,
        "/api/v1/subjects/erase",
        Some(&t.privacy),
        Some("application/json"),
        json!({"subject": "nobody", "reason": "x"}).to_string(),
    )
    .await
    .problem(StatusCode::NOT_FOUND);
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_path_is_noted_without_clear_subjects_and_verified() {
    let t = TestApp::new().await;
    let token = read_everything(&t).await;
    flush(&t).await;
    let page = access_log(&t, "?key=auditor-1&limit=1000").await;
    let records = page["records"].as_array().unwrap();
    let paths: Vec<&str> = records
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    for expected in [
        "/api/v1/events/e1",
        "/api/v1/events",
        "/api/v1/traces/t-1",
        "/api/v1/jobs/job-1",
        "/tile/entries/000.p/1",
        "/api/v1/events/no-such",
    ] {
        assert!(paths.contains(&expected), "{expected} not in {paths:?}");
    }
    assert!(
        paths.iter().any(|p| p.starts_with("/api/v1/blobs/sha256:")),
        "{paths:?}"
    );
    let search = records
        .iter()
        .find(|r| r["path"] == "/api/v1/events")
        .unwrap();
    assert_eq!(search["query"]["subject"], json!(token));
    assert_eq!(search["role"], json!("auditor"));
    let missing = records
        .iter()
        .find(|r| r["path"] == "/api/v1/events/no-such")
        .unwrap();
    assert_eq!(missing["status"], json!(404));
    let text = serde_json::to_string(&page).unwrap();
    assert!(!text.contains("wei-1042"), "no clear subject: {text}");
    // Ingest is not a read; the privacy key's reveal and erasure attempt are noted.
    let privacy = access_log(&t, "?key=privacy-1").await;
    let privacy_paths: Vec<&str> = privacy["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        privacy_paths,
        ["/api/v1/vault/reveal", "/api/v1/subjects/erase"]
    );
    assert_eq!(
        access_log(&t, "?key=ingest-1").await["records"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );

    // Paging and time bounds.
    let first = access_log(&t, "?key=auditor-1&limit=2").await;
    assert_eq!(first["records"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = access_log(&t, &format!("?key=auditor-1&limit=2&cursor={cursor}")).await;
    assert_ne!(second["records"][0]["seq"], first["records"][0]["seq"]);
    assert_eq!(
        access_log(&t, "?to=2000-01-01T00:00:00Z").await["records"],
        json!([])
    );

    // Batches are main-log events; verify checks them.
    let batches = t
        .store
        .search(&evident_store::SearchQuery {
            event_type: Some("access_log_checkpoint".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!batches.is_empty());
    let report = verify(&t).await.unwrap();
    assert!(report.access_records >= 9, "{report:?}");

    // Roles: admin and auditor only.
    for key in [&t.ingest, &t.approver, &t.privacy] {
        t.get("/api/v1/access-log", Some(key))
            .await
            .problem(StatusCode::FORBIDDEN);
    }
    t.get("/api/v1/access-log?limit=0", Some(&t.admin))
        .await
        .problem(StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_deleted_or_added_access_record_fails_verify() {
    let edits = [
        "UPDATE access_log SET record = CAST('{\"key\":\"nobody\"}' AS BLOB) WHERE seq = 1",
        "DELETE FROM access_log WHERE seq = 2",
        "INSERT INTO access_log(seq, key, at, record) VALUES (1000, 'x', 0, CAST('{}' AS BLOB))",
    ];
    for (i, edit) in edits.into_iter().enumerate() {
        let t = TestApp::new().await;
        read_everything(&t).await;
        flush(&t).await;
        verify(&t).await.expect("sound before");
        assert_eq!(t.execute_sql(&postgres_or_sqlite(edit)).await, 1, "{edit}");
        let failure = verify(&t).await.expect_err("verify catches it");
        let wanted = [
            "a record was changed",
            "some missing",
            "its batches in the log cover",
        ][i];
        assert!(failure.contains(wanted), "{edit}: {failure}");
    }
}

/// The same edit in PostgreSQL's dialect when the test runs there.
fn postgres_or_sqlite(sql: &str) -> String {
    if std::env::var("EVIDENT_TEST_API_STORE").as_deref() == Ok("postgres") {
        sql.replace("AS BLOB", "AS BYTEA")
    } else {
        sql.to_owned()
    }
}

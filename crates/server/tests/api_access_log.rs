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

/// The records of key `key`, flushed first.
async fn records_of(t: &TestApp, key: &str) -> Vec<Value> {
    flush(t).await;
    access_log(t, &format!("?key={key}&limit=1000")).await["records"]
        .as_array()
        .unwrap()
        .clone()
}

/// One read of every family of read routes, each noted with its method, path and
/// status; the list in docs/lifecycle.md ("Who read what") is this one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_of_every_route_family_is_noted() {
    let t = TestApp::new().await;
    t.ingest_ok(&json!([event("e1")])).await;
    t.sign().await;
    let reference = {
        let entry = t.store.entry_by_event_id("e1").await.unwrap().unwrap();
        let record: Value = serde_json::from_slice(&entry.entry).unwrap();
        record["input"]["$blob"].as_str().unwrap().to_owned()
    };
    // (family, key, method, path, body)
    let reads: Vec<(&str, &str, Method, String, Option<Value>)> = vec![
        (
            "event by id",
            &t.auditor,
            Method::GET,
            "/api/v1/events/e1?proof=true".into(),
            None,
        ),
        (
            "search",
            &t.auditor,
            Method::GET,
            "/api/v1/events?type=tool_call".into(),
            None,
        ),
        (
            "search by body",
            &t.auditor,
            Method::POST,
            "/api/v1/events/search".into(),
            Some(json!({"type": "tool_call"})),
        ),
        (
            "trace",
            &t.auditor,
            Method::GET,
            "/api/v1/traces/t-1".into(),
            None,
        ),
        (
            "job",
            &t.auditor,
            Method::GET,
            "/api/v1/jobs/job-1".into(),
            None,
        ),
        (
            "job decisions",
            &t.auditor,
            Method::GET,
            "/api/v1/jobs/job-1/decisions".into(),
            None,
        ),
        (
            "timeline",
            &t.auditor,
            Method::GET,
            "/api/v1/workflow-runs/run-1/timeline".into(),
            None,
        ),
        (
            "blob",
            &t.auditor,
            Method::GET,
            format!("/api/v1/blobs/{reference}"),
            None,
        ),
        (
            "entry bundle",
            &t.auditor,
            Method::GET,
            "/tile/entries/000.p/1".into(),
            None,
        ),
        (
            "inclusion proof",
            &t.auditor,
            Method::GET,
            "/api/v1/proofs/inclusion?seq=0".into(),
            None,
        ),
        ("log", &t.auditor, Method::GET, "/api/v1/log".into(), None),
        (
            "approvals",
            &t.auditor,
            Method::GET,
            "/api/v1/approvals".into(),
            None,
        ),
        (
            "policies",
            &t.auditor,
            Method::GET,
            "/api/v1/policies".into(),
            None,
        ),
        (
            "policy audit",
            &t.auditor,
            Method::GET,
            "/api/v1/policy/audit".into(),
            None,
        ),
        (
            "artifacts",
            &t.auditor,
            Method::GET,
            "/api/v1/artifacts/prompt/none".into(),
            None,
        ),
        (
            "access log",
            &t.auditor,
            Method::GET,
            "/api/v1/access-log?limit=1".into(),
            None,
        ),
        (
            "legal holds",
            &t.privacy,
            Method::GET,
            "/api/v1/legal-holds".into(),
            None,
        ),
        (
            "erasure receipt",
            &t.privacy,
            Method::GET,
            "/api/v1/subjects/erasures/evt_none".into(),
            None,
        ),
    ];
    let mut expected = Vec::new();
    for (family, key, method, uri, body) in &reads {
        let reply = match body {
            Some(body) => {
                t.send(
                    method.clone(),
                    uri,
                    Some(key),
                    Some("application/json"),
                    body.to_string(),
                )
                .await
            }
            None => t.send(method.clone(), uri, Some(key), None, "").await,
        };
        let path = uri.split('?').next().unwrap().to_owned();
        expected.push((
            *family,
            method.as_str().to_owned(),
            path,
            reply.status.as_u16(),
        ));
    }
    let mut noted = records_of(&t, "auditor-1").await;
    noted.extend(records_of(&t, "privacy-1").await);
    for (family, method, path, status) in expected {
        assert!(
            noted.iter().any(|r| r["method"] == json!(method)
                && r["path"] == json!(path)
                && r["status"] == json!(status)),
            "{family}: {method} {path} ({status}) is not noted in {noted:#?}"
        );
    }
    verify(&t).await.expect("the access log verifies");
}

/// A POST that reads by what its body names is noted with it, the subject as its
/// token only: the search by body, the reveal (its tokens) and the erasure attempts
/// (a subject no event carries: 404; a held one: 409).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_reads_are_noted_with_their_body_and_the_subject_as_its_token() {
    let t = TestApp::new().await;
    t.ingest_ok(&json!([event("e1")])).await;
    let token = t.app.token_key.subject_token("wei-1042");
    t.send(
        Method::POST,
        "/api/v1/events/search",
        Some(&t.auditor),
        Some("application/json"),
        json!({"subject": "wei-1042", "type": "tool_call"}).to_string(),
    )
    .await
    .ok_json();
    let auditor = records_of(&t, "auditor-1").await;
    let search = auditor
        .iter()
        .find(|r| r["path"] == "/api/v1/events/search")
        .expect("the search by body is noted");
    assert_eq!(
        search["body"],
        json!({"subject": token, "type": "tool_call"})
    );
    assert_eq!(search["status"], json!(200));

    let erase = |subject: &str| {
        t.send(
            Method::POST,
            "/api/v1/subjects/erase",
            Some(&t.privacy),
            Some("application/json"),
            json!({"subject": subject, "reason": "art. 17 request"}).to_string(),
        )
    };
    erase("nobody-7").await.problem(StatusCode::NOT_FOUND);
    t.send(
        Method::POST,
        "/api/v1/legal-holds",
        Some(&t.privacy),
        Some("application/json"),
        json!({"subject": "wei-1042", "reason": "litigation"}).to_string(),
    )
    .await
    .ok_json();
    erase("wei-1042").await.problem(StatusCode::CONFLICT);
    t.send(
        Method::POST,
        "/api/v1/vault/reveal",
        Some(&t.privacy),
        Some("application/json"),
        json!({"tokens": [token, "wei@example.org"], "reason": "check"}).to_string(),
    )
    .await
    .problem(StatusCode::BAD_REQUEST);
    let privacy = records_of(&t, "privacy-1").await;
    let erasures: Vec<(&Value, &Value)> = privacy
        .iter()
        .filter(|r| r["path"] == "/api/v1/subjects/erase")
        .map(|r| (&r["body"]["subject"], &r["status"]))
        .collect();
    assert_eq!(
        erasures,
        [
            (
                &json!(t.app.token_key.subject_token("nobody-7")),
                &json!(404)
            ),
            (&json!(token), &json!(409)),
        ]
    );
    let reveal = privacy
        .iter()
        .find(|r| r["path"] == "/api/v1/vault/reveal")
        .expect("the refused reveal is noted");
    assert_eq!(reveal["body"]["tokens"], json!([token]), "{reveal}");
    let text = serde_json::to_string(&(&auditor, &privacy)).unwrap();
    for clear in ["wei-1042", "nobody-7", "wei@example.org"] {
        assert!(!text.contains(clear), "{clear} in clear: {text}");
    }
    verify(&t).await.expect("the access log verifies");
}

/// An erasure or a purge started outside HTTP (on the store, or by the schedule) is
/// noted as an attempt: who, what (the subject as its token), the status it would get.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_and_purge_attempts_outside_http_are_noted() {
    let t = TestApp::new().await;
    t.ingest_ok(&json!([event("e1")])).await;
    let principal = evident_server::auth::Principal {
        name: "cli".into(),
        role: evident_server::auth::Role::Privacy,
        agents: evident_store::AgentBinding::Any,
    };
    let request = |subject: &str| evident_server::privacy::EraseRequest {
        subject: subject.into(),
        reason: "request".into(),
    };
    let unknown =
        evident_server::privacy::erase_and_note(&t.app, &principal, request("nobody-7")).await;
    assert!(matches!(
        unknown,
        Err(evident_server::privacy::EraseError::UnknownSubject)
    ));
    let done = evident_server::privacy::erase_and_note(&t.app, &principal, request("wei-1042"))
        .await
        .expect("erased");
    let policy = evident_server::retention::RetentionPolicy::default();
    let refused = evident_server::retention::run_and_note(
        &t.app,
        &principal,
        &policy,
        "evident retention run",
    )
    .await;
    assert!(refused.is_err(), "no tiers: nothing could expire");
    // Written before they return: no flush needed.
    let records = access_log(&t, "?key=cli").await["records"]
        .as_array()
        .unwrap()
        .clone();
    let attempts: Vec<(&Value, &Value, &Value)> = records
        .iter()
        .map(|r| (&r["action"], &r["details"]["subject"], &r["status"]))
        .collect();
    assert_eq!(
        attempts,
        [
            (
                &json!("evident erase"),
                &json!(t.app.token_key.subject_token("nobody-7")),
                &json!(404)
            ),
            (
                &json!("evident erase"),
                &json!(t.app.token_key.subject_token("wei-1042")),
                &json!(200)
            ),
            (&json!("evident retention run"), &Value::Null, &json!(400)),
        ]
    );
    assert_eq!(records[1]["details"]["erasure"], json!(done.event.event_id));
    assert!(!serde_json::to_string(&records)
        .unwrap()
        .contains("wei-1042"));
    verify(&t).await.expect("the access log verifies");
}

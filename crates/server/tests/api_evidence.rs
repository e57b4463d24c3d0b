//! Evidence bundles over HTTP (CONTRACT section 8): `GET /api/v1/evidence` by trace,
//! subject token, job or case, `POST /api/v1/evidence` with a clear subject; what they
//! answer verifies with the offline checks; roles; a 4xx naming the field for bad
//! input; the read-access log records each export with the subject as its token.

mod common;

use axum::http::{header, Method, StatusCode};
use common::TestApp;
use evident_core::bundle::{verify_bundle, SelectionKind};
use serde_json::{json, Value};

fn event(id: &str, trace: &str) -> Value {
    json!({
        "event_id": id, "trace_id": trace, "timestamp": "2026-11-23T10:00:00Z",
        "actor": {"type": "agent", "id": "bot"}, "event_type": "tool_call",
        "context": {"subject": "wei-1042", "job_id": "job-1", "case_id": "case-9"},
        "input": {"text": "hello wei@example.org"},
    })
}

async fn setup() -> TestApp {
    let t = TestApp::new().await;
    let events: Vec<Value> = (0..6)
        .map(|i| event(&format!("e{i}"), if i % 2 == 0 { "t-1" } else { "t-2" }))
        .collect();
    t.ingest_ok(&Value::Array(events)).await;
    t.sign().await;
    t
}

/// Checks a 200 bundle answer with the offline verifier; returns the selection id and
/// the number of entries proven.
fn verified(t: &TestApp, reply: &common::Reply) -> (SelectionKind, String, usize) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.content_type(), "application/x-tar");
    let members = evident_server::evidence::read_bundle(reply.body.as_slice()).unwrap();
    let report = verify_bundle(&members, &t.verifier_key);
    assert!(report.holds(), "{:?}", report.failures);
    let selection = report.selection.unwrap();
    let entries: usize = reply.headers["evident-entries"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(report.entries, entries);
    (selection.kind, selection.id, report.entries)
}

async fn post(t: &TestApp, key: Option<&str>, body: &str) -> common::Reply {
    t.send(
        Method::POST,
        "/api/v1/evidence",
        key,
        Some("application/json"),
        body.to_owned(),
    )
    .await
}

#[tokio::test]
async fn bundles_by_trace_job_case_and_subject_verify_offline() {
    let t = setup().await;
    let token = t.app.token_key.subject_token("wei-1042");

    let reply = t
        .get("/api/v1/evidence?trace_id=t-1", Some(&t.auditor))
        .await;
    assert_eq!(
        verified(&t, &reply),
        (SelectionKind::Trace, "t-1".into(), 3)
    );
    assert!(reply.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .contains("attachment"));

    let reply = t.get("/api/v1/evidence?job_id=job-1", Some(&t.admin)).await;
    assert_eq!(
        verified(&t, &reply),
        (SelectionKind::Job, "job-1".into(), 6)
    );
    let reply = t
        .get("/api/v1/evidence?case_id=case-9", Some(&t.auditor))
        .await;
    assert_eq!(verified(&t, &reply).2, 6);

    let uri = format!("/api/v1/evidence?subject={token}");
    let reply = t.get(&uri, Some(&t.auditor)).await;
    assert_eq!(
        verified(&t, &reply),
        (SelectionKind::Subject, token.clone(), 6)
    );

    // A clear subject is posted, and becomes its token.
    let reply = post(&t, Some(&t.auditor), r#"{"subject": "wei-1042"}"#).await;
    assert_eq!(
        verified(&t, &reply),
        (SelectionKind::Subject, token.clone(), 6)
    );
    let reply = post(&t, Some(&t.auditor), r#"{"trace_id": "t-2"}"#).await;
    assert_eq!(verified(&t, &reply).2, 3);
}

#[tokio::test]
async fn only_reading_roles_export() {
    let t = setup().await;
    let reply = t
        .get("/api/v1/evidence?trace_id=t-1", Some(&t.ingest))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    let reply = t.get("/api/v1/evidence?trace_id=t-1", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = post(&t, Some(&t.ingest), r#"{"subject": "wei-1042"}"#).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_selections_are_4xx_naming_the_field() {
    let t = setup().await;
    let get = |query: &'static str| {
        let t = &t;
        async move {
            t.get(&format!("/api/v1/evidence{query}"), Some(&t.auditor))
                .await
        }
    };
    let detail = |reply: &common::Reply| {
        reply.client_problem()["detail"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    let reply = get("").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(detail(&reply).contains("trace_id"), "{}", detail(&reply));
    let reply = get("?trace_id=t-1&job_id=job-1").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    // A clear identifier in a URL is refused, and not echoed.
    let reply = get("?subject=wei-1042").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(detail(&reply).contains("subject"), "{}", detail(&reply));
    assert!(!reply.text().contains("wei-1042"));
    let reply = get("?trace_id=").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(detail(&reply).contains("trace_id"));
    // Nothing selected is 404, not an empty bundle.
    let reply = get("?trace_id=no-such-trace").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text());

    for (body, field) in [
        ("{}", "/trace_id"),
        (r#"{"subject": 5}"#, "/subject"),
        (r#"{"subject": ""}"#, "/subject"),
        (r#"{"colour": "red"}"#, "/colour"),
        (r#"{"subject": "a", "case_id": "b"}"#, "/"),
        ("[1]", ""),
        ("{", ""),
    ] {
        let reply = post(&t, Some(&t.auditor), body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text()
        );
        assert!(detail(&reply).contains(field), "{body}: {}", detail(&reply));
    }
}

#[tokio::test]
async fn exports_are_in_the_access_log_with_the_subject_as_its_token() {
    let t = setup().await;
    let token = t.app.token_key.subject_token("wei-1042");
    let reply = post(&t, Some(&t.auditor), r#"{"subject": "wei-1042"}"#).await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = t
        .get("/api/v1/evidence?trace_id=t-1", Some(&t.auditor))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    evident_server::access_log::flush(&t.app).await.unwrap();
    let log = t
        .get("/api/v1/access-log", Some(&t.auditor))
        .await
        .ok_json();
    let text = log.to_string();
    assert!(
        !text.contains("wei-1042"),
        "no clear subject in the access log: {text}"
    );
    let exports: Vec<&Value> = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"] == "/api/v1/evidence")
        .collect();
    assert_eq!(exports.len(), 2, "{text}");
    assert_eq!(exports[0]["method"], "POST");
    assert_eq!(exports[0]["query"]["subject"], json!(token));
    assert_eq!(exports[1]["query"]["trace_id"], "t-1");
}

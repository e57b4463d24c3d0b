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
    let manifest: evident_core::bundle::Manifest =
        serde_json::from_slice(&members[evident_core::bundle::MANIFEST]).unwrap();
    assert_eq!(manifest.entries.len(), entries);
    // The selected entries, and the publish entries that bind what they name.
    assert_eq!(report.entries, entries + manifest.supporting.len());
    (selection.kind, selection.id, entries)
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
    assert_eq!(exports[0]["body"]["subject"], json!(token));
    assert_eq!(exports[1]["query"]["trace_id"], "t-1");
}

const SCHEMA: &str = r#"
entity Agent;
entity Resource;
type Now = {hour: Long, weekday: String, date: String};
action "refund" appliesTo {
  principal: [Agent], resource: [Resource],
  context: {amount: Long, now: Now}
};
"#;

const REFUNDS_V1: &str = r#"@id("refund-small") @reason("small refunds are fine")
permit(principal, action == Action::"refund", resource) when { context.amount <= 10000 };
"#;

const REFUNDS_V2: &str = r#"@id("refund-none") @reason("no refunds")
forbid(principal, action == Action::"refund", resource);
"#;

async fn post_json(t: &TestApp, uri: &str, key: &str, body: &Value) -> common::Reply {
    t.send(
        Method::POST,
        uri,
        Some(key),
        Some("application/json"),
        body.to_string(),
    )
    .await
}

/// A decision's bundle carries the policy version it was made under, bound to its
/// `policy_publish` entry, and the versions hash to its `policy_snapshot`.
#[tokio::test]
async fn a_decision_bundle_carries_its_policy_versions() {
    let t = TestApp::new().await;
    let publish = |text: &str| json!({"id": "refunds", "text": text, "schema": SCHEMA});
    let v1 = post_json(&t, "/api/v1/policies", &t.admin, &publish(REFUNDS_V1))
        .await
        .ok_json();
    let decided = post_json(
        &t,
        "/api/v1/decide",
        &t.ingest,
        &json!({
            "agent": "refund-bot", "action": "refund", "resource": "order-1",
            "context": {"amount": 500}, "payload": {"order": "order-1"},
            "job_id": "job-pol", "trace_id": "t-pol",
        }),
    )
    .await
    .ok_json();
    assert_eq!(decided["decision"], "ALLOW");
    assert_eq!(decided["policy_snapshot"], v1["policy_snapshot"]);
    // A later version is not what the decision was made under.
    post_json(&t, "/api/v1/policies", &t.admin, &publish(REFUNDS_V2))
        .await
        .ok_json();
    t.sign().await;

    let reply = t
        .get("/api/v1/evidence?trace_id=t-pol", Some(&t.auditor))
        .await;
    let (_, _, entries) = verified(&t, &reply);
    assert_eq!(
        entries, 1,
        "the decision (its policy_publish entry supports it)"
    );
    let members = evident_server::evidence::read_bundle(reply.body.as_slice()).unwrap();
    let v1_sha = evident_core::bundle::sha256_hex(REFUNDS_V1.as_bytes());
    let v2_sha = evident_core::bundle::sha256_hex(REFUNDS_V2.as_bytes());
    let policy = evident_core::bundle::policy_path(&v1_sha);
    assert_eq!(members[&policy], REFUNDS_V1.as_bytes());
    assert!(!members.contains_key(&evident_core::bundle::policy_path(&v2_sha)));

    // The policy text changed: named.
    let mut changed = members.clone();
    changed.insert(policy.clone(), REFUNDS_V2.as_bytes().to_vec());
    let report = verify_bundle(&changed, &t.verifier_key);
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.member == policy && f.why.contains("policy_publish")),
        "{:?}",
        report.failures
    );
    // The manifest names another version under the snapshot: named.
    let mut changed = members.clone();
    let manifest = String::from_utf8(changed[evident_core::bundle::MANIFEST].clone()).unwrap();
    let edited = manifest.replace("\"version\": 1", "\"version\": 2");
    assert_ne!(edited, manifest);
    changed.insert(evident_core::bundle::MANIFEST.into(), edited.into_bytes());
    let report = verify_bundle(&changed, &t.verifier_key);
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.why.contains("policy_snapshot")),
        "{:?}",
        report.failures
    );
}

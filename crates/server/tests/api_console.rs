//! The web console's server side: `GET /` and its embedded files under a strict
//! Content-Security-Policy, `GET /api/v1/whoami`, and the dashboard's aggregates
//! (`GET /api/v1/stats/activity`, `GET /api/v1/stats/approvals`). The console itself
//! is tested in a browser (`tests/browser/`).

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, Method, StatusCode};
use common::{TestApp, MANUAL_CHECKPOINTS};
use evident_server::clock::TestClock;
use evident_server::state::Settings;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn files_under(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type().unwrap().is_dir() {
            files_under(&entry.path(), &format!("{name}/"), out);
        } else {
            out.push(name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_file_is_served_with_a_strict_policy() {
    let t = TestApp::new().await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
    let mut files = Vec::new();
    files_under(&root, "", &mut files);
    files.push("js/verifier/evident-verify.js".into());
    let mut served = evident_server::routes::console::asset_paths();
    served.sort_unstable();
    files.sort_unstable();
    assert_eq!(
        served, files,
        "a console file is not embedded, or one is missing"
    );

    for (uri, media) in [
        ("/", "text/html"),
        ("/console/js/app.js", "text/javascript"),
        ("/console/app.css", "text/css"),
    ] {
        let reply = t.get(uri, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert!(reply.content_type().starts_with(media), "{uri}");
        let csp = reply.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert_eq!(
            csp,
            evident_server::routes::console::CONTENT_SECURITY_POLICY
        );
        assert!(csp.contains("script-src 'self';") && !csp.contains("unsafe"));
        assert_eq!(reply.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(reply.headers[header::X_FRAME_OPTIONS], "DENY");
    }
    // The verifier served is the one evidence bundles carry, byte for byte.
    let verifier = t.get("/console/js/verifier/evident-verify.js", None).await;
    let on_disk = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/verifier/evident-verify.js"),
    )
    .unwrap();
    assert_eq!(Sha256::digest(&verifier.body), Sha256::digest(&on_disk));
    // No inline script in the page: everything runs from the files above.
    let html = t.get("/", None).await.text();
    assert!(
        !html.contains("<script>")
            && html.contains(r#"<script type="module" src="/console/js/app.js">"#)
    );
    for missing in ["/console/nope.js", "/console/../Cargo.toml", "/console/"] {
        let reply = t.get(missing, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_names_the_key_and_its_role_only() {
    let t = TestApp::new().await;
    for (key, role) in [
        (&t.auditor, "auditor"),
        (&t.approver, "approver"),
        (&t.privacy, "privacy"),
        (&t.admin, "admin"),
        (&t.ingest, "ingest"),
    ] {
        let answer = t.get("/api/v1/whoami", Some(key)).await.ok_json();
        assert_eq!(answer["role"], role);
        assert!(answer["name"].is_string());
        assert!(
            !answer.to_string().contains(key.as_str()),
            "the key is never echoed"
        );
    }
    assert_eq!(
        t.get("/api/v1/whoami", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.get("/api/v1/whoami", Some("evk_nope")).await.status,
        StatusCode::UNAUTHORIZED
    );
}

async fn app_at(time: &str) -> (TestApp, Arc<TestClock>) {
    let clock = TestClock::at(time);
    let t = TestApp::with_settings(Settings {
        checkpoint_interval: MANUAL_CHECKPOINTS,
        clock: clock.clone(),
        approval_expiry_every: Duration::from_secs(3600),
        ..Settings::default()
    })
    .await;
    (t, clock)
}

fn at(event_id: &str, agent: &str, kind: &str, timestamp: &str) -> Value {
    json!({"event_id": event_id, "trace_id": "t-stats", "timestamp": timestamp,
           "actor": {"type": "agent", "id": agent}, "event_type": kind})
}

fn draft(cents: u64) -> Value {
    json!({"order": "O-1", "amount_cents": cents})
}

/// Opens an approval request for `draft` as the ingest key.
async fn open_approval(t: &TestApp, job: &str, draft: &Value) -> Value {
    let hash = evident_core::governance::job_hash_of(draft);
    t.send(
        Method::POST,
        "/api/v1/approvals",
        Some(&t.ingest),
        Some("application/json"),
        json!({"job_id": job, "job_hash": hash, "action": "refund", "reason": "large", "draft": draft}).to_string(),
    )
    .await
    .ok_json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_counts_each_hour_by_agent_errors_and_escalations() {
    let (t, _clock) = app_at("2026-11-23T14:30:00Z").await;
    t.ingest_ok(&json!([
        at("a1", "agent-a", "tool_call", "2026-11-23T12:10:00Z"),
        at(
            "a2",
            "agent-a",
            "model_call",
            "2026-11-23T12:59:59.999+00:00"
        ),
        at("b1", "agent-b", "error", "2026-11-23T14:05:00+01:00"),
        at("a3", "agent-a", "model_call", "2026-11-23T14:20:00Z"),
        at("old", "agent-a", "tool_call", "2026-11-20T09:00:00Z"),
    ]))
    .await;
    // An approval request: the escalation, at the server's now (14:30).
    open_approval(&t, "job-1", &draft(90_000)).await;
    let size = t.tree_size().await;
    t.wait_for_text_index(size, Duration::from_secs(10)).await;

    let answer = t
        .get(
            "/api/v1/stats/activity?from=2026-11-23T12:00:00Z&to=2026-11-23T14:00:00Z",
            Some(&t.auditor),
        )
        .await
        .ok_json();
    assert_eq!(answer["from"], "2026-11-23T12:00:00.000000Z");
    assert_eq!(answer["to"], "2026-11-23T15:00:00.000000Z");
    assert_eq!(answer["hours"].as_array().unwrap().len(), 3);
    assert_eq!(
        answer["agents"],
        json!([{"agent": "agent-a", "events": [2, 0, 1]}, {"agent": "agent-b", "events": [0, 1, 0]}])
    );
    assert_eq!(answer["events"], json!([2, 1, 1]));
    assert_eq!(answer["errors"], json!([0, 1, 0]));
    assert_eq!(answer["escalations"], json!([0, 0, 1]));
    assert_eq!(answer["indexed_through"], size);

    // Without a window: the last 24 hours up to now's hour.
    let day = t
        .get("/api/v1/stats/activity", Some(&t.approver))
        .await
        .ok_json();
    assert_eq!(day["hours"].as_array().unwrap().len(), 24);
    assert_eq!(day["to"], "2026-11-23T15:00:00.000000Z");
    assert_eq!(
        day["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .sum::<u64>(),
        4
    );

    for (query, field) in [
        ("?from=yesterday", "from"),
        ("?to=2026-11-23T14:00:00", "to"),
        ("?from=2026-11-23T14:00:00Z&to=2026-11-23T12:00:00Z", "to"),
        ("?from=2026-11-01T00:00:00Z&to=2026-11-23T12:00:00Z", "from"),
    ] {
        let reply = t
            .get(&format!("/api/v1/stats/activity{query}"), Some(&t.auditor))
            .await;
        let problem = reply.problem(StatusCode::BAD_REQUEST);
        assert!(
            problem["detail"].as_str().unwrap().contains(field),
            "{query}: {problem}"
        );
    }
    assert_eq!(
        t.get("/api/v1/stats/activity", Some(&t.ingest))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        t.get("/api/v1/stats/activity", None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_approvals_are_counted_by_age() {
    let (t, clock) = app_at("2026-11-23T08:00:00Z").await;
    let empty = t
        .get("/api/v1/stats/approvals", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(empty["waiting"], 0);
    assert_eq!(empty["oldest_opened_at"], Value::Null);

    let first = open_approval(&t, "job-1", &draft(1)).await;
    clock.advance(Duration::from_secs(5 * 3600));
    open_approval(&t, "job-2", &draft(2)).await;
    clock.advance(Duration::from_secs(2 * 3600));
    let third = open_approval(&t, "job-3", &draft(3)).await;
    clock.advance(Duration::from_secs(60));

    let answer = t
        .get("/api/v1/stats/approvals", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(answer["waiting"], 3);
    assert_eq!(answer["oldest_opened_at"], "2026-11-23T08:00:00.000000Z");
    assert_eq!(answer["oldest_age_seconds"], 7 * 3600 + 60);
    let counts: Vec<u64> = answer["bands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, vec![1, 1, 1, 0]);

    // Resolved requests wait no more.
    for approval in [&first, &third] {
        let id = approval["approval_id"].as_str().unwrap();
        let body =
            json!({"resolution": "rejected", "job_hash": approval["job_hash"], "comment": "no"});
        t.send(
            Method::POST,
            &format!("/api/v1/approvals/{id}/resolve"),
            Some(&t.approver),
            Some("application/json"),
            body.to_string(),
        )
        .await
        .ok_json();
    }
    let answer = t
        .get("/api/v1/stats/approvals", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(answer["waiting"], 1);
    assert_eq!(answer["oldest_opened_at"], "2026-11-23T13:00:00.000000Z");
    assert_eq!(
        t.get("/api/v1/stats/approvals", Some(&t.ingest))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

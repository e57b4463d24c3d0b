//! Human approvals over HTTP (CONTRACT sections 4 and 6): every rule of a request and
//! its resolution, expiry driven by a test clock, edits with their RFC 6902 diff, the
//! privacy boundary for drafts, finals and diffs, several servers racing, and the job
//! view that says whether the agent did what was approved.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{TestApp, MANUAL_CHECKPOINTS};
use evident_server::auth::Role;
use evident_server::clock::TestClock;
use evident_server::state::Settings;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of the RFC 8785 bytes of `value`, computed here without the
/// server's code: keys sorted, compact (the drafts hold only strings and small
/// integers, where RFC 8785 and serde's output agree).
fn job_hash(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<_> = map.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&map[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let bytes = serde_json::to_vec(&sorted(value)).unwrap();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn post(t: &TestApp, path: &str, key: &str, body: &Value) -> common::Reply {
    t.send(
        Method::POST,
        path,
        Some(key),
        Some("application/json"),
        body.to_string(),
    )
    .await
}

/// An app whose clock stands still until the test moves it, and whose expiry sweep
/// runs only when the test calls it.
async fn app_with_clock() -> (TestApp, Arc<TestClock>) {
    let clock = TestClock::at("2026-11-23T10:00:00Z");
    let t = TestApp::with_settings(Settings {
        checkpoint_interval: MANUAL_CHECKPOINTS,
        clock: clock.clone(),
        approval_expiry_every: Duration::from_secs(3600),
        ..Settings::default()
    })
    .await;
    (t, clock)
}

fn refund(cents: u64) -> Value {
    json!({"kind": "refund", "customer_email": "wei.novak@example.org", "order": "O-77",
           "amount_cents": cents, "currency": "EUR"})
}

fn open_body(job: &str, draft: &Value) -> Value {
    json!({"job_id": job, "job_hash": job_hash(draft), "action": "refund",
           "reason": "refunds over 500 EUR need a human", "draft": draft,
           "trace_id": format!("t-{job}"), "subject": "C-1042"})
}

/// Opens a request with `key`; returns its answer.
async fn open(t: &TestApp, key: &str, job: &str, draft: &Value) -> Value {
    post(t, "/api/v1/approvals", key, &open_body(job, draft))
        .await
        .ok_json()
}

async fn resolve(t: &TestApp, key: &str, id: &str, body: &Value) -> common::Reply {
    post(t, &format!("/api/v1/approvals/{id}/resolve"), key, body).await
}

fn approve(draft: &Value) -> Value {
    json!({"resolution": "approved", "job_hash": job_hash(draft), "comment": "ok", "method": "console"})
}

/// An `external_action` of `job` that says it performed the action hashing to `hash`.
fn action(event_id: &str, job: &str, hash: Option<&str>) -> Value {
    let mut event = json!({
        "event_id": event_id, "trace_id": format!("t-{job}"), "timestamp": "2026-11-23T10:05:00Z",
        "actor": {"type": "agent", "id": "refund-bot"}, "event_type": "external_action",
        "context": {"job_id": job}, "output": {"status": "refunded"},
    });
    if let Some(hash) = hash {
        event["job_hash"] = json!(hash);
    }
    event
}

/// The log entry of `event_id`, as stored.
async fn entry_of(t: &TestApp, event_id: &str) -> Value {
    let stored = t.store.entry_by_event_id(event_id).await.unwrap().unwrap();
    serde_json::from_slice(&stored.entry).unwrap()
}

#[tokio::test]
async fn a_request_is_bound_to_its_draft_and_keeps_personal_data_out_of_the_entry() {
    let (t, _clock) = app_with_clock().await;
    let draft = refund(90_000);
    // job_hash must be the draft's.
    let mut wrong = open_body("job-1", &draft);
    wrong["job_hash"] = json!(job_hash(&refund(45_000)));
    let problem = post(&t, "/api/v1/approvals", &t.ingest, &wrong)
        .await
        .problem(StatusCode::BAD_REQUEST);
    assert!(common::detail(&problem).contains("/job_hash"), "{problem}");
    for (field, value) in [
        ("draft", Value::Null),
        ("job_hash", json!("ABC")),
        ("expires_in", json!(0)),
        ("expires_in", json!(8 * 24 * 3600)),
        ("action", json!("")),
    ] {
        let mut body = open_body("job-1", &draft);
        body[field] = value;
        let problem = post(&t, "/api/v1/approvals", &t.ingest, &body)
            .await
            .problem(StatusCode::BAD_REQUEST);
        assert!(
            common::detail(&problem).contains(&format!("/{field}")),
            "{problem}"
        );
    }
    // Only writers open.
    post(
        &t,
        "/api/v1/approvals",
        &t.auditor,
        &open_body("job-1", &draft),
    )
    .await
    .problem(StatusCode::FORBIDDEN);
    assert_eq!(t.tree_size().await, 0, "a refused request stores nothing");

    let opened = open(&t, &t.ingest, "job-1", &draft).await;
    let id = opened["approval_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("apr_"), "{opened}");
    assert_eq!(opened["state"], json!("open"));
    assert_eq!(opened["job_hash"], json!(job_hash(&draft)));
    assert_eq!(opened["requested_by"], json!("ingest-1"));
    assert_eq!(
        opened["expires_at"],
        json!("2026-11-24T10:00:00.000000Z"),
        "24 h by default"
    );

    // The entry: hashes and ids, the draft as a commitment, no clear e-mail, no
    // clear subject.
    let request_event = opened["request_event_id"].as_str().unwrap();
    let entry = entry_of(&t, request_event).await;
    assert_eq!(entry["event_type"], json!("approval_request"));
    assert_eq!(entry["approval"]["approval_id"], json!(id));
    assert_eq!(entry["approval"]["job_hash"], json!(job_hash(&draft)));
    assert_eq!(entry["context"]["job_id"], json!("job-1"));
    assert!(entry["input"]["$blob"].is_string(), "{entry}");
    assert_eq!(entry["principal"], json!("ingest-1"));
    let text = entry.to_string();
    assert!(!text.contains("wei.novak@example.org"), "{text}");
    assert!(!text.contains("C-1042"), "{text}");
    assert!(entry["context"]["subject"]
        .as_str()
        .unwrap()
        .starts_with("subj_"));

    // An approver reads the draft, tokenized.
    let one = t
        .get(&format!("/api/v1/approvals/{id}"), Some(&t.approver))
        .await
        .ok_json();
    assert_eq!(one["draft"]["amount_cents"], json!(90_000), "{one}");
    let email = one["draft"]["customer_email"].as_str().unwrap();
    assert!(email.starts_with("<EMAIL_"), "{one}");

    // An ingest key reads its own request (so an agent can wait), not another's.
    t.get(&format!("/api/v1/approvals/{id}"), Some(&t.ingest))
        .await
        .ok_json();
    let other = t.key("ingest-2", Role::Ingest, &[]).await;
    t.get(&format!("/api/v1/approvals/{id}"), Some(&other))
        .await
        .problem(StatusCode::NOT_FOUND);
    let mine = t.get("/api/v1/approvals", Some(&t.ingest)).await.ok_json();
    assert_eq!(mine["approvals"].as_array().unwrap().len(), 1, "{mine}");
    let theirs = t.get("/api/v1/approvals", Some(&other)).await.ok_json();
    assert_eq!(theirs["approvals"], json!([]), "{theirs}");
    t.get("/api/v1/approvals", None)
        .await
        .problem(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn resolution_rules_hash_self_approval_unknown_and_once_only() {
    let (t, _clock) = app_with_clock().await;
    let draft = refund(90_000);
    let opened = open(&t, &t.admin, "job-2", &draft).await;
    let id = opened["approval_id"].as_str().unwrap();
    let size = t.tree_size().await;

    // Unknown: 404.
    resolve(&t, &t.approver, "apr_nothing", &approve(&draft))
        .await
        .problem(StatusCode::NOT_FOUND);
    // The key that asked cannot resolve (an admin may resolve others' requests).
    let problem = resolve(&t, &t.admin, id, &approve(&draft))
        .await
        .problem(StatusCode::FORBIDDEN);
    assert!(
        common::detail(&problem).contains("another key"),
        "{problem}"
    );
    // Neither roles that are not approvers.
    resolve(&t, &t.ingest, id, &approve(&draft))
        .await
        .problem(StatusCode::FORBIDDEN);
    resolve(&t, &t.auditor, id, &approve(&draft))
        .await
        .problem(StatusCode::FORBIDDEN);
    // The approver must quote the request's hash: 409 on another.
    let problem = resolve(&t, &t.approver, id, &approve(&refund(45_000)))
        .await
        .problem(StatusCode::CONFLICT);
    assert!(common::detail(&problem).contains("job_hash"), "{problem}");
    // Bad bodies name their field.
    for (field, body) in [
        (
            "resolution",
            json!({"resolution": "maybe", "job_hash": job_hash(&draft), "comment": ""}),
        ),
        (
            "job_hash",
            json!({"resolution": "approved", "job_hash": 7, "comment": ""}),
        ),
        (
            "comment",
            json!({"resolution": "approved", "job_hash": job_hash(&draft)}),
        ),
        (
            "final",
            json!({"resolution": "edited", "job_hash": job_hash(&draft), "comment": ""}),
        ),
        (
            "final",
            json!({"resolution": "approved", "job_hash": job_hash(&draft), "comment": "", "final": {}}),
        ),
    ] {
        let problem = resolve(&t, &t.approver, id, &body)
            .await
            .problem(StatusCode::BAD_REQUEST);
        assert!(
            common::detail(&problem).contains(&format!("/{field}")),
            "{problem}"
        );
    }
    assert_eq!(t.tree_size().await, size, "refusals store nothing");

    let resolved = resolve(&t, &t.approver, id, &approve(&draft))
        .await
        .ok_json();
    assert_eq!(resolved["state"], json!("approved"), "{resolved}");
    assert_eq!(resolved["resolved_by"], json!("approver-1"));
    assert_eq!(resolved["method"], json!("console"));
    assert_eq!(resolved["approved_job_hash"], json!(job_hash(&draft)));
    let entry = entry_of(&t, resolved["event_id"].as_str().unwrap()).await;
    assert_eq!(entry["event_type"], json!("approval_resolution"));
    assert_eq!(entry["principal"], json!("approver-1"));
    assert_eq!(entry["parent_event_id"], opened["request_event_id"]);
    assert_eq!(entry["trace_id"], json!("t-job-2"));
    assert_eq!(
        entry["approval"],
        json!({"approval_id": id, "resolution": "approved", "job_hash": job_hash(&draft),
               "comment": "ok", "method": "console", "resolved_by": "approver-1"})
    );
    // Resolved once: another approver gets 409, nothing stored.
    let second = t.key("approver-2", Role::Approver, &[]).await;
    let size = t.tree_size().await;
    let problem = resolve(&t, &second, id, &approve(&draft))
        .await
        .problem(StatusCode::CONFLICT);
    assert!(common::detail(&problem).contains("approved"), "{problem}");
    assert_eq!(t.tree_size().await, size);

    // The queue shows open requests only, unless asked for all.
    let queue = t.get("/api/v1/approvals", Some(&t.auditor)).await.ok_json();
    assert_eq!(queue["approvals"], json!([]), "{queue}");
    let all = t
        .get("/api/v1/approvals?include_resolved=true", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(all["approvals"][0]["state"], json!("approved"), "{all}");
    t.get("/api/v1/approvals?include_resolved=maybe", Some(&t.auditor))
        .await
        .problem(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_edit_stores_the_final_hash_and_its_diff_through_the_privacy_boundary() {
    let (t, _clock) = app_with_clock().await;
    let draft = refund(90_000);
    let opened = open(&t, &t.ingest, "job-3", &draft).await;
    let id = opened["approval_id"].as_str().unwrap();
    let mut final_payload = refund(45_000);
    final_payload["note"] = json!("capped; confirm with wei.novak@example.org");
    let body = json!({"resolution": "edited", "job_hash": job_hash(&draft),
                      "comment": "capped at policy limit, told wei.novak@example.org",
                      "final": final_payload, "method": "console"});
    let edited = resolve(&t, &t.approver, id, &body).await.ok_json();
    assert_eq!(edited["state"], json!("edited"), "{edited}");
    assert_eq!(edited["final_job_hash"], json!(job_hash(&final_payload)));
    assert_eq!(edited["approved_job_hash"], json!(job_hash(&final_payload)));

    // The entry: both hashes, the final and diff as a commitment, the comment scanned.
    let entry = entry_of(&t, edited["event_id"].as_str().unwrap()).await;
    assert_eq!(
        entry["approval"]["final_job_hash"],
        json!(job_hash(&final_payload))
    );
    assert_eq!(entry["approval"]["job_hash"], json!(job_hash(&draft)));
    assert!(entry["output"]["$blob"].is_string(), "{entry}");
    assert!(
        entry["approval"]["comment"]
            .as_str()
            .unwrap()
            .contains("<EMAIL_"),
        "{entry}"
    );
    assert!(!entry.to_string().contains("example.org"), "{entry}");

    // An auditor reads the final and the RFC 6902 diff, with tokens.
    let one = t
        .get(&format!("/api/v1/approvals/{id}"), Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(one["final"]["amount_cents"], json!(45_000), "{one}");
    let diff = one["diff"].as_array().expect("a JSON Patch");
    // Only what the approver changed: the e-mail both sides hold is not a change
    // (the draft is stored tokenized; the final is diffed as the boundary stores it).
    assert_eq!(diff.len(), 2, "{one}");
    assert!(
        diff.contains(&json!({"op": "replace", "path": "/amount_cents", "value": 45_000})),
        "{one}"
    );
    let added = diff
        .iter()
        .find(|op| op["path"] == json!("/note"))
        .expect("the note is added");
    assert_eq!(added["op"], json!("add"));
    let note = added["value"].as_str().unwrap();
    assert!(!note.contains("example.org"), "{note}");
    // The diff applied to the draft (as the auditor sees it) gives the final.
    let mut patched = one["draft"].clone();
    json_patch_apply(&mut patched, diff);
    assert_eq!(patched, one["final"], "{one}");
    // A privacy key turns the tokens back into the clear value.
    let token = note
        .split_whitespace()
        .find(|w| w.starts_with("<EMAIL_"))
        .unwrap()
        .to_owned();
    let revealed = post(
        &t,
        "/api/v1/vault/reveal",
        &t.privacy,
        &json!({"tokens": [token], "reason": "audit of an edited refund"}),
    )
    .await
    .ok_json();
    assert_eq!(
        revealed["values"][&token],
        json!("wei.novak@example.org"),
        "{revealed}"
    );
}

/// Applies an RFC 6902 patch of `add`/`replace`/`remove` on top-level members (what
/// the test's edit produces), written here rather than with the server's crate.
fn json_patch_apply(doc: &mut Value, patch: &[Value]) {
    for op in patch {
        let member = op["path"]
            .as_str()
            .unwrap()
            .trim_start_matches('/')
            .to_owned();
        match op["op"].as_str().unwrap() {
            "add" | "replace" => {
                doc[member] = op["value"].clone();
            }
            "remove" => {
                doc.as_object_mut().unwrap().remove(&member);
            }
            other => panic!("unexpected op {other}"),
        }
    }
}

#[tokio::test]
async fn an_escalation_keeps_the_request_open_for_another_approver() {
    let (t, _clock) = app_with_clock().await;
    let draft = refund(90_000);
    let id = open(&t, &t.ingest, "job-4", &draft).await["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"resolution": "escalated", "job_hash": job_hash(&draft),
                      "comment": "over my limit", "method": "slack"});
    let escalated = resolve(&t, &t.approver, &id, &body).await.ok_json();
    assert_eq!(escalated["state"], json!("open"), "{escalated}");
    assert_eq!(escalated["escalations"], json!(1));
    assert_eq!(escalated["resolution"], Value::Null);
    let queue = t.get("/api/v1/approvals", Some(&t.auditor)).await.ok_json();
    assert_eq!(
        queue["approvals"][0]["approval_id"],
        json!(id),
        "still queued: {queue}"
    );
    let senior = t.key("approver-senior", Role::Approver, &[]).await;
    let approved = resolve(&t, &senior, &id, &approve(&draft)).await.ok_json();
    assert_eq!(approved["state"], json!("approved"));
    assert_eq!(approved["resolved_by"], json!("approver-senior"));
    let history = approved["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{approved}");
    assert_eq!(history[0]["resolution"], json!("escalated"));
    assert_eq!(history[0]["resolved_by"], json!("approver-1"));
    assert_eq!(history[0]["method"], json!("slack"));
}

#[tokio::test]
async fn a_request_expires_by_the_clock_and_then_means_deny() {
    let (t, clock) = app_with_clock().await;
    let draft = refund(90_000);
    let mut body = open_body("job-5", &draft);
    body["expires_in"] = json!(60);
    let late = post(&t, "/api/v1/approvals", &t.ingest, &body)
        .await
        .ok_json();
    let late_id = late["approval_id"].as_str().unwrap();
    assert_eq!(late["expires_at"], json!("2026-11-23T10:01:00.000000Z"));
    let swept = post(&t, "/api/v1/approvals", &t.ingest, &body)
        .await
        .ok_json();
    let swept_id = swept["approval_id"].as_str().unwrap();

    // Nothing is due before the deadline.
    clock.advance(Duration::from_secs(59));
    assert_eq!(
        evident_server::approvals::expire_due(&t.app).await.unwrap(),
        0
    );

    // At the deadline an approver is too late: 409, and the request is expired.
    clock.advance(Duration::from_secs(1));
    let problem = resolve(&t, &t.approver, late_id, &approve(&draft))
        .await
        .problem(StatusCode::CONFLICT);
    assert!(common::detail(&problem).contains("expired"), "{problem}");
    let one = t
        .get(&format!("/api/v1/approvals/{late_id}"), Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(one["state"], json!("expired"), "{one}");
    assert_eq!(one["resolved_by"], json!("evident"));
    assert_eq!(one["approved_job_hash"], Value::Null);

    // The sweep expires the other one, once.
    assert_eq!(
        evident_server::approvals::expire_due(&t.app).await.unwrap(),
        1
    );
    assert_eq!(
        evident_server::approvals::expire_due(&t.app).await.unwrap(),
        0
    );
    let one = t
        .get(&format!("/api/v1/approvals/{swept_id}"), Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(one["state"], json!("expired"), "{one}");
    let entry = entry_of(&t, one["resolution_event_id"].as_str().unwrap()).await;
    assert_eq!(entry["event_type"], json!("approval_resolution"));
    assert_eq!(entry["approval"]["resolution"], json!("expired"));
    assert_eq!(entry["approval"]["decision"], json!("DENY"));
    assert_eq!(entry["principal"], json!("evident"));
    assert_eq!(entry["timestamp"], json!("2026-11-23T10:01:00.000000Z"));
    resolve(&t, &t.approver, swept_id, &approve(&draft))
        .await
        .problem(StatusCode::CONFLICT);
}

/// Two approvers resolving one request at once, on two servers sharing one PostgreSQL
/// database (on the embedded store, two requests to one server): exactly one 200.
#[tokio::test]
async fn two_approvers_racing_exactly_one_resolves() {
    let (t, _clock) = app_with_clock().await;
    let draft = refund(90_000);
    let id = open(&t, &t.ingest, "job-6", &draft).await["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second_key = t.key("approver-2", Role::Approver, &[]).await;
    let other = t.second_server().await.unwrap_or_else(|| t.app.clone());
    let request = |key: &str, resolution: &str| {
        let body =
            json!({"resolution": resolution, "job_hash": job_hash(&draft), "comment": "race"});
        Request::builder()
            .method(Method::POST)
            .uri(format!("/api/v1/approvals/{id}/resolve"))
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let (a, b) = tokio::join!(
        common::send_to(&t.app, request(&t.approver, "approved")),
        common::send_to(&other, request(&second_key, "rejected")),
    );
    let statuses = [a.status, b.status];
    assert!(
        statuses.contains(&StatusCode::OK) && statuses.contains(&StatusCode::CONFLICT),
        "{statuses:?}: {} / {}",
        a.text(),
        b.text()
    );
    // Both servers agree on the state.
    for app in [&t.app, &other] {
        let one = common::send_to(
            app,
            Request::builder()
                .uri(format!("/api/v1/approvals/{id}"))
                .header(header::AUTHORIZATION, format!("Bearer {}", t.auditor))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .ok_json();
        let winner = if a.status == StatusCode::OK {
            "approved"
        } else {
            "rejected"
        };
        assert_eq!(one["state"], json!(winner), "{one}");
        assert_eq!(one["history"].as_array().unwrap().len(), 1, "{one}");
    }
}

#[tokio::test]
async fn the_job_view_says_whether_the_action_matches_the_approval() {
    let (t, _clock) = app_with_clock().await;
    let draft = refund(90_000);
    let final_payload = refund(45_000);
    // Approved as edited; the agent acts with the final's hash: true.
    let edited = open(&t, &t.ingest, "job-ok", &draft).await;
    let body = json!({"resolution": "edited", "job_hash": job_hash(&draft), "comment": "cap",
                      "final": final_payload});
    resolve(
        &t,
        &t.approver,
        edited["approval_id"].as_str().unwrap(),
        &body,
    )
    .await
    .ok_json();
    t.ingest_ok(&json!([action(
        "a-ok",
        "job-ok",
        Some(&job_hash(&final_payload))
    )]))
    .await;
    let job = t
        .get("/api/v1/jobs/job-ok", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(
        job["approved_job_hash"],
        json!(job_hash(&final_payload)),
        "{job}"
    );
    assert_eq!(job["job_hash"], json!(job_hash(&final_payload)));
    assert_eq!(job["action_matches_approval"], json!(true));
    assert_eq!(job["approval_violation"], Value::Null);
    let requests = job["approval_requests"].as_array().unwrap();
    assert_eq!(requests[0]["state"], json!("edited"), "{job}");
    assert_eq!(requests[0]["resolved_by"], json!("approver-1"));
    assert_eq!(job["result_ptr"]["event_id"], json!("a-ok"));

    // The same job shape, but the agent acts on the unedited draft: false, flagged.
    let edited = open(&t, &t.ingest, "job-draft", &draft).await;
    resolve(
        &t,
        &t.approver,
        edited["approval_id"].as_str().unwrap(),
        &body,
    )
    .await
    .ok_json();
    t.ingest_ok(&json!([action(
        "a-draft",
        "job-draft",
        Some(&job_hash(&draft))
    )]))
    .await;
    let job = t
        .get("/api/v1/jobs/job-draft", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(job["action_matches_approval"], json!(false), "{job}");
    assert_eq!(job["approval_violation"]["reason"], json!("hash_mismatch"));
    assert_eq!(
        job["approval_violation"]["action"]["event_id"],
        json!("a-draft")
    );

    // Acting while the request is still open, or after a rejection: false.
    let pending = open(&t, &t.ingest, "job-pending", &draft).await;
    t.ingest_ok(&json!([action(
        "a-pending",
        "job-pending",
        Some(&job_hash(&draft))
    )]))
    .await;
    let job = t
        .get("/api/v1/jobs/job-pending", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(job["action_matches_approval"], json!(false), "{job}");
    assert_eq!(job["approval_violation"]["reason"], json!("pending"));
    let reject = json!({"resolution": "rejected", "job_hash": job_hash(&draft), "comment": "no"});
    resolve(
        &t,
        &t.approver,
        pending["approval_id"].as_str().unwrap(),
        &reject,
    )
    .await
    .ok_json();
    let job = t
        .get("/api/v1/jobs/job-pending", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(
        job["approval_violation"]["reason"],
        json!("rejected"),
        "{job}"
    );

    // A job that needed no approval: null; one with no action yet: null.
    t.ingest_ok(&json!([action(
        "a-free",
        "job-free",
        Some(&job_hash(&draft))
    )]))
    .await;
    let job = t
        .get("/api/v1/jobs/job-free", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(job["action_matches_approval"], Value::Null, "{job}");
    assert_eq!(job["approved_job_hash"], Value::Null);
    assert_eq!(job["approval_violation"], Value::Null);
    open(&t, &t.ingest, "job-waiting", &draft).await;
    let job = t
        .get("/api/v1/jobs/job-waiting", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(job["action_matches_approval"], Value::Null, "{job}");
    assert_eq!(job["approval_requests"][0]["state"], json!("open"));

    // A job_hash of another shape is refused at ingest, naming the field.
    let problem = t
        .post_json(&t.ingest, &action("a-bad", "job-bad", Some("ABC")))
        .await
        .problem(StatusCode::BAD_REQUEST);
    assert!(common::detail(&problem).contains("/job_hash"), "{problem}");
}

/// Governance data is personal data too: erasing the subject makes the draft, final
/// and diff unshowable (the request says so, and so does the job view), while the
/// hashes in the log still bind the approval to the action; an edit can no longer be
/// diffed against an erased draft.
#[tokio::test]
async fn an_erasure_reaches_drafts_finals_and_diffs() {
    let (t, _clock) = app_with_clock().await;
    let draft = refund(90_000);
    let edited = open(&t, &t.ingest, "job-erase", &draft).await;
    let edited_id = edited["approval_id"].as_str().unwrap();
    let body = json!({"resolution": "edited", "job_hash": job_hash(&draft), "comment": "cap",
                      "final": refund(45_000)});
    resolve(&t, &t.approver, edited_id, &body).await.ok_json();
    let waiting = open(&t, &t.ingest, "job-erase", &draft).await;
    let waiting_id = waiting["approval_id"].as_str().unwrap();
    let job = t
        .get("/api/v1/jobs/job-erase", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(
        job["approval_requests"][0]["payloads_erased"],
        json!(false),
        "{job}"
    );

    post(
        &t,
        "/api/v1/subjects/erase",
        &t.privacy,
        &json!({"subject": "C-1042", "reason": "GDPR art. 17"}),
    )
    .await
    .ok_json();

    let one = t
        .get(&format!("/api/v1/approvals/{edited_id}"), Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(one["draft_erased"], json!(true), "{one}");
    assert_eq!(one["final_erased"], json!(true), "{one}");
    assert_eq!(one["draft"], Value::Null);
    assert_eq!(one["final_job_hash"], json!(job_hash(&refund(45_000))));
    let job = t
        .get("/api/v1/jobs/job-erase", Some(&t.auditor))
        .await
        .ok_json();
    for request in job["approval_requests"].as_array().unwrap() {
        assert_eq!(request["payloads_erased"], json!(true), "{job}");
    }
    assert_eq!(job["approved_job_hash"], json!(job_hash(&refund(45_000))));
    // Editing an erased draft: 409, nothing stored; approving as it stands still works.
    let size = t.tree_size().await;
    let problem = resolve(&t, &t.approver, waiting_id, &body)
        .await
        .problem(StatusCode::CONFLICT);
    assert!(common::detail(&problem).contains("erased"), "{problem}");
    assert_eq!(t.tree_size().await, size);
    resolve(&t, &t.approver, waiting_id, &approve(&draft))
        .await
        .ok_json();
}

/// The server's own sweep expires a request nobody resolved, without being asked.
#[tokio::test]
async fn the_expiry_task_expires_requests_on_its_own() {
    let clock = TestClock::at("2026-11-23T10:00:00Z");
    let t = TestApp::with_settings(Settings {
        checkpoint_interval: MANUAL_CHECKPOINTS,
        clock: clock.clone(),
        approval_expiry_every: Duration::from_millis(50),
        ..Settings::default()
    })
    .await;
    let draft = refund(90_000);
    let mut body = open_body("job-7", &draft);
    body["expires_in"] = json!(30);
    let id = post(&t, "/api/v1/approvals", &t.ingest, &body)
        .await
        .ok_json()["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let one = t
        .get(&format!("/api/v1/approvals/{id}"), Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(
        one["state"],
        json!("open"),
        "not before its deadline: {one}"
    );
    clock.advance(Duration::from_secs(30));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let one = t
            .get(&format!("/api/v1/approvals/{id}"), Some(&t.auditor))
            .await
            .ok_json();
        if one["state"] == json!("expired") {
            assert_eq!(one["resolved_by"], json!("evident"), "{one}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never expired: {one}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What `/decide` does with a REQUIRE_APPROVAL decision: its `policy_decision` and the
/// `approval_request` it opens commit in ONE append (`approvals::prepare_request`);
/// and a job whose decision required approval but that acted without any request is
/// flagged `no_approval`.
#[tokio::test]
async fn a_decision_and_the_request_it_opens_commit_together() {
    use evident_core::record::ServerEvent;
    use evident_server::approvals::{prepare_request, OpenApproval};
    use evident_store::{AppendOutcome, AppendRequest};
    let (t, _clock) = app_with_clock().await;
    let agent = evident_server::auth::Principal {
        name: "ingest-1".into(),
        role: Role::Ingest,
        agents: evident_store::AgentBinding::Any,
    };
    let decision = |job: &str| ServerEvent {
        event_type: "policy_decision",
        trace_id: Some(format!("t-{job}")),
        parent_event_id: None,
        fields: serde_json::Map::from_iter([
            ("context".to_owned(), json!({"job_id": job})),
            (
                "decision".to_owned(),
                json!({"decision": "REQUIRE_APPROVAL", "policy_rule_id": "big-refunds"}),
            ),
        ]),
    };
    let draft = refund(90_000);
    let now = t.app.now_micros();
    let (decided, decision_id) =
        evident_server::record::prepare_at(&t.app, &agent, decision("job-decided"), now);
    let request = OpenApproval {
        job_id: "job-decided".into(),
        job_hash: job_hash(&draft),
        action: "refund".into(),
        reason: Some("big-refunds".into()),
        draft: draft.clone(),
        trace_id: Some("t-job-decided".into()),
        parent_event_id: Some(decision_id.clone()),
        expires_in: None,
        subject: Some("C-1042".into()),
    };
    let prepared = prepare_request(&t.app, &agent, request, now).await.unwrap();
    let outcome = t
        .app
        .sequencer
        .submit(AppendRequest {
            events: vec![decided, prepared.event],
            effects: vec![prepared.effect],
        })
        .await
        .unwrap();
    let AppendOutcome::Appended(appended) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(appended[1].seq, appended[0].seq + 1);
    let one = t
        .get(
            &format!("/api/v1/approvals/{}", prepared.approval_id),
            Some(&t.ingest),
        )
        .await
        .ok_json();
    assert_eq!(one["state"], json!("open"), "{one}");
    let entry = entry_of(&t, &prepared.event_id).await;
    assert_eq!(entry["parent_event_id"], json!(decision_id));
    let decisions = t
        .get("/api/v1/jobs/job-decided/decisions", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(
        decisions["decisions"][0]["event_id"],
        json!(decision_id),
        "{decisions}"
    );

    // Required by the decision, acted on without any request: flagged.
    let (decided, _) =
        evident_server::record::prepare_at(&t.app, &agent, decision("job-skipped"), now);
    evident_server::record::record_prepared(&t.app, decided, Vec::new())
        .await
        .unwrap();
    t.ingest_ok(&json!([action(
        "a-skipped",
        "job-skipped",
        Some(&job_hash(&draft))
    )]))
    .await;
    let job = t
        .get("/api/v1/jobs/job-skipped", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(job["action_matches_approval"], json!(false), "{job}");
    assert_eq!(job["approval_violation"]["reason"], json!("no_approval"));
}

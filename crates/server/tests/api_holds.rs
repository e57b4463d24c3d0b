//! Legal holds and deletion receipts (CONTRACT section 4: `/api/v1/legal-holds`,
//! `POST /api/v1/subjects/erase`, `GET /api/v1/subjects/erasures/{id}`): a hold
//! covering a subject makes its erasure 409 naming the hold and destroys nothing;
//! placing and lifting are `legal_hold` events; an erasure answers a receipt that
//! anyone can check against the log.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{TestApp, MANUAL_CHECKPOINTS};
use evident_server::clock::TestClock;
use evident_server::state::Settings;
use serde_json::{json, Value};

const EMAIL: &str = "wei.novak@example.org";

async fn app_with_clock() -> (TestApp, Arc<TestClock>) {
    let clock = TestClock::at("2026-11-23T10:00:00Z");
    let t = TestApp::with_settings(Settings {
        checkpoint_interval: MANUAL_CHECKPOINTS,
        clock: clock.clone(),
        ..Settings::default()
    })
    .await;
    (t, clock)
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

async fn delete(t: &TestApp, path: &str, key: &str) -> common::Reply {
    t.send(Method::DELETE, path, Some(key), None, String::new())
        .await
}

fn event(id: &str, trace: &str, subject: &str) -> Value {
    json!({
        "event_id": id, "trace_id": trace, "timestamp": "2026-11-20T10:00:00Z",
        "actor": {"type": "agent", "id": "mail-bot"}, "event_type": "tool_call",
        "context": {"subject": subject, "job_id": format!("job-{trace}"), "case_id": "case-7"},
        "input": {"text": format!("write to {EMAIL}")},
    })
}

async fn erase(t: &TestApp, subject: &str) -> common::Reply {
    post(
        t,
        "/api/v1/subjects/erase",
        &t.privacy,
        &json!({"subject": subject, "reason": "GDPR art. 17"}),
    )
    .await
}

async fn events_of_type(t: &TestApp, event_type: &str) -> Vec<Value> {
    t.entries()
        .await
        .iter()
        .map(|e| serde_json::from_slice::<Value>(e).unwrap())
        .filter(|e| e["event_type"] == event_type)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_blocks_erasure_until_lifted_and_each_step_is_an_event() {
    let (t, _clock) = app_with_clock().await;
    t.ingest_ok(&json!([event("e1", "t-1", "wei-1042")])).await;
    let token = t.app.token_key.subject_token("wei-1042");

    // Placed by subject, given in clear: only the token is stored or answered.
    let reply = post(
        &t,
        "/api/v1/legal-holds",
        &t.admin,
        &json!({"subject": "wei-1042", "reason": "litigation: mail wei.novak@example.org"}),
    )
    .await;
    let hold = reply.ok_json();
    assert!(!reply.text().contains("wei-1042"), "{hold}");
    assert!(!reply.text().contains(EMAIL), "reason tokenized: {hold}");
    assert_eq!(hold["scope"], json!({"subject": token}));
    assert_eq!(hold["active"], json!(true));
    assert_eq!(hold["placed_by"], json!("admin"));
    let hold_id = hold["hold_id"].as_str().unwrap().to_owned();
    assert!(hold_id.starts_with("hold_"), "{hold_id}");
    let placed = events_of_type(&t, "legal_hold").await;
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0]["event_id"], hold["event_id"]);
    assert_eq!(placed[0]["legal_hold"]["action"], json!("place"));
    assert_eq!(placed[0]["legal_hold"]["hold_id"], json!(hold_id));
    assert_eq!(
        placed[0]["actor"],
        json!({"type": "system", "id": "evident"})
    );
    assert!(!placed[0].to_string().contains("wei-1042"));

    // Erasure: 409 naming the hold; nothing destroyed, nothing logged.
    let size = t.tree_size().await;
    let problem = erase(&t, "wei-1042").await.problem(StatusCode::CONFLICT);
    assert!(common::detail(&problem).contains(&hold_id), "{problem}");
    assert_eq!(t.tree_size().await, size);
    assert!(t.store.erased_at(&token).await.unwrap().is_none());
    assert!(events_of_type(&t, "subject_erasure").await.is_empty());

    // Listed (active only, too), then lifted once.
    let list = t
        .get("/api/v1/legal-holds?active=true", Some(&t.privacy))
        .await
        .ok_json();
    assert_eq!(list["holds"].as_array().unwrap().len(), 1, "{list}");
    let lifted = delete(&t, &format!("/api/v1/legal-holds/{hold_id}"), &t.privacy)
        .await
        .ok_json();
    assert_eq!(lifted["active"], json!(false));
    assert_eq!(lifted["lifted_by"], json!("privacy-1"));
    delete(&t, &format!("/api/v1/legal-holds/{hold_id}"), &t.privacy)
        .await
        .problem(StatusCode::CONFLICT);
    delete(&t, "/api/v1/legal-holds/hold_nosuch", &t.privacy)
        .await
        .problem(StatusCode::NOT_FOUND);
    let events = events_of_type(&t, "legal_hold").await;
    assert_eq!(events.len(), 2, "a refused lift stores nothing");
    assert_eq!(events[1]["legal_hold"]["action"], json!("lift"));
    assert_eq!(events[1]["principal"], json!("privacy-1"));
    let list = t
        .get("/api/v1/legal-holds?active=true", Some(&t.admin))
        .await
        .ok_json();
    assert_eq!(list["holds"], json!([]));
    let list = t.get("/api/v1/legal-holds", Some(&t.admin)).await.ok_json();
    assert_eq!(list["holds"][0]["lifted_by"], json!("privacy-1"));

    // Now the erasure goes through.
    let receipt = erase(&t, "wei-1042").await.ok_json();
    assert_eq!(receipt["state"], json!("done"));
    assert_eq!(receipt["keys_destroyed"], json!(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_by_trace_job_case_and_time_cover_the_subject_and_expire() {
    let (t, clock) = app_with_clock().await;
    t.ingest_ok(&json!([
        event("e1", "t-1", "wei-1042"),
        event("e2", "t-2", "ann-7")
    ]))
    .await;
    let scopes = [
        json!({"trace_id": "t-1"}),
        json!({"job_id": "job-t-1"}),
        json!({"case_id": "case-7"}),
        json!({"from": "2026-11-20T09:00:00Z", "to": "2026-11-20T11:00:00+00:00"}),
    ];
    for scope in scopes {
        let mut body = scope.clone();
        body["reason"] = json!("audit");
        body["until"] = json!("2026-11-23T11:00:00Z");
        let hold = post(&t, "/api/v1/legal-holds", &t.admin, &body)
            .await
            .ok_json();
        let id = hold["hold_id"].as_str().unwrap();
        let problem = erase(&t, "wei-1042").await.problem(StatusCode::CONFLICT);
        assert!(common::detail(&problem).contains(id), "{scope}: {problem}");
        delete(&t, &format!("/api/v1/legal-holds/{id}"), &t.admin)
            .await
            .ok_json();
    }
    // A hold that does not cover her events does not block.
    post(
        &t,
        "/api/v1/legal-holds",
        &t.admin,
        &json!({"trace_id": "t-2", "reason": "other matter"}),
    )
    .await
    .ok_json();
    // One that expires: in force until 11:00, not after.
    post(
        &t,
        "/api/v1/legal-holds",
        &t.admin,
        &json!({"subject": "wei-1042", "reason": "audit", "until": "2026-11-23T11:00:00Z"}),
    )
    .await
    .ok_json();
    erase(&t, "wei-1042").await.problem(StatusCode::CONFLICT);
    clock.advance(Duration::from_secs(2 * 3600));
    let receipt = erase(&t, "wei-1042").await.ok_json();
    assert_eq!(receipt["state"], json!("done"));
    // The other subject, whose trace is held, is not erasable.
    erase(&t, "ann-7").await.problem(StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_requests_are_checked_field_by_field_and_by_role() {
    let (t, _clock) = app_with_clock().await;
    let bad = [
        (json!({"reason": "x"}), ""),
        (json!({"trace_id": "a", "job_id": "b", "reason": "x"}), ""),
        (json!({"trace_id": "a"}), "/reason"),
        (json!({"trace_id": 7, "reason": "x"}), "/trace_id"),
        (
            json!({"from": "2026-11-20T09:00:00Z", "reason": "x"}),
            "/to",
        ),
        (
            json!({"from": "yesterday", "to": "2026-11-20T09:00:00Z", "reason": "x"}),
            "/from",
        ),
        (
            json!({"from": "2026-11-21T09:00:00Z", "to": "2026-11-20T09:00:00Z", "reason": "x"}),
            "/to",
        ),
        (
            json!({"trace_id": "a", "reason": "x", "until": "2026-11-23T09:00:00Z"}),
            "/until",
        ),
        (json!({"trace_id": "", "reason": "x"}), "/trace_id"),
        (json!({"subject": "", "reason": "x"}), "/subject"),
    ];
    for (body, pointer) in bad {
        let problem = post(&t, "/api/v1/legal-holds", &t.admin, &body)
            .await
            .problem(StatusCode::BAD_REQUEST);
        assert!(
            common::detail(&problem).starts_with(pointer),
            "{body}: {problem}"
        );
    }
    let ok = json!({"trace_id": "a", "reason": "x"});
    for key in [&t.ingest, &t.auditor, &t.approver] {
        post(&t, "/api/v1/legal-holds", key, &ok)
            .await
            .problem(StatusCode::FORBIDDEN);
        t.get("/api/v1/legal-holds", Some(key))
            .await
            .problem(StatusCode::FORBIDDEN);
    }
    assert!(events_of_type(&t, "legal_hold").await.is_empty());
    assert_eq!(
        t.get("/api/v1/legal-holds", Some(&t.admin)).await.ok_json()["holds"],
        json!([])
    );
}

/// The receipt: the erasure's event, `seq`, counts, and once checkpointed an
/// inclusion proof that checks against the signed checkpoint, computed here from RFC
/// 9162 and checked with the log's own proof verifier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_receipt_carries_an_inclusion_proof_once_checkpointed() {
    let (t, _clock) = app_with_clock().await;
    t.ingest_ok(&json!([event("e1", "t-1", "wei-1042")])).await;
    let receipt = erase(&t, "wei-1042").await.ok_json();
    assert_eq!(receipt["pending"], json!(true), "{receipt}");
    let id = receipt["erasure_id"].as_str().unwrap().to_owned();
    assert_eq!(receipt["event_id"], json!(id));
    let seq = receipt["seq"].as_u64().unwrap();

    let path = format!("/api/v1/subjects/erasures/{id}");
    let before = t.get(&path, Some(&t.privacy)).await.ok_json();
    assert_eq!(before["pending"], json!(true));
    t.sign().await;
    let shown = t.get(&path, Some(&t.admin)).await.ok_json();
    assert_eq!(shown["state"], json!("done"));
    assert_eq!(shown["seq"], json!(seq));
    assert_eq!(shown["keys_destroyed"], json!(1));
    assert_eq!(shown["blobs"], receipt["blobs"]);
    assert_eq!(
        shown["subject"],
        json!(t.app.token_key.subject_token("wei-1042"))
    );
    // Check it as a third party would: the entry hashes to the leaf, the proof leads
    // from the leaf to the checkpoint's root.
    let entry = shown["entry"].as_str().unwrap().as_bytes().to_vec();
    assert_eq!(entry, t.entry(seq).await);
    assert_eq!(shown["leaf_hash"], json!(common::leaf_b64(&entry)));
    let proof = &shown["proof"];
    let checkpoint = shown["checkpoint"].as_str().unwrap();
    let root_line = checkpoint.lines().nth(2).unwrap();
    assert_eq!(proof["root_hash"], json!(root_line));
    let leaf = common::hash(&json!(common::leaf_b64(&entry)));
    evident_tlog::verify_inclusion(
        seq,
        proof["tree_size"].as_u64().unwrap(),
        leaf,
        common::hash(&proof["root_hash"]),
        &common::hashes(&proof["hashes"]),
    )
    .expect("the receipt's proof holds");

    // Not an erasure, unknown, or the wrong role.
    t.get("/api/v1/subjects/erasures/e1", Some(&t.privacy))
        .await
        .problem(StatusCode::NOT_FOUND);
    t.get("/api/v1/subjects/erasures/evt_nosuch", Some(&t.privacy))
        .await
        .problem(StatusCode::NOT_FOUND);
    t.get(&path, Some(&t.auditor))
        .await
        .problem(StatusCode::FORBIDDEN);
    // A subject no event carries: 404, and nothing is logged.
    let size = t.tree_size().await;
    erase(&t, "nobody-carries-this")
        .await
        .problem(StatusCode::NOT_FOUND);
    assert_eq!(t.tree_size().await, size);
}

//! Erasure and the event that records it commit together (CONTRACT section 2,
//! "Erasure"; section 4, `POST /api/v1/subjects/erase`): a failed append destroys
//! nothing, a success leaves both; personal data found in an upload is erased with the
//! subject whose event claims it.

mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::TestApp;
use evident_store::faulty::{FailMode, FaultyStore};
use serde_json::{json, Value};

const EMAIL: &str = "jane.roe@example.org";

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

fn event(id: &str, subject: &str, input: Value) -> Value {
    json!({
        "event_id": id, "trace_id": format!("trace-{id}"), "timestamp": "2026-11-23T10:00:00Z",
        "actor": {"type": "agent", "id": "mail-bot"}, "event_type": "tool_call",
        "context": {"subject": subject}, "input": input,
    })
}

/// The `<EMAIL_…>` token in `text`.
fn email_token(text: &str) -> String {
    let start = text
        .find("<EMAIL_")
        .unwrap_or_else(|| panic!("no token in {text}"));
    let len = text[start..].find('>').unwrap();
    text[start..=start + len].to_owned()
}

async fn reveal(t: &TestApp, token: &str) -> common::Reply {
    post(
        t,
        "/api/v1/vault/reveal",
        &t.privacy,
        &json!({"tokens": [token], "reason": "check"}),
    )
    .await
}

async fn erasure_events(t: &TestApp) -> usize {
    t.entries()
        .await
        .iter()
        .filter(|entry| {
            serde_json::from_slice::<Value>(entry).unwrap()["event_type"] == "subject_erasure"
        })
        .count()
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

/// The erasure's append (the second append of the test) fails in `mode`.
async fn app_failing_the_erasure(mode: FailMode) -> TestApp {
    TestApp::with_store_wrapper(move |store| Arc::new(FaultyStore::shared(store, mode, 2))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_erasure_destroys_nothing_and_a_retry_erases() {
    for mode in [FailMode::BeforeWrite, FailMode::BetweenEffectAndAppend] {
        let t = app_failing_the_erasure(mode).await;
        t.ingest_ok(&json!([event(
            "e1",
            "jane-42",
            json!(format!("mail {EMAIL}"))
        )]))
        .await;
        let token = email_token(&t.get_event("e1").await.ok_json().to_string());
        let size = t.tree_size().await;
        // The indexer must not move the counts between the erasure's plan and its
        // transaction: that refusal would be re-planned and retried, and the retry
        // (not the append the fault is set for) would answer.
        t.wait_for_text_index(size, std::time::Duration::from_secs(10))
            .await;

        erase(&t, "jane-42")
            .await
            .problem(StatusCode::SERVICE_UNAVAILABLE);
        // Nothing happened: the keys are there, the log says nothing.
        assert_eq!(t.tree_size().await, size, "{mode:?}");
        assert_eq!(erasure_events(&t).await, 0, "{mode:?}");
        let subject = t.app.token_key.subject_token("jane-42");
        assert_eq!(t.store.erased_at(&subject).await.unwrap(), None, "{mode:?}");
        assert_eq!(
            reveal(&t, &token).await.ok_json()["values"][&token],
            json!(EMAIL),
            "{mode:?}"
        );

        // The retry erases, and the log says so.
        let receipt = erase(&t, "jane-42").await.ok_json();
        assert_eq!(receipt["keys_destroyed"], json!(1));
        let logged = t.entry_json(receipt["seq"].as_u64().unwrap()).await;
        assert_eq!(logged["event_type"], json!("subject_erasure"));
        assert_eq!(logged["erasure"]["keys_destroyed"], json!(1));
        assert_eq!(logged["erasure"]["values"], receipt["values"]);
        assert!(t.store.erased_at(&subject).await.unwrap().is_some());
        reveal(&t, &token).await.problem(StatusCode::GONE);
    }
}

/// "Failed but persisted": the client saw 503, yet the event and the destruction are
/// both there, never one without the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_that_failed_after_its_commit_left_both() {
    let t = app_failing_the_erasure(FailMode::AfterPersist).await;
    t.ingest_ok(&json!([event(
        "e1",
        "jane-42",
        json!(format!("mail {EMAIL}"))
    )]))
    .await;
    let token = email_token(&t.get_event("e1").await.ok_json().to_string());
    // As above: the counts must not move under the erasure the fault is set for.
    t.wait_for_text_index(t.tree_size().await, std::time::Duration::from_secs(10))
        .await;
    erase(&t, "jane-42")
        .await
        .problem(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(erasure_events(&t).await, 1);
    reveal(&t, &token).await.problem(StatusCode::GONE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_names_bad_fields_and_unknown_subjects() {
    let t = TestApp::new().await;
    t.ingest_ok(&json!([event("e1", "jane-42", json!("hello"))]))
        .await;
    let problem = post(
        &t,
        "/api/v1/subjects/erase",
        &t.privacy,
        &json!({"subject": "jane-42"}),
    )
    .await
    .problem(StatusCode::BAD_REQUEST);
    assert!(common::detail(&problem).contains("/reason"), "{problem}");
    let problem = post(
        &t,
        "/api/v1/subjects/erase",
        &t.privacy,
        &json!({"subject": 42, "reason": "x"}),
    )
    .await
    .problem(StatusCode::BAD_REQUEST);
    assert!(common::detail(&problem).contains("/subject"), "{problem}");
    erase(&t, "nobody-carries-this")
        .await
        .problem(StatusCode::NOT_FOUND);
    assert_eq!(erasure_events(&t).await, 0);
}

async fn upload(t: &TestApp, text: &str) -> String {
    t.send(
        Method::POST,
        "/api/v1/blobs",
        Some(&t.ingest),
        Some("text/plain"),
        text.to_owned(),
    )
    .await
    .ok_json()["$blob"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The values found in an upload move under the key of the subject whose event
/// claims it, so erasing that subject makes them unrevealable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_found_in_an_upload_are_erased_with_the_claiming_subject() {
    let t = TestApp::new().await;
    let reference = upload(&t, &format!("Please email {EMAIL} about the refund")).await;
    let text = t
        .get(&format!("/api/v1/blobs/{reference}"), Some(&t.auditor))
        .await
        .text();
    let token = email_token(&text);
    t.ingest_ok(&json!([event(
        "e1",
        "jane-42",
        json!({"$blob": reference})
    )]))
    .await;
    assert_eq!(
        reveal(&t, &token).await.ok_json()["values"][&token],
        json!(EMAIL)
    );
    erase(&t, "jane-42").await.ok_json();
    reveal(&t, &token).await.problem(StatusCode::GONE);
    t.get(&format!("/api/v1/blobs/{reference}"), Some(&t.auditor))
        .await
        .problem(StatusCode::GONE);
}

/// An upload is readable under one subject's key: a second subject's event cannot
/// claim it (409 naming the field), so erasing the first erases it all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_claimed_by_one_subject_is_refused_to_another() {
    let t = TestApp::new().await;
    let reference = upload(&t, &format!("Please email {EMAIL}")).await;
    t.ingest_ok(&json!([event(
        "e1",
        "jane-42",
        json!({"$blob": reference})
    )]))
    .await;
    let size = t.tree_size().await;
    let problem = t
        .post_json(
            &t.ingest,
            &json!([event("e2", "wei-7", json!("x")), {
                "event_id": "e3", "trace_id": "t3", "timestamp": "2026-11-23T10:00:00Z",
                "actor": {"type": "agent", "id": "mail-bot"}, "event_type": "tool_call",
                "context": {"subject": "wei-7"}, "output": {"$blob": reference},
            }]),
        )
        .await
        .problem(StatusCode::CONFLICT);
    assert!(
        common::detail(&problem).starts_with("/1/output"),
        "{problem}"
    );
    assert_eq!(
        t.tree_size().await,
        size,
        "a refused request stores nothing"
    );
    // The same subject may reference it again.
    t.ingest_ok(&json!([event(
        "e4",
        "jane-42",
        json!({"$blob": reference})
    )]))
    .await;
    // Two subjects claiming one fresh upload in one request: the second is refused.
    let fresh = upload(&t, "call +44 20 7946 0958").await;
    t.post_json(
        &t.ingest,
        &json!([
            event("e5", "jane-42", json!({"$blob": fresh})),
            event("e6", "wei-7", json!({"$blob": fresh})),
        ]),
    )
    .await
    .problem(StatusCode::CONFLICT);
}

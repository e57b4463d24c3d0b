//! The artifact registry over HTTP (CONTRACT section 6, "artifacts"; section 4,
//! `/api/v1/artifacts`): immutable versions, labels, time travel by the events'
//! `received_at` (driven by a test clock), answers that name their log entry, and
//! every refusal storing nothing.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{TestApp, MANUAL_CHECKPOINTS};
use evident_server::clock::TestClock;
use evident_server::state::Settings;
use evident_store::faulty::{FailMode, FaultyStore};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

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

/// An app whose clock stands at 2026-11-23T10:00:00Z until the test moves it.
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

fn prompt(version: &str, template: &str) -> Value {
    json!({
        "kind": "prompt", "name": "refund-triage", "version": version,
        "content": {"template": template, "variables": ["amount"]},
        "metadata": {"author": "ops"},
    })
}

/// Lowercase hex SHA-256 of the RFC 8785 bytes of `value` (its keys sorted; the
/// test contents have no numbers or escapes, where JCS and serde differ).
fn content_hash(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<_> = map.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for k in keys {
                    out.insert(k.clone(), sorted(&map[k]));
                }
                Value::Object(out)
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

#[tokio::test]
async fn publish_is_immutable_and_names_its_log_entry() {
    let (t, _clock) = app_with_clock().await;
    let body = prompt("1", "Refund {amount}?");
    let first = post(&t, "/api/v1/artifacts", &t.admin, &body)
        .await
        .ok_json();
    assert_eq!(first["created"], true);
    assert_eq!(first["content"], body["content"]);
    assert_eq!(first["metadata"], json!({"author": "ops"}));
    assert_eq!(first["content_hash"], content_hash(&body["content"]));
    assert_eq!(first["published_at"], "2026-11-23T10:00:00.000000Z");

    // The entry at `seq` is its artifact_publish event, received when it was published.
    let seq = first["seq"].as_u64().unwrap();
    let entry = t.entry_json(seq).await;
    assert_eq!(entry["event_type"], "artifact_publish");
    assert_eq!(entry["event_id"], first["event_id"]);
    assert_eq!(entry["received_at"], first["published_at"]);
    assert_eq!(
        entry["artifact"],
        json!({"kind": "prompt", "name": "refund-triage", "version": "1",
               "content_hash": first["content_hash"]})
    );
    let size = t.tree_size().await;

    // The same content again: 200 with the stored record, nothing recorded.
    let again = post(&t, "/api/v1/artifacts", &t.admin, &body)
        .await
        .ok_json();
    assert_eq!(again["created"], false);
    assert_eq!(again["seq"], first["seq"]);
    assert_eq!(again["event_id"], first["event_id"]);
    // Other content under the same version: 409, nothing stored.
    let other = post(&t, "/api/v1/artifacts", &t.admin, &prompt("1", "Changed"))
        .await
        .problem(StatusCode::CONFLICT);
    assert!(
        other["detail"].as_str().unwrap().contains("immutable"),
        "{other}"
    );
    assert_eq!(t.tree_size().await, size);
    let read = t
        .get("/api/v1/artifacts/prompt/refund-triage@1", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(read["content"], body["content"]);
    assert_eq!(read["seq"], first["seq"]);
}

#[tokio::test]
async fn latest_labels_and_time_travel_follow_the_events_received_at() {
    let (t, clock) = app_with_clock().await;
    let get = |uri: String| {
        let t = &t;
        async move { t.get(&uri, Some(&t.auditor)).await }
    };
    let base = "/api/v1/artifacts/prompt/refund-triage";
    // 10:00 v1; 10:10 production → v1; 10:20 v2; 10:30 production → v2.
    let v1 = post(&t, "/api/v1/artifacts", &t.admin, &prompt("1", "one"))
        .await
        .ok_json();
    clock.advance(Duration::from_secs(600));
    let moved = post(
        &t,
        &format!("{base}/labels"),
        &t.admin,
        &json!({"label": "production", "version": "1"}),
    )
    .await
    .ok_json();
    assert_eq!(moved["moved"], true);
    assert_eq!(moved["from_version"], Value::Null);
    let entry = t.entry_json(moved["seq"].as_u64().unwrap()).await;
    assert_eq!(entry["event_type"], "label_move");
    assert_eq!(entry["label_move"]["to_version"], "1");
    assert_eq!(entry["label_move"]["from_version"], Value::Null);
    assert_eq!(entry["received_at"], "2026-11-23T10:10:00.000000Z");
    clock.advance(Duration::from_secs(600));
    let v2 = post(&t, "/api/v1/artifacts", &t.admin, &prompt("2", "two"))
        .await
        .ok_json();
    clock.advance(Duration::from_secs(600));
    let moved = post(
        &t,
        &format!("{base}/labels"),
        &t.admin,
        &json!({"label": "production", "version": "2"}),
    )
    .await
    .ok_json();
    assert_eq!(moved["from_version"], "1");
    let entry = t.entry_json(moved["seq"].as_u64().unwrap()).await;
    assert_eq!(entry["label_move"]["from_version"], "1");

    // Now.
    assert_eq!(get(base.into()).await.ok_json()["version"], "2");
    assert_eq!(
        get(format!("{base}?label=production")).await.ok_json()["version"],
        "2"
    );
    assert_eq!(get(format!("{base}@1")).await.ok_json()["seq"], v1["seq"]);
    // Then: latest at a time, and under the label at a time.
    let at = |time: &str, label: Option<&str>| {
        let mut uri = format!("{base}?at={time}");
        if let Some(label) = label {
            uri.push_str(&format!("&label={label}"));
        }
        uri
    };
    let latest_1015 = get(at("2026-11-23T10:15:00Z", None)).await.ok_json();
    assert_eq!(latest_1015["version"], "1");
    assert_eq!(latest_1015["at"], "2026-11-23T10:15:00.000000Z");
    assert_eq!(
        get(at("2026-11-23T10:20:00Z", None)).await.ok_json()["seq"],
        v2["seq"],
        "published at 10:20 is latest at 10:20"
    );
    assert_eq!(
        get(at("2026-11-23T10:25:00Z", Some("production")))
            .await
            .ok_json()["version"],
        "1"
    );
    // 11:05+01:00 is 10:05Z: v1 existed, the label named nothing yet.
    let none = get(at("2026-11-23T11:05:00%2B01:00", Some("production")))
        .await
        .problem(StatusCode::NOT_FOUND);
    assert!(
        none["detail"].as_str().unwrap().contains("production"),
        "{none}"
    );
    assert_eq!(
        get(at("2026-11-23T11:05:00%2B01:00", None)).await.ok_json()["version"],
        "1"
    );
    // An offset's `+` left unescaped in the query string means the same.
    assert_eq!(
        get(at("2026-11-23T11:25:00+01:00", Some("production")))
            .await
            .ok_json()["version"],
        "1"
    );
    get(at("2026-11-23T09:59:59Z", None))
        .await
        .problem(StatusCode::NOT_FOUND);
    // Moving a label where it already is records nothing.
    let size = t.tree_size().await;
    let same = post(
        &t,
        &format!("{base}/labels"),
        &t.admin,
        &json!({"label": "production", "version": "2"}),
    )
    .await
    .ok_json();
    assert_eq!(same["moved"], false);
    assert_eq!(t.tree_size().await, size);
}

#[tokio::test]
async fn unknown_things_are_404_and_bad_fields_400_naming_the_field() {
    let (t, _clock) = app_with_clock().await;
    post(&t, "/api/v1/artifacts", &t.admin, &prompt("1", "one"))
        .await
        .ok_json();
    let size = t.tree_size().await;
    let base = "/api/v1/artifacts/prompt/refund-triage";
    for uri in [
        "/api/v1/artifacts/prompt/nothing".to_owned(),
        format!("{base}@9"),
        format!("{base}?label=production"),
    ] {
        t.get(&uri, Some(&t.auditor))
            .await
            .problem(StatusCode::NOT_FOUND);
    }
    let unknown_version = post(
        &t,
        &format!("{base}/labels"),
        &t.admin,
        &json!({"label": "production", "version": "9"}),
    )
    .await
    .problem(StatusCode::NOT_FOUND);
    assert!(unknown_version["detail"]
        .as_str()
        .unwrap()
        .contains("version"));

    let mut bad = Vec::new();
    for (field, body) in [
        (
            "/kind",
            json!({"kind": "spell", "name": "n", "version": "1", "content": {}}),
        ),
        ("/kind", json!({"name": "n", "version": "1", "content": {}})),
        (
            "/name",
            json!({"kind": "prompt", "name": "a/b", "version": "1", "content": {}}),
        ),
        (
            "/name",
            json!({"kind": "prompt", "name": 5, "version": "1", "content": {}}),
        ),
        (
            "/version",
            json!({"kind": "prompt", "name": "n", "version": "1@2", "content": {}}),
        ),
        (
            "/version",
            json!({"kind": "prompt", "name": "n", "version": "", "content": {}}),
        ),
        (
            "/content",
            json!({"kind": "prompt", "name": "n", "version": "1"}),
        ),
        (
            "/content",
            json!({"kind": "prompt", "name": "n", "version": "1",
                             "content": "x".repeat(1024 * 1024 + 1)}),
        ),
        (
            "/metadata",
            json!({"kind": "prompt", "name": "n", "version": "1", "content": {},
                              "metadata": [1]}),
        ),
    ] {
        let problem = post(&t, "/api/v1/artifacts", &t.admin, &body)
            .await
            .problem(StatusCode::BAD_REQUEST);
        let detail = problem["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(field), "{field}: {detail}");
        bad.push(detail);
    }
    for (field, body) in [
        ("/label", json!({"label": "", "version": "1"})),
        ("/label", json!({"version": "1"})),
        ("/version", json!({"label": "production", "version": 1})),
    ] {
        let problem = post(&t, &format!("{base}/labels"), &t.admin, &body)
            .await
            .problem(StatusCode::BAD_REQUEST);
        assert!(
            problem["detail"].as_str().unwrap().contains(field),
            "{problem}"
        );
    }
    let problem = t
        .get(&format!("{base}?at=yesterday"), Some(&t.auditor))
        .await
        .problem(StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"].as_str().unwrap().contains("at"),
        "{problem}"
    );
    let problem = t
        .get("/api/v1/artifacts/spell/n", Some(&t.auditor))
        .await
        .problem(StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"].as_str().unwrap().contains("kind"),
        "{problem}"
    );
    // Not JSON, not an object: 400.
    t.send(
        Method::POST,
        "/api/v1/artifacts",
        Some(&t.admin),
        Some("application/json"),
        "{",
    )
    .await
    .problem(StatusCode::BAD_REQUEST);
    post(&t, "/api/v1/artifacts", &t.admin, &json!([1]))
        .await
        .problem(StatusCode::BAD_REQUEST);
    assert_eq!(t.tree_size().await, size, "refusals stored nothing");
}

#[tokio::test]
async fn only_admins_publish_and_move_readers_read() {
    let (t, _clock) = app_with_clock().await;
    let body = prompt("1", "one");
    post(&t, "/api/v1/artifacts", "not-a-key", &body)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    t.send(
        Method::POST,
        "/api/v1/artifacts",
        None,
        Some("application/json"),
        body.to_string(),
    )
    .await
    .problem(StatusCode::UNAUTHORIZED);
    for key in [&t.ingest, &t.auditor, &t.approver, &t.privacy] {
        post(&t, "/api/v1/artifacts", key, &body)
            .await
            .problem(StatusCode::FORBIDDEN);
    }
    post(&t, "/api/v1/artifacts", &t.admin, &body)
        .await
        .ok_json();
    let labels = "/api/v1/artifacts/prompt/refund-triage/labels";
    let label = json!({"label": "production", "version": "1"});
    post(&t, labels, &t.auditor, &label)
        .await
        .problem(StatusCode::FORBIDDEN);
    let uri = "/api/v1/artifacts/prompt/refund-triage";
    t.get(uri, None).await.problem(StatusCode::UNAUTHORIZED);
    t.get(uri, Some(&t.ingest))
        .await
        .problem(StatusCode::FORBIDDEN);
    for key in [&t.auditor, &t.approver, &t.privacy, &t.admin] {
        t.get(uri, Some(key)).await.ok_json();
    }
}

/// A failure between the registry row and its event (inside the transaction) leaves
/// neither: 503, no version, no entry; the retry publishes.
#[tokio::test]
async fn a_publish_that_fails_to_commit_stores_nothing() {
    let t = TestApp::with_store_wrapper(|store| {
        // The first append through the wrapper is the publish.
        Arc::new(FaultyStore::shared(
            store,
            FailMode::BetweenEffectAndAppend,
            1,
        ))
    })
    .await;
    let size = t.tree_size().await;
    post(&t, "/api/v1/artifacts", &t.admin, &prompt("1", "one"))
        .await
        .problem(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(t.tree_size().await, size);
    t.get("/api/v1/artifacts/prompt/refund-triage@1", Some(&t.auditor))
        .await
        .problem(StatusCode::NOT_FOUND);
    let published = post(&t, "/api/v1/artifacts", &t.admin, &prompt("1", "one"))
        .await
        .ok_json();
    assert_eq!(published["created"], true);
    assert_eq!(published["seq"], size);
}

/// An event's `snapshot` values `name@version` link to the registry in the read API,
/// for one event and for a trace; a value naming nothing published says so.
#[tokio::test]
async fn snapshot_values_link_to_the_registry_in_event_and_trace_answers() {
    let (t, _clock) = app_with_clock().await;
    let published = post(&t, "/api/v1/artifacts", &t.admin, &prompt("1", "one"))
        .await
        .ok_json();
    let event = |id: &str| {
        json!({
            "event_id": id, "trace_id": "trace-snap", "timestamp": "2026-11-23T10:00:00Z",
            "actor": {"type": "agent", "id": "refund-agent"}, "event_type": "model_call",
            "snapshot": {
                "prompt_version": "refund-triage@1",
                "tool_versions": {"payments/refund": "refund-api@2"},
                "model": "gpt-4o",
            },
        })
    };
    t.ingest_ok(&json!([event("snap-1"), event("snap-2")]))
        .await;
    let answer = t.get_event("snap-1").await.ok_json();
    assert_eq!(
        answer["artifacts"],
        json!({
            "/snapshot/prompt_version": {
                "kind": "prompt", "name": "refund-triage", "version": "1",
                "content_hash": published["content_hash"], "seq": published["seq"],
                "event_id": published["event_id"],
            },
            "/snapshot/tool_versions/payments~1refund": {
                "kind": "tool_schema", "name": "refund-api", "version": "2", "unknown": true,
            },
        })
    );
    let trace = t
        .get("/api/v1/traces/trace-snap", Some(&t.auditor))
        .await
        .ok_json();
    for id in ["snap-1", "snap-2"] {
        assert_eq!(trace["artifacts"][id], answer["artifacts"], "{id}");
    }
    // An event without a snapshot gets no links.
    let plain = post(&t, "/api/v1/artifacts", &t.admin, &prompt("2", "two"))
        .await
        .ok_json();
    let publish_event = t
        .get_event(plain["event_id"].as_str().unwrap())
        .await
        .ok_json();
    assert!(publish_event.get("artifacts").is_none(), "{publish_event}");
}

/// Label moves racing each other: each commits with the version it really moved
/// from (a move whose origin changed under it is made again), so the `label_move`
/// events form one unbroken chain and the label ends where the last one says.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_label_moves_keep_an_exact_chain_of_from_versions() {
    let (t, _clock) = app_with_clock().await;
    for v in ["1", "2", "3", "4"] {
        post(&t, "/api/v1/artifacts", &t.admin, &prompt(v, v))
            .await
            .ok_json();
    }
    let t = Arc::new(t);
    let mut moves = Vec::new();
    for v in ["1", "2", "3", "4", "1", "2"] {
        let t = t.clone();
        moves.push(tokio::spawn(async move {
            post(
                &t,
                "/api/v1/artifacts/prompt/refund-triage/labels",
                &t.admin,
                &json!({"label": "production", "version": v}),
            )
            .await
        }));
    }
    let mut seqs = Vec::new();
    for handle in moves {
        let reply = handle.await.unwrap();
        // Contended moves may give up (503, nothing stored); none may be wrong.
        if reply.status == StatusCode::SERVICE_UNAVAILABLE {
            continue;
        }
        let answer = reply.ok_json();
        if let Some(seq) = answer["seq"].as_u64() {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    assert!(!seqs.is_empty());
    let mut current = Value::Null;
    for seq in seqs {
        let entry = t.entry_json(seq).await;
        assert_eq!(entry["label_move"]["from_version"], current, "seq {seq}");
        current = entry["label_move"]["to_version"].clone();
    }
    let now = t
        .get(
            "/api/v1/artifacts/prompt/refund-triage?label=production",
            Some(&t.auditor),
        )
        .await
        .ok_json();
    assert_eq!(now["version"], current);
}

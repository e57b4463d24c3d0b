//! `POST /api/v1/events` and `/api/v1/blobs` (CONTRACT sections 1, 2 and 4): what a
//! client gets back, what the log holds afterwards, and that a rejected request
//! stores nothing.

mod common;

use axum::http::{Method, StatusCode};
use common::{detail, event, leaf_b64, TestApp};
use serde_json::{json, Value};

/// Asserts that `answer` is the ingest answer for `ids`, in order, with consecutive
/// `seq`s from `first_seq`, and that every `leaf_hash` is the hash of the entry the
/// log serves at that `seq`.
async fn assert_answer(t: &TestApp, answer: &[Value], ids: &[&str], first_seq: u64) {
    assert_eq!(answer.len(), ids.len(), "{answer:?}");
    let entries = t.entries().await;
    for (i, (result, id)) in answer.iter().zip(ids).enumerate() {
        let seq = first_seq + i as u64;
        assert_eq!(result["event_id"], json!(id), "{result}");
        assert_eq!(result["seq"], json!(seq), "{result}");
        let entry = &entries[usize::try_from(seq).unwrap()];
        assert_eq!(result["leaf_hash"], json!(leaf_b64(entry)), "{result}");
        let record: Value = serde_json::from_slice(entry).unwrap();
        assert_eq!(record["event_id"], json!(id));
        assert_eq!(record["seq"], json!(seq));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_event_object_gets_an_array_of_one() {
    let t = TestApp::new().await;
    let answer = t.ingest_ok(&event("e-1", "t-1")).await;
    assert_answer(&t, &answer, &["e-1"], 0).await;
    assert_eq!(t.tree_size().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_array_is_answered_in_order() {
    let t = TestApp::new().await;
    let answer = t
        .ingest_ok(&json!([
            event("b", "t-1"),
            event("a", "t-1"),
            event("c", "t-2")
        ]))
        .await;
    assert_answer(&t, &answer, &["b", "a", "c"], 0).await;
    let more = t.ingest_ok(&json!([event("d", "t-1")])).await;
    assert_answer(&t, &more, &["d"], 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_is_answered_in_order() {
    let t = TestApp::new().await;
    // Blank lines, CRLF line ends and a missing final newline are all fine.
    let body = format!(
        "{}\r\n\n{}\n{}",
        event("n-1", "t"),
        event("n-2", "t"),
        event("n-3", "t")
    );
    let reply = t
        .post_events_raw(&t.ingest, "application/x-ndjson", body)
        .await;
    let answer = reply.ok_json();
    assert_answer(&t, answer.as_array().unwrap(), &["n-1", "n-2", "n-3"], 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_type_parameters_are_accepted() {
    let t = TestApp::new().await;
    let reply = t
        .post_events_raw(
            &t.ingest,
            "application/json; charset=utf-8",
            event("ct-1", "t").to_string(),
        )
        .await;
    assert_eq!(reply.ok_json()[0]["seq"], json!(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_assigns_evt_ulid_ids_when_absent() {
    let t = TestApp::new().await;
    let mut e1 = event("x", "t-1");
    let mut e2 = event("x", "t-1");
    e1.as_object_mut().unwrap().remove("event_id");
    e2.as_object_mut().unwrap().remove("event_id");
    let answer = t.ingest_ok(&json!([e1, e2])).await;
    let ids: Vec<&str> = answer
        .iter()
        .map(|r| r["event_id"].as_str().unwrap())
        .collect();
    assert_ne!(ids[0], ids[1], "each event gets its own id");
    for id in &ids {
        let ulid = id.strip_prefix("evt_").expect("evt_ prefix");
        assert_eq!(ulid.len(), 26, "{id}");
        assert!(
            ulid.bytes()
                .all(|b| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b)),
            "{id} is not a ULID"
        );
        let found = t.get_event(id).await.ok_json();
        assert_eq!(found["record"]["event_id"], json!(id));
    }
    assert_answer(&t, &answer, &ids, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_carries_the_server_fields() {
    let t = TestApp::new().await;
    let answer = t.ingest_ok(&event("srv-1", "t-1")).await;
    let entry = t.entry_json(0).await;
    assert_eq!(entry["seq"], json!(0));
    assert_eq!(entry["schema"], json!("evident/1"));
    assert_eq!(entry["principal"], json!("ingest-1"));
    assert_eq!(entry["trace_prev"], Value::Null);
    assert_eq!(entry["subject_prev"], Value::Null);
    let received_at = entry["received_at"].as_str().unwrap();
    // RFC 3339, UTC, microseconds, `Z`: 2026-11-23T14:22:07.123456Z
    assert_eq!(received_at.len(), 27, "{received_at}");
    assert!(received_at.ends_with('Z') && received_at.as_bytes()[19] == b'.');
    assert!(evident_core::time::parse_rfc3339(received_at).is_ok());
    // The client's fields are kept as sent.
    assert_eq!(entry["timestamp"], json!("2026-11-23T14:22:07.123+01:00"));
    assert_eq!(entry["actor"]["version"], json!("1.4.2"));
    // Entry bytes are the RFC 8785 form of the record.
    let bytes = t.entry(0).await;
    assert_eq!(evident_core::json::canonical_bytes(&entry), bytes);
    // Lookup answers the same leaf hash as ingest did.
    let found = t.get_event("srv-1").await.ok_json();
    assert_eq!(found["seq"], json!(0));
    assert_eq!(found["leaf_hash"], answer[0]["leaf_hash"]);
    assert_eq!(found["record"]["principal"], json!("ingest-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_top_level_fields_are_kept() {
    let t = TestApp::new().await;
    let mut e = event("unk-1", "t-1");
    e["x_vendor"] = json!({"nested": [1, 2.5, "three", null], "flag": true});
    e["max_safe"] = json!(9_007_199_254_740_992_u64);
    t.ingest_ok(&e).await;
    let entry = t.entry_json(0).await;
    assert_eq!(entry["x_vendor"], e["x_vendor"]);
    assert_eq!(entry["max_safe"], json!(9_007_199_254_740_992_u64));
    let record = &t.get_event("unk-1").await.ok_json()["record"];
    assert_eq!(record["x_vendor"], e["x_vendor"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_again_returns_the_first_answer() {
    let t = TestApp::new().await;
    let first = t
        .ingest_ok(&json!([event("i-0", "t"), event("i-1", "t")]))
        .await;
    // The same submission, with other key order and whitespace: same digest.
    let resent = r#"{ "outcome":"success", "tool":{"call_id":"call-1","name":"issue_refund"},
        "event_type":"tool_call", "actor":{"version":"1.4.2","id":"refund-bot","type":"agent"},
        "timestamp":"2026-11-23T14:22:07.123+01:00", "trace_id":"t", "event_id":"i-1" }"#;
    let reply = t
        .post_events_raw(&t.ingest, "application/json", resent)
        .await;
    let again = reply.ok_json();
    assert_eq!(again, json!([first[1].clone()]));
    assert_eq!(t.tree_size().await, 2, "a duplicate does not grow the tree");

    // A batch mixing a duplicate and a new event: the duplicate keeps its seq.
    let mixed = t
        .ingest_ok(&json!([event("i-new", "t"), event("i-0", "t")]))
        .await;
    assert_eq!(mixed[0]["seq"], json!(2));
    assert_eq!(mixed[1], first[0]);
    // The same event twice in one batch is stored once.
    let twice = t
        .ingest_ok(&json!([event("i-twice", "t"), event("i-twice", "t")]))
        .await;
    assert_eq!(twice[0], twice[1]);
    assert_eq!(twice[0]["seq"], json!(3));
    assert_eq!(t.tree_size().await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_id_with_other_content_is_409_and_stores_nothing() {
    let t = TestApp::new().await;
    t.ingest_ok(&event("dup", "t")).await;
    let mut changed = event("dup", "t");
    changed["outcome"] = json!("error");

    let reply = t.post_json(&t.ingest, &changed).await;
    let problem = reply.problem(StatusCode::CONFLICT);
    assert!(detail(&problem).contains("/0/event_id"), "{problem}");

    let reply = t
        .post_json(
            &t.ingest,
            &json!([event("fresh-0", "t"), event("fresh-1", "t"), changed]),
        )
        .await;
    let problem = reply.problem(StatusCode::CONFLICT);
    assert!(detail(&problem).contains("/2/event_id"), "{problem}");
    assert_eq!(t.tree_size().await, 1, "nothing of the request was stored");
    for id in ["fresh-0", "fresh-1"] {
        t.get_event(id).await.problem(StatusCode::NOT_FOUND);
    }
    // Two different events with one id inside one batch conflict too.
    let mut other = event("same", "t");
    other["outcome"] = json!("pending");
    let reply = t
        .post_json(&t.ingest, &json!([event("same", "t"), other]))
        .await;
    let problem = reply.problem(StatusCode::CONFLICT);
    assert!(detail(&problem).contains("/1/event_id"), "{problem}");
    t.get_event("same").await.problem(StatusCode::NOT_FOUND);
    // The first version still answers as before.
    let found = t.get_event("dup").await.ok_json();
    assert_eq!(found["record"]["outcome"], json!("success"));
    assert_eq!(t.tree_size().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_one_bad_event_stores_nothing() {
    let t = TestApp::new().await;
    t.ingest_ok(&event("before", "t")).await;
    let mut bad = event("b-2", "t");
    bad["actor"].as_object_mut().unwrap().remove("id");
    let reply = t
        .post_json(
            &t.ingest,
            &json!([event("b-0", "t"), event("b-1", "t"), bad, event("b-3", "t")]),
        )
        .await;
    let problem = reply.problem(StatusCode::BAD_REQUEST);
    assert_eq!(problem["pointer"], json!("/2/actor/id"), "{problem}");
    assert!(detail(&problem).starts_with("/2/actor/id"), "{problem}");
    assert_eq!(t.tree_size().await, 1);
    for id in ["b-0", "b-1", "b-3"] {
        t.get_event(id).await.problem(StatusCode::NOT_FOUND);
    }

    // NDJSON: the pointer is the line's index.
    let mut bad_type = event("n-1", "t");
    bad_type["event_type"] = json!("not-a-type");
    let body = format!("{}\n{}\n", event("n-0", "t"), bad_type);
    let reply = t
        .post_events_raw(&t.ingest, "application/x-ndjson", body)
        .await;
    let problem = reply.problem(StatusCode::BAD_REQUEST);
    assert_eq!(problem["pointer"], json!("/1/event_type"), "{problem}");
    t.get_event("n-0").await.problem(StatusCode::NOT_FOUND);
    assert_eq!(t.tree_size().await, 1);
}

/// Posts `e` and asserts 400 whose pointer and detail name `pointer`.
async fn assert_refused(t: &TestApp, e: Value, pointer: &str) {
    let reply = t.post_json(&t.ingest, &e).await;
    let problem = reply.problem(StatusCode::BAD_REQUEST);
    assert_eq!(problem["pointer"], json!(pointer), "{e}: {problem}");
    assert!(detail(&problem).contains(pointer), "{problem}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_required_field_is_named_when_missing() {
    let t = TestApp::new().await;
    for field in ["trace_id", "timestamp", "actor", "event_type"] {
        let mut e = event("req", "t");
        e.as_object_mut().unwrap().remove(field);
        assert_refused(&t, e, &format!("/0/{field}")).await;
        let mut e = event("req", "t");
        e[field] = Value::Null;
        assert_refused(&t, e, &format!("/0/{field}")).await;
    }
    for member in ["type", "id"] {
        let mut e = event("req", "t");
        e["actor"].as_object_mut().unwrap().remove(member);
        assert_refused(&t, e, &format!("/0/actor/{member}")).await;
    }
    let mut e = event("req", "t");
    e["actor"]["type"] = json!("robot");
    assert_refused(&t, e, "/0/actor/type").await;
    // A timestamp must carry an offset.
    for bad in [
        "2026-11-23T14:22:07",
        "2026-11-23",
        "yesterday",
        "2026-13-23T14:22:07Z",
    ] {
        let mut e = event("req", "t");
        e["timestamp"] = json!(bad);
        assert_refused(&t, e, "/0/timestamp").await;
    }
    let mut e = event("req", "t");
    e["trace_id"] = json!(42);
    assert_refused(&t, e, "/0/trace_id").await;
    let mut e = event("req", "t");
    e["outcome"] = json!("maybe");
    assert_refused(&t, e, "/0/outcome").await;
    assert_eq!(t.tree_size().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_fields_from_a_client_are_refused() {
    let t = TestApp::new().await;
    for field in [
        "seq",
        "received_at",
        "principal",
        "schema",
        "trace_prev",
        "subject_prev",
    ] {
        for value in [json!(1), json!("x"), Value::Null] {
            let mut e = event("srv", "t");
            e[field] = value;
            assert_refused(&t, e, &format!("/0/{field}")).await;
        }
    }
    assert_eq!(t.tree_size().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_event_types_from_a_client_are_refused() {
    let t = TestApp::new().await;
    for kind in [
        "policy_decision",
        "approval_request",
        "approval_resolution",
        "alert",
        "alert_update",
        "policy_publish",
        "policy_rollback",
        "artifact_publish",
        "label_move",
        "retention_purge",
        "legal_hold",
        "subject_erasure",
        "vault_access",
        "key_change",
        "config_change",
        "agent_suspension",
        "something_else",
    ] {
        let mut e = event("typ", "t");
        e["event_type"] = json!(kind);
        assert_refused(&t, e, "/0/event_type").await;
    }
    assert_eq!(t.tree_size().await, 0);
    // Every client type is accepted.
    let client_types = [
        "model_call",
        "tool_call",
        "tool_result",
        "retrieval",
        "agent_run",
        "decision",
        "guardrail",
        "human_review",
        "external_action",
        "error",
        "step",
    ];
    let events: Vec<Value> = client_types
        .iter()
        .map(|kind| {
            let mut e = event(&format!("ct-{kind}"), "t");
            e["event_type"] = json!(kind);
            e
        })
        .collect();
    let answer = t.ingest_ok(&Value::Array(events)).await;
    assert_eq!(answer.len(), client_types.len());
}

const SUBJECT: &str = "customer-4711";

fn subject_event(event_id: &str, trace_id: &str, subject: &str) -> Value {
    let mut e = event(event_id, trace_id);
    e["context"] = json!({"subject": subject, "case_id": format!("case-{SUBJECT}")});
    e["input"] = json!({"prompt": format!("Refund order 17 for {SUBJECT}, please."),
                        "customer": SUBJECT});
    e["output"] = json!(format!("Refunded {SUBJECT}"));
    e["attributes"] = json!({ SUBJECT: {"tier": "gold"} });
    e["note"] = json!(format!("called by {SUBJECT}"));
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subject_never_rests_in_clear() {
    let t = TestApp::new().await;
    let answer = t
        .ingest_ok(&json!([
            subject_event("s-1", "t-1", SUBJECT),
            subject_event("s-2", "t-2", &format!("  {SUBJECT}  "))
        ]))
        .await;
    assert!(!serde_json::to_string(&answer).unwrap().contains(SUBJECT));

    let entries = t.entries().await;
    let first: Value = serde_json::from_slice(&entries[0]).unwrap();
    let second: Value = serde_json::from_slice(&entries[1]).unwrap();
    let token = first["context"]["subject"].as_str().unwrap();
    assert!(
        token.starts_with("subj_") && token.len() > 5 + 25,
        "{token}"
    );
    assert_eq!(
        second["context"]["subject"],
        json!(token),
        "same (trimmed) subject, same token"
    );
    assert_eq!(first["note"], json!(format!("called by {token}")));
    assert_eq!(first["context"]["case_id"], json!(format!("case-{token}")));
    for entry in &entries {
        assert!(
            !String::from_utf8_lossy(entry).contains(SUBJECT),
            "clear subject in an entry: {}",
            String::from_utf8_lossy(entry)
        );
    }

    // The record as read back, payloads resolved: tokens, never the clear id.
    let record = t.get_event("s-1").await.ok_json()["record"].clone();
    let text = record.to_string();
    assert!(!text.contains(SUBJECT), "{text}");
    assert_eq!(
        record["input"]["prompt"],
        json!(format!("Refund order 17 for {token}, please."))
    );
    assert_eq!(record["input"]["customer"], json!(token));
    assert_eq!(record["output"], json!(format!("Refunded {token}")));
    assert_eq!(record["attributes"][token], json!({"tier": "gold"}));

    // And the blobs themselves.
    for field in ["input", "output", "attributes"] {
        let reference = first[field]["$blob"].as_str().unwrap();
        let blob = t
            .get(&format!("/api/v1/blobs/{reference}"), Some(&t.auditor))
            .await;
        assert_eq!(blob.status, StatusCode::OK);
        let bytes = String::from_utf8(blob.body.clone()).unwrap();
        assert!(!bytes.contains(SUBJECT), "{field}: {bytes}");
        assert!(bytes.contains(token), "{field}: {bytes}");
    }

    // A different subject gets a different token.
    t.ingest_ok(&subject_event("s-3", "t-3", "customer-4712"))
        .await;
    let third = t.entry_json(2).await;
    assert_ne!(third["context"]["subject"], json!(token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payloads_become_commitments_and_read_back_resolved() {
    let t = TestApp::new().await;
    let mut e = event("p-1", "t");
    let input = json!({"messages": [{"role": "user", "content": "Refund order 17"}],
                       "temperature": 0.2});
    let output = json!(["refund issued", 17, null, {"ok": true}]);
    let attributes = json!({"gen_ai.system": "openai", "retries": 0});
    e["input"] = input.clone();
    e["output"] = output.clone();
    e["attributes"] = attributes.clone();
    let answer = t.ingest_ok(&e).await;

    let entry_bytes = t.entry(0).await;
    assert_eq!(answer[0]["leaf_hash"], json!(leaf_b64(&entry_bytes)));
    let entry: Value = serde_json::from_slice(&entry_bytes).unwrap();
    for (field, payload) in [
        ("input", &input),
        ("output", &output),
        ("attributes", &attributes),
    ] {
        let commitment = entry[field].as_object().expect("a commitment object");
        assert_eq!(commitment.len(), 3, "{field}: {commitment:?}");
        let reference = commitment["$blob"].as_str().unwrap();
        let hex = reference.strip_prefix("sha256:").expect("sha256: ref");
        assert_eq!(hex.len(), 64);
        assert!(hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(commitment["media_type"], json!("application/json"));
        let canonical = evident_core::json::canonical_bytes(payload);
        assert_eq!(commitment["size"], json!(canonical.len()), "{field}");
        // The payload text is not in the entry.
        assert!(!String::from_utf8_lossy(&entry_bytes).contains("Refund order 17"));

        // The blob opens the commitment: SHA-256(salt ‖ bytes).
        let parsed = evident_core::blob::parse_blob_ref(reference).unwrap();
        let stored = evident_store::BlobStore::blob(&*t.store, &parsed)
            .await
            .unwrap()
            .expect("the blob is stored");
        let evident_server::vault::BlobContent::Readable { salt, bytes } =
            t.app.vault.open_blob(&stored).await.unwrap()
        else {
            panic!("the blob is readable");
        };
        assert_eq!(bytes, canonical);
        assert_eq!(
            evident_core::blob::BlobRef::commit(&salt, &bytes),
            parsed,
            "{field}: the commitment opens"
        );
        // At rest it is sealed: the payload is not in the stored bytes.
        assert!(!String::from_utf8_lossy(&stored.sealed).contains("Refund order 17"));
        assert_eq!(stored.seq, Some(0));

        // Readers fetch the bytes.
        let blob = t
            .get(&format!("/api/v1/blobs/{reference}"), Some(&t.auditor))
            .await;
        assert_eq!(blob.status, StatusCode::OK);
        assert_eq!(blob.body, canonical);
        assert_eq!(blob.content_type(), "application/json");
    }

    let record = &t.get_event("p-1").await.ok_json()["record"];
    assert_eq!(record["input"], input);
    assert_eq!(record["output"], output);
    assert_eq!(record["attributes"], attributes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_and_subject_back_links() {
    let t = TestApp::new().await;
    let plain = |id: &str, trace: &str| event(id, trace);
    let with_subject = |id: &str, trace: &str, subject: &str| {
        let mut e = event(id, trace);
        e["context"] = json!({"subject": subject});
        e
    };
    // One request, then a batch: links reach across requests and inside a batch.
    t.ingest_ok(&with_subject("l-0", "trace-a", "alice")).await;
    t.ingest_ok(&json!([
        plain("l-1", "trace-b"),
        with_subject("l-2", "trace-a", "alice"),
        with_subject("l-3", "trace-a", "bob"),
        with_subject("l-4", "trace-b", "alice"),
    ]))
    .await;
    t.ingest_ok(&plain("l-5", "trace-a")).await;
    let entries = t.entries().await;
    let links: Vec<(Value, Value)> = entries
        .iter()
        .map(|bytes| {
            let entry: Value = serde_json::from_slice(bytes).unwrap();
            (entry["trace_prev"].clone(), entry["subject_prev"].clone())
        })
        .collect();
    let null = Value::Null;
    assert_eq!(
        links,
        vec![
            (null.clone(), null.clone()),
            (null.clone(), null.clone()),
            (json!(0), json!(0)),
            (json!(2), null.clone()),
            (json!(1), json!(2)),
            (json!(3), null.clone()),
        ]
    );
    // A duplicate does not move the links.
    t.ingest_ok(&with_subject("l-2", "trace-a", "alice")).await;
    t.ingest_ok(&plain("l-6", "trace-a")).await;
    assert_eq!(t.entry_json(6).await["trace_prev"], json!(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploaded_blobs_can_be_referenced() {
    let t = TestApp::new().await;
    let document = b"%PDF-1.7 pretend this is a contract".to_vec();
    let reply = t
        .send(
            Method::POST,
            "/api/v1/blobs",
            Some(&t.ingest),
            Some("application/pdf"),
            document.clone(),
        )
        .await;
    let uploaded = reply.ok_json();
    let reference = uploaded["$blob"].as_str().expect("{\"$blob\": ref}");
    assert!(reference.starts_with("sha256:") && reference.len() == 7 + 64);
    assert_eq!(uploaded.as_object().unwrap().len(), 1);

    // Readers get the bytes and the media type; the ingest role does not.
    let blob = t
        .get(&format!("/api/v1/blobs/{reference}"), Some(&t.auditor))
        .await;
    assert_eq!(blob.status, StatusCode::OK);
    assert_eq!(blob.body, document);
    assert_eq!(blob.content_type(), "application/pdf");
    t.get(&format!("/api/v1/blobs/{reference}"), Some(&t.ingest))
        .await
        .problem(StatusCode::FORBIDDEN);

    let mut e = event("up-1", "t");
    e["input"] = json!({"$blob": reference});
    let answer = t.ingest_ok(&e).await;
    let entry = t.entry_json(0).await;
    assert_eq!(
        entry["input"],
        json!({"$blob": reference, "size": document.len(), "media_type": "application/pdf"})
    );
    assert_eq!(answer[0]["seq"], json!(0));
    // A non-JSON payload stays a commitment when the event is read; the blob serves it.
    let record = &t.get_event("up-1").await.ok_json()["record"];
    assert_eq!(record["input"]["$blob"], json!(reference));

    // A JSON upload is resolved like an inline payload.
    let reply = t
        .send(
            Method::POST,
            "/api/v1/blobs",
            Some(&t.admin),
            Some("application/json"),
            r#"{"rows": [1, 2, 3]}"#,
        )
        .await;
    let json_ref = reply.ok_json()["$blob"].as_str().unwrap().to_owned();
    let mut e = event("up-2", "t");
    e["output"] = json!({"$blob": json_ref});
    t.ingest_ok(&e).await;
    let record = &t.get_event("up-2").await.ok_json()["record"];
    assert_eq!(record["output"], json!({"rows": [1, 2, 3]}));

    // Uploading is for writers only.
    let reply = t
        .send(
            Method::POST,
            "/api/v1/blobs",
            Some(&t.auditor),
            Some("text/plain"),
            "x",
        )
        .await;
    reply.problem(StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_to_an_unknown_blob_is_refused() {
    let t = TestApp::new().await;
    let unknown = format!("sha256:{}", "ab".repeat(32));
    let mut e = event("ref-1", "t");
    e["input"] = json!({"$blob": unknown});
    assert_refused(&t, e, "/0/input/$blob").await;
    // In a batch, the index is named and nothing is stored.
    let mut e = event("ref-2", "t");
    e["attributes"] = json!({"$blob": unknown});
    let reply = t
        .post_json(&t.ingest, &json!([event("ref-ok", "t"), e]))
        .await;
    let problem = reply.problem(StatusCode::BAD_REQUEST);
    assert_eq!(problem["pointer"], json!("/1/attributes/$blob"));
    // Malformed references are refused too.
    for bad in [
        json!({"$blob": "sha256:ABC"}),
        json!({"$blob": 7}),
        json!({"$blob": format!("sha256:{}", "ab".repeat(32)), "size": 3}),
    ] {
        let mut e = event("ref-3", "t");
        e["output"] = bad;
        assert_refused(&t, e, "/0/output/$blob").await;
    }
    assert_eq!(t.tree_size().await, 0);
    t.get_event("ref-ok").await.problem(StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_lookup_errors() {
    let t = TestApp::new().await;
    let missing = format!("/api/v1/blobs/sha256:{}", "0".repeat(64));
    t.get(&missing, Some(&t.auditor))
        .await
        .problem(StatusCode::NOT_FOUND);
    t.get("/api/v1/blobs/not-a-ref", Some(&t.auditor))
        .await
        .problem(StatusCode::BAD_REQUEST);
    t.get(&missing, None)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    let reply = t
        .send(
            Method::POST,
            "/api/v1/blobs",
            Some(&t.ingest),
            Some("nonsense"),
            "x",
        )
        .await;
    reply.problem(StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_of_an_unknown_event_is_404() {
    let t = TestApp::new().await;
    t.get_event("nope").await.problem(StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_get_distinct_consecutive_seqs() {
    let t = std::sync::Arc::new(TestApp::new().await);
    let mut tasks = Vec::new();
    for i in 0..24 {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let batch = json!([
                event(&format!("cc-{i}-a"), "t"),
                event(&format!("cc-{i}-b"), "t")
            ]);
            t.ingest_ok(&batch).await
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        // A request's events stay together and in order.
        let a = answer[0]["seq"].as_u64().unwrap();
        assert_eq!(answer[1]["seq"].as_u64().unwrap(), a + 1);
        seqs.extend([a, a + 1]);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (0..48).collect::<Vec<u64>>());
    assert_eq!(t.tree_size().await, 48);
    assert_eq!(t.entries().await.len(), 48);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resends_are_stored_once() {
    let t = std::sync::Arc::new(TestApp::new().await);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            t.ingest_ok(&event("resent", "t")).await
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(t.tree_size().await, 1);

    // Racing different contents under one new id: exactly one wins, the others get 409.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let mut e = event("raced", "t");
            e["attempt"] = json!(i);
            t.post_json(&t.ingest, &e).await.status
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let conflicts = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((ok, conflicts), (1, 7), "{statuses:?}");
    assert_eq!(t.tree_size().await, 2);
}

//! Privacy at the boundary (CONTRACT section 2): personal data becomes tokens, clear
//! values live only in the encrypted vault, only the privacy role reveals them (and
//! every reveal is logged), and erasure crypto-shreds a subject while the log and its
//! proofs stay valid.

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::{json, Value};

const EMAIL: &str = "maria.gonzalez@example.com";
const PHONE: &str = "+44 20 7946 0958";
const CARD: &str = "4111 1111 1111 1111";
const IBAN: &str = "GB82 WEST 1234 5698 7654 32";

fn pii_event(id: &str, subject: &str) -> Value {
    json!({
        "event_id": id, "trace_id": format!("trace-{id}"), "timestamp": "2026-11-23T10:00:00Z",
        "actor": {"type": "agent", "id": "refund-bot"}, "event_type": "tool_call",
        "context": {"subject": subject, "case_id": "case-7"},
        "input": {"messages": [{"role": "user", "content": format!("I am {subject}, mail {EMAIL}, call {PHONE}")}],
                  "card": CARD},
        "output": {"iban": IBAN, "note": "refund approved"},
        "decision": {"action": "refund", "reason": format!("customer {EMAIL} verified")},
        "error": {"kind": "none", "message": format!("retry at {PHONE}")},
    })
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

fn tokens_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        let candidate = &rest[start..start + len + 1];
        if evident_core::pii::is_pii_token(candidate) {
            out.push(candidate.to_owned());
        }
        rest = &rest[start + 1..];
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_becomes_tokens_everywhere_an_auditor_looks() {
    let t = TestApp::new().await;
    t.ingest_ok(&json!([
        pii_event("p1", "cust-991"),
        pii_event("p2", "cust-991")
    ]))
    .await;
    let record = t.get_event("p1").await.ok_json();
    let text = record.to_string();
    for clear in [EMAIL, PHONE, CARD, IBAN, "cust-991"] {
        assert!(!text.contains(clear), "{clear} in {text}");
    }
    let tokens = tokens_in(&text);
    assert!(tokens.iter().any(|t| t.starts_with("<EMAIL_")), "{text}");
    assert!(tokens.iter().any(|t| t.starts_with("<PHONE_")));
    assert!(tokens.iter().any(|t| t.starts_with("<CARD_")));
    assert!(tokens.iter().any(|t| t.starts_with("<IBAN_")));
    // Stable: the same value in another event gets the same token.
    let other = t.get_event("p2").await.ok_json().to_string();
    assert!(tokens.iter().all(|tok| other.contains(tok)));
    // Reason and error message are scanned too (they stay in the entry).
    let entry = String::from_utf8(t.entry(0).await).unwrap();
    assert!(!entry.contains(EMAIL) && !entry.contains(PHONE), "{entry}");
    // Search and trace answers hold tokens only.
    t.wait_indexed().await;
    let search = t
        .get(
            &format!("/api/v1/events?q=refund&subject={}", "cust-991"),
            Some(&t.auditor),
        )
        .await
        .ok_json();
    assert_eq!(search["events"].as_array().unwrap().len(), 2);
    assert!(!search.to_string().contains(EMAIL));
    let trace = t
        .get("/api/v1/traces/trace-p1", Some(&t.auditor))
        .await
        .ok_json();
    assert!(!trace.to_string().contains(CARD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_privacy_role_reveals_and_every_reveal_is_logged() {
    let t = TestApp::new().await;
    t.ingest_ok(&pii_event("r1", "cust-1")).await;
    let record = t.get_event("r1").await.ok_json();
    let tokens = tokens_in(&record.to_string());
    let subject_token = record["record"]["context"]["subject"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"tokens": [tokens[0].clone(), subject_token.clone()], "reason": "DSAR #12 from the customer"});
    for key in [&t.admin, &t.auditor, &t.approver, &t.ingest] {
        let reply = post(&t, "/api/v1/vault/reveal", key, &body).await;
        reply.problem(StatusCode::FORBIDDEN);
    }
    let size_before = t.tree_size().await;
    let answer = post(&t, "/api/v1/vault/reveal", &t.privacy, &body)
        .await
        .ok_json();
    let values = answer["values"].as_object().unwrap();
    assert_eq!(values[&subject_token], json!("cust-1"));
    assert!([EMAIL, PHONE, CARD, IBAN].contains(&values[&tokens[0]].as_str().unwrap()));
    // The access is an event of the log, with who, which tokens and why, no value.
    assert_eq!(t.tree_size().await, size_before + 1);
    let access = t.entry_json(size_before).await;
    assert_eq!(access["event_type"], json!("vault_access"));
    assert_eq!(access["actor"], json!({"type": "system", "id": "evident"}));
    assert_eq!(access["principal"], json!("privacy-1"));
    assert_eq!(
        access["access"]["reason"],
        json!("DSAR #12 from the customer")
    );
    assert!(access["access"]["tokens"]
        .as_array()
        .unwrap()
        .contains(&json!(subject_token)));
    let text = access.to_string();
    assert!(
        !text.contains("cust-1\"") && !text.contains(EMAIL) && !text.contains(CARD),
        "{text}"
    );
    // A reason is required; tokens must be tokens.
    post(
        &t,
        "/api/v1/vault/reveal",
        &t.privacy,
        &json!({"tokens": [tokens[0]]}),
    )
    .await
    .problem(StatusCode::BAD_REQUEST);
    let bad = post(
        &t,
        "/api/v1/vault/reveal",
        &t.privacy,
        &json!({"tokens": ["hello"], "reason": "x"}),
    )
    .await;
    assert!(common::detail(&bad.problem(StatusCode::BAD_REQUEST)).contains("/tokens/0"));
    // A PII-bearing reason is stored tokenized.
    post(
        &t,
        "/api/v1/vault/reveal",
        &t.privacy,
        &json!({"tokens": [tokens[0]], "reason": format!("asked by {EMAIL}")}),
    )
    .await
    .ok_json();
    let logged = t.entry_json(t.tree_size().await - 1).await.to_string();
    assert!(!logged.contains(EMAIL), "{logged}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_shreds_the_subject_and_the_log_stays_verifiable() {
    let t = TestApp::new().await;
    t.ingest_ok(&json!([
        pii_event("e1", "cust-erase"),
        pii_event("e2", "cust-keep")
    ]))
    .await;
    let erased_record = t.get_event("e1").await.ok_json();
    let kept_record = t.get_event("e2").await.ok_json();
    let erased_tokens = tokens_in(&erased_record.to_string());
    let blob_ref = {
        let entry: Value = t.entry_json(0).await;
        entry["input"]["$blob"].as_str().unwrap().to_owned()
    };
    let checkpoint_before = t.sign().await;

    for key in [&t.admin, &t.auditor] {
        post(
            &t,
            "/api/v1/subjects/erase",
            key,
            &json!({"subject": "cust-erase", "reason": "GDPR art. 17"}),
        )
        .await
        .problem(StatusCode::FORBIDDEN);
    }
    post(
        &t,
        "/api/v1/subjects/erase",
        &t.privacy,
        &json!({"subject": "cust-erase"}),
    )
    .await
    .problem(StatusCode::BAD_REQUEST);
    let answer = post(
        &t,
        "/api/v1/subjects/erase",
        &t.privacy,
        &json!({"subject": "cust-erase", "reason": "GDPR art. 17"}),
    )
    .await
    .ok_json();
    assert_eq!(answer["keys_destroyed"], json!(1));
    let erasure = t.entry_json(answer["seq"].as_u64().unwrap()).await;
    assert_eq!(erasure["event_type"], json!("subject_erasure"));
    assert_eq!(
        erasure["context"]["subject"],
        erased_record["record"]["context"]["subject"]
    );

    // Payloads read as erased, not missing or corrupt.
    let after = t.get_event("e1").await.ok_json();
    assert_eq!(after["record"]["input"]["erased"], json!(true));
    assert_eq!(after["record"]["input"]["$blob"], json!(blob_ref));
    t.get(&format!("/api/v1/blobs/{blob_ref}"), Some(&t.auditor))
        .await
        .problem(StatusCode::GONE);
    // The vault answers 410 for the erased subject's values, and still serves others.
    post(
        &t,
        "/api/v1/vault/reveal",
        &t.privacy,
        &json!({"tokens": [erased_tokens[0]], "reason": "check"}),
    )
    .await;
    let reveal_kept = post(
        &t,
        "/api/v1/vault/reveal",
        &t.privacy,
        &json!({"tokens": [kept_record["record"]["context"]["subject"]], "reason": "check"}),
    )
    .await
    .ok_json();
    assert_eq!(reveal_kept["values"].as_object().unwrap().len(), 1);
    let subject_token = erased_record["record"]["context"]["subject"].clone();
    post(
        &t,
        "/api/v1/vault/reveal",
        &t.privacy,
        &json!({"tokens": [subject_token], "reason": "check"}),
    )
    .await
    .problem(StatusCode::GONE);
    // The other subject is untouched.
    assert_eq!(
        t.get_event("e2").await.ok_json()["record"]["output"]["note"],
        json!("refund approved")
    );

    // Every proof still verifies; verify passes and counts the erased blobs.
    let checkpoint = t.sign().await;
    let proof = t
        .get(
            &format!(
                "/api/v1/proofs/inclusion?seq=0&tree_size={}",
                checkpoint.size
            ),
            None,
        )
        .await
        .ok_json();
    evident_tlog::verify_inclusion(
        0,
        checkpoint.size,
        common::hash(&proof["leaf_hash"]),
        checkpoint.root,
        &common::hashes(&proof["hashes"]),
    )
    .unwrap();
    let consistency = t
        .get(
            &format!(
                "/api/v1/proofs/consistency?from={}&to={}",
                checkpoint_before.size, checkpoint.size
            ),
            None,
        )
        .await
        .ok_json();
    evident_tlog::verify_consistency(
        checkpoint_before.size,
        checkpoint.size,
        checkpoint_before.root,
        checkpoint.root,
        &common::hashes(&consistency["hashes"]),
    )
    .unwrap();
    let report = evident_server::verifier::verify_store(
        &*t.app.store,
        &t.app.vault,
        &t.verifier_key,
        &[],
        evident_server::verifier::Depth::Full,
        &|_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(report.erased_blobs, 2, "input and output of e1");
    assert_eq!(report.blobs, 2, "input and output of e2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_tokenized_like_inline_payloads() {
    let t = TestApp::new().await;
    let body = json!({"transcript": format!("Hi, I'm at {EMAIL}, card {CARD}")}).to_string();
    let reply = t
        .send(
            Method::POST,
            "/api/v1/blobs",
            Some(&t.ingest),
            Some("application/json"),
            body,
        )
        .await;
    let reference = reply.ok_json()["$blob"].as_str().unwrap().to_owned();
    let text_reply = t
        .send(
            Method::POST,
            "/api/v1/blobs",
            Some(&t.ingest),
            Some("text/plain"),
            format!("call {PHONE}"),
        )
        .await;
    let text_ref = text_reply.ok_json()["$blob"].as_str().unwrap().to_owned();
    let fetched = t
        .get(&format!("/api/v1/blobs/{reference}"), Some(&t.auditor))
        .await;
    assert_eq!(fetched.status, StatusCode::OK);
    let text = fetched.text();
    assert!(!text.contains(EMAIL) && !text.contains(CARD), "{text}");
    let tokens = tokens_in(&text);
    assert_eq!(tokens.len(), 2, "{text}");
    let fetched = t
        .get(&format!("/api/v1/blobs/{text_ref}"), Some(&t.auditor))
        .await
        .text();
    assert!(
        !fetched.contains(PHONE) && fetched.starts_with("call <PHONE_"),
        "{fetched}"
    );
    let revealed = post(
        &t,
        "/api/v1/vault/reveal",
        &t.privacy,
        &json!({"tokens": tokens, "reason": "check"}),
    )
    .await
    .ok_json();
    let values: Vec<&str> = revealed["values"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        values.contains(&EMAIL) && values.contains(&CARD),
        "{revealed}"
    );
    // A JSON upload must be JSON.
    t.send(
        Method::POST,
        "/api/v1/blobs",
        Some(&t.ingest),
        Some("application/json"),
        "{not json",
    )
    .await
    .problem(StatusCode::BAD_REQUEST);
}

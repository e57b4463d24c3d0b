//! Personal data in ordinary sentences, through the real HTTP path (CONTRACT section
//! 2): values at the end of a sentence, after `key:`, national phone numbers, and the
//! identifiers the event declares reach an auditor only as tokens, a privacy key
//! reveals them, and after erasure none of them can be revealed.

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::{json, Value};

/// Each clear value of the sentences below, as the text writes it, and its kind.
const CASES: [(&str, &str); 8] = [
    ("jane@example.org", "EMAIL"),
    ("+1-415-555-7234", "PHONE"),
    ("203.0.113.226", "IP"),
    ("+14155557234", "PHONE"),
    ("0171 1234567", "PHONE"),
    ("Novak, Wei", "NAME"),
    ("W. Novak", "NAME"),
    ("C-1042", "CUSTOMER_ID"),
];

fn event(id: &str) -> Value {
    json!({
        "event_id": id, "trace_id": format!("trace-{id}"), "timestamp": "2026-11-23T10:00:00Z",
        "actor": {"type": "agent", "id": "support-bot"}, "event_type": "model_call",
        "context": {"subject": "cust-wei", "subject_identifiers": {"name": "Wei Novak", "customer_id": "C-1042"}},
        "input": {"text": "mail jane@example.org. call +1-415-555-7234. from 203.0.113.226. phone:+14155557234; \
                           Handy 0171 1234567"},
        "output": {"text": "Novak, Wei is customer C-1042; reply to W. Novak tomorrow."},
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
        if evident_core::pii::is_pii_token(candidate) && !out.iter().any(|t| t == candidate) {
            out.push(candidate.to_owned());
        }
        rest = &rest[start + 1..];
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentences_and_declared_identifiers_reach_auditors_as_tokens_only() {
    let t = TestApp::new().await;
    t.ingest_ok(&event("s1")).await;
    let record = t.get_event("s1").await.ok_json();
    let text = record.to_string();
    for (clear, _) in CASES {
        assert!(!text.contains(clear), "{clear} in clear: {text}");
    }
    assert!(
        !text.contains("Wei Novak") && !text.contains("Novak"),
        "{text}"
    );
    let declared = &record["record"]["context"]["subject_identifiers"];
    assert!(
        declared["name"].as_str().unwrap().starts_with("<NAME_"),
        "{declared}"
    );
    assert!(declared["customer_id"]
        .as_str()
        .unwrap()
        .starts_with("<CUSTOMER_ID_"));
    // The variants of a name share the declared value's token.
    assert!(
        text.matches(declared["name"].as_str().unwrap()).count() >= 3,
        "{text}"
    );
    let entry = String::from_utf8(t.entry(0).await).unwrap();
    assert!(
        !entry.contains("Wei Novak") && !entry.contains("C-1042"),
        "{entry}"
    );

    // A privacy key reveals every one of them.
    let tokens = tokens_in(&text);
    let answer = post(
        &t,
        "/api/v1/vault/reveal",
        &t.privacy,
        &json!({"tokens": tokens, "reason": "DSAR from the customer"}),
    )
    .await
    .ok_json();
    let revealed: Vec<(String, String)> = answer["values"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(token, value)| (token.clone(), value.as_str().unwrap().to_owned()))
        .collect();
    for (clear, kind) in CASES {
        let canonical = match kind {
            "NAME" => "Wei Novak",
            _ => clear,
        };
        assert!(
            revealed
                .iter()
                .any(|(token, value)| token.starts_with(&format!("<{kind}_")) && value == canonical),
            "{kind} {canonical:?} not revealed: {revealed:?}"
        );
    }

    // After erasure none of them can be revealed.
    post(
        &t,
        "/api/v1/subjects/erase",
        &t.privacy,
        &json!({"subject": "cust-wei", "reason": "GDPR art. 17"}),
    )
    .await
    .ok_json();
    for token in &tokens {
        post(
            &t,
            "/api/v1/vault/reveal",
            &t.privacy,
            &json!({"tokens": [token], "reason": "after erasure"}),
        )
        .await
        .problem(StatusCode::GONE);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_declarations_are_refused_naming_the_field() {
    let t = TestApp::new().await;
    let size_before = t.tree_size().await;
    for (context, pointer) in [
        (
            json!({"subject_identifiers": {"name": "Wei Novak"}}),
            "/0/context/subject_identifiers",
        ),
        (
            json!({"subject": "s", "subject_identifiers": ["Wei Novak"]}),
            "/0/context/subject_identifiers",
        ),
        (
            json!({"subject": "s", "subject_identifiers": {"name": ""}}),
            "/0/context/subject_identifiers/name",
        ),
        (
            json!({"subject": "s", "subject_identifiers": {"name": 7}}),
            "/0/context/subject_identifiers/name",
        ),
        (
            json!({"subject": "s", "subject_identifiers": {"a b": "x"}}),
            "/0/context/subject_identifiers/a b",
        ),
    ] {
        let mut bad = event("bad");
        bad["context"] = context;
        let problem = t
            .post_json(&t.ingest, &json!([bad]))
            .await
            .problem(StatusCode::BAD_REQUEST);
        assert!(
            problem["detail"].as_str().unwrap().contains(pointer),
            "{pointer}: {problem}"
        );
    }
    assert_eq!(
        t.tree_size().await,
        size_before,
        "a rejected request stores nothing"
    );
}

/// Field rules and a dictionary from the configuration: a field's value is tokenized
/// whole whatever it looks like, a dictionary value wherever the text mentions it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_rules_and_dictionaries_tokenize_what_no_pattern_can_see() {
    use evident_core::pii::{DeclaredIdentifiers, Detectors, FieldRule, FieldTarget};
    let detectors = Detectors {
        field_rules: vec![
            FieldRule {
                target: FieldTarget::Pointer("/input/customer/name".into()),
                kind: "NAME".into(),
            },
            FieldRule {
                target: FieldTarget::Key("date_of_birth".into()),
                kind: "DOB".into(),
            },
        ],
        dictionary: DeclaredIdentifiers::new([("NAME", "Amara Okafor")]).map(std::sync::Arc::new),
        ..Detectors::default()
    };
    let t = TestApp::with_settings(evident_server::state::Settings {
        checkpoint_interval: common::MANUAL_CHECKPOINTS,
        detectors,
        ..evident_server::state::Settings::default()
    })
    .await;
    t.ingest_ok(&json!({
        "event_id": "f1", "trace_id": "trace-f1", "timestamp": "2026-11-23T10:00:00Z",
        "actor": {"type": "agent", "id": "support-bot"}, "event_type": "tool_call",
        "context": {"subject": "cust-17"},
        "input": {"customer": {"name": "Liu Yang", "address": "221B Baker Street, London"},
                  "people": [{"date_of_birth": "1990-04-12"}, {"date_of_birth": 19900412}]},
        "output": {"text": "Escalated: Okafor, Amara called about Liu Yang's order."},
    }))
    .await;
    let record = t.get_event("f1").await.ok_json();
    let text = record.to_string();
    for clear in ["Liu Yang\"", "1990-04-12", "19900412", "Amara", "Okafor"] {
        assert!(!text.contains(clear), "{clear} in clear: {text}");
    }
    let input = &record["record"]["input"];
    assert!(
        input["customer"]["name"]
            .as_str()
            .unwrap()
            .starts_with("<NAME_"),
        "{input}"
    );
    assert!(input["people"][0]["date_of_birth"]
        .as_str()
        .unwrap()
        .starts_with("<DOB_"));
    assert!(input["people"][1]["date_of_birth"]
        .as_str()
        .unwrap()
        .starts_with("<DOB_"));
    // A field rule tokenizes its field, not every mention: the text still names
    // "Liu Yang" in prose (declare it, or add it to a dictionary, to cover that).
    assert!(record["record"]["output"]["text"]
        .as_str()
        .unwrap()
        .contains("Liu Yang"));
    let tokens = tokens_in(&text);
    let answer = post(
        &t,
        "/api/v1/vault/reveal",
        &t.privacy,
        &json!({"tokens": tokens, "reason": "DSAR"}),
    )
    .await
    .ok_json();
    let values: Vec<&str> = answer["values"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_str)
        .collect();
    for clear in ["Liu Yang", "1990-04-12", "19900412", "Amara Okafor"] {
        assert!(values.contains(&clear), "{clear} not revealed: {values:?}");
    }
}

/// An event about `subject` with `text` in its input, declaring `identifiers` if any.
fn about(id: &str, subject: &str, text: &str, identifiers: Option<Value>) -> Value {
    let mut event = json!({
        "event_id": id, "trace_id": format!("trace-{id}"), "timestamp": "2026-11-23T10:00:00Z",
        "actor": {"type": "agent", "id": "support-bot"}, "event_type": "model_call",
        "context": {"subject": subject},
        "input": {"text": text},
    });
    if let Some(identifiers) = identifiers {
        event["context"]["subject_identifiers"] = identifiers;
    }
    event
}

/// The record of `id` as an auditor sees it, as text.
async fn seen(t: &TestApp, id: &str) -> String {
    t.get_event(id).await.ok_json()["record"].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_identifiers_are_remembered_for_the_subject_until_its_erasure() {
    let t = TestApp::new().await;
    t.ingest_ok(&about(
        "r1",
        "jane-42",
        "new ticket",
        Some(json!({"name": "Wei Novak"})),
    ))
    .await;

    // A later event about jane-42 that declares nothing: both ways of writing the
    // name are tokens, the declared value's one token.
    t.ingest_ok(&about(
        "r2",
        "jane-42",
        "Wei Novak called; Novak, Wei wants a refund",
        None,
    ))
    .await;
    let text = seen(&t, "r2").await;
    assert!(!text.contains("Novak"), "{text}");
    let tokens = tokens_in(&text);
    assert_eq!(tokens.len(), 1, "{text}");
    assert!(tokens[0].starts_with("<NAME_"), "{text}");
    assert_eq!(text.matches(&tokens[0]).count(), 2, "{text}");
    let answer = post(
        &t,
        "/api/v1/vault/reveal",
        &t.privacy,
        &json!({"tokens": tokens, "reason": "DSAR"}),
    )
    .await
    .ok_json();
    assert_eq!(answer["values"][&tokens[0]], "Wei Novak", "{answer}");

    // Once the cache has expired the identifiers come from the store.
    tokio::time::sleep(
        evident_server::vault::KEY_CACHE_TTL + std::time::Duration::from_millis(100),
    )
    .await;
    t.ingest_ok(&about("r3", "jane-42", "W. Novak again", None))
        .await;
    let text = seen(&t, "r3").await;
    assert!(!text.contains("Novak"), "{text}");
    assert_eq!(tokens_in(&text), tokens, "{text}");

    // Another subject's event is not tokenized with jane-42's identifiers.
    t.ingest_ok(&about("o1", "bob-7", "Wei Novak is a colleague", None))
        .await;
    let text = seen(&t, "o1").await;
    assert!(text.contains("Wei Novak"), "{text}");

    // After erasure the tokens are gone for good and nothing remembered survives: a
    // new event about jane-42 keeps the name in clear.
    post(
        &t,
        "/api/v1/subjects/erase",
        &t.privacy,
        &json!({"subject": "jane-42", "reason": "GDPR art. 17"}),
    )
    .await
    .ok_json();
    post(
        &t,
        "/api/v1/vault/reveal",
        &t.privacy,
        &json!({"tokens": tokens, "reason": "after erasure"}),
    )
    .await
    .problem(StatusCode::GONE);
    t.ingest_ok(&about("r4", "jane-42", "Wei Novak is back", None))
        .await;
    let text = seen(&t, "r4").await;
    assert!(text.contains("Wei Novak"), "{text}");
    tokio::time::sleep(
        evident_server::vault::KEY_CACHE_TTL + std::time::Duration::from_millis(100),
    )
    .await;
    t.ingest_ok(&about("r5", "jane-42", "Wei Novak, still", None))
        .await;
    let text = seen(&t, "r5").await;
    assert!(text.contains("Wei Novak"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifiers_declared_earlier_in_one_request_apply_to_later_events_of_it() {
    let t = TestApp::new().await;
    t.ingest_ok(&json!([
        about("b1", "jane-42", "hello", Some(json!({"name": "Wei Novak"}))),
        about("b2", "jane-42", "Novak, Wei asked", None),
    ]))
    .await;
    let text = seen(&t, "b2").await;
    assert!(!text.contains("Novak"), "{text}");
}

//! Hostile input (CONTRACT sections 1 and 4): whatever a client sends, the answer is
//! a 4xx RFC 9457 problem, never a 5xx, and a refused request stores nothing.

mod common;

use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode};
use common::{detail, event, TestApp};
use evident_server::state::Settings;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

const MIB: usize = 1024 * 1024;

/// `event("h", "t")` serialized, with `"FIELD": VALUE` spliced in as raw text.
fn event_with_raw(field: &str, raw_value: &str) -> Vec<u8> {
    let base = event("h", "t").to_string();
    let body = format!("{{\"{field}\":{raw_value},{}", &base[1..]);
    body.into_bytes()
}

fn nested(depth: usize, open: char, close: char) -> String {
    let mut text = String::with_capacity(depth * 2);
    text.extend(std::iter::repeat_n(open, depth));
    text.extend(std::iter::repeat_n(close, depth));
    text
}

/// One hostile request: what it is, its content type, its body, and the expected
/// status (`None` = any 4xx).
type HostileBody = (
    &'static str,
    Option<&'static str>,
    Vec<u8>,
    Option<StatusCode>,
);

fn hostile_bodies() -> Vec<HostileBody> {
    let json = Some("application/json");
    let ndjson = Some("application/x-ndjson");
    let bad = Some(StatusCode::BAD_REQUEST);
    let valid = event("h", "t").to_string().into_bytes();
    let mut invalid_utf8 = event("h", "t").to_string().into_bytes();
    let at = invalid_utf8.len() - 2;
    invalid_utf8.splice(at..at, b",\"x\":\"\xff\xfe\"".iter().copied());
    let deep_array = nested(100_000, '[', ']');
    let deep_object = "{\"a\":".repeat(100_000) + "1" + &"}".repeat(100_000);
    let deep_input = format!(
        "{{\"input\":{},{}",
        nested(100_000, '[', ']'),
        &event("h", "t").to_string()[1..]
    );
    let many: Vec<Value> = (0..10_001).map(|_| json!({})).collect();
    vec![
        ("broken JSON", json, b"{\"trace_id\": ".to_vec(), bad),
        ("unquoted names", json, b"{trace_id: 1}".to_vec(), bad),
        (
            "trailing garbage",
            json,
            [valid.clone(), b" x".to_vec()].concat(),
            bad,
        ),
        (
            "two values",
            json,
            [valid.clone(), valid.clone()].concat(),
            bad,
        ),
        ("invalid UTF-8", json, invalid_utf8.clone(), bad),
        ("invalid UTF-8 in NDJSON", ndjson, invalid_utf8, bad),
        (
            "a lone surrogate",
            json,
            event_with_raw("x", r#""\ud800""#),
            bad,
        ),
        (
            "a noncharacter",
            json,
            event_with_raw("x", r#""\uffff""#),
            bad,
        ),
        (
            "a 100,000-deep array",
            json,
            deep_array.clone().into_bytes(),
            bad,
        ),
        (
            "a 100,000-deep array in NDJSON",
            ndjson,
            deep_array.into_bytes(),
            bad,
        ),
        ("a 100,000-deep object", json, deep_object.into_bytes(), bad),
        ("a 100,000-deep input", json, deep_input.into_bytes(), bad),
        ("1e400", json, event_with_raw("n", "1e400"), bad),
        ("-1e400", json, event_with_raw("n", "-1e400"), bad),
        ("1e300", json, event_with_raw("n", "1e300"), bad),
        (
            "2^53 + 1",
            json,
            event_with_raw("n", "9007199254740993"),
            bad,
        ),
        (
            "-(2^53 + 1)",
            json,
            event_with_raw("n", "-9007199254740993"),
            bad,
        ),
        (
            "2^64",
            json,
            event_with_raw("n", "18446744073709551616"),
            bad,
        ),
        ("NaN", json, event_with_raw("n", "NaN"), bad),
        ("Infinity", json, event_with_raw("n", "Infinity"), bad),
        (
            "a big number in metadata",
            json,
            event_with_raw("metadata", r#"{"input_tokens": 9007199254740993}"#),
            bad,
        ),
        (
            "duplicate top-level keys",
            json,
            event_with_raw("trace_id", r#""other""#),
            bad,
        ),
        (
            "duplicate nested keys",
            json,
            event_with_raw("x", r#"{"k": 1, "k": 2}"#),
            bad,
        ),
        (
            "text/plain",
            Some("text/plain"),
            valid.clone(),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        (
            "form",
            Some("application/x-www-form-urlencoded"),
            valid.clone(),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        (
            "no content type",
            None,
            valid.clone(),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        (
            "garbage content type",
            Some("*/*; q=\"x"),
            valid,
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ),
        (
            "a byte order mark",
            json,
            [
                b"\xef\xbb\xbf".to_vec(),
                event("h", "t").to_string().into_bytes(),
            ]
            .concat(),
            bad,
        ),
        ("an empty body", json, Vec::new(), bad),
        ("only whitespace", json, b" \r\n\t ".to_vec(), bad),
        ("an empty NDJSON body", ndjson, b"\n\n".to_vec(), bad),
        ("[]", json, b"[]".to_vec(), bad),
        ("null", json, b"null".to_vec(), bad),
        ("a bare string", json, b"\"event\"".to_vec(), bad),
        ("a bare number", json, b"42".to_vec(), bad),
        ("true", json, b"true".to_vec(), bad),
        ("[null]", json, b"[null]".to_vec(), bad),
        ("[[]]", json, b"[[]]".to_vec(), bad),
        ("{}", json, b"{}".to_vec(), bad),
        ("a string line in NDJSON", ndjson, b"\"x\"\n".to_vec(), bad),
        (
            "a JSON array as NDJSON",
            ndjson,
            serde_json::to_vec(&json!([event("h", "t")])).unwrap(),
            bad,
        ),
        (
            "10,001 events",
            json,
            serde_json::to_vec(&many).unwrap(),
            bad,
        ),
        ("a NUL byte", json, b"\0".to_vec(), bad),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_are_4xx_problems_and_store_nothing() {
    let t = TestApp::new().await;
    t.ingest_ok(&event("existing", "t")).await;
    for (what, content_type, body, expected) in hostile_bodies() {
        let reply = t
            .send(
                Method::POST,
                "/api/v1/events",
                Some(&t.ingest),
                content_type,
                body,
            )
            .await;
        assert!(
            reply.status.is_client_error(),
            "{what}: {} {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        let problem = match expected {
            Some(status) => reply.problem(status),
            None => reply.client_problem(),
        };
        assert!(!detail(&problem).is_empty(), "{what}: {problem}");
    }
    assert_eq!(t.tree_size().await, 1);
    t.get_event("h").await.problem(StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_errors_name_where() {
    let t = TestApp::new().await;
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (
            event_with_raw("trace_id", r#""x""#),
            "/trace_id",
            "duplicate",
        ),
        (
            event_with_raw("metadata", r#"{"cost": 1e400}"#),
            "/metadata/cost",
            "",
        ),
        (
            event_with_raw("metadata", r#"{"n": 9007199254740993}"#),
            "/metadata/n",
            "",
        ),
        (
            format!("[{}, {{\"a\": 1, \"a\": 2}}]", event("h", "t")).into_bytes(),
            "/1/a",
            "duplicate",
        ),
        (b"[{}, 5]".to_vec(), "/1", ""),
    ];
    for (body, pointer, word) in cases {
        let reply = t.post_events_raw(&t.ingest, "application/json", body).await;
        let problem = reply.problem(StatusCode::BAD_REQUEST);
        assert!(detail(&problem).contains(pointer), "{pointer}: {problem}");
        assert!(detail(&problem).contains(word), "{word}: {problem}");
    }
    // NDJSON pointers start with the line.
    let body = format!(
        "{}\n{}\n{{\"broken\": \n",
        event("l0", "t"),
        event("l1", "t")
    );
    let reply = t
        .post_events_raw(&t.ingest, "application/x-ndjson", body)
        .await;
    let problem = reply.problem(StatusCode::BAD_REQUEST);
    assert!(detail(&problem).starts_with("/2"), "{problem}");
    assert_eq!(t.tree_size().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ids_are_refused() {
    let t = TestApp::new().await;
    let long = "x".repeat(129);
    let bad_ids = [
        json!(long),
        json!(""),
        json!("tab\there"),
        json!("nul\u{0}"),
        json!("line\nbreak"),
        json!("del\u{7f}"),
        json!("caf\u{e9}"),
        json!("emoji\u{1f600}"),
        json!(17),
        json!(["a"]),
    ];
    for field in ["event_id", "trace_id", "parent_event_id"] {
        for id in &bad_ids {
            let mut e = event("ok-id", "t");
            e[field] = id.clone();
            let reply = t.post_json(&t.ingest, &e).await;
            let problem = reply.problem(StatusCode::BAD_REQUEST);
            assert_eq!(problem["pointer"], json!(format!("/0/{field}")), "{id}");
        }
    }
    for id in &bad_ids {
        let mut e = event("ok-id", "t");
        e["actor"]["id"] = id.clone();
        let problem = t
            .post_json(&t.ingest, &e)
            .await
            .problem(StatusCode::BAD_REQUEST);
        assert_eq!(problem["pointer"], json!("/0/actor/id"), "{id}");
        let mut e = event("ok-id", "t");
        e["context"] = json!({"job_id": id});
        let problem = t
            .post_json(&t.ingest, &e)
            .await
            .problem(StatusCode::BAD_REQUEST);
        assert_eq!(problem["pointer"], json!("/0/context/job_id"), "{id}");
    }
    assert_eq!(t.tree_size().await, 0);
    // The limits themselves are fine: 128 printable ASCII characters, spaces included.
    let edge = format!("{} ~", "y".repeat(126));
    let answer = t.ingest_ok(&event(&edge, &edge)).await;
    assert_eq!(answer[0]["event_id"], json!(edge));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_mb_string_outside_the_payload_is_refused() {
    let t = TestApp::new().await;
    let mut e = event("big-field", "t");
    e["note"] = json!("n".repeat(10 * MIB));
    let reply = t.post_json(&t.ingest, &e).await;
    let problem = reply.problem(StatusCode::BAD_REQUEST);
    assert!(detail(&problem).contains("65535"), "{problem}");
    // Just over the entry limit is refused too; well under it is fine.
    let mut e = event("big-field", "t");
    e["note"] = json!("n".repeat(65_536));
    t.post_json(&t.ingest, &e)
        .await
        .problem(StatusCode::BAD_REQUEST);
    assert_eq!(t.tree_size().await, 0);
    let mut e = event("big-field", "t");
    e["note"] = json!("n".repeat(60_000));
    t.ingest_ok(&e).await;
    assert!(t.entry(0).await.len() <= 65_535);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_mb_payload_is_a_blob() {
    let t = TestApp::new().await;
    let text = "p".repeat(10 * MIB);
    let mut e = event("big-input", "t");
    e["input"] = json!({"document": text});
    let answer = t.ingest_ok(&e).await;
    let entry = t.entry(0).await;
    assert!(entry.len() < 2048, "the entry holds a commitment only");
    let commitment = &serde_json::from_slice::<Value>(&entry).unwrap()["input"];
    assert_eq!(
        commitment["size"],
        json!(10 * MIB + r#"{"document":""}"#.len())
    );
    assert_eq!(answer[0]["leaf_hash"], json!(common::leaf_b64(&entry)));
    let record = &t.get_event("big-input").await.ok_json()["record"];
    assert_eq!(
        record["input"]["document"].as_str().map(str::len),
        Some(10 * MIB)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_are_413() {
    let t = TestApp::with_settings(Settings {
        max_body_bytes: MIB,
        checkpoint_interval: common::MANUAL_CHECKPOINTS,
        ..Settings::default()
    })
    .await;
    let mut e = event("huge", "t");
    e["input"] = json!("i".repeat(2 * MIB));
    let body = e.to_string();
    for content_type in ["application/json", "application/x-ndjson"] {
        let reply = t
            .post_events_raw(&t.ingest, content_type, body.clone())
            .await;
        reply.problem(StatusCode::PAYLOAD_TOO_LARGE);
    }
    let reply = t
        .send(
            Method::POST,
            "/api/v1/blobs",
            Some(&t.ingest),
            Some("application/octet-stream"),
            vec![0u8; 2 * MIB],
        )
        .await;
    reply.problem(StatusCode::PAYLOAD_TOO_LARGE);
    // A body that does not announce its length is cut off just the same.
    let unsized_body = Full::new(Bytes::from(vec![b' '; 2 * MIB])).map_frame(|frame| frame);
    assert_eq!(axum::body::HttpBody::size_hint(&unsized_body).exact(), None);
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/events")
        .header("authorization", format!("Bearer {}", t.ingest))
        .header("content-type", "application/json")
        .body(Body::new(unsized_body))
        .unwrap();
    t.send_request(request)
        .await
        .problem(StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(t.tree_size().await, 0);
    t.get_event("huge").await.problem(StatusCode::NOT_FOUND);

    // Under the limit is fine.
    let mut e = event("fits", "t");
    e["input"] = json!("i".repeat(MIB / 2));
    t.ingest_ok(&e).await;
    assert_eq!(t.tree_size().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_endpoints_are_404_problems() {
    let t = TestApp::new().await;
    for path in [
        "/nope",
        "/api/v1/nope",
        "/api/v2/events",
        "/tile",
        "/checkpoint/x",
    ] {
        t.get(path, Some(&t.admin))
            .await
            .problem(StatusCode::NOT_FOUND);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_is_a_405_problem() {
    let t = TestApp::new().await;
    for (method, path) in [
        (Method::PUT, "/api/v1/events"),
        (Method::DELETE, "/api/v1/events/x"),
        (Method::POST, "/checkpoint"),
    ] {
        let reply = t
            .send(method, path, Some(&t.admin), None, Body::empty())
            .await;
        reply.problem(StatusCode::METHOD_NOT_ALLOWED);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_path_parameters_are_400_problems() {
    let t = TestApp::new().await;
    for path in ["/api/v1/events/%FF", "/api/v1/blobs/%FF", "/tile/%FF/000"] {
        let reply = t.get(path, Some(&t.auditor)).await;
        reply.client_problem();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_lookups_are_4xx() {
    let t = TestApp::new().await;
    let long_id = "e".repeat(10_000);
    for path in [
        format!("/api/v1/events/{long_id}"),
        "/api/v1/events/%00".to_owned(),
        "/api/v1/events/a%2Fb".to_owned(),
        "/api/v1/events/..%2F..%2Fcheckpoint".to_owned(),
        "/api/v1/events/x?proof=yes".to_owned(),
        format!("/api/v1/blobs/sha256:{}", "G".repeat(64)),
        format!("/api/v1/blobs/sha256:{}", "a".repeat(63)),
        format!("/api/v1/blobs/sha256:{}", "A".repeat(64)),
        "/api/v1/blobs/%00".to_owned(),
    ] {
        let reply = t.get(&path, Some(&t.auditor)).await;
        assert!(
            reply.status.is_client_error(),
            "{path}: {} {}",
            reply.status,
            reply.text()
        );
        reply.client_problem();
    }
    // And through the headers: an oversized Authorization header is just unknown.
    let request = Request::builder()
        .uri("/api/v1/events/x")
        .header("authorization", format!("Bearer {}", "k".repeat(64 * 1024)))
        .body(Body::empty())
        .unwrap();
    t.send_request(request)
        .await
        .problem(StatusCode::UNAUTHORIZED);
}

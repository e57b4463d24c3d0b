//! `POST /v1/traces` (OTLP/HTTP) through the router: protobuf and OTLP/JSON,
//! gzip, partial success, re-sends, keys, and hostile bodies — which get a 4xx
//! `google.rpc.Status` in the request's encoding, never a 5xx, and store nothing.

mod common;
mod otlp_util;

use std::io::Write;

use axum::http::{header, Method, Request, StatusCode};
use common::{Reply, TestApp};
use evident_server::auth::Role;
use evident_server::otlp::response::RpcStatus;
use evident_server::state::Settings;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use otlp_util::*;
use prost::Message;
use serde_json::{json, Value};

const PROTOBUF: &str = "application/x-protobuf";

/// A hostile body: name, content type, content encoding, bytes, expected status.
type HostileCase = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Vec<u8>,
    StatusCode,
);
const JSON: &str = "application/json";

async fn post(
    app: &TestApp,
    key: Option<&str>,
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut request = Request::builder().method(Method::POST).uri("/v1/traces");
    if let Some(key) = key {
        request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    if let Some(encoding) = content_encoding {
        request = request.header(header::CONTENT_ENCODING, encoding);
    }
    app.send_request(request.body(body.into()).expect("request"))
        .await
}

async fn post_protobuf(app: &TestApp, request: &ExportTraceServiceRequest) -> Reply {
    post(
        app,
        Some(&app.ingest),
        Some(PROTOBUF),
        None,
        request.encode_to_vec(),
    )
    .await
}

/// The OTLP/JSON of `request`, written by `opentelemetry-proto`'s serde mapping.
fn otlp_json(request: &ExportTraceServiceRequest) -> Vec<u8> {
    serde_json::to_vec(request).expect("OTLP/JSON")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Asserts a 200 protobuf answer and returns the decoded response.
fn ok_protobuf(reply: &Reply) -> ExportTraceServiceResponse {
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.content_type(), PROTOBUF);
    ExportTraceServiceResponse::decode(&reply.body[..]).expect("an ExportTraceServiceResponse")
}

/// Asserts an OTLP error answer with `status` in `encoding` and returns its message.
fn otlp_error(reply: &Reply, status: StatusCode, encoding: &str) -> String {
    assert_eq!(
        reply.status,
        status,
        "expected {status}, got {}: {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        reply.content_type(),
        encoding,
        "errors answer in the request's encoding"
    );
    if encoding == PROTOBUF {
        let status = RpcStatus::decode(&reply.body[..]).expect("a google.rpc.Status");
        assert_ne!(status.code, 0);
        status.message
    } else {
        let status: Value = serde_json::from_slice(&reply.body).expect("a JSON Status");
        assert!(status["code"].as_i64().is_some_and(|c| c != 0), "{status}");
        status["message"].as_str().expect("message").to_owned()
    }
}

async fn record(app: &TestApp, event_id: &str) -> Value {
    app.get_event(event_id).await.ok_json()["record"].clone()
}

#[tokio::test]
async fn protobuf_spans_become_events() {
    let app = TestApp::new().await;
    let before = app.tree_size().await;
    let response =
        ok_protobuf(&post_protobuf(&app, &request("refund-service", agent_run(0xa1))).await);
    assert_eq!(
        response.partial_success, None,
        "full success leaves partial_success unset"
    );
    assert_eq!(app.tree_size().await, before + 4);

    let root = record(&app, &event_id(0xa1, sid(0xa1, 1))).await;
    assert_eq!(root["event_type"], "agent_run");
    assert_eq!(root["actor"]["id"], "refund-bot");
    assert_eq!(root["principal"], "ingest-1");
    assert_eq!(root["trace_id"], trace_hex(0xa1));
    let chat = record(&app, &event_id(0xa1, sid(0xa1, 2))).await;
    assert_eq!(chat["parent_event_id"], event_id(0xa1, sid(0xa1, 1)));
    assert_eq!(chat["snapshot"]["model"], "gpt-4o");
    assert_eq!(chat["metadata"]["input_tokens"], 100);
    assert_eq!(
        chat["input"]["messages"][0]["parts"][0]["content"], "refund order 42",
        "payloads are resolved on read"
    );
    assert_eq!(
        chat["attributes"]["otel"]["start_time"], chat["timestamp"],
        "attributes keep the span's own times"
    );
    assert_eq!(chat["attributes"]["resource"]["service.version"], "1.2.3");
    let refund = record(&app, &event_id(0xa1, sid(0xa1, 4))).await;
    assert_eq!(refund["outcome"], "error");
    assert_eq!(refund["error"]["kind"], "PaymentDeclined");
    assert_eq!(refund["tool"]["name"], "issue_refund");
}

#[tokio::test]
async fn otlp_json_and_gzip_are_accepted() {
    let app = TestApp::new().await;
    let json_reply = post(
        &app,
        Some(&app.ingest),
        Some("application/json; charset=utf-8"),
        None,
        otlp_json(&request("svc", agent_run(0xb1))),
    )
    .await;
    assert_eq!(json_reply.status, StatusCode::OK, "{}", json_reply.text());
    assert_eq!(json_reply.content_type(), JSON);
    assert_eq!(json_reply.json(), json!({}));
    assert_eq!(
        record(&app, &event_id(0xb1, sid(0xb1, 3))).await["tool"]["name"],
        "lookup_order"
    );

    let gzipped = post(
        &app,
        Some(&app.ingest),
        Some(PROTOBUF),
        Some("gzip"),
        gzip(&request("svc", agent_run(0xb2)).encode_to_vec()),
    )
    .await;
    ok_protobuf(&gzipped);
    let gzipped_json = post(
        &app,
        Some(&app.ingest),
        Some(JSON),
        Some("gzip"),
        gzip(&otlp_json(&request("svc", agent_run(0xb3)))),
    )
    .await;
    assert_eq!(
        gzipped_json.status,
        StatusCode::OK,
        "{}",
        gzipped_json.text()
    );
    let trace: Value = app
        .get(
            &format!("/api/v1/traces/{}", trace_hex(0xb3)),
            Some(&app.auditor),
        )
        .await
        .ok_json();
    assert_eq!(trace["events"].as_array().map(Vec::len), Some(4), "{trace}");
}

#[tokio::test]
async fn the_same_span_in_protobuf_and_json_is_one_event() {
    let app = TestApp::new().await;
    let spans = request("svc", agent_run(0xc1));
    ok_protobuf(&post_protobuf(&app, &spans).await);
    let size = app.tree_size().await;
    let first = app.get_event(&event_id(0xc1, sid(0xc1, 2))).await.ok_json();
    // Re-sent (an exporter retry), and re-sent in the other encoding.
    ok_protobuf(&post_protobuf(&app, &spans).await);
    let reply = post(&app, Some(&app.ingest), Some(JSON), None, otlp_json(&spans)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(app.tree_size().await, size, "a re-sent span is a no-op");
    assert_eq!(
        app.get_event(&event_id(0xc1, sid(0xc1, 2))).await.ok_json()["seq"],
        first["seq"]
    );
}

#[tokio::test]
async fn invalid_spans_are_rejected_and_the_others_stored() {
    let app = TestApp::new().await;
    let before = app.tree_size().await;
    let mut no_span_id = span(0xd1, 5, None, "no id", vec![]);
    no_span_id.span_id.clear();
    let mut no_trace_id = span(0xd1, 6, None, "no trace", vec![]);
    no_trace_id.trace_id = vec![0; 16];
    let good = span(
        0xd1,
        7,
        None,
        "good",
        vec![s("gen_ai.operation.name", "chat")],
    );
    let response = ok_protobuf(
        &post_protobuf(&app, &request("svc", vec![no_span_id, good, no_trace_id])).await,
    );
    let partial = response.partial_success.expect("partial_success");
    assert_eq!(partial.rejected_spans, 2);
    assert!(
        partial.error_message.contains("2 of 3 spans rejected"),
        "{}",
        partial.error_message
    );
    assert!(
        partial.error_message.contains("span #0: span_id"),
        "{}",
        partial.error_message
    );
    assert!(
        partial.error_message.contains("trace_id"),
        "{}",
        partial.error_message
    );
    assert_eq!(app.tree_size().await, before + 1);
    assert_eq!(
        record(&app, &event_id(0xd1, 7)).await["event_type"],
        "model_call"
    );

    // In OTLP/JSON the answer is OTLP/JSON, `rejectedSpans` a decimal string.
    let mut bad = span(0xd2, 8, None, "bad", vec![]);
    bad.start_time_unix_nano = 0;
    let body = otlp_json(&request(
        "svc",
        vec![bad, span(0xd2, 9, None, "ok", vec![])],
    ));
    let reply = post(&app, Some(&app.ingest), Some(JSON), None, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answer = reply.json();
    assert_eq!(answer["partialSuccess"]["rejectedSpans"], "1", "{answer}");
    assert!(answer["partialSuccess"]["errorMessage"]
        .as_str()
        .unwrap()
        .contains("start_time_unix_nano"));
}

#[tokio::test]
async fn a_request_of_only_invalid_spans_is_400_and_stores_nothing() {
    let app = TestApp::new().await;
    let before = app.tree_size().await;
    let mut missing = span(0xe1, 1, None, "a", vec![]);
    missing.trace_id.clear();
    let mut zero = span(0xe1, 2, None, "b", vec![]);
    zero.span_id = vec![0; 8];
    let reply = post_protobuf(&app, &request("svc", vec![missing, zero])).await;
    let message = otlp_error(&reply, StatusCode::BAD_REQUEST, PROTOBUF);
    assert!(message.contains("nothing was stored"), "{message}");
    assert_eq!(app.tree_size().await, before);
}

#[tokio::test]
async fn a_span_resent_with_other_content_is_rejected_alone() {
    let app = TestApp::new().await;
    ok_protobuf(
        &post_protobuf(
            &app,
            &request("svc", vec![span(0xf1, 1, None, "v1", vec![])]),
        )
        .await,
    );
    let first = record(&app, &event_id(0xf1, 1)).await;
    let before = app.tree_size().await;
    let changed = span(0xf1, 1, None, "v2", vec![s("changed", "yes")]);
    let fresh = span(0xf1, 2, Some(1), "new", vec![]);
    let response =
        ok_protobuf(&post_protobuf(&app, &request("svc", vec![changed.clone(), fresh])).await);
    let partial = response.partial_success.expect("partial_success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(
        partial
            .error_message
            .contains("already stored with different content"),
        "{}",
        partial.error_message
    );
    assert_eq!(app.tree_size().await, before + 1, "the new span is stored");
    assert_eq!(
        record(&app, &event_id(0xf1, 1)).await,
        first,
        "the stored span is unchanged"
    );
    // Alone, it is a 400: sending it again cannot help.
    let reply = post_protobuf(&app, &request("svc", vec![changed])).await;
    otlp_error(&reply, StatusCode::BAD_REQUEST, PROTOBUF);
}

#[tokio::test]
async fn hostile_bodies_get_a_4xx_and_store_nothing() {
    let app = TestApp::new().await;
    let before = app.tree_size().await;
    let valid = request("svc", agent_run(0x99)).encode_to_vec();
    let cases: Vec<HostileCase> = vec![
        (
            "random bytes",
            Some(PROTOBUF),
            None,
            b"\xff\xff\xff\xff garbage".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "truncated protobuf",
            Some(PROTOBUF),
            None,
            valid[..valid.len() / 2].to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "wrong wire type",
            Some(PROTOBUF),
            None,
            vec![0x0d, 0, 0, 0, 0],
            StatusCode::BAD_REQUEST,
        ),
        (
            "JSON sent as protobuf",
            Some(PROTOBUF),
            None,
            b"{\"resourceSpans\": []}".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "protobuf sent as JSON",
            Some(JSON),
            None,
            valid.clone(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "broken JSON",
            Some(JSON),
            None,
            b"{\"resourceSpans\": [".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "deep JSON",
            Some(JSON),
            None,
            "[".repeat(100_000).into_bytes(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "corrupt gzip",
            Some(PROTOBUF),
            Some("gzip"),
            b"\x1f\x8b\x08\x00garbage".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "text/plain",
            Some("text/plain"),
            None,
            valid.clone(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "no content type",
            None,
            None,
            valid.clone(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "NDJSON",
            Some("application/x-ndjson"),
            None,
            b"{}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "brotli",
            Some(PROTOBUF),
            Some("br"),
            valid.clone(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ];
    for (name, content_type, encoding, body, status) in cases {
        let reply = post(&app, Some(&app.ingest), content_type, encoding, body).await;
        let answer_type = if content_type == Some(PROTOBUF) {
            PROTOBUF
        } else {
            JSON
        };
        let message = otlp_error(&reply, status, answer_type);
        assert!(!message.is_empty(), "{name}");
    }
    assert_eq!(app.tree_size().await, before);
}

#[tokio::test]
async fn a_gzip_bomb_is_413_without_inflating_it() {
    let app = TestApp::new().await;
    let before = app.tree_size().await;
    // 64 MiB of zeros compress to ~64 KiB; the server stops at its 16 MiB limit.
    let bomb = gzip(&vec![0u8; 64 * 1024 * 1024]);
    assert!(bomb.len() < 1024 * 1024);
    for content_type in [PROTOBUF, JSON] {
        let reply = post(
            &app,
            Some(&app.ingest),
            Some(content_type),
            Some("gzip"),
            bomb.clone(),
        )
        .await;
        let message = otlp_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, content_type);
        assert!(message.contains("limit"), "{message}");
    }
    assert_eq!(app.tree_size().await, before);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = TestApp::with_settings(Settings {
        max_body_bytes: 2048,
        checkpoint_interval: common::MANUAL_CHECKPOINTS,
        ..Settings::default()
    })
    .await;
    let big = span(0x77, 1, None, "big", vec![s("blob", &"x".repeat(4096))]);
    let reply = post_protobuf(&app, &request("svc", vec![big.clone()])).await;
    otlp_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, PROTOBUF);
    // Small on the wire, too big once inflated.
    let body = gzip(&request("svc", vec![big]).encode_to_vec());
    assert!(body.len() < 2048);
    let reply = post(&app, Some(&app.ingest), Some(PROTOBUF), Some("gzip"), body).await;
    otlp_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, PROTOBUF);
}

#[tokio::test]
async fn a_span_with_ten_thousand_attributes_is_stored_whole() {
    let app = TestApp::new().await;
    let attributes = (0..10_000).map(|n| i(&format!("attr.{n:05}"), n)).collect();
    let wide = span(0x10, 1, None, "wide", attributes);
    ok_protobuf(&post_protobuf(&app, &request("svc", vec![wide])).await);
    let stored = record(&app, &event_id(0x10, 1)).await;
    let span_attrs = stored["attributes"]["span"]
        .as_object()
        .expect("span attributes");
    assert_eq!(span_attrs.len(), 10_000);
    assert_eq!(span_attrs["attr.09999"], 9999);
}

#[tokio::test]
async fn an_empty_request_is_a_success() {
    let app = TestApp::new().await;
    let response = ok_protobuf(&post_protobuf(&app, &ExportTraceServiceRequest::default()).await);
    assert_eq!(response.partial_success, None);
    let reply = post(&app, Some(&app.ingest), Some(JSON), None, b"{}".to_vec()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn keys_and_roles_are_checked() {
    let app = TestApp::new().await;
    let before = app.tree_size().await;
    let body = request("svc", agent_run(0x42)).encode_to_vec();
    let reply = post(&app, None, Some(PROTOBUF), None, body.clone()).await;
    otlp_error(&reply, StatusCode::UNAUTHORIZED, PROTOBUF);
    assert_eq!(
        reply
            .headers
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    let reply = post(
        &app,
        Some("evk_not_a_key"),
        Some(PROTOBUF),
        None,
        body.clone(),
    )
    .await;
    otlp_error(&reply, StatusCode::UNAUTHORIZED, PROTOBUF);
    let reply = post(&app, Some(&app.auditor), Some(PROTOBUF), None, body.clone()).await;
    otlp_error(&reply, StatusCode::FORBIDDEN, PROTOBUF);
    // A key bound to agents may only send their spans: the chat span's actor is
    // the service.
    let bound = app.key("bound-1", Role::Ingest, &["refund-bot"]).await;
    let reply = post(&app, Some(&bound), Some(PROTOBUF), None, body.clone()).await;
    let message = otlp_error(&reply, StatusCode::FORBIDDEN, PROTOBUF);
    assert!(message.contains("\"svc\""), "{message}");
    assert_eq!(app.tree_size().await, before);
    let own = request("svc", vec![agent_run(0x43).remove(0)]);
    ok_protobuf(
        &post(
            &app,
            Some(&bound),
            Some(PROTOBUF),
            None,
            own.encode_to_vec(),
        )
        .await,
    );
    let reply = post(&app, Some(&app.admin), Some(PROTOBUF), None, body).await;
    ok_protobuf(&reply);
}

#[tokio::test]
async fn the_trace_reads_back_as_a_tree() {
    let app = TestApp::new().await;
    // Children first, the root last: nothing waits for the trace to "close".
    let mut spans = agent_run(0x55);
    let root = spans.remove(0);
    ok_protobuf(&post_protobuf(&app, &request("svc", spans)).await);
    ok_protobuf(&post_protobuf(&app, &request("svc", vec![root])).await);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let trace = loop {
        let reply = app
            .get(
                &format!("/api/v1/traces/{}", trace_hex(0x55)),
                Some(&app.auditor),
            )
            .await;
        if reply.status == StatusCode::OK {
            let trace = reply.json();
            if trace["events"].as_array().map(Vec::len) == Some(4) {
                break trace;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "trace not indexed: {}",
            reply.text()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(
        trace["tree"].as_array().map(Vec::len),
        Some(1),
        "{}",
        trace["tree"]
    );
    assert_eq!(trace["tree"][0]["event_id"], event_id(0x55, sid(0x55, 1)));
    let children: Vec<&str> = trace["tree"][0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        children,
        [
            event_id(0x55, sid(0x55, 2)),
            event_id(0x55, sid(0x55, 3)),
            event_id(0x55, sid(0x55, 4))
        ]
    );
}

/// Span ids are unique only within a trace: two traces whose spans share ids are both
/// stored whole, each span under `span_<trace id>_<span id>`, parents within their
/// own trace (CONTRACT section 5).
#[tokio::test]
async fn two_traces_sharing_span_ids_are_both_stored() {
    let app = TestApp::new().await;
    for trace in [0x71, 0x72] {
        let spans = vec![
            span(trace, 1, None, "root", vec![]),
            span(
                trace,
                2,
                Some(1),
                "child",
                vec![s("trace.mark", &format!("{trace:x}"))],
            ),
        ];
        let response = ok_protobuf(&post_protobuf(&app, &request("svc", spans)).await);
        assert!(response.partial_success.is_none(), "{response:?}");
    }
    assert_eq!(app.tree_size().await, 4, "all four spans stored");
    for trace in [0x71, 0x72] {
        let child = record(&app, &event_id(trace, 2)).await;
        assert_eq!(child["trace_id"], trace_hex(trace));
        assert_eq!(child["parent_event_id"], event_id(trace, 1));
        assert_eq!(
            child["attributes"]["span"]["trace.mark"],
            format!("{trace:x}")
        );
    }
}

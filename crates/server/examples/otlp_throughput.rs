//! How many spans per second `POST /v1/traces` stores: GenAI chat spans in
//! batches of 512 (the OpenTelemetry SDKs' default export batch), several requests
//! in flight, through the router, mapping, validation, privacy and the durable
//! group commit; then where the time goes, stage by stage. A measurement, not a
//! check, so an example rather than a test; run it in release:
//!
//! ```text
//! cargo run --release -p evident-server --example otlp_throughput
//! ```
//!
//! The benchmark (`evident bench`) owns the project's published numbers.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/otlp_util/mod.rs"]
mod otlp_util;

use std::time::Instant;

use axum::http::{header, Method, Request, StatusCode};
use common::TestApp;
use otlp_util::*;
use prost::Message;

const BATCH: u64 = 512;
const REQUESTS: u64 = 80;
const IN_FLIGHT: usize = 8;

fn chat_span(trace: u64, n: u64) -> opentelemetry_proto::tonic::trace::v1::Span {
    let id = (trace << 16) | n;
    let mut span = span(
        0,
        id,
        Some(trace << 16),
        "chat gpt-4o",
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.provider.name", "openai"),
            s("gen_ai.request.model", "gpt-4o"),
            s("gen_ai.response.model", "gpt-4o-2024-08-06"),
            d("gen_ai.request.temperature", 0.2),
            i("gen_ai.usage.input_tokens", 812),
            i("gen_ai.usage.output_tokens", 95),
            s("gen_ai.conversation.id", "conv_5j66UpCpwteGg4YSxUnt7lPY"),
            s(
                "gen_ai.input.messages",
                r#"[{"role":"user","parts":[{"type":"text","content":"Where is my order? It was due on Monday and the tracking page shows nothing."}]}]"#,
            ),
            s(
                "gen_ai.output.messages",
                r#"[{"role":"assistant","parts":[{"type":"text","content":"Your parcel left the depot this morning and should arrive tomorrow."}],"finish_reason":"stop"}]"#,
            ),
        ],
    );
    span.trace_id = u128::from(trace).to_be_bytes().to_vec();
    span
}

async fn otlp_http_spans_per_second() {
    let app = TestApp::new().await;
    let bodies: Vec<Vec<u8>> = (1..=REQUESTS)
        .map(|r| {
            let spans = (1..=BATCH).map(|n| chat_span(r, n)).collect();
            request("support-bot", spans).encode_to_vec()
        })
        .collect();
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let started = Instant::now();
    let app = std::sync::Arc::new(app);
    let mut pending = bodies.into_iter();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        while tasks.len() < IN_FLIGHT {
            let Some(body) = pending.next() else { break };
            let app = app.clone();
            tasks.spawn(async move {
                let request = Request::builder()
                    .method(Method::POST)
                    .uri("/v1/traces")
                    .header(header::AUTHORIZATION, format!("Bearer {}", app.ingest))
                    .header(header::CONTENT_TYPE, "application/x-protobuf")
                    .body(body.into())
                    .unwrap();
                let reply = app.send_request(request).await;
                assert_eq!(
                    reply.status,
                    StatusCode::OK,
                    "{}",
                    String::from_utf8_lossy(&reply.body)
                );
            });
        }
        match tasks.join_next().await {
            Some(done) => done.unwrap(),
            None => break,
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let spans = (REQUESTS * BATCH) as f64;
    println!(
        "{spans} spans ({:.1} MiB of protobuf) in {seconds:.2} s: {:.0} spans/s",
        bytes as f64 / (1024.0 * 1024.0),
        spans / seconds
    );
    assert!(app.tree_size().await >= REQUESTS * BATCH);
}

/// Where the time goes: decoding and mapping alone, then the ingest service alone
/// (validation, privacy, blobs, group commit) on the mapped events.
async fn otlp_stages_spans_per_second() {
    let app = TestApp::new().await;
    let bodies: Vec<Vec<u8>> = (1..=REQUESTS)
        .map(|r| {
            let spans = (1..=BATCH).map(|n| chat_span(r, n)).collect();
            request("support-bot", spans).encode_to_vec()
        })
        .collect();
    let spans = (REQUESTS * BATCH) as f64;

    let started = Instant::now();
    let mut batches = Vec::new();
    for body in &bodies {
        let decoded = evident_server::otlp::decode::decode_request(
            evident_server::otlp::response::Encoding::Protobuf,
            body,
        )
        .unwrap();
        let mapped = evident_server::otlp::map::map_request(&decoded);
        let events: Vec<_> = mapped.spans.into_iter().map(|s| s.event).collect();
        for event in &events {
            evident_core::event::validate_client_event(event).unwrap();
        }
        batches.push(events);
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("decode + map + validate: {:.0} spans/s", spans / seconds);

    let principal = evident_server::auth::Principal {
        name: "bench".into(),
        role: evident_server::auth::Role::Ingest,
        agents: evident_store::AgentBinding::Any,
    };
    let started = Instant::now();
    for events in batches {
        evident_server::ingest::ingest(&app.app, &principal, events)
            .await
            .unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "ingest (one request at a time): {:.0} spans/s",
        spans / seconds
    );
}

/// Decoding and mapping alone, no server.
fn otlp_mapping_spans_per_second() {
    let requests: Vec<_> = (1..=REQUESTS)
        .map(|r| {
            request(
                "support-bot",
                (1..=BATCH).map(|n| chat_span(r, n)).collect(),
            )
        })
        .collect();
    let bodies: Vec<Vec<u8>> = requests.iter().map(Message::encode_to_vec).collect();
    let spans = (REQUESTS * BATCH) as f64;
    let started = Instant::now();
    for body in &bodies {
        let decoded = evident_server::otlp::decode::decode_request(
            evident_server::otlp::response::Encoding::Protobuf,
            body,
        )
        .unwrap();
        std::hint::black_box(decoded);
    }
    println!(
        "decode: {:.0} spans/s",
        spans / started.elapsed().as_secs_f64()
    );
    // As the server does: map a request, validate it, drop it, the next.
    let started = Instant::now();
    for request in &requests {
        let mapped = evident_server::otlp::map::map_request(request);
        for span in &mapped.spans {
            evident_core::event::validate_client_event(&span.event).unwrap();
        }
    }
    println!(
        "map + validate: {:.0} spans/s",
        spans / started.elapsed().as_secs_f64()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    otlp_http_spans_per_second().await;
    otlp_stages_spans_per_second().await;
    otlp_mapping_spans_per_second();
}

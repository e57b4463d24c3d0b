//! The OTLP workload: the same agent runs as the event workload (another seed), as
//! an OpenTelemetry GenAI (semantic conventions 1.37) instrumentation would export
//! them: one span per step, a tool call and its result in one `execute_tool` span,
//! messages and tool payloads as JSON-string attributes, one resource per agent.
//! Requests are encoded (protobuf) before the clock starts.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::generator::{Params, Workload};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use prost::Message;
use serde_json::{json, Value};

use super::workload::Body;

/// Keeps the OTLP runs apart from the event workload's (other trace ids).
const SEED_OFFSET: u64 = 0x07_1b;

/// Encoded `ExportTraceServiceRequest`s of `spans` spans in all, `per_request` each.
pub fn requests(seed: u64, spans: u64, per_request: usize) -> (Vec<Body>, f64) {
    let started = Instant::now();
    let mut workload = Workload::new(Params {
        seed: seed.wrapping_add(SEED_OFFSET),
        ..Params::default()
    });
    let mut bodies = Vec::new();
    let mut batch: BTreeMap<String, (Resource, Vec<Span>)> = BTreeMap::new();
    let (mut in_batch, mut made) = (0usize, 0u64);
    while made < spans {
        for (agent, resource, span) in run_spans(&workload.next_run()) {
            if made == spans {
                break;
            }
            batch
                .entry(agent)
                .or_insert_with(|| (resource, Vec::new()))
                .1
                .push(span);
            in_batch += 1;
            made += 1;
            if in_batch == per_request {
                bodies.push(encode(std::mem::take(&mut batch), in_batch));
                in_batch = 0;
            }
        }
    }
    if in_batch > 0 {
        bodies.push(encode(batch, in_batch));
    }
    (bodies, started.elapsed().as_secs_f64())
}

fn encode(batch: BTreeMap<String, (Resource, Vec<Span>)>, spans: usize) -> Body {
    let request = ExportTraceServiceRequest {
        resource_spans: batch
            .into_values()
            .map(|(resource, spans)| ResourceSpans {
                resource: Some(resource),
                scope_spans: vec![ScopeSpans {
                    scope: None,
                    spans,
                    schema_url: "https://opentelemetry.io/schemas/1.37.0".into(),
                }],
                schema_url: String::new(),
            })
            .collect(),
    };
    Body {
        bytes: bytes::Bytes::from(request.encode_to_vec()),
        events: spans as u64,
    }
}

/// The spans of one run: (agent id, its resource, the span).
fn run_spans(events: &[Value]) -> Vec<(String, Resource, Span)> {
    let mut spans = Vec::with_capacity(events.len());
    for event in events {
        let kind = text(&event["event_type"]);
        if kind == "tool_result" {
            continue; // folded into its tool call's span
        }
        let result = (kind == "tool_call")
            .then(|| {
                events.iter().find(|e| {
                    e["event_type"] == "tool_result" && e["parent_event_id"] == event["event_id"]
                })
            })
            .flatten();
        let agent = text(&event["actor"]["id"]).to_owned();
        spans.push((agent, resource(event), span_of(event, result)));
    }
    spans
}

fn resource(event: &Value) -> Resource {
    let actor = &event["actor"];
    Resource {
        attributes: vec![
            kv("service.name", text(&actor["id"])),
            kv("service.version", text(&actor["version"])),
            kv("deployment.environment.name", text(&actor["environment"])),
        ],
        dropped_attributes_count: 0,
        entity_refs: Vec::new(),
    }
}

fn span_of(event: &Value, result: Option<&Value>) -> Span {
    let kind = text(&event["event_type"]);
    let start = unix_nanos(text(&event["timestamp"]));
    let end_event = result.unwrap_or(event);
    let latency_ms = end_event["metadata"]["latency_ms"].as_u64().unwrap_or(1);
    let end = unix_nanos(text(&end_event["timestamp"])).max(start) + latency_ms * 1_000_000;
    let snapshot = &event["snapshot"];
    let model = text(&snapshot["model"]);
    let agent = text(&event["actor"]["id"]);
    let mut attributes = vec![
        kv("gen_ai.conversation.id", text(&event["actor"]["run_id"])),
        kv("app.job.id", text(&event["context"]["job_id"])),
        kv("app.case.id", text(&event["context"]["case_id"])),
        kv("enduser.pseudo.id", text(&event["context"]["subject"])),
    ];
    if event["actor"]["type"] == "agent" {
        attributes.push(kv("gen_ai.agent.id", agent));
        attributes.push(kv(
            "gen_ai.agent.name",
            agent.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-'),
        ));
    }
    let (name, operation) = match kind {
        "agent_run" => (format!("invoke_agent {agent}"), Some("invoke_agent")),
        "model_call" => (format!("chat {model}"), Some("chat")),
        "tool_call" => (
            format!("execute_tool {}", text(&event["tool"]["name"])),
            Some("execute_tool"),
        ),
        "retrieval" => ("retrieval".to_owned(), Some("retrieval")),
        "guardrail" => ("apply_guardrail".to_owned(), Some("apply_guardrail")),
        other => (other.to_owned(), None),
    };
    if let Some(operation) = operation {
        attributes.push(kv("gen_ai.operation.name", operation));
    }
    match kind {
        "model_call" => {
            attributes.push(kv("gen_ai.request.model", model));
            if let Some(t) = snapshot["model_params"]["temperature"].as_f64() {
                attributes.push(kv_f64("gen_ai.request.temperature", t));
            }
            let messages: Vec<Value> = event["input"]["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| json!({"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]}))
                .collect();
            attributes.push(kv(
                "gen_ai.input.messages",
                &Value::Array(messages).to_string(),
            ));
            let output = &event["output"];
            let reply = json!([{"role": "assistant", "parts": [{"type": "text", "content": output["content"]}], "finish_reason": output["finish_reason"]}]);
            attributes.push(kv("gen_ai.output.messages", &reply.to_string()));
            let metadata = &event["metadata"];
            for (key, field) in [
                ("gen_ai.usage.input_tokens", "input_tokens"),
                ("gen_ai.usage.output_tokens", "output_tokens"),
            ] {
                if let Some(n) = metadata[field].as_i64() {
                    attributes.push(kv_i64(key, n));
                }
            }
        }
        "tool_call" => {
            let tool = &event["tool"];
            attributes.push(kv("gen_ai.tool.name", text(&tool["name"])));
            attributes.push(kv("gen_ai.tool.call.id", text(&tool["call_id"])));
            attributes.push(kv("gen_ai.tool.type", "function"));
            attributes.push(kv(
                "gen_ai.tool.call.arguments",
                &event["input"]["arguments"].to_string(),
            ));
            if let Some(result) = result {
                let output = if result["output"].is_null() {
                    &result["error"]
                } else {
                    &result["output"]
                };
                attributes.push(kv("gen_ai.tool.call.result", &output.to_string()));
            }
        }
        "retrieval" => {
            attributes.push(kv(
                "gen_ai.retrieval.query.text",
                text(&event["input"]["query"]),
            ));
            attributes.push(kv(
                "gen_ai.retrieval.documents",
                &event["output"]["documents"].to_string(),
            ));
        }
        _ => {
            for (key, field) in [("input.value", "input"), ("output.value", "output")] {
                if !event[field].is_null() {
                    attributes.push(kv(key, &event[field].to_string()));
                    attributes.push(kv(&key.replace("value", "mime_type"), "application/json"));
                }
            }
            for field in ["decision", "approval", "output_safety"] {
                if !event[field].is_null() {
                    attributes.push(kv(&format!("app.{field}"), &event[field].to_string()));
                }
            }
        }
    }
    let error = if result.is_some_and(|r| r["outcome"] == "error") {
        result.map(|r| &r["error"])
    } else {
        (event["outcome"] == "error").then_some(&event["error"])
    };
    Span {
        trace_id: hex_bytes(text(&event["trace_id"]), 16),
        span_id: span_id(text(&event["event_id"])),
        trace_state: String::new(),
        parent_span_id: event["parent_event_id"]
            .as_str()
            .map(span_id)
            .unwrap_or_default(),
        flags: 0,
        name,
        kind: if kind == "model_call" || kind == "tool_call" {
            span::SpanKind::Client as i32
        } else {
            span::SpanKind::Internal as i32
        },
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes,
        dropped_attributes_count: 0,
        events: Vec::new(),
        dropped_events_count: 0,
        links: Vec::new(),
        dropped_links_count: 0,
        status: Some(match error {
            Some(e) => Status {
                message: text(&e["message"]).to_owned(),
                code: status::StatusCode::Error as i32,
            },
            None => Status {
                message: String::new(),
                code: status::StatusCode::Ok as i32,
            },
        }),
    }
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

fn kv(key: &str, value: &str) -> KeyValue {
    attribute(key, any_value::Value::StringValue(value.to_owned()))
}

fn kv_i64(key: &str, value: i64) -> KeyValue {
    attribute(key, any_value::Value::IntValue(value))
}

fn kv_f64(key: &str, value: f64) -> KeyValue {
    attribute(key, any_value::Value::DoubleValue(value))
}

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

/// An 8-byte span id for an event id: FNV-1a, 64 bits (never zero).
fn span_id(event_id: &str) -> Vec<u8> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in event_id.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash.max(1).to_be_bytes().to_vec()
}

/// `len` bytes from hex text (the workload's 32-hex trace ids); zero-padded.
fn hex_bytes(hex: &str, len: usize) -> Vec<u8> {
    let mut out: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .take(len)
        .collect();
    out.resize(len, 0);
    out
}

fn unix_nanos(timestamp: &str) -> u64 {
    evident_core::time::parse_rfc3339(timestamp)
        .map(|t| u64::try_from(t.unix_timestamp_nanos()).unwrap_or(0))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_hold_the_asked_spans_and_decode() {
        let (bodies, _) = requests(1, 250, 100);
        assert_eq!(
            bodies.iter().map(|b| b.events).collect::<Vec<_>>(),
            [100, 100, 50]
        );
        let request = ExportTraceServiceRequest::decode(bodies[0].bytes.clone()).unwrap();
        let spans: Vec<&Span> = request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .collect();
        assert_eq!(spans.len(), 100);
        assert!(spans
            .iter()
            .all(|s| s.trace_id.len() == 16 && s.span_id.len() == 8));
        assert!(spans.iter().any(|s| s.name.starts_with("execute_tool ")));
    }
}

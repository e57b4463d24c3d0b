//! Builders for OTLP test requests, with the OpenTelemetry project's own message
//! types (`opentelemetry-proto`).

#![allow(dead_code)]

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};

/// 2026-11-23T14:22:07.123456789Z in nanoseconds since the epoch.
pub const START: u64 = 1_795_443_727_123_456_789;

pub fn value(v: any_value::Value) -> AnyValue {
    AnyValue { value: Some(v) }
}

pub fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(value(v)),
        key_strindex: 0,
    }
}

pub fn s(key: &str, text: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(text.into()))
}

pub fn i(key: &str, n: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(n))
}

pub fn d(key: &str, x: f64) -> KeyValue {
    kv(key, any_value::Value::DoubleValue(x))
}

pub fn b(key: &str, flag: bool) -> KeyValue {
    kv(key, any_value::Value::BoolValue(flag))
}

pub fn array(key: &str, items: Vec<any_value::Value>) -> KeyValue {
    kv(
        key,
        any_value::Value::ArrayValue(ArrayValue {
            values: items.into_iter().map(value).collect(),
        }),
    )
}

pub fn kvlist(key: &str, members: Vec<KeyValue>) -> KeyValue {
    kv(
        key,
        any_value::Value::KvlistValue(KeyValueList { values: members }),
    )
}

/// A trace id: 16 bytes, the given byte repeated.
pub fn trace_id(byte: u8) -> Vec<u8> {
    vec![byte; 16]
}

pub fn trace_hex(byte: u8) -> String {
    format!("{byte:02x}").repeat(16)
}

/// A span of trace `trace` with id `id`, 1.5 ms long, OK status unset.
pub fn span(
    trace: u8,
    id: u64,
    parent: Option<u64>,
    name: &str,
    attributes: Vec<KeyValue>,
) -> Span {
    Span {
        trace_id: trace_id(trace),
        span_id: id.to_be_bytes().to_vec(),
        parent_span_id: parent.map(|p| p.to_be_bytes().to_vec()).unwrap_or_default(),
        name: name.into(),
        kind: 1,
        start_time_unix_nano: START + id * 1_000_000,
        end_time_unix_nano: START + id * 1_000_000 + 1_500_000,
        attributes,
        ..Span::default()
    }
}

/// `event_id` of the span with id `id` in trace `trace`: `span_<trace id>_<span id>`.
pub fn event_id(trace: u8, id: u64) -> String {
    format!("span_{}_{id:016x}", trace_hex(trace))
}

/// A span with status ERROR and an exception event.
pub fn failed(mut span: Span, exception_type: &str, message: &str) -> Span {
    span.status = Some(Status {
        message: message.into(),
        code: 2,
    });
    span.events.push(span::Event {
        time_unix_nano: span.start_time_unix_nano + 1000,
        name: "exception".into(),
        attributes: vec![
            s("exception.type", exception_type),
            s("exception.message", message),
        ],
        dropped_attributes_count: 0,
    });
    span
}

/// One request: `spans` under a resource with `service.name` = `service`.
pub fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![s("service.name", service), s("service.version", "1.2.3")],
                dropped_attributes_count: 0,
                entity_refs: Vec::new(),
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "test.instrumentation".into(),
                    version: "0.1".into(),
                    attributes: Vec::new(),
                    dropped_attributes_count: 0,
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// The id of the `n`th span of [`agent_run`]`(trace)`; distinct across traces,
/// though `event_id` (`span_<trace id>_<span id>`) would not need it.
pub fn sid(trace: u8, n: u64) -> u64 {
    (u64::from(trace) << 8) | n
}

/// A GenAI agent run in trace `trace`: `invoke_agent` ([`sid`] 1), `chat` (2),
/// `execute_tool` lookup (3), failing `execute_tool` refund (4).
pub fn agent_run(trace: u8) -> Vec<Span> {
    let id = |n| sid(trace, n);
    vec![
        span(
            trace,
            id(1),
            None,
            "invoke_agent refund_bot",
            vec![
                s("gen_ai.operation.name", "invoke_agent"),
                s("gen_ai.agent.name", "refund-bot"),
                s("gen_ai.request.model", "gpt-4o"),
            ],
        ),
        span(
            trace,
            id(2),
            Some(id(1)),
            "chat gpt-4o",
            vec![
                s("gen_ai.operation.name", "chat"),
                s("gen_ai.request.model", "gpt-4o"),
                s("gen_ai.response.model", "gpt-4o-2024-08-06"),
                i("gen_ai.usage.input_tokens", 100),
                i("gen_ai.usage.output_tokens", 20),
                s(
                    "gen_ai.input.messages",
                    r#"[{"role":"user","parts":[{"type":"text","content":"refund order 42"}]}]"#,
                ),
            ],
        ),
        span(
            trace,
            id(3),
            Some(id(1)),
            "execute_tool lookup_order",
            vec![
                s("gen_ai.operation.name", "execute_tool"),
                s("gen_ai.tool.name", "lookup_order"),
                s("gen_ai.tool.call.id", "call_a"),
                s("gen_ai.tool.call.arguments", r#"{"order":42}"#),
                s("gen_ai.tool.call.result", r#"{"status":"shipped"}"#),
            ],
        ),
        failed(
            span(
                trace,
                id(4),
                Some(id(1)),
                "execute_tool issue_refund",
                vec![
                    s("gen_ai.operation.name", "execute_tool"),
                    s("gen_ai.tool.name", "issue_refund"),
                ],
            ),
            "PaymentDeclined",
            "card issuer declined the refund",
        ),
    ]
}

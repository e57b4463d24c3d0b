//! The OTLP mapping of CONTRACT section 5, as pure functions: spans in, events out,
//! no server. Also the OTLP/JSON decoding, against a request written from the
//! OTLP specification (`testdata/otlp/`).

mod otlp_util;

use evident_core::event::validate_client_event;
use evident_core::json::canonical_bytes;
use evident_server::otlp::decode::decode_request;
use evident_server::otlp::map::{event_type, map_request, MappedRequest, UNKNOWN_AGENT};
use evident_server::otlp::response::Encoding;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::{span as otlp_span, Span, Status};
use otlp_util::*;
use serde_json::{json, Map, Value};

fn map_one(span: Span) -> Value {
    let mapped = map_request(&request("svc", vec![span]));
    assert!(mapped.rejected.is_empty(), "{:?}", mapped.rejected);
    mapped.spans[0].event.clone()
}

fn events(mapped: &MappedRequest) -> Vec<&Value> {
    mapped.spans.iter().map(|s| &s.event).collect()
}

fn attrs(value: Value) -> Map<String, Value> {
    value.as_object().expect("object").clone()
}

#[test]
fn one_span_is_one_event() {
    let mapped = map_request(&request("refund-service", agent_run(0xab)));
    assert!(mapped.rejected.is_empty(), "{:?}", mapped.rejected);
    let events = events(&mapped);
    assert_eq!(events.len(), 4);
    for event in &events {
        validate_client_event(event).unwrap_or_else(|e| panic!("{e}: {event}"));
        assert_eq!(event["trace_id"], trace_hex(0xab));
    }
    let root = events[0];
    assert_eq!(
        root["event_id"],
        format!("span_{}_000000000000ab01", trace_hex(0xab))
    );
    assert!(root.get("parent_event_id").is_none());
    assert_eq!(root["event_type"], "agent_run");
    assert_eq!(
        root["actor"],
        json!({"type": "agent", "id": "refund-bot", "version": "1.2.3"})
    );
    // START + 0xab01 ms
    assert_eq!(root["timestamp"], "2026-11-23T14:22:50.900456789Z");
    assert_eq!(root["metadata"]["latency_ms"], json!(1.5));
    assert_eq!(root["outcome"], "success");

    let chat = events[1];
    assert_eq!(chat["parent_event_id"], root["event_id"]);
    assert_eq!(chat["event_type"], "model_call");
    assert_eq!(chat["snapshot"]["model"], "gpt-4o");
    assert_eq!(chat["metadata"]["input_tokens"], 100);
    assert_eq!(chat["metadata"]["output_tokens"], 20);
    assert_eq!(
        chat["actor"]["id"], "refund-service",
        "no agent on the span: the service"
    );
    assert_eq!(
        chat["input"]["messages"][0]["parts"][0]["content"],
        "refund order 42"
    );
    assert!(
        chat["attributes"]["span"]
            .get("gen_ai.input.messages")
            .is_none(),
        "content moved to input is not kept twice"
    );
    assert_eq!(
        chat["attributes"]["span"]["gen_ai.response.model"],
        "gpt-4o-2024-08-06"
    );

    let tool = events[2];
    assert_eq!(tool["event_type"], "tool_call");
    assert_eq!(
        tool["tool"],
        json!({"name": "lookup_order", "call_id": "call_a"})
    );
    assert_eq!(tool["input"], json!({"arguments": {"order": 42}}));
    assert_eq!(tool["output"], json!({"result": {"status": "shipped"}}));

    let failed = events[3];
    assert_eq!(failed["outcome"], "error");
    assert_eq!(
        failed["error"],
        json!({"kind": "PaymentDeclined", "message": "card issuer declined the refund"})
    );
    assert_eq!(failed["attributes"]["events"][0]["name"], "exception");
    assert_eq!(failed["attributes"]["otel"]["status"]["code"], "error");
}

#[test]
fn the_mapping_is_deterministic() {
    let spans = agent_run(0x11);
    let first = map_request(&request("svc", spans.clone()));
    let again = map_request(&request("svc", spans.clone()));
    // The same span alone, with its attributes in another order.
    let mut lone = spans[1].clone();
    lone.attributes.reverse();
    let alone = map_request(&request("svc", vec![lone]));
    let bytes = |m: &MappedRequest, i: usize| canonical_bytes(&m.spans[i].event);
    for i in 0..spans.len() {
        assert_eq!(bytes(&first, i), bytes(&again, i));
    }
    assert_eq!(bytes(&first, 1), bytes(&alone, 0));
}

#[test]
fn operations_and_span_kinds_become_event_types() {
    let cases = [
        (json!({"gen_ai.operation.name": "chat"}), "model_call"),
        (
            json!({"gen_ai.operation.name": "text_completion"}),
            "model_call",
        ),
        (
            json!({"gen_ai.operation.name": "generate_content"}),
            "model_call",
        ),
        (json!({"gen_ai.operation.name": "embeddings"}), "model_call"),
        (
            json!({"gen_ai.operation.name": "execute_tool"}),
            "tool_call",
        ),
        (json!({"gen_ai.operation.name": "retrieval"}), "retrieval"),
        (
            json!({"gen_ai.operation.name": "search_memory"}),
            "retrieval",
        ),
        (
            json!({"gen_ai.operation.name": "invoke_agent"}),
            "agent_run",
        ),
        (
            json!({"gen_ai.operation.name": "create_agent"}),
            "agent_run",
        ),
        (
            json!({"gen_ai.operation.name": "invoke_workflow"}),
            "agent_run",
        ),
        (
            json!({"gen_ai.operation.name": "apply_guardrail"}),
            "guardrail",
        ),
        (json!({"gen_ai.operation.name": "evaluate"}), "step"),
        (json!({"openinference.span.kind": "LLM"}), "model_call"),
        (
            json!({"openinference.span.kind": "EMBEDDING"}),
            "model_call",
        ),
        (json!({"openinference.span.kind": "TOOL"}), "tool_call"),
        (json!({"openinference.span.kind": "RETRIEVER"}), "retrieval"),
        (json!({"openinference.span.kind": "RERANKER"}), "retrieval"),
        (json!({"openinference.span.kind": "AGENT"}), "agent_run"),
        (json!({"openinference.span.kind": "CHAIN"}), "agent_run"),
        (json!({"openinference.span.kind": "GUARDRAIL"}), "guardrail"),
        (json!({"openinference.span.kind": "EVALUATOR"}), "step"),
        (json!({"openinference.span.kind": "UNKNOWN"}), "step"),
        // Older GenAI instrumentations sent no operation name.
        (
            json!({"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4"}),
            "model_call",
        ),
        (json!({"gen_ai.tool.name": "search"}), "tool_call"),
        (json!({"http.request.method": "GET"}), "step"),
        (json!({}), "step"),
    ];
    for (attributes, expected) in cases {
        assert_eq!(
            event_type(&attrs(attributes.clone())),
            expected,
            "{attributes}"
        );
    }
}

#[test]
fn every_span_kind_is_kept() {
    let spans: Vec<Span> = (0..=5)
        .map(|kind| {
            let mut span = span(0x22, 10 + kind as u64, None, "plain", vec![]);
            span.kind = kind;
            span
        })
        .collect();
    let mapped = map_request(&request("svc", spans));
    assert_eq!(mapped.spans.len(), 6);
    let kinds: Vec<&Value> = mapped
        .spans
        .iter()
        .map(|s| &s.event["attributes"]["otel"]["kind"])
        .collect();
    assert_eq!(
        kinds,
        [
            "unspecified",
            "internal",
            "server",
            "client",
            "producer",
            "consumer"
        ]
    );
    assert!(mapped.spans.iter().all(|s| s.event["event_type"] == "step"));
}

#[test]
fn model_is_the_request_model_else_the_response_model() {
    let response_only = map_one(span(
        1,
        1,
        None,
        "chat",
        vec![
            s("gen_ai.operation.name", "chat"),
            s("gen_ai.response.model", "gpt-4o-2024-08-06"),
            d("gen_ai.request.temperature", 0.5),
            array(
                "gen_ai.request.stop_sequences",
                vec![any_value::Value::StringValue("END".into())],
            ),
        ],
    ));
    assert_eq!(response_only["snapshot"]["model"], "gpt-4o-2024-08-06");
    assert_eq!(
        response_only["snapshot"]["model_params"],
        json!({"temperature": 0.5, "stop_sequences": ["END"]})
    );
    let openinference = map_one(span(
        1,
        2,
        None,
        "llm",
        vec![
            s("openinference.span.kind", "LLM"),
            s("llm.model_name", "claude-3-5-sonnet"),
            s(
                "llm.invocation_parameters",
                r#"{"temperature": 0, "tools": [{"name": "x"}]}"#,
            ),
            i("llm.token_count.prompt", 7),
            i("llm.token_count.completion", 3),
            d("llm.cost.total", 0.0021),
        ],
    ));
    assert_eq!(
        openinference["snapshot"],
        json!({"model": "claude-3-5-sonnet", "model_params": {"temperature": 0}})
    );
    assert_eq!(openinference["metadata"]["input_tokens"], 7);
    assert_eq!(openinference["metadata"]["output_tokens"], 3);
    assert_eq!(openinference["metadata"]["cost_usd"], json!(0.0021));
}

#[test]
fn deprecated_genai_names_are_understood() {
    let mut legacy = span(
        1,
        1,
        None,
        "openai.chat",
        vec![
            s("gen_ai.system", "openai"),
            s("gen_ai.request.model", "gpt-3.5-turbo"),
            i("gen_ai.usage.prompt_tokens", 30),
            i("gen_ai.usage.completion_tokens", 12),
            s("gen_ai.prompt.0.role", "user"),
            s("gen_ai.prompt.0.content", "hello"),
            s("gen_ai.completion.0.role", "assistant"),
            s("gen_ai.completion.0.content", "hi there"),
        ],
    );
    legacy.events.push(otlp_span::Event {
        time_unix_nano: START,
        name: "gen_ai.content.prompt".into(),
        attributes: vec![s("gen_ai.prompt", r#"[{"role":"user","content":"hello"}]"#)],
        dropped_attributes_count: 0,
    });
    let event = map_one(legacy);
    assert_eq!(event["event_type"], "model_call");
    assert_eq!(event["metadata"]["input_tokens"], 30);
    assert_eq!(event["metadata"]["output_tokens"], 12);
    assert_eq!(
        event["input"]["messages"],
        json!([{"role": "user", "content": "hello"}])
    );
    assert_eq!(
        event["input"]["prompt"],
        json!([{"role": "user", "content": "hello"}])
    );
    assert_eq!(
        event["output"]["messages"],
        json!([{"role": "assistant", "content": "hi there"}])
    );
    assert_eq!(
        event["attributes"]["events"][0]["name"],
        "gen_ai.content.prompt"
    );
}

#[test]
fn inference_details_events_fill_input_and_output() {
    let mut chat = span(1, 1, None, "chat", vec![s("gen_ai.operation.name", "chat")]);
    chat.events.push(otlp_span::Event {
        time_unix_nano: START,
        name: "gen_ai.client.inference.operation.details".into(),
        attributes: vec![
            s("gen_ai.input.messages", r#"[{"role":"user","parts":[]}]"#),
            s(
                "gen_ai.output.messages",
                r#"[{"role":"assistant","parts":[]}]"#,
            ),
        ],
        dropped_attributes_count: 0,
    });
    let event = map_one(chat);
    assert_eq!(
        event["input"]["messages"],
        json!([{"role": "user", "parts": []}])
    );
    assert_eq!(
        event["output"]["messages"],
        json!([{"role": "assistant", "parts": []}])
    );
    assert_eq!(
        event["attributes"]["events"][0]["name"], "gen_ai.client.inference.operation.details",
        "span events stay in attributes"
    );
}

#[test]
fn the_actor_is_the_agent() {
    let actor =
        |span_attrs: Vec<_>| map_one(span(1, 1, None, "x", span_attrs))["actor"]["id"].clone();
    assert_eq!(
        actor(vec![
            s("gen_ai.agent.id", "asst_1"),
            s("gen_ai.agent.name", "Tutor")
        ]),
        "asst_1"
    );
    assert_eq!(actor(vec![s("gen_ai.agent.name", "Tutor")]), "Tutor");
    assert_eq!(actor(vec![s("agent.name", "oi-agent")]), "oi-agent");
    // Not an id Evident accepts (printable ASCII): the next candidate.
    assert_eq!(actor(vec![s("gen_ai.agent.name", "助手")]), "svc");
    let mut nameless = request("svc", vec![span(1, 1, None, "x", vec![])]);
    nameless.resource_spans[0].resource = None;
    let mapped = map_request(&nameless);
    assert_eq!(mapped.spans[0].event["actor"]["id"], UNKNOWN_AGENT);
}

#[test]
fn errors_take_the_exception_type_else_error_type() {
    let mut no_exception = span(1, 1, None, "x", vec![s("error.type", "timeout")]);
    no_exception.status = Some(Status {
        message: String::new(),
        code: 2,
    });
    let event = map_one(no_exception);
    assert_eq!(event["outcome"], "error");
    assert_eq!(event["error"], json!({"kind": "timeout"}));
    let mut bare = span(1, 2, None, "x", vec![]);
    bare.status = Some(Status {
        message: "boom".into(),
        code: 2,
    });
    assert_eq!(
        map_one(bare)["error"],
        json!({"kind": "error", "message": "boom"})
    );
    let mut ok = span(1, 3, None, "x", vec![]);
    ok.status = Some(Status {
        message: String::new(),
        code: 1,
    });
    let ok = map_one(ok);
    assert_eq!(ok["outcome"], "success");
    assert!(ok.get("error").is_none());
}

#[test]
fn values_stay_i_json() {
    let event = map_one(span(
        1,
        1,
        None,
        "x",
        vec![
            i("big", (1 << 53) + 1),
            i("small", -(1 << 53)),
            d("nan", f64::NAN),
            d("huge", 1e300),
            b("flag", true),
            kv("raw", any_value::Value::BytesValue(vec![0, 255])),
            s("odd", "a\u{FFFF}b"),
            kvlist(
                "nested",
                vec![
                    i("n", 1),
                    array("list", vec![any_value::Value::BoolValue(false)]),
                ],
            ),
        ],
    ));
    let span_attrs = &event["attributes"]["span"];
    assert_eq!(span_attrs["big"], "9007199254740993");
    assert_eq!(span_attrs["small"], json!(-9_007_199_254_740_992_i64));
    assert_eq!(span_attrs["nan"], "NaN");
    assert_eq!(span_attrs["huge"], "1e300");
    assert_eq!(span_attrs["flag"], true);
    assert_eq!(span_attrs["raw"], "AP8=");
    assert_eq!(span_attrs["odd"], "a\u{FFFD}b");
    assert_eq!(span_attrs["nested"], json!({"n": 1, "list": [false]}));
    // What the strict parser of `evident verify` accepts.
    let bytes = canonical_bytes(&event);
    evident_core::json::parse_value(&bytes).expect("I-JSON");
}

#[test]
fn spans_without_valid_ids_or_start_are_rejected() {
    let mut no_trace = span(1, 1, None, "a", vec![]);
    no_trace.trace_id.clear();
    let mut zero_span = span(1, 2, None, "b", vec![]);
    zero_span.span_id = vec![0; 8];
    let mut short_parent = span(1, 3, None, "c", vec![]);
    short_parent.parent_span_id = vec![1, 2, 3];
    let mut no_start = span(1, 4, None, "d", vec![]);
    no_start.start_time_unix_nano = 0;
    let mut no_id = span(1, 5, None, "e", vec![]);
    no_id.span_id.clear();
    let good = span(1, 6, None, "f", vec![]);
    let mapped = map_request(&request(
        "svc",
        vec![no_trace, zero_span, short_parent, no_start, no_id, good],
    ));
    assert_eq!(mapped.spans.len(), 1);
    assert_eq!(mapped.spans[0].event["event_id"], event_id(1, 6));
    let reasons: Vec<(&str, &str)> = mapped
        .rejected
        .iter()
        .map(|r| (r.span.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    assert!(reasons[0].1.starts_with("trace_id"), "{reasons:?}");
    assert_eq!(reasons[1].0, "0000000000000000");
    assert!(reasons[1].1.starts_with("span_id"), "{reasons:?}");
    assert!(reasons[2].1.starts_with("parent_span_id"), "{reasons:?}");
    assert!(reasons[3].1.starts_with("start_time"), "{reasons:?}");
    assert_eq!(
        reasons[4].0, "#4",
        "a span without an id is named by its position"
    );
}

#[test]
fn deeply_nested_values_are_rejected_not_truncated() {
    let mut deep = any_value::Value::StringValue("leaf".into());
    for _ in 0..40 {
        deep = any_value::Value::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
            values: vec![value(deep)],
        });
    }
    let mapped = map_request(&request(
        "svc",
        vec![span(1, 1, None, "deep", vec![kv("deep", deep)])],
    ));
    assert!(mapped.spans.is_empty());
    assert!(
        mapped.rejected[0].reason.contains("nests deeper"),
        "{:?}",
        mapped.rejected
    );
}

#[test]
fn long_texts_are_cut_in_the_entry_and_kept_whole_in_attributes() {
    let long = "x".repeat(100_000);
    let mut tool = span(
        1,
        1,
        None,
        "execute_tool",
        vec![
            s("gen_ai.operation.name", "execute_tool"),
            s("gen_ai.tool.name", &long),
        ],
    );
    tool.status = Some(Status {
        message: long.clone(),
        code: 2,
    });
    let event = map_one(tool);
    let name = event["tool"]["name"].as_str().unwrap();
    assert!(name.len() <= 512 && name.ends_with('…'), "{}", name.len());
    assert!(event["error"]["message"].as_str().unwrap().len() <= 4096);
    assert_eq!(
        event["attributes"]["span"]["gen_ai.tool.name"]
            .as_str()
            .unwrap()
            .len(),
        100_000
    );
    let mut without_payloads = event.as_object().unwrap().clone();
    for field in ["input", "output", "attributes"] {
        without_payloads.remove(field);
    }
    assert!(canonical_bytes(&Value::Object(without_payloads)).len() < 8_000);
}

#[test]
fn links_and_events_are_kept() {
    let mut linked = span(1, 1, None, "x", vec![]);
    linked.links.push(otlp_span::Link {
        trace_id: trace_id(0x33),
        span_id: 7u64.to_be_bytes().to_vec(),
        trace_state: "vendor=1".into(),
        attributes: vec![s("link.reason", "retry of")],
        dropped_attributes_count: 0,
        flags: 0,
    });
    let event = map_one(linked);
    assert_eq!(
        event["attributes"]["links"],
        json!([{"trace_id": trace_hex(0x33), "span_id": "0000000000000007",
                "trace_state": "vendor=1", "attributes": {"link.reason": "retry of"}}])
    );
    assert_eq!(event["attributes"]["resource"]["service.name"], "svc");
    assert_eq!(
        event["attributes"]["scope"],
        json!({"name": "test.instrumentation", "version": "0.1"})
    );
}

/// OTLP/JSON: hex ids (any case), enum integers, 64-bit integers as strings or
/// numbers, every `AnyValue` variant, unknown fields ignored.
#[test]
fn otlp_json_decodes_as_the_specification_says() {
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/otlp/spec-request.json"
    ))
    .expect("testdata/otlp/spec-request.json");
    let request = decode_request(Encoding::Json, &body).expect("decodes");
    let span = &request.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(span.trace_id, hex("5b8efff798038103d269b633813fc60c"));
    assert_eq!(span.span_id, hex("eee19b7ec3c1b174"));
    assert_eq!(span.parent_span_id, hex("eee19b7ec3c1b173"));
    assert_eq!(span.kind, 3);
    assert_eq!(span.start_time_unix_nano, 1_795_443_727_123_456_789);
    assert_eq!(span.end_time_unix_nano, 1_795_443_728_000_000_000);
    assert_eq!(span.status.as_ref().map(|s| s.code), Some(2));
    let event = map_request(&request).spans.remove(0).event;
    assert_eq!(
        event["event_id"],
        "span_5b8efff798038103d269b633813fc60c_eee19b7ec3c1b174"
    );
    assert_eq!(
        event["parent_event_id"],
        "span_5b8efff798038103d269b633813fc60c_eee19b7ec3c1b173"
    );
    assert_eq!(event["trace_id"], "5b8efff798038103d269b633813fc60c");
    assert_eq!(event["timestamp"], "2026-11-23T14:22:07.123456789Z");
    assert_eq!(event["event_type"], "model_call");
    assert_eq!(event["metadata"]["input_tokens"], 1200);
    assert_eq!(event["metadata"]["output_tokens"], 35);
    assert_eq!(event["outcome"], "error");
    assert_eq!(
        event["error"],
        json!({"kind": "RateLimitError", "message": "429 from the provider"})
    );
    let span_attrs = &event["attributes"]["span"];
    assert_eq!(span_attrs["big"], "9007199254740993");
    assert_eq!(span_attrs["ratio"], json!(0.5));
    assert_eq!(span_attrs["raw"], "aGk=");
    assert_eq!(span_attrs["list"], json!(["a", 1, true]));
    assert_eq!(span_attrs["map"], json!({"k": "v"}));
    assert_eq!(span_attrs["empty"], Value::Null);
    assert_eq!(
        event["attributes"]["events"][0]["time"],
        "2026-11-23T14:22:07.500000000Z"
    );
}

#[test]
fn otlp_json_with_bad_ids_or_types_is_refused() {
    for body in [
        r#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}"#,
        r#"{"resourceSpans": [{"scopeSpans": [{"spans": [{"kind": "SPAN_KIND_SERVER"}]}]}]}"#,
        r#"{"resourceSpans": "no"}"#,
        r#"[1, 2]"#,
        "",
    ] {
        let err = decode_request(Encoding::Json, body.as_bytes()).expect_err(body);
        assert_eq!(err.http_status(), 400, "{body}");
    }
}

fn hex(text: &str) -> Vec<u8> {
    data_encoding::HEXLOWER.decode(text.as_bytes()).unwrap()
}

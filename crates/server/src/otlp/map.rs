//! CONTRACT section 5: one OTLP span becomes one Evident event. Pure and
//! deterministic — the same span always maps to byte-identical JSON, whatever else
//! was in its request, so a re-sent span is a no-op (same `event_id`, same
//! submission digest) rather than a conflict. Nothing here looks at other spans:
//! children may arrive before their parents, and no span waits for its trace.
//!
//! # Conventions mapped
//!
//! - OpenTelemetry GenAI semantic conventions **v1.37.0** (spans, agent spans,
//!   events), pinned in [`GENAI_SEMCONV_VERSION`], with the deprecated names older
//!   instrumentations still send: `gen_ai.system` (now `gen_ai.provider.name`),
//!   `gen_ai.prompt` / `gen_ai.completion` (attributes, flattened
//!   `gen_ai.prompt.N.*` lists, and the `gen_ai.content.prompt` /
//!   `gen_ai.content.completion` events), `gen_ai.usage.prompt_tokens` /
//!   `completion_tokens`, and the per-message events `gen_ai.system.message`,
//!   `gen_ai.user.message`, `gen_ai.assistant.message`, `gen_ai.tool.message`,
//!   `gen_ai.choice`. Operations added after v1.37 are accepted too: `retrieval`,
//!   `invoke_workflow`, and memory operations (`*memory*`).
//! - OpenInference semantic conventions as published in
//!   `openinference-semantic-conventions` **0.1.42** ([`OPENINFERENCE_VERSION`]):
//!   `openinference.span.kind`, `llm.model_name`, `llm.invocation_parameters`,
//!   `llm.token_count.*`, `llm.cost.total`, `llm.input_messages` /
//!   `llm.output_messages` flattened lists, `tool.*`, `tool_call.*`,
//!   `input.value` / `output.value`, `retrieval.documents`, `reranker.*`,
//!   `agent.name`.
//!
//! # The event
//!
//! | field | from |
//! |---|---|
//! | `event_id` | `span_<32-hex trace id>_<16-hex span id>`: span ids are unique only within a trace |
//! | `trace_id` | the 32-hex trace id |
//! | `parent_event_id` | `span_<trace id>_<parent span id>` (none for a root) |
//! | `timestamp` | span start, RFC 3339 UTC with all 9 fractional digits |
//! | `actor` | `{type: agent, id}`, id the first valid id of `gen_ai.agent.id`, `gen_ai.agent.name`, `agent.name` (span, then resource), `service.name`, else `unknown_service`; `version` from `gen_ai.agent.version` or `service.version`; `environment` from `deployment.environment.name` or `deployment.environment` |
//! | `event_type` | [`event_type`] |
//! | `snapshot` | `model` = request model (`gen_ai.request.model`, `llm.request.model_name`, `llm.model_name`, `embedding.model_name`, `reranker.model_name`) else response model (`gen_ai.response.model`, `llm.response.model_name`); `model_params` from `gen_ai.request.*` and `llm.invocation_parameters`; `prompt_version` from `llm.prompt_template.version` |
//! | `tool` | for `tool_call`: `name`, `call_id`, `type` |
//! | `input`, `output` | see [`super::content`] |
//! | `metadata` | `latency_ms` (end − start, µs precision), `input_tokens`, `output_tokens`, `cost_usd` |
//! | `outcome` | `error` for status ERROR, else `success` |
//! | `error` | for status ERROR: `kind` = `exception.type` of the last exception event, else `error.type`, else `"error"`; `message` = the status message, else the exception's |
//! | `attributes` | `span` (every span attribute not moved into `input`/`output`), `resource`, `scope`, `events` (every span event, exceptions and `gen_ai.client.inference.operation.details` included), `links`, and `otel` (name, kind, status, start and end, trace state, flags, dropped counts, schema URLs) |
//!
//! Texts copied into the entry itself (not into the payload blobs) are bounded —
//! [`MAX_ENTRY_TEXT`] bytes, error messages [`MAX_ERROR_MESSAGE`] — so a span can
//! never produce an entry over the 64 KiB limit; the full texts stay in
//! `attributes`.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span};
use serde_json::{json, Map, Value};

use super::content::{self, SpanEvent};
use super::value::{self, attributes as convert_attributes, clean_text, embedded_json};

/// The OpenTelemetry GenAI semantic conventions version this mapping follows.
pub const GENAI_SEMCONV_VERSION: &str = "1.37.0";

/// The OpenInference semantic conventions (Python package) version this mapping follows.
pub const OPENINFERENCE_VERSION: &str = "0.1.42";

/// Longest text copied from a span into an entry field (`tool.name`,
/// `snapshot.model`, ...); longer texts are cut, the full text stays in `attributes`.
pub const MAX_ENTRY_TEXT: usize = 512;

/// Longest `error.message` in an entry.
pub const MAX_ERROR_MESSAGE: usize = 4096;

/// Most `snapshot.model_params` members, and the largest one (JSON bytes): the
/// snapshot lives in the entry, so it stays small; all parameters stay in
/// `attributes`.
const MAX_MODEL_PARAMS: usize = 32;
const MAX_MODEL_PARAM_BYTES: usize = 256;

/// The actor id when a span names no agent and its resource no service.
pub const UNKNOWN_AGENT: &str = "unknown_service";

/// Every span of one request, mapped or rejected.
#[derive(Debug, Default)]
pub struct MappedRequest {
    pub spans: Vec<MappedSpan>,
    pub rejected: Vec<Rejected>,
}

/// One span's event.
#[derive(Debug, Clone)]
pub struct MappedSpan {
    /// The span id, 16 hex digits: how messages name the span.
    pub span_id: String,
    /// The span's position in its request (0-based, in document order).
    pub position: usize,
    pub event: Value,
}

/// A span that cannot become an event, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The span id in hex, or `#<n>` (its position in the request) when it has none.
    pub span: String,
    pub reason: String,
}

/// The resource and scope a span was reported under, converted once per group.
struct Origin {
    resource: Map<String, Value>,
    scope: Value,
    otel: Map<String, Value>,
}

/// Maps every span of `request`; spans that cannot be mapped are listed with the
/// reason, the others are mapped independently of each other.
pub fn map_request(request: &ExportTraceServiceRequest) -> MappedRequest {
    let mut mapped = MappedRequest::default();
    let mut position = 0usize;
    for resource_spans in &request.resource_spans {
        let resource = resource_spans.resource.as_ref();
        let resource_attributes = convert_attributes(resource.map_or(&[][..], |r| &r.attributes))
            .map_err(|e| format!("resource {e}"));
        for scope_spans in &resource_spans.scope_spans {
            let origin = resource_attributes
                .clone()
                .and_then(|attributes| origin(resource_spans, scope_spans, attributes));
            for span in &scope_spans.spans {
                let name = span_label(span, position);
                let this_position = position;
                position += 1;
                let result = match &origin {
                    Ok(origin) => map_span(span, origin),
                    Err(reason) => Err(reason.clone()),
                };
                match result {
                    Ok(event) => mapped.spans.push(MappedSpan {
                        span_id: name,
                        position: this_position,
                        event,
                    }),
                    Err(reason) => mapped.rejected.push(Rejected { span: name, reason }),
                }
            }
        }
    }
    mapped
}

/// What every span of one scope shares: resource attributes, scope, schema URLs.
fn origin(
    resource_spans: &ResourceSpans,
    scope_spans: &ScopeSpans,
    resource_attributes: Map<String, Value>,
) -> Result<Origin, String> {
    let mut scope_json = Map::new();
    let mut otel = Map::new();
    if let Some(scope) = &scope_spans.scope {
        put_text(&mut scope_json, "name", &scope.name);
        put_text(&mut scope_json, "version", &scope.version);
        let attributes = convert_attributes(&scope.attributes).map_err(|e| format!("scope {e}"))?;
        if !attributes.is_empty() {
            scope_json.insert("attributes".into(), Value::Object(attributes));
        }
        put_count(
            &mut scope_json,
            "dropped_attributes_count",
            scope.dropped_attributes_count,
        );
    }
    if let Some(resource) = &resource_spans.resource {
        put_count(
            &mut otel,
            "resource_dropped_attributes_count",
            resource.dropped_attributes_count,
        );
    }
    put_text(&mut otel, "resource_schema_url", &resource_spans.schema_url);
    put_text(&mut otel, "scope_schema_url", &scope_spans.schema_url);
    Ok(Origin {
        resource: resource_attributes,
        scope: Value::Object(scope_json),
        otel,
    })
}

/// How messages name a span: its id in hex, else its position.
fn span_label(span: &Span, position: usize) -> String {
    if span.span_id.is_empty() {
        format!("#{position}")
    } else {
        hex(&span.span_id)
    }
}

/// The `event_id` of a span (CONTRACT section 5): the trace id is part of it because
/// span ids are unique only within their trace. Spans stored before this form
/// (`span_<span id>`) keep their ids; such a span sent again is stored again under
/// this id.
pub fn span_event_id(trace_id: &str, span_id: &str) -> String {
    format!("span_{trace_id}_{span_id}")
}

fn map_span(span: &Span, origin: &Origin) -> Result<Value, String> {
    let trace_id = valid_id(&span.trace_id, 16)
        .ok_or("trace_id must be 16 bytes and not all zero (32 hex digits in OTLP/JSON)")?;
    let span_id = valid_id(&span.span_id, 8)
        .ok_or("span_id must be 8 bytes and not all zero (16 hex digits in OTLP/JSON)")?;
    let parent_span_id = match span.parent_span_id.len() {
        0 => None,
        8 => valid_id(&span.parent_span_id, 8),
        _ => return Err("parent_span_id must be empty or 8 bytes".into()),
    };
    if span.start_time_unix_nano == 0 {
        return Err("start_time_unix_nano is required".into());
    }
    let mut attributes = convert_attributes(&span.attributes)?;
    let events = span
        .events
        .iter()
        .map(|e| {
            Ok(SpanEvent {
                name: clean_text(&e.name).into_owned(),
                time_unix_nano: e.time_unix_nano,
                attributes: convert_attributes(&e.attributes)
                    .map_err(|m| format!("span event {:?}: {m}", clean_text(&e.name)))?,
                dropped_attributes_count: e.dropped_attributes_count,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let links = span
        .links
        .iter()
        .map(link)
        .collect::<Result<Vec<_>, String>>()?;

    let event_type = event_type(&attributes);
    let actor = actor(&attributes, &origin.resource);
    let snapshot = snapshot(&attributes);
    let tool = if event_type == "tool_call" {
        tool(&attributes)
    } else {
        None
    };
    let metadata = metadata(span, &attributes);
    let error = error(span, &attributes, &events);
    let payloads = content::extract(&mut attributes, &events);

    let mut event = Map::new();
    event.insert(
        "event_id".into(),
        Value::String(span_event_id(&trace_id, &span_id)),
    );
    if let Some(parent) = parent_span_id {
        event.insert(
            "parent_event_id".into(),
            Value::String(span_event_id(&trace_id, &parent)),
        );
    }
    event.insert("trace_id".into(), Value::String(trace_id));
    let start_time = rfc3339_nanos(span.start_time_unix_nano);
    event.insert("timestamp".into(), Value::String(start_time.clone()));
    event.insert("actor".into(), actor);
    event.insert("event_type".into(), Value::String(event_type.into()));
    if let Some(snapshot) = snapshot {
        event.insert("snapshot".into(), snapshot);
    }
    if let Some(tool) = tool {
        event.insert("tool".into(), tool);
    }
    if !payloads.input.is_empty() {
        event.insert("input".into(), Value::Object(payloads.input));
    }
    if !payloads.output.is_empty() {
        event.insert("output".into(), Value::Object(payloads.output));
    }
    event.insert(
        "attributes".into(),
        span_attributes(span, start_time, origin, attributes, &events, links),
    );
    event.insert("metadata".into(), metadata);
    match error {
        Some(error) => {
            event.insert("outcome".into(), Value::String("error".into()));
            event.insert("error".into(), error);
        }
        None => {
            event.insert("outcome".into(), Value::String("success".into()));
        }
    }
    Ok(Value::Object(event))
}

/// The event type of CONTRACT section 5: the GenAI operation when it is one this
/// mapping knows, else the OpenInference span kind, else a guess from GenAI
/// attributes older instrumentations send without an operation name, else `step`.
pub fn event_type(attributes: &Map<String, Value>) -> &'static str {
    let operation = str_attr(attributes, "gen_ai.operation.name").map(str::to_ascii_lowercase);
    if let Some(kind) = operation.as_deref().and_then(genai_operation_type) {
        return kind;
    }
    let span_kind = str_attr(attributes, "openinference.span.kind").map(str::to_ascii_uppercase);
    if let Some(kind) = span_kind.as_deref().and_then(openinference_type) {
        return kind;
    }
    if operation.is_some() || span_kind.is_some() {
        return "step";
    }
    if attributes.contains_key("gen_ai.tool.name") {
        return "tool_call";
    }
    let model_call_markers = [
        "gen_ai.request.model",
        "gen_ai.response.model",
        "gen_ai.system",
        "gen_ai.provider.name",
    ];
    if model_call_markers
        .iter()
        .any(|k| attributes.contains_key(*k))
    {
        return "model_call";
    }
    "step"
}

fn genai_operation_type(operation: &str) -> Option<&'static str> {
    Some(match operation {
        "chat" | "text_completion" | "generate_content" | "embeddings" => "model_call",
        "execute_tool" => "tool_call",
        "retrieval" => "retrieval",
        "invoke_agent" | "create_agent" | "invoke_workflow" => "agent_run",
        "apply_guardrail" => "guardrail",
        memory if memory.contains("memory") => "retrieval",
        _ => return None,
    })
}

fn openinference_type(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "LLM" | "EMBEDDING" => "model_call",
        "TOOL" => "tool_call",
        "RETRIEVER" | "RERANKER" => "retrieval",
        "AGENT" | "CHAIN" => "agent_run",
        "GUARDRAIL" => "guardrail",
        _ => return None,
    })
}

fn actor(attributes: &Map<String, Value>, resource: &Map<String, Value>) -> Value {
    let named = ["gen_ai.agent.id", "gen_ai.agent.name", "agent.name"]
        .iter()
        .flat_map(|key| [str_attr(attributes, key), str_attr(resource, key)])
        .chain([str_attr(resource, "service.name")])
        .flatten()
        .find(|id| evident_core::event::is_valid_id(id));
    let mut actor = Map::new();
    actor.insert("type".into(), Value::String("agent".into()));
    actor.insert(
        "id".into(),
        Value::String(named.unwrap_or(UNKNOWN_AGENT).to_owned()),
    );
    let version = first_str(attributes, &["gen_ai.agent.version"])
        .or_else(|| first_str(resource, &["gen_ai.agent.version", "service.version"]));
    if let Some(version) = version {
        actor.insert("version".into(), entry_text(version));
    }
    let environment = first_str(
        resource,
        &["deployment.environment.name", "deployment.environment"],
    );
    if let Some(environment) = environment {
        actor.insert("environment".into(), entry_text(environment));
    }
    Value::Object(actor)
}

fn snapshot(attributes: &Map<String, Value>) -> Option<Value> {
    let mut snapshot = Map::new();
    let model = first_str(
        attributes,
        &[
            "gen_ai.request.model",
            "llm.request.model_name",
            "llm.model_name",
            "embedding.model_name",
            "reranker.model_name",
            "gen_ai.response.model",
            "llm.response.model_name",
        ],
    );
    if let Some(model) = model {
        snapshot.insert("model".into(), entry_text(model));
    }
    let params = model_params(attributes);
    if !params.is_empty() {
        snapshot.insert("model_params".into(), Value::Object(params));
    }
    if let Some(version) = first_str(attributes, &["llm.prompt_template.version"]) {
        snapshot.insert("prompt_version".into(), entry_text(version));
    }
    (!snapshot.is_empty()).then_some(Value::Object(snapshot))
}

/// `gen_ai.request.<param>` (but the model) and the scalar members of
/// `llm.invocation_parameters`; small values only, at most [`MAX_MODEL_PARAMS`].
fn model_params(attributes: &Map<String, Value>) -> Map<String, Value> {
    let mut params = Map::new();
    let small = |v: &Value| {
        !v.is_null() && evident_core::json::canonical_bytes(v).len() <= MAX_MODEL_PARAM_BYTES
    };
    for (key, value) in attributes {
        let Some(param) = key.strip_prefix("gen_ai.request.") else {
            continue;
        };
        if param != "model" && small(value) && params.len() < MAX_MODEL_PARAMS {
            params.insert(param.to_owned(), value.clone());
        }
    }
    let invocation = attributes
        .get("llm.invocation_parameters")
        .and_then(Value::as_str)
        .and_then(embedded_json);
    if let Some(Value::Object(invocation)) = invocation {
        for (key, value) in invocation {
            let scalar = !matches!(value, Value::Array(_) | Value::Object(_));
            if scalar
                && small(&value)
                && params.len() < MAX_MODEL_PARAMS
                && !params.contains_key(&key)
            {
                params.insert(key, value);
            }
        }
    }
    params
}

fn tool(attributes: &Map<String, Value>) -> Option<Value> {
    let mut tool = Map::new();
    let fields: [(&str, &[&str]); 3] = [
        (
            "name",
            &["gen_ai.tool.name", "tool.name", "tool_call.function.name"],
        ),
        (
            "call_id",
            &["gen_ai.tool.call.id", "tool_call.id", "tool.id"],
        ),
        ("type", &["gen_ai.tool.type"]),
    ];
    for (field, keys) in fields {
        if let Some(text) = first_str(attributes, keys) {
            tool.insert(field.into(), entry_text(text));
        }
    }
    (!tool.is_empty()).then_some(Value::Object(tool))
}

fn metadata(span: &Span, attributes: &Map<String, Value>) -> Value {
    let mut metadata = Map::new();
    if span.end_time_unix_nano >= span.start_time_unix_nano {
        let micros = (span.end_time_unix_nano - span.start_time_unix_nano) / 1_000;
        // Whole microseconds, so the value prints exactly (e.g. 1234.567).
        metadata.insert("latency_ms".into(), value::double(micros as f64 / 1_000.0));
    }
    let counts = [
        (
            "input_tokens",
            &[
                "gen_ai.usage.input_tokens",
                "gen_ai.usage.prompt_tokens",
                "llm.token_count.prompt",
            ][..],
        ),
        (
            "output_tokens",
            &[
                "gen_ai.usage.output_tokens",
                "gen_ai.usage.completion_tokens",
                "llm.token_count.completion",
            ][..],
        ),
    ];
    for (field, keys) in counts {
        if let Some(count) = keys.iter().find_map(|k| integer(attributes.get(*k))) {
            metadata.insert(field.into(), count);
        }
    }
    if let Some(cost) = attributes.get("llm.cost.total").filter(|v| v.is_number()) {
        metadata.insert("cost_usd".into(), cost.clone());
    }
    Value::Object(metadata)
}

/// An integer attribute (or a double holding a whole number, as some SDKs send
/// counts), as JSON.
fn integer(value: Option<&Value>) -> Option<Value> {
    let number = value?.as_number()?;
    if number.is_i64() || number.is_u64() {
        return Some(Value::Number(number.clone()));
    }
    let float = number.as_f64()?;
    (float.fract() == 0.0).then(|| value::int(float as i64))
}

fn error(span: &Span, attributes: &Map<String, Value>, events: &[SpanEvent]) -> Option<Value> {
    let status = span.status.as_ref()?;
    if status.code != span_status_code::ERROR {
        return None;
    }
    let exception = events.iter().rev().find(|e| e.name == "exception");
    let exception_text = |key: &str| {
        exception
            .and_then(|e| e.attributes.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let kind = exception_text("exception.type")
        .or_else(|| str_attr(attributes, "error.type"))
        .unwrap_or("error");
    let mut error = Map::new();
    error.insert("kind".into(), entry_text(kind));
    let message = Some(status.message.as_str())
        .filter(|m| !m.is_empty())
        .or_else(|| exception_text("exception.message"));
    if let Some(message) = message {
        error.insert(
            "message".into(),
            Value::String(truncate(&clean_text(message), MAX_ERROR_MESSAGE)),
        );
    }
    Some(Value::Object(error))
}

/// Status codes of `opentelemetry.proto.trace.v1.Status`.
mod span_status_code {
    pub const UNSET: i32 = 0;
    pub const OK: i32 = 1;
    pub const ERROR: i32 = 2;
}

fn span_attributes(
    span: &Span,
    start_time: String,
    origin: &Origin,
    attributes: Map<String, Value>,
    events: &[SpanEvent],
    links: Vec<Value>,
) -> Value {
    let mut otel = Map::new();
    otel.insert("name".into(), value::text(&span.name));
    otel.insert("kind".into(), span_kind(span.kind));
    let status = span.status.as_ref();
    let mut status_json = Map::new();
    status_json.insert(
        "code".into(),
        status_code_name(status.map_or(span_status_code::UNSET, |s| s.code)),
    );
    if let Some(status) = status.filter(|s| !s.message.is_empty()) {
        status_json.insert("message".into(), value::text(&status.message));
    }
    otel.insert("status".into(), Value::Object(status_json));
    otel.insert("start_time".into(), Value::String(start_time));
    if span.end_time_unix_nano != 0 {
        otel.insert(
            "end_time".into(),
            Value::String(rfc3339_nanos(span.end_time_unix_nano)),
        );
    }
    put_text(&mut otel, "trace_state", &span.trace_state);
    put_count(&mut otel, "flags", span.flags);
    put_count(
        &mut otel,
        "dropped_attributes_count",
        span.dropped_attributes_count,
    );
    put_count(&mut otel, "dropped_events_count", span.dropped_events_count);
    put_count(&mut otel, "dropped_links_count", span.dropped_links_count);
    for (key, value) in &origin.otel {
        otel.insert(key.clone(), value.clone());
    }

    let mut all = Map::new();
    all.insert("span".into(), Value::Object(attributes));
    all.insert("resource".into(), Value::Object(origin.resource.clone()));
    if origin.scope.as_object().is_some_and(|s| !s.is_empty()) {
        all.insert("scope".into(), origin.scope.clone());
    }
    if !events.is_empty() {
        all.insert(
            "events".into(),
            Value::Array(events.iter().map(event_json).collect()),
        );
    }
    if !links.is_empty() {
        all.insert("links".into(), Value::Array(links));
    }
    all.insert("otel".into(), Value::Object(otel));
    Value::Object(all)
}

fn event_json(event: &SpanEvent) -> Value {
    let mut json = Map::new();
    json.insert("name".into(), Value::String(event.name.clone()));
    if event.time_unix_nano != 0 {
        json.insert(
            "time".into(),
            Value::String(rfc3339_nanos(event.time_unix_nano)),
        );
    }
    if !event.attributes.is_empty() {
        json.insert("attributes".into(), Value::Object(event.attributes.clone()));
    }
    put_count(
        &mut json,
        "dropped_attributes_count",
        event.dropped_attributes_count,
    );
    Value::Object(json)
}

fn link(link: &span::Link) -> Result<Value, String> {
    let mut json = Map::new();
    json.insert("trace_id".into(), Value::String(hex(&link.trace_id)));
    json.insert("span_id".into(), Value::String(hex(&link.span_id)));
    put_text(&mut json, "trace_state", &link.trace_state);
    let attributes = convert_attributes(&link.attributes).map_err(|m| format!("span link: {m}"))?;
    if !attributes.is_empty() {
        json.insert("attributes".into(), Value::Object(attributes));
    }
    put_count(
        &mut json,
        "dropped_attributes_count",
        link.dropped_attributes_count,
    );
    put_count(&mut json, "flags", link.flags);
    Ok(Value::Object(json))
}

fn span_kind(kind: i32) -> Value {
    let name = match kind {
        0 => "unspecified",
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        other => return Value::from(other),
    };
    Value::String(name.into())
}

fn status_code_name(code: i32) -> Value {
    match code {
        span_status_code::UNSET => json!("unset"),
        span_status_code::OK => json!("ok"),
        span_status_code::ERROR => json!("error"),
        other => Value::from(other),
    }
}

/// The lowercase hex of an id that has `len` bytes and is not all zero.
fn valid_id(bytes: &[u8], len: usize) -> Option<String> {
    (bytes.len() == len && bytes.iter().any(|b| *b != 0)).then(|| hex(bytes))
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// Nanoseconds since the epoch as RFC 3339 in UTC with nine fractional digits
/// (`2026-11-23T14:22:07.123456789Z`): the full precision OTLP carries.
pub fn rfc3339_nanos(unix_nanos: u64) -> String {
    let seconds = i64::try_from(unix_nanos / 1_000_000_000).unwrap_or(i64::MAX);
    let nanos = unix_nanos % 1_000_000_000;
    // u64 nanoseconds end in the year 2554, well inside what `time` represents.
    let t = time::OffsetDateTime::from_unix_timestamp(seconds)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
    )
}

fn str_attr<'a>(attributes: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    attributes
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn first_str<'a>(attributes: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| str_attr(attributes, k))
}

/// A text copied into the entry, cut to [`MAX_ENTRY_TEXT`] bytes.
fn entry_text(text: &str) -> Value {
    Value::String(truncate(text, MAX_ENTRY_TEXT))
}

/// `text` cut at a character boundary to at most `max` bytes, marked with `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn put_text(map: &mut Map<String, Value>, key: &str, text: &str) {
    if !text.is_empty() {
        map.insert(key.into(), value::text(text));
    }
}

fn put_count(map: &mut Map<String, Value>, key: &str, count: u32) {
    if count != 0 {
        map.insert(key.into(), Value::from(count));
    }
}

//! What a span says was sent and received — messages, prompts, tool arguments and
//! results, retrieval queries and documents — moved out of its attributes and events
//! into the event's `input` and `output` (CONTRACT section 5). Pure.
//!
//! `input` and `output` are objects whose members name what they hold, whichever
//! convention it came from:
//!
//! | member | from |
//! |---|---|
//! | `input.messages` | `gen_ai.input.messages`; the deprecated `gen_ai.{system,user,assistant,tool}.message` span events; `gen_ai.prompt.N.*`; `llm.input_messages.N.message.*` |
//! | `input.system_instructions` | `gen_ai.system_instructions` |
//! | `input.prompt` / `input.prompts` | the deprecated `gen_ai.prompt` (attribute or `gen_ai.content.prompt` event); `llm.prompts` |
//! | `input.arguments` | `gen_ai.tool.call.arguments`; `tool_call.function.arguments` |
//! | `input.parameters` | `tool.parameters` |
//! | `input.query` | `gen_ai.retrieval.query.text`; `reranker.query` |
//! | `input.documents` | `reranker.input_documents.N.document.*` |
//! | `input.value` | `input.value` (parsed when `input.mime_type` is JSON) |
//! | `output.messages` | `gen_ai.output.messages`; `gen_ai.completion.N.*`; `llm.output_messages.N.message.*` |
//! | `output.choices` | the deprecated `gen_ai.choice` span events; `llm.choices` |
//! | `output.completion` | the deprecated `gen_ai.completion` (attribute or `gen_ai.content.completion` event) |
//! | `output.result` | `gen_ai.tool.call.result` |
//! | `output.documents` | `gen_ai.retrieval.documents`; `retrieval.documents.N.document.*`; `reranker.output_documents.N.document.*` |
//! | `output.value` | `output.value` (parsed when `output.mime_type` is JSON) |
//!
//! A string holding a JSON object or array (how SDKs without structured attributes
//! send message lists and tool arguments) is parsed; anything else is kept as sent.
//! The first source found for a member wins (attributes before span events); a
//! second source stays where it was, in `attributes`. Span events are never changed:
//! they stay in `attributes.events` whole.

use serde_json::{Map, Value};

use super::value::{embedded_json, payload, unflatten};

/// One span event, attributes converted: what [`extract`] reads.
#[derive(Debug, Clone)]
pub struct SpanEvent {
    pub name: String,
    pub time_unix_nano: u64,
    pub attributes: Map<String, Value>,
    pub dropped_attributes_count: u32,
}

/// The `input` and `output` of one event; empty maps mean "none".
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Payloads {
    pub input: Map<String, Value>,
    pub output: Map<String, Value>,
}

/// Single attributes that are moved whole: (attribute, into output?, member).
const SINGLE: &[(&str, bool, &str)] = &[
    // OpenTelemetry GenAI, v1.37.
    ("gen_ai.system_instructions", false, "system_instructions"),
    ("gen_ai.input.messages", false, "messages"),
    ("gen_ai.output.messages", true, "messages"),
    ("gen_ai.tool.call.arguments", false, "arguments"),
    ("gen_ai.tool.call.result", true, "result"),
    ("gen_ai.retrieval.query.text", false, "query"),
    ("gen_ai.retrieval.documents", true, "documents"),
    // Deprecated GenAI names older instrumentations still send.
    ("gen_ai.prompt", false, "prompt"),
    ("gen_ai.completion", true, "completion"),
    // OpenInference.
    ("llm.prompts", false, "prompts"),
    ("llm.choices", true, "choices"),
    ("tool_call.function.arguments", false, "arguments"),
    ("tool.parameters", false, "parameters"),
    ("reranker.query", false, "query"),
];

/// Flattened lists unfolded into one member: (prefix, into output?, member).
const LISTS: &[(&str, bool, &str)] = &[
    ("gen_ai.prompt.", false, "messages"),
    ("gen_ai.completion.", true, "messages"),
    ("llm.input_messages.", false, "messages"),
    ("llm.output_messages.", true, "messages"),
    ("llm.prompts.", false, "prompts"),
    ("llm.choices.", true, "choices"),
    ("retrieval.documents.", true, "documents"),
    ("reranker.input_documents.", false, "documents"),
    ("reranker.output_documents.", true, "documents"),
];

/// Per-message span events of the deprecated GenAI event conventions, and the
/// role each implies.
const MESSAGE_EVENTS: &[(&str, &str)] = &[
    ("gen_ai.system.message", "system"),
    ("gen_ai.user.message", "user"),
    ("gen_ai.assistant.message", "assistant"),
    ("gen_ai.tool.message", "tool"),
];

/// Moves the content of a span out of `attributes` (which keeps everything else)
/// and reads the content-bearing span `events`.
pub fn extract(attributes: &mut Map<String, Value>, events: &[SpanEvent]) -> Payloads {
    let mut payloads = Payloads::default();
    for (name, to_output, member) in SINGLE {
        let target = payloads.side(*to_output);
        if target.contains_key(*member) {
            continue;
        }
        if let Some(value) = attributes.remove(*name) {
            target.insert((*member).to_owned(), payload(value));
        }
    }
    for (prefix, to_output, member) in LISTS {
        if payloads.side(*to_output).contains_key(*member) {
            continue;
        }
        if let Some(list) = take_list(attributes, prefix) {
            payloads.side(*to_output).insert((*member).to_owned(), list);
        }
    }
    for (name, mime, to_output) in [
        ("input.value", "input.mime_type", false),
        ("output.value", "output.mime_type", true),
    ] {
        let is_json = attributes
            .get(mime)
            .and_then(Value::as_str)
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
        if let Some(value) = attributes.remove(name) {
            let value = if is_json { payload(value) } else { value };
            let target = payloads.side(to_output);
            if target.contains_key("value") {
                attributes.insert(name.to_owned(), value);
            } else {
                target.insert("value".to_owned(), value);
            }
        }
    }
    from_events(events, &mut payloads);
    payloads
}

impl Payloads {
    fn side(&mut self, output: bool) -> &mut Map<String, Value> {
        if output {
            &mut self.output
        } else {
            &mut self.input
        }
    }
}

/// Removes every attribute `<prefix><index>...` and unfolds them; `None` if there
/// are none. `gen_ai.prompt.name` is not a list element: only names whose first
/// segment after the prefix is an index are taken.
fn take_list(attributes: &mut Map<String, Value>, prefix: &str) -> Option<Value> {
    let names: Vec<String> = attributes
        .keys()
        .filter(|k| {
            k.strip_prefix(prefix).is_some_and(|rest| {
                let first = rest.split('.').next().unwrap_or("");
                !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit())
            })
        })
        .cloned()
        .collect();
    if names.is_empty() {
        return None;
    }
    let entries = names
        .into_iter()
        .filter_map(|name| {
            let value = attributes.remove(&name)?;
            Some((name[prefix.len()..].to_owned(), value))
        })
        .collect();
    Some(unflatten(entries))
}

fn from_events(events: &[SpanEvent], payloads: &mut Payloads) {
    let mut messages = Vec::new();
    let mut choices = Vec::new();
    for event in events {
        let name = event.name.as_str();
        if let Some((_, role)) = MESSAGE_EVENTS.iter().find(|(n, _)| *n == name) {
            messages.push(event_body(&event.attributes, Some(role)));
        } else if name == "gen_ai.choice" {
            choices.push(event_body(&event.attributes, None));
        } else if name == "gen_ai.content.prompt" {
            set_once(
                &mut payloads.input,
                "prompt",
                event.attributes.get("gen_ai.prompt"),
            );
        } else if name == "gen_ai.content.completion" {
            set_once(
                &mut payloads.output,
                "completion",
                event.attributes.get("gen_ai.completion"),
            );
        } else if name == "gen_ai.client.inference.operation.details" {
            let attributes = &event.attributes;
            set_once(
                &mut payloads.input,
                "system_instructions",
                attributes.get("gen_ai.system_instructions"),
            );
            set_once(
                &mut payloads.input,
                "messages",
                attributes.get("gen_ai.input.messages"),
            );
            set_once(
                &mut payloads.output,
                "messages",
                attributes.get("gen_ai.output.messages"),
            );
        }
    }
    if !messages.is_empty() && !payloads.input.contains_key("messages") {
        payloads
            .input
            .insert("messages".into(), Value::Array(messages));
    }
    if !choices.is_empty() && !payloads.output.contains_key("choices") {
        payloads
            .output
            .insert("choices".into(), Value::Array(choices));
    }
}

fn set_once(target: &mut Map<String, Value>, member: &str, value: Option<&Value>) {
    if let Some(value) = value {
        if !target.contains_key(member) {
            target.insert(member.to_owned(), payload(value.clone()));
        }
    }
}

/// The body of a deprecated GenAI message or choice event: the JSON in
/// `gen_ai.event.content` when there is one, else the event's attributes (without
/// the provider name every such event repeats); `role` filled in from the event's
/// name when the body has none.
fn event_body(attributes: &Map<String, Value>, role: Option<&str>) -> Value {
    let content = attributes
        .get("gen_ai.event.content")
        .and_then(Value::as_str)
        .and_then(embedded_json);
    let mut body = match content {
        Some(Value::Object(members)) => members,
        _ => attributes
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "gen_ai.system" | "gen_ai.provider.name"))
            .map(|(k, v)| (k.clone(), payload(v.clone())))
            .collect(),
    };
    if let Some(role) = role {
        body.entry("role")
            .or_insert_with(|| Value::String(role.to_owned()));
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().expect("object").clone()
    }

    #[test]
    fn genai_messages_are_parsed_and_moved() {
        let mut attributes = map(json!({
            "gen_ai.operation.name": "chat",
            "gen_ai.input.messages": r#"[{"role":"user","parts":[{"type":"text","content":"hi"}]}]"#,
            "gen_ai.output.messages": "not json",
        }));
        let payloads = extract(&mut attributes, &[]);
        assert_eq!(
            payloads.input["messages"],
            json!([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}])
        );
        assert_eq!(payloads.output["messages"], json!("not json"));
        assert_eq!(
            Value::Object(attributes),
            json!({"gen_ai.operation.name": "chat"})
        );
    }

    #[test]
    fn openinference_lists_unfold() {
        let mut attributes = map(json!({
            "llm.input_messages.0.message.role": "system",
            "llm.input_messages.0.message.content": "be brief",
            "llm.input_messages.1.message.role": "user",
            "llm.input_messages.1.message.content": "weather?",
            "retrieval.documents.0.document.id": "d1",
            "retrieval.documents.0.document.score": 0.5,
            "input.value": "{\"q\": 1}",
            "input.mime_type": "application/json",
            "output.value": "{\"kept\": \"as text\"}",
        }));
        let payloads = extract(&mut attributes, &[]);
        assert_eq!(
            payloads.input["messages"],
            json!([{"role": "system", "content": "be brief"}, {"role": "user", "content": "weather?"}])
        );
        assert_eq!(payloads.input["value"], json!({"q": 1}));
        assert_eq!(payloads.output["value"], json!("{\"kept\": \"as text\"}"));
        assert_eq!(
            payloads.output["documents"],
            json!([{"id": "d1", "score": 0.5}])
        );
        assert_eq!(
            Value::Object(attributes),
            json!({"input.mime_type": "application/json"})
        );
    }

    #[test]
    fn deprecated_message_events_become_messages() {
        let events = vec![
            SpanEvent {
                name: "gen_ai.user.message".into(),
                time_unix_nano: 1,
                attributes: map(json!({"gen_ai.system": "openai", "content": "hi"})),
                dropped_attributes_count: 0,
            },
            SpanEvent {
                name: "gen_ai.choice".into(),
                time_unix_nano: 2,
                attributes: map(json!({
                    "gen_ai.event.content": r#"{"index":0,"finish_reason":"stop","message":{"content":"hello"}}"#
                })),
                dropped_attributes_count: 0,
            },
        ];
        let payloads = extract(&mut Map::new(), &events);
        assert_eq!(
            payloads.input["messages"],
            json!([{"role": "user", "content": "hi"}])
        );
        assert_eq!(
            payloads.output["choices"],
            json!([{"index": 0, "finish_reason": "stop", "message": {"content": "hello"}}])
        );
    }

    #[test]
    fn a_second_source_stays_in_attributes() {
        let mut attributes = map(json!({
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "old style",
            "gen_ai.prompt.name": "triage",
            "gen_ai.input.messages": [{"role": "user"}],
        }));
        let payloads = extract(&mut attributes, &[]);
        assert_eq!(payloads.input["messages"], json!([{"role": "user"}]));
        assert_eq!(
            Value::Object(attributes),
            json!({"gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "old style", "gen_ai.prompt.name": "triage"})
        );
    }
}

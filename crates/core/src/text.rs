//! What full-text search sees of an event: the text a person would search for
//! (prompts, messages, outputs, tool names and arguments, reasons, comments, errors),
//! not ids, hashes and timestamps.

use serde_json::{Map, Value};

/// Top-level fields whose strings are identifiers or bookkeeping, not text.
const NOT_TEXT: &[&str] = &[
    "event_id",
    "parent_event_id",
    "trace_id",
    "timestamp",
    "received_at",
    "schema",
    "seq",
    "trace_prev",
    "subject_prev",
    "principal",
    "context",
];

/// Members of nested objects that are identifiers, not text.
const NOT_TEXT_MEMBERS: &[(&str, &[&str])] = &[
    ("actor", &["id", "run_id", "version"]),
    ("tool", &["call_id", "version"]),
    ("approval", &["approval_id", "job_hash", "final_job_hash"]),
];

/// The searchable text of a record whose payloads are resolved.
pub fn searchable_text(record: &Map<String, Value>) -> String {
    let mut text = String::new();
    for (name, value) in members_in_order(record) {
        if NOT_TEXT.contains(&name.as_str()) {
            continue;
        }
        let skipped = NOT_TEXT_MEMBERS
            .iter()
            .find(|(object, _)| object == name)
            .map_or(&[][..], |(_, members)| *members);
        match value {
            Value::Object(members) if !skipped.is_empty() => members_in_order(members)
                .into_iter()
                .filter(|(member, _)| !skipped.contains(&member.as_str()))
                .for_each(|(_, v)| collect(v, &mut text)),
            _ => collect(value, &mut text),
        }
    }
    text
}

/// The members in name order, whatever order the map keeps (serde_json's
/// `preserve_order` may be on, see `json::jcs`): text taken at ingest and text of
/// the record read back from its canonical entry must agree.
fn members_in_order(members: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut ordered: Vec<(&String, &Value)> = members.iter().collect();
    if !ordered.windows(2).all(|p| p[0].0 < p[1].0) {
        ordered.sort_by(|a, b| a.0.cmp(b.0));
    }
    ordered
}

fn collect(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => {
            if !s.starts_with("sha256:") {
                out.push_str(s);
                out.push('\n');
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        Value::Object(members) => members_in_order(members)
            .into_iter()
            .for_each(|(_, v)| collect(v, out)),
        Value::Number(_) => {
            // The RFC 8785 form, which is also what a payload read back from its blob
            // holds: text indexed at ingest and text indexed from the store agree.
            out.push_str(&String::from_utf8_lossy(&crate::json::canonical_bytes(
                value,
            )));
            out.push('\n');
        }
        Value::Null | Value::Bool(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_leaves_out_ids_and_hashes() {
        let record = json!({"event_id": "evt_XYZ", "trace_id": "t-1", "event_type": "tool_call",
            "input": {"prompt": "Refund the damaged kettle"}, "decision": {"reason": "under limit"},
            "output": {"$blob": "sha256:abcd"}});
        let text = searchable_text(record.as_object().unwrap());
        assert!(text.contains("damaged kettle") && text.contains("under limit"));
        assert!(!text.contains("evt_XYZ") && !text.contains("sha256") && !text.contains("t-1"));
    }

    #[test]
    fn numbers_read_as_their_canonical_form() {
        let record = json!({"input": {"amount": 1.0, "rate": 1e21, "n": 45.99}});
        let text = searchable_text(record.as_object().unwrap());
        assert_eq!(text, "1\n45.99\n1e+21\n");
    }
}

//! Request bodies of `POST /api/v1/events` (CONTRACT section 4): one event, an
//! array of events, or NDJSON, each event parsed strictly.

use serde_json::Value;

use super::{kind_of, strict, JsonError, MAX_BATCH};

/// How an events body is framed, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/json`: one event object, or a non-empty array of them.
    Json,
    /// `application/x-ndjson`: one event object per line. Blank lines, a final
    /// newline and CRLF line ends are fine.
    Ndjson,
}

/// Splits an events body into its events, each a JSON object that passed the
/// strict I-JSON parse of [`super::parse_value`]. At most [`MAX_BATCH`] events.
///
/// Error pointers are relative to the body as a JSON array, so the problem in the
/// third event is at `/2/...`. For NDJSON the index is the 0-based line number
/// (line 3 is `/2`), which is the event's index when there are no blank lines.
///
/// # Errors
///
/// A [`JsonError`] for the first problem found: malformed or non-I-JSON text, an
/// event that is not an object, an empty body or batch, more than [`MAX_BATCH`]
/// events.
pub fn parse_events_body(bytes: &[u8], format: BodyFormat) -> Result<Vec<Value>, JsonError> {
    match format {
        BodyFormat::Json => parse_json_body(bytes),
        BodyFormat::Ndjson => parse_ndjson_body(bytes),
    }
}

fn parse_json_body(bytes: &[u8]) -> Result<Vec<Value>, JsonError> {
    if is_blank(bytes) {
        return Err(JsonError::new(
            "",
            "empty body: expected an event object or an array of event objects",
        ));
    }
    let value =
        strict::parse(bytes, Some(MAX_BATCH)).map_err(|failure| failure.into_error(None))?;
    match value {
        Value::Object(_) => Ok(vec![value]),
        Value::Array(events) if events.is_empty() => {
            Err(JsonError::new("", "empty batch: the array holds no events"))
        }
        Value::Array(events) => {
            if let Some((index, event)) = events.iter().enumerate().find(|(_, e)| !e.is_object()) {
                return Err(not_an_object(event).in_element(index));
            }
            Ok(events)
        }
        other => Err(JsonError::new(
            "",
            format!(
                "expected an event object or an array of event objects, found {}",
                kind_of(&other)
            ),
        )),
    }
}

fn parse_ndjson_body(bytes: &[u8]) -> Result<Vec<Value>, JsonError> {
    let mut events = Vec::new();
    // Splitting at b'\n' is safe in UTF-8, where that byte only ever means U+000A.
    // A CR before it is JSON whitespace, which the parser skips.
    for (line_index, line) in bytes.split(|&byte| byte == b'\n').enumerate() {
        if is_blank(line) {
            continue;
        }
        if events.len() == MAX_BATCH {
            return Err(JsonError::new(
                format!("/{line_index}"),
                format!("more than {MAX_BATCH} events in one body"),
            ));
        }
        let event =
            strict::parse(line, None).map_err(|failure| failure.into_error(Some(line_index)))?;
        if !event.is_object() {
            return Err(not_an_object(&event).in_element(line_index));
        }
        events.push(event);
    }
    if events.is_empty() {
        return Err(JsonError::new("", "empty batch: the body holds no events"));
    }
    Ok(events)
}

fn not_an_object(value: &Value) -> JsonError {
    JsonError::new(
        "",
        format!("expected an event object, found {}", kind_of(value)),
    )
}

/// Only JSON whitespace (RFC 8259 §2), or nothing.
fn is_blank(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|byte| matches!(byte, b' ' | b'\t' | b'\r' | b'\n'))
}

//! OTLP attribute values as JSON, and the JSON text and flattened lists that
//! instrumentations put inside string attributes. Pure functions.
//!
//! Every value built here is I-JSON, so the stored record parses again under the
//! strict rules `evident verify` applies (CONTRACT section 1):
//!
//! - integers beyond ±2^53 become decimal strings (CONTRACT section 5);
//! - doubles that are not finite, or beyond ±2^53, become strings (`"NaN"`,
//!   `"Infinity"`, `"-Infinity"`, or the shortest round-trip decimal), the same
//!   spellings the OTLP/JSON encoding uses;
//! - Unicode noncharacters (which protobuf strings may carry but I-JSON refuses)
//!   become U+FFFD;
//! - bytes become standard base64, as in OTLP/JSON;
//! - nesting is bounded by [`MAX_VALUE_DEPTH`].

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use serde_json::{Map, Value};

/// Deepest nesting of arrays and key-value lists accepted in one attribute value.
///
/// An attribute sits at most 5 levels deep in the event (`attributes` → `events` →
/// element → `attributes` → value), and a stored record may nest
/// [`evident_core::json::MAX_DEPTH`] (64) levels: 32 leaves ample room for any real
/// structured attribute while every record stays parseable.
pub const MAX_VALUE_DEPTH: usize = 32;

/// Largest magnitude an integer keeps as a JSON number (RFC 7493 section 2.2).
const MAX_SAFE_INTEGER: u64 = 1 << 53;

/// Most dotted segments a flattened attribute name is unfolded into; the rest of a
/// longer name stays one member name (bounds the nesting a hostile name can cause).
const MAX_UNFLATTEN_DEPTH: usize = 12;

/// Names of the item wrappers OpenInference puts after a list index
/// (`llm.input_messages.0.message.role`): dropped when a list is unfolded, so an
/// element reads `{"role": ...}` rather than `{"message": {"role": ...}}`.
const ITEM_WRAPPERS: &[&str] = &[
    "message",
    "message_content",
    "tool_call",
    "document",
    "embedding",
];

/// A value nested deeper than [`MAX_VALUE_DEPTH`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooDeep;

/// Text with every Unicode noncharacter replaced by U+FFFD.
pub fn clean_text(text: &str) -> Cow<'_, str> {
    // Every noncharacter's UTF-8 form starts with 0xEF or 0xF0..=0xF4; most text has none.
    if !text.bytes().any(|b| b >= 0xEF) || !text.chars().any(is_noncharacter) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if is_noncharacter(c) { '\u{FFFD}' } else { c })
            .collect(),
    )
}

fn is_noncharacter(c: char) -> bool {
    let code = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE
}

/// A string as a JSON value, cleaned.
pub fn text(value: &str) -> Value {
    Value::String(clean_text(value).into_owned())
}

/// An OTLP integer: a JSON number within ±2^53, else its decimal string.
pub fn int(value: i64) -> Value {
    if value.unsigned_abs() <= MAX_SAFE_INTEGER {
        Value::from(value)
    } else {
        Value::String(value.to_string())
    }
}

/// An unsigned 64-bit integer, by the same rule as [`int`].
pub fn uint(value: u64) -> Value {
    if value <= MAX_SAFE_INTEGER {
        Value::from(value)
    } else {
        Value::String(value.to_string())
    }
}

/// An OTLP double: a JSON number when finite and within ±2^53, else a string.
pub fn double(value: f64) -> Value {
    if value.is_nan() {
        return Value::String("NaN".into());
    }
    if value.is_infinite() {
        let name = if value > 0.0 { "Infinity" } else { "-Infinity" };
        return Value::String(name.into());
    }
    if value.abs() > MAX_SAFE_INTEGER as f64 {
        // Shortest round-trip digits in exponent form: `1e300`, `-1.5e20`.
        return Value::String(format!("{value:e}"));
    }
    serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
}

/// One `AnyValue` as JSON; an empty value is `null`.
///
/// # Errors
/// [`TooDeep`] for arrays and key-value lists nested beyond [`MAX_VALUE_DEPTH`].
pub fn any_value(value: &AnyValue) -> Result<Value, TooDeep> {
    convert(value, 1)
}

fn convert(value: &AnyValue, depth: usize) -> Result<Value, TooDeep> {
    let Some(inner) = &value.value else {
        return Ok(Value::Null);
    };
    Ok(match inner {
        any_value::Value::StringValue(s) => text(s),
        any_value::Value::BoolValue(b) => Value::Bool(*b),
        any_value::Value::IntValue(i) => int(*i),
        any_value::Value::DoubleValue(d) => double(*d),
        any_value::Value::BytesValue(bytes) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        // Only meaningful in the profiling signal (the field's own documentation):
        // kept as the number it is.
        any_value::Value::StringValueStrindex(index) => Value::from(*index),
        any_value::Value::ArrayValue(array) => {
            if depth >= MAX_VALUE_DEPTH {
                return Err(TooDeep);
            }
            Value::Array(
                array
                    .values
                    .iter()
                    .map(|v| convert(v, depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        any_value::Value::KvlistValue(list) => {
            if depth >= MAX_VALUE_DEPTH {
                return Err(TooDeep);
            }
            Value::Object(key_values(&list.values, depth + 1)?)
        }
    })
}

/// A list of key-value pairs as a JSON object. Keys must be unique (OTLP); if one
/// repeats anyway, the last value wins, so the result is still a function of the
/// input.
///
/// # Errors
/// [`TooDeep`], naming no key; see [`attributes`] for the keyed variant.
fn key_values(pairs: &[KeyValue], depth: usize) -> Result<Map<String, Value>, TooDeep> {
    let mut map = Map::new();
    for pair in pairs {
        let value = match &pair.value {
            Some(v) => convert(v, depth)?,
            None => Value::Null,
        };
        map.insert(clean_text(&pair.key).into_owned(), value);
    }
    Ok(map)
}

/// A span's (or resource's, event's, link's) attributes as a flat JSON object keyed
/// by attribute name.
///
/// # Errors
/// The name of the first attribute whose value nests too deep.
pub fn attributes(pairs: &[KeyValue]) -> Result<Map<String, Value>, String> {
    let mut map = Map::new();
    for pair in pairs {
        let value = match &pair.value {
            Some(v) => convert(v, 1).map_err(|TooDeep| {
                format!(
                    "attribute {:?} nests deeper than {MAX_VALUE_DEPTH} levels",
                    clean_text(&pair.key)
                )
            })?,
            None => Value::Null,
        };
        map.insert(clean_text(&pair.key).into_owned(), value);
    }
    Ok(map)
}

/// JSON text carried in a string attribute (message lists, tool arguments), parsed
/// under the strict I-JSON rules. `None` unless it is an object or an array that
/// parses and nests at most [`MAX_VALUE_DEPTH`] levels: the caller then keeps the
/// string as it came.
pub fn embedded_json(text: &str) -> Option<Value> {
    let trimmed = text.trim_start();
    if !trimmed.starts_with(['{', '[']) {
        return None;
    }
    let value = evident_core::json::parse_value(text.as_bytes()).ok()?;
    (depth(&value) <= MAX_VALUE_DEPTH).then_some(value)
}

/// A value as it should appear in an event's payload: a string holding a JSON
/// object or array becomes that JSON, anything else stays as it is.
pub fn payload(value: Value) -> Value {
    match &value {
        Value::String(s) => embedded_json(s).unwrap_or(value),
        _ => value,
    }
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(members) => 1 + members.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// A node of a list being unfolded from flattened attribute names.
enum Node {
    Leaf(Value),
    Branch(BTreeMap<String, Node>),
}

/// Unfolds flattened attributes (`llm.input_messages.0.message.role` = "user", ...)
/// into nested JSON: `entries` are the names after the common prefix
/// (`0.message.role`) with their values. Segments that are all digits make arrays
/// (ordered by index, gaps closed); an [`ITEM_WRAPPERS`] name right after an index
/// is dropped. A name that collides with a shorter one (`a` and `a.b`) is kept
/// whole beside it. Entries are taken in name order, so the result does not depend
/// on the order the attributes came in.
pub fn unflatten(mut entries: Vec<(String, Value)>) -> Value {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut root: BTreeMap<String, Node> = BTreeMap::new();
    for (name, value) in entries {
        let mut segments: Vec<&str> = Vec::new();
        let mut previous_was_index = false;
        let parts: Vec<&str> = name.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let is_last = i + 1 == parts.len();
            if previous_was_index && !is_last && ITEM_WRAPPERS.contains(part) {
                previous_was_index = false;
                continue;
            }
            previous_was_index = is_index(part);
            segments.push(part);
        }
        if segments.len() > MAX_UNFLATTEN_DEPTH {
            let tail = segments.split_off(MAX_UNFLATTEN_DEPTH - 1).join(".");
            insert(&mut root, &segments, tail, value);
        } else {
            let last = segments.pop().unwrap_or_default().to_owned();
            insert(&mut root, &segments, last, value);
        }
    }
    to_json(root)
}

/// Inserts `value` at `path` + `last`; where a leaf already holds a prefix of the
/// path, the rest of the path becomes one member name at that level.
fn insert(root: &mut BTreeMap<String, Node>, path: &[&str], last: String, value: Value) {
    let mut level = root;
    for (i, segment) in path.iter().enumerate() {
        if matches!(level.get(*segment), Some(Node::Leaf(_))) {
            let mut rest: Vec<&str> = path[i..].to_vec();
            rest.push(&last);
            level.insert(rest.join("."), Node::Leaf(value));
            return;
        }
        let node = level
            .entry((*segment).to_owned())
            .or_insert_with(|| Node::Branch(BTreeMap::new()));
        let Node::Branch(children) = node else {
            unreachable!("a leaf at this segment was handled above")
        };
        level = children;
    }
    // A branch already unfolded under this name (possible once item wrappers are
    // dropped) keeps its place; the leaf goes beside it under its own name.
    let name = if matches!(level.get(&last), Some(Node::Branch(_))) {
        format!("{last}.")
    } else {
        last
    };
    level.insert(name, Node::Leaf(value));
}

fn to_json(level: BTreeMap<String, Node>) -> Value {
    let all_indexes = !level.is_empty() && level.keys().all(|k| is_index(k));
    if all_indexes {
        let mut items: Vec<(u64, Node)> = level
            .into_iter()
            .map(|(k, v)| (k.parse().unwrap_or(u64::MAX), v))
            .collect();
        items.sort_by_key(|(index, _)| *index);
        return Value::Array(items.into_iter().map(|(_, n)| node_json(n)).collect());
    }
    Value::Object(level.into_iter().map(|(k, v)| (k, node_json(v))).collect())
}

fn node_json(node: Node) -> Value {
    match node {
        Node::Leaf(value) => value,
        Node::Branch(children) => to_json(children),
    }
}

/// `true` for a list index: 1 to 9 digits.
fn is_index(segment: &str) -> bool {
    !segment.is_empty() && segment.len() <= 9 && segment.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
    use serde_json::json;

    fn string(s: &str) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::StringValue(s.into())),
        }
    }

    #[test]
    fn integers_beyond_2_53_become_strings() {
        assert_eq!(int(1 << 53), json!(9_007_199_254_740_992_i64));
        assert_eq!(int((1 << 53) + 1), json!("9007199254740993"));
        assert_eq!(int(i64::MIN), json!("-9223372036854775808"));
        assert_eq!(uint(u64::MAX), json!("18446744073709551615"));
    }

    #[test]
    fn doubles_that_are_not_i_json_become_strings() {
        assert_eq!(double(f64::NAN), json!("NaN"));
        assert_eq!(double(f64::NEG_INFINITY), json!("-Infinity"));
        assert_eq!(double(0.25), json!(0.25));
        assert_eq!(double(1e300), json!("1e300"));
    }

    #[test]
    fn noncharacters_become_replacement_characters() {
        assert_eq!(clean_text("a\u{FFFE}b\u{FDD0}"), "a\u{FFFD}b\u{FFFD}");
        assert!(matches!(clean_text("plain é"), Cow::Borrowed(_)));
    }

    #[test]
    fn nested_values_are_bounded() {
        let mut value = string("leaf");
        for _ in 0..MAX_VALUE_DEPTH {
            value = AnyValue {
                value: Some(any_value::Value::ArrayValue(ArrayValue {
                    values: vec![value],
                })),
            };
        }
        assert_eq!(any_value(&value), Err(TooDeep));
        let shallow = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: "k".into(),
                    value: Some(string("v")),
                    key_strindex: 0,
                }],
            })),
        };
        assert_eq!(any_value(&shallow).unwrap(), json!({"k": "v"}));
    }

    #[test]
    fn embedded_json_is_strict() {
        assert_eq!(
            embedded_json(r#"{"a": [1, 2]}"#),
            Some(json!({"a": [1, 2]}))
        );
        assert_eq!(embedded_json(r#"{"a": 1, "a": 2}"#), None);
        assert_eq!(embedded_json("12"), None);
        assert_eq!(embedded_json("not json"), None);
        assert_eq!(embedded_json(r#"{"big": 9007199254740993}"#), None);
    }

    #[test]
    fn flattened_lists_unfold_in_index_order() {
        let entries = vec![
            ("10.message.role".to_owned(), json!("assistant")),
            ("2.message.role".to_owned(), json!("user")),
            ("2.message.content".to_owned(), json!("hi")),
            (
                "10.message.tool_calls.0.tool_call.function.name".to_owned(),
                json!("lookup"),
            ),
        ];
        assert_eq!(
            unflatten(entries),
            json!([
                {"role": "user", "content": "hi"},
                {"role": "assistant", "tool_calls": [{"function": {"name": "lookup"}}]}
            ])
        );
    }

    #[test]
    fn colliding_names_are_kept_whole() {
        let entries = vec![
            ("a.b".to_owned(), json!(2)),
            ("a".to_owned(), json!(1)),
            ("a.b.c".to_owned(), json!(3)),
        ];
        assert_eq!(unflatten(entries), json!({"a": 1, "a.b": 2, "a.b.c": 3}));
    }
}

//! The strict parser: `serde_json`'s tokenizer driving a [`Visitor`] that builds a
//! [`Value`] while enforcing the I-JSON rules and tracking where it is.
//!
//! `serde_json` already refuses invalid UTF-8, lone surrogate escapes, non-finite
//! numbers and trailing characters; this visitor adds duplicate names, the ±2^53
//! range, noncharacters and [`MAX_DEPTH`]. It keeps the path from the root to the
//! value being read: on any error it stops without popping, so whatever the cause
//! (its own check or a `serde_json` syntax error), the path left behind is the
//! deepest place the parser reached.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{escape_pointer_token, JsonError, MAX_DEPTH, MAX_SAFE_MAGNITUDE};

/// One step of a JSON pointer.
enum Segment {
    Key(String),
    Index(usize),
}

/// A parse that failed: where, what, and the position `serde_json` reported.
pub(crate) struct Failure {
    path: Vec<Segment>,
    message: String,
    /// 1-based; 0 when `serde_json` had no position.
    line: usize,
    column: usize,
}

impl Failure {
    /// Converts to a [`JsonError`]. With `body_line`, the parsed bytes were that
    /// 0-based line of an NDJSON body: the pointer starts with `/{body_line}` and
    /// the message counts lines in the whole body.
    pub(crate) fn into_error(self, body_line: Option<usize>) -> JsonError {
        let mut pointer = String::new();
        if let Some(line_index) = body_line {
            pointer.push_str(&format!("/{line_index}"));
        }
        for segment in &self.path {
            pointer.push('/');
            match segment {
                Segment::Key(key) => pointer.push_str(&escape_pointer_token(key)),
                Segment::Index(index) => pointer.push_str(&index.to_string()),
            }
        }
        let message = if self.line == 0 {
            self.message
        } else {
            let line = body_line.map_or(self.line, |line_index| line_index + self.line);
            format!("{} (line {line}, column {})", self.message, self.column)
        };
        JsonError { pointer, message }
    }
}

/// Parses `bytes` as one I-JSON value. `max_top_level_elements`, if set, bounds
/// the length of a top-level array, checked as it is read.
pub(crate) fn parse(bytes: &[u8], max_top_level_elements: Option<usize>) -> Result<Value, Failure> {
    let mut state = State {
        path: Vec::new(),
        depth: 0,
        max_top_level_elements,
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = ValueSeed { state: &mut state }
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    parsed.map_err(|error| {
        let (line, column) = (error.line(), error.column());
        let mut message = error.to_string();
        // serde_json appends the position to the message; we report it separately.
        let suffix = format!(" at line {line} column {column}");
        if let Some(stripped) = message.strip_suffix(&suffix) {
            message.truncate(stripped.len());
        }
        Failure {
            path: state.path,
            message,
            line,
            column,
        }
    })
}

/// What the visitors share while descending.
struct State {
    /// Path from the root to the value being read.
    path: Vec<Segment>,
    /// Number of arrays and objects the value being read is inside.
    depth: usize,
    max_top_level_elements: Option<usize>,
}

impl State {
    fn enter_container<E: de::Error>(&mut self) -> Result<(), E> {
        if self.depth == MAX_DEPTH {
            return Err(E::custom(format_args!(
                "nesting deeper than {MAX_DEPTH} levels"
            )));
        }
        self.depth += 1;
        Ok(())
    }
}

/// Reads one value at the current path.
struct ValueSeed<'a> {
    state: &'a mut State,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        if value > MAX_SAFE_MAGNITUDE {
            return Err(out_of_range(value));
        }
        Ok(Value::from(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        if value.unsigned_abs() > MAX_SAFE_MAGNITUDE {
            return Err(out_of_range(value));
        }
        Ok(Value::from(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        // serde_json refuses literals that overflow to infinity itself; the check
        // here also covers finite values such as 1e300. Precision: a literal that
        // rounds to exactly ±2^53 (like 9007199254740992.5) is indistinguishable
        // from 2^53 once parsed, and accepted as that.
        const LIMIT: f64 = MAX_SAFE_MAGNITUDE as f64; // exact: 2^53 is a power of two
        if !value.is_finite() || value.abs() > LIMIT {
            return Err(out_of_range(value));
        }
        Ok(Value::from(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        check_characters(value)?;
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        check_characters(&value)?;
        Ok(Value::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let state = self.state;
        state.enter_container()?;
        let limit = match state.depth {
            1 => state.max_top_level_elements,
            _ => None,
        };
        let mut elements = Vec::new();
        loop {
            state.path.push(Segment::Index(elements.len()));
            let Some(element) = seq.next_element_seed(ValueSeed { state: &mut *state })? else {
                break;
            };
            if let Some(max) = limit.filter(|max| elements.len() >= *max) {
                return Err(de::Error::custom(format_args!(
                    "more than {max} events in one body"
                )));
            }
            state.path.pop();
            elements.push(element);
        }
        state.path.pop();
        state.depth -= 1;
        Ok(Value::Array(elements))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let state = self.state;
        state.enter_container()?;
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let duplicate = members.contains_key(&name);
            state.path.push(Segment::Key(name.clone()));
            check_characters(&name)?;
            if duplicate {
                return Err(de::Error::custom(format_args!(
                    "duplicate member name {name:?}"
                )));
            }
            let value = map.next_value_seed(ValueSeed { state: &mut *state })?;
            state.path.pop();
            members.insert(name, value);
        }
        state.depth -= 1;
        Ok(Value::Object(members))
    }
}

fn out_of_range<E: de::Error>(number: impl fmt::Display) -> E {
    E::custom(format_args!(
        "number {number} is outside the I-JSON range of ±2^53"
    ))
}

/// Refuses Unicode noncharacters (U+FDD0..U+FDEF and U+nFFFE/U+nFFFF), which
/// RFC 7493 §2.1 forbids in I-JSON strings and names.
fn check_characters<E: de::Error>(text: &str) -> Result<(), E> {
    // Every noncharacter's UTF-8 form starts with a byte >= 0xEF; most text has none.
    if !text.bytes().any(|byte| byte >= 0xEF) {
        return Ok(());
    }
    match text.chars().find(|&c| is_noncharacter(c)) {
        Some(c) => Err(E::custom(format_args!(
            "noncharacter U+{:04X} is not allowed in I-JSON",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

fn is_noncharacter(c: char) -> bool {
    let code = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE
}

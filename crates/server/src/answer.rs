//! JSON answers written as bytes, so the records in them (see [`crate::reading`]) are
//! copied in as they are instead of being parsed into a tree and serialized again.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::reading::Record;

/// A JSON answer, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonAnswer(String);

impl JsonAnswer {
    /// An answer built as a JSON tree (one with no records to copy in).
    pub fn from_value(value: &Value) -> Self {
        Self(value.to_string())
    }

    /// The answer's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The answer as a JSON tree (for the command line, which prints or walks it).
    ///
    /// # Errors
    /// Never for answers built with [`ObjectWriter`].
    pub fn to_value(&self) -> serde_json::Result<Value> {
        serde_json::from_str(&self.0)
    }
}

impl IntoResponse for JsonAnswer {
    fn into_response(self) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.0,
        )
            .into_response()
    }
}

/// Writes one JSON object, member by member.
#[derive(Debug)]
pub struct ObjectWriter {
    out: String,
    empty: bool,
}

impl ObjectWriter {
    /// A writer with room for about `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut out = String::with_capacity(capacity + 2);
        out.push('{');
        Self { out, empty: true }
    }

    fn name(&mut self, name: &str) -> ApiResult<()> {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        self.out
            .push_str(&serde_json::to_string(name).map_err(ApiError::internal)?);
        self.out.push(':');
        Ok(())
    }

    /// A member with any serializable value.
    ///
    /// # Errors
    /// 500 if the value does not serialize (a map with keys that are not strings).
    pub fn member<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> ApiResult<()> {
        self.name(name)?;
        self.out
            .push_str(&serde_json::to_string(value).map_err(ApiError::internal)?);
        Ok(())
    }

    /// A member whose value is a record.
    ///
    /// # Errors
    /// As [`ObjectWriter::member`] (never, in practice).
    pub fn record(&mut self, name: &str, record: &Record) -> ApiResult<()> {
        self.name(name)?;
        self.out.push_str(&record.json);
        Ok(())
    }

    /// A member whose value is the array of these records.
    ///
    /// # Errors
    /// As [`ObjectWriter::member`] (never, in practice).
    pub fn records<'a>(
        &mut self,
        name: &str,
        records: impl IntoIterator<Item = &'a Record>,
    ) -> ApiResult<()> {
        self.name(name)?;
        self.out.push('[');
        for (i, record) in records.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push_str(&record.json);
        }
        self.out.push(']');
        Ok(())
    }

    /// The finished object.
    pub fn finish(mut self) -> JsonAnswer {
        self.out.push('}');
        JsonAnswer(self.out)
    }
}

/// How many bytes these records take, to size an answer's buffer.
pub fn records_len(records: &[Record]) -> usize {
    records.iter().map(|r| r.json.len() + 1).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(seq: u64, json: &str) -> Record {
        Record {
            seq,
            json: json.into(),
            erased: false,
            event_id: None,
            parent_event_id: None,
            timestamp: None,
        }
    }

    #[test]
    fn writes_members_and_records_as_one_object() {
        let records = [record(1, r#"{"a":1}"#), record(2, r#"{"b":[true]}"#)];
        let mut writer = ObjectWriter::with_capacity(records_len(&records));
        writer.records("events", &records).unwrap();
        writer.member("next_cursor", &None::<String>).unwrap();
        writer.member("name \"quoted\"", &json!({"x": 1})).unwrap();
        writer.records("none", &[]).unwrap();
        writer.record("one", &records[1]).unwrap();
        let answer = writer.finish();
        assert_eq!(
            answer.to_value().unwrap(),
            json!({"events": [{"a": 1}, {"b": [true]}], "next_cursor": null,
                   "name \"quoted\"": {"x": 1}, "none": [], "one": {"b": [true]}})
        );
        assert_eq!(ObjectWriter::with_capacity(0).finish().as_str(), "{}");
    }
}

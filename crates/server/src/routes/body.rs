//! Reading a JSON request body member by member. Bodies are parsed strictly
//! (I-JSON, CONTRACT section 1) and every error names the member as a JSON pointer,
//! so the routes of each area only say which members they take.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use serde_json::{Map, Value};

use super::body_error;
use crate::error::{ApiError, ApiResult};

/// The body as a JSON object, strictly parsed.
pub fn object(body: Result<Bytes, BytesRejection>) -> ApiResult<Map<String, Value>> {
    let body = body.map_err(|e| body_error(&e))?;
    match evident_core::json::parse_value(&body)? {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::field("", "the body must be a JSON object")),
    }
}

/// [`object`], with an empty (or blank) body read as an empty object.
pub fn object_or_empty(body: Result<Bytes, BytesRejection>) -> ApiResult<Map<String, Value>> {
    match body {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        other => object(other),
    }
}

/// A required string member.
pub fn required_string(body: &Map<String, Value>, name: &str) -> ApiResult<String> {
    match body.get(name) {
        Some(Value::String(text)) => Ok(text.clone()),
        None | Some(Value::Null) => Err(ApiError::field(format!("/{name}"), "is required")),
        Some(_) => Err(ApiError::field(format!("/{name}"), "must be a string")),
    }
}

/// An optional string member (absent or null: `None`).
pub fn optional_string(body: &Map<String, Value>, name: &str) -> ApiResult<Option<String>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => required_string(body, name).map(Some),
    }
}

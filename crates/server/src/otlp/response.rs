//! OTLP answers: the `ExportTraceServiceResponse` (with `partial_success` when some
//! spans were rejected) and errors as `google.rpc.Status`, in the encoding of the
//! request, with the HTTP status or gRPC code the OTLP specification gives each
//! failure. Pure.

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;
use serde_json::{json, Value};

/// How an OTLP/HTTP body is encoded; the answer uses the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`
    Protobuf,
    /// `application/json` (OTLP/JSON)
    Json,
}

impl Encoding {
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// Why an export failed as a whole (nothing was stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Undecodable or invalid data; not retryable. HTTP 400, `INVALID_ARGUMENT`.
    BadData,
    /// No or an unknown key. HTTP 401, `UNAUTHENTICATED`.
    Unauthenticated,
    /// The key may not ingest, or not for this agent. HTTP 403, `PERMISSION_DENIED`.
    PermissionDenied,
    /// Body (or inflated body) over the limit. HTTP 413, `RESOURCE_EXHAUSTED`.
    TooLarge,
    /// Content type or encoding not spoken. HTTP 415, `INVALID_ARGUMENT`.
    UnsupportedMediaType,
    /// Store unavailable or overloaded; retryable. HTTP 503 with `Retry-After`,
    /// `UNAVAILABLE`.
    Unavailable,
    /// The server failed; the cause is in its log. HTTP 500, `INTERNAL`.
    Internal,
}

/// An OTLP error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpError {
    pub failure: Failure,
    /// Developer-facing, English; never an internal cause.
    pub message: String,
}

impl OtlpError {
    pub fn new(failure: Failure, message: impl Into<String>) -> Self {
        Self {
            failure,
            message: message.into(),
        }
    }

    pub fn bad_data(message: impl Into<String>) -> Self {
        Self::new(Failure::BadData, message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(Failure::TooLarge, message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(Failure::UnsupportedMediaType, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(Failure::Unauthenticated, message)
    }

    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(Failure::PermissionDenied, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Failure::Unavailable, message)
    }

    /// The HTTP status of OTLP/HTTP.
    pub fn http_status(&self) -> u16 {
        match self.failure {
            Failure::BadData => 400,
            Failure::Unauthenticated => 401,
            Failure::PermissionDenied => 403,
            Failure::TooLarge => 413,
            Failure::UnsupportedMediaType => 415,
            Failure::Unavailable => 503,
            Failure::Internal => 500,
        }
    }

    /// The gRPC status code (`google.rpc.Code`), also written into the
    /// `google.rpc.Status` of OTLP/HTTP (where clients may record it).
    pub fn grpc_code(&self) -> tonic::Code {
        match self.failure {
            Failure::BadData | Failure::UnsupportedMediaType => tonic::Code::InvalidArgument,
            Failure::Unauthenticated => tonic::Code::Unauthenticated,
            Failure::PermissionDenied => tonic::Code::PermissionDenied,
            Failure::TooLarge => tonic::Code::ResourceExhausted,
            Failure::Unavailable => tonic::Code::Unavailable,
            Failure::Internal => tonic::Code::Internal,
        }
    }
}

impl From<crate::error::ApiError> for OtlpError {
    /// The ingest service's errors, as OTLP failures. A 409 (an `event_id` reused
    /// with other content) is bad data: sending the same spans again cannot help.
    fn from(e: crate::error::ApiError) -> Self {
        let failure = match e.status.as_u16() {
            401 => Failure::Unauthenticated,
            403 => Failure::PermissionDenied,
            413 => Failure::TooLarge,
            415 => Failure::UnsupportedMediaType,
            503 => Failure::Unavailable,
            status if (400..500).contains(&status) => Failure::BadData,
            _ => Failure::Internal,
        };
        Self::new(failure, e.detail)
    }
}

/// `google.rpc.Status` (googleapis `google/rpc/status.proto`) without `details`,
/// which OTLP lets servers omit.
#[derive(Clone, PartialEq, Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// The body of an OTLP/HTTP error answer.
pub fn encode_error(encoding: Encoding, error: &OtlpError) -> Vec<u8> {
    let code = i32::from(error.grpc_code());
    match encoding {
        Encoding::Protobuf => RpcStatus {
            code,
            message: error.message.clone(),
        }
        .encode_to_vec(),
        Encoding::Json => json!({"code": code, "message": error.message})
            .to_string()
            .into_bytes(),
    }
}

/// What an accepted export did: how many spans were rejected and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Spans stored now or before (a re-sent span counts as accepted).
    pub accepted: usize,
    pub rejected: usize,
    /// Empty when nothing was rejected.
    pub message: String,
}

/// The `ExportTraceServiceResponse` message: `partial_success` only when spans were
/// rejected (the specification requires it unset on full success).
pub fn response_message(summary: &ExportSummary) -> ExportTraceServiceResponse {
    ExportTraceServiceResponse {
        partial_success: (summary.rejected > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: i64::try_from(summary.rejected).unwrap_or(i64::MAX),
            error_message: summary.message.clone(),
        }),
    }
}

/// The body of an OTLP/HTTP success answer. In OTLP/JSON the `int64`
/// `rejectedSpans` is a decimal string (proto3 JSON mapping).
pub fn encode_response(encoding: Encoding, summary: &ExportSummary) -> Vec<u8> {
    match encoding {
        Encoding::Protobuf => response_message(summary).encode_to_vec(),
        Encoding::Json => {
            let body = if summary.rejected > 0 {
                json!({"partialSuccess": {
                    "rejectedSpans": summary.rejected.to_string(),
                    "errorMessage": summary.message,
                }})
            } else {
                Value::Object(serde_json::Map::new())
            };
            body.to_string().into_bytes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_success_leaves_partial_success_unset() {
        let summary = ExportSummary {
            accepted: 3,
            ..ExportSummary::default()
        };
        assert!(encode_response(Encoding::Protobuf, &summary).is_empty());
        assert_eq!(encode_response(Encoding::Json, &summary), b"{}");
    }

    #[test]
    fn partial_success_round_trips() {
        let summary = ExportSummary {
            accepted: 1,
            rejected: 2,
            message: "2 spans rejected".into(),
        };
        let decoded =
            ExportTraceServiceResponse::decode(&encode_response(Encoding::Protobuf, &summary)[..])
                .unwrap();
        let partial = decoded.partial_success.unwrap();
        assert_eq!(partial.rejected_spans, 2);
        assert_eq!(partial.error_message, "2 spans rejected");
        let json: Value =
            serde_json::from_slice(&encode_response(Encoding::Json, &summary)).unwrap();
        assert_eq!(json["partialSuccess"]["rejectedSpans"], "2");
    }

    #[test]
    fn errors_are_rpc_statuses() {
        let error = OtlpError::bad_data("broken");
        let status = RpcStatus::decode(&encode_error(Encoding::Protobuf, &error)[..]).unwrap();
        assert_eq!(status.code, 3);
        assert_eq!(status.message, "broken");
        assert_eq!(error.http_status(), 400);
    }
}

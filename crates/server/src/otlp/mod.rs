//! OTLP trace ingest (CONTRACT section 5): OpenTelemetry GenAI and OpenInference
//! traces become audit events.
//!
//! Pure parse and map functions, transport at the edge (STYLE habit 10):
//!
//! - [`decode`]: OTLP/HTTP bodies — content type, gzip with a bound on the
//!   inflated size, protobuf or OTLP/JSON;
//! - [`value`], [`content`], [`map`]: one span → one event, deterministic;
//! - [`response`]: `ExportTraceServiceResponse` and `google.rpc.Status` answers;
//! - [`export`]: the service both transports call — map, validate each span,
//!   submit the valid ones through [`crate::ingest::ingest`] (the path of
//!   `POST /api/v1/events`), report the rest in `partial_success`;
//! - [`http`] (`POST /v1/traces`) and [`grpc`] (`TraceService/Export`): the edges.
//!
//! The message types and the gRPC service are the OpenTelemetry project's own
//! (`opentelemetry-proto`), not hand-written.

pub mod content;
pub mod decode;
pub mod export;
pub mod grpc;
pub mod http;
pub mod map;
pub mod response;
pub mod value;

pub use http::router;

//! OTLP/HTTP request bodies: content type, `Content-Encoding`, and the
//! `ExportTraceServiceRequest` in binary protobuf or OTLP/JSON. Pure.
//!
//! The OTLP specification requires the server to bound the body "including after
//! decompression": [`decompress`] never inflates past the limit it is given, so a
//! gzip bomb costs at most that much memory and is refused as too large.

use std::borrow::Cow;
use std::io::Read;

use flate2::read::MultiGzDecoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use super::response::{Encoding, OtlpError};

/// The encoding a `Content-Type` names (parameters such as `charset` ignored).
///
/// # Errors
/// [`OtlpError::unsupported_media_type`] for anything but protobuf and JSON.
pub fn encoding_of(content_type: Option<&str>) -> Result<Encoding, OtlpError> {
    let media_type = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    match media_type.as_deref() {
        Some("application/x-protobuf" | "application/protobuf") => Ok(Encoding::Protobuf),
        Some("application/json") => Ok(Encoding::Json),
        other => Err(OtlpError::unsupported_media_type(format!(
            "Content-Type {:?} is not accepted; OTLP/HTTP sends application/x-protobuf or application/json",
            other.unwrap_or("(none)")
        ))),
    }
}

/// The body with its `Content-Encoding` undone, at most `limit` bytes.
///
/// # Errors
/// 415 for an encoding other than `gzip` or `identity`, 400 for a corrupt gzip
/// stream, 413 when the decompressed body would exceed `limit`.
pub fn decompress<'a>(
    content_encoding: Option<&str>,
    body: &'a [u8],
    limit: usize,
) -> Result<Cow<'a, [u8]>, OtlpError> {
    let coding = content_encoding
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match coding.as_str() {
        "" | "identity" => Ok(Cow::Borrowed(body)),
        "gzip" | "x-gzip" => {
            let mut inflated = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
            let read = MultiGzDecoder::new(body)
                .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
                .read_to_end(&mut inflated);
            match read {
                Ok(n) if n > limit => Err(OtlpError::too_large(format!(
                    "the request body inflates to more than the {limit}-byte limit; nothing was stored"
                ))),
                Ok(_) => Ok(Cow::Owned(inflated)),
                Err(e) => Err(OtlpError::bad_data(format!(
                    "the gzip-encoded body could not be decompressed: {e}"
                ))),
            }
        }
        other => Err(OtlpError::unsupported_media_type(format!(
            "Content-Encoding {other:?} is not accepted; send gzip or no encoding"
        ))),
    }
}

/// Decodes an `ExportTraceServiceRequest`.
///
/// OTLP/JSON is the proto3 JSON mapping with hex trace and span ids, integer enum
/// values and 64-bit integers as strings or numbers; unknown fields are ignored.
/// The decoding is `opentelemetry-proto`'s serde mapping, checked against the
/// specification by `tests/otlp_http.rs`.
///
/// # Errors
/// 400 naming what could not be decoded.
pub fn decode_request(
    encoding: Encoding,
    body: &[u8],
) -> Result<ExportTraceServiceRequest, OtlpError> {
    match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(body).map_err(|e| {
            OtlpError::bad_data(format!(
                "the body is not a protobuf ExportTraceServiceRequest: {e}"
            ))
        }),
        Encoding::Json => {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Err(OtlpError::bad_data(
                    "empty body: expected an OTLP/JSON ExportTraceServiceRequest",
                ));
            }
            serde_json::from_slice(body).map_err(|e| {
                OtlpError::bad_data(format!(
                    "the body is not an OTLP/JSON ExportTraceServiceRequest: {e}"
                ))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_within_the_limit_inflates() {
        let body = gzip(b"hello");
        assert_eq!(&*decompress(Some("gzip"), &body, 5).unwrap(), b"hello");
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        let bomb = gzip(&vec![0u8; 64 * 1024 * 1024]);
        assert!(bomb.len() < 100 * 1024, "{}", bomb.len());
        let err = decompress(Some("gzip"), &bomb, 1024 * 1024).unwrap_err();
        assert_eq!(err.http_status(), 413);
    }

    #[test]
    fn corrupt_gzip_and_unknown_codings_are_refused() {
        assert_eq!(
            decompress(Some("gzip"), b"not gzip", 100)
                .unwrap_err()
                .http_status(),
            400
        );
        assert_eq!(
            decompress(Some("br"), b"x", 100).unwrap_err().http_status(),
            415
        );
    }

    #[test]
    fn content_types() {
        assert_eq!(
            encoding_of(Some("application/x-protobuf")).unwrap(),
            Encoding::Protobuf
        );
        assert_eq!(
            encoding_of(Some("Application/JSON; charset=utf-8")).unwrap(),
            Encoding::Json
        );
        assert_eq!(
            encoding_of(Some("text/plain")).unwrap_err().http_status(),
            415
        );
        assert_eq!(encoding_of(None).unwrap_err().http_status(), 415);
    }
}

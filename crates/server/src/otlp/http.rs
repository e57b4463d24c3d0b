//! `POST /v1/traces`: OTLP/HTTP, binary protobuf or OTLP/JSON, optionally gzipped.
//! The handler checks key, type and size, decodes, and calls the export service;
//! answers are OTLP messages in the request's encoding, never problem+json
//! (CONTRACT section 5).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::decode::{decode_request, decompress, encoding_of};
use super::export::{authenticate, export};
use super::response::{encode_error, encode_response, Encoding, ExportSummary, OtlpError};
use crate::auth::Role;
use crate::error::RETRY_AFTER_SECS;
use crate::state::{App, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_traces))
}

/// OTLP/HTTP trace export (CONTRACT section 5): `ExportTraceServiceRequest` as
/// protobuf or OTLP/JSON, gzip accepted; errors are `google.rpc.Status` in the
/// request's encoding, spans that fail validation are reported in `partial_success`.
#[utoipa::path(
    post,
    path = "/v1/traces",
    tag = "otlp",
    request_body(content(
        (crate::routes::openapi::Binary = "application/x-protobuf"),
        (Object = "application/json")
    )),
    responses(
        (status = 200, description = "ExportTraceServiceResponse (partial_success lists rejected spans)"),
        (status = 400, description = "google.rpc.Status: nothing valid was sent"),
        (status = 401, description = "google.rpc.Status: no or an unknown key"),
        (status = 403, description = "google.rpc.Status: the key may not send these spans"),
        (status = 413, description = "google.rpc.Status: the body is over the limit"),
        (status = 415, description = "google.rpc.Status: not protobuf or JSON"),
        (status = 503, description = "google.rpc.Status: retry after Retry-After"),
    ),
    security(("api_key" = []))
)]
async fn export_traces(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let encoding = encoding_of(header_text(&headers, header::CONTENT_TYPE));
    // An unsupported content type is answered in OTLP/JSON, the readable one.
    let answer_encoding = encoding.as_ref().map_or(Encoding::Json, |e| *e);
    match handle(&state.app, &headers, encoding, body).await {
        Ok(summary) => answer(
            StatusCode::OK,
            answer_encoding,
            encode_response(answer_encoding, &summary),
        ),
        Err(error) => error_answer(answer_encoding, &error),
    }
}

async fn handle(
    app: &App,
    headers: &HeaderMap,
    encoding: Result<Encoding, OtlpError>,
    body: Result<Bytes, BytesRejection>,
) -> Result<ExportSummary, OtlpError> {
    let principal = authenticate(app, header_text(headers, header::AUTHORIZATION)).await?;
    principal
        .require(Role::WRITERS)
        .map_err(|e| OtlpError::permission_denied(e.detail))?;
    let encoding = encoding?;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            OtlpError::too_large(format!(
                "the request body is over the {}-byte limit; nothing was stored",
                app.settings.max_body_bytes
            ))
        } else {
            OtlpError::bad_data("the request body could not be read")
        }
    })?;
    let raw = decompress(
        header_text(headers, header::CONTENT_ENCODING),
        &body,
        app.settings.max_body_bytes,
    )?;
    let request = decode_request(encoding, &raw)?;
    drop(raw);
    drop(body);
    export(app, &principal, request).await
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn answer(status: StatusCode, encoding: Encoding, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    response
}

fn error_answer(encoding: Encoding, error: &OtlpError) -> Response {
    let status =
        StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = answer(status, encoding, encode_error(encoding, error));
    let headers = response.headers_mut();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

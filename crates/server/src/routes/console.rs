//! `GET /` and `GET /console/...`: the web audit console (CONTRACT section 4), static
//! files embedded in the binary, so the server needs nothing beside itself and the
//! browser fetches nothing from anywhere else.
//!
//! Every answer carries a strict Content-Security-Policy: scripts only from this
//! server's own files (no inline script, no `eval`), requests only to this origin, no
//! framing, no forms, no plugins. The console renders every value from the log as
//! text (never as markup), so a hostile prompt or output cannot run in an auditor's
//! browser; the policy is the second line. The console keeps the API key for the
//! tab's life (`sessionStorage`) and sends it only as a header, never in a URL.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::state::AppState;

/// The policy every console answer carries.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file: its path under `/console/`, media type and bytes.
struct Asset {
    path: &'static str,
    media_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $media:literal) => {
        Asset {
            path: $path,
            media_type: $media,
            bytes: include_bytes!(concat!("../../console/", $path)),
        }
    };
}

/// Every file of the console (`crates/server/console/`); a test checks that none is
/// left out.
static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("js/app.js", "text/javascript; charset=utf-8"),
    asset!("js/api.js", "text/javascript; charset=utf-8"),
    asset!("js/dom.js", "text/javascript; charset=utf-8"),
    asset!("js/charts.js", "text/javascript; charset=utf-8"),
    asset!("js/format.js", "text/javascript; charset=utf-8"),
    asset!("js/verify.js", "text/javascript; charset=utf-8"),
    asset!("js/pages/reveal.js", "text/javascript; charset=utf-8"),
    // The standalone verifier evidence bundles carry: the console checks proofs and
    // bundles with the very same module, not a second implementation.
    Asset {
        path: "js/verifier/evident-verify.js",
        media_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../../../web/verifier/evident-verify.js"),
    },
    asset!("js/pages/dashboard.js", "text/javascript; charset=utf-8"),
    asset!("js/pages/search.js", "text/javascript; charset=utf-8"),
    asset!("js/pages/trace.js", "text/javascript; charset=utf-8"),
    asset!("js/pages/approvals.js", "text/javascript; charset=utf-8"),
    asset!("js/pages/governance.js", "text/javascript; charset=utf-8"),
    asset!("js/pages/holds.js", "text/javascript; charset=utf-8"),
    asset!("js/pages/evidence.js", "text/javascript; charset=utf-8"),
    asset!("js/pages/log.js", "text/javascript; charset=utf-8"),
];

/// The paths of the embedded files, for the test that none is missing.
pub fn asset_paths() -> Vec<&'static str> {
    ASSETS.iter().map(|a| a.path).collect()
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { serve("index.html") }))
        .route(
            "/console/{*path}",
            get(|Path(path): Path<String>| async move { serve(&path) }),
        )
}

fn serve(path: &str) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return ApiError::not_found("no such console file").into_response();
    };
    let mut response = (StatusCode::OK, asset.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.media_type),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The files change with the binary only; a new server must not meet old modules.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

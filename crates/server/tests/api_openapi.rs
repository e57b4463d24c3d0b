//! `GET /api/v1/openapi.json` (CONTRACT section 4): public, OpenAPI 3.1, generated
//! from the routers. Every documented operation answers (never the router's own 404
//! or 405), no documented path answers a method it does not document, every endpoint
//! of the contract this server implements is in it with its schemas, and the copy
//! in `docs/openapi.json` is current (`EVIDENT_UPDATE_OPENAPI=1` rewrites it).

mod common;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn method(name: &str) -> Method {
    Method::from_bytes(name.to_ascii_uppercase().as_bytes()).unwrap()
}

/// A concrete URI for a documented path: each `{parameter}` filled in.
fn concrete(path: &str) -> String {
    path.replace("{event_id}", "no-such-event")
        .replace("{reference}", &format!("sha256:{}", "0".repeat(64)))
        .replace("{path}", "0/000")
        .replace("{trace_id}", "no-such-trace")
        .replace("{job_id}", "no-such-job")
        .replace("{run_id}", "no-such-run")
        .replace("{kind}", "prompt")
        .replace("{name}", "no-such-artifact")
        .replace("{approval_id}", "apr_no-such-approval")
        .replace("{id}", "no-such-policy-set")
        .replace("{hold_id}", "hold_nosuch")
        .replace("{erasure_id}", "evt_nosuch")
}

/// `true` when the answer came from the router's fallbacks, not from a handler.
fn unrouted(status: StatusCode, body: &str) -> bool {
    status == StatusCode::METHOD_NOT_ALLOWED
        || (status == StatusCode::NOT_FOUND && body.contains("no such endpoint"))
}

async fn document(t: &TestApp) -> Value {
    let reply = t.get("/api/v1/openapi.json", None).await;
    assert_eq!(reply.status, StatusCode::OK, "public: {}", reply.text());
    assert!(reply.content_type().starts_with("application/json"));
    reply.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_answers_and_nothing_else_on_its_path() {
    let t = TestApp::new().await;
    let doc = document(&t).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "{:?}", paths.keys());
    for (path, item) in paths {
        assert!(!path.contains('*'), "{path}: an axum wildcard leaked");
        let uri = concrete(path);
        assert!(
            !uri.contains('{'),
            "{path}: a parameter this test does not fill"
        );
        for name in METHODS {
            let documented = item.get(name).is_some();
            let reply = t
                .send(
                    method(name),
                    &uri,
                    Some(&t.admin),
                    Some("application/json"),
                    "{}",
                )
                .await;
            let text = reply.text();
            if documented {
                assert!(
                    !unrouted(reply.status, &text),
                    "{name} {path} is documented but not routed: {} {text}",
                    reply.status
                );
                let responses = item[name]["responses"].as_object().unwrap();
                assert!(!responses.is_empty(), "{name} {path}");
                for (status, response) in responses {
                    assert!(
                        response["description"]
                            .as_str()
                            .is_some_and(|d| !d.is_empty()),
                        "{name} {path} {status}: OpenAPI requires a description"
                    );
                }
            } else {
                assert_eq!(
                    reply.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{name} {path} answers but is not documented: {text}"
                );
            }
        }
    }
    // The check tells a routed path from an unrouted one.
    let reply = t.get("/api/v1/no-such-thing", Some(&t.admin)).await;
    assert!(unrouted(reply.status, &reply.text()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contracts_endpoints_and_schemas_are_documented() {
    let t = TestApp::new().await;
    let doc = document(&t).await;
    for (name, path) in [
        ("post", "/api/v1/events"),
        ("get", "/api/v1/events"),
        ("post", "/api/v1/events/search"),
        ("get", "/api/v1/events/{event_id}"),
        ("post", "/api/v1/blobs"),
        ("get", "/api/v1/blobs/{reference}"),
        ("get", "/api/v1/traces/{trace_id}"),
        ("get", "/api/v1/jobs/{job_id}"),
        ("get", "/api/v1/jobs/{job_id}/decisions"),
        ("get", "/api/v1/workflow-runs/{run_id}/timeline"),
        ("get", "/api/v1/proofs/inclusion"),
        ("get", "/api/v1/proofs/consistency"),
        ("get", "/api/v1/log"),
        ("post", "/api/v1/vault/reveal"),
        ("post", "/api/v1/subjects/erase"),
        ("post", "/v1/traces"),
        ("get", "/checkpoint"),
        ("get", "/tile/{path}"),
        ("get", "/metrics"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/api/v1/openapi.json"),
    ] {
        assert!(
            doc["paths"][path][name].is_object(),
            "{name} {path} is not documented"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "Problem",
        "Event",
        "Accepted",
        "EventAnswer",
        "SearchBody",
        "SearchAnswer",
        "TraceAnswer",
        "JobAnswer",
        "JobDecisions",
        "Timeline",
        "InclusionProof",
        "ConsistencyProof",
        "LogInfo",
        "BlobRef",
        "RevealRequest",
        "RevealAnswer",
        "EraseRequest",
        "ErasureReceipt",
    ] {
        assert!(schemas.contains_key(schema), "schema {schema} missing");
    }
    // Errors are problem+json wherever an endpoint can refuse.
    let search = &doc["paths"]["/api/v1/events"]["get"]["responses"];
    assert!(
        search["400"]["content"]["application/problem+json"].is_object(),
        "{search}"
    );
    let ingest = &doc["paths"]["/api/v1/events"]["post"];
    assert!(ingest["responses"]["409"]["content"]["application/problem+json"].is_object());
    assert!(ingest["requestBody"]["content"]["application/x-ndjson"].is_object());
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_copy_in_docs_is_current() {
    let t = TestApp::new().await;
    let served = t.get("/api/v1/openapi.json", None).await.text();
    assert_eq!(served, evident_server::routes::openapi_json());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    if std::env::var("EVIDENT_UPDATE_OPENAPI").is_ok() {
        std::fs::write(path, format!("{served}\n")).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed.trim_end() == served,
        "docs/openapi.json is not the document the server serves; \
         run the test with EVIDENT_UPDATE_OPENAPI=1 to rewrite it"
    );
}

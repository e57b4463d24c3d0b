//! A store that fails: OTLP/HTTP answers 503 with `Retry-After`, OTLP/gRPC
//! `UNAVAILABLE` — the retryable failures of the OTLP specification — nothing is
//! stored, and the exporter's retry lands the spans once.

mod otlp_util;

use evident_store::ApiKeyStore;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use evident_server::auth::{generate_api_key, Role};
use evident_server::datadir::{self, SecretPaths};
use evident_server::state::{App, Settings};
use evident_server::AppState;
use evident_store::faulty::{FailMode, FaultyStore};
use evident_store::sqlite::{SqliteOptions, SqliteStore};
use evident_store::Store;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use otlp_util::*;
use prost::Message;
use tower::ServiceExt;

/// An app whose first append fails before writing, and an ingest key.
async fn failing_app(dir: &std::path::Path) -> (Arc<App>, String) {
    let store = SqliteStore::open(dir, &SqliteOptions::default()).unwrap();
    let paths = SecretPaths::new(dir, None);
    datadir::initialize(&store, &paths, Some("otlp-faults.example/log"))
        .await
        .unwrap();
    let secrets = datadir::load(&store, &paths).await.unwrap();
    let key = generate_api_key("ingest-1", Role::Ingest, Vec::new(), 0);
    store.create_api_key(key.record).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(FaultyStore::new(store, FailMode::BeforeWrite, 1));
    (App::start(store, secrets, Settings::default()), key.secret)
}

async fn post(app: &Arc<App>, key: &str, body: Vec<u8>) -> (StatusCode, axum::http::HeaderMap) {
    let request = Request::post("/v1/traces")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "application/x-protobuf")
        .body(Body::from(body))
        .unwrap();
    let response = evident_server::router(AppState { app: app.clone() })
        .oneshot(request)
        .await
        .unwrap();
    (response.status(), response.headers().clone())
}

#[tokio::test]
async fn http_store_failure_is_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let (app, key) = failing_app(dir.path()).await;
    let before = app.store.tree_head().await.unwrap().size;
    let body = request("svc", agent_run(0x71)).encode_to_vec();
    let (status, headers) = post(&app, &key, body.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(headers.contains_key(header::RETRY_AFTER));
    assert_eq!(headers[header::CONTENT_TYPE], "application/x-protobuf");
    assert_eq!(app.store.tree_head().await.unwrap().size, before);
    // The exporter retries: the spans land once.
    let (status, _) = post(&app, &key, body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post(&app, &key, body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.store.tree_head().await.unwrap().size, before + 4);
}

#[tokio::test]
async fn grpc_store_failure_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let (app, key) = failing_app(dir.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(evident_server::otlp::grpc::serve(
        app.clone(),
        listener,
        std::future::pending(),
    ));
    let mut client = TraceServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let export = || {
        let mut request = tonic::Request::new(request("svc", agent_run(0x72)));
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {key}").parse().unwrap());
        request
    };
    let status = client.export(export()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    client.export(export()).await.expect("the retry succeeds");
}

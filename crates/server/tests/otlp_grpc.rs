//! OTLP/gRPC `TraceService/Export` over a real socket, with the OpenTelemetry
//! project's generated client: keys in `authorization` metadata, gzip, partial
//! success, and the status codes the OTLP specification gives each failure.

mod common;
mod otlp_util;

use std::io::Write;

use common::TestApp;
use evident_server::auth::Role;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use otlp_util::*;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;
use tonic::Code;

struct Grpc {
    app: TestApp,
    client: TraceServiceClient<Channel>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start() -> Grpc {
    let app = TestApp::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(evident_server::otlp::grpc::serve(
        app.app.clone(),
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    let client = TraceServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connect");
    Grpc {
        app,
        client,
        _stop: stop,
    }
}

fn with_key(
    key: Option<&str>,
    request: ExportTraceServiceRequest,
) -> tonic::Request<ExportTraceServiceRequest> {
    let mut request = tonic::Request::new(request);
    if let Some(key) = key {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {key}").parse().unwrap());
    }
    request
}

#[tokio::test]
async fn grpc_export_stores_events() {
    let mut grpc = start().await;
    let before = grpc.app.tree_size().await;
    let key = grpc.app.ingest.clone();
    let response = grpc
        .client
        .export(with_key(Some(&key), request("svc", agent_run(0x61))))
        .await
        .expect("export")
        .into_inner();
    assert_eq!(response.partial_success, None);
    assert_eq!(grpc.app.tree_size().await, before + 4);
    let record = grpc
        .app
        .get_event(&event_id(0x61, sid(0x61, 4)))
        .await
        .ok_json()["record"]
        .clone();
    assert_eq!(record["event_type"], "tool_call");
    assert_eq!(record["outcome"], "error");
    assert_eq!(record["error"]["kind"], "PaymentDeclined");

    // A re-send is a no-op; gzip-compressed messages are accepted.
    let mut gzip_client = grpc
        .client
        .clone()
        .send_compressed(CompressionEncoding::Gzip);
    gzip_client
        .export(with_key(Some(&key), request("svc", agent_run(0x61))))
        .await
        .expect("re-send");
    assert_eq!(grpc.app.tree_size().await, before + 4);
    gzip_client
        .export(with_key(Some(&key), request("svc", agent_run(0x62))))
        .await
        .expect("gzip export");
    assert_eq!(grpc.app.tree_size().await, before + 8);
}

#[tokio::test]
async fn grpc_partial_success_and_invalid_argument() {
    let mut grpc = start().await;
    let key = grpc.app.ingest.clone();
    let mut no_id = span(0x63, 1, None, "no id", vec![]);
    no_id.span_id.clear();
    let response = grpc
        .client
        .export(with_key(
            Some(&key),
            request(
                "svc",
                vec![no_id.clone(), span(0x63, 2, None, "ok", vec![])],
            ),
        ))
        .await
        .expect("export")
        .into_inner();
    let partial = response.partial_success.expect("partial_success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(
        partial.error_message.contains("span_id"),
        "{}",
        partial.error_message
    );

    let before = grpc.app.tree_size().await;
    let status = grpc
        .client
        .export(with_key(Some(&key), request("svc", vec![no_id])))
        .await
        .expect_err("nothing valid");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(grpc.app.tree_size().await, before);
}

#[tokio::test]
async fn grpc_keys_and_roles() {
    let mut grpc = start().await;
    let before = grpc.app.tree_size().await;
    let spans = || request("svc", agent_run(0x64));
    let status = grpc
        .client
        .export(with_key(None, spans()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let status = grpc
        .client
        .export(with_key(Some("evk_unknown"), spans()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let auditor = grpc.app.auditor.clone();
    let status = grpc
        .client
        .export(with_key(Some(&auditor), spans()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let bound = grpc
        .app
        .key("bound-grpc", Role::Ingest, &["someone-else"])
        .await;
    let status = grpc
        .client
        .export(with_key(Some(&bound), spans()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(grpc.app.tree_size().await, before);
    let admin = grpc.app.admin.clone();
    grpc.client
        .export(with_key(Some(&admin), spans()))
        .await
        .expect("admin may ingest");
}

#[tokio::test]
async fn a_grpc_gzip_bomb_is_refused() {
    let grpc = start().await;
    let before = grpc.app.tree_size().await;
    // One span whose attribute is 64 MiB of one letter: a few hundred KiB gzipped,
    // four times the server's limit once inflated.
    let huge = span(
        0x65,
        1,
        None,
        "bomb",
        vec![s("blob", &"a".repeat(64 * 1024 * 1024))],
    );
    let mut client = grpc
        .client
        .clone()
        .send_compressed(CompressionEncoding::Gzip)
        .max_encoding_message_size(usize::MAX);
    let key = grpc.app.ingest.clone();
    let status = client
        .export(with_key(Some(&key), request("svc", vec![huge])))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(grpc.app.tree_size().await, before);
    // Sanity: the bomb really is small on the wire.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&[b'a'; 1 << 20]).unwrap();
    assert!(encoder.finish().unwrap().len() < 8 * 1024);
}

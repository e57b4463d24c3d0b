//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export`, on
//! `127.0.0.1:4317` by default (`evident serve --otlp-grpc-listen`). Same keys
//! (`authorization: Bearer <key>` metadata), same export service and same limits
//! as OTLP/HTTP: a message (after gzip decompression, which tonic bounds too) over
//! the server's body limit is refused. Status codes follow the OTLP specification:
//! `UNAUTHENTICATED`, `PERMISSION_DENIED`, `INVALID_ARGUMENT` (not retryable),
//! `UNAVAILABLE` (retryable), `RESOURCE_EXHAUSTED` for oversized batches.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::transport::server::TcpIncoming;

use super::export::{authenticate, export};
use super::response::{response_message, OtlpError};
use crate::state::App;

/// The default OTLP/gRPC address (the OTLP specification's default port, local only).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4317";

/// The trace service, answering through the shared export service.
pub struct TraceIngest {
    app: Arc<App>,
}

#[tonic::async_trait]
impl TraceService for TraceIngest {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let authorization = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let principal = authenticate(&self.app, authorization)
            .await
            .map_err(to_status)?;
        let summary = export(&self.app, &principal, request.into_inner())
            .await
            .map_err(to_status)?;
        Ok(tonic::Response::new(response_message(&summary)))
    }
}

fn to_status(error: OtlpError) -> tonic::Status {
    tonic::Status::new(error.grpc_code(), error.message)
}

/// The gRPC service with the server's limits: decoded messages at most the HTTP
/// body limit, gzip-compressed requests accepted.
pub fn service(app: Arc<App>) -> TraceServiceServer<TraceIngest> {
    let limit = app.settings.max_body_bytes;
    TraceServiceServer::new(TraceIngest { app })
        .max_decoding_message_size(limit)
        .accept_compressed(CompressionEncoding::Gzip)
}

/// Serves OTLP/gRPC on `listener` until `shutdown` completes.
///
/// # Errors
/// The listener fails.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "serving OTLP/gRPC");
    tonic::transport::Server::builder()
        .add_service(service(app))
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await
        .context("serving OTLP/gRPC")
}

/// Where `evident serve` listens for OTLP/gRPC, from `--otlp-grpc-listen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrpcListen {
    /// No flag: [`DEFAULT_LISTEN`]; if that port is taken, serve goes on without
    /// OTLP/gRPC and says so (several local servers, e.g. in tests, can share a host).
    Default,
    /// `--otlp-grpc-listen ADDR`: failing to bind it is fatal.
    At(SocketAddr),
    /// `--otlp-grpc-listen off`.
    Off,
}

impl GrpcListen {
    /// Parses the flag's value (`None`: not given).
    ///
    /// # Errors
    /// Neither `off` nor a socket address.
    pub fn parse(flag: Option<&str>) -> anyhow::Result<Self> {
        match flag.map(str::trim) {
            None => Ok(Self::Default),
            Some(off) if off.eq_ignore_ascii_case("off") => Ok(Self::Off),
            Some(addr) => addr.parse().map(Self::At).with_context(|| {
                format!("--otlp-grpc-listen {addr:?}: expected ADDR:PORT or `off`")
            }),
        }
    }

    /// Binds the listener, or `None` when turned off (or the default port is taken).
    ///
    /// # Errors
    /// An explicit address cannot be bound.
    pub async fn bind(self) -> anyhow::Result<Option<TcpListener>> {
        match self {
            Self::Off => Ok(None),
            Self::At(addr) => TcpListener::bind(addr)
                .await
                .map(Some)
                .with_context(|| format!("listening for OTLP/gRPC on {addr}")),
            Self::Default => match TcpListener::bind(DEFAULT_LISTEN).await {
                Ok(listener) => Ok(Some(listener)),
                Err(e) => {
                    tracing::warn!(addr = DEFAULT_LISTEN, error = %e, "OTLP/gRPC not served");
                    eprintln!(
                        "warning: OTLP/gRPC is off: cannot listen on {DEFAULT_LISTEN} ({e}); \
                         choose another address with --otlp-grpc-listen"
                    );
                    Ok(None)
                }
            },
        }
    }
}

/// Starts serving OTLP/gRPC on `listener` in the background until SIGTERM or
/// Ctrl-C (the signals that stop the HTTP server), and returns the task.
pub fn spawn(app: Arc<App>, listener: TcpListener) -> tokio::task::JoinHandle<()> {
    let shutdown = crate::serve::shutdown_signal();
    tokio::spawn(async move {
        if let Err(e) = serve(app, listener, shutdown).await {
            tracing::error!(error = %e, "OTLP/gRPC server failed");
        }
    })
}

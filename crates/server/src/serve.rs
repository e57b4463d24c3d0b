//! Running the HTTP server: bind, serve until SIGTERM or Ctrl-C, then finish in-flight
//! requests and sign a last checkpoint so every acknowledged event is covered.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::state::{App, AppState};

/// Serves the API on `listener` until a shutdown signal.
///
/// # Errors
/// The listener fails.
pub async fn serve(app: Arc<App>, listener: TcpListener) -> anyhow::Result<()> {
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, origin = %app.identity.origin, "serving");
    let router = crate::router(AppState { app: app.clone() });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP")?;
    tracing::info!("shutting down: signing a last checkpoint");
    if app.identity.signer.is_some() {
        if let Err(e) = crate::checkpointer::sign_if_grown(&app).await {
            tracing::warn!(error = %e, "last checkpoint failed");
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

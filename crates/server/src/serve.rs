//! Running the HTTP server: bind, serve until SIGTERM or Ctrl-C, then finish in-flight
//! requests and sign a last checkpoint so every acknowledged event is covered.
//!
//! Plain HTTP ([`serve`]) or HTTPS ([`serve_tls`]: rustls with the ring provider,
//! TLS 1.2 and 1.3, ALPN `h2` and `http/1.1`, a PEM certificate chain and key that
//! SIGHUP reloads without dropping connections).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

use crate::state::{App, AppState};

/// How long a client may take over its TLS handshake before the connection is
/// dropped, so half-open connections cannot pile up.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
    sign_last_checkpoint(&app).await;
    Ok(())
}

/// The PEM files of the HTTPS identity: a certificate chain (leaf first) and its
/// private key (PKCS#8, PKCS#1 or SEC1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// Why the HTTPS identity cannot be used; says which file is at fault, never its
/// contents.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: {reason}", path.display())]
    Cert { path: PathBuf, reason: String },
    #[error("{}: {reason}", path.display())]
    Key { path: PathBuf, reason: String },
    #[error("the certificate and the private key do not go together: {0}")]
    Pair(String),
}

impl TlsFiles {
    /// Reads both files and builds the rustls server configuration, checking that the
    /// key belongs to the certificate.
    ///
    /// # Errors
    /// A file cannot be read, holds no usable PEM block, or the key does not match.
    pub fn load(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let cert_error = |reason: String| TlsError::Cert {
            path: self.cert_file.clone(),
            reason,
        };
        let certs = CertificateDer::pem_file_iter(&self.cert_file)
            .map_err(|e| cert_error(pem_reason(&e)))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| cert_error(pem_reason(&e)))?;
        if certs.is_empty() {
            return Err(cert_error("no CERTIFICATE block".into()));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key_file).map_err(|e| TlsError::Key {
            path: self.key_file.clone(),
            reason: pem_reason(&e),
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Pair(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Pair(e.to_string()))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// A PEM error in words, without echoing any of the file's bytes.
fn pem_reason(error: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match error {
        Error::NoItemsFound => "no PEM block of the expected kind".into(),
        Error::Io(io) => io.to_string(),
        _ => "not valid PEM".into(),
    }
}

/// Serves the API over HTTPS on `listener` until a shutdown signal, exactly like
/// [`serve`]: stop accepting, finish in-flight requests, sign a last checkpoint.
/// SIGHUP re-reads the certificate and key (a renewed certificate needs no restart);
/// if they do not load, the old ones stay in use and a warning is logged.
///
/// # Errors
/// The certificate or key does not load; the listener fails.
pub async fn serve_tls(app: Arc<App>, listener: TcpListener, tls: TlsFiles) -> anyhow::Result<()> {
    let rustls_config =
        axum_server::tls_rustls::RustlsConfig::from_config(tls.load().context("loading TLS")?);
    let addr: SocketAddr = listener.local_addr()?;
    tracing::info!(%addr, origin = %app.identity.origin, tls = true, "serving");
    let router = crate::router(AppState { app: app.clone() });
    let handle = axum_server::Handle::new();
    let on_signal = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        on_signal.graceful_shutdown(None);
    });
    #[cfg(unix)]
    {
        // Registered before serving, so an early SIGHUP never takes its default
        // action (ending the process).
        let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("handling SIGHUP")?;
        tokio::spawn(reload_tls_on_sighup(hangup, tls, rustls_config.clone()));
    }
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(rustls_config)
        .handshake_timeout(TLS_HANDSHAKE_TIMEOUT);
    axum_server::Server::<SocketAddr>::from_listener(listener)
        .acceptor(acceptor)
        .handle(handle)
        .accept_error_handler(|peer, error| {
            tracing::debug!(?peer, %error, "connection not accepted");
        })
        .serve(router.into_make_service())
        .await
        .context("serving HTTPS")?;
    sign_last_checkpoint(&app).await;
    Ok(())
}

#[cfg(unix)]
async fn reload_tls_on_sighup(
    mut hangup: tokio::signal::unix::Signal,
    tls: TlsFiles,
    config: axum_server::tls_rustls::RustlsConfig,
) {
    while hangup.recv().await.is_some() {
        match tls.load() {
            Ok(fresh) => {
                config.reload_from_config(fresh);
                tracing::info!(cert = %tls.cert_file.display(), "TLS certificate reloaded");
            }
            Err(e) => tracing::warn!(error = %e, "TLS reload failed; keeping the old certificate"),
        }
    }
}

/// After the last request: a checkpoint covering every acknowledged event.
async fn sign_last_checkpoint(app: &App) {
    tracing::info!("shutting down: signing a last checkpoint");
    if app.identity.signer.is_some() {
        if let Err(e) = crate::checkpointer::sign_if_grown(app).await {
            tracing::warn!(error = %e, "last checkpoint failed");
        }
    }
}

/// Whether SIGTERM or Ctrl-C has arrived, for every server of the process.
static SHUTDOWN: std::sync::OnceLock<tokio::sync::watch::Receiver<bool>> =
    std::sync::OnceLock::new();

/// Starts listening for SIGTERM and Ctrl-C, once per process, before it returns: a
/// signal that arrives any time after the first call stops every server that waits
/// on [`shutdown_signal`]. Call it before announcing that the process listens: each
/// server registering its own handler when it first ran left a window in which a
/// signal reached one server (the OTLP one) and not the other, which then never
/// stopped.
///
/// # Panics
/// Outside a Tokio runtime.
pub fn listen_for_shutdown() -> tokio::sync::watch::Receiver<bool> {
    SHUTDOWN
        .get_or_init(|| {
            let (tx, rx) = tokio::sync::watch::channel(false);
            #[cfg(unix)]
            {
                use tokio::signal::unix::{signal, SignalKind};
                let terminate = signal(SignalKind::terminate()).ok();
                let interrupt = signal(SignalKind::interrupt()).ok();
                tokio::spawn(async move {
                    let recv = |s: Option<tokio::signal::unix::Signal>| async move {
                        match s {
                            Some(mut s) => {
                                s.recv().await;
                            }
                            None => std::future::pending::<()>().await,
                        }
                    };
                    tokio::select! {
                        () = recv(terminate) => {},
                        () = recv(interrupt) => {},
                    }
                    let _ = tx.send(true);
                });
            }
            #[cfg(not(unix))]
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                let _ = tx.send(true);
            });
            rx
        })
        .clone()
}

/// Resolves once SIGTERM or Ctrl-C has arrived (see [`listen_for_shutdown`], which
/// this calls when it is created, not when it is first polled).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    let mut shutdown = listen_for_shutdown();
    async move {
        let _ = shutdown.wait_for(|stopped| *stopped).await;
    }
}

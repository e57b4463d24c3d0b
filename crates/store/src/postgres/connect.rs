//! Connecting to PostgreSQL: the database URL, its `sslmode` and `sslrootcert`, and
//! TLS with rustls (the ring provider, as the API's HTTPS).
//!
//! `sslmode` keeps the meaning libpq gives it, with safer edges:
//!
//! | `sslmode` | TLS | certificate |
//! |---|---|---|
//! | `verify-full` (default) | required | chain to the CA and host name |
//! | `verify-ca` | required | chain to the CA, any host name |
//! | `require` | required | none, unless `sslrootcert` is given (then as `verify-ca`) |
//! | `prefer` | if the server offers it | none; loopback and Unix sockets only |
//! | `disable` | never | loopback and Unix sockets only |
//!
//! Without `sslmode`, a connection to a loopback address or a Unix socket (which
//! never leaves the machine) is `prefer`, any other `verify-full`. Cleartext to
//! another host is refused: the log's entries, API key hashes and wrapped data keys
//! would cross the network readable. The CA is `sslrootcert` (a PEM file), or with
//! `sslrootcert=system` or none given, the system's trusted roots.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::{Host, SslMode as PgSslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::{StoreError, StoreResult};

/// The `sslmode`s Evident understands (libpq's, less `allow`, which prefers
/// cleartext).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> StoreResult<Self> {
        Ok(match text {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(url_error(format!(
                "sslmode={other:?} is not one of disable, prefer, require, verify-ca, verify-full"
            )))
            }
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// A database URL made ready to connect: the driver's configuration and the TLS
/// connector its `sslmode` calls for.
#[derive(Clone)]
pub struct PgConnection {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    pub ssl_mode: SslMode,
}

impl std::fmt::Debug for PgConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config holds the password; say only what decides the connection.
        f.debug_struct("PgConnection")
            .field("hosts", &self.config.get_hosts())
            .field("ssl_mode", &self.ssl_mode)
            .finish_non_exhaustive()
    }
}

fn url_error(message: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("database URL: {message}"))
}

/// Takes `sslmode` and `sslrootcert` out of a URL (`postgres://...?sslmode=...`) or a
/// key=value string (`host=... sslmode=...`), which the driver does not understand
/// (it knows neither `verify-*` nor `sslrootcert`).
fn split_tls_options(url: &str) -> (String, Option<String>, Option<String>) {
    let (mut mode, mut root) = (None, None);
    let mut take = |key: &str, value: String| match key {
        "sslmode" => {
            mode = Some(value);
            true
        }
        "sslrootcert" => {
            root = Some(value);
            true
        }
        _ => false,
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return (url.to_owned(), None, None);
        };
        let kept: Vec<String> = query
            .split('&')
            .filter(|pair| {
                let mut parts = form_urlencoded::parse(pair.as_bytes());
                !parts.next().is_some_and(|(k, v)| take(&k, v.into_owned()))
            })
            .map(str::to_owned)
            .collect();
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return (rest, mode, root);
    }
    let kept: Vec<&str> = url
        .split_whitespace()
        .filter(|token| {
            !token
                .split_once('=')
                .is_some_and(|(k, v)| take(k.trim(), v.trim_matches('\'').to_owned()))
        })
        .collect();
    (kept.join(" "), mode, root)
}

/// `true` when every host the driver may connect to is a loopback address or a Unix
/// socket, so that traffic never leaves the machine.
fn stays_on_this_machine(config: &tokio_postgres::Config) -> bool {
    let addresses_local = config.get_hostaddrs().iter().all(IpAddr::is_loopback);
    let hosts_local = config.get_hosts().iter().all(|host| match host {
        Host::Unix(_) => true,
        Host::Tcp(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
    });
    // With host addresses given, the driver connects to them and uses the names only
    // for TLS; both must be local for cleartext.
    if config.get_hostaddrs().is_empty() {
        hosts_local
    } else {
        addresses_local && hosts_local
    }
}

fn host_names(config: &tokio_postgres::Config) -> String {
    config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads a database URL: its `sslmode` (default above), its CA, and the refusal of
/// cleartext beyond this machine.
///
/// # Errors
/// [`StoreError::Internal`] naming the problem: an unparsable URL, an unknown
/// `sslmode`, cleartext (`disable`, `prefer`) to a host that is not loopback or a
/// Unix socket, an unreadable or empty `sslrootcert`, no CA at all.
pub fn prepare(url: &str) -> StoreResult<PgConnection> {
    let (rest, mode, root) = split_tls_options(url);
    let mut config: tokio_postgres::Config = rest.parse().map_err(url_error)?;
    let local = stays_on_this_machine(&config);
    let ssl_mode = match mode.as_deref() {
        Some(text) => SslMode::parse(text)?,
        None if local => SslMode::Prefer,
        None => SslMode::VerifyFull,
    };
    if matches!(ssl_mode, SslMode::Disable | SslMode::Prefer) && !local {
        return Err(url_error(format!(
            "sslmode={} may send the database traffic in clear, which is accepted only to a \
             loopback address or a Unix socket, not to {}; use sslmode=verify-full (the \
             default) with sslrootcert=<the server's CA certificate>",
            ssl_mode.as_str(),
            host_names(&config)
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match (ssl_mode, &root) {
        (SslMode::Disable | SslMode::Prefer, _) | (SslMode::Require, None) => {
            Arc::new(AnyCertificate(provider.clone()))
        }
        (SslMode::Require | SslMode::VerifyCa, _) => {
            Arc::new(ChainOnly(webpki(roots(root.as_deref())?, &provider)?))
        }
        (SslMode::VerifyFull, _) => webpki(roots(root.as_deref())?, &provider)?,
    };
    let tls_config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Internal(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.ssl_mode(match ssl_mode {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
    });
    Ok(PgConnection {
        config,
        tls: MakeRustlsConnect::new(tls_config),
        ssl_mode,
    })
}

/// The CA certificates to trust: `sslrootcert` (PEM), else the system's.
fn roots(sslrootcert: Option<&str>) -> StoreResult<RootCertStore> {
    let mut store = RootCertStore::empty();
    match sslrootcert {
        Some(path) if path != "system" => {
            let certs = CertificateDer::pem_file_iter(Path::new(path))
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| url_error(format!("sslrootcert {path:?}: {e}")))?;
            if certs.is_empty() {
                return Err(url_error(format!(
                    "sslrootcert {path:?} holds no PEM certificate"
                )));
            }
            for cert in certs {
                store
                    .add(cert)
                    .map_err(|e| url_error(format!("sslrootcert {path:?}: {e}")))?;
            }
        }
        _ => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(url_error(
                    "no sslrootcert was given and the system has no trusted CA certificates; \
                     set sslrootcert=<the server's CA certificate>",
                ));
            }
        }
    }
    Ok(store)
}

fn webpki(
    roots: RootCertStore,
    provider: &Arc<CryptoProvider>,
) -> StoreResult<Arc<WebPkiServerVerifier>> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| StoreError::Internal(format!("TLS: {e}")))
}

/// `verify-ca`: the chain must lead to a trusted CA; the host name is not checked.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The web PKI verifier checks the name last, after the chain: a name error
        // means the chain held.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `require` without a CA and `prefer`: encrypted, the certificate not checked (as
/// libpq does); the handshake's signatures still are.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(url: &str) -> String {
        match prepare(url) {
            Err(e) => e.to_string(),
            Ok(c) => panic!("{url}: accepted as {:?}", c.ssl_mode),
        }
    }

    #[test]
    fn cleartext_is_refused_beyond_this_machine() {
        for url in [
            "postgres://u@db.example.com/evident?sslmode=disable",
            "postgres://u@10.0.0.5:5432/evident?sslmode=prefer",
            "host=db.example.com user=u sslmode=disable",
            "postgres://u@localhost/evident?sslmode=disable&hostaddr=10.0.0.5",
        ] {
            let message = refusal(url);
            assert!(message.contains("in clear"), "{url}: {message}");
            assert!(message.contains("verify-full"), "{url}: {message}");
        }
    }

    #[test]
    fn loopback_and_sockets_may_go_without_tls() {
        for (url, mode) in [
            (
                "postgres://u@127.0.0.1:5432/e?sslmode=disable",
                SslMode::Disable,
            ),
            ("postgres://u@localhost/e", SslMode::Prefer),
            ("postgres://u@[::1]:5432/e", SslMode::Prefer),
            (
                "host=/var/run/postgresql user=u sslmode=disable",
                SslMode::Disable,
            ),
            ("postgres://u@127.0.0.1/e?sslmode=require", SslMode::Require),
        ] {
            assert_eq!(prepare(url).expect(url).ssl_mode, mode, "{url}");
        }
    }

    #[test]
    fn remote_hosts_default_to_verify_full() {
        // Whether the system has roots decides only if this succeeds; it never
        // falls back to anything weaker.
        match prepare("postgres://u@db.example.com/e") {
            Ok(c) => assert_eq!(c.ssl_mode, SslMode::VerifyFull),
            Err(e) => assert!(e.to_string().contains("sslrootcert"), "{e}"),
        }
    }

    #[test]
    fn bad_options_are_named() {
        assert!(refusal("postgres://u@localhost/e?sslmode=allow").contains("sslmode"));
        let message =
            refusal("postgres://u@db/e?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem");
        assert!(message.contains("sslrootcert"), "{message}");
    }

    #[test]
    fn tls_options_are_taken_out_and_the_rest_kept() {
        let (rest, mode, root) = split_tls_options(
            "postgres://u@h/db?application_name=x&sslmode=verify-ca&sslrootcert=%2Fca%20dir%2Fca.pem",
        );
        assert_eq!(rest, "postgres://u@h/db?application_name=x");
        assert_eq!(mode.as_deref(), Some("verify-ca"));
        assert_eq!(root.as_deref(), Some("/ca dir/ca.pem"));
        let (rest, mode, _) = split_tls_options("host=h sslmode=require user=u");
        assert_eq!(rest, "host=h user=u");
        assert_eq!(mode.as_deref(), Some("require"));
    }
}

//! `evident serve`: the server, on the embedded store or PostgreSQL, over HTTP or
//! HTTPS. Its settings come from flags, EVIDENT_* variables and `--config FILE`
//! (`crate::config`), checked before the store is opened.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use evident_server::auth::{Principal, Role};
use evident_server::datadir::{self, SecretPaths};
use evident_store::sqlite::SqliteOptions;
use evident_store::Store;

use crate::config::{ConfigError, DatabaseUrl, Flags, ServeConfig};
use crate::Cli;

/// Where `--demo` keeps its store: never the real one.
pub const DEMO_DIR: &str = "./evident-demo";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Check the configuration (TLS files, patterns, ranges), print it with secrets
    /// redacted and where each value came from, and exit.
    #[arg(long)]
    pub check_config: bool,
    /// Address to listen on (port 0 picks a free one) [default: 127.0.0.1:8081]
    /// [env: EVIDENT_LISTEN].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Load realistic sample agent runs into ./evident-demo and serve that.
    #[arg(long)]
    pub demo: bool,
    /// The origin line of a new log; an existing log's must match
    /// [env: EVIDENT_ORIGIN].
    #[arg(long)]
    pub origin: Option<String>,
    /// Largest request body in bytes [default: 16 MiB] [env: EVIDENT_MAX_BODY_BYTES].
    #[arg(long, value_name = "BYTES")]
    pub max_body_bytes: Option<u64>,
    /// Milliseconds between two checkpoints, 10 to 1000 [default: 200]
    /// [env: EVIDENT_CHECKPOINT_INTERVAL_MS].
    #[arg(long, value_name = "MS")]
    pub checkpoint_interval_ms: Option<u64>,
    /// Refuse writes that would grow the database beyond this many bytes
    /// [env: EVIDENT_MAX_DB_BYTES].
    #[arg(long, value_name = "BYTES")]
    pub max_db_bytes: Option<u64>,
    /// Where to serve OTLP/gRPC (TraceService/Export), or `off`. Default
    /// 127.0.0.1:4317; if that port is taken, serve goes on without OTLP/gRPC
    /// [env: EVIDENT_OTLP_GRPC_LISTEN].
    #[arg(long, value_name = "ADDR|off")]
    pub otlp_grpc_listen: Option<String>,
    /// Serve the API over HTTPS with this PEM certificate chain (with --tls-key;
    /// SIGHUP reloads both) [env: EVIDENT_TLS_CERT].
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert [env: EVIDENT_TLS_KEY].
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
}

impl Args {
    /// The command line's layer of the configuration.
    fn flags(&self, cli: &Cli) -> Flags {
        Flags {
            listen: self.listen,
            origin: self.origin.clone(),
            max_body_bytes: self.max_body_bytes,
            checkpoint_interval_ms: self.checkpoint_interval_ms,
            max_db_bytes: self.max_db_bytes,
            otlp_grpc_listen: self.otlp_grpc_listen.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            ..Flags::globals(cli)
        }
    }
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<()> {
    let config = ServeConfig::load(args.flags(cli), &crate::config::process_env)?;
    if args.check_config {
        std::io::stdout().write_all(config.to_string().as_bytes())?;
        return Ok(());
    }
    tracing::info!(?config, "configuration");
    if args.demo {
        refuse_configured_store(&config)?;
    }
    let data: PathBuf = if args.demo {
        DEMO_DIR.into()
    } else {
        config.data_dir.clone()
    };
    let options = SqliteOptions {
        max_size_bytes: config.max_db_bytes,
        ..SqliteOptions::default()
    };
    let database_url = config.database_url.as_ref().map(DatabaseUrl::expose);
    let store: Arc<dyn Store> = crate::local::open_at(database_url, &data, &options).await?;
    let mut paths = SecretPaths::new(&data, config.signing_key_file.as_deref());
    if let Some(master_key_file) = &config.master_key_file {
        paths.master_key.clone_from(master_key_file);
    }
    let init = datadir::initialize(&*store, &paths, config.origin.as_deref()).await?;
    if let Some(wanted) = config.origin.as_deref().filter(|o| *o != init.origin) {
        return Err(ConfigError {
            key: config.key("origin").to_owned(),
            reason: format!(
                "this log's origin is {:?}, not {wanted:?} (a log's origin never changes)",
                init.origin
            ),
        }
        .into());
    }
    super::init::print_initialized(&init, &data);
    if args.demo {
        remember_demo_key(&data, init.admin_key.as_deref())?;
    }
    let app = crate::local::start_app_at(
        store.clone(),
        database_url.is_none(),
        &data,
        &paths,
        config.server_settings(),
        crate::local::Tasks::All,
    )
    .await?;
    if args.demo && store.tree_head().await?.size == 0 {
        let events = crate::demo::generate(42, 40);
        let count = events.len();
        let principal = Principal {
            name: "demo-loader".into(),
            role: Role::Admin,
            agents: evident_store::AgentBinding::Any,
        };
        evident_server::ingest::ingest(&app, &principal, events)
            .await
            .map_err(|e| anyhow::anyhow!("loading the demo: {}", e.detail))?;
        println!("loaded {count} demo events");
    }
    // After the demo's events: the demo loads only into an empty log.
    record_configuration(&app, &config).await?;
    // Tiers below their legal floors got here only by an explicit override, which the
    // log records (CONTRACT section 1, `config_change`).
    if config.retention.override_floors {
        let violations = evident_server::retention::floor_violations(&config.retention);
        evident_server::retention::record_floor_override(&app, &violations).await?;
    }
    evident_server::retention::spawn_background(app.clone(), config.retention.clone());
    // Before anything says it listens: a SIGTERM from then on stops every server.
    evident_server::serve::listen_for_shutdown();
    if let Some(grpc_listener) = config.otlp_grpc_listen.bind().await? {
        println!("OTLP/gRPC listening on {}", grpc_listener.local_addr()?);
        evident_server::otlp::grpc::spawn(app.clone(), grpc_listener);
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {} ({})", config.listen, config.key("listen")))?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    println!("listening on {scheme}://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    match config.tls {
        Some(tls) => evident_server::serve::serve_tls(app, listener, tls).await,
        None => evident_server::serve::serve(app, listener).await,
    }
}

/// The settings that name a real store or a real key. `--demo` never touches one:
/// given together, it is a usage error rather than a demo written into production.
const REAL_STORE_KEYS: [&str; 4] = [
    "data_dir",
    "database_url",
    "signing_key_file",
    "master_key_file",
];

/// Refuses `--demo` with any setting (flag, variable or config file) that names a
/// store or a key.
fn refuse_configured_store(config: &ServeConfig) -> Result<(), ConfigError> {
    match REAL_STORE_KEYS.iter().find_map(|key| config.set_by(key)) {
        Some(name) => Err(ConfigError {
            key: name.to_owned(),
            reason: format!(
                "--demo never touches a configured store or key; it keeps its own store and \
                 keys in {DEMO_DIR}: drop {name} or --demo"
            ),
        }),
        None => Ok(()),
    }
}

/// Logs a `config_change` if the effective configuration (as `--check-config` shows
/// it, secrets redacted) differs from the one last recorded; where each value came
/// from is not part of it.
async fn record_configuration(
    app: &evident_server::App,
    config: &ServeConfig,
) -> anyhow::Result<()> {
    let shown = config.to_string();
    let entries = shown
        .lines()
        .filter_map(|line| {
            let (key, rest) = line.split_once(" = ")?;
            let value = rest.rsplit_once("  # ").map_or(rest, |(value, _)| value);
            Some((key.to_owned(), value.to_owned()))
        })
        .collect();
    if let Some(event) = evident_server::configuration::record_if_changed(app, &entries).await? {
        tracing::info!(seq = event.seq, "configuration change recorded");
    }
    Ok(())
}

/// The demo store is for trying things out: its admin key is kept in a file beside it
/// and printed at every start, so a second `serve --demo` is as usable as the first.
/// A real store never does this.
fn remember_demo_key(data: &std::path::Path, created: Option<&str>) -> anyhow::Result<()> {
    let file = data.join("DEMO_ADMIN_KEY");
    if let Some(key) = created {
        std::fs::write(&file, key)?;
    } else if let Ok(key) = std::fs::read_to_string(&file) {
        println!("demo admin API key: {}", key.trim());
    }
    Ok(())
}

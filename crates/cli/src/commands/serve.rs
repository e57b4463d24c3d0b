//! `evident serve`: the server on the embedded store.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use evident_server::auth::{Principal, Role};
use evident_server::datadir::{self, SecretPaths};
use evident_server::state::Settings;
use evident_store::sqlite::SqliteOptions;
use evident_store::Store;

use crate::Cli;

/// Where `--demo` keeps its store: never the real one.
pub const DEMO_DIR: &str = "./evident-demo";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// Load realistic sample agent runs into ./evident-demo and serve that.
    #[arg(long)]
    pub demo: bool,
    /// The origin line of a new log.
    #[arg(long)]
    pub origin: Option<String>,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = evident_server::state::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Milliseconds between two checkpoints (at most 1000 keeps the contract).
    #[arg(long, default_value_t = 200)]
    pub checkpoint_interval_ms: u64,
    /// Refuse writes that would grow the database beyond this many bytes.
    #[arg(long)]
    pub max_db_bytes: Option<u64>,
    /// Where to serve OTLP/gRPC (TraceService/Export), or `off`. Default
    /// 127.0.0.1:4317; if that port is taken, serve goes on without OTLP/gRPC.
    #[arg(long, value_name = "ADDR|off")]
    pub otlp_grpc_listen: Option<String>,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<()> {
    let data: PathBuf = if args.demo {
        DEMO_DIR.into()
    } else {
        cli.data.clone()
    };
    let options = SqliteOptions {
        max_size_bytes: args.max_db_bytes,
    };
    let store: Arc<dyn Store> = crate::local::open(cli, &data, &options).await?;
    let paths = SecretPaths::new(&data, cli.signing_key_file.as_deref());
    let init = datadir::initialize(&*store, &paths, args.origin.as_deref()).await?;
    super::init::print_initialized(&init, &data);
    if args.demo {
        remember_demo_key(&data, init.admin_key.as_deref())?;
    }
    let settings = Settings {
        max_body_bytes: args.max_body_bytes,
        checkpoint_interval: Duration::from_millis(args.checkpoint_interval_ms.clamp(10, 1000)),
        ..Settings::default()
    };
    let app = crate::local::start_app(store.clone(), cli, &data, settings).await?;
    if args.demo && store.tree_head().await?.size == 0 {
        let events = crate::demo::generate(42, 40);
        let count = events.len();
        let principal = Principal {
            name: "demo-loader".into(),
            role: Role::Admin,
            agents: Vec::new(),
        };
        evident_server::ingest::ingest(&app, &principal, events)
            .await
            .map_err(|e| anyhow::anyhow!("loading the demo: {}", e.detail))?;
        println!("loaded {count} demo events");
    }
    let otlp_grpc =
        evident_server::otlp::grpc::GrpcListen::parse(args.otlp_grpc_listen.as_deref())?;
    if let Some(grpc_listener) = otlp_grpc.bind().await? {
        println!("OTLP/gRPC listening on {}", grpc_listener.local_addr()?);
        evident_server::otlp::grpc::spawn(app.clone(), grpc_listener);
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    evident_server::serve::serve(app, listener).await
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

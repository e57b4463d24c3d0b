//! `evident`: the command line (CONTRACT section 7). Thin: raw args → settings →
//! one module per subcommand, each calling the server crate's services.
//!
//! Exit codes: 0 all holds, 1 a check failed, 2 usage or I/O error.

mod commands;
mod config;
mod demo;
mod local;
mod remote;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Evident: a tamper-evident audit trail for AI agents.
#[derive(Debug, Parser)]
#[command(name = "evident", version, about)]
pub struct Cli {
    /// The embedded store's data dir.
    #[arg(
        long,
        global = true,
        default_value = "./evident-data",
        env = "EVIDENT_DATA"
    )]
    pub data: PathBuf,
    /// PostgreSQL instead of the embedded store (`postgres://user@host/db`).
    #[arg(
        long,
        global = true,
        env = "EVIDENT_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// A running server to talk to instead of a local store (ingest, verify,
    /// checkpoint, prove, erase, trace, search, artifacts, approvals, policy, export; the other commands refuse it).
    #[arg(long, global = true, env = "EVIDENT_SERVER")]
    pub server: Option<String>,
    /// API key for --server.
    #[arg(long, global = true, env = "EVIDENT_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// The log's signing key, if kept outside the data dir.
    #[arg(long, global = true, env = "EVIDENT_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,
    /// A TOML file with the settings (every key: docs/deployment.md), read by every
    /// command that opens a store; flags and EVIDENT_* variables override it.
    #[arg(long, global = true, value_name = "FILE", env = "EVIDENT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the global values came from (flag, environment or default), so that
    /// they take precedence over the config file and flags a command cannot honour
    /// are refused.
    #[arg(skip)]
    pub sources: config::GlobalSources,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (initialising a new store on first start).
    Serve(commands::serve::Args),
    /// Create the store, signing key and admin key; print the verifier key.
    Init(commands::init::Args),
    /// Manage API keys (works while `serve` runs).
    #[command(subcommand)]
    Keys(commands::keys::KeysCommand),
    /// Append NDJSON events from a file or `-` (stdin).
    Ingest(commands::ingest::Args),
    /// Recompute and check the whole log.
    Verify(commands::verify::Args),
    /// Print the latest signed checkpoint.
    Checkpoint,
    /// Print an inclusion proof of an event.
    Prove(commands::prove::Args),
    /// Erase a subject by destroying its key (crypto-shredding).
    Erase(commands::erase::Args),
    /// Bring the schema up to date; grant a PostgreSQL role what a server needs.
    Migrate(commands::migrate::Args),
    /// Copy an embedded log into PostgreSQL, proving both trees equal.
    Copy(commands::copy::Args),
    /// Benchmark a real server on a fresh data dir with a realistic workload.
    Bench(commands::bench::Args),
    /// Show a trace as a tree.
    Trace(commands::trail::TraceArgs),
    /// Search events (same filters as the API).
    Search(commands::trail::SearchArgs),
    /// The artifact registry: publish versions, read them (also as they were).
    #[command(subcommand)]
    Artifacts(commands::artifacts::ArtifactsCommand),
    /// Human approvals: the queue, and resolving a request.
    #[command(subcommand)]
    Approvals(commands::approvals::ApprovalsCommand),
    /// Policy sets on Cedar: publish, roll back, list, test a file, replay a decision.
    #[command(subcommand)]
    Policy(commands::policy::PolicyCommand),
    /// Retention: purge what expired under the configured tiers.
    #[command(subcommand)]
    Retention(commands::retention::RetentionCommand),
    /// Export an evidence bundle: the entries of a trace, subject, job or case with
    /// their proofs, payloads, artifacts and policies, checkable offline.
    Export(commands::export::Args),
    /// Check an evidence bundle offline (no store, no server, no network).
    VerifyBundle(commands::export::VerifyArgs),
    /// Run a C2SP tlog-witness that cosigns a log's checkpoints (or make its key).
    Witness(commands::witness::Args),
}

/// A check that did not hold (exit 1), as opposed to an error (exit 2).
#[derive(Debug)]
pub struct CheckFailed(pub String);

impl std::fmt::Display for CheckFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CheckFailed {}

/// mimalloc instead of the system allocator: per-thread free lists make the many small
/// short-lived allocations of JSON handling cheap (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let parsed = Cli::command().try_get_matches().and_then(|matches| {
        let mut cli = Cli::from_arg_matches(&matches)?;
        cli.sources = config::GlobalSources::of(&matches);
        Ok(cli)
    });
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EVIDENT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("evident: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<CheckFailed>().is_some() => {
            eprintln!("FAILED: {e}");
            ExitCode::from(1)
        }
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("evident: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

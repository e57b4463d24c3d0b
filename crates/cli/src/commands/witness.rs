//! `evident witness`: run a C2SP tlog-witness (`evident_server::witness`), and
//! `evident witness keygen`: make its Ed25519 cosigner key.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use evident_tlog::witness::CosignatureSigner;

use crate::config::ConfigError;

/// The witness's default address: beside the API's 8081.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8082";

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<WitnessCommand>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum WitnessCommand {
    /// Generate a cosigner key: the private key goes to FILE (mode 0600, never
    /// overwritten), the verifier key is printed.
    Keygen {
        /// The witness's key name, e.g. `witness.example.com/w1` (no spaces or '+').
        #[arg(long)]
        name: String,
        /// Where to write the private key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// A log verifier key to accept checkpoints from (repeat for several logs, or
    /// for a log's old and new keys).
    #[arg(long = "log-key", value_name = "VKEY")]
    pub log_keys: Vec<String>,
    /// The witness's private key (from `evident witness keygen`).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Where the witness keeps the latest tree head of each log.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
}

pub async fn run(args: &Args) -> anyhow::Result<()> {
    match &args.command {
        Some(WitnessCommand::Keygen { name, key }) => keygen(name, key),
        None => serve(&args.run).await,
    }
}

fn keygen(name: &str, path: &Path) -> anyhow::Result<()> {
    let (private, verifier) =
        CosignatureSigner::generate(name).map_err(|e| ConfigError::new("--name", e.to_string()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(format!("{private}\n").as_bytes())?;
    file.sync_all()?;
    println!("{verifier}");
    Ok(())
}

async fn serve(args: &RunArgs) -> anyhow::Result<()> {
    if args.log_keys.is_empty() {
        return Err(
            ConfigError::new("--log-key", "at least one log verifier key is needed").into(),
        );
    }
    let key_file = args
        .key
        .as_ref()
        .ok_or_else(|| ConfigError::new("--key", "the witness's private key file is needed"))?;
    let state = args
        .state
        .as_ref()
        .ok_or_else(|| ConfigError::new("--state", "the witness's state directory is needed"))?;
    let private = std::fs::read_to_string(key_file)
        .with_context(|| format!("reading {}", key_file.display()))?;
    let signer = CosignatureSigner::new(&private)
        .map_err(|e| ConfigError::new("--key", format!("{}: {e}", key_file.display())))?;
    let witness = evident_server::witness::Witness::open(signer, &args.log_keys, state)
        .map_err(|e| ConfigError::new("--log-key/--state", e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    println!("witness verifier key: {}", witness.verifier_key());
    println!("listening on http://{}", listener.local_addr()?);
    evident_server::witness::serve(Arc::new(witness), listener).await
}

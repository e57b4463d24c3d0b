//! One module per subcommand.

pub mod approvals;
pub mod artifacts;
pub mod bench;
pub mod copy;
pub mod erase;
pub mod export;
pub mod ingest;
pub mod init;
pub mod keys;
pub mod migrate;
pub mod policy;
pub mod prove;
pub mod reach;
pub mod retention;
pub mod serve;
pub mod trail;
pub mod verify;
pub mod verify_remote;
pub mod witness;

use crate::config::{process_env, ConfigError, StoreConfig};
use crate::{Cli, Command};

/// Runs the parsed command line, once the flags the command cannot honour are refused.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    reach::check(&cli)?;
    match &cli.command {
        Command::Serve(args) => serve::run(&cli, args).await,
        Command::Init(args) => init::run(&cli, args).await,
        Command::Keys(command) => keys::run(&cli, command).await,
        Command::Ingest(args) => ingest::run(&cli, args).await,
        Command::Verify(args) => verify::run(&cli, args).await,
        Command::Checkpoint => prove::checkpoint(&cli).await,
        Command::Prove(args) => prove::run(&cli, args).await,
        Command::Erase(args) => erase::run(&cli, args).await,
        Command::Migrate(args) => migrate::run(&cli, args).await,
        Command::Copy(args) => copy::run(&cli, args).await,
        Command::Bench(args) => bench::run(&cli, args).await,
        Command::Trace(args) => trail::trace(&cli, args).await,
        Command::Search(args) => trail::search(&cli, args).await,
        Command::Artifacts(command) => artifacts::run(&cli, command).await,
        Command::Approvals(command) => approvals::run(&cli, command).await,
        Command::Policy(command) => policy::run(&cli, command).await,
        Command::Retention(command) => retention::run(&cli, command).await,
        Command::Export(args) => export::run(&cli, args).await,
        Command::VerifyBundle(args) => export::verify(args),
        Command::Witness(args) => witness::run(args).await,
    }
}

/// The configured store of a command that opens one (flags, environment, `--config`).
///
/// # Errors
/// A configuration that cannot be used (a usage error: exit 2).
pub fn store_config(cli: &Cli) -> Result<StoreConfig, ConfigError> {
    StoreConfig::load(cli, None, &process_env)
}

/// `true` when progress bars may be drawn (stderr is a terminal).
pub fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

/// A progress bar on a terminal, hidden otherwise.
pub fn progress_bar(total: u64, what: &str) -> indicatif::ProgressBar {
    if !interactive() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

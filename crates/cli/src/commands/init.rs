//! `evident init`: create the store, the signing key and the first admin key.

use evident_server::datadir::{self, SecretPaths};
use evident_store::sqlite::SqliteOptions;

use crate::Cli;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The log's origin line (and key name), e.g. `audit.example.com/log`.
    #[arg(long)]
    pub origin: Option<String>,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<()> {
    let store = crate::local::open(cli, &cli.data, &SqliteOptions::default()).await?;
    let paths = SecretPaths::new(&cli.data, cli.signing_key_file.as_deref());
    let init = datadir::initialize(&*store, &paths, args.origin.as_deref()).await?;
    print_initialized(&init, &cli.data);
    Ok(())
}

/// Tells the user what was created; the admin key is shown this once.
pub fn print_initialized(init: &datadir::Initialized, data: &std::path::Path) {
    if init.created {
        println!("created a new log in {}", data.display());
        if let Some(key) = &init.admin_key {
            println!("admin API key (shown once, keep it safe): {key}");
        }
    } else {
        println!("the log in {} already exists", data.display());
    }
    println!("origin: {}", init.origin);
    println!("verifier key: {}", init.verifier_key);
}

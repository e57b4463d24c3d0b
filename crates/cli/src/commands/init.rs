//! `evident init`: create the store, the signing key and the first admin key.

use evident_server::datadir;

use crate::config::{process_env, StoreConfig};
use crate::Cli;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The log's origin line (and key name), e.g. `audit.example.com/log`.
    #[arg(long)]
    pub origin: Option<String>,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<()> {
    let config = StoreConfig::load(cli, args.origin.clone(), &process_env)?;
    let store = crate::local::open(&config).await?;
    let init =
        datadir::initialize(&*store, &config.secret_paths(), config.origin.as_deref()).await?;
    print_initialized(&init, &config.data_dir);
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

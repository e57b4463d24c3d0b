//! `evident migrate [--grant-to ROLE]`: bring the store's schema up to date (servers
//! also do this at start), and with PostgreSQL grant an application role what a
//! server needs: INSERT and SELECT only on the log's tables.

use crate::Cli;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// PostgreSQL: the role `evident serve` connects as.
    #[arg(long)]
    pub grant_to: Option<String>,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<()> {
    let config = super::store_config(cli)?;
    match &config.database_url {
        Some(url) => {
            let store = evident_store::postgres::PgStore::connect(url.expose()).await?;
            println!("the PostgreSQL schema is up to date");
            if let Some(role) = &args.grant_to {
                store.grant_to(role).await?;
                println!("granted {role} INSERT and SELECT on the log's tables");
            }
        }
        None => {
            anyhow::ensure!(args.grant_to.is_none(), "--grant-to needs --database-url");
            crate::local::open(&config).await?;
            println!("the store in {} is up to date", config.data_dir.display());
        }
    }
    Ok(())
}

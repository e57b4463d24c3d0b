//! `evident copy --from DIR --to postgres://...`: move an embedded log into PostgreSQL
//! and prove both trees equal: the destination is verified from its entries up, and
//! its root and latest checkpoint must be the source's.

use evident_store::LogStore;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use evident_server::datadir::{self, SecretPaths};

use crate::config::{process_env, StoreConfig};
use evident_store::postgres::PgStore;
use evident_store::sqlite::SqliteStore;
use evident_store::Store;

use crate::{CheckFailed, Cli};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The embedded store's data dir.
    #[arg(long)]
    pub from: PathBuf,
    /// The PostgreSQL database (empty) to copy into.
    #[arg(long)]
    pub to: String,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<()> {
    // Checked before anything is copied: a configuration error stops here.
    let paths = source_secrets(cli, args)?;
    let db_file = args.from.join(evident_store::sqlite::DB_FILE);
    anyhow::ensure!(db_file.exists(), "no store at {}", args.from.display());
    let source = SqliteStore::open(&args.from, &Default::default())?;
    let source_head = source.tree_head().await?;
    let source_checkpoint = source.latest_checkpoint().await?;
    let destination = Arc::new(
        PgStore::connect(&args.to)
            .await
            .context("connecting to PostgreSQL")?,
    );
    let bar = super::progress_bar(1, "copying");
    let report = evident_store::copy::copy_sqlite_to_postgres(&db_file, &destination).await?;
    bar.finish_and_clear();
    println!(
        "copied {} entries, {} blobs, {} tiles and {} checkpoints",
        report.entries, report.blobs, report.tiles, report.checkpoints
    );

    // Prove both trees equal: same head, same latest checkpoint, and the destination
    // recomputes to it from its own entries.
    let head = destination.tree_head().await?;
    if head != source_head {
        return Err(
            CheckFailed("the destination's tree head differs from the source's".into()).into(),
        );
    }
    if destination.latest_checkpoint().await? != source_checkpoint {
        return Err(CheckFailed(
            "the destination's latest checkpoint differs from the source's".into(),
        )
        .into());
    }
    let secrets = datadir::load(&*destination, &paths).await?;
    let shared: Arc<dyn Store> = destination.clone();
    let vault = evident_server::vault::Vault::new(shared, secrets.master, None);
    let verified = evident_server::verifier::verify_store(
        &*destination,
        &vault,
        evident_server::signing::verifier_keys(&*destination).await?,
        &[],
        // The copy is a fresh PostgreSQL database, which checks its own pages.
        evident_server::verifier::Depth::Log,
        &|_, _| {},
    )
    .await
    .map_err(|e| CheckFailed(format!("the copy does not verify: {e}")))?;
    println!(
        "both trees are equal: {} entries, root {}; the copy verifies from its entries up",
        verified.tree_size,
        verified.root.to_base64()
    );
    println!(
        "serve it with: evident serve --database-url <URL> --data {} (the secrets stay in the data dir)",
        args.from.display()
    );
    Ok(())
}

/// The source log's secrets: under `--from`, unless `--signing-key-file`, the
/// environment or the config file put the key files elsewhere (its store settings do
/// not apply: `--from` and `--to` name both stores).
fn source_secrets(cli: &Cli, args: &Args) -> anyhow::Result<SecretPaths> {
    let config = StoreConfig::load(cli, None, &process_env)?;
    let mut paths = SecretPaths::new(&args.from, config.signing_key_file.as_deref());
    if let Some(master_key_file) = config.master_key_file {
        paths.master_key = master_key_file;
    }
    Ok(paths)
}

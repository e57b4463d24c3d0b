//! Opening the store (the embedded one in `--data`, or PostgreSQL with
//! `--database-url`) and the log's secrets.
//!
//! With PostgreSQL the secrets still come from the data dir (`<data>/secrets`), and
//! every server of one log must hold the same ones (see docs/deployment.md).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use evident_server::datadir::{self, SecretPaths};
use evident_server::state::{App, Settings};
use evident_store::postgres::PgStore;
use evident_store::sqlite::{SqliteOptions, SqliteStore};
use evident_store::Store;

use crate::Cli;

/// Opens the store the command line names; fails if an embedded one was never
/// initialised.
pub async fn open_existing(cli: &Cli) -> anyhow::Result<Arc<dyn Store>> {
    if cli.database_url.is_none() && !cli.data.join(evident_store::sqlite::DB_FILE).exists() {
        anyhow::bail!(
            "no store at {}; run `evident init --data {0}` or `evident serve --data {0}` first",
            cli.data.display()
        );
    }
    open(cli, &cli.data, &SqliteOptions::default()).await
}

/// Opens (creating and migrating if needed) the store: PostgreSQL when
/// `--database-url` is given, else the embedded store in `data_dir`.
pub async fn open(
    cli: &Cli,
    data_dir: &Path,
    options: &SqliteOptions,
) -> anyhow::Result<Arc<dyn Store>> {
    open_at(cli.database_url.as_deref(), data_dir, options).await
}

/// [`open`] with the database URL given explicitly (`evident serve`, whose config
/// file may set it).
pub async fn open_at(
    database_url: Option<&str>,
    data_dir: &Path,
    options: &SqliteOptions,
) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = database_url {
        let store = PgStore::connect(url)
            .await
            .context("connecting to PostgreSQL")?;
        return Ok(Arc::new(store));
    }
    let store = SqliteStore::open(data_dir, options)
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    Ok(Arc::new(store))
}

/// Starts the application (sequencer, checkpointer if the key is here) on a store.
pub async fn start_app(
    store: Arc<dyn Store>,
    cli: &Cli,
    data_dir: &Path,
    settings: Settings,
) -> anyhow::Result<Arc<App>> {
    let paths = SecretPaths::new(data_dir, cli.signing_key_file.as_deref());
    let embedded = cli.database_url.is_none();
    start_app_at(store, embedded, data_dir, &paths, settings).await
}

/// [`start_app`] with the secrets' paths and the kind of store given explicitly
/// (`evident serve`, whose config file may set them).
pub async fn start_app_at(
    store: Arc<dyn Store>,
    embedded: bool,
    data_dir: &Path,
    paths: &SecretPaths,
    mut settings: Settings,
) -> anyhow::Result<Arc<App>> {
    if embedded {
        settings.checkpoint_file = Some(datadir::checkpoint_file(data_dir));
    }
    settings.master_key_file = Some(paths.master_key.clone());
    let secrets = datadir::load(&*store, paths).await?;
    Ok(App::start(store, secrets, settings))
}

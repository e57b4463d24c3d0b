//! Opening the store (the embedded one in `--data`, or PostgreSQL with
//! `--database-url`) and the log's secrets, as the configuration says
//! ([`StoreConfig`]: flags, environment, `--config` file).
//!
//! With PostgreSQL the secrets still come from the data dir (`<data>/secrets`) unless
//! configured elsewhere, and every server of one log must hold the same ones (see
//! docs/deployment.md).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use evident_server::datadir::{self, SecretPaths};
use evident_server::state::{App, Settings};
use evident_store::postgres::PgStore;
use evident_store::sqlite::{SqliteOptions, SqliteStore};
use evident_store::Store;

use crate::config::{DatabaseUrl, StoreConfig};

/// Opens the configured store; fails if an embedded one was never initialised.
pub async fn open_existing(config: &StoreConfig) -> anyhow::Result<Arc<dyn Store>> {
    if config.database_url.is_none()
        && !config
            .data_dir
            .join(evident_store::sqlite::DB_FILE)
            .exists()
    {
        anyhow::bail!(
            "no store at {}; run `evident init --data {0}` or `evident serve --data {0}` first",
            config.data_dir.display()
        );
    }
    open(config).await
}

/// Opens (creating and migrating if needed) the configured store.
pub async fn open(config: &StoreConfig) -> anyhow::Result<Arc<dyn Store>> {
    open_at(
        config.database_url.as_ref().map(DatabaseUrl::expose),
        &config.data_dir,
        &config.sqlite_options(),
    )
    .await
}

/// Opens (creating and migrating if needed) the store: PostgreSQL when a database
/// URL is given, else the embedded store in `data_dir`.
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

/// Which of the application's background tasks a command needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tasks {
    /// Sequencer, checkpointer (if the signing key is here), indexer, upload sweeper:
    /// for commands that write (`serve`, `ingest`, `erase`).
    All,
    /// None, and no signing key: for commands that only read (`trace`, `search`).
    ReadOnly,
}

/// Starts the application on the configured store, with its secrets, detectors and
/// the tasks asked for.
pub async fn start_app(
    store: Arc<dyn Store>,
    config: &StoreConfig,
    tasks: Tasks,
) -> anyhow::Result<Arc<App>> {
    start_app_at(
        store,
        config.database_url.is_none(),
        &config.data_dir,
        &config.secret_paths(),
        config.settings(),
        tasks,
    )
    .await
}

/// [`start_app`] with everything given explicitly (`evident serve`, whose data dir
/// may be the demo's).
pub async fn start_app_at(
    store: Arc<dyn Store>,
    embedded: bool,
    data_dir: &Path,
    paths: &SecretPaths,
    mut settings: Settings,
    tasks: Tasks,
) -> anyhow::Result<Arc<App>> {
    if embedded {
        settings.checkpoint_file = Some(datadir::checkpoint_file(data_dir));
    }
    settings.master_key_file = Some(paths.master_key.clone());
    let secrets = datadir::load(&*store, paths).await?;
    Ok(match tasks {
        Tasks::All => App::start(store, secrets, settings),
        Tasks::ReadOnly => App::read_only(store, secrets, settings),
    })
}

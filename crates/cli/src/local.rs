//! Opening the local embedded store and its identity.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use evident_server::datadir::{self, SecretPaths};
use evident_server::state::{App, Settings};
use evident_store::sqlite::{SqliteOptions, SqliteStore};
use evident_store::Store;

/// Opens the store in `data_dir`; fails if it was never initialised.
pub fn open_existing(data_dir: &Path) -> anyhow::Result<SqliteStore> {
    if !data_dir.join(evident_store::sqlite::DB_FILE).exists() {
        anyhow::bail!(
            "no store at {}; run `evident init --data {0}` or `evident serve --data {0}` first",
            data_dir.display()
        );
    }
    open(data_dir, &SqliteOptions::default())
}

/// Opens (creating if needed) the store in `data_dir`.
pub fn open(data_dir: &Path, options: &SqliteOptions) -> anyhow::Result<SqliteStore> {
    SqliteStore::open(data_dir, options)
        .with_context(|| format!("opening the store in {}", data_dir.display()))
}

/// Starts the application (sequencer, checkpointer if the key is here) on a store.
pub async fn start_app(
    store: Arc<dyn Store>,
    data_dir: &Path,
    signing_key_file: Option<&Path>,
    mut settings: Settings,
) -> anyhow::Result<Arc<App>> {
    settings.checkpoint_file = Some(datadir::checkpoint_file(data_dir));
    settings.master_key_file = Some(SecretPaths::new(data_dir, signing_key_file).master_key);
    let paths = SecretPaths::new(data_dir, signing_key_file);
    let secrets = datadir::load(&*store, &paths).await?;
    Ok(App::start(store, secrets, settings))
}

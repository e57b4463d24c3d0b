//! `evident verify`: recompute every leaf, the tree, every checkpoint signature, every
//! blob commitment, the back-links and the derived indexes (the backend's own integrity
//! check, SQLite `PRAGMA integrity_check` or PostgreSQL `amcheck`, among them unless
//! `--quick`; said plainly when it could not run); exit 1 naming the first bad `seq`.

use std::path::PathBuf;

use anyhow::Context;
use evident_core::verify::VerifierKeys;
use evident_server::datadir;
use evident_server::verifier::{verify_store, Depth};
use evident_store::{IntegrityCheck, Store};

use crate::config::StoreConfig;
use crate::{CheckFailed, Cli};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A checkpoint saved earlier: prove the log is consistent with it.
    #[arg(long)]
    pub against: Option<PathBuf>,
    /// The verifier key to trust (default: the keys the store records, each for the
    /// checkpoints from the size at which it took over; one of those may be given).
    #[arg(long)]
    pub key: Option<String>,
    /// Skip the database's own integrity check (SQLite `PRAGMA integrity_check`: every
    /// page read, every index and the full-text index compared with their tables;
    /// PostgreSQL: `amcheck` on every table and B-tree index).
    /// Every leaf, the tree, the checkpoints, the blobs and the index columns are still
    /// recomputed; what goes unchecked is damage that would make queries miss entries.
    /// About 40% less CPU.
    #[arg(long)]
    pub quick: bool,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<()> {
    if cli.server.is_some() {
        anyhow::ensure!(
            !args.quick,
            "--quick is about checking a database: it needs --data or --database-url, not --server"
        );
        return crate::commands::verify_remote::run(cli, args).await;
    }
    let against = args
        .against
        .as_ref()
        .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
        .transpose()?;
    // A configuration that cannot be used is a usage error (exit 2), not a finding.
    let config = super::store_config(cli)?;
    if config.database_url.is_none()
        && !config
            .data_dir
            .join(evident_store::sqlite::DB_FILE)
            .exists()
    {
        anyhow::bail!("no store at {}", config.data_dir.display());
    }
    // The store is what is being checked: failing to open it is a failed check.
    let store = crate::local::open_existing(&config)
        .await
        .map_err(|e| CheckFailed(format!("{e:#}")))?;
    // From here on the store is what is being checked: any failure to read it is a
    // failed check (exit 1), not a usage error.
    check(&config, args, store, against.as_deref())
        .await
        .map_err(|e| match e.downcast::<CheckFailed>() {
            Ok(failed) => failed.into(),
            Err(other) => CheckFailed(format!("{other:#}")).into(),
        })
}

async fn check(
    config: &StoreConfig,
    args: &Args,
    store: std::sync::Arc<dyn Store>,
    against: Option<&[u8]>,
) -> anyhow::Result<()> {
    // Every checkpoint is checked with the key in force at its size: the history of
    // signing keys the store records. A key given with --key replaces it unless it is
    // one of them (then the handover checkpoints carry trust in it to the others).
    let recorded = evident_server::signing::verifier_keys(&*store)
        .await
        .map_err(|e| CheckFailed(e.to_string()))?;
    let keys = match &args.key {
        Some(key) if !recorded.keys().iter().any(|(_, k)| k == key) => {
            VerifierKeys::one(key.as_str())
        }
        _ => recorded,
    };
    // The secrets must still be the ones the log was created with.
    let paths = config.secret_paths();
    let secrets = datadir::load(&*store, &paths)
        .await
        .map_err(|e| CheckFailed(format!("secrets: {e:#}")))?;
    let store_handle: std::sync::Arc<dyn Store> = store.clone();
    let vault = evident_server::vault::Vault::new(
        store_handle,
        secrets.master,
        Some(paths.master_key.clone()),
    );
    // The mirrored checkpoint: the database must still hold everything it covers.
    let mirrored = match std::fs::read(datadir::checkpoint_file(&config.data_dir)) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).context("reading the checkpoint file"),
    };
    let head = store.tree_head().await?;
    let bar = super::progress_bar(head.size, "verifying");
    let progress = |done: u64, _total: u64| bar.set_position(done);
    let saved: Vec<&[u8]> = against.into_iter().chain(mirrored.as_deref()).collect();
    let depth = if args.quick { Depth::Log } else { Depth::Full };
    let report = verify_store(&*store, &vault, keys.clone(), &saved, depth, &progress)
        .await
        .map_err(|e| CheckFailed(e.to_string()))?;
    bar.finish_and_clear();
    println!(
        "ok: {} entries, root {}, {} checkpoints and {} blobs verified",
        report.tree_size,
        report.root.to_base64(),
        report.checkpoints,
        report.blobs
    );
    match &report.integrity {
        Some(IntegrityCheck::Ran { what, .. }) => {
            println!("the database's own integrity check found nothing wrong ({what})");
        }
        Some(IntegrityCheck::Skipped { why }) => {
            println!("the database's own integrity check was skipped: {why}");
        }
        None => {}
    }
    if report.access_records > 0 {
        println!(
            "{} read-access records match the batches the log states",
            report.access_records
        );
    }
    let registry = report.registry;
    let governance_rows = registry.artifact_versions
        + registry.label_moves
        + registry.policy_versions
        + registry.policy_activations;
    if governance_rows > 0 {
        println!(
            "{} artifact versions, {} label moves, {} policy versions and {} policy activations match the entries that record them",
            registry.artifact_versions,
            registry.label_moves,
            registry.policy_versions,
            registry.policy_activations
        );
    }
    if report.purged_blobs > 0 {
        println!(
            "{} blobs were purged by retention (each recorded with its run)",
            report.purged_blobs
        );
    }
    if report.erased_blobs > 0 {
        println!(
            "{} blobs are erased (their subjects' keys were destroyed)",
            report.erased_blobs
        );
    }
    if let Some(note) = against {
        let saved = keys.open(note)?;
        println!(
            "consistent with the saved checkpoint of size {}",
            saved.size
        );
    }
    Ok(())
}

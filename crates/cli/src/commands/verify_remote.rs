//! `evident verify --server URL`: audit a running log as any tlog-tiles client would.
//!
//! Fetches the signed checkpoint, every entry bundle and the hash tiles (C2SP
//! tlog-tiles), and runs the same pure checks as `evident verify` on a store
//! (`evident_core::verify`): each entry canonical at its `seq`, its back-links, each
//! leaf and hash tile recomputed, the root at the checkpoint's size; with `--against`,
//! also that the saved checkpoint's root is the root of the first entries (the log only
//! grew). Blobs and index columns stay on the server: only a store's verify checks
//! them. Needs a reading role for the entry bundles.

use anyhow::Context;
use evident_core::verify::{
    check_entries, compare_tiles, open_saved, BackLinks, EntryInput, Found, IndexRow, RootSource,
    TreeCheck, VerifierKeys,
};
use evident_tlog::{decode_entry_bundle, entries_path, tile_path, TileMap, TILE_WIDTH};

use super::verify::Args;
use crate::remote::{get_text, success, Remote};
use crate::{CheckFailed, Cli};

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<()> {
    let server = cli.server.as_deref().context("--server is required")?;
    let remote = Remote::new(server, cli.api_key.as_deref())?;
    let info: serde_json::Value = serde_json::from_str(&get_text(&remote, "/api/v1/log").await?)?;
    let verifier_key = match &args.key {
        Some(key) => key.clone(),
        None => {
            eprintln!("note: trusting the verifier key the server reports; pass --key to pin it");
            info["verifier_key"]
                .as_str()
                .context("the server reports no verifier key")?
                .to_owned()
        }
    };
    let keys = VerifierKeys::one(verifier_key);
    let note = get_text(&remote, "/checkpoint").await?;
    let checkpoint = keys
        .open(note.as_bytes())
        .map_err(|e| CheckFailed(format!("the server's checkpoint does not verify: {e}")))?;
    let against = args
        .against
        .as_ref()
        .map(|p| -> anyhow::Result<_> {
            let text = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            open_saved(&keys, &text).map_err(|e| CheckFailed(e.to_string()).into())
        })
        .transpose()?;
    let mut tree = TreeCheck::new();
    let failed = |e: evident_core::verify::Failure| CheckFailed(e.to_string());
    tree.expect(
        checkpoint.size,
        checkpoint.root,
        RootSource::ServedCheckpoint,
    )
    .map_err(failed)?;
    if let Some(saved) = &against {
        if saved.size > checkpoint.size {
            return Err(CheckFailed(format!(
                "the saved checkpoint covers {} entries, the server's only {}: the log shrank",
                saved.size, checkpoint.size
            ))
            .into());
        }
        tree.expect(saved.size, saved.root, RootSource::SavedCheckpoint)
            .map_err(failed)?;
    }

    let bar = super::progress_bar(checkpoint.size, "verifying");
    let mut links = BackLinks::new();
    let width = u64::from(TILE_WIDTH);
    let mut start = 0u64;
    while start < checkpoint.size {
        let in_tile = (checkpoint.size - start).min(width);
        let path = format!(
            "/{}",
            entries_path(start / width, u16::try_from(in_tile).unwrap_or(TILE_WIDTH))
        );
        let bundle = fetch(&remote, &path).await?;
        let entries = decode_entry_bundle(&bundle)
            .map_err(|e| CheckFailed(format!("{path}: not an entry bundle: {e}")))?;
        if entries.len() as u64 != in_tile {
            return Err(CheckFailed(format!(
                "{path}: {} entries, expected {in_tile}",
                entries.len()
            ))
            .into());
        }
        let part = check_entries(
            start,
            entries.iter().enumerate().map(|(i, bytes)| EntryInput {
                seq: start + i as u64,
                bytes: Ok(bytes),
                index: IndexRow::NotKept,
            }),
        );
        let link_failure = links.check(start, &part.links);
        let extension = tree.extend(&part.leaves).map_err(failed)?;
        // The hash tiles the server serves (its proofs come from them) must be the
        // recomputed ones.
        let mut served = TileMap::new();
        for (id, data) in &extension.tiles {
            let tile_width =
                u16::try_from(data.len() / evident_tlog::HASH_SIZE).unwrap_or(TILE_WIDTH);
            let path = format!("/{}", tile_path(id.level, id.index, tile_width));
            served.insert(*id, fetch(&remote, &path).await?);
        }
        let found = [
            link_failure,
            extension.root_failure,
            compare_tiles(&extension.tiles, &served),
        ]
        .into_iter()
        .fold(part.failure, Found::first);
        if let Some(found) = found {
            return Err(CheckFailed(found.failure.to_string()).into());
        }
        start += in_tile;
        bar.set_position(start);
    }
    bar.finish_and_clear();
    println!(
        "ok: {} entries match the signed checkpoint of {}",
        checkpoint.size, checkpoint.origin
    );
    if let Some(saved) = against {
        println!(
            "consistent with the saved checkpoint of size {}",
            saved.size
        );
    }
    Ok(())
}

async fn fetch(remote: &Remote, path: &str) -> anyhow::Result<Vec<u8>> {
    let response = remote
        .get(path)
        .send()
        .await
        .context("reaching the server")?;
    Ok(success(response).await?.bytes().await?.to_vec())
}

//! `evident verify --server URL`: audit a running log as any tlog-tiles client would.
//!
//! Fetches the signed checkpoint and every entry bundle (C2SP tlog-tiles), recomputes
//! each leaf and the root, and checks the checkpoint's signature and root; with
//! `--against`, also that the saved checkpoint's root is the root of the first
//! entries (the log only grew). Needs a reading role for the entry bundles.

use anyhow::Context;
use evident_tlog::{
    decode_entry_bundle, entries_path, integrate, leaf_hash, open_checkpoint, TileMap, TILE_WIDTH,
};

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
    let note = get_text(&remote, "/checkpoint").await?;
    let checkpoint = open_checkpoint(note.as_bytes(), &verifier_key)
        .map_err(|e| CheckFailed(format!("the server's checkpoint does not verify: {e}")))?;
    let against = args
        .against
        .as_ref()
        .map(|p| -> anyhow::Result<_> {
            let text = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            open_checkpoint(&text, &verifier_key).map_err(|e| {
                CheckFailed(format!("the saved checkpoint does not verify: {e}")).into()
            })
        })
        .transpose()?;
    if let Some(saved) = &against {
        if saved.size > checkpoint.size {
            return Err(CheckFailed(format!(
                "the saved checkpoint covers {} entries, the server's only {}: the log shrank",
                saved.size, checkpoint.size
            ))
            .into());
        }
    }

    let bar = super::progress_bar(checkpoint.size, "verifying");
    let mut edge = TileMap::new();
    let mut size = 0u64;
    let width = u64::from(TILE_WIDTH);
    while size < checkpoint.size {
        let index = size / width;
        let in_tile = (checkpoint.size - index * width).min(width);
        let path = format!(
            "/{}",
            entries_path(index, u16::try_from(in_tile).unwrap_or(TILE_WIDTH))
        );
        let response = remote
            .get(&path)
            .send()
            .await
            .context("reaching the server")?;
        let bundle = success(response).await?.bytes().await?;
        let entries = decode_entry_bundle(&bundle)
            .map_err(|e| CheckFailed(format!("{path}: not an entry bundle: {e}")))?;
        if entries.len() as u64 != in_tile {
            return Err(CheckFailed(format!(
                "{path}: {} entries, expected {in_tile}",
                entries.len()
            ))
            .into());
        }
        // `size` may sit inside this bundle after stopping at a saved checkpoint.
        let start = index * width;
        let mut stop = start + in_tile;
        if let Some(saved) = against.as_ref().filter(|s| s.size > size && s.size < stop) {
            stop = saved.size;
        }
        let wanted = &entries[usize::try_from(size - start)?..usize::try_from(stop - start)?];
        let mut leaves = Vec::with_capacity(wanted.len());
        for (i, entry) in wanted.iter().enumerate() {
            let seq = size + i as u64;
            let record: serde_json::Value = serde_json::from_slice(entry)
                .map_err(|_| CheckFailed(format!("seq {seq}: not JSON")))?;
            if record["seq"].as_u64() != Some(seq) {
                return Err(CheckFailed(format!(
                    "seq {seq}: its `seq` field names another position"
                ))
                .into());
            }
            leaves.push(leaf_hash(entry));
        }
        let step = integrate(size, &edge, &leaves).map_err(|e| CheckFailed(e.to_string()))?;
        size = step.tree_size;
        let keep = evident_tlog::right_edge_tiles(size);
        // Old edge first: where a tile changed, its new data must win.
        edge = edge
            .into_iter()
            .chain(step.tiles)
            .filter(|(id, _)| keep.contains(id))
            .collect();
        if let Some(saved) = against.as_ref().filter(|s| s.size == size) {
            if saved.root != step.root {
                return Err(CheckFailed(format!(
                    "the saved checkpoint of size {size} is not a prefix of this log: it was rewritten"
                ))
                .into());
            }
        }
        if size == checkpoint.size && step.root != checkpoint.root {
            return Err(CheckFailed(format!(
                "the entries do not produce the signed root at size {size}"
            ))
            .into());
        }
        bar.set_position(size);
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

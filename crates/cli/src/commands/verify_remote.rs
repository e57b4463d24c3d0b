//! `evident verify --server URL`: audit a running log as any tlog-tiles client would.
//!
//! Fetches the signed checkpoint, every entry bundle and the hash tiles (C2SP
//! tlog-tiles), and runs the same pure checks as `evident verify` on a store
//! (`evident_core::verify`): each entry canonical at its `seq`, its back-links, each
//! leaf and hash tile recomputed, the root at the checkpoint's size; with `--against`,
//! also that the saved checkpoint's root is the root of the first entries (the log only
//! grew). Blobs and index columns stay on the server: only a store's verify checks
//! them. Needs a reading role for the entry bundles.
//!
//! Signing keys: the checkpoint is opened with the key in force at its size, from the
//! keys the server reports (`verifier_keys`); each key's handover checkpoint (the old
//! key's last, covering the announcement) must open with the key before it and name
//! the recomputed root, and the log's own `key_change` entries must announce exactly
//! the reported keys. So `--key` may pin any one of the log's keys.

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
    let served = ServedKeys::read(&info)?;
    let keys = match &args.key {
        // A pinned key that is one of the log's: the handover checkpoints, checked
        // below, carry trust in it to the others.
        Some(key) if served.keys.keys().iter().any(|(_, k)| k == key) => served.keys.clone(),
        Some(key) => VerifierKeys::one(key.as_str()),
        None => {
            eprintln!("note: trusting the verifier keys the server reports; pass --key to pin one");
            served.keys.clone()
        }
    };
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

    // Each key's handover: the old key's last checkpoint, covering the announcement.
    for (size, handover) in &served.handovers {
        if *size > checkpoint.size {
            continue;
        }
        let opened = keys.open(handover.as_bytes()).map_err(|e| {
            CheckFailed(format!(
                "checkpoint of size {size}: the handover checkpoint does not verify with the key before it: {e}"
            ))
        })?;
        if opened.size != *size {
            return Err(CheckFailed(format!(
                "checkpoint of size {size}: the handover checkpoint names size {}",
                opened.size
            ))
            .into());
        }
        tree.expect(opened.size, opened.root, RootSource::ServedCheckpoint)
            .map_err(failed)?;
    }
    let mut announced = Announcements::new(served.keys.keys()[0].1.clone());

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
        for (i, bytes) in entries.iter().enumerate() {
            announced.read(start + i as u64, bytes)?;
        }
        start += in_tile;
        bar.set_position(start);
    }
    bar.finish_and_clear();
    announced.matches(&served, checkpoint.size)?;
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

/// The verifier keys a server reports (`GET /api/v1/log`): each with the size from
/// which it signs, and the handover checkpoints (the old key's last, by size).
struct ServedKeys {
    keys: VerifierKeys,
    handovers: Vec<(u64, String)>,
}

impl ServedKeys {
    fn read(info: &serde_json::Value) -> anyhow::Result<Self> {
        let Some(list) = info["verifier_keys"].as_array() else {
            // A server from before key rotation: one key.
            let key = info["verifier_key"]
                .as_str()
                .context("the server reports no verifier key")?;
            return Ok(Self {
                keys: VerifierKeys::one(key),
                handovers: Vec::new(),
            });
        };
        let mut keys = Vec::new();
        let mut handovers = Vec::new();
        for item in list {
            let key = item["verifier_key"]
                .as_str()
                .context("a verifier key the server reports is not a string")?;
            let from = item["from_size"]
                .as_u64()
                .context("a verifier key the server reports has no from_size")?;
            if from > 0 {
                // Missing while the old key's last checkpoint is still to be signed;
                // then the served checkpoint is older and it is not needed.
                let note = item["handover_checkpoint"].as_str().unwrap_or_default();
                handovers.push((from - 1, note.to_owned()));
            }
            keys.push((from, key.to_owned()));
        }
        let keys = VerifierKeys::new(keys)
            .map_err(|e| CheckFailed(format!("the server's verifier keys: {e}")))?;
        Ok(Self { keys, handovers })
    }
}

/// The signing keys the log's own `key_change` entries announce, read as the entries
/// are fetched: they must be the keys the server reports.
struct Announcements {
    /// `(from_size, key)`, the first from 0.
    keys: Vec<(u64, String)>,
}

impl Announcements {
    fn new(first: String) -> Self {
        Self {
            keys: vec![(0, first)],
        }
    }

    /// Notes a signing-key rotation announced by the entry at `seq`.
    fn read(&mut self, seq: u64, bytes: &[u8]) -> Result<(), CheckFailed> {
        // Entries are canonical JSON: the event type appears exactly so. (`str`'s
        // substring search is fast; a non-UTF-8 entry fails the entry check anyway.)
        const MARK: &str = r#""event_type":"key_change""#;
        if !std::str::from_utf8(bytes).is_ok_and(|text| text.contains(MARK)) {
            return Ok(());
        }
        let entry: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| CheckFailed(format!("seq {seq}: not JSON: {e}")))?;
        let change = &entry["key_change"];
        if entry["event_type"] != "key_change" || change["kind"] != "signing_key" {
            return Ok(());
        }
        let previous = self.keys.last().map(|(_, k)| k.as_str());
        if change["previous_verifier_key"].as_str() != previous {
            return Err(CheckFailed(format!(
                "seq {seq}: announces a signing key that follows {}, but the key in force is {}",
                change["previous_verifier_key"],
                previous.unwrap_or_default()
            )));
        }
        let key = change["verifier_key"]
            .as_str()
            .ok_or_else(|| CheckFailed(format!("seq {seq}: announces no verifier key")))?;
        self.keys.push((seq + 2, key.to_owned()));
        Ok(())
    }

    /// The announced keys are the reported ones, up to the keys the checkpoint's
    /// entries could announce.
    fn matches(&self, served: &ServedKeys, size: u64) -> Result<(), CheckFailed> {
        let reported: Vec<&(u64, String)> = served
            .keys
            .keys()
            .iter()
            .filter(|(from, _)| from.saturating_sub(2) < size || *from == 0)
            .collect();
        let announced: Vec<&(u64, String)> = self.keys.iter().collect();
        if reported != announced {
            return Err(CheckFailed(format!(
                "the signing keys the log's key_change entries announce ({}) are not those the server reports ({})",
                describe(&announced),
                describe(&reported)
            )));
        }
        Ok(())
    }
}

fn describe(keys: &[&(u64, String)]) -> String {
    keys.iter()
        .map(|(from, key)| format!("{key} from size {from}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rotation(previous: &str, key: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "event_type": "key_change",
            "key_change": {"action": "rotate", "kind": "signing_key",
                           "verifier_key": key, "previous_verifier_key": previous},
        }))
        .unwrap()
    }

    fn served(keys: &[(u64, &str)]) -> ServedKeys {
        ServedKeys {
            keys: VerifierKeys::new(keys.iter().map(|(f, k)| (*f, (*k).to_owned())).collect())
                .unwrap(),
            handovers: Vec::new(),
        }
    }

    #[test]
    fn the_logs_announcements_must_be_the_served_keys() {
        let step = serde_json::to_vec(&json!({"event_type": "step"})).unwrap();
        let mut announced = Announcements::new("k0".into());
        announced.read(0, &step).unwrap();
        announced.read(4, &rotation("k0", "k1")).unwrap();
        announced.read(9, &rotation("k1", "k2")).unwrap();
        let all = served(&[(0, "k0"), (6, "k1"), (11, "k2")]);
        announced.matches(&all, 20).unwrap();
        // A key the server reports but no entry announces.
        let extra = served(&[(0, "k0"), (6, "k1"), (11, "k2"), (15, "k3")]);
        assert!(announced.matches(&extra, 20).is_err());
        // ... unless announced beyond what the checkpoint covers.
        announced.matches(&extra, 13).unwrap();
        let mut early = Announcements::new("k0".into());
        early.read(4, &rotation("k0", "k1")).unwrap();
        early.matches(&extra, 9).unwrap();
        // Another size, or another key, than the server reports.
        assert!(early.matches(&served(&[(0, "k0"), (7, "k1")]), 9).is_err());
        assert!(early.matches(&served(&[(0, "k0"), (6, "kx")]), 9).is_err());
        // An announcement that does not follow the key in force.
        let mut broken = Announcements::new("k0".into());
        let failure = broken.read(4, &rotation("kx", "k1")).unwrap_err();
        assert!(failure
            .0
            .starts_with("seq 4: announces a signing key that follows"));
    }
}

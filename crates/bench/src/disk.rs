//! Bytes on disk per event: the whole data dir after a clean stop (the write-ahead
//! log folded in), and the database's pages by table and index from SQLite's
//! `dbstat` virtual table, grouped as BENCHMARKS.md reports them: entries, indexes, hash tiles,
//! blobs, full text.

use std::path::Path;

use anyhow::Context;
use serde_json::{json, Map, Value};

/// Measures `data` holding `events` entries.
///
/// # Errors
/// The data dir could not be read.
pub fn measure(data: &Path, events: u64) -> anyhow::Result<Value> {
    let mut files = Vec::new();
    let total = dir_size(data, data, &mut files)?;
    let per_event = |bytes: u64| bytes as f64 / events.max(1) as f64;
    let files: Vec<Value> = files
        .into_iter()
        .map(|(name, bytes)| json!({"name": name, "bytes": bytes}))
        .collect();
    let db = data.join(evident_store::sqlite::DB_FILE);
    let (groups, tables, note) = match dbstat(&db) {
        Ok((tables, page_count_bytes)) => {
            let mut groups: Map<String, Value> = Map::new();
            let mut sums: Vec<(&str, u64)> =
                ["entries", "indexes", "tiles", "blobs", "fts", "other"]
                    .into_iter()
                    .map(|g| (g, 0))
                    .collect();
            for (name, bytes) in &tables {
                let group = group_of(name);
                if let Some(slot) = sums.iter_mut().find(|(g, _)| *g == group) {
                    slot.1 += bytes;
                }
            }
            let used: u64 = tables.iter().map(|(_, b)| b).sum();
            sums.push(("free", page_count_bytes.saturating_sub(used)));
            for (group, bytes) in sums {
                groups.insert(
                    group.into(),
                    json!({"bytes": bytes, "bytes_per_event": per_event(bytes)}),
                );
            }
            let tables: Vec<Value> = tables
                .into_iter()
                .map(|(name, bytes)| {
                    json!({"name": name, "group": group_of(&name), "bytes": bytes, "bytes_per_event": per_event(bytes)})
                })
                .collect();
            (Value::Object(groups), Value::Array(tables), Value::Null)
        }
        Err(e) => (
            Value::Null,
            Value::Null,
            json!(format!("no breakdown: {e:#}")),
        ),
    };
    Ok(json!({
        "bytes": total,
        "bytes_per_event": per_event(total),
        "groups": groups,
        "tables": tables,
        "files": files,
        "note": note,
    }))
}

/// Which part of the disk breakdown a table or index belongs to.
fn group_of(name: &str) -> &'static str {
    if name == "entries" {
        "entries"
    } else if name.starts_with("entries_") || name.starts_with("sqlite_autoindex_entries") {
        "indexes"
    } else if name == "tiles" {
        "tiles"
    } else if name.starts_with("blobs") || name.starts_with("sqlite_autoindex_blobs") {
        "blobs"
    } else if name.starts_with("events_fts") {
        "fts"
    } else {
        "other"
    }
}

/// Bytes of every table and index (largest first), and of the whole database.
fn dbstat(db: &Path) -> anyhow::Result<(Vec<(String, u64)>, u64)> {
    let sizes = evident_store::sqlite::sizes::table_sizes(db)
        .with_context(|| format!("reading SQLite's dbstat of {}", db.display()))?;
    Ok((sizes.tables, sizes.database_bytes))
}

/// Total bytes of the files under `dir`, listing each (relative to `root`).
fn dir_size(root: &Path, dir: &Path, files: &mut Vec<(String, u64)>) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            total += dir_size(root, &entry.path(), files)?;
        } else {
            let name = entry
                .path()
                .strip_prefix(root)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            files.push((name, meta.len()));
            total += meta.len();
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tables_fall_into_issue_8_groups() {
        use super::group_of;
        assert_eq!(group_of("entries"), "entries");
        assert_eq!(group_of("entries_by_trace"), "indexes");
        assert_eq!(group_of("sqlite_autoindex_blobs_1"), "blobs");
        assert_eq!(group_of("events_fts_data"), "fts");
        assert_eq!(group_of("tiles"), "tiles");
        assert_eq!(group_of("checkpoints"), "other");
    }
}

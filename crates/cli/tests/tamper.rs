//! Tampering by someone with file access: `evident verify` exits 1 naming the `seq`;
//! a damaged database index fails `verify` (and passes `verify --quick`, which checks
//! the log alone); a flipped bit anywhere in the data dir either fails `verify` or
//! provably changes nothing the log serves (verify recomputes everything against the
//! signed root).

mod util;

use std::path::Path;

use rusqlite::Connection;
use util::{copy_dir, init_with_events, run, stderr, stdout};

fn db(data: &Path) -> Connection {
    Connection::open(data.join("evident.db")).unwrap()
}

/// Runs verify and returns (exit code, stderr).
fn verify(data: &Path) -> (i32, String) {
    let out = run(data, &["verify"]);
    (out.status.code().unwrap_or(-1), stderr(&out))
}

fn tampered(original: &Path, name: &str, edit: impl FnOnce(&Connection)) -> std::path::PathBuf {
    let copy = original.parent().unwrap().join(name);
    copy_dir(original, &copy);
    edit(&db(&copy));
    copy
}

#[test]
fn verify_names_the_seq_of_a_changed_deleted_or_swapped_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_with_events(&data, 60);
    let (code, err) = verify(&data);
    assert_eq!(code, 0, "{err}");

    let changed = tampered(&data, "changed", |c| {
        c.execute(
            "UPDATE entries SET entry = CAST(replace(CAST(entry AS TEXT), 'agent-7', 'agent-8') AS BLOB) WHERE seq = 17",
            [],
        )
        .unwrap();
    });
    let (code, err) = verify(&changed);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("seq 17"), "{err}");

    let deleted = tampered(&data, "deleted", |c| {
        c.execute("DELETE FROM entries WHERE seq = 23", []).unwrap();
    });
    let (code, err) = verify(&deleted);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("seq 23"), "{err}");

    let swapped = tampered(&data, "swapped", |c| {
        c.execute_batch(
            "UPDATE entries SET seq = -1 WHERE seq = 30;
             UPDATE entries SET seq = 30 WHERE seq = 41;
             UPDATE entries SET seq = 41 WHERE seq = -1;",
        )
        .unwrap();
    });
    let (code, err) = verify(&swapped);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("seq 30"), "{err}");

    // Rewriting an entry and recomputing its tile and head still contradicts the
    // signed checkpoints.
    let rewritten = tampered(&data, "rewritten", |c| {
        c.execute("DELETE FROM entries WHERE seq = 59", []).unwrap();
        c.execute("UPDATE tree_head SET size = 59", []).unwrap();
    });
    let (code, err) = verify(&rewritten);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn verify_names_the_first_of_several_bad_entries_and_the_seq_of_a_bad_blob_or_tile() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_with_events(&data, 60);
    let expect = |name: &str, edit: &dyn Fn(&Connection), seq: &str, why: &str| {
        let copy = tampered(&data, name, edit);
        let (code, err) = verify(&copy);
        assert_eq!(code, 1, "{name}: {err}");
        assert!(err.contains(seq) && err.contains(why), "{name}: {err}");
    };
    // Entries are checked on several cores: the lowest bad seq is named.
    expect(
        "two-entries",
        &|c| {
            c.execute_batch(
                "UPDATE entries SET entry = CAST(replace(CAST(entry AS TEXT), '\"seq\":52', '\"seq\": 52') AS BLOB) WHERE seq = 52;
                 UPDATE entries SET agent = 'agent-8' WHERE seq = 11;",
            )
            .unwrap();
        },
        "seq 11:",
        "derived index columns disagree",
    );
    expect(
        "blob-bytes",
        &|c| {
            // One bit of the ciphertext flipped (a text replace could find the byte
            // already equal to its replacement: the ciphertext is random).
            let (rowid, mut sealed): (i64, Vec<u8>) = c
                .query_row(
                    "SELECT rowid, sealed FROM blobs WHERE seq = 33 LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            sealed[39] ^= 0x01;
            c.execute(
                "UPDATE blobs SET sealed = ?1 WHERE rowid = ?2",
                rusqlite::params![sealed, rowid],
            )
            .unwrap();
        },
        "seq 33:",
        "does not decrypt",
    );
    expect(
        "blob-elsewhere",
        &|c| {
            c.execute("UPDATE blobs SET seq = 34 WHERE seq = 35", [])
                .unwrap();
        },
        "seq 34:",
        "is not referenced by the entry it is filed under",
    );
    expect(
        "tile",
        &|c| {
            let mut tile: Vec<u8> = c
                .query_row(
                    "SELECT data FROM tiles WHERE level = 0 AND idx = 0",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            tile[32 * 40] ^= 1;
            c.execute(
                "UPDATE tiles SET data = ?1 WHERE level = 0 AND idx = 0",
                [tile],
            )
            .unwrap();
        },
        "seq 40:",
        "no longer match its leaf hash in stored hash tile 0/0",
    );
}

/// A changed entry past the first full tile changes its leaf and every hash above it
/// (tile 1/0's first hash covers seqs 0..256): the report names the entry whose bytes
/// changed, not the first seq of the higher tile.
#[test]
fn a_changed_entry_is_named_by_its_seq_not_by_a_higher_tile() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_with_events(&data, 300);
    // One byte of entry 200: still canonical, its index columns unchanged.
    let changed = tampered(&data, "changed-200", |c| {
        let updated = c
            .execute(
                "UPDATE entries SET entry = CAST(replace(CAST(entry AS TEXT), '\"type\":\"agent\"', '\"type\":\"agenu\"') AS BLOB) WHERE seq = 200",
                [],
            )
            .unwrap();
        assert_eq!(updated, 1);
    });
    let (code, err) = verify(&changed);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("seq 200: its entry bytes no longer match its leaf hash"),
        "{err}"
    );
}

/// Someone holding the data dir and the signing key rewrites a back-link (CONTRACT
/// section 8: what an evidence bundle proves itself complete with) and makes
/// everything else agree: the tiles, the tree head and every checkpoint, re-signed.
/// Only the back-link check can see it, and it names the entry.
#[test]
fn a_rewritten_back_link_is_caught_even_with_the_tree_and_checkpoints_redone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_with_events(&data, 60);
    // Entry 30 is in trace-2 (events 2, 9, 16, 23, 30, ...): its `trace_prev` is 23.
    // Redoing the tree and checkpoints alone leaves a log that verifies…
    let redone = tampered(&data, "redone", |c| {
        rewrite_and_resign(c, &data, &dir.path().join("redone"), "\"trace_prev\":23")
    });
    let out = run(&redone, &["verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // …and with the back-link changed, only it is wrong.
    let rewritten = tampered(&data, "back-link", |c| {
        rewrite_and_resign(c, &data, &dir.path().join("back-link"), "\"trace_prev\":16")
    });
    let out = run(&rewritten, &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains(
            "seq 30: its `trace_prev` names seq 16 but the previous entry with its trace_id is not that: it is seq 23"
        ),
        "{}",
        stderr(&out)
    );
}

/// Replaces entry 30's `"trace_prev":23` by `link`, then rewrites the tiles, the tree
/// head and every checkpoint (signed with the log's key from `original`, mirrored to
/// `copy`) to match.
fn rewrite_and_resign(c: &Connection, original: &Path, copy: &Path, link: &str) {
    use evident_tlog::{integrate, leaf_hash, Checkpoint, LogSigner, TileMap};

    let updated = c
        .execute(
            "UPDATE entries SET entry = CAST(replace(CAST(entry AS TEXT), '\"trace_prev\":23', ?1) AS BLOB) WHERE seq = 30",
            [link],
        )
        .unwrap();
    assert_eq!(updated, 1);
    let entries: Vec<Vec<u8>> = c
        .prepare("SELECT entry FROM entries ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let leaves: Vec<_> = entries.iter().map(|e| leaf_hash(e)).collect();
    let tree = integrate(0, &TileMap::new(), &leaves).unwrap();
    c.execute("DELETE FROM tiles", []).unwrap();
    for (id, tile) in &tree.tiles {
        c.execute(
            "INSERT INTO tiles(level, idx, data) VALUES (?1, ?2, ?3)",
            rusqlite::params![id.level, id.index as i64, tile],
        )
        .unwrap();
    }
    c.execute(
        "UPDATE tree_head SET root = ?1",
        [tree.root.as_bytes().to_vec()],
    )
    .unwrap();
    let key = std::fs::read_to_string(original.join("secrets").join("signing.key")).unwrap();
    let signer = LogSigner::new(key.trim()).unwrap();
    let sizes: Vec<i64> = c
        .prepare("SELECT size FROM checkpoints ORDER BY size")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for size in sizes {
        let root = integrate(0, &TileMap::new(), &leaves[..size as usize])
            .unwrap()
            .root;
        let note = signer
            .sign_checkpoint(&Checkpoint {
                origin: "test.example/log".into(),
                size: size as u64,
                root,
            })
            .unwrap();
        c.execute(
            "UPDATE checkpoints SET root = ?1, note = ?2 WHERE size = ?3",
            rusqlite::params![root.as_bytes().to_vec(), note, size],
        )
        .unwrap();
        // The latest is mirrored beside the database.
        std::fs::write(copy.join("checkpoint"), note).unwrap();
    }
}

/// Past 4,096 entries the store keeps entries zstd-compressed (with a dictionary
/// trained on the first ones): `verify` reads them back exactly, and a changed byte
/// in a compressed entry is reported by its `seq`.
#[test]
fn verify_checks_compressed_entries_and_names_a_damaged_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert_eq!(util::init_with_compressed_entries(&data, 100), 4_300);
    let compressed: Vec<i64> = db(&data)
        .prepare("SELECT seq FROM entries WHERE substr(entry, 1, 4) = X'28B52FFD' ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // From some point at or after the 4,096th entry on (when the dictionary was
    // stored), every entry is compressed: at least those of the second ingest.
    let first = *compressed.first().expect("compressed entries");
    assert!(first >= 4_096, "{first}");
    assert_eq!(compressed, (first..4_300).collect::<Vec<i64>>());
    let (code, err) = verify(&data);
    assert_eq!(code, 0, "{err}");

    let changed = tampered(&data, "changed-compressed", |c| {
        let mut entry: Vec<u8> = c
            .query_row("SELECT entry FROM entries WHERE seq = 4250", [], |r| {
                r.get(0)
            })
            .unwrap();
        let middle = entry.len() / 2;
        entry[middle] ^= 0x01;
        c.execute("UPDATE entries SET entry = ?1 WHERE seq = 4250", [entry])
            .unwrap();
    });
    let (code, err) = verify(&changed);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("seq 4250"), "{err}");
}

#[test]
fn a_damaged_index_fails_verify_and_passes_verify_quick() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_with_events(&data, 60);
    // The agent index now claims to hold event types: every row is missing from it,
    // as if its pages had been lost, and a query by agent would find nothing.
    let damaged = tampered(&data, "damaged-index", |c| {
        c.execute_batch(
            "PRAGMA writable_schema = ON;
             UPDATE sqlite_schema
                SET sql = 'CREATE INDEX entries_by_agent ON entries(event_type, ts)'
              WHERE name = 'entries_by_agent';
             PRAGMA writable_schema = OFF;",
        )
        .unwrap();
    });
    let (code, err) = verify(&damaged);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("the database is damaged") && err.contains("entries_by_agent"),
        "{err}"
    );
    // The log itself is intact: --quick (every leaf, the tree, signatures, blobs,
    // index columns, not the database's own check) passes, and says what it skipped.
    let out = run(&damaged, &["verify", "--quick"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("integrity check found nothing wrong"));
    // A sound store passes and says it ran the database's check.
    let out = run(&data, &["verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("integrity check found nothing wrong"));
}

#[test]
fn every_flipped_bit_fails_verify_or_changes_nothing_served() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_with_events(&data, 40);
    // Not --quick: a flip in an index page changes what queries find, which only the
    // database's own check sees.
    let baseline = run(&data, &["verify"]);
    assert!(baseline.status.success(), "{}", stderr(&baseline));
    let baseline_checkpoint = stdout(&run(&data, &["checkpoint"]));

    let mut files = Vec::new();
    collect_files(&data, &mut files);
    assert!(files.iter().any(|f| f.ends_with("evident.db")));
    let (mut detected, mut harmless) = (0, 0);
    for file in &files {
        let len = std::fs::metadata(file).unwrap().len();
        // One flip per 1 KiB region at a pseudo-random offset, plus the first byte.
        let mut offsets = vec![0u64];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for region in 0..len.div_ceil(1024) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            offsets.push((region * 1024 + x % 1024).min(len - 1));
        }
        for offset in offsets {
            let copy = dir.path().join("flip");
            let _ = std::fs::remove_dir_all(&copy);
            copy_dir(&data, &copy);
            let target = copy.join(file.strip_prefix(&data).unwrap());
            let mut bytes = std::fs::read(&target).unwrap();
            bytes[offset as usize] ^= 1 << (offset % 8);
            std::fs::write(&target, bytes).unwrap();
            let out = run(&copy, &["verify"]);
            match out.status.code() {
                Some(1) => detected += 1,
                Some(0) => {
                    // verify recomputed every leaf, tile, index and signature: what it
                    // vouches for must be exactly what was there before.
                    assert_eq!(
                        stdout(&out),
                        stdout(&baseline),
                        "{} @ {offset}",
                        target.display()
                    );
                    assert_eq!(stdout(&run(&copy, &["checkpoint"])), baseline_checkpoint);
                    harmless += 1;
                }
                other => panic!(
                    "verify exited {other:?} for a flip in {} @ {offset}: {}",
                    target.display(),
                    stderr(&out)
                ),
            }
        }
    }
    eprintln!("bit flips: {detected} detected, {harmless} provably harmless");
    assert!(detected > 0);
}

fn collect_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

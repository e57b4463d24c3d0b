//! The conformance suite against the embedded SQLite store.

use evident_store::sqlite::{SqliteOptions, SqliteStore};
use evident_store::{LogStore, SearchStore};

async fn fresh_store() -> (std::sync::Arc<dyn evident_store::Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), &SqliteOptions::default()).unwrap();
    (std::sync::Arc::new(store), dir)
}

evident_store::conformance_suite!(fresh_store);

/// Two processes may open one data dir (`serve` and an `evident ingest --data`). Each
/// keeps a cache of the newest `seq` per trace and subject for the back-links; an
/// append by the other must never leave it pointing at a stale entry.
#[tokio::test]
async fn back_links_stay_exact_when_another_writer_appends() {
    use evident_store::conformance::{test_event, test_token_key};
    use evident_store::AppendRequest;
    use serde_json::Value;

    let dir = tempfile::tempdir().unwrap();
    let first = SqliteStore::open(dir.path(), &SqliteOptions::default()).unwrap();
    let second = SqliteStore::open(dir.path(), &SqliteOptions::default()).unwrap();
    let append = |store: &SqliteStore, id: &str, trace: &str, subject: Option<&str>| {
        let event = test_event(id, trace, subject, "x");
        let store = store.clone();
        async move {
            store
                .append(vec![AppendRequest::events(vec![event])])
                .await
                .unwrap()
        }
    };
    append(&first, "e0", "t", Some("alice")).await;
    append(&first, "e1", "t", Some("alice")).await; // first's cache: t → 1
    append(&second, "e2", "t", Some("alice")).await; // behind first's back
    append(&first, "e3", "t", Some("alice")).await; // must link to 2, not 1
    append(&second, "e4", "u", None).await;
    append(&first, "e5", "t", None).await; // must link to 3

    let entries = first.read_entries(0, 6).await.unwrap();
    let field = |seq: usize, name: &str| -> Value {
        serde_json::from_slice::<Value>(&entries[seq].entry).unwrap()[name].clone()
    };
    let expected_trace_prev = [None, Some(0), Some(1), Some(2), None, Some(3)];
    let expected_subject_prev = [None, Some(0), Some(1), Some(2), None, None];
    for seq in 0..6 {
        assert_eq!(
            field(seq, "trace_prev"),
            expected_trace_prev[seq].map_or(Value::Null, Value::from),
            "trace_prev of seq {seq}"
        );
        assert_eq!(
            field(seq, "subject_prev"),
            expected_subject_prev[seq].map_or(Value::Null, Value::from),
            "subject_prev of seq {seq}"
        );
    }
    let token = test_token_key().subject_token("alice");
    assert_eq!(field(3, "context")["subject"], Value::from(token));
}

/// Once the log is long enough, entries are kept zstd-compressed with a dictionary
/// trained on it; every read gives back the exact bytes that were hashed, after a
/// reopen too, and a damaged compressed entry is reported by its `seq`.
#[tokio::test]
async fn entries_are_kept_compressed_and_read_back_exactly() {
    use evident_store::conformance::test_event;
    use evident_store::{AppendOutcome, AppendRequest, SearchQuery, StoreError};
    use evident_tlog::leaf_hash;

    const TRAIN_AFTER: u64 = 600;
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        entry_dictionary_after: TRAIN_AFTER,
        ..SqliteOptions::default()
    };
    let db = || rusqlite::Connection::open(dir.path().join("evident.db")).unwrap();
    let dictionaries = || -> i64 {
        db().query_row("SELECT count(*) FROM entry_dictionaries", [], |r| r.get(0))
            .unwrap()
    };
    // (seq, leaf hash) of every event appended, as the store acknowledged them.
    let mut acknowledged = Vec::new();
    let mut next = 0;
    let mut append_batch = |store: SqliteStore, n: usize| {
        let events: Vec<_> = (next..next + n)
            .map(|i| {
                let body = format!("tool result {i}: refund of {} EUR approved", i * 7 % 1000);
                test_event(&format!("ev-{i}"), &format!("trace-{}", i / 8), None, &body)
            })
            .collect();
        next += n;
        async move {
            match store
                .append(vec![AppendRequest::events(events)])
                .await
                .unwrap()
                .remove(0)
            {
                AppendOutcome::Appended(done) => done
                    .into_iter()
                    .map(|a| (a.seq, a.leaf_hash))
                    .collect::<Vec<_>>(),
                other => panic!("{other:?}"),
            }
        }
    };

    let store = SqliteStore::open(dir.path(), &options).unwrap();
    while (acknowledged.len() as u64) < TRAIN_AFTER {
        acknowledged.extend(append_batch(store.clone(), 100).await);
    }
    // Training runs beside the writer; appends go on meanwhile, uncompressed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while dictionaries() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no dictionary after 30 s"
        );
        acknowledged.extend(append_batch(store.clone(), 10).await);
    }
    let first_compressed = acknowledged.len() as u64;
    acknowledged.extend(append_batch(store.clone(), 200).await);
    drop(store);

    // Stored: compressed from the first entry after the dictionary was stored.
    let stored: Vec<(i64, Vec<u8>)> = db()
        .prepare("SELECT seq, entry FROM entries ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (seq, bytes) in &stored {
        let compressed = bytes.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]);
        assert_eq!(
            compressed,
            *seq as u64 >= first_compressed,
            "seq {seq} (dictionary stored before {first_compressed})"
        );
    }

    // Reopened: the exact bytes that were hashed, through every read path; and
    // appends compress straight away with the stored dictionary.
    let store = SqliteStore::open(dir.path(), &options).unwrap();
    let more = append_batch(store.clone(), 5).await;
    acknowledged.extend(more.iter().copied());
    let size = acknowledged.len() as u64;
    let entries = store.read_entries(0, size).await.unwrap();
    assert_eq!(entries.len() as u64, size);
    for (entry, (seq, leaf)) in entries.iter().zip(&acknowledged) {
        assert_eq!(entry.seq, *seq);
        assert_eq!(leaf_hash(&entry.entry), *leaf, "seq {seq}");
    }
    let indexed = store.read_indexed_entries(0, size).await.unwrap();
    assert!(indexed
        .iter()
        .zip(&entries)
        .all(|(i, e)| i.entry == e.entry));
    let last = entries.last().unwrap();
    let by_id = store
        .entry_by_event_id(&format!("ev-{}", size - 1))
        .await
        .unwrap();
    assert_eq!(by_id.unwrap().entry, last.entry);
    let trace = format!("trace-{}", (size - 1) / 8);
    let found = store
        .search(&SearchQuery {
            trace_id: Some(trace),
            limit: 100,
            ..SearchQuery::default()
        })
        .await
        .unwrap();
    assert!(found.iter().any(|e| e.entry == last.entry));
    let (seq, _) = more[0];
    let raw: Vec<u8> = db()
        .query_row(
            "SELECT entry FROM entries WHERE seq = ?1",
            [seq as i64],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        raw.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]),
        "seq {seq} after reopen"
    );
    // A compressed event sent again is a duplicate answered from its stored entry
    // (decompressed: the leaf hash is the one first acknowledged).
    let (seq, leaf) = acknowledged[first_compressed as usize + 1];
    let body = format!(
        "tool result {seq}: refund of {} EUR approved",
        seq * 7 % 1000
    );
    let again = test_event(
        &format!("ev-{seq}"),
        &format!("trace-{}", seq / 8),
        None,
        &body,
    );
    match store
        .append(vec![AppendRequest::events(vec![again])])
        .await
        .unwrap()
        .remove(0)
    {
        AppendOutcome::Appended(done) => {
            assert!(done[0].is_dup);
            assert_eq!((done[0].seq, done[0].leaf_hash), (seq, leaf));
        }
        other => panic!("{other:?}"),
    }

    // A flipped byte in a compressed entry is damage, named by its seq.
    let victim = first_compressed as i64 + 3;
    let mut bytes: Vec<u8> = db()
        .query_row("SELECT entry FROM entries WHERE seq = ?1", [victim], |r| {
            r.get(0)
        })
        .unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    db().execute(
        "UPDATE entries SET entry = ?1 WHERE seq = ?2",
        rusqlite::params![bytes, victim],
    )
    .unwrap();
    // Every frame carries a checksum of the entry, so it fails to decompress
    // rather than decoding to other bytes.
    match store.read_entries(victim as u64, victim as u64 + 1).await {
        Err(StoreError::Corrupt(why)) => assert!(why.contains(&format!("seq {victim}")), "{why}"),
        other => panic!("{other:?}"),
    }
}

/// Under a load that never pauses (commits back to back, readers in between), the
/// write-ahead log is still rewound: its file stays near the rewind threshold instead
/// of growing with everything written (a 10M-event bench once left a 4 GB WAL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_write_ahead_log_is_rewound_under_continuous_load() {
    use evident_store::conformance::test_event;
    use evident_store::AppendRequest;

    const REWIND_FRAMES: i64 = 256; // 1 MiB of 4 KiB pages
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(
        dir.path(),
        &SqliteOptions {
            wal_rewind_frames: REWIND_FRAMES,
            ..SqliteOptions::default()
        },
    )
    .unwrap();
    let wal = dir.path().join("evident.db-wal");
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                store.tree_head().await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        })
    };
    // Made before the clock starts, and sent by two writers, so a commit is always
    // waiting: the checkpoint thread never finds the WAL idle and caught up.
    let batches: Vec<Vec<_>> = (0..80)
        .map(|batch| {
            (0..100)
                .map(|i| {
                    let n = batch * 100 + i;
                    let body = format!("{n} {}", "payload text ".repeat(60));
                    test_event(&format!("w-{n}"), &format!("t-{}", n / 10), None, &body)
                })
                .collect()
        })
        .collect();
    let written = batches.iter().map(Vec::len).sum::<usize>() as u64;
    let largest = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut writers = Vec::new();
    let mut batches = batches.into_iter();
    for _ in 0..2 {
        let mine: Vec<_> = batches.by_ref().take(40).collect();
        let (store, wal, largest) = (store.clone(), wal.clone(), largest.clone());
        writers.push(tokio::spawn(async move {
            for events in mine {
                store
                    .append(vec![AppendRequest::events(events)])
                    .await
                    .unwrap();
                let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
                largest.fetch_max(size, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let largest = largest.load(std::sync::atomic::Ordering::Relaxed);
    reader.abort();
    assert_eq!(store.tree_head().await.unwrap().size, written);
    // Without rewinds the WAL holds every page written: over 40 MiB here.
    assert!(largest < 16 << 20, "the WAL reached {largest} bytes");
}

use evident_tlog::{integrate, Checkpoint, Hash, LogSigner, TileId, TileMap};
use serde_json::{json, Value};

use super::*;
use crate::json::canonical_bytes;

/// Entry bytes at `seq` in `trace` (with `subject` if any) and the given back-links.
fn entry(
    seq: u64,
    trace: &str,
    subject: Option<&str>,
    prev: (Option<u64>, Option<u64>),
) -> Vec<u8> {
    let mut record = json!({
        "seq": seq, "event_id": format!("e{seq}"), "trace_id": trace, "event_type": "step",
        "actor": {"type": "agent", "id": "a"}, "timestamp": "2026-11-23T10:00:00Z",
        "trace_prev": prev.0, "subject_prev": prev.1,
    });
    if let (Some(subject), Value::Object(map)) = (subject, &mut record) {
        map.insert("context".into(), json!({ "subject": subject }));
    }
    canonical_bytes(&record)
}

/// A log of `n` entries in traces `t{seq % 3}` and subjects `s{seq % 2}` (none for
/// every fifth), with true back-links.
fn log(n: u64) -> Vec<Vec<u8>> {
    let mut last_trace = std::collections::HashMap::new();
    let mut last_subject = std::collections::HashMap::new();
    (0..n)
        .map(|seq| {
            let trace = format!("t{}", seq % 3);
            let subject = (seq % 5 != 4).then(|| format!("s{}", seq % 2));
            let trace_prev = last_trace.insert(trace.clone(), seq);
            let subject_prev = subject
                .as_ref()
                .and_then(|s| last_subject.insert(s.clone(), seq));
            entry(seq, &trace, subject.as_deref(), (trace_prev, subject_prev))
        })
        .collect()
}

fn inputs(entries: &[Vec<u8>]) -> impl ExactSizeIterator<Item = EntryInput<'_>> {
    entries.iter().enumerate().map(|(seq, bytes)| EntryInput {
        seq: seq as u64,
        bytes: Ok(bytes),
        index: IndexRow::NotKept,
    })
}

/// The tiles and root of a tree of `leaves`, as a store that integrated them holds.
fn held_tree(leaves: &[Hash]) -> (TileMap, Hash) {
    let integration = integrate(0, &TileMap::new(), leaves).unwrap();
    (integration.tiles.into_iter().collect(), integration.root)
}

/// Everything a verifier of a whole log checks, in the order it reports failures.
fn verify(entries: &[Vec<u8>], held: &TileMap, root: Hash) -> Option<String> {
    let part = check_entries(0, inputs(entries));
    let mut tree = TreeCheck::new();
    tree.expect(entries.len() as u64, root, RootSource::StoredCheckpoint)
        .unwrap();
    let extension = tree.extend(&part.leaves).unwrap();
    [
        BackLinks::new().check(0, &part.links),
        extension.root_failure,
        compare_tiles(&extension.tiles, held),
    ]
    .into_iter()
    .fold(part.failure, Found::first)
    .map(|found| found.failure.to_string())
}

#[test]
fn a_true_log_verifies() {
    let entries = log(700);
    let leaves: Vec<_> = entries.iter().map(|e| evident_tlog::leaf_hash(e)).collect();
    let (held, root) = held_tree(&leaves);
    assert_eq!(verify(&entries, &held, root), None);
}

/// A log written with a wrong back-link: its leaves, tiles and signed root are all
/// consistent with it, so only the back-link check can see it.
#[test]
fn a_wrong_back_link_in_a_consistent_tree_is_named() {
    // (seq, (trace_prev, subject_prev) written, what is reported)
    type Case = (u64, (Option<u64>, Option<u64>), &'static str);
    let cases: [Case; 4] = [
        // Entry 8 (trace t2 at 2, 5, 8; subject s0 at 0, 2, 6, 8) skips 5.
        (8, (Some(2), Some(6)), "seq 8: its `trace_prev` names seq 2 but the previous entry with its trace_id is not that: it is seq 5"),
        (8, (None, Some(6)), "seq 8: its `trace_prev` names null but the previous entry with its trace_id is not that: it is seq 5"),
        (8, (Some(5), Some(2)), "seq 8: its `subject_prev` names seq 2 but the previous entry with its subject is not that: it is seq 6"),
        // Entry 4 has no subject.
        (4, (Some(1), Some(3)), "seq 4: its `subject_prev` names an entry but it has no subject"),
    ];
    for (seq, prev, expected) in cases {
        let mut entries = log(40);
        let subject = (seq % 5 != 4).then(|| format!("s{}", seq % 2));
        entries[seq as usize] = entry(seq, &format!("t{}", seq % 3), subject.as_deref(), prev);
        let leaves: Vec<_> = entries.iter().map(|e| evident_tlog::leaf_hash(e)).collect();
        let (held, root) = held_tree(&leaves);
        assert_eq!(verify(&entries, &held, root).as_deref(), Some(expected));
    }
    // A back-link to itself or later is not a back-link at all.
    let mut entries = log(10);
    entries[5] = entry(5, "t2", Some("s1"), (Some(5), Some(3)));
    let leaves: Vec<_> = entries.iter().map(|e| evident_tlog::leaf_hash(e)).collect();
    let (held, root) = held_tree(&leaves);
    assert_eq!(
        verify(&entries, &held, root).as_deref(),
        Some("seq 5: its `trace_prev` is neither null nor an earlier seq")
    );
}

#[test]
fn a_tile_mismatch_is_named_where_it_starts() {
    let entries = log(700);
    let leaves: Vec<_> = entries.iter().map(|e| evident_tlog::leaf_hash(e)).collect();
    let (held, root) = held_tree(&leaves);
    let level1 = TileId { level: 1, index: 0 };

    // A changed entry changes its leaf, level 1's hash over 256..511 and the root:
    // the entry is named.
    let mut changed = entries.clone();
    let text = String::from_utf8(changed[300].clone()).unwrap();
    changed[300] = text.replace("\"step\"", "\"stop\"").into_bytes();
    assert_ne!(changed[300], entries[300]);
    let reported = verify(&changed, &held, root).unwrap();
    assert!(
        reported.starts_with(
            "seq 300: its entry bytes no longer match its leaf hash in stored hash tile 0/1"
        ),
        "{reported}"
    );

    // A damaged level-1 hash whose leaves all match is named by the first seq it covers.
    let mut damaged = held.clone();
    damaged.get_mut(&level1).unwrap()[32] ^= 1;
    let reported = verify(&entries, &damaged, root).unwrap();
    assert_eq!(
        reported,
        "seq 256: stored hash tile 1/0 does not match the entries: its hash over seqs 256 to 511 differs though the hashes below it match"
    );

    // Both: the lower seq wins, each named by its own cause.
    let mut damaged = held.clone();
    damaged.get_mut(&level1).unwrap()[0] ^= 1;
    let reported = verify(&changed, &damaged, root).unwrap();
    assert!(
        reported.starts_with("seq 0: stored hash tile 1/0"),
        "{reported}"
    );

    // A tile held shorter than the entries need names the first leaf it lacks.
    let mut short = held.clone();
    short
        .get_mut(&TileId { level: 0, index: 2 })
        .unwrap()
        .truncate(32 * 10);
    let reported = verify(&entries, &short, root).unwrap();
    assert!(
        reported.starts_with("seq 522: its entry bytes"),
        "{reported}"
    );
}

#[test]
fn roots_are_checked_at_every_expected_size() {
    let entries = log(20);
    let leaves: Vec<_> = entries.iter().map(|e| evident_tlog::leaf_hash(e)).collect();
    let at_12 = integrate(0, &TileMap::new(), &leaves[..12]).unwrap().root;
    let mut tree = TreeCheck::new();
    tree.expect(12, at_12, RootSource::SavedCheckpoint).unwrap();
    tree.expect(15, Hash([1; 32]), RootSource::ServedCheckpoint)
        .unwrap();
    let extension = tree.extend(&leaves).unwrap();
    let found = extension.root_failure.unwrap();
    assert_eq!(found.at, (14, Rank::Root));
    assert_eq!(
        found.failure.to_string(),
        "checkpoint of size 15: the server's checkpoint signs a root the entries do not produce: the log was rewritten"
    );
    assert_eq!(tree.size(), 15);
    // At size 0 the root is known at once.
    assert!(TreeCheck::new()
        .expect(0, Hash([1; 32]), RootSource::TreeHead)
        .is_err());
    assert!(TreeCheck::new()
        .expect(0, evident_tlog::EMPTY_ROOT, RootSource::TreeHead)
        .is_ok());
}

#[test]
fn an_entry_is_canonical_at_its_seq_with_back_links() {
    let good = entry(3, "t", None, (Some(1), None));
    let checked = check_entry(3, &good).unwrap();
    assert_eq!(checked.leaf, evident_tlog::leaf_hash(&good));
    assert_eq!(checked.links.trace, IdKey::of("t"));
    assert_eq!(
        (checked.links.trace_prev, checked.links.subject),
        (Some(1), None)
    );
    assert_eq!(
        check_entry(4, &good).unwrap_err(),
        "its `seq` field names another position"
    );
    let mut spaced = good.clone();
    spaced.insert(1, b' ');
    assert!(check_entry(3, &spaced)
        .unwrap_err()
        .starts_with("not an RFC 8785 canonical I-JSON object"));
    let without_links = canonical_bytes(&json!({"seq": 3, "trace_id": "t"}));
    assert_eq!(
        check_entry(3, &without_links).unwrap_err(),
        "its `trace_prev` member is missing"
    );
    let text_link = canonical_bytes(
        &json!({"seq": 3, "trace_id": "t", "trace_prev": "1", "subject_prev": null}),
    );
    assert_eq!(
        check_entry(3, &text_link).unwrap_err(),
        "its `trace_prev` is neither null nor an earlier seq"
    );
}

#[test]
fn a_bundle_chain_must_visit_every_entry_it_holds() {
    // A trace at seqs 2, 5, 9 (9 → 5 → 2 → null).
    assert_eq!(
        chain_from(&[(9, Some(5)), (2, None), (5, Some(2))]),
        Ok(links::ChainStart::Beginning)
    );
    // Starting mid-history: the oldest held links out of the bundle.
    assert_eq!(
        chain_from(&[(9, Some(5)), (5, Some(2))]),
        Ok(links::ChainStart::After(2))
    );
    // Seq 5 left out: 9 links past the oldest held one.
    assert_eq!(
        chain_from(&[(9, Some(5)), (2, None)]).unwrap_err(),
        "seq 9: its back-link names seq 5, not seq 2, the previous entry held"
    );
    assert!(chain_from(&[]).is_err());
}

#[test]
fn checkpoints_are_opened_with_the_key_in_force_at_their_size() {
    let (old_secret, old_verifier) = LogSigner::generate("log.example/a").unwrap();
    let (new_secret, new_verifier) = LogSigner::generate("log.example/a").unwrap();
    let sign = |secret: &str, size: u64| {
        LogSigner::new(secret)
            .unwrap()
            .sign_checkpoint(&Checkpoint {
                origin: "log.example/a".into(),
                size,
                root: Hash([size as u8; 32]),
            })
            .unwrap()
    };
    let keys =
        VerifierKeys::new(vec![(100, new_verifier.clone()), (0, old_verifier.clone())]).unwrap();
    assert_eq!(keys.for_size(99), old_verifier);
    assert_eq!(keys.for_size(100), new_verifier);
    assert_eq!(
        keys.open(sign(&old_secret, 50).as_bytes()).unwrap().size,
        50
    );
    assert_eq!(
        keys.open(sign(&new_secret, 150).as_bytes()).unwrap().size,
        150
    );
    // The old key no longer vouches for sizes after the rotation, nor the new for before.
    assert!(keys.open(sign(&old_secret, 150).as_bytes()).is_err());
    assert!(keys.open(sign(&new_secret, 50).as_bytes()).is_err());
    assert!(VerifierKeys::new(vec![(5, old_verifier.clone())]).is_err());

    let mut check = CheckpointCheck::new();
    let keys = VerifierKeys::one(old_verifier);
    check
        .check(&keys, 50, Hash([50; 32]), sign(&old_secret, 50).as_bytes())
        .unwrap();
    let again = check.check(&keys, 50, Hash([50; 32]), sign(&old_secret, 50).as_bytes());
    assert_eq!(
        again.unwrap_err().to_string(),
        "checkpoint of size 50: checkpoints are not increasing"
    );
    let wrong_root = check.check(&keys, 60, Hash([1; 32]), sign(&old_secret, 60).as_bytes());
    assert_eq!(
        wrong_root.unwrap_err().to_string(),
        "checkpoint of size 60: the signed note disagrees with the stored size or root"
    );
    assert_eq!(check.count, 1);
}

#[test]
fn a_key_takes_over_only_after_the_old_keys_last_checkpoint() {
    let (old_secret, old_verifier) = LogSigner::generate("log.example/a").unwrap();
    let (new_secret, new_verifier) = LogSigner::generate("log.example/a").unwrap();
    let sign = |secret: &str, size: u64| {
        LogSigner::new(secret)
            .unwrap()
            .sign_checkpoint(&Checkpoint {
                origin: "log.example/a".into(),
                size,
                root: Hash([size as u8; 32]),
            })
            .unwrap()
    };
    // Announced at seq 10: the old key signs up to 11, the new one from 12.
    let keys = VerifierKeys::new(vec![(0, old_verifier), (12, new_verifier.clone())]).unwrap();
    assert_eq!(
        keys.handovers().collect::<Vec<_>>(),
        vec![(11, new_verifier.as_str())]
    );
    let run = |sizes: &[u64]| {
        let mut check = CheckpointCheck::new();
        sizes.iter().try_for_each(|&size| {
            let secret = if size < 12 { &old_secret } else { &new_secret };
            check.check(
                &keys,
                size,
                Hash([size as u8; 32]),
                sign(secret, size).as_bytes(),
            )
        })
    };
    run(&[5, 11, 15]).unwrap();
    run(&[11, 12]).unwrap();
    // Nothing after the handover yet: the old key's last checkpoint is still to come.
    run(&[5, 9]).unwrap();
    let skipped = run(&[5, 15]).unwrap_err().to_string();
    assert!(
        skipped.starts_with(
            "checkpoint of size 11: missing: no checkpoint signed with the previous key"
        ),
        "{skipped}"
    );
    assert!(run(&[15]).is_err());
}

#[test]
fn commitments_open_only_with_their_salt_and_bytes() {
    let salt = [3u8; 32];
    let reference = BlobRef::commit(&salt, b"{}");
    assert!(check_commitment(&reference, &salt, b"{}").is_ok());
    assert!(check_commitment(&reference, &[4u8; 32], b"{}").is_err());
    assert!(check_commitment(&reference, &salt, b"[]").is_err());
}

//! The conformance suite: the durability contract of [`Store`], as tests every backend
//! must pass.
//!
//! A backend's test file instantiates it with [`conformance_suite!`](crate::conformance_suite),
//! giving an async function that returns a fresh, empty store and a guard that keeps
//! its resources (a temp dir, a database schema) alive for the test.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use evident_core::crypto::{blob_aad, vault_aad, SecretKey};
use evident_core::pii::Detectors;
use evident_core::record::{prepare_client_event, Submission};
use evident_core::token::TokenKey;
use evident_tlog::{integrate, leaf_hash, Hash, TileMap};
use serde_json::{json, Value};

use crate::artifacts::{ArtifactSelector, ArtifactVersion, LabelMove};
use crate::{
    AppendOutcome, AppendRequest, Appended, DataKey, EventToAppend, SealedBlob, SealedValue, Store,
    StoreError, StoredCheckpoint,
};

/// Instantiates every conformance test for a backend.
///
/// `$make` is an async fn returning `(Arc<dyn Store>, guard)`.
#[macro_export]
macro_rules! conformance_suite {
    ($make:path) => {
        // Reading back: searches with their blobs, text paging.
        $crate::conformance_suite!(@tests $make;
            search_with_blobs_reads_each_entrys_payloads, text_search_pages_in_seq_order);
        $crate::conformance_suite!(@tests $make;
            empty_log, append_assigns_consecutive_seqs, duplicate_returns_first_answer,
            conflict_stores_nothing_and_spares_other_requests, back_links_follow_trace_and_subject,
            tiles_prove_what_the_head_says, checkpoints_never_shrink, api_keys_roundtrip,
            uploads_are_claimed_and_stale_ones_dropped, concurrent_appends_never_fork,
            data_keys_vault_and_erasure, text_index_advances_by_compare_and_swap,
            text_of_erased_subjects_is_never_indexed);
        // The dashboard's rollup: counted with the text index, once.
        $crate::conformance_suite!(@tests $make; activity_rolls_up_with_the_text_index);
        // Server events and the state changes they record: one transaction.
        $crate::conformance_suite!(@tests $make;
            one_event_id_twice_in_one_group_commit, each_effect_commits_with_its_events,
            a_refused_effect_stores_nothing_and_spares_other_requests,
            a_failure_between_effect_and_append_leaves_neither,
            upload_keys_expire_with_their_uploads);
        // The artifact registry: versions and label moves are effects.
        $crate::conformance_suite!(@tests $make;
            artifact_versions_and_label_moves_commit_with_their_events);
        // Policy sets: versions, activations, the generation decisions check.
        $crate::conformance_suite!(@tests $make;
            policy_publish_rollback_and_generation, concurrent_publishers_of_one_set);
        // Declared identifiers remembered per subject, until its erasure.
        $crate::conformance_suite!(@tests $make;
            identifiers_are_remembered_with_their_event_until_erasure);
        // Human approvals: opened and resolved with their events, once, while open.
        $crate::conformance_suite!(@tests $make;
            approvals_open_and_resolve_with_their_events, racing_resolutions_exactly_one_commits);
        // Legal holds: placed and lifted with their events; erasure refused under one.
        $crate::conformance_suite!(@tests $make;
            legal_holds_commit_with_their_events_and_refuse_erasure);
        // Retention: a purge of whole traces commits with its event, or nothing.
        $crate::conformance_suite!(@tests $make;
            a_retention_purge_commits_with_its_event_or_not_at_all,
            default_key_values_go_with_the_last_trace_that_uses_them);
        // The read-access log: batches at the end only, read back by key and time.
        $crate::conformance_suite!(@tests $make; access_records_append_in_order_and_search);
        // Witness cosignatures beside their checkpoints, and witness status.
        $crate::conformance_suite!(@tests $make; cosignatures_sit_beside_their_checkpoints);
    };
    (@tests $make:path; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = $make().await;
                $crate::conformance::$name(store).await;
            }
        )*
    };
}

/// The token key the suite's events are prepared with.
pub fn test_token_key() -> TokenKey {
    TokenKey::from_bytes([7; 32])
}

/// The data key the suite seals blobs and vault values under.
pub const TEST_KEY_ID: &str = "dk_test";

/// The key material behind [`TEST_KEY_ID`].
pub fn test_data_key() -> SecretKey {
    SecretKey::from_bytes([9; 32])
}

/// Seals a payload blob under the suite's test key.
pub fn seal_for_test(blob: &evident_core::blob::NewBlob, key_id: &str) -> SealedBlob {
    let plaintext = [blob.salt.as_slice(), &blob.bytes].concat();
    SealedBlob {
        reference: blob.reference,
        key_id: key_id.to_owned(),
        media_type: blob.media_type.clone(),
        size: blob.bytes.len() as u64,
        sealed: test_data_key().seal(
            &plaintext,
            &blob_aad(&blob.reference),
            &mut rand::thread_rng(),
        ),
    }
}

/// A prepared `tool_call` event with the given id, trace and optional subject, its
/// payload and personal data sealed under the suite's test key.
pub fn test_event(
    event_id: &str,
    trace_id: &str,
    subject: Option<&str>,
    body: &str,
) -> EventToAppend {
    let mut event = json!({
        "event_id": event_id, "trace_id": trace_id, "timestamp": "2026-11-23T14:22:07Z",
        "actor": {"type": "agent", "id": "agent-1"}, "event_type": "tool_call",
        "context": {"job_id": format!("job-{trace_id}")},
        "input": {"body": body},
    });
    if let Some(subject) = subject {
        event["context"]["subject"] = Value::from(subject);
    }
    let key = test_token_key();
    let detectors = Detectors::default();
    let submission = Submission {
        token_key: &key,
        detectors: &detectors,
        principal: "conformance",
        received_at: "2026-11-23T14:22:08.000000Z",
        received_micros: 0,
    };
    let mut prepared =
        prepare_client_event(event, &submission, &HashMap::new(), &mut rand::thread_rng())
            .expect("test events are valid");
    let blobs = std::mem::take(&mut prepared.blobs)
        .iter()
        .map(|b| seal_for_test(b, TEST_KEY_ID))
        .collect();
    let vault = std::mem::take(&mut prepared.pii)
        .into_iter()
        .map(|f| SealedValue {
            sealed: test_data_key().seal(
                f.value.as_bytes(),
                &vault_aad(&f.token),
                &mut rand::thread_rng(),
            ),
            token: f.token,
            kind: f.kind,
            key_id: TEST_KEY_ID.into(),
        })
        .collect();
    EventToAppend {
        event: prepared.into(),
        blobs,
        vault,
        claimed_uploads: Vec::new(),
        remember: Vec::new(),
    }
}

fn request(events: Vec<EventToAppend>) -> AppendRequest {
    AppendRequest::events(events)
}

/// Erases `subject` the way the server does: plans, then appends an event with the
/// erasure effect.
pub async fn erase_for_test(store: &dyn Store, event_id: &str, subject: &str, now: i64) {
    let expect = store.erasure_plan(subject).await.unwrap();
    let out = store
        .append(vec![AppendRequest {
            events: vec![test_event(
                event_id,
                "evident:subject_erasure",
                None,
                "erased",
            )],
            effects: vec![crate::Effect::EraseSubject {
                subject: subject.into(),
                now_micros: now,
                expect,
            }],
        }])
        .await
        .unwrap();
    appended(&out[0]);
}

fn appended(outcome: &AppendOutcome) -> &[Appended] {
    match outcome {
        AppendOutcome::Appended(results) => results,
        _ => panic!("not appended: {outcome:?}"),
    }
}

/// The RFC 6962 root of every entry in the store, recomputed from the entries.
async fn recomputed_root(store: &dyn Store) -> (u64, Hash) {
    let entries = store.read_entries(0, u64::MAX).await.unwrap();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, i as u64, "gap in the log before seq {}", e.seq);
    }
    let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(&e.entry)).collect();
    let root = integrate(0, &TileMap::new(), &leaves).unwrap().root;
    (entries.len() as u64, root)
}

async fn assert_head_matches_entries(store: &dyn Store) {
    let head = store.tree_head().await.unwrap();
    let (size, root) = recomputed_root(store).await;
    assert_eq!(
        (head.size, head.root),
        (size, root),
        "tree head disagrees with entries"
    );
}

pub async fn empty_log(store: Arc<dyn Store>) {
    let head = store.tree_head().await.unwrap();
    assert_eq!(head.size, 0);
    assert_eq!(head.root, integrate(0, &TileMap::new(), &[]).unwrap().root);
    assert!(store.latest_checkpoint().await.unwrap().is_none());
    assert!(store.entry_by_event_id("nope").await.unwrap().is_none());
}

pub async fn append_assigns_consecutive_seqs(store: Arc<dyn Store>) {
    let batch = (0..5)
        .map(|i| test_event(&format!("e{i}"), "t1", None, "hello"))
        .collect();
    let out = store.append(vec![request(batch)]).await.unwrap();
    let results = appended(&out[0]);
    let seqs: Vec<u64> = results.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![0, 1, 2, 3, 4]);
    assert!(results.iter().all(|r| !r.is_dup));
    let stored = store.entry_by_event_id("e3").await.unwrap().unwrap();
    assert_eq!(stored.seq, 3);
    assert_eq!(leaf_hash(&stored.entry), results[3].leaf_hash);
    let record: Value = serde_json::from_slice(&stored.entry).unwrap();
    assert_eq!(record["seq"], json!(3));
    // The payload left the entry for a blob that opens its commitment.
    let reference =
        evident_core::blob::parse_blob_ref(record["input"]["$blob"].as_str().unwrap()).unwrap();
    let blob = store.blob(&reference).await.unwrap().unwrap();
    let opened = test_data_key()
        .open(&blob.sealed, &blob_aad(&reference))
        .unwrap();
    let (salt, bytes) = opened.split_at(32);
    assert_eq!(
        evident_core::blob::BlobRef::commit(salt.try_into().unwrap(), bytes),
        reference
    );
    assert_eq!(blob.seq, Some(3));
    assert_eq!(blob.key_id, TEST_KEY_ID);
    assert_head_matches_entries(&*store).await;
}

pub async fn duplicate_returns_first_answer(store: Arc<dyn Store>) {
    let first = store
        .append(vec![request(vec![test_event("dup", "t", None, "x")])])
        .await
        .unwrap();
    let again = store
        .append(vec![request(vec![
            test_event("other", "t", None, "y"),
            test_event("dup", "t", None, "x"),
            test_event("dup", "t", None, "x"),
        ])])
        .await
        .unwrap();
    let first = &appended(&first[0])[0];
    let again = appended(&again[0]);
    assert_eq!(
        (again[1].seq, again[1].leaf_hash),
        (first.seq, first.leaf_hash)
    );
    assert!(again[1].is_dup && again[2].is_dup && !again[0].is_dup);
    assert_eq!(store.tree_head().await.unwrap().size, 2);
    assert_head_matches_entries(&*store).await;
}

pub async fn conflict_stores_nothing_and_spares_other_requests(store: Arc<dyn Store>) {
    store
        .append(vec![request(vec![test_event("c1", "t", None, "original")])])
        .await
        .unwrap();
    let out = store
        .append(vec![
            request(vec![
                test_event("c2", "t", None, "fine"),
                test_event("c1", "t", None, "changed"),
            ]),
            request(vec![test_event("c3", "t", None, "other request")]),
            // The same id twice in one request with different content.
            request(vec![
                test_event("c4", "t", None, "a"),
                test_event("c4", "t", None, "b"),
            ]),
        ])
        .await
        .unwrap();
    assert_eq!(
        out[0],
        AppendOutcome::Conflict {
            index: 1,
            event_id: "c1".into()
        }
    );
    assert_eq!(appended(&out[1])[0].seq, 1);
    assert!(matches!(out[2], AppendOutcome::Conflict { index: 1, .. }));
    assert!(store.entry_by_event_id("c2").await.unwrap().is_none());
    assert!(store.entry_by_event_id("c4").await.unwrap().is_none());
    assert_eq!(store.tree_head().await.unwrap().size, 2);
    assert_head_matches_entries(&*store).await;
}

pub async fn back_links_follow_trace_and_subject(store: Arc<dyn Store>) {
    let out = store
        .append(vec![request(vec![
            test_event("b0", "ta", Some("alice"), "x"),
            test_event("b1", "tb", None, "x"),
            test_event("b2", "ta", None, "x"),
            test_event("b3", "tb", Some("alice"), "x"),
        ])])
        .await
        .unwrap();
    assert_eq!(appended(&out[0]).len(), 4);
    let field = |entry: &[u8], name: &str| -> Value {
        serde_json::from_slice::<Value>(entry).unwrap()[name].clone()
    };
    let entries = store.read_entries(0, 4).await.unwrap();
    assert_eq!(field(&entries[0].entry, "trace_prev"), Value::Null);
    assert_eq!(field(&entries[2].entry, "trace_prev"), json!(0));
    assert_eq!(field(&entries[3].entry, "trace_prev"), json!(1));
    assert_eq!(field(&entries[3].entry, "subject_prev"), json!(0));
    assert_eq!(field(&entries[2].entry, "subject_prev"), Value::Null);
    let rows = store.index_rows(0, 4).await.unwrap();
    let token = test_token_key().subject_token("alice");
    assert_eq!(rows[3].1.subject.as_deref(), Some(token.as_str()));
    // What verify reads: the same entries and rows, paired.
    let indexed = store.read_indexed_entries(1, 9).await.unwrap();
    assert_eq!(indexed.len(), 3);
    for (row, (entry, (seq, keys))) in indexed.iter().zip(entries[1..].iter().zip(&rows[1..])) {
        assert_eq!((row.seq, &row.entry), (entry.seq, &entry.entry));
        assert_eq!((row.seq, row.index.as_ref()), (*seq, Some(keys)));
    }
}

pub async fn tiles_prove_what_the_head_says(store: Arc<dyn Store>) {
    // Enough entries to fill a tile (256) and start the next, in uneven batches.
    let mut n = 0;
    for batch_size in [1usize, 200, 55, 1, 300] {
        let batch = (0..batch_size)
            .map(|i| test_event(&format!("p{}", n + i), "t", None, "x"))
            .collect();
        n += batch_size;
        store.append(vec![request(batch)]).await.unwrap();
    }
    let head = store.tree_head().await.unwrap();
    assert_eq!(head.size, n as u64);
    assert_head_matches_entries(&*store).await;
    let tiles = store
        .read_tiles(&evident_tlog::tiles_for_root(head.size))
        .await
        .unwrap();
    assert_eq!(
        evident_tlog::tree_root(head.size, &tiles).unwrap(),
        head.root
    );
    let entries = store.read_entries(0, head.size).await.unwrap();
    for seq in [0, 255, 256, 300, head.size - 1] {
        let tiles = store
            .read_tiles(&evident_tlog::tiles_for_inclusion(seq, head.size))
            .await
            .unwrap();
        let proof = evident_tlog::prove_inclusion(seq, head.size, &tiles).unwrap();
        let leaf = leaf_hash(&entries[seq as usize].entry);
        evident_tlog::verify_inclusion(seq, head.size, leaf, head.root, &proof).unwrap();
    }
}

pub async fn checkpoints_never_shrink(store: Arc<dyn Store>) {
    let batch = (0..3)
        .map(|i| test_event(&format!("k{i}"), "t", None, "x"))
        .collect();
    store.append(vec![request(batch)]).await.unwrap();
    let head = store.tree_head().await.unwrap();
    let cp = |size| StoredCheckpoint {
        size,
        root: head.root,
        note: format!("note {size}"),
        created_micros: 1,
    };
    store.put_checkpoint(cp(3)).await.unwrap();
    assert!(matches!(
        store.put_checkpoint(cp(2)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.put_checkpoint(cp(4)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.latest_checkpoint().await.unwrap().unwrap().size, 3);
    assert_eq!(store.checkpoints(0, 10).await.unwrap().len(), 1);
}

pub async fn api_keys_roundtrip(store: Arc<dyn Store>) {
    let key = crate::ApiKeyRecord {
        name: "ingest-1".into(),
        role: "ingest".into(),
        key_hash: [1; 32],
        agents: crate::AgentBinding::of(vec!["a".into(), "b".into()]),
        created_micros: 5,
        revoked_micros: None,
    };
    store.create_api_key(key.clone()).await.unwrap();
    assert!(matches!(
        store.create_api_key(key.clone()).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.api_key_by_hash(&[1; 32]).await.unwrap(),
        Some(key.clone())
    );
    // An unreadable binding is never written (as `[]` it would mean any agent).
    let unreadable = crate::ApiKeyRecord {
        name: "unreadable".into(),
        key_hash: [2; 32],
        agents: crate::AgentBinding::Unreadable("damaged".into()),
        ..key.clone()
    };
    assert!(store.create_api_key(unreadable).await.is_err());
    assert_eq!(store.api_key_by_hash(&[2; 32]).await.unwrap(), None);
    store.revoke_api_key("ingest-1", 9).await.unwrap();
    assert_eq!(
        store
            .api_key_by_hash(&[1; 32])
            .await
            .unwrap()
            .unwrap()
            .revoked_micros,
        Some(9)
    );
    assert!(matches!(
        store.revoke_api_key("nobody", 9).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.list_api_keys().await.unwrap().len(), 1);
}

pub async fn uploads_are_claimed_and_stale_ones_dropped(store: Arc<dyn Store>) {
    let kept = evident_core::record::seal_json_payload(&json!("kept"), &mut rand::thread_rng());
    let stale = evident_core::record::seal_json_payload(&json!("stale"), &mut rand::thread_rng());
    store
        .put_upload(seal_for_test(&kept, "dk_default"), 100)
        .await
        .unwrap();
    store
        .put_upload(seal_for_test(&stale, "dk_default"), 100)
        .await
        .unwrap();
    let mut event = test_event("u1", "t", None, "x");
    event
        .claimed_uploads
        .push(seal_for_test(&kept, TEST_KEY_ID));
    store.append(vec![request(vec![event])]).await.unwrap();
    assert_eq!(store.drop_stale_uploads(200).await.unwrap(), 1);
    assert_eq!(
        store.blob(&kept.reference).await.unwrap().unwrap().seq,
        Some(0)
    );
    assert!(store.blob(&stale.reference).await.unwrap().is_none());
}

pub async fn concurrent_appends_never_fork(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for writer in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for round in 0..10 {
                let batch = (0..5)
                    .map(|i| test_event(&format!("w{writer}-{round}-{i}"), "t", None, "x"))
                    .collect();
                let out = store.append(vec![request(batch)]).await.unwrap();
                seqs.extend(appended(&out[0]).iter().map(|a| a.seq));
            }
            seqs
        }));
    }
    let mut all = HashSet::new();
    for task in tasks {
        for seq in task.await.unwrap() {
            assert!(all.insert(seq), "seq {seq} handed out twice");
        }
    }
    assert_eq!(all.len(), 400);
    assert_eq!(*all.iter().max().unwrap(), 399);
    assert_head_matches_entries(&*store).await;
}

pub async fn data_keys_vault_and_erasure(store: Arc<dyn Store>) {
    let key = |id: &str, subject: &str| DataKey {
        key_id: id.into(),
        subject: subject.into(),
        wrapped: vec![1, 2, 3],
        master_epoch: 1,
        created_micros: 5,
    };
    store
        .insert_data_keys(vec![key("dk_a", "subj_a"), key(TEST_KEY_ID, "subj_b")])
        .await
        .unwrap();
    // A second key for the same subject loses: one active key per subject.
    store
        .insert_data_keys(vec![key("dk_a2", "subj_a")])
        .await
        .unwrap();
    let active = store
        .active_data_keys(&["subj_a".into(), "subj_z".into()])
        .await
        .unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active["subj_a"].key_id, "dk_a");

    let event = test_event(
        "pii-1",
        "t",
        Some("subj_b-person"),
        "call me at +44 20 7946 0958",
    );
    let kinds: Vec<&str> = event.vault.iter().map(|v| v.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec!["SUBJECT", "PHONE"],
        "the subject and the phone number went to the vault"
    );
    let token = event.vault[1].token.clone();
    store.append(vec![request(vec![event])]).await.unwrap();
    let values = store
        .vault_values(std::slice::from_ref(&token))
        .await
        .unwrap();
    assert_eq!(values.len(), 1);
    assert_eq!(
        test_data_key()
            .open(&values[0].sealed, &vault_aad(&token))
            .unwrap(),
        b"+44 20 7946 0958"
    );

    let plan = store.erasure_plan("subj_b").await.unwrap();
    assert_eq!((plan.keys, plan.values), (1, 2));
    erase_for_test(&*store, "erase-b", "subj_b", 77).await;
    assert!(store
        .data_keys(&[TEST_KEY_ID.into()])
        .await
        .unwrap()
        .is_empty());
    let destroyed = store
        .destroyed_keys(&[TEST_KEY_ID.into(), "dk_a".into()])
        .await
        .unwrap();
    assert_eq!(
        destroyed.into_iter().collect::<Vec<_>>(),
        vec![TEST_KEY_ID.to_owned()]
    );
    assert!(store
        .active_data_keys(&["subj_b".into()])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.erased_at("subj_b").await.unwrap(), Some(77));
    assert_eq!(store.erased_at("subj_a").await.unwrap(), None);
    // The entry and the tree are untouched.
    assert_head_matches_entries(&*store).await;
    // Re-wrapping replaces the wrapped form of live keys.
    let mut live = store.all_data_keys().await.unwrap();
    assert_eq!(live.len(), 1);
    live[0].wrapped = vec![9, 9];
    live[0].master_epoch = 2;
    store.rewrap_data_keys(live).await.unwrap();
    assert_eq!(
        store.data_keys(&["dk_a".into()]).await.unwrap()["dk_a"].wrapped,
        vec![9, 9]
    );
}

pub async fn search_with_blobs_reads_each_entrys_payloads(store: Arc<dyn Store>) {
    // An upload claimed by the event at seq 1: its blob comes with that entry only.
    let upload = evident_core::record::seal_json_payload(&json!("shared"), &mut rand::thread_rng());
    store
        .put_upload(seal_for_test(&upload, "dk_default"), 100)
        .await
        .unwrap();
    let mut events: Vec<EventToAppend> = (0..5)
        .map(|i| {
            let trace = if i % 2 == 0 { "even" } else { "odd" };
            test_event(&format!("w{i}"), trace, None, &format!("body {i}"))
        })
        .collect();
    // (Entries name uploads in their payloads; the store only learns of the claim.)
    events[1]
        .claimed_uploads
        .push(seal_for_test(&upload, TEST_KEY_ID));
    let inline: Vec<_> = events.iter().map(|e| e.blobs[0].reference).collect();
    store.append(vec![request(events)]).await.unwrap();
    let query = |trace: &str, after: Option<u64>, limit: usize| crate::SearchQuery {
        trace_id: Some(trace.into()),
        after_seq: after,
        limit,
        ..Default::default()
    };
    for q in [
        query("odd", None, 10),
        query("even", None, 10),
        query("even", Some(0), 1),
        query("none", None, 10),
    ] {
        let page = store.search_with_blobs(&q).await.unwrap();
        assert_eq!(page.entries, store.search(&q).await.unwrap(), "{q:?}");
        let seqs: HashSet<u64> = page.entries.iter().map(|e| e.seq).collect();
        let mut expected: Vec<_> = seqs.iter().map(|&s| inline[s as usize]).collect();
        if seqs.contains(&1) {
            expected.push(upload.reference);
        }
        let mut found: Vec<_> = page.blobs.iter().map(|b| b.reference).collect();
        expected.sort_by_key(|r| r.0);
        found.sort_by_key(|r| r.0);
        assert_eq!(found, expected, "{q:?}");
        for blob in &page.blobs {
            assert_eq!(
                store.blob(&blob.reference).await.unwrap().as_ref(),
                Some(blob)
            );
            assert!(seqs.contains(&blob.seq.unwrap()));
        }
    }
}

pub async fn text_search_pages_in_seq_order(store: Arc<dyn Store>) {
    let batch = (0..60)
        .map(|i| {
            test_event(
                &format!("f{i}"),
                if i % 2 == 0 { "ta" } else { "tb" },
                None,
                "x",
            )
        })
        .collect();
    store.append(vec![request(batch)]).await.unwrap();
    // Entry i says "common", and "fizz" when i % 3 == 0, "buzz" when i % 5 == 0.
    let docs = (0..60)
        .map(|i: u64| {
            let mut text = format!("common word{i}");
            if i.is_multiple_of(3) {
                text.push_str(" fizz");
            }
            if i.is_multiple_of(5) {
                text.push_str(" buzz");
            }
            text
        })
        .collect();
    store.index_text(0, docs).await.unwrap();
    let pages = |q: &'static str, trace: Option<&'static str>, before: Option<u64>| {
        let store = store.clone();
        async move {
            let mut seqs = Vec::new();
            let mut after = None;
            loop {
                let query = crate::SearchQuery {
                    text: evident_core::query::parse_text_query(q).unwrap(),
                    trace_id: trace.map(str::to_owned),
                    after_seq: after,
                    before_seq: before,
                    limit: 4,
                    ..Default::default()
                };
                let page = store.search(&query).await.unwrap();
                let with_blobs = store.search_with_blobs(&query).await.unwrap();
                assert_eq!(with_blobs.entries, page);
                seqs.extend(page.iter().map(|e| e.seq));
                if page.len() < 4 {
                    return seqs;
                }
                after = page.last().map(|e| e.seq);
            }
        }
    };
    let expect = |pred: &dyn Fn(u64) -> bool| (0..60).filter(|i| pred(*i)).collect::<Vec<u64>>();
    assert_eq!(pages("common", None, None).await, expect(&|_| true));
    assert_eq!(
        pages("fizz buzz", None, None).await,
        expect(&|i| i % 15 == 0)
    );
    assert_eq!(
        pages("fizz", None, Some(31)).await,
        expect(&|i| i % 3 == 0 && i < 31)
    );
    assert_eq!(
        pages("buzz", Some("ta"), None).await,
        expect(&|i| i % 10 == 0)
    );
    assert_eq!(pages("word17", None, None).await, vec![17]);
    assert_eq!(
        pages("word1*", None, Some(15)).await,
        vec![1, 10, 11, 12, 13, 14]
    );
    assert!(pages("nothing", None, None).await.is_empty());
}

pub async fn text_index_advances_by_compare_and_swap(store: Arc<dyn Store>) {
    let batch = (0..3)
        .map(|i| test_event(&format!("x{i}"), "t", None, "kettle"))
        .collect();
    store.append(vec![request(batch)]).await.unwrap();
    assert_eq!(store.text_indexed_through().await.unwrap(), 0);
    store
        .index_text(0, vec!["damaged kettle".into(), "red kettle".into()])
        .await
        .unwrap();
    assert!(matches!(
        store.index_text(0, vec!["again".into()]).await,
        Err(StoreError::Conflict(_))
    ));
    store
        .index_text(2, vec!["blue teapot".into()])
        .await
        .unwrap();
    assert_eq!(store.text_indexed_through().await.unwrap(), 3);
    let query = |q: &str| crate::SearchQuery {
        text: evident_core::query::parse_text_query(q).unwrap(),
        limit: 10,
        ..Default::default()
    };
    let seqs = |entries: Vec<crate::StoredEntry>| entries.iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(store.search(&query("kettle")).await.unwrap()),
        vec![0, 1]
    );
    assert_eq!(
        seqs(store.search(&query("\"damaged kettle\"")).await.unwrap()),
        vec![0]
    );
    assert_eq!(seqs(store.search(&query("tea*")).await.unwrap()), vec![2]);
}

/// A text prepared before an erasure (held by an indexer, or buffered at ingest) must
/// not reach the index after the erasure.
pub async fn text_of_erased_subjects_is_never_indexed(store: Arc<dyn Store>) {
    let events = vec![
        test_event("er0", "t", Some("alice"), "x"),
        test_event("er1", "t", Some("bob"), "x"),
        test_event("er2", "t", None, "x"),
    ];
    store.append(vec![request(events)]).await.unwrap();
    let alice = test_token_key().subject_token("alice");
    erase_for_test(&*store, "er-erase", &alice, 5).await;
    store
        .index_text(
            0,
            vec![
                "kettle alice".into(),
                "kettle bob".into(),
                "kettle".into(),
                String::new(),
            ],
        )
        .await
        .unwrap();
    assert_eq!(store.text_indexed_through().await.unwrap(), 4);
    let query = crate::SearchQuery {
        text: evident_core::query::parse_text_query("kettle").unwrap(),
        limit: 10,
        ..Default::default()
    };
    let seqs: Vec<u64> = store
        .search(&query)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, vec![1, 2]);
}

/// Two requests of one group commit (one `append` call) carrying the same
/// `event_id`: the same content is a duplicate answered with the first's `seq`; other
/// content is a conflict for the second request only, the first stays stored.
pub async fn one_event_id_twice_in_one_group_commit(store: Arc<dyn Store>) {
    let out = store
        .append(vec![
            request(vec![test_event("g1", "t", None, "same")]),
            request(vec![
                test_event("g0", "t", None, "other"),
                test_event("g1", "t", None, "same"),
            ]),
        ])
        .await
        .unwrap();
    let (first, second) = (appended(&out[0]), appended(&out[1]));
    assert!(!first[0].is_dup && !second[0].is_dup);
    assert_eq!(
        second[1],
        Appended {
            is_dup: true,
            ..first[0].clone()
        }
    );
    assert_eq!(store.tree_head().await.unwrap().size, 2);

    let out = store
        .append(vec![
            request(vec![test_event("g2", "t", None, "a")]),
            request(vec![
                test_event("g3", "t", None, "spared?"),
                test_event("g2", "t", None, "b"),
            ]),
            request(vec![test_event("g4", "t", None, "after")]),
        ])
        .await
        .unwrap();
    assert_eq!(appended(&out[0])[0].seq, 2);
    assert_eq!(
        out[1],
        AppendOutcome::Conflict {
            index: 1,
            event_id: "g2".into()
        }
    );
    assert_eq!(appended(&out[2])[0].seq, 3);
    assert!(store.entry_by_event_id("g3").await.unwrap().is_none());
    let stored = store.entry_by_event_id("g2").await.unwrap().unwrap();
    assert_eq!(leaf_hash(&stored.entry), appended(&out[0])[0].leaf_hash);
    assert_head_matches_entries(&*store).await;
}

/// State the effects under test act on: two API keys, data keys of two subjects and
/// a value sealed under each.
async fn effect_fixture(store: &dyn Store) {
    let key = |id: &str, subject: &str| DataKey {
        key_id: id.into(),
        subject: subject.into(),
        wrapped: vec![1],
        master_epoch: 1,
        created_micros: 1,
    };
    store
        .insert_data_keys(vec![
            key("dk_erase", "subj_erase"),
            key("dk_upload", "upload:x"),
            key("dk_live", "subj_live"),
        ])
        .await
        .unwrap();
    let value = |token: &str, key_id: &str| SealedValue {
        token: token.into(),
        kind: "EMAIL".into(),
        key_id: key_id.into(),
        sealed: vec![1, 2],
    };
    store
        .put_vault_values(vec![
            value("<EMAIL_A>", "dk_erase"),
            value("<EMAIL_B>", "dk_upload"),
        ])
        .await
        .unwrap();
    for name in ["old", "taken"] {
        store
            .create_api_key(crate::ApiKeyRecord {
                name: name.into(),
                role: "ingest".into(),
                key_hash: [name.len() as u8; 32],
                agents: crate::AgentBinding::Any,
                created_micros: 1,
                revoked_micros: None,
            })
            .await
            .unwrap();
    }
}

/// Every kind of effect, each with a check that it took place.
async fn every_effect(store: &dyn Store) -> Vec<crate::Effect> {
    use crate::Effect;
    let mut live = store.data_keys(&["dk_live".into()]).await.unwrap()["dk_live"].clone();
    live.wrapped = vec![7, 7];
    live.master_epoch = 2;
    vec![
        Effect::EraseSubject {
            subject: "subj_erase".into(),
            now_micros: 50,
            expect: store.erasure_plan("subj_erase").await.unwrap(),
        },
        Effect::DestroyDataKeys {
            subject: "upload:x".into(),
            now_micros: 50,
        },
        Effect::CreateApiKey(crate::ApiKeyRecord {
            name: "new".into(),
            role: "auditor".into(),
            key_hash: [9; 32],
            agents: crate::AgentBinding::Any,
            created_micros: 50,
            revoked_micros: None,
        }),
        Effect::RevokeApiKey {
            name: "old".into(),
            now_micros: 50,
        },
        Effect::RewrapDataKeys(vec![live]),
        Effect::SetMeta {
            key: "signing_key_history".into(),
            value: "v2".into(),
        },
        Effect::PublishArtifact(test_artifact("1", "fx-publish", 50)),
        Effect::OpenApproval(test_approval("apr_fx", "fx-open", 50)),
        Effect::PublishPolicy(test_policy("fx", 1, "fx-policy")),
        Effect::IndexPolicyDecision(crate::policies::PolicyDecisionRow {
            event_id: "fx-decision".into(),
            decided_micros: 50,
            decision: "ALLOW".into(),
            rule_id: Some("r1".into()),
            agent: "fx-agent".into(),
        }),
        Effect::PlaceLegalHold(test_hold(
            "hold_fx",
            crate::HoldScope::Subject("subj_held_fx".into()),
        )),
        Effect::AppendAccessRecords {
            from_seq: 0,
            records: vec![
                test_access_record(0, "auditor"),
                test_access_record(1, "admin"),
            ],
        },
    ]
}

/// An access record as the server would write it.
fn test_access_record(seq: u64, key: &str) -> crate::AccessRecord {
    crate::AccessRecord {
        seq,
        key: key.into(),
        at_micros: 100 + seq as i64,
        record: format!("{{\"key\":\"{key}\",\"seq\":{seq}}}").into_bytes(),
    }
}

/// A hold as the server would place it, in force until lifted.
fn test_hold(hold_id: &str, scope: crate::HoldScope) -> crate::LegalHold {
    crate::LegalHold {
        hold_id: hold_id.into(),
        scope,
        reason: "litigation".into(),
        placed_by: "admin".into(),
        placed_micros: 50,
        until_micros: None,
        event_id: format!("evt-{hold_id}"),
        lifted_micros: None,
        lifted_by: None,
    }
}

/// Version `version` of policy set `set_id` as the server would publish it.
fn test_policy(set_id: &str, version: i64, event_id: &str) -> crate::policies::PolicyVersion {
    let text = format!("@id(\"{set_id}-{version}\") permit(principal, action, resource);");
    crate::policies::PolicyVersion {
        set_id: set_id.into(),
        version,
        text_sha256: "0".repeat(64),
        text,
        schema: "entity Agent;".into(),
        tests: "[]".into(),
        event_id: event_id.into(),
        published_micros: 50 + version,
    }
}

/// An approval request as the server would open it, expiring at `opened + 1000`.
fn test_approval(approval_id: &str, event_id: &str, opened: i64) -> crate::approvals::NewApproval {
    crate::approvals::NewApproval {
        approval_id: approval_id.into(),
        job_id: "job-refund".into(),
        job_hash: "a".repeat(64),
        action: "refund".into(),
        requested_by: "agent-key".into(),
        trace_id: "t".into(),
        subject: None,
        event_id: event_id.into(),
        opened_micros: opened,
        expires_micros: opened + 1000,
    }
}

/// A resolution of `approval_id` by `by` at `at`, quoting the test approval's hash.
fn test_resolution(
    approval_id: &str,
    resolution: &str,
    by: &str,
    event_id: &str,
    at: i64,
) -> crate::approvals::ApprovalResolution {
    crate::approvals::ApprovalResolution {
        approval_id: approval_id.into(),
        expected_job_hash: "a".repeat(64),
        resolution: resolution.into(),
        resolved_by: by.into(),
        method: Some("api".into()),
        final_job_hash: (resolution == "edited").then(|| "b".repeat(64)),
        event_id: event_id.into(),
        at_micros: at,
    }
}

/// A version of `prompt/greeting` as the server would publish it.
fn test_artifact(version: &str, event_id: &str, micros: i64) -> ArtifactVersion {
    let content = format!("{{\"template\":\"hello {version}\"}}");
    ArtifactVersion {
        kind: "prompt".into(),
        name: "greeting".into(),
        version: version.into(),
        content_hash: evident_core::blob::hex(&evident_core::json::sha256_canonical(
            &serde_json::from_str(&content).expect("test content is JSON"),
        )),
        content,
        metadata: None,
        event_id: event_id.into(),
        published_micros: micros,
    }
}

/// Whether `effect` (one of [`every_effect`]) is visible in the store.
async fn took_place(store: &dyn Store, effect: &crate::Effect) -> bool {
    use crate::Effect;
    match effect {
        Effect::EraseSubject { subject, .. } => {
            let gone = store
                .data_keys(&["dk_erase".into()])
                .await
                .unwrap()
                .is_empty();
            let erased = store.erased_at(subject).await.unwrap().is_some();
            assert_eq!(gone, erased, "key destruction and erasure record disagree");
            gone
        }
        Effect::DestroyDataKeys { .. } => {
            let gone = store
                .data_keys(&["dk_upload".into()])
                .await
                .unwrap()
                .is_empty();
            let values = store.vault_values(&["<EMAIL_B>".into()]).await.unwrap();
            assert_eq!(gone, values.is_empty(), "key and its values disagree");
            gone
        }
        Effect::CreateApiKey(key) => store
            .list_api_keys()
            .await
            .unwrap()
            .iter()
            .any(|k| k.name == key.name),
        Effect::RevokeApiKey { name, .. } => store
            .list_api_keys()
            .await
            .unwrap()
            .iter()
            .any(|k| &k.name == name && k.revoked_micros.is_some()),
        Effect::RewrapDataKeys(_) => {
            store.data_keys(&["dk_live".into()]).await.unwrap()["dk_live"].wrapped == vec![7, 7]
        }
        Effect::SetMeta { key, value } => {
            store.get_meta(key).await.unwrap().as_deref() == Some(value.as_str())
        }
        Effect::PublishArtifact(v) => store
            .artifact(
                &v.kind,
                &v.name,
                &ArtifactSelector::Version(v.version.clone()),
                None,
            )
            .await
            .unwrap()
            .is_some(),
        Effect::MoveLabel(m) => {
            store
                .label_version(&m.kind, &m.name, &m.label)
                .await
                .unwrap()
                .as_ref()
                == Some(&m.to_version)
        }
        Effect::OpenApproval(a) => store.approval(&a.approval_id).await.unwrap().is_some(),
        Effect::ResolveApproval(r) => store
            .approval(&r.approval_id)
            .await
            .unwrap()
            .is_some_and(|a| a.history.iter().any(|h| h.event_id == r.event_id)),
        Effect::PublishPolicy(v) => store
            .policy_version(&v.set_id, v.version)
            .await
            .unwrap()
            .is_some(),
        Effect::RollbackPolicy(r) => store
            .active_policies()
            .await
            .unwrap()
            .1
            .iter()
            .any(|v| v.set_id == r.set_id && v.version == r.to_version),
        Effect::IndexPolicyDecision(d) => store
            .policy_decisions(&crate::policies::DecisionFilter {
                agent: Some(d.agent.clone()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap()
            .iter()
            .any(|(row, _)| row == d),
        Effect::PlaceLegalHold(hold) => store
            .legal_hold(&hold.hold_id)
            .await
            .unwrap()
            .is_some_and(|stored| stored == *hold),
        Effect::LiftLegalHold { hold_id, .. } => store
            .legal_hold(hold_id)
            .await
            .unwrap()
            .is_some_and(|h| h.lifted_micros.is_some()),
        Effect::PurgeRetention { run_id, .. } => !store
            .purged_blobs_in_range(0, u64::MAX)
            .await
            .unwrap()
            .iter()
            .all(|p| &p.run_id != run_id),
        Effect::AppendAccessRecords { from_seq, records } => {
            store.access_log_size().await.unwrap() >= from_seq + records.len() as u64
        }
        Effect::RequirePolicyGeneration(_)
        | Effect::RefuseIfHeld { .. }
        | Effect::InjectedFault => false,
    }
}

/// Each kind of effect, appended with an event: both are stored.
pub async fn each_effect_commits_with_its_events(store: Arc<dyn Store>) {
    effect_fixture(&*store).await;
    for (i, effect) in every_effect(&*store).await.into_iter().enumerate() {
        assert!(!took_place(&*store, &effect).await, "{effect:?} before");
        let out = store
            .append(vec![AppendRequest {
                events: vec![test_event(&format!("fx{i}"), "t", None, "x")],
                effects: vec![effect.clone()],
            }])
            .await
            .unwrap();
        assert_eq!(appended(&out[0])[0].seq, i as u64);
        assert!(took_place(&*store, &effect).await, "{effect:?} after");
    }
    assert_head_matches_entries(&*store).await;
}

/// A refused effect (a key name taken, an unknown key, an erasure whose plan no
/// longer holds) stores nothing of its request, effects before it included, and the
/// other requests of the group commit.
pub async fn a_refused_effect_stores_nothing_and_spares_other_requests(store: Arc<dyn Store>) {
    use crate::Effect;
    effect_fixture(&*store).await;
    let effects = every_effect(&*store).await;
    let stale_plan = Effect::EraseSubject {
        subject: "subj_erase".into(),
        now_micros: 50,
        // Planned before someone added keys: the erasure would destroy more than
        // its event says.
        expect: crate::ErasureReport {
            keys: 5,
            ..Default::default()
        },
    };
    let taken = Effect::CreateApiKey(crate::ApiKeyRecord {
        name: "taken".into(),
        role: "auditor".into(),
        key_hash: [8; 32],
        agents: crate::AgentBinding::Any,
        created_micros: 50,
        revoked_micros: None,
    });
    let unknown = Effect::RevokeApiKey {
        name: "nobody".into(),
        now_micros: 50,
    };
    // A decision made under policies a publish has since replaced.
    let stale_policies = Effect::RequirePolicyGeneration(99);
    // Held by the hold placed earlier in the same transaction.
    let held = Effect::RefuseIfHeld {
        subject: "subj_held_fx".into(),
        now_micros: 60,
    };
    let unknown_hold = Effect::LiftLegalHold {
        hold_id: "hold_nobody".into(),
        now_micros: 60,
        lifted_by: "admin".into(),
    };
    // The batch earlier in the transaction moved the access log to 2 records.
    let access_overtaken = Effect::AppendAccessRecords {
        from_seq: 0,
        records: vec![test_access_record(0, "auditor")],
    };
    for (i, refused) in [
        stale_plan,
        taken,
        unknown,
        stale_policies,
        held,
        unknown_hold,
        access_overtaken,
    ]
    .into_iter()
    .enumerate()
    {
        let mut doomed = effects.clone();
        doomed.push(refused);
        let out = store
            .append(vec![
                AppendRequest {
                    events: vec![test_event(&format!("rf{i}"), "t", None, "x")],
                    effects: doomed,
                },
                request(vec![test_event(&format!("ok{i}"), "t", None, "x")]),
            ])
            .await
            .unwrap();
        match &out[0] {
            AppendOutcome::Refused { index, error } => {
                assert_eq!(*index, effects.len());
                assert!(
                    matches!(error, StoreError::Conflict(_) | StoreError::NotFound(_)),
                    "{error:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(appended(&out[1])[0].seq, i as u64);
        assert!(store
            .entry_by_event_id(&format!("rf{i}"))
            .await
            .unwrap()
            .is_none());
        for effect in &effects {
            assert!(!took_place(&*store, effect).await, "{effect:?} applied");
        }
    }
    assert_head_matches_entries(&*store).await;
}

/// A failure inside the transaction after a request's effects and before its events
/// (what `FaultyStore`'s `BetweenEffectAndAppend` injects) leaves neither, for each
/// kind of effect; the next append works and finds the state untouched.
pub async fn a_failure_between_effect_and_append_leaves_neither(store: Arc<dyn Store>) {
    effect_fixture(&*store).await;
    for (i, effect) in every_effect(&*store).await.into_iter().enumerate() {
        let failed = store
            .append(vec![
                request(vec![test_event(&format!("bystander{i}"), "t", None, "x")]),
                AppendRequest {
                    events: vec![test_event(&format!("ff{i}"), "t", None, "x")],
                    effects: vec![effect.clone(), crate::Effect::InjectedFault],
                },
            ])
            .await;
        assert!(
            matches!(failed, Err(StoreError::Unavailable(_))),
            "{failed:?}"
        );
        assert!(
            !took_place(&*store, &effect).await,
            "{effect:?} survived the failure"
        );
        assert_eq!(store.tree_head().await.unwrap().size, 0);
        assert!(store
            .entry_by_event_id(&format!("ff{i}"))
            .await
            .unwrap()
            .is_none());
    }
    let out = store
        .append(vec![request(vec![test_event("after", "t", None, "x")])])
        .await
        .unwrap();
    assert_eq!(appended(&out[0])[0].seq, 0);
    assert_head_matches_entries(&*store).await;
}

/// An upload's own data key (and the values sealed under it) goes when the upload
/// expires unclaimed; a claimed upload's key is not touched by the sweep.
pub async fn upload_keys_expire_with_their_uploads(store: Arc<dyn Store>) {
    let stale = evident_core::record::seal_json_payload(&json!("stale"), &mut rand::thread_rng());
    let claimed = evident_core::record::seal_json_payload(&json!("kept"), &mut rand::thread_rng());
    let mut keys = Vec::new();
    for (blob, key_id) in [(&stale, "dk_up_stale"), (&claimed, "dk_up_claimed")] {
        keys.push(DataKey {
            key_id: key_id.into(),
            subject: crate::upload_key_subject(&blob.reference),
            wrapped: vec![1],
            master_epoch: 1,
            created_micros: 1,
        });
        store
            .put_upload(seal_for_test(blob, key_id), 100)
            .await
            .unwrap();
        store
            .put_vault_values(vec![SealedValue {
                token: format!("<EMAIL_{key_id}>"),
                kind: "EMAIL".into(),
                key_id: key_id.into(),
                sealed: vec![3],
            }])
            .await
            .unwrap();
    }
    store.insert_data_keys(keys).await.unwrap();
    let mut event = test_event("claims", "t", None, "x");
    event
        .claimed_uploads
        .push(seal_for_test(&claimed, TEST_KEY_ID));
    store.append(vec![request(vec![event])]).await.unwrap();
    assert_eq!(store.drop_stale_uploads(200).await.unwrap(), 1);
    assert!(store.blob(&stale.reference).await.unwrap().is_none());
    assert!(store
        .data_keys(&["dk_up_stale".into()])
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .vault_values_under("dk_up_stale")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .data_keys(&["dk_up_claimed".into()])
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .vault_values_under("dk_up_claimed")
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Artifact versions and label moves (CONTRACT section 6): each commits with its
/// event, or not at all (a refused move, a failure between); reads name the entry of
/// the version's event and travel in time by the events' `received_at`.
pub async fn artifact_versions_and_label_moves_commit_with_their_events(store: Arc<dyn Store>) {
    use crate::Effect;
    let publish = |version: &str, micros: i64| {
        let event_id = format!("pub-{version}");
        AppendRequest {
            events: vec![test_event(&event_id, "t", None, "x")],
            effects: vec![Effect::PublishArtifact(test_artifact(
                version, &event_id, micros,
            ))],
        }
    };
    let label = |from: Option<&str>, to: &str, event_id: &str, micros: i64| AppendRequest {
        events: vec![test_event(event_id, "t", None, "x")],
        effects: vec![Effect::MoveLabel(LabelMove {
            kind: "prompt".into(),
            name: "greeting".into(),
            label: "production".into(),
            from_version: from.map(str::to_owned),
            to_version: to.into(),
            event_id: event_id.into(),
            moved_micros: micros,
        })],
    };
    let get = |selector: ArtifactSelector, at: Option<i64>| {
        let store = store.clone();
        async move {
            store
                .artifact("prompt", "greeting", &selector, at)
                .await
                .unwrap()
                .map(|a| (a.artifact.version, a.seq))
        }
    };
    let latest = || get(ArtifactSelector::Latest, None);
    let production = |at| get(ArtifactSelector::Label("production".into()), at);

    // Applied: v1 at 100 (seq 0), v2 at 200 (seq 1), production → v1 at 150 (seq 2).
    for request in [
        publish("1", 100),
        publish("2", 200),
        label(None, "1", "mv-1", 150),
    ] {
        let out = store.append(vec![request]).await.unwrap();
        assert!(matches!(out[0], AppendOutcome::Appended(_)), "{out:?}");
    }
    assert_eq!(latest().await, Some(("2".into(), Some(1))));
    assert_eq!(
        get(ArtifactSelector::Version("1".into()), None).await,
        Some(("1".into(), Some(0)))
    );
    assert_eq!(production(None).await, Some(("1".into(), Some(0))));
    // Time travel: what was latest, and under the label, at each instant.
    assert_eq!(get(ArtifactSelector::Latest, Some(99)).await, None);
    assert_eq!(
        get(ArtifactSelector::Latest, Some(199)).await,
        Some(("1".into(), Some(0)))
    );
    assert_eq!(production(Some(149)).await, None);
    assert_eq!(production(Some(150)).await, Some(("1".into(), Some(0))));
    assert_eq!(
        get(ArtifactSelector::Version("2".into()), Some(150)).await,
        None,
        "not yet published at 150"
    );

    // Refused, each storing nothing of its request while the next request commits:
    // the same version again, a move to a version never published, a move whose
    // stated origin is no longer what the label names.
    let refused = [
        publish("1", 300),
        label(Some("1"), "9", "mv-unknown", 300),
        label(None, "2", "mv-stale", 300),
    ];
    for (i, request) in refused.into_iter().enumerate() {
        let out = store
            .append(vec![
                request,
                self::request(vec![test_event(&format!("by{i}"), "t", None, "x")]),
            ])
            .await
            .unwrap();
        assert!(
            matches!(
                &out[0],
                AppendOutcome::Refused {
                    error: StoreError::Conflict(_) | StoreError::NotFound(_),
                    ..
                }
            ),
            "{out:?}"
        );
        assert!(matches!(out[1], AppendOutcome::Appended(_)), "{out:?}");
    }
    assert_eq!(latest().await, Some(("2".into(), Some(1))));
    assert_eq!(production(None).await, Some(("1".into(), Some(0))));
    assert_eq!(store.tree_head().await.unwrap().size, 6);

    // A failure between the move and its event leaves neither.
    let mut doomed = label(Some("1"), "2", "mv-fault", 400);
    doomed.effects.push(Effect::InjectedFault);
    let failed = store.append(vec![doomed]).await;
    assert!(
        matches!(failed, Err(StoreError::Unavailable(_))),
        "{failed:?}"
    );
    assert_eq!(production(None).await, Some(("1".into(), Some(0))));
    assert!(store.entry_by_event_id("mv-fault").await.unwrap().is_none());

    // Every row, a page at a time, in the order written; nothing of the refused or
    // failed requests.
    let first = store.artifact_version_rows(0, 1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].1.version, "1");
    let rest = store.artifact_version_rows(first[0].0, 10).await.unwrap();
    let versions: Vec<&str> = rest.iter().map(|(_, v)| v.version.as_str()).collect();
    assert_eq!(versions, ["2"]);
    let moves = store.label_move_rows(0, 10).await.unwrap();
    let moves: Vec<(&str, &str)> = moves
        .iter()
        .map(|(_, m)| (m.event_id.as_str(), m.to_version.as_str()))
        .collect();
    assert_eq!(moves, [("mv-1", "1")]);

    // The move with the right origin commits, and history keeps the old answer.
    let out = store
        .append(vec![label(Some("1"), "2", "mv-2", 400)])
        .await
        .unwrap();
    assert!(matches!(out[0], AppendOutcome::Appended(_)), "{out:?}");
    assert_eq!(production(None).await, Some(("2".into(), Some(1))));
    assert_eq!(production(Some(399)).await, Some(("1".into(), Some(0))));
    assert_eq!(
        store
            .label_version("prompt", "greeting", "production")
            .await
            .unwrap()
            .as_deref(),
        Some("2")
    );
    assert_head_matches_entries(&*store).await;
}

/// A declared identifier of `subject`; stand-ins for its hash and sealed form (the
/// store treats both as opaque bytes).
fn identifier(subject: &str, kind: &str, value: &str) -> crate::SealedIdentifier {
    crate::SealedIdentifier {
        subject: subject.into(),
        kind: kind.into(),
        value_hash: format!("hash:{kind}:{value}").into_bytes(),
        key_id: TEST_KEY_ID.into(),
        sealed: format!("sealed:{value}").into_bytes(),
    }
}

/// Identifiers are written with the event that declares them (a rejected request
/// writes none), once per (subject, kind, value hash), read back per subject in the
/// order they were first declared, and gone once the subject is erased.
pub async fn identifiers_are_remembered_with_their_event_until_erasure(store: Arc<dyn Store>) {
    let jane = test_token_key().subject_token("jane");
    let bob = test_token_key().subject_token("bob");
    let mut first = test_event("id0", "t", Some("jane"), "x");
    first.remember = vec![
        identifier(&jane, "name", "Wei Novak"),
        identifier(&jane, "customer_id", "C-1042"),
    ];
    let mut other = test_event("id1", "t", Some("bob"), "x");
    other.remember = vec![identifier(&bob, "name", "Bob Ray")];
    let out = store
        .append(vec![request(vec![first]), request(vec![other])])
        .await
        .unwrap();
    appended(&out[0]);
    appended(&out[1]);

    // Declared again (same value), with one new: only the new one is added.
    let mut again = test_event("id2", "t", Some("jane"), "y");
    again.remember = vec![
        identifier(&jane, "name", "Wei Novak"),
        identifier(&jane, "name", "Novak"),
    ];
    // A request refused for a reused event_id stores none of its identifiers.
    let mut conflicting = test_event("id0", "t", Some("jane"), "other content");
    conflicting.remember = vec![identifier(&jane, "email_alias", "never")];
    let out = store
        .append(vec![request(vec![again]), request(vec![conflicting])])
        .await
        .unwrap();
    appended(&out[0]);
    assert!(
        matches!(out[1], AppendOutcome::Conflict { .. }),
        "{:?}",
        out[1]
    );

    let remembered = store.remembered_identifiers(&jane).await.unwrap();
    assert_eq!(
        remembered,
        vec![
            identifier(&jane, "name", "Wei Novak"),
            identifier(&jane, "customer_id", "C-1042"),
            identifier(&jane, "name", "Novak"),
        ]
    );
    assert_eq!(
        store.remembered_identifiers(&bob).await.unwrap(),
        vec![identifier(&bob, "name", "Bob Ray")]
    );
    assert!(store
        .remembered_identifiers(&test_token_key().subject_token("nobody"))
        .await
        .unwrap()
        .is_empty());

    erase_for_test(&*store, "id-erase", &jane, 7).await;
    assert!(store
        .remembered_identifiers(&jane)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.remembered_identifiers(&bob).await.unwrap().len(), 1);
}

/// Human approvals (CONTRACT section 6): a request opens with its event; an escalation
/// keeps it open; a resolution closes it once, and only before `expires_at`, with the
/// quoted hash; an expiry only at or after it. Each refusal stores nothing of its
/// request while the next request commits; a failure between leaves neither.
pub async fn approvals_open_and_resolve_with_their_events(store: Arc<dyn Store>) {
    use crate::approvals::ApprovalFilter;
    use crate::Effect;
    let with_event = |event_id: &str, effect: Effect| AppendRequest {
        events: vec![test_event(event_id, "t", None, "x")],
        effects: vec![effect],
    };
    let commit = |request: AppendRequest| {
        let store = store.clone();
        async move {
            let out = store.append(vec![request]).await.unwrap();
            assert!(matches!(out[0], AppendOutcome::Appended(_)), "{out:?}");
        }
    };
    let refuse = |request: AppendRequest, bystander: &str| {
        let store = store.clone();
        let bystander = bystander.to_owned();
        async move {
            let out = store
                .append(vec![
                    request,
                    self::request(vec![test_event(&bystander, "t", None, "x")]),
                ])
                .await
                .unwrap();
            assert!(matches!(out[1], AppendOutcome::Appended(_)), "{out:?}");
            match &out[0] {
                AppendOutcome::Refused { error, .. } => error.clone(),
                other => panic!("not refused: {other:?}"),
            }
        }
    };
    commit(with_event(
        "open-1",
        Effect::OpenApproval(test_approval("apr_1", "open-1", 100)),
    ))
    .await;
    commit(with_event(
        "open-2",
        Effect::OpenApproval(test_approval("apr_2", "open-2", 200)),
    ))
    .await;
    // The same id again is refused.
    let error = refuse(
        with_event(
            "open-again",
            Effect::OpenApproval(test_approval("apr_1", "open-again", 300)),
        ),
        "by-0",
    )
    .await;
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");

    // Escalated: still open, the escalation in its history.
    commit(with_event(
        "esc-1",
        Effect::ResolveApproval(test_resolution("apr_1", "escalated", "maria", "esc-1", 150)),
    ))
    .await;
    let one = store.approval("apr_1").await.unwrap().unwrap();
    assert_eq!((one.state.as_str(), one.closed.as_ref()), ("open", None));
    assert_eq!(one.history.len(), 1);

    // Refused: an unknown id, another hash, an approver at expires_at, an expiry
    // before it.
    let mut wrong_hash = test_resolution("apr_1", "approved", "lee", "wrong-hash", 160);
    wrong_hash.expected_job_hash = "c".repeat(64);
    let refusals = [
        (
            test_resolution("apr_none", "approved", "lee", "unknown", 160),
            true,
        ),
        (wrong_hash, false),
        (
            test_resolution("apr_1", "approved", "lee", "too-late", 1100),
            false,
        ),
        (
            test_resolution("apr_1", "expired", "evident", "too-early", 1099),
            false,
        ),
    ];
    for (i, (resolution, not_found)) in refusals.into_iter().enumerate() {
        let event_id = resolution.event_id.clone();
        let error = refuse(
            with_event(&event_id, Effect::ResolveApproval(resolution)),
            &format!("by-{}", i + 1),
        )
        .await;
        if not_found {
            assert!(matches!(error, StoreError::NotFound(_)), "{error:?}");
        } else {
            assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");
        }
        assert!(store.entry_by_event_id(&event_id).await.unwrap().is_none());
    }
    assert_eq!(
        store
            .approval("apr_1")
            .await
            .unwrap()
            .unwrap()
            .history
            .len(),
        1
    );

    // A failure between the resolution and its event leaves neither.
    let mut doomed = with_event(
        "fault",
        Effect::ResolveApproval(test_resolution("apr_1", "approved", "lee", "fault", 170)),
    );
    doomed.effects.push(Effect::InjectedFault);
    let failed = store.append(vec![doomed]).await;
    assert!(
        matches!(failed, Err(StoreError::Unavailable(_))),
        "{failed:?}"
    );
    assert_eq!(
        store.approval("apr_1").await.unwrap().unwrap().state,
        "open"
    );

    // Edited by a second approver: closed, with the final's hash.
    commit(with_event(
        "edit-1",
        Effect::ResolveApproval(test_resolution("apr_1", "edited", "lee", "edit-1", 180)),
    ))
    .await;
    let one = store.approval("apr_1").await.unwrap().unwrap();
    assert_eq!(one.state, "edited");
    let closed = one.closed.expect("closed");
    assert_eq!(
        (closed.resolved_by.as_str(), closed.event_id.as_str()),
        ("lee", "edit-1")
    );
    assert_eq!(closed.final_job_hash, Some("b".repeat(64)));
    assert_eq!(one.history.len(), 2);
    // Resolved once: a second resolution is refused.
    let error = refuse(
        with_event(
            "again",
            Effect::ResolveApproval(test_resolution("apr_1", "rejected", "kim", "again", 190)),
        ),
        "by-9",
    )
    .await;
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");

    // apr_2 is due at 1200: listed as due then, not before; its expiry closes it.
    assert!(store.approvals_due(1199, 10).await.unwrap().is_empty());
    assert_eq!(
        store.approvals_due(1200, 10).await.unwrap(),
        vec!["apr_2".to_owned()]
    );
    commit(with_event(
        "expire-2",
        Effect::ResolveApproval(test_resolution(
            "apr_2", "expired", "evident", "expire-2", 1200,
        )),
    ))
    .await;
    assert!(store.approvals_due(5000, 10).await.unwrap().is_empty());
    assert_eq!(
        store.approval("apr_2").await.unwrap().unwrap().state,
        "expired"
    );

    // Listings: open only by default, all with include_resolved, by requester and job,
    // paged.
    commit(with_event(
        "open-3",
        Effect::OpenApproval(test_approval("apr_3", "open-3", 300)),
    ))
    .await;
    let ids = |approvals: Vec<crate::approvals::Approval>| -> Vec<String> {
        approvals
            .into_iter()
            .map(|a| a.request.approval_id)
            .collect()
    };
    let all = ApprovalFilter {
        include_resolved: true,
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        ids(store
            .approvals(&ApprovalFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap()),
        vec!["apr_3"]
    );
    assert_eq!(
        ids(store.approvals(&all).await.unwrap()),
        vec!["apr_1", "apr_2", "apr_3"]
    );
    let page = ApprovalFilter {
        limit: 2,
        ..all.clone()
    };
    assert_eq!(
        ids(store.approvals(&page).await.unwrap()),
        vec!["apr_1", "apr_2"]
    );
    let next = ApprovalFilter {
        after: Some((200, "apr_2".into())),
        ..page
    };
    assert_eq!(ids(store.approvals(&next).await.unwrap()), vec!["apr_3"]);
    let others = ApprovalFilter {
        requested_by: Some("someone-else".into()),
        ..all.clone()
    };
    assert!(store.approvals(&others).await.unwrap().is_empty());
    let of_job = ApprovalFilter {
        job_id: Some("job-refund".into()),
        requested_by: Some("agent-key".into()),
        ..all
    };
    assert_eq!(store.approvals(&of_job).await.unwrap().len(), 3);
    assert_head_matches_entries(&*store).await;
}

/// Two resolutions of one request appended at once (two servers on one database, or
/// two requests on one): exactly one commits, the other is refused with `Conflict`
/// and stores nothing.
pub async fn racing_resolutions_exactly_one_commits(store: Arc<dyn Store>) {
    use crate::Effect;
    let open = AppendRequest {
        events: vec![test_event("open", "t", None, "x")],
        effects: vec![Effect::OpenApproval(test_approval("apr_race", "open", 100))],
    };
    store.append(vec![open]).await.unwrap();
    let resolve = |by: &str, resolution: &str| {
        let store = store.clone();
        let event_id = format!("by-{by}");
        let request = AppendRequest {
            events: vec![test_event(&event_id, "t", None, by)],
            effects: vec![Effect::ResolveApproval(test_resolution(
                "apr_race", resolution, by, &event_id, 200,
            ))],
        };
        tokio::spawn(async move { store.append(vec![request]).await.unwrap().remove(0) })
    };
    let (a, b) = tokio::join!(resolve("maria", "approved"), resolve("lee", "rejected"));
    let outcomes = [a.unwrap(), b.unwrap()];
    let won = outcomes
        .iter()
        .filter(|o| matches!(o, AppendOutcome::Appended(_)))
        .count();
    assert_eq!(won, 1, "{outcomes:?}");
    assert!(
        outcomes.iter().any(|o| matches!(
            o,
            AppendOutcome::Refused {
                error: StoreError::Conflict(_),
                ..
            }
        )),
        "{outcomes:?}"
    );
    let approval = store.approval("apr_race").await.unwrap().unwrap();
    assert_eq!(approval.history.len(), 1);
    let winner = &approval.history[0];
    assert_eq!(approval.state, winner.resolution);
    let loser = if winner.resolved_by == "maria" {
        "by-lee"
    } else {
        "by-maria"
    };
    assert!(store.entry_by_event_id(loser).await.unwrap().is_none());
    assert_eq!(store.tree_head().await.unwrap().size, 2);
}

/// Publishes and rollbacks move the active version and the generation; a publish out
/// of order, a rollback from a version no longer active, and a decision checked
/// against an old generation are refused and store nothing.
pub async fn policy_publish_rollback_and_generation(store: Arc<dyn Store>) {
    use crate::policies::PolicyRollback;
    use crate::Effect;
    let append = |event_id: &str, effects: Vec<Effect>| {
        let store = store.clone();
        let event = test_event(event_id, "t", None, "x");
        async move {
            store
                .append(vec![AppendRequest {
                    events: vec![event],
                    effects,
                }])
                .await
                .unwrap()
                .remove(0)
        }
    };
    let active = || {
        let store = store.clone();
        async move {
            let (generation, versions) = store.active_policies().await.unwrap();
            let versions: Vec<(String, i64)> = versions
                .into_iter()
                .map(|v| (v.set_id, v.version))
                .collect();
            (generation, versions)
        }
    };
    assert_eq!(store.policy_generation().await.unwrap(), 0);
    assert_eq!(active().await, (0, vec![]));

    let out = append("p1", vec![Effect::PublishPolicy(test_policy("b", 1, "p1"))]).await;
    assert!(matches!(out, AppendOutcome::Appended(_)), "{out:?}");
    let out = append("p2", vec![Effect::PublishPolicy(test_policy("b", 2, "p2"))]).await;
    assert!(matches!(out, AppendOutcome::Appended(_)), "{out:?}");
    let out = append("p3", vec![Effect::PublishPolicy(test_policy("a", 1, "p3"))]).await;
    assert!(matches!(out, AppendOutcome::Appended(_)), "{out:?}");
    assert_eq!(store.policy_generation().await.unwrap(), 3);
    assert_eq!(active().await, (3, vec![("a".into(), 1), ("b".into(), 2)]));

    // Version 2 of b again, or 4 (skipping 3): both refused.
    for version in [2, 4] {
        let out = append(
            &format!("bad{version}"),
            vec![Effect::PublishPolicy(test_policy("b", version, "bad"))],
        )
        .await;
        assert!(
            matches!(
                out,
                AppendOutcome::Refused {
                    error: StoreError::Conflict(_),
                    ..
                }
            ),
            "{out:?}"
        );
    }
    // A decision made at generation 2 cannot commit; at 3 it can.
    let out = append("d-old", vec![Effect::RequirePolicyGeneration(2)]).await;
    assert!(
        matches!(
            out,
            AppendOutcome::Refused {
                error: StoreError::Conflict(_),
                ..
            }
        ),
        "{out:?}"
    );
    assert!(store.entry_by_event_id("d-old").await.unwrap().is_none());
    let out = append("d-now", vec![Effect::RequirePolicyGeneration(3)]).await;
    assert!(matches!(out, AppendOutcome::Appended(_)), "{out:?}");

    let rollback = |from, to, event_id: &str| {
        Effect::RollbackPolicy(PolicyRollback {
            set_id: "b".into(),
            from_version: from,
            to_version: to,
            event_id: event_id.into(),
            at_micros: 90,
        })
    };
    let out = append("r1", vec![rollback(2, 1, "r1")]).await;
    assert!(matches!(out, AppendOutcome::Appended(_)), "{out:?}");
    assert_eq!(active().await, (4, vec![("a".into(), 1), ("b".into(), 1)]));
    // The same rollback again: b is no longer at 2.
    let out = append("r2", vec![rollback(2, 1, "r2")]).await;
    assert!(
        matches!(
            out,
            AppendOutcome::Refused {
                error: StoreError::Conflict(_),
                ..
            }
        ),
        "{out:?}"
    );
    let out = append("r3", vec![rollback(1, 0, "r3")]).await;
    assert!(
        matches!(
            out,
            AppendOutcome::Refused {
                error: StoreError::NotFound(_),
                ..
            }
        ),
        "{out:?}"
    );
    assert_eq!(store.policy_generation().await.unwrap(), 4);
    let history: Vec<(i64, String, i64, String)> = store
        .policy_activations()
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.generation, a.set_id, a.version, a.kind))
        .collect();
    assert_eq!(
        history,
        vec![
            (1, "b".into(), 1, "publish".into()),
            (2, "b".into(), 2, "publish".into()),
            (3, "a".into(), 1, "publish".into()),
            (4, "b".into(), 1, "rollback".into()),
        ]
    );
    let v2 = store.policy_version("b", 2).await.unwrap().unwrap();
    assert_eq!(v2.event_id, "p2");
    // Every version, a page at a time, in (set, version) order.
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = store.policy_version_rows(after.clone(), 2).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.set_id.clone(), last.version));
        pages.push(
            page.iter()
                .map(|v| (v.set_id.clone(), v.version))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(
        pages,
        vec![
            vec![("a".to_owned(), 1), ("b".to_owned(), 1)],
            vec![("b".to_owned(), 2)],
        ]
    );
    assert_head_matches_entries(&*store).await;
}

/// Two publishers of the next version of one set at once, in separate appends: one
/// commits, the other is refused; never two versions 1.
pub async fn concurrent_publishers_of_one_set(store: Arc<dyn Store>) {
    use crate::Effect;
    let publish = |event_id: &'static str| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .append(vec![AppendRequest {
                    events: vec![test_event(event_id, "t", None, "x")],
                    effects: vec![Effect::PublishPolicy(test_policy("race", 1, event_id))],
                }])
                .await
                .unwrap()
                .remove(0)
        })
    };
    let (one, two) = tokio::join!(publish("racer-1"), publish("racer-2"));
    let outcomes = [one.unwrap(), two.unwrap()];
    let appended = outcomes
        .iter()
        .filter(|o| matches!(o, AppendOutcome::Appended(_)))
        .count();
    assert_eq!(appended, 1, "{outcomes:?}");
    assert!(outcomes.iter().any(|o| matches!(
        o,
        AppendOutcome::Refused {
            error: StoreError::Conflict(_),
            ..
        }
    )));
    assert_eq!(store.policy_generation().await.unwrap(), 1);
    assert_head_matches_entries(&*store).await;
}

/// Legal holds are placed and lifted only with their events; a hold on a subject, or
/// on a trace, job, case or time range holding one of its events, makes
/// [`crate::Effect::RefuseIfHeld`] refuse (naming the hold) and the erasure after it
/// destroys nothing; an expired or lifted hold does not.
pub async fn legal_holds_commit_with_their_events_and_refuse_erasure(store: Arc<dyn Store>) {
    use crate::{Effect, HoldScope};
    let subject = test_token_key().subject_token("held person");
    let out = store
        .append(vec![request(vec![test_event(
            "about",
            "t-held",
            Some("held person"),
            "x",
        )])])
        .await
        .unwrap();
    appended(&out[0]);
    store
        .insert_data_keys(vec![DataKey {
            key_id: "dk_held".into(),
            subject: subject.clone(),
            wrapped: vec![1],
            master_epoch: 1,
            created_micros: 1,
        }])
        .await
        .unwrap();
    let event_time = evident_core::time::unix_micros(
        evident_core::time::parse_rfc3339("2026-11-23T14:22:07Z").unwrap(),
    );
    let scopes = [
        HoldScope::Subject(subject.clone()),
        HoldScope::Trace("t-held".into()),
        HoldScope::Job("job-t-held".into()),
        HoldScope::Time {
            from_micros: event_time - 1,
            to_micros: event_time + 1,
        },
    ];
    let misses = [
        HoldScope::Subject("subj_other".into()),
        HoldScope::Trace("t-other".into()),
        HoldScope::Case("case-other".into()),
        HoldScope::Time {
            from_micros: event_time + 1,
            to_micros: event_time + 10,
        },
    ];
    let erase_under_check = |event_id: &str, now: i64, expect| AppendRequest {
        events: vec![test_event(event_id, "evident:subject_erasure", None, "e")],
        effects: vec![
            Effect::RefuseIfHeld {
                subject: subject.clone(),
                now_micros: now,
            },
            Effect::EraseSubject {
                subject: subject.clone(),
                now_micros: now,
                expect,
            },
        ],
    };
    for (i, scope) in misses.into_iter().enumerate() {
        let hold = test_hold(&format!("hold_miss{i}"), scope);
        let out = store
            .append(vec![AppendRequest {
                events: vec![test_event(
                    &format!("miss{i}"),
                    "evident:legal_hold",
                    None,
                    "h",
                )],
                effects: vec![Effect::PlaceLegalHold(hold)],
            }])
            .await
            .unwrap();
        appended(&out[0]);
    }
    assert!(store
        .holds_covering_subject(&subject, 100)
        .await
        .unwrap()
        .is_empty());
    for (i, scope) in scopes.into_iter().enumerate() {
        let mut hold = test_hold(&format!("hold_{i}"), scope);
        hold.until_micros = Some(1_000);
        let out = store
            .append(vec![AppendRequest {
                events: vec![test_event(
                    &format!("place{i}"),
                    "evident:legal_hold",
                    None,
                    "h",
                )],
                effects: vec![Effect::PlaceLegalHold(hold.clone())],
            }])
            .await
            .unwrap();
        appended(&out[0]);
        assert_eq!(
            store.legal_hold(&hold.hold_id).await.unwrap(),
            Some(hold.clone())
        );
        let covering = store.holds_covering_subject(&subject, 100).await.unwrap();
        assert_eq!(covering, vec![hold.clone()], "{:?}", hold.scope);
        // Past its `until`, a hold no longer covers anything.
        assert!(store
            .holds_covering_subject(&subject, 1_000)
            .await
            .unwrap()
            .is_empty());
        let plan = store.erasure_plan(&subject).await.unwrap();
        let out = store
            .append(vec![erase_under_check(&format!("erase{i}"), 100, plan)])
            .await
            .unwrap();
        match &out[0] {
            AppendOutcome::Refused {
                index: 0,
                error: StoreError::Conflict(why),
            } => {
                assert!(why.contains(&hold.hold_id), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert!(store
            .entry_by_event_id(&format!("erase{i}"))
            .await
            .unwrap()
            .is_none());
        assert_eq!(store.data_keys(&["dk_held".into()]).await.unwrap().len(), 1);
        // Lifting is an effect too, once.
        let lift = Effect::LiftLegalHold {
            hold_id: hold.hold_id.clone(),
            now_micros: 200,
            lifted_by: "privacy".into(),
        };
        let out = store
            .append(vec![AppendRequest {
                events: vec![test_event(
                    &format!("lift{i}"),
                    "evident:legal_hold",
                    None,
                    "l",
                )],
                effects: vec![lift.clone()],
            }])
            .await
            .unwrap();
        appended(&out[0]);
        let lifted = store.legal_hold(&hold.hold_id).await.unwrap().unwrap();
        assert_eq!(
            (lifted.lifted_micros, lifted.lifted_by.as_deref()),
            (Some(200), Some("privacy"))
        );
        let again = store
            .append(vec![AppendRequest {
                events: vec![test_event(
                    &format!("relift{i}"),
                    "evident:legal_hold",
                    None,
                    "l",
                )],
                effects: vec![lift],
            }])
            .await
            .unwrap();
        assert!(
            matches!(
                &again[0],
                AppendOutcome::Refused {
                    error: StoreError::Conflict(_),
                    ..
                }
            ),
            "{again:?}"
        );
    }
    assert_eq!(store.legal_holds().await.unwrap().len(), 8);
    // Every hold lifted: the erasure goes through.
    let plan = store.erasure_plan(&subject).await.unwrap();
    let out = store
        .append(vec![erase_under_check("erase-free", 300, plan)])
        .await
        .unwrap();
    appended(&out[0]);
    assert!(store
        .data_keys(&["dk_held".into()])
        .await
        .unwrap()
        .is_empty());
    assert_head_matches_entries(&*store).await;
}

/// A purge deletes the blobs and search text of whole traces, and the vault values of
/// a subject left with no payload, in its event's transaction, leaving a record of
/// each purged blob; a trace that grew since the plan, a hold covering it, counts
/// that no longer hold, or a failure before the event: nothing is purged.
pub async fn a_retention_purge_commits_with_its_event_or_not_at_all(store: Arc<dyn Store>) {
    use crate::{Effect, PurgeCounts, TracePurge};
    let subject = test_token_key().subject_token("old customer");
    let out = store
        .append(vec![request(vec![
            test_event("o1", "t-old", Some("old customer"), "mail old@example.org"),
            test_event("o2", "t-old", Some("old customer"), "second"),
            test_event("n1", "t-new", None, "recent"),
        ])])
        .await
        .unwrap();
    appended(&out[0]);
    store
        .insert_data_keys(vec![DataKey {
            key_id: TEST_KEY_ID.into(),
            subject: subject.clone(),
            wrapped: vec![1],
            master_epoch: 1,
            created_micros: 1,
        }])
        .await
        .unwrap();
    store
        .index_text(0, vec!["mail".into(), "second".into(), "recent".into()])
        .await
        .unwrap();
    let old_blobs = store.blobs_of_traces(&["t-old".into()]).await.unwrap();
    assert_eq!(old_blobs.len(), 2);
    let head = store.tree_head().await.unwrap();
    store
        .put_checkpoint(StoredCheckpoint {
            size: 3,
            root: head.root,
            note: "note 3".into(),
            created_micros: 1_000,
        })
        .await
        .unwrap();
    assert_eq!(store.size_signed_by(999).await.unwrap(), 0);
    assert_eq!(store.size_signed_by(1_000).await.unwrap(), 3);

    // Only traces entirely below the bound are candidates.
    let candidates = store
        .retention_candidates(crate::ExpiryBounds::both(1), 10, None, 10)
        .await
        .unwrap();
    assert!(candidates.is_empty(), "{candidates:?}");
    let candidates = store
        .retention_candidates(crate::ExpiryBounds::both(2), 10, None, 10)
        .await
        .unwrap();
    assert_eq!(candidates.len(), 1, "{candidates:?}");
    let candidates = store
        .retention_candidates(crate::ExpiryBounds::both(3), 10, None, 10)
        .await
        .unwrap();
    let ids: Vec<&str> = candidates.iter().map(|c| c.trace_id.as_str()).collect();
    assert_eq!(ids, ["t-new", "t-old"]);
    let old = &candidates[1];
    assert_eq!((old.last_seq, old.blobs, old.texts), (1, 2, 2));
    assert_eq!(
        old.kinds,
        vec![("tool_call".into(), "agent-1".into(), None)]
    );
    assert!(old.held_by.is_empty());
    let paged = store
        .retention_candidates(crate::ExpiryBounds::both(3), 10, Some("t-new"), 10)
        .await
        .unwrap();
    assert_eq!(paged.len(), 1);

    let traces = vec![TracePurge {
        trace_id: "t-old".into(),
        last_seq: 1,
        payload: true,
        text: true,
    }];
    let plan = store.purge_plan(&traces).await.unwrap();
    // Values: the e-mail address and the subject's own identifier.
    assert_eq!(
        plan,
        PurgeCounts {
            blobs: 2,
            values: 2,
            texts: 2
        }
    );
    let purge = |run_id: &str, traces: Vec<TracePurge>, expect| Effect::PurgeRetention {
        run_id: run_id.into(),
        now_micros: 2_000,
        traces,
        expect,
    };
    let try_purge = |event_id: String, effects: Vec<Effect>| {
        let store = store.clone();
        async move {
            store
                .append(vec![AppendRequest {
                    events: vec![test_event(&event_id, "evident:retention_purge", None, "p")],
                    effects,
                }])
                .await
        }
    };
    let untouched = || async {
        assert_eq!(
            store
                .blobs_of_traces(&["t-old".into()])
                .await
                .unwrap()
                .len(),
            2
        );
        assert_eq!(store.purge_plan(&traces).await.unwrap(), plan);
        assert!(store.purged_blobs_in_range(0, 10).await.unwrap().is_empty());
    };
    // Refused: a stale plan of the trace, counts that do not hold.
    let mut stale = traces.clone();
    stale[0].last_seq = 0;
    let wrong = PurgeCounts { blobs: 1, ..plan };
    for (i, effect) in [purge("r0", stale, plan), purge("r1", traces.clone(), wrong)]
        .into_iter()
        .enumerate()
    {
        let out = try_purge(format!("refused{i}"), vec![effect])
            .await
            .unwrap();
        assert!(
            matches!(
                &out[0],
                AppendOutcome::Refused {
                    error: StoreError::Conflict(_),
                    ..
                }
            ),
            "{out:?}"
        );
        untouched().await;
    }
    // Failed between the purge and its event.
    let failed = try_purge(
        "failed".into(),
        vec![purge("r2", traces.clone(), plan), Effect::InjectedFault],
    )
    .await;
    assert!(
        matches!(failed, Err(StoreError::Unavailable(_))),
        "{failed:?}"
    );
    untouched().await;
    // Held: a hold on the subject of one of its events.
    let hold = test_hold("hold_purge", crate::HoldScope::Subject(subject.clone()));
    let out = try_purge("hold".into(), vec![Effect::PlaceLegalHold(hold)])
        .await
        .unwrap();
    appended(&out[0]);
    let held = store
        .retention_candidates(crate::ExpiryBounds::both(3), 10, Some("t-new"), 10)
        .await
        .unwrap();
    assert_eq!(held[0].held_by, vec!["hold_purge".to_owned()]);
    let out = try_purge("held".into(), vec![purge("r3", traces.clone(), plan)])
        .await
        .unwrap();
    match &out[0] {
        AppendOutcome::Refused {
            error: StoreError::Conflict(why),
            ..
        } => {
            assert!(why.contains("hold_purge"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    untouched().await;
    let lift = Effect::LiftLegalHold {
        hold_id: "hold_purge".into(),
        now_micros: 1_500,
        lifted_by: "admin".into(),
    };
    appended(&try_purge("lift".into(), vec![lift]).await.unwrap()[0]);

    // Applied.
    let out = try_purge("purged".into(), vec![purge("run-1", traces.clone(), plan)])
        .await
        .unwrap();
    appended(&out[0]);
    assert!(store
        .blobs_of_traces(&["t-old".into()])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .blobs_of_traces(&["t-new".into()])
            .await
            .unwrap()
            .len(),
        1
    );
    let refs: Vec<_> = old_blobs.iter().map(|b| b.reference).collect();
    let purged = store.purged_blobs(&refs).await.unwrap();
    assert_eq!(purged.len(), 2);
    for blob in &old_blobs {
        let record = &purged[&blob.reference];
        assert_eq!(
            (record.run_id.as_str(), record.purged_micros),
            ("run-1", 2_000)
        );
        assert_eq!(Some(record.seq), blob.seq);
        assert!(store.blob(&blob.reference).await.unwrap().is_none());
    }
    assert_eq!(store.purged_blobs_in_range(0, 2).await.unwrap().len(), 2);
    assert_eq!(
        store.purge_plan(&traces).await.unwrap(),
        PurgeCounts::default()
    );
    // Nothing left to purge in t-old; t-new still has its payload and text.
    let left = store
        .retention_candidates(crate::ExpiryBounds::both(3), 10, None, 10)
        .await
        .unwrap();
    let ids: Vec<&str> = left.iter().map(|c| c.trace_id.as_str()).collect();
    assert_eq!(ids, ["t-new"]);
    assert_head_matches_entries(&*store).await;
}

/// Vault values of events without a subject (under the log's default key) are filed
/// with the entries that use them: a purge deletes those that only its traces use, in
/// its event's transaction; refused or failed before its event, it deletes nothing.
pub async fn default_key_values_go_with_the_last_trace_that_uses_them(store: Arc<dyn Store>) {
    use crate::{Effect, PurgeCounts, TracePurge};
    let out = store
        .append(vec![request(vec![
            test_event(
                "a1",
                "t-a",
                None,
                "mail shared@example.org, only@example.org",
            ),
            test_event("b1", "t-b", None, "mail shared@example.org"),
        ])])
        .await
        .unwrap();
    appended(&out[0]);
    let values = || async { store.vault_values_under(TEST_KEY_ID).await.unwrap().len() };
    assert_eq!(values().await, 2);
    let candidates = store
        .retention_candidates(crate::ExpiryBounds::both(2), 10, None, 10)
        .await
        .unwrap();
    let uses: Vec<(&str, u64)> = candidates
        .iter()
        .map(|c| (c.trace_id.as_str(), c.default_values))
        .collect();
    assert_eq!(uses, [("t-a", 2), ("t-b", 1)]);
    let newest = store
        .newest_in_traces(&["t-a".into(), "t-b".into(), "t-none".into()])
        .await
        .unwrap();
    assert_eq!(newest, [("t-a".into(), 0), ("t-b".into(), 1)].into());
    // Each part is looked for below its own bound: these traces have no search text.
    let text_only = crate::ExpiryBounds {
        payload: 0,
        text: 2,
    };
    assert!(store
        .retention_candidates(text_only, 10, None, 10)
        .await
        .unwrap()
        .is_empty());
    let trace = |trace_id: &str, last_seq| TracePurge {
        trace_id: trace_id.into(),
        last_seq,
        payload: true,
        text: false,
    };
    let only_a = vec![trace("t-a", 0)];
    let plan = store.purge_plan(&only_a).await.unwrap();
    assert_eq!(
        plan,
        PurgeCounts {
            blobs: 1,
            values: 1,
            texts: 0
        },
        "the shared value stays while t-b uses it"
    );
    let purge = |event_id: &str, traces: Vec<TracePurge>, expect, fault: bool| {
        let store = store.clone();
        let mut effects = vec![Effect::PurgeRetention {
            run_id: format!("run-{event_id}"),
            now_micros: 2_000,
            traces,
            expect,
        }];
        if fault {
            effects.push(Effect::InjectedFault);
        }
        let event_id = event_id.to_owned();
        async move {
            store
                .append(vec![AppendRequest {
                    events: vec![test_event(&event_id, "evident:retention_purge", None, "p")],
                    effects,
                }])
                .await
        }
    };
    // Refused (counts that do not hold) and failed between the purge and its event.
    let wrong = PurgeCounts { values: 2, ..plan };
    let refused = purge("refused", only_a.clone(), wrong, false)
        .await
        .unwrap();
    assert!(
        matches!(
            &refused[0],
            AppendOutcome::Refused {
                error: StoreError::Conflict(_),
                ..
            }
        ),
        "{refused:?}"
    );
    let failed = purge("failed", only_a.clone(), plan, true).await;
    assert!(
        matches!(failed, Err(StoreError::Unavailable(_))),
        "{failed:?}"
    );
    assert_eq!(values().await, 2);
    assert_eq!(store.purge_plan(&only_a).await.unwrap(), plan);
    // Applied: t-a's own value goes; then t-b's purge takes the shared one.
    appended(&purge("p1", only_a.clone(), plan, false).await.unwrap()[0]);
    assert_eq!(values().await, 1);
    let only_b = vec![trace("t-b", 1)];
    let plan = store.purge_plan(&only_b).await.unwrap();
    assert_eq!(plan.values, 1);
    appended(&purge("p2", only_b, plan, false).await.unwrap()[0]);
    assert_eq!(values().await, 0);
    assert_head_matches_entries(&*store).await;
}

/// Access records are appended only at the log's end (a batch for a stale size is
/// refused and stores nothing), and read back by range, key and time.
pub async fn access_records_append_in_order_and_search(store: Arc<dyn Store>) {
    use crate::{AccessQuery, Effect};
    let batch = |event_id: &str, from_seq: u64, keys: &[&str]| AppendRequest {
        events: vec![test_event(
            event_id,
            "evident:access_log_checkpoint",
            None,
            "a",
        )],
        effects: vec![Effect::AppendAccessRecords {
            from_seq,
            records: keys
                .iter()
                .enumerate()
                .map(|(i, key)| test_access_record(from_seq + i as u64, key))
                .collect(),
        }],
    };
    let out = store
        .append(vec![batch("b0", 0, &["auditor", "admin", "auditor"])])
        .await
        .unwrap();
    appended(&out[0]);
    let stale = store
        .append(vec![batch("b-stale", 1, &["admin"])])
        .await
        .unwrap();
    assert!(
        matches!(
            &stale[0],
            AppendOutcome::Refused {
                error: StoreError::Conflict(_),
                ..
            }
        ),
        "{stale:?}"
    );
    assert!(store.entry_by_event_id("b-stale").await.unwrap().is_none());
    let out = store
        .append(vec![batch("b1", 3, &["admin"])])
        .await
        .unwrap();
    appended(&out[0]);
    assert_eq!(store.access_log_size().await.unwrap(), 4);
    let all = store.access_records(0, 10).await.unwrap();
    assert_eq!(all.iter().map(|r| r.seq).collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert_eq!(all[3], test_access_record(3, "admin"));
    let by_key = store
        .search_access(&AccessQuery {
            key: Some("auditor".into()),
            limit: 10,
            ..AccessQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(by_key.iter().map(|r| r.seq).collect::<Vec<_>>(), [0, 2]);
    let by_time = store
        .search_access(&AccessQuery {
            from_micros: Some(101),
            to_micros: Some(102),
            after_seq: Some(1),
            limit: 10,
            ..AccessQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(by_time.iter().map(|r| r.seq).collect::<Vec<_>>(), [2]);
}

pub async fn cosignatures_sit_beside_their_checkpoints(store: Arc<dyn Store>) {
    use crate::{StoredCosignature, WitnessStatus};
    let batch = (0..4)
        .map(|i| test_event(&format!("w{i}"), "t", None, "x"))
        .collect();
    store.append(vec![request(batch)]).await.unwrap();
    let head = store.tree_head().await.unwrap();
    for size in [2, 4] {
        let checkpoint = StoredCheckpoint {
            size,
            root: head.root,
            note: format!("note {size}"),
            created_micros: 1,
        };
        store.put_checkpoint(checkpoint).await.unwrap();
    }
    let cosignature = |size, witness: &str, line: &str| StoredCosignature {
        size,
        witness: witness.into(),
        line: line.into(),
        timestamp: 1_700_000_000,
        received_micros: 5,
    };
    // Beside a stored checkpoint only.
    assert!(matches!(
        store.put_cosignature(cosignature(3, "a", "— a x")).await,
        Err(StoreError::NotFound(_))
    ));
    store
        .put_cosignature(cosignature(2, "a", "— a 2"))
        .await
        .unwrap();
    store
        .put_cosignature(cosignature(2, "b", "— b 2"))
        .await
        .unwrap();
    store
        .put_cosignature(cosignature(4, "b", "— b 4"))
        .await
        .unwrap();
    // The first cosignature of a (size, witness) is kept.
    store
        .put_cosignature(cosignature(4, "b", "— b later"))
        .await
        .unwrap();
    let at4 = store.cosignatures(4).await.unwrap();
    assert_eq!(at4, vec![cosignature(4, "b", "— b 4")]);
    assert_eq!(store.cosignatures(2).await.unwrap().len(), 2);
    assert!(store.cosignatures(3).await.unwrap().is_empty());
    // Cosignatures are not entries: the log did not grow.
    assert_eq!(store.tree_head().await.unwrap(), head);

    let names = |list: &[&str]| list.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    let newest = |witnesses: Vec<String>, quorum| {
        let store = store.clone();
        async move {
            store
                .newest_cosigned_size(&witnesses, quorum)
                .await
                .unwrap()
        }
    };
    assert_eq!(newest(names(&["a", "b"]), 1).await, Some(4));
    assert_eq!(newest(names(&["a", "b"]), 2).await, Some(2));
    assert_eq!(newest(names(&["a"]), 1).await, Some(2));
    assert_eq!(newest(names(&["a", "c"]), 2).await, None);
    assert_eq!(newest(names(&[]), 1).await, None);

    assert!(store.witness_statuses().await.unwrap().is_empty());
    let failing = WitnessStatus {
        witness: "a".into(),
        known_size: Some(2),
        cosigned_size: Some(2),
        cosigned_micros: Some(7),
        error: Some("connection refused".into()),
        error_micros: Some(9),
    };
    store.put_witness_status(failing.clone()).await.unwrap();
    let recovered = WitnessStatus {
        error: None,
        error_micros: None,
        known_size: Some(4),
        ..failing.clone()
    };
    store
        .put_witness_status(WitnessStatus {
            witness: "b".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    store.put_witness_status(recovered.clone()).await.unwrap();
    let statuses = store.witness_statuses().await.unwrap();
    assert_eq!(statuses.len(), 2);
    assert_eq!(statuses[0], recovered);
    assert_eq!(statuses[1].witness, "b");
    assert_eq!(statuses[1].known_size, None);
}

/// The rollup counts exactly the entries the text index covers, each once: a text
/// index step that loses its compare-and-swap counts nothing.
pub async fn activity_rolls_up_with_the_text_index(store: Arc<dyn Store>) {
    let batch = (0..3)
        .map(|i| test_event(&format!("a{i}"), "t", None, "kettle"))
        .collect();
    store.append(vec![request(batch)]).await.unwrap();
    // 2026-11-23T14:00:00Z, the hour of the suite's events.
    let hour = 1_795_442_400_000_000;
    let day = 24 * crate::stats::HOUR_MICROS;
    assert!(store
        .activity(hour - day, hour + day)
        .await
        .unwrap()
        .is_empty());
    store
        .index_text(0, vec!["a".into(), "b".into()])
        .await
        .unwrap();
    let counted = |rows: Vec<crate::stats::HourCount>| {
        rows.into_iter()
            .map(|r| (r.hour_micros, r.agent, r.event_type, r.events))
            .collect::<Vec<_>>()
    };
    let expect = |n| vec![(hour, "agent-1".to_owned(), "tool_call".to_owned(), n)];
    assert_eq!(
        counted(store.activity(hour - day, hour + day).await.unwrap()),
        expect(2)
    );
    assert!(store.index_text(0, vec!["again".into()]).await.is_err());
    store.index_text(2, vec!["c".into()]).await.unwrap();
    assert_eq!(
        counted(store.activity(hour - day, hour + day).await.unwrap()),
        expect(3)
    );
    // The window is half-open on hours.
    assert!(store
        .activity(hour + 1, hour + day)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        counted(store.activity(hour, hour + 1).await.unwrap()),
        expect(3)
    );
    let waiting = store.waiting_approvals(&[hour]).await.unwrap();
    assert_eq!((waiting.count, waiting.opened_before), (0, vec![0]));
}

//! The log over HTTP (CONTRACT sections 3 and 4): signed checkpoints, tlog-tiles,
//! entry bundles, inclusion and consistency proofs. Every check recomputes hashes here
//! from the entry bytes the server serves, and verifies signatures with the verifier
//! key `evident init` printed.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{event, hash, hashes, leaf, naive_root, TestApp, ORIGIN};
use evident_server::state::Settings;
use evident_tlog::{open_checkpoint, verify_consistency, verify_inclusion, Checkpoint, Hash};
use serde_json::{json, Value};

/// Leaf hashes of every entry, computed here from the served entry bytes.
async fn leaves(t: &TestApp) -> Vec<[u8; 32]> {
    t.entries().await.iter().map(|e| leaf(e)).collect()
}

/// `GET /checkpoint`, opened with the log's verifier key.
async fn served_checkpoint(t: &TestApp) -> (String, Checkpoint) {
    let reply = t.get("/checkpoint", None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(reply.content_type().starts_with("text/plain"));
    let note = reply.text();
    let checkpoint = open_checkpoint(note.as_bytes(), &t.verifier_key)
        .expect("the checkpoint opens with the log's verifier key");
    (note, checkpoint)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpoint_is_a_signed_note_over_the_tree() {
    let t = TestApp::new().await;
    t.ingest_n("cp", 5).await;
    t.sign().await;
    let (note, checkpoint) = served_checkpoint(&t).await;
    assert_eq!(checkpoint.origin, ORIGIN);
    assert_eq!(checkpoint.size, 5);
    assert_eq!(checkpoint.root.0, naive_root(&leaves(&t).await));
    assert!(note.starts_with(&format!("{ORIGIN}\n5\n")), "{note}");
    // Another key of the same name does not open it.
    let (_, other_key) = evident_tlog::LogSigner::generate(ORIGIN).unwrap();
    assert!(open_checkpoint(note.as_bytes(), &other_key).is_err());
    // A tampered note does not open either.
    let tampered = note.replacen("\n5\n", "\n4\n", 1);
    assert!(open_checkpoint(tampered.as_bytes(), &t.verifier_key).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_checkpointer_covers_new_events_within_a_second() {
    let t = TestApp::with_settings(Settings::default()).await;
    t.ingest_n("bg", 3).await;
    // Contract: within 1 s by default; some slack for a loaded test machine.
    t.wait_for_checkpoint(3, Duration::from_millis(1500)).await;
    let (_, checkpoint) = served_checkpoint(&t).await;
    assert_eq!(checkpoint.size, 3);
    assert_eq!(checkpoint.root.0, naive_root(&leaves(&t).await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_description() {
    let t = TestApp::new().await;
    let (empty_note, _) = served_checkpoint(&t).await;
    t.ingest_n("d", 3).await;
    let info = t.get("/api/v1/log", None).await.ok_json();
    assert_eq!(info["origin"], json!(ORIGIN));
    assert_eq!(info["verifier_key"], json!(t.verifier_key));
    let verifier_key = info["verifier_key"].as_str().unwrap();
    let parts: Vec<&str> = verifier_key.splitn(3, '+').collect();
    assert_eq!(parts.len(), 3, "<name>+<hex8>+<base64>: {verifier_key}");
    assert_eq!(parts[0], ORIGIN, "the key name equals the origin");
    assert_eq!(parts[1].len(), 8);
    assert!(parts[1].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(info["tree_size"], json!(3));
    assert_eq!(info["checkpoint"], json!(empty_note));
    assert_eq!(info["pending"], json!(3));
    assert!(info["witnesses"].is_array());

    t.sign().await;
    let (note, _) = served_checkpoint(&t).await;
    let info = t.get("/api/v1/log", None).await.ok_json();
    assert_eq!(info["checkpoint"], json!(note));
    assert_eq!(info["pending"], json!(0));
    assert_eq!(info["tree_size"], json!(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_hash_tiles_hold_the_leaf_hashes() {
    let t = TestApp::new().await;
    let answer = t.ingest_n("h", 5).await;
    let leaves = leaves(&t).await;
    for (result, leaf) in answer.iter().zip(&leaves) {
        assert_eq!(hash(&result["leaf_hash"]).0, *leaf);
    }
    for width in 1..=5usize {
        let reply = t.get(&format!("/tile/0/000.p/{width}"), None).await;
        assert_eq!(reply.status, StatusCode::OK, "width {width}");
        assert_eq!(reply.content_type(), "application/octet-stream");
        assert_eq!(reply.body, leaves[..width].concat(), "width {width}");
    }
    for path in ["/tile/0/000.p/6", "/tile/0/000", "/tile/1/000.p/1"] {
        t.get(path, None).await.problem(StatusCode::NOT_FOUND);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_tiles_and_the_next_level_after_300_events() {
    let t = TestApp::new().await;
    t.ingest_n("full", 300).await;
    let leaves = leaves(&t).await;
    assert_eq!(leaves.len(), 300);

    let full = t.get("/tile/0/000", None).await;
    assert_eq!(full.status, StatusCode::OK);
    assert_eq!(full.body, leaves[..256].concat());
    let rest = t.get("/tile/0/001.p/44", None).await;
    assert_eq!(rest.status, StatusCode::OK);
    assert_eq!(rest.body, leaves[256..].concat());
    t.get("/tile/0/001.p/45", None)
        .await
        .problem(StatusCode::NOT_FOUND);
    t.get("/tile/0/001", None)
        .await
        .problem(StatusCode::NOT_FOUND);

    // Level 1 hash 0 is the root of the first 256 leaves.
    let level1 = t.get("/tile/1/000.p/1", None).await;
    assert_eq!(level1.status, StatusCode::OK);
    assert_eq!(level1.body, naive_root(&leaves[..256]).to_vec());
    t.get("/tile/1/000.p/2", None)
        .await
        .problem(StatusCode::NOT_FOUND);

    // Entry bundles: one full, one partial.
    let full_bundle = t.get("/tile/entries/000", Some(&t.auditor)).await;
    assert_eq!(full_bundle.status, StatusCode::OK);
    let entries = evident_tlog::decode_entry_bundle(&full_bundle.body).unwrap();
    assert_eq!(entries.len(), 256);
    let partial = t.get("/tile/entries/001.p/44", Some(&t.auditor)).await;
    let more = evident_tlog::decode_entry_bundle(&partial.body).unwrap();
    assert_eq!(more.len(), 44);
    let bundle_leaves: Vec<[u8; 32]> = entries.iter().chain(&more).map(|e| leaf(e)).collect();
    assert_eq!(bundle_leaves, leaves);

    let checkpoint = t.sign().await;
    assert_eq!(checkpoint.size, 300);
    assert_eq!(checkpoint.root.0, naive_root(&leaves));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entry_bundles_need_a_reading_role() {
    let t = TestApp::new().await;
    let answer = t.ingest_n("eb", 4).await;
    t.get("/tile/entries/000.p/4", None)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    t.get("/tile/entries/000.p/4", Some(&t.ingest))
        .await
        .problem(StatusCode::FORBIDDEN);
    let reply = t.get("/tile/entries/000.p/4", Some(&t.auditor)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let entries = evident_tlog::decode_entry_bundle(&reply.body).unwrap();
    assert_eq!(entries.len(), 4);
    for (i, (entry, result)) in entries.iter().zip(&answer).enumerate() {
        assert_eq!(hash(&result["leaf_hash"]).0, leaf(entry), "entry {i}");
        let record: Value = serde_json::from_slice(entry).unwrap();
        assert_eq!(record["event_id"], json!(format!("eb-{i}")));
    }
    // A narrower bundle is a prefix; a wider one does not exist yet.
    let two = t.get("/tile/entries/000.p/2", Some(&t.auditor)).await;
    assert_eq!(
        evident_tlog::decode_entry_bundle(&two.body).unwrap(),
        entries[..2].to_vec()
    );
    t.get("/tile/entries/000.p/5", Some(&t.auditor))
        .await
        .problem(StatusCode::NOT_FOUND);
    t.get("/tile/entries/000", Some(&t.auditor))
        .await
        .problem(StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tile_paths_are_404() {
    let t = TestApp::new().await;
    t.ingest_n("bp", 3).await;
    for path in [
        "/tile/",
        "/tile/0",
        "/tile/0/",
        "/tile/0/0",
        "/tile/0/00",
        "/tile/0/0000",
        "/tile/0/abc",
        "/tile/0/000.p/0",
        "/tile/0/000.p/01",
        "/tile/0/000.p/256",
        "/tile/0/000.p/",
        "/tile/0/000.p/x",
        "/tile/0/000/extra",
        "/tile/00/000",
        "/tile/64/000",
        "/tile/99999/000",
        "/tile/-1/000",
        "/tile/0/x000/000",
        "/tile/0/x1/000",
        "/tile/0/999",
        "/tile/0/x001/000",
        "/tile/63/000",
        "/tile/0/x018/x446/x744/x073/x709/x551/615",
        "/tile/0/x018/x446/x744/x073/x709/x551/616",
        "/tile/0/x999/x999/x999/x999/x999/x999/999",
        "/tile/entries/",
        "/tile/entries/abc",
        "/tile/entries/000.p/0",
        "/tile/entries/001",
        "/tile/entries/x018/x446/x744/x073/x709/x551/616",
        "/tile/%00/000",
        "/tile/0/000.p/1/../../entries/000.p/1",
    ] {
        for key in [None, Some(t.auditor.as_str())] {
            let reply = t.get(path, key).await;
            assert!(
                !reply.status.is_server_error(),
                "{path}: {} {}",
                reply.status,
                reply.text()
            );
            if key.is_none() && path.starts_with("/tile/entries/") {
                // An existing-looking bundle path asks for a key first.
                let problem = reply.client_problem();
                assert!(
                    [401, 404].contains(&problem["status"].as_u64().unwrap()),
                    "{path}: {problem}"
                );
            } else {
                reply.problem(StatusCode::NOT_FOUND);
            }
        }
    }
    let long = format!("/tile/0/{}", "x001/".repeat(100));
    t.get(&long, None).await.problem(StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_entry_bundle_indexes_are_404() {
    let t = TestApp::new().await;
    t.ingest_n("hx", 3).await;
    // 2^56 and u64::MAX: valid paths whose first entry is beyond u64. In a release
    // build 2^56 * 256 wraps to 0, so `.p/3` would serve bundle 0's entries.
    for path in [
        "/tile/entries/x072/x057/x594/x037/x927/x936",
        "/tile/entries/x072/x057/x594/x037/x927/x936.p/3",
        "/tile/entries/x018/x446/x744/x073/x709/x551/615",
        "/tile/entries/x018/x446/x744/x073/x709/x551/615.p/3",
    ] {
        let reply = t.get(path, Some(&t.auditor)).await;
        reply.problem(StatusCode::NOT_FOUND);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inclusion_proofs_verify_against_the_checkpoint() {
    let t = TestApp::new().await;
    let answer = t.ingest_n("inc", 7).await;
    t.sign().await;
    let (_, checkpoint) = served_checkpoint(&t).await;
    assert_eq!(checkpoint.size, 7);
    let leaves = leaves(&t).await;

    for (seq, result) in answer.iter().enumerate() {
        let seq = seq as u64;
        // Default tree_size: the latest checkpoint's.
        for uri in [
            format!("/api/v1/proofs/inclusion?seq={seq}"),
            format!("/api/v1/proofs/inclusion?seq={seq}&tree_size=7"),
        ] {
            let proof = t.get(&uri, None).await.ok_json();
            assert_eq!(proof["seq"], json!(seq));
            assert_eq!(proof["tree_size"], json!(7));
            assert_eq!(proof["leaf_hash"], result["leaf_hash"]);
            assert_eq!(hash(&proof["root_hash"]), checkpoint.root);
            let path = hashes(&proof["hashes"]);
            let leaf_hash = Hash(leaves[usize::try_from(seq).unwrap()]);
            verify_inclusion(seq, 7, leaf_hash, checkpoint.root, &path)
                .unwrap_or_else(|e| panic!("seq {seq}: {e}"));
            // The proof is for this leaf only.
            let other = Hash(leaves[(usize::try_from(seq).unwrap() + 1) % 7]);
            assert!(verify_inclusion(seq, 7, other, checkpoint.root, &path).is_err());
        }
    }

    // An older tree size, which no checkpoint names: the root is still the RFC's.
    let proof = t
        .get("/api/v1/proofs/inclusion?seq=2&tree_size=5", None)
        .await
        .ok_json();
    let root5 = naive_root(&leaves[..5]);
    assert_eq!(hash(&proof["root_hash"]).0, root5);
    verify_inclusion(
        2,
        5,
        Hash(leaves[2]),
        Hash(root5),
        &hashes(&proof["hashes"]),
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inclusion_proof_errors() {
    let t = TestApp::new().await;
    t.ingest_n("ie", 3).await;
    t.sign().await;
    for (uri, status) in [
        ("/api/v1/proofs/inclusion?seq=3", StatusCode::CONFLICT),
        (
            "/api/v1/proofs/inclusion?seq=3&tree_size=3",
            StatusCode::CONFLICT,
        ),
        (
            "/api/v1/proofs/inclusion?seq=2&tree_size=2",
            StatusCode::CONFLICT,
        ),
        (
            "/api/v1/proofs/inclusion?seq=0&tree_size=0",
            StatusCode::CONFLICT,
        ),
        (
            "/api/v1/proofs/inclusion?seq=0&tree_size=4",
            StatusCode::CONFLICT,
        ),
        (
            "/api/v1/proofs/inclusion?seq=0&tree_size=18446744073709551615",
            StatusCode::CONFLICT,
        ),
        (
            "/api/v1/proofs/inclusion?seq=18446744073709551614",
            StatusCode::CONFLICT,
        ),
        ("/api/v1/proofs/inclusion", StatusCode::BAD_REQUEST),
        ("/api/v1/proofs/inclusion?seq=", StatusCode::BAD_REQUEST),
        ("/api/v1/proofs/inclusion?seq=-1", StatusCode::BAD_REQUEST),
        ("/api/v1/proofs/inclusion?seq=one", StatusCode::BAD_REQUEST),
        (
            "/api/v1/proofs/inclusion?seq=0&tree_size=1e3",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/proofs/inclusion?seq=18446744073709551616",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let reply = t.get(uri, None).await;
        assert_eq!(reply.status, status, "{uri}: {}", reply.text());
        reply.problem(status);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistency_proofs_verify_between_checkpoints() {
    let t = TestApp::new().await;
    t.ingest_n("c1", 3).await;
    t.sign().await;
    let (_, old) = served_checkpoint(&t).await;
    t.ingest_n("c2", 6).await;
    t.sign().await;
    let (_, new) = served_checkpoint(&t).await;
    assert_eq!((old.size, new.size), (3, 9));

    for uri in [
        "/api/v1/proofs/consistency?from=3&to=9",
        "/api/v1/proofs/consistency?from=3",
    ] {
        let proof = t.get(uri, None).await.ok_json();
        assert_eq!(proof["from"], json!(3));
        assert_eq!(proof["to"], json!(9));
        let path = hashes(&proof["hashes"]);
        assert!(!path.is_empty());
        verify_consistency(3, 9, old.root, new.root, &path).unwrap();
        // The proof does not fit another old root.
        assert!(verify_consistency(3, 9, new.root, new.root, &path).is_err());
    }
    // Every intermediate size proves consistent with the newest root.
    let leaves = leaves(&t).await;
    for from in 1..9u64 {
        let proof = t
            .get(
                &format!("/api/v1/proofs/consistency?from={from}&to=9"),
                None,
            )
            .await
            .ok_json();
        let old_root = Hash(naive_root(&leaves[..usize::try_from(from).unwrap()]));
        verify_consistency(from, 9, old_root, new.root, &hashes(&proof["hashes"]))
            .unwrap_or_else(|e| panic!("from {from}: {e}"));
    }
    // The trivial cases are empty proofs.
    for uri in [
        "/api/v1/proofs/consistency?from=0&to=9",
        "/api/v1/proofs/consistency?from=9&to=9",
    ] {
        let proof = t.get(uri, None).await.ok_json();
        assert_eq!(proof["hashes"], json!([]), "{uri}");
    }
    for (uri, status) in [
        (
            "/api/v1/proofs/consistency?from=5&to=3",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/proofs/consistency?from=3&to=10",
            StatusCode::CONFLICT,
        ),
        (
            "/api/v1/proofs/consistency?from=10",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/proofs/consistency", StatusCode::BAD_REQUEST),
        ("/api/v1/proofs/consistency?from=x", StatusCode::BAD_REQUEST),
    ] {
        let reply = t.get(uri, None).await;
        assert_eq!(reply.status, status, "{uri}: {}", reply.text());
        reply.problem(status);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_lookup_with_proof_or_pending() {
    let t = TestApp::new().await;
    let first = t.ingest_n("pf", 1).await;
    t.sign().await;
    let (note, checkpoint) = served_checkpoint(&t).await;
    // Not yet covered by a checkpoint: pending, no proof.
    t.ingest_ok(&event("pf-late", "t")).await;
    let late = t
        .get("/api/v1/events/pf-late?proof=true", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(late["pending"], json!(true), "{late}");
    assert!(late.get("proof").is_none(), "{late}");
    assert_eq!(late["seq"], json!(1));

    // Covered: the proof verifies against the signed checkpoint that comes with it.
    let covered = t
        .get("/api/v1/events/pf-0?proof=true", Some(&t.auditor))
        .await
        .ok_json();
    assert!(covered.get("pending").is_none() || covered["pending"] == json!(false));
    assert_eq!(covered["checkpoint"], json!(note));
    let opened = open_checkpoint(
        covered["checkpoint"].as_str().unwrap().as_bytes(),
        &t.verifier_key,
    )
    .unwrap();
    assert_eq!(opened, checkpoint);
    let proof = &covered["proof"];
    assert_eq!(proof["seq"], json!(0));
    assert_eq!(proof["tree_size"], json!(opened.size));
    assert_eq!(covered["leaf_hash"], first[0]["leaf_hash"]);
    verify_inclusion(
        0,
        opened.size,
        hash(&covered["leaf_hash"]),
        opened.root,
        &hashes(&proof["hashes"]),
    )
    .unwrap();

    // Without ?proof there is neither.
    let plain = t.get_event("pf-0").await.ok_json();
    assert!(plain.get("proof").is_none() && plain.get("pending").is_none());

    // Once signed, the late event has its proof too.
    t.sign().await;
    let late = t
        .get("/api/v1/events/pf-late?proof=true", Some(&t.auditor))
        .await
        .ok_json();
    assert!(late.get("pending").is_none(), "{late}");
    let opened = open_checkpoint(
        late["checkpoint"].as_str().unwrap().as_bytes(),
        &t.verifier_key,
    )
    .unwrap();
    assert_eq!(opened.size, 2);
    verify_inclusion(
        1,
        2,
        hash(&late["leaf_hash"]),
        opened.root,
        &hashes(&late["proof"]["hashes"]),
    )
    .unwrap();
    t.get("/api/v1/events/pf-0?proof=maybe", Some(&t.auditor))
        .await
        .problem(StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_any_checkpoint() {
    let t = TestApp::without_signing_key().await;
    let answer = t.ingest_n("nc", 2).await;
    t.get("/checkpoint", None)
        .await
        .problem(StatusCode::NOT_FOUND);
    let info = t.get("/api/v1/log", None).await.ok_json();
    assert_eq!(info["checkpoint"], Value::Null);
    assert_eq!(info["tree_size"], json!(2));
    assert_eq!(info["pending"], json!(2));
    let late = t
        .get("/api/v1/events/nc-1?proof=true", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(late["pending"], json!(true));
    assert!(late.get("proof").is_none() && late.get("checkpoint").is_none());
    // Without a checkpoint there is no default tree size...
    t.get("/api/v1/proofs/inclusion?seq=0", None)
        .await
        .problem(StatusCode::CONFLICT);
    t.get("/api/v1/proofs/consistency?from=1", None)
        .await
        .problem(StatusCode::CONFLICT);
    // ...but an explicit one is proved against the tree's own root.
    let proof = t
        .get("/api/v1/proofs/inclusion?seq=1&tree_size=2", None)
        .await
        .ok_json();
    let leaves = leaves(&t).await;
    assert_eq!(proof["leaf_hash"], answer[1]["leaf_hash"]);
    let root = Hash(naive_root(&leaves));
    assert_eq!(hash(&proof["root_hash"]), root);
    verify_inclusion(1, 2, Hash(leaves[1]), root, &hashes(&proof["hashes"])).unwrap();
    // Nothing signs in the background either.
    tokio::time::sleep(Duration::from_millis(700)).await;
    t.get("/checkpoint", None)
        .await
        .problem(StatusCode::NOT_FOUND);
}

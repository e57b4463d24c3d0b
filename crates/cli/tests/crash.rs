//! Crash safety: `kill -9` the real server while several clients ingest; after a
//! restart every acknowledged event is there exactly once at its acknowledged `seq`,
//! checkpoints never shrank, and `evident verify` passes.

mod util;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use util::{event, http, run, stderr, Server};

const CLIENTS: usize = 4;
const ROUNDS: usize = 3;

#[test]
fn kill_9_during_ingest_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut admin_key: Option<String> = None;
    // event_id → (seq, leaf_hash) as acknowledged.
    let acked: Arc<Mutex<HashMap<String, (u64, String)>>> = Arc::default();
    let mut largest_checkpoint = 0u64;

    for round in 0..ROUNDS {
        let server = Server::start(&data, &[]);
        if round == 0 {
            admin_key = server.admin_key.clone();
        }
        let key = admin_key.clone().expect("admin key printed on first start");
        let stop = Arc::new(AtomicBool::new(false));
        let mut clients = Vec::new();
        for client in 0..CLIENTS {
            let (acked, stop, key, url) = (
                acked.clone(),
                stop.clone(),
                key.clone(),
                server.url("/api/v1/events"),
            );
            clients.push(std::thread::spawn(move || {
                let http = http();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    // Mixed sizes: single events and batches.
                    let batch: Vec<Value> = (0..(1 + n % 25))
                        .map(|i| {
                            event(
                                &format!("r{round}-c{client}-{n}-{i}"),
                                &format!("t{client}"),
                            )
                        })
                        .collect();
                    n += 1;
                    let Ok(response) = http.post(&url).bearer_auth(&key).json(&batch).send() else {
                        break;
                    };
                    if !response.status().is_success() {
                        break;
                    }
                    let Ok(results) = response.json::<Vec<Value>>() else {
                        break;
                    };
                    let mut acked = acked.lock().unwrap();
                    for r in results {
                        acked.insert(
                            r["event_id"].as_str().unwrap().to_owned(),
                            (
                                r["seq"].as_u64().unwrap(),
                                r["leaf_hash"].as_str().unwrap().to_owned(),
                            ),
                        );
                    }
                }
            }));
        }
        // Let them ingest, watching checkpoints, then kill the server mid-flight.
        let watcher = http();
        for _ in 0..10 {
            std::thread::sleep(Duration::from_millis(80));
            if let Ok(r) = watcher.get(server.url("/checkpoint")).send() {
                if let Ok(text) = r.text() {
                    let size: u64 = text
                        .lines()
                        .nth(1)
                        .and_then(|l| l.parse().ok())
                        .unwrap_or(0);
                    assert!(size >= largest_checkpoint, "checkpoint shrank to {size}");
                    largest_checkpoint = size;
                }
            }
        }
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        for client in clients {
            client.join().unwrap();
        }
    }

    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "too few events acknowledged: {}",
        acked.len()
    );
    let server = Server::start(&data, &[]);
    let key = admin_key.unwrap();
    let http = http();
    // Every acknowledged event at its acknowledged position, once.
    let mut seqs = HashMap::new();
    for (event_id, (seq, leaf)) in &acked {
        let got: Value = http
            .get(server.url(&format!("/api/v1/events/{event_id}")))
            .bearer_auth(&key)
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(got["seq"].as_u64(), Some(*seq), "{event_id} moved");
        assert_eq!(
            got["leaf_hash"].as_str(),
            Some(leaf.as_str()),
            "{event_id} changed"
        );
        assert!(
            seqs.insert(*seq, event_id.clone()).is_none(),
            "seq {seq} acknowledged twice"
        );
    }
    // Checkpoints never shrink across restarts; a new one covers everything.
    std::thread::sleep(Duration::from_millis(1200));
    let log: Value = http
        .get(server.url("/api/v1/log"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let tree_size = log["tree_size"].as_u64().unwrap();
    assert!(tree_size >= acked.len() as u64);
    let checkpoint = log["checkpoint"].as_str().unwrap();
    let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
    assert!(
        size >= largest_checkpoint && size == tree_size,
        "checkpoint {size}, tree {tree_size}"
    );
    server.stop();

    let out = run(&data, &["verify"]);
    assert!(out.status.success(), "verify failed: {}", stderr(&out));
}

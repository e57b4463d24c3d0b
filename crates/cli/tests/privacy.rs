//! Privacy at rest, checked on the raw bytes of the data dir: no clear personal value
//! is in any file; after erasure no file holds the subject's key (wrapped or not), no
//! key the store still holds opens the subject's blobs or vault values, and `verify`
//! passes.

mod util;

use std::path::{Path, PathBuf};
use std::time::Duration;

use evident_core::crypto::{blob_aad, vault_aad, SecretKey};
use rusqlite::Connection;
use serde_json::{json, Value};
use util::{http, run, stderr, stdout, Server};

const CLEAR: &[&str] = &[
    "jane.roe@example.com",
    "+44 20 7946 0958",
    "4111 1111 1111 1111",
    "GB82 WEST 1234 5698 7654 32",
    "123-45-6789",
    "203.0.113.195",
    "customer-jane-roe",
    "customer-john-doe",
    "john.doe@example.org",
];

fn event(id: &str, subject: &str, email: &str) -> Value {
    json!({
        "event_id": id, "trace_id": format!("t-{subject}"), "timestamp": "2026-11-23T10:00:00Z",
        "actor": {"type": "agent", "id": "kyc-agent"}, "event_type": "model_call",
        "context": {"subject": subject},
        "input": {"prompt": format!("Customer {subject} ({email}, +44 20 7946 0958) paid with 4111 1111 1111 1111 \
                                     from IBAN GB82 WEST 1234 5698 7654 32; SSN 123-45-6789; IP 203.0.113.195")},
        "decision": {"action": "approve", "reason": format!("{email} verified")},
    })
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every file of the data dir whose bytes contain `needle`.
fn files_containing(data: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    all_files(data, &mut files);
    files
        .into_iter()
        .filter(|f| {
            let bytes = std::fs::read(f).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .collect()
}

fn master_key(data: &Path) -> SecretKey {
    let hex = std::fs::read_to_string(data.join("secrets/master.key")).unwrap();
    let bytes: Vec<u8> = (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex.trim()[i..i + 2], 16).unwrap())
        .collect();
    SecretKey::from_bytes(bytes.try_into().unwrap())
}

#[test]
fn no_clear_value_rests_on_disk_and_erasure_leaves_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let admin = server.admin_key.clone().unwrap();
    let out = run(
        &data,
        &["keys", "create", "--role", "privacy", "--name", "dpo"],
    );
    let privacy = stdout(&out).trim().to_owned();
    let http = http();
    let events = json!([
        event("j1", "customer-jane-roe", "jane.roe@example.com"),
        event("j2", "customer-jane-roe", "jane.roe@example.com"),
        event("d1", "customer-john-doe", "john.doe@example.org"),
    ]);
    let response = http
        .post(server.url("/api/v1/events"))
        .bearer_auth(&admin)
        .json(&events)
        .send()
        .unwrap();
    assert!(response.status().is_success());
    let record: Value = http
        .get(server.url("/api/v1/events/j1"))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let jane = record["record"]["context"]["subject"]
        .as_str()
        .unwrap()
        .to_owned();
    std::thread::sleep(Duration::from_millis(600));
    server.stop();

    for clear in CLEAR {
        let found = files_containing(&data, clear.as_bytes());
        assert!(found.is_empty(), "{clear:?} rests in clear in {found:?}");
    }

    // Jane's key and what it seals, as stored before the erasure.
    let (key_id, wrapped, sealed_blobs, sealed_values) = {
        let db = Connection::open(data.join("evident.db")).unwrap();
        let (key_id, wrapped): (String, Vec<u8>) = db
            .query_row(
                "SELECT key_id, wrapped FROM data_keys WHERE subject = ?1",
                [&jane],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let mut stmt = db
            .prepare("SELECT ref, sealed FROM blobs WHERE key_id = ?1")
            .unwrap();
        let blobs: Vec<(Vec<u8>, Vec<u8>)> = stmt
            .query_map([&key_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut stmt = db
            .prepare("SELECT token, sealed FROM vault WHERE key_id = ?1")
            .unwrap();
        let values: Vec<(String, Vec<u8>)> = stmt
            .query_map([&key_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        (key_id, wrapped, blobs, values)
    };
    assert_eq!(sealed_blobs.len(), 2);
    assert!(
        sealed_values.len() >= 6,
        "subject, email, phone, card, IBAN, SSN, IP"
    );
    let master = master_key(&data);
    let jane_key = master.unwrap_key(&key_id, &wrapped).unwrap();
    let (reference, sealed) = &sealed_blobs[0];
    let reference = evident_core::blob::BlobRef(reference.clone().try_into().unwrap());
    assert!(
        jane_key.open(sealed, &blob_aad(&reference)).is_ok(),
        "the key opened her data before"
    );

    // Erase her through a server, as the privacy officer would.
    let server = Server::start(&data, &[]);
    let response = http
        .post(server.url("/api/v1/subjects/erase"))
        .bearer_auth(&privacy)
        .json(&json!({"subject": "customer-jane-roe", "reason": "GDPR art. 17 request 2026-118"}))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200, "{:?}", response.text());
    server.stop();

    // No file holds her wrapped key any more (database pages, WAL, anything).
    let found = files_containing(&data, &wrapped);
    assert!(found.is_empty(), "the destroyed key survives in {found:?}");
    // No key the store still holds opens her blobs or vault values.
    let db = Connection::open(data.join("evident.db")).unwrap();
    let mut stmt = db.prepare("SELECT key_id, wrapped FROM data_keys").unwrap();
    let remaining: Vec<SecretKey> = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .unwrap()
        .map(|row| {
            let (id, wrapped) = row.unwrap();
            assert_ne!(id, key_id);
            master.unwrap_key(&id, &wrapped).unwrap()
        })
        .chain([master.clone()])
        .collect();
    assert!(!remaining.is_empty());
    for key in &remaining {
        for (reference, sealed) in &sealed_blobs {
            let reference = evident_core::blob::BlobRef(reference.clone().try_into().unwrap());
            assert!(key.open(sealed, &blob_aad(&reference)).is_err());
        }
        for (token, sealed) in &sealed_values {
            assert!(key.open(sealed, &vault_aad(token)).is_err());
        }
    }
    // Her search text is gone; John's data is intact; the log verifies.
    let texts: i64 = db
        .query_row("SELECT count(*) FROM events_fts WHERE rowid IN (SELECT seq FROM entries WHERE subject = ?1)", [&jane], |r| r.get(0))
        .unwrap();
    assert_eq!(texts, 0);
    let out = run(&data, &["verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("2 blobs are erased"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn rotating_the_master_key_rewraps_every_data_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    util::init_with_events(&data, 10);
    let old_master = std::fs::read_to_string(data.join("secrets/master.key")).unwrap();
    let out = run(&data, &["keys", "rotate-master"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("epoch 2"), "{}", stdout(&out));
    let new_master = std::fs::read_to_string(data.join("secrets/master.key")).unwrap();
    assert_ne!(old_master, new_master);
    // Everything still opens with the new key: verify reads every blob.
    let out = run(&data, &["verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("10 blobs verified"),
        "{}",
        stdout(&out)
    );
    // The old master key is nowhere in the data dir.
    assert!(files_containing(&data, old_master.trim().as_bytes()).is_empty());
}

#[test]
fn rotating_the_master_key_while_serving_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let admin = server.admin_key.clone().unwrap();
    let http = http();
    let post = |id: &str, subject: &str| {
        let response = http
            .post(server.url("/api/v1/events"))
            .bearer_auth(&admin)
            .json(&event(id, subject, "someone@example.com"))
            .send()
            .unwrap();
        assert!(response.status().is_success());
    };
    post("before", "customer-before");
    let out = run(&data, &["keys", "rotate-master"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A subject first seen after the rotation gets a key wrapped by the new master.
    post("after", "customer-after");
    for id in ["before", "after"] {
        let record: Value = http
            .get(server.url(&format!("/api/v1/events/{id}")))
            .bearer_auth(&admin)
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert!(
            record["record"]["input"]["prompt"].is_string(),
            "{id}: {record}"
        );
    }
    server.stop();
    let out = run(&data, &["verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("2 blobs verified"),
        "{}",
        stdout(&out)
    );
}

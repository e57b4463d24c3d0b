//! `evident keys`: every change of a key commits with the `key_change` event that
//! records it (CONTRACT section 1, "Server events"; section 7), locally and while
//! `serve` runs; the log never holds a secret.

mod util;

use serde_json::Value;
use util::{run, stderr, stdout, Server};

/// The `key_change` records of the log, oldest first.
fn key_changes(data: &std::path::Path) -> Vec<Value> {
    let out = run(data, &["search", "--type", "key_change", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let answer: Value = serde_json::from_str(&stdout(&out)).unwrap();
    answer["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key_change"].clone())
        .collect()
}

#[test]
fn creating_revoking_and_rotating_keys_are_logged_with_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    util::init_with_events(&data, 3);
    let out = run(
        &data,
        &[
            "keys", "create", "--role", "ingest", "--name", "bot-1", "--agents", "a,b",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let secret = stdout(&out).trim().to_owned();
    assert!(run(&data, &["keys", "revoke", "bot-1"]).status.success());
    let out = run(&data, &["keys", "rotate-master"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Refused changes store nothing, neither the change nor an event.
    let taken = run(
        &data,
        &["keys", "create", "--role", "ingest", "--name", "bot-1"],
    );
    assert_eq!(taken.status.code(), Some(2));
    assert!(stderr(&taken).contains("bot-1"), "{}", stderr(&taken));
    let unknown = run(&data, &["keys", "revoke", "nobody"]);
    assert_eq!(unknown.status.code(), Some(2));

    let changes = key_changes(&data);
    let summary: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| (c["action"].as_str().unwrap(), c["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("create", "api_key"),
            ("revoke", "api_key"),
            ("rotate", "master_key")
        ]
    );
    assert_eq!(changes[0]["name"], "bot-1");
    assert_eq!(changes[0]["role"], "ingest");
    assert_eq!(changes[0]["agents"], serde_json::json!(["a", "b"]));
    assert_eq!(changes[2]["epoch"], 2);
    assert_eq!(changes[2]["data_keys_rewrapped"], 1, "the default key");
    let logged = serde_json::to_string(&changes).unwrap();
    assert!(!logged.contains(&secret[4..]), "{logged}");
    // The log with its new entries verifies, blobs under the new master key too.
    let out = run(&data, &["verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn key_changes_made_while_serving_are_logged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let out = run(
        &data,
        &["keys", "create", "--role", "auditor", "--name", "reader-1"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(run(&data, &["keys", "revoke", "reader-1"]).status.success());
    server.stop();
    let actions: Vec<String> = key_changes(&data)
        .iter()
        .map(|c| format!("{} {}", c["action"], c["name"]))
        .collect();
    assert_eq!(
        actions,
        vec!["\"create\" \"reader-1\"", "\"revoke\" \"reader-1\""]
    );
}

/// The `config_change` records of the log, oldest first.
fn config_changes(data: &std::path::Path) -> Vec<Value> {
    let out = run(data, &["search", "--type", "config_change", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let answer: Value = serde_json::from_str(&stdout(&out)).unwrap();
    answer["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["config_change"].clone())
        .collect()
}

/// A server start records its configuration when it differs from the one last
/// recorded: a digest and the names of the keys that changed, never a value. The
/// first start sets the baseline.
#[test]
fn config_change_is_logged_at_start_only_when_something_changed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let plain = ["--otlp-grpc-listen", "off"];
    Server::start(&data, &plain).stop();
    Server::start(&data, &plain).stop();
    assert!(config_changes(&data).is_empty());
    let bigger = ["--otlp-grpc-listen", "off", "--max-body-bytes", "1048577"];
    Server::start(&data, &bigger).stop();
    Server::start(&data, &bigger).stop();
    let changes = config_changes(&data);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["changed"], serde_json::json!(["max_body_bytes"]));
    assert!(changes[0]["digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    Server::start(&data, &plain).stop();
    let changes = config_changes(&data);
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[1]["changed"], serde_json::json!(["max_body_bytes"]));
    assert_ne!(changes[1]["digest"], changes[0]["digest"]);
    let logged = serde_json::to_string(&changes).unwrap();
    assert!(!logged.contains("1048577"), "{logged}");
}

/// Sends `n` events to a running server.
fn ingest_http(server: &Server, prefix: &str, n: usize) {
    let events: Vec<Value> = (0..n)
        .map(|i| util::event(&format!("{prefix}-{i}"), "trace-rot"))
        .collect();
    let response = util::http()
        .post(server.url("/api/v1/events"))
        .bearer_auth(server.admin_key.as_deref().unwrap())
        .json(&events)
        .send()
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().unwrap()
    );
}

/// `GET /api/v1/log` once every entry is covered by a checkpoint.
fn log_when_checkpointed(server: &Server) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let info: Value = util::http()
            .get(server.url("/api/v1/log"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        if info["pending"] == 0 {
            return info;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint: {info}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The private key file's verifier key.
fn verifier_key_of(file: &std::path::Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    evident_tlog::LogSigner::new(text.trim())
        .unwrap()
        .verifier_key()
}

/// CONTRACT sections 3 and 7: `keys rotate-signing` while `serve` runs. The entry
/// announcing the new key is covered by a checkpoint signed with the old key; later
/// checkpoints are signed with the new key only; the log verifies across the
/// rotation, locally and remotely, and against a checkpoint saved before it; a
/// checkpoint signed by a key the log does not name fails.
#[test]
fn rotating_the_signing_key_while_serving_hands_over_through_an_old_key_checkpoint() {
    use evident_tlog::open_checkpoint;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--otlp-grpc-listen", "off"]);
    ingest_http(&server, "before", 5);
    let before = log_when_checkpointed(&server);
    let old_key = before["verifier_key"].as_str().unwrap().to_owned();
    let saved = dir.path().join("saved.checkpoint");
    std::fs::write(&saved, before["checkpoint"].as_str().unwrap()).unwrap();

    // Ingest goes on during the rotation: the tree grows past the announcement before
    // the checkpointer looks, so the old key's last size is not simply the head.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let out = std::thread::scope(|scope| {
        let ingesting = scope.spawn(|| {
            let mut round = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                ingest_http(&server, &format!("during-{round}"), 3);
                round += 1;
            }
            round
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        let out = run(&data, &["keys", "rotate-signing"]);
        std::thread::sleep(std::time::Duration::from_millis(300));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(ingesting.join().unwrap() > 2);
        out
    });
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let new_key = printed
        .lines()
        .find_map(|l| l.strip_prefix("verifier key: "))
        .unwrap()
        .to_owned();
    assert_ne!(new_key, old_key);
    assert_eq!(
        evident_tlog::verifier_key_name(&new_key).unwrap(),
        evident_tlog::verifier_key_name(&old_key).unwrap(),
        "same origin, same key name"
    );
    // The rotation finished: the new key is in the key file, the old one is gone.
    let key_file = data.join("secrets").join("signing.key");
    assert_eq!(verifier_key_of(&key_file), new_key);
    assert!(!data.join("secrets").join("signing.key.next").exists());

    ingest_http(&server, "after", 4);
    let after = log_when_checkpointed(&server);
    assert_eq!(after["verifier_key"], new_key.as_str());
    let keys = after["verifier_keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{after}");
    assert_eq!(keys[0]["verifier_key"], old_key.as_str());
    assert_eq!(keys[0]["from_size"], 0);
    assert_eq!(keys[1]["verifier_key"], new_key.as_str());
    let announced_at = keys[1]["announced_at"].as_u64().unwrap();
    assert_eq!(keys[1]["from_size"], announced_at + 2);
    // The announcement, in the log.
    let changes = {
        let out = util::evident()
            .args(["search", "--type", "key_change", "--json", "--server"])
            .arg(&server.base)
            .args(["--api-key", server.admin_key.as_deref().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let answer: Value = serde_json::from_str(&stdout(&out)).unwrap();
        answer["events"].as_array().unwrap().clone()
    };
    let announcement = changes
        .iter()
        .find(|e| e["key_change"]["kind"] == "signing_key")
        .unwrap();
    assert_eq!(announcement["seq"], announced_at);
    assert_eq!(announcement["key_change"]["verifier_key"], new_key.as_str());
    assert_eq!(
        announcement["key_change"]["previous_verifier_key"],
        old_key.as_str()
    );
    // The old key's last checkpoint covers the announcement; the new key did not sign it.
    let handover = keys[1]["handover_checkpoint"].as_str().unwrap();
    let opened = open_checkpoint(handover.as_bytes(), &old_key).unwrap();
    assert_eq!(opened.size, announced_at + 1);
    assert!(open_checkpoint(handover.as_bytes(), &new_key).is_err());
    // Later checkpoints: the new key only.
    let latest = after["checkpoint"].as_str().unwrap();
    let opened = open_checkpoint(latest.as_bytes(), &new_key).unwrap();
    assert_eq!(opened.size, after["tree_size"].as_u64().unwrap());
    assert!(opened.size > announced_at + 1);
    assert!(open_checkpoint(latest.as_bytes(), &old_key).is_err());

    // Remotely: the served keys, or either key pinned; against the saved checkpoint.
    let remote = |extra: &[&str]| {
        util::evident()
            .args(["verify", "--server", &server.base])
            .args(["--api-key", server.admin_key.as_deref().unwrap()])
            .args(extra)
            .output()
            .unwrap()
    };
    for extra in [
        vec![],
        vec!["--key", old_key.as_str()],
        vec!["--key", new_key.as_str()],
        vec!["--against", saved.to_str().unwrap()],
    ] {
        let out = remote(&extra);
        assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
    }
    server.stop();

    // Locally, every checkpoint with the key in force at its size.
    let out = run(&data, &["verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&data, &["verify", "--against", saved.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!(
        "consistent with the saved checkpoint of size {}",
        before["tree_size"]
    )));

    // A checkpoint of the right tree, signed by a key of the log's name the log does
    // not name, proves nothing.
    let (forger, _) =
        evident_tlog::LogSigner::generate(&evident_tlog::verifier_key_name(&old_key).unwrap())
            .unwrap();
    let forged = evident_tlog::LogSigner::new(&forger)
        .unwrap()
        .sign_checkpoint(&open_checkpoint(latest.as_bytes(), &new_key).unwrap())
        .unwrap();
    let forged_file = dir.path().join("forged.checkpoint");
    std::fs::write(&forged_file, forged).unwrap();
    let out = run(
        &data,
        &["verify", "--against", forged_file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("does not verify"), "{}", stderr(&out));
}

/// With `--signing-key-file`, the new key is written beside it (`FILE.next`) and
/// moved over it once the old key's last checkpoint is stored; without a server, the
/// command's own checkpointer signs that checkpoint.
#[test]
fn rotating_a_signing_key_kept_outside_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key_file = dir.path().join("keys").join("log.key");
    let with_key = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--signing-key-file", key_file.to_str().unwrap()]);
        run(&data, &all)
    };
    let out = with_key(&["init", "--origin", "test.example/log"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!data.join("secrets").join("signing.key").exists());
    let old_key = verifier_key_of(&key_file);
    let old_private = std::fs::read(&key_file).unwrap();
    let out = with_key(&["keys", "rotate-signing"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let new_key = verifier_key_of(&key_file);
    assert_ne!(new_key, old_key);
    assert!(stdout(&out).contains(&new_key));
    assert!(!key_file.with_extension("key.next").exists());
    let file = data.with_extension("ndjson");
    util::write_ndjson(&file, "ev", 3);
    let out = with_key(&["ingest", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = with_key(&["verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The old key file (a backup restored by mistake) is refused: its key is retired.
    std::fs::write(&key_file, old_private).unwrap();
    let out = with_key(&["verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("retired"), "{}", stderr(&out));
}

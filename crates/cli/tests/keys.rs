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

//! The read-access log of a real `evident serve`: reads are written within a second,
//! so a crash (SIGKILL) loses at most the last second of them; `verify` checks them.

mod util;

use std::time::Duration;

use serde_json::Value;
use util::{http, run, stderr, stdout, Server};

#[test]
fn reads_older_than_a_second_survive_a_crash_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let key = server
        .admin_key
        .clone()
        .expect("a new store prints its admin key");
    let http = http();
    for path in [
        "/api/v1/events?limit=5",
        "/api/v1/traces/t-crash",
        "/api/v1/log",
    ] {
        http.get(server.url(path)).bearer_auth(&key).send().unwrap();
    }
    // Written within the flush interval (one second), then the process dies.
    std::thread::sleep(Duration::from_millis(2_500));
    server.kill9();

    let server = Server::start(&data, &[]);
    let answer: Value = http
        .get(server.url("/api/v1/access-log?key=admin"))
        .bearer_auth(&key)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let paths: Vec<&str> = answer["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["/api/v1/events", "/api/v1/traces/t-crash", "/api/v1/log"],
        "{answer}"
    );
    server.stop();
    let out = run(&data, &["verify"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

/// `evident erase` and `evident retention run` on the store are noted in the access
/// log under the key `cli` as attempts, whatever their outcome: an erasure of a
/// subject no event carries (404, the subject as its token) and a purge.
#[test]
fn erasure_and_purge_commands_on_the_store_are_noted_as_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let key = server
        .admin_key
        .clone()
        .expect("a new store prints its key");
    server.stop();
    let out = run(&data, &["erase", "nobody-7", "--reason", "request"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let config = dir.path().join("evident.toml");
    std::fs::write(
        &config,
        "[[retention.tiers]]\nname = \"short\"\npayload = \"1s\"\n",
    )
    .unwrap();
    let out = run(
        &data,
        &["retention", "run", "--config", config.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let server = Server::start(&data, &[]);
    let answer: Value = http()
        .get(server.url("/api/v1/access-log?key=cli"))
        .bearer_auth(&key)
        .send()
        .unwrap()
        .json()
        .unwrap();
    server.stop();
    let records = answer["records"].as_array().unwrap();
    let actions: Vec<(&str, u64)> = records
        .iter()
        .map(|r| (r["action"].as_str().unwrap(), r["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [("evident erase", 404), ("evident retention run", 200)],
        "{answer}"
    );
    let subject = records[0]["details"]["subject"].as_str().unwrap();
    assert!(subject.starts_with("subj_"), "{subject}");
    assert!(records[1]["details"]["run_id"]
        .as_str()
        .unwrap()
        .starts_with("purge_"));
    assert!(!answer.to_string().contains("nobody-7"));
    let out = run(&data, &["verify"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

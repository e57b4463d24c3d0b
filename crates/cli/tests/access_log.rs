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

//! `evident artifacts publish|get` (CONTRACT section 6 and 7) through the binary, on a
//! local store and against a running server.

mod util;

use serde_json::{json, Value};
use util::{run, stderr, stdout, Server};

fn ok_json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

/// Runs `evident ARGS` with no local store (for `--server`).
fn run_remote(args: &[&str]) -> std::process::Output {
    util::evident()
        .args(args)
        .output()
        .expect("running evident")
}

#[test]
fn publish_and_get_locally_then_through_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    util::init_with_events(&data, 1);
    let v1 = dir.path().join("v1.json");
    std::fs::write(&v1, r#"{"template": "Refund {amount}?"}"#).unwrap();
    let v2 = dir.path().join("v2.json");
    std::fs::write(&v2, r#"{"template": "Refund {amount} now?"}"#).unwrap();
    let publish = |file: &std::path::Path, version: &str| {
        let args = [
            "artifacts",
            "publish",
            "--kind",
            "prompt",
            "--name",
            "triage",
            "--version",
            version,
            file.to_str().unwrap(),
        ];
        run(&data, &args)
    };

    // Local store.
    let first = ok_json(&publish(&v1, "1"));
    assert_eq!(first["created"], true);
    assert_eq!(first["content"], json!({"template": "Refund {amount}?"}));
    let again = ok_json(&publish(&v1, "1"));
    assert_eq!(again["created"], false);
    assert_eq!(again["seq"], first["seq"]);
    let clash = publish(&v2, "1");
    assert_eq!(clash.status.code(), Some(2));
    assert!(stderr(&clash).contains("immutable"), "{}", stderr(&clash));
    let got = ok_json(&run(&data, &["artifacts", "get", "prompt/triage@1"]));
    assert_eq!(got["content_hash"], first["content_hash"]);
    let missing = run(&data, &["artifacts", "get", "prompt/triage@7"]);
    assert_eq!(missing.status.code(), Some(2));
    let too_early = run(
        &data,
        &[
            "artifacts",
            "get",
            "prompt/triage",
            "--at",
            "2000-01-01T00:00:00Z",
        ],
    );
    assert_eq!(too_early.status.code(), Some(2), "{}", stdout(&too_early));
    let published_at = first["published_at"].as_str().unwrap().to_owned();

    // A running server: publish with the admin key, read as it is and as it was.
    let server = Server::start(&data, &["--otlp-grpc-listen", "off"]);
    let out = run(
        &data,
        &[
            "keys",
            "create",
            "--role",
            "admin",
            "--name",
            "registry-admin",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let admin = stdout(&out).trim().to_owned();
    let remote = [
        "--server",
        server.base.as_str(),
        "--api-key",
        admin.as_str(),
    ];
    let second = ok_json(&run_remote(&[
        "artifacts",
        "publish",
        "--kind",
        "prompt",
        "--name",
        "triage",
        "--version",
        "2",
        v2.to_str().unwrap(),
        "--server",
        &server.base,
        "--api-key",
        &admin,
    ]));
    assert_eq!(second["created"], true);
    let mut get = vec!["artifacts", "get", "prompt/triage"];
    get.extend_from_slice(&remote);
    assert_eq!(ok_json(&run_remote(&get))["version"], "2");
    let mut then = get.clone();
    then.extend_from_slice(&["--at", &published_at]);
    assert_eq!(ok_json(&run_remote(&then))["version"], "1");
    let moved = util::http()
        .post(server.url("/api/v1/artifacts/prompt/triage/labels"))
        .bearer_auth(&admin)
        .json(&json!({"label": "production", "version": "1"}))
        .send()
        .unwrap();
    assert!(moved.status().is_success(), "{}", moved.text().unwrap());
    let mut labelled = get.clone();
    labelled.extend_from_slice(&["--label", "production"]);
    assert_eq!(ok_json(&run_remote(&labelled))["version"], "1");
    server.stop();
    // What the server published is in the same local store.
    let local = ok_json(&run(&data, &["artifacts", "get", "prompt/triage@2"]));
    assert_eq!(local["seq"], second["seq"]);
    assert!(run(&data, &["verify"]).status.success());
}

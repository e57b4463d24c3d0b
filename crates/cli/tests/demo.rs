//! `evident serve --demo` through the binary: it loads sample agent runs into
//! `./evident-demo` (relative to where it is started) and answers; combined with
//! anything that names a real store or key (flag, variable or config file) it is
//! refused with exit 2 and touches nothing.

mod util;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use util::{evident, http, stderr};

fn demo(cwd: &Path) -> Command {
    let mut cmd = evident();
    for var in [
        "EVIDENT_DATABASE_URL",
        "EVIDENT_SIGNING_KEY_FILE",
        "EVIDENT_MASTER_KEY_FILE",
        "EVIDENT_CONFIG",
    ] {
        cmd.env_remove(var);
    }
    cmd.current_dir(cwd).args([
        "serve",
        "--demo",
        "--listen",
        "127.0.0.1:0",
        "--otlp-grpc-listen",
        "off",
    ]);
    cmd
}

/// Kills the server when the test ends, however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the demo in `cwd`; returns the server, its base URL, the admin key it
/// printed and whether it loaded the sample runs.
fn start_demo(cwd: &Path) -> (Running, String, String, bool) {
    let mut child = demo(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut key = None;
    let mut loaded = false;
    let base = loop {
        assert!(Instant::now() < deadline, "the demo did not start");
        let line = lines.next().expect("the demo exited").unwrap();
        if let Some(k) = line
            .strip_prefix("admin API key (shown once, keep it safe): ")
            .or_else(|| line.strip_prefix("demo admin API key: "))
        {
            key = Some(k.to_owned());
        }
        loaded |= line.starts_with("loaded ") && line.ends_with(" demo events");
        if let Some(base) = line.strip_prefix("listening on ") {
            break base.to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (
        running,
        base,
        key.expect("the demo printed its admin key"),
        loaded,
    )
}

#[test]
fn the_demo_loads_sample_runs_into_evident_demo_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let (server, base, key, loaded) = start_demo(cwd);
    assert!(loaded, "the first start loads the sample runs");
    assert!(cwd.join("evident-demo/evident.db").exists());
    assert!(
        !cwd.join("evident-data").exists(),
        "the default store was touched"
    );
    let http = http();
    let page: Value = http
        .get(format!("{base}/api/v1/events?limit=5"))
        .bearer_auth(&key)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 5, "{page}");
    // A trace of the sample data answers as a tree.
    let trace_id = events[0]["trace_id"].as_str().unwrap();
    let trace = http
        .get(format!("{base}/api/v1/traces/{trace_id}"))
        .bearer_auth(&key)
        .send()
        .unwrap();
    assert_eq!(trace.status(), 200);
    let log: Value = http
        .get(format!("{base}/api/v1/log"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(log["tree_size"].as_u64().unwrap() > 5, "{log}");
    drop(server);

    // A second start serves the same demo store and prints its key again.
    let (_server, base, again, loaded_again) = start_demo(cwd);
    assert_eq!(again, key);
    assert!(!loaded_again, "the sample runs are loaded once");
    let status = http
        .get(format!("{base}/api/v1/events?limit=1"))
        .bearer_auth(&again)
        .send()
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

fn refused(out: &Output, name: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    let err = stderr(out);
    assert!(err.contains(name) && err.contains("--demo"), "{err}");
}

#[test]
fn the_demo_refuses_a_configured_store_or_key() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    // Nothing listens there: a demo that connected would fail differently (and a
    // real database would have been written to).
    let url = "postgres://evident@127.0.0.1:1/production";
    for (flag, value) in [
        ("--database-url", url),
        ("--data", "real-data"),
        ("--signing-key-file", "real-signing.key"),
    ] {
        refused(&demo(cwd).args([flag, value]).output().unwrap(), flag);
    }
    for (var, value) in [
        ("EVIDENT_DATABASE_URL", url),
        ("EVIDENT_DATA", "real-data"),
        ("EVIDENT_SIGNING_KEY_FILE", "real-signing.key"),
        ("EVIDENT_MASTER_KEY_FILE", "real-master.key"),
    ] {
        refused(&demo(cwd).env(var, value).output().unwrap(), var);
    }
    for (key, line) in [
        ("database_url", format!("database_url = {url:?}")),
        ("data_dir", "data_dir = \"real-data\"".to_owned()),
        (
            "signing_key_file",
            "signing_key_file = \"s.key\"".to_owned(),
        ),
        ("master_key_file", "master_key_file = \"m.key\"".to_owned()),
    ] {
        let file = cwd.join(format!("{key}.toml"));
        std::fs::write(&file, line).unwrap();
        let by_flag = demo(cwd)
            .args(["--config", file.to_str().unwrap()])
            .output()
            .unwrap();
        refused(&by_flag, key);
        let by_env = demo(cwd).env("EVIDENT_CONFIG", &file).output().unwrap();
        refused(&by_env, key);
    }
    for made in ["evident-demo", "evident-data", "real-data"] {
        assert!(!cwd.join(made).exists(), "{made} was created");
    }
}

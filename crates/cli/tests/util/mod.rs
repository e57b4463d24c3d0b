//! Helpers for end-to-end tests that run the real `evident` binary in a temp dir.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The `evident` binary under test.
pub fn evident() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_evident"));
    cmd.env_remove("EVIDENT_API_KEY")
        .env_remove("EVIDENT_SERVER")
        .env_remove("EVIDENT_DATA");
    cmd
}

/// Runs `evident ARGS --data DIR` and returns its output.
pub fn run(data: &Path, args: &[&str]) -> Output {
    evident()
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .expect("running evident")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A running `evident serve`.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub admin_key: Option<String>,
    pub data: PathBuf,
}

impl Server {
    /// Starts a server on a free port over `data`; waits until it listens.
    pub fn start(data: &Path, extra: &[&str]) -> Self {
        let mut child = evident()
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting evident serve");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut admin_key = None;
        let deadline = Instant::now() + Duration::from_secs(30);
        let base = loop {
            assert!(Instant::now() < deadline, "server did not start");
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            if let Some(key) = line.strip_prefix("admin API key (shown once, keep it safe): ") {
                admin_key = Some(key.to_owned());
            }
            if let Some(addr) = line.strip_prefix("listening on ") {
                break addr.to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            base,
            admin_key,
            data: data.to_path_buf(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill().unwrap();
        panic!("server did not stop on SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client event with a chosen id.
pub fn event(id: &str, trace: &str) -> Value {
    json!({
        "event_id": id, "trace_id": trace, "timestamp": "2026-11-23T14:00:00Z",
        "actor": {"type": "agent", "id": "agent-7"}, "event_type": "tool_call",
        "context": {"job_id": format!("job-{trace}"), "subject": "jane.doe@example.com"},
        "input": {"args": {"note": format!("payload of {id} for jane.doe@example.com")}},
    })
}

/// Writes `n` events as NDJSON to `path`.
pub fn write_ndjson(path: &Path, prefix: &str, n: usize) {
    let text: String = (0..n)
        .map(|i| event(&format!("{prefix}-{i}"), &format!("trace-{}", i % 7)).to_string() + "\n")
        .collect();
    std::fs::write(path, text).unwrap();
}

/// Creates a store in `data` and ingests `n` events through the CLI.
pub fn init_with_events(data: &Path, n: usize) {
    let out = run(data, &["init", "--origin", "test.example/log"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = data.with_extension("ndjson");
    write_ndjson(&file, "ev", n);
    let out = run(data, &["ingest", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), format!("ingested {n} events"));
}

/// Entries the embedded store trains its compression dictionary on
/// (`SqliteOptions::DEFAULT_DICTIONARY_AFTER`).
pub const DICTIONARY_AFTER: usize = 4_096;

/// Creates a store in `data` whose later entries are stored compressed: one ingest
/// past [`DICTIONARY_AFTER`] (the dictionary is trained and kept when it ends), then
/// `more` events that are compressed as they are written. Returns the log's size.
pub fn init_with_compressed_entries(data: &Path, more: usize) -> usize {
    let first = DICTIONARY_AFTER + 104;
    init_with_events(data, first);
    let file = data.with_extension("more.ndjson");
    write_ndjson(&file, "more", more);
    let out = run(data, &["ingest", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    first + more
}

pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Copies a data dir (files and subdirectories), e.g. to tamper with the copy.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

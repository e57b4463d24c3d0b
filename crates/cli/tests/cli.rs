//! The command line as a new user meets it: init, keys, ingest (local and remote),
//! verify (local, remote, --against), checkpoint, prove; exit codes 0/1/2.

mod util;

use std::time::Duration;

use serde_json::Value;
use util::{evident, http, init_with_events, run, stderr, stdout, write_ndjson, Server};

#[test]
fn init_prints_the_verifier_key_once_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = run(&data, &["init", "--origin", "audit.example.com/log"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("admin API key (shown once"), "{text}");
    let vkey = text
        .lines()
        .find_map(|l| l.strip_prefix("verifier key: "))
        .unwrap()
        .to_owned();
    assert!(vkey.starts_with("audit.example.com/log+"), "{vkey}");
    let again = stdout(&run(&data, &["init"]));
    assert!(!again.contains("admin API key"), "{again}");
    assert!(again.contains(&vkey));
}

#[test]
fn exit_codes_follow_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    // Usage error.
    let out = evident()
        .args(["verify", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // No store: I/O error.
    let out = run(&dir.path().join("none"), &["verify"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // A good store: 0.
    let data = dir.path().join("data");
    init_with_events(&data, 5);
    assert_eq!(run(&data, &["verify"]).status.code(), Some(0));
}

#[test]
fn keys_work_while_serve_runs_and_revocation_takes_effect() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let out = run(
        &data,
        &[
            "keys", "create", "--role", "ingest", "--name", "bot-1", "--agents", "agent-7",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let key = stdout(&out).trim().to_owned();
    assert!(key.starts_with("evk_"));
    let http = http();
    let post = |key: &str, agent: &str| {
        let mut e = util::event(&format!("k-{agent}-{}", rand_suffix()), "t");
        e["actor"]["id"] = agent.into();
        http.post(server.url("/api/v1/events"))
            .bearer_auth(key)
            .json(&e)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(post(&key, "agent-7"), 200);
    assert_eq!(post(&key, "agent-9"), 403, "bound to agent-7 only");
    let list = stdout(&run(&data, &["keys", "list"]));
    assert!(
        list.contains("bot-1") && list.contains("ingest") && !list.contains(&key),
        "{list}"
    );
    assert!(run(&data, &["keys", "revoke", "bot-1"]).status.success());
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(post(&key, "agent-7"), 401);
    assert_eq!(
        run(&data, &["keys", "create", "--role", "boss", "--name", "x"])
            .status
            .code(),
        Some(2)
    );
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[test]
fn ingest_verify_prove_and_checkpoint_against_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let key = server.admin_key.clone().unwrap();
    let file = dir.path().join("events.ndjson");
    write_ndjson(&file, "remote", 2_500);
    let remote = |args: &[&str]| {
        evident()
            .args(args)
            .args(["--server", &server.base, "--api-key", &key])
            .output()
            .unwrap()
    };
    let out = remote(&["ingest", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "ingested 2500 events");
    std::thread::sleep(Duration::from_millis(1200));

    // Save a checkpoint, add more, then prove the log only grew.
    let saved = dir.path().join("saved.checkpoint");
    let out = remote(&["checkpoint"]);
    assert!(
        stdout(&out).lines().nth(1) == Some("2500"),
        "{}",
        stdout(&out)
    );
    std::fs::write(&saved, stdout(&out)).unwrap();
    write_ndjson(&file, "more", 300);
    assert!(remote(&["ingest", file.to_str().unwrap()]).status.success());
    std::thread::sleep(Duration::from_millis(1200));
    let out = remote(&["verify", "--against", saved.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // 2800 events, and the `access_log_checkpoint` entries that record this test's
    // reads (one a second while it reads).
    let entries: u64 = stdout(&out)
        .split("ok: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", stdout(&out)));
    assert!((2800..2810).contains(&entries), "{}", stdout(&out));
    assert!(stdout(&out).contains("consistent with the saved checkpoint of size 2500"));
    // Skipping the database's own check means nothing without the database: a usage
    // error.
    let out = remote(&["verify", "--quick"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--quick"), "{}", stderr(&out));

    let out = remote(&["prove", "remote-1234"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let proof: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let checkpoint = evident_tlog::open_checkpoint(
        proof["checkpoint"].as_str().unwrap().as_bytes(),
        &verifier_key(&server),
    )
    .unwrap();
    let hashes: Vec<evident_tlog::Hash> = proof["proof"]["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| evident_tlog::Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect();
    let leaf = evident_tlog::Hash::from_base64(proof["leaf_hash"].as_str().unwrap()).unwrap();
    evident_tlog::verify_inclusion(
        proof["seq"].as_u64().unwrap(),
        checkpoint.size,
        leaf,
        checkpoint.root,
        &hashes,
    )
    .unwrap();

    server.stop();
    // Locally too, with the same saved checkpoint.
    let out = run(&data, &["verify", "--against", saved.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("consistent with the saved checkpoint of size 2500"));
    let out = run(&data, &["prove", "more-7"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A checkpoint from another log does not verify: exit 1.
    let other = dir.path().join("other");
    init_with_events(&other, 3);
    let foreign = dir.path().join("foreign.checkpoint");
    std::fs::write(&foreign, stdout(&run(&other, &["checkpoint"]))).unwrap();
    let out = run(&data, &["verify", "--against", foreign.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

fn verifier_key(server: &Server) -> String {
    let log: Value = http()
        .get(server.url("/api/v1/log"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    log["verifier_key"].as_str().unwrap().to_owned()
}

#[test]
fn local_ingest_reports_the_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_with_events(&data, 2);
    let file = dir.path().join("bad.ndjson");
    std::fs::write(
        &file,
        format!("{}\n{{\"trace_id\": 1}}\n", util::event("ok-1", "t")),
    )
    .unwrap();
    let out = run(&data, &["ingest", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/1/"), "{}", stderr(&out));
    // Nothing of the bad batch was stored.
    assert!(stdout(&run(&data, &["verify"])).contains("ok: 2 entries"));
}

#[test]
fn trace_shows_the_tree_and_search_finds_phrases() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(run(&data, &["init"]).status.success());
    let mk = |id: &str, parent: Option<&str>, kind: &str, text: &str| {
        let mut e = util::event(id, "trace-x");
        e["event_type"] = kind.into();
        e["input"] = serde_json::json!({"text": text});
        if let Some(p) = parent {
            e["parent_event_id"] = p.into();
        }
        e.to_string()
    };
    let lines = [
        mk("root", None, "agent_run", "start"),
        mk(
            "call",
            Some("root"),
            "model_call",
            "the damaged goods arrived",
        ),
        mk("tool", Some("call"), "tool_call", "goods were damaged"),
        mk("lost", Some("nowhere"), "step", "orphaned"),
    ];
    let file = dir.path().join("t.ndjson");
    std::fs::write(&file, lines.join("\n")).unwrap();
    assert!(run(&data, &["ingest", file.to_str().unwrap()])
        .status
        .success());

    let out = run(&data, &["trace", "trace-x"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains('\x1b'), "no colour when piped: {text:?}");
    let line_of = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap()
            .to_owned()
    };
    assert!(line_of("agent_run").starts_with("├─ "), "{text}");
    assert!(line_of("model_call").starts_with("│  └─ "), "{text}");
    assert!(line_of("tool_call").starts_with("│     └─ "), "{text}");
    assert!(line_of("step").contains("parent not in trace"), "{text}");

    let answer = search_text(&data, "\"damaged goods\"");
    assert_eq!(event_ids(&answer), vec!["call"]);
    let out = run(&data, &["search", "--type", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("type"), "{}", stderr(&out));
}

/// `evident search --q QUERY --json` on `data`, its answer parsed.
fn search_text(data: &std::path::Path, query: &str) -> Value {
    let out = run(data, &["search", "--q", query, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// The `event_id`s of a search answer, in order.
fn event_ids(answer: &Value) -> Vec<&str> {
    answer["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect()
}

/// The text index of events another process wrote is built from the store: entries
/// with their blobs a page at a time, payloads decrypted. `evident ingest` may end
/// before its indexer has caught up, so `evident search` (a process of its own, with
/// no texts in hand) reads back whatever the index lacks.
#[test]
fn search_indexes_what_another_process_ingested() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    util::init_with_events(&data, 2_600);
    for id in ["ev-3", "ev-1500", "ev-2599"] {
        let answer = search_text(&data, &format!("\"payload of {id} for\""));
        assert_eq!(event_ids(&answer), vec![id], "{answer}");
        assert_eq!(answer["indexed_through"], 2_599, "{answer}");
    }
}

//! Every command that opens a store reads the same configuration as `serve` (flags >
//! environment > `--config` file): its data dir, secrets and PII detectors. A
//! configuration error is a usage error (exit 2). Global flags a command cannot
//! honour are refused (exit 2), never silently ignored. Local `trace` and `search`
//! only read: they sign no checkpoint.

mod util;

use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};
use util::{evident, stderr, stdout};

/// `evident ARGS` in `cwd`, with none of the environment's EVIDENT_* settings.
fn run_in(cwd: &Path, args: &[&str]) -> Output {
    clean(evident())
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("running evident")
}

fn clean(mut cmd: std::process::Command) -> std::process::Command {
    for var in [
        "EVIDENT_DATABASE_URL",
        "EVIDENT_SIGNING_KEY_FILE",
        "EVIDENT_MASTER_KEY_FILE",
        "EVIDENT_CONFIG",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// A config file like docs/deployment.md's: the data dir and the master key set by
/// the file (relative to it), and a custom detector.
fn write_config(dir: &Path) -> String {
    let path = dir.join("evident.toml");
    std::fs::write(
        &path,
        r#"data_dir = "state"
master_key_file = "keys/master.key"

[[pii.detectors]]
name = "employee ids"
pattern = 'EMP-\d{6}'
token_type = "EMPLOYEE_ID"
"#,
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    path.to_str().unwrap().to_owned()
}

fn employee_event(id: &str) -> String {
    json!({
        "event_id": id, "trace_id": "t-emp", "timestamp": "2026-11-23T14:00:00Z",
        "actor": {"type": "agent", "id": "hr-agent"}, "event_type": "tool_call",
        "input": {"note": format!("promote EMP-123456 ({id})")},
    })
    .to_string()
        + "\n"
}

#[test]
fn local_commands_use_the_config_files_store_master_key_and_detectors() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let config = write_config(cwd);
    ok(&run_in(cwd, &["init", "--config", &config]));
    assert!(cwd.join("state/evident.db").exists(), "the file's data_dir");
    assert!(
        cwd.join("keys/master.key").exists(),
        "the file's master_key_file"
    );
    assert!(!cwd.join("state/secrets/master.key").exists());

    std::fs::write(cwd.join("events.ndjson"), employee_event("emp-1")).unwrap();
    let out = ok(&run_in(
        cwd,
        &["ingest", "--config", &config, "events.ndjson"],
    ));
    assert_eq!(out.trim(), "ingested 1 events");

    // The custom detector tokenized the employee id in the local ingest.
    let trace: Value = serde_json::from_str(&ok(&run_in(
        cwd,
        &["trace", "t-emp", "--json", "--config", &config],
    )))
    .unwrap();
    let note = trace["events"][0]["input"]["note"].as_str().unwrap();
    assert!(note.starts_with("promote <EMPLOYEE_ID_"), "{note}");
    assert!(!note.contains("EMP-123456"), "{note}");

    // verify finds the master key where the file says, so the log verifies.
    let out = ok(&run_in(cwd, &["verify", "--config", &config]));
    assert!(out.starts_with("ok: 1 entries"), "{out}");
    // The same through EVIDENT_CONFIG.
    let out = clean(evident())
        .current_dir(cwd)
        .env("EVIDENT_CONFIG", &config)
        .args(["verify", "--quick"])
        .output()
        .unwrap();
    assert!(ok(&out).starts_with("ok: 1 entries"));
    // keys and search too.
    assert!(ok(&run_in(cwd, &["keys", "list", "--config", &config])).contains("admin"));
    let found: Value = serde_json::from_str(&ok(&run_in(
        cwd,
        &[
            "search", "--agent", "hr-agent", "--json", "--config", &config,
        ],
    )))
    .unwrap();
    assert_eq!(found["events"].as_array().unwrap().len(), 1);
    // Nothing was created where the defaults point.
    assert!(!cwd.join("evident-data").exists());
}

#[test]
fn a_bad_config_is_a_usage_error_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let good = write_config(cwd);
    ok(&run_in(cwd, &["init", "--config", &good]));
    std::fs::write(cwd.join("events.ndjson"), employee_event("emp-1")).unwrap();
    let bad_field = cwd.join("bad-field.toml");
    std::fs::write(&bad_field, "data_dir = \"state\"\ncolour = 1\n").unwrap();
    let bad_pattern = cwd.join("bad-pattern.toml");
    std::fs::write(
        &bad_pattern,
        "data_dir = \"state\"\n[[pii.detectors]]\nname = \"x\"\npattern = \"(\"\ntoken_type = \"X\"\n",
    )
    .unwrap();
    let missing = cwd.join("missing.toml");
    let commands: [&[&str]; 10] = [
        &["verify"],
        &["keys", "list"],
        &["ingest", "events.ndjson"],
        &["trace", "t-emp"],
        &["search", "--agent", "hr-agent"],
        &["erase", "someone", "--reason", "test"],
        &["checkpoint"],
        &["init"],
        &["migrate"],
        // Refused before anything is copied (nothing listens at that address).
        &[
            "copy",
            "--from",
            "state",
            "--to",
            "postgres://evident@127.0.0.1:1/none",
        ],
    ];
    for (file, key) in [
        (&bad_field, "colour"),
        (&bad_pattern, "pii.detectors[0].pattern"),
        (&missing, "--config"),
    ] {
        for args in commands {
            let mut all = args.to_vec();
            all.extend(["--config", file.to_str().unwrap()]);
            let out = run_in(cwd, &all);
            assert_eq!(out.status.code(), Some(2), "{all:?}: {}", stderr(&out));
            let err = stderr(&out);
            assert!(
                err.contains("config error") && err.contains(key),
                "{all:?}: {err}"
            );
        }
    }
}

#[test]
fn flags_a_command_cannot_honour_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let cases: [(&[&str], &str); 14] = [
        (
            &["keys", "revoke", "ops", "--server", "https://prod.invalid"],
            "--server",
        ),
        (
            &["keys", "list", "--server", "https://prod.invalid"],
            "--server",
        ),
        (
            &[
                "keys",
                "create",
                "--role",
                "admin",
                "--name",
                "x",
                "--api-key",
                "k",
            ],
            "--api-key",
        ),
        (&["init", "--server", "https://prod.invalid"], "--server"),
        (&["migrate", "--server", "https://prod.invalid"], "--server"),
        (
            &[
                "copy",
                "--from",
                "d",
                "--to",
                "postgres://h/db",
                "--server",
                "https://prod.invalid",
            ],
            "--server",
        ),
        (
            &[
                "copy",
                "--from",
                "d",
                "--to",
                "postgres://h/db",
                "--data",
                "elsewhere",
            ],
            "--data",
        ),
        (&["serve", "--server", "https://prod.invalid"], "--server"),
        (&["bench", "--server", "https://prod.invalid"], "--server"),
        (&["bench", "--data", "elsewhere"], "--data"),
        (
            &[
                "search",
                "--q",
                "x",
                "--server",
                "https://prod.invalid",
                "--data",
                "d",
            ],
            "--data",
        ),
        (
            &[
                "verify",
                "--server",
                "https://prod.invalid",
                "--database-url",
                "postgres://h/db",
            ],
            "--database-url",
        ),
        (
            &[
                "ingest",
                "-",
                "--server",
                "https://prod.invalid",
                "--config",
                "f.toml",
            ],
            "--config",
        ),
        (&["trace", "t", "--api-key", "k"], "--api-key"),
    ];
    for (args, flag) in cases {
        let out = run_in(cwd, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    // The server named in the environment counts too.
    let out = clean(evident())
        .current_dir(cwd)
        .env("EVIDENT_SERVER", "https://prod.invalid")
        .args(["keys", "revoke", "ops"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("EVIDENT_SERVER"), "{}", stderr(&out));
    // Nothing was written locally by any of them.
    let left: Vec<_> = std::fs::read_dir(cwd).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn local_trace_and_search_sign_no_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let key = cwd.join("signing.key");
    let key = key.to_str().unwrap();
    ok(&run_in(
        cwd,
        &["init", "--data", "data", "--signing-key-file", key],
    ));
    // Ingested without the signing key: the log grows past its latest checkpoint.
    std::fs::write(
        cwd.join("events.ndjson"),
        employee_event("a") + &employee_event("b"),
    )
    .unwrap();
    ok(&run_in(cwd, &["ingest", "--data", "data", "events.ndjson"]));
    let latest = |cwd: &Path| {
        let out = run_in(cwd, &["checkpoint", "--data", "data"]);
        (out.status.code(), stdout(&out))
    };
    let before = latest(cwd);
    let mirrored = cwd.join("data/checkpoint");
    let mirrored_before = std::fs::read(&mirrored).ok();
    // Reading with the signing key at hand must still not sign.
    for _ in 0..3 {
        ok(&run_in(
            cwd,
            &[
                "trace",
                "t-emp",
                "--data",
                "data",
                "--signing-key-file",
                key,
            ],
        ));
        ok(&run_in(
            cwd,
            &[
                "search",
                "--q",
                "promote",
                "--data",
                "data",
                "--signing-key-file",
                key,
            ],
        ));
    }
    assert_eq!(latest(cwd), before, "a read signed a checkpoint");
    assert_eq!(std::fs::read(&mirrored).ok(), mirrored_before);
    // A command that writes does sign: the test can tell.
    std::fs::write(cwd.join("more.ndjson"), employee_event("c")).unwrap();
    ok(&run_in(
        cwd,
        &[
            "ingest",
            "--data",
            "data",
            "--signing-key-file",
            key,
            "more.ndjson",
        ],
    ));
    assert_ne!(latest(cwd), before);
}

//! The governance rows "what was live at T" is answered from (artifact versions,
//! label moves, policy versions and activations) are held by `evident verify` to the
//! signed entries that record them: a row edited, added or deleted with file access
//! fails verify, naming the row and, where there is one, the entry's `seq`.

mod util;

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::json;
use util::{copy_dir, run, stderr, stdout, Server};

const SCHEMA: &str = r#"
entity Agent;
entity Resource;
action "refund" appliesTo {
  principal: [Agent], resource: [Resource],
  context: {amount: Long}
};
"#;

const V1: &str = r#"@id("refund-small")
permit(principal, action == Action::"refund", resource) when { context.amount <= 10000 };
"#;

const V2: &str = r#"@id("refund-any")
permit(principal, action == Action::"refund", resource);
"#;

fn ok(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", stderr(out));
    stdout(out)
}

/// A data dir with two artifact versions, two label moves, two policy versions and
/// a rollback, all recorded the usual ways (CLI, HTTP).
fn governed_data_dir(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    util::init_with_events(&data, 3);
    let file = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (c1, c2) = (
        file("c1.json", r#"{"template": "Refund {amount}?"}"#),
        file("c2.json", r#"{"template": "Refund {amount} now?"}"#),
    );
    for (version, content) in [("1", &c1), ("2", &c2)] {
        ok(&run(
            &data,
            &[
                "artifacts",
                "publish",
                "--kind",
                "prompt",
                "--name",
                "triage",
                "--version",
                version,
                content,
            ],
        ));
    }
    let schema = file("schema.cedarschema", SCHEMA);
    for text in [V1, V2] {
        let policy = file("p.cedar", text);
        ok(&run(
            &data,
            &["policy", "publish", "refunds", &policy, "--schema", &schema],
        ));
    }
    ok(&run(&data, &["policy", "rollback", "refunds"]));

    let admin = ok(&run(
        &data,
        &[
            "keys",
            "create",
            "--role",
            "admin",
            "--name",
            "registry-admin",
        ],
    ))
    .trim()
    .to_owned();
    let server = Server::start(&data, &["--otlp-grpc-listen", "off"]);
    for version in ["1", "2"] {
        let moved = util::http()
            .post(server.url("/api/v1/artifacts/prompt/triage/labels"))
            .bearer_auth(&admin)
            .json(&json!({"label": "production", "version": version}))
            .send()
            .unwrap();
        assert!(moved.status().is_success(), "{}", moved.text().unwrap());
    }
    server.stop();
    data
}

/// Verify's exit code and stderr on a copy of `data` edited by `sql`.
fn verify_after(data: &Path, name: &str, sql: &str) -> (i32, String) {
    let copy = data.parent().unwrap().join(name);
    copy_dir(data, &copy);
    Connection::open(copy.join("evident.db"))
        .unwrap()
        .execute_batch(sql)
        .unwrap();
    let out = run(&copy, &["verify", "--quick"]);
    (out.status.code().unwrap_or(-1), stderr(&out))
}

#[test]
fn verify_holds_every_governance_row_to_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data = governed_data_dir(dir.path());
    let out = run(&data, &["verify"]);
    assert!(
        ok(&out).contains(
            "2 artifact versions, 2 label moves, 2 policy versions and 3 policy activations match"
        ),
        "{}",
        stdout(&out)
    );

    let cases: &[(&str, &str, &[&str])] = &[
        (
            "content",
            r#"UPDATE artifacts SET content = '{"template":"Refund everything"}' WHERE version = '1'"#,
            &["artifact prompt/triage@1", "content does not hash"],
        ),
        (
            "backdated",
            "UPDATE artifacts SET published_at = published_at - 86400000000 WHERE version = '2'",
            &["artifact prompt/triage@2", "its time is not its entry's received_at"],
        ),
        (
            "added",
            r#"INSERT INTO artifacts(kind, name, version, content, content_hash, metadata, event_id, published_at)
               SELECT kind, name, '3', content, content_hash, metadata, 'evt_forged', published_at
                 FROM artifacts WHERE version = '1'"#,
            &["artifact prompt/triage@3", "not in the log"],
        ),
        (
            "label-deleted",
            "DELETE FROM artifact_label_moves WHERE id = (SELECT max(id) FROM artifact_label_moves)",
            &["label_move event has no row"],
        ),
        (
            "label-moved",
            "UPDATE artifact_label_moves SET version = '1' WHERE id = (SELECT max(id) FROM artifact_label_moves)",
            &["label production of prompt/triage", "to_version"],
        ),
        (
            "schema",
            "UPDATE policy_versions SET schema = schema || ' ' WHERE version = 2",
            &["policy refunds version 2", "schema_sha256"],
        ),
        (
            "tests",
            "UPDATE policy_versions SET tests = '[{}]' WHERE version = 1",
            &["policy refunds version 1", "tests_sha256"],
        ),
        (
            "rollback-retargeted",
            "UPDATE policy_activations SET version = 2 WHERE kind = 'rollback'",
            &["of policy refunds", "its version is not the one its entry states"],
        ),
        (
            "publish-unactivated",
            "DELETE FROM policy_activations WHERE id = 2",
            &["policy_publish event has no row"],
        ),
    ];
    // Content and hash changed together: the hash is not the one the entry states.
    let forged = json!({"template": "Refund everything"});
    let forged_hash = evident_core::blob::hex(&evident_core::json::sha256_canonical(&forged));
    let both = format!(
        "UPDATE artifacts SET content = '{}', content_hash = '{forged_hash}' WHERE version = '1'",
        String::from_utf8(evident_core::json::canonical_bytes(&forged)).unwrap()
    );
    let (code, err) = verify_after(&data, "content-and-hash", &both);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("artifact prompt/triage@1: its content_hash is not the one its entry states"),
        "{err}"
    );
    for (name, sql, expected) in cases {
        let (code, err) = verify_after(&data, name, sql);
        assert_eq!(code, 1, "{name}: {err}");
        for part in *expected {
            assert!(err.contains(part), "{name}: {part:?} not in {err}");
        }
    }
}

//! `evident policy publish|rollback|list|test|replay` (CONTRACT sections 6 and 7)
//! through the binary: on a local store, against a running server, and `test` with
//! no store at all.

mod util;

use serde_json::{json, Value};
use util::{run, stderr, stdout, Server};

fn ok_json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

const SCHEMA: &str = r#"
entity Agent;
entity Resource;
type Now = {hour: Long, weekday: String, date: String};
action "refund" appliesTo {
  principal: [Agent], resource: [Resource],
  context: {amount: Long, now: Now}
};
"#;

const V1: &str = r#"@id("refund-small") @reason("small refunds are fine")
permit(principal, action == Action::"refund", resource) when { context.amount <= 10000 };
"#;

const V2: &str = r#"@id("refund-any") @reason("a human looks at every refund") @require_approval
permit(principal, action == Action::"refund", resource);
"#;

#[test]
fn publish_decide_publish_replay_and_test() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    util::init_with_events(&data, 1);
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let schema = file("schema.cedarschema", SCHEMA);
    let v1 = file("v1.cedar", V1);
    let v2 = file("v2.cedar", V2);
    let failing_tests = file(
        "tests.json",
        r#"[{"request": {"agent": "a", "action": "refund", "resource": "r", "context": {"amount": 5}}, "expect": "DENY"}]"#,
    );

    // `test`: no store, no server.
    let tested = ok_json(
        &util::evident()
            .args([
                "policy",
                "test",
                &v1,
                "--schema",
                &schema,
                "--request",
                r#"{"agent": "a", "action": "refund", "resource": "r", "context": {"amount": 5}}"#,
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(tested["decision"], "ALLOW");
    assert_eq!(tested["policy_rule_id"], "refund-small");
    let broken = file(
        "broken.cedar",
        "@id(\"x\")\npermit(principal, action resource);\n",
    );
    let out = util::evident()
        .args([
            "policy",
            "test",
            &broken,
            "--schema",
            &schema,
            "--request",
            r#"{"agent": "a", "action": "refund", "resource": "r"}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));

    // A publish whose test case fails stores nothing.
    let refused = run(
        &data,
        &[
            "policy",
            "publish",
            "refunds",
            &v1,
            "--schema",
            &schema,
            "--tests",
            &failing_tests,
        ],
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("expected DENY, got ALLOW"),
        "{}",
        stderr(&refused)
    );

    let first = ok_json(&run(
        &data,
        &["policy", "publish", "refunds", &v1, "--schema", &schema],
    ));
    assert_eq!(first["version"], 1);
    let listed = ok_json(&run(&data, &["policy", "list"]));
    assert_eq!(listed["sets"][0]["id"], "refunds");
    assert_eq!(listed["policy_snapshot"], first["policy_snapshot"]);

    // A decision through a running server.
    let server = Server::start(&data, &["--otlp-grpc-listen", "off"]);
    let admin = server.admin_key.clone().unwrap_or_else(|| {
        let out = run(
            &data,
            &[
                "keys",
                "create",
                "--role",
                "admin",
                "--name",
                "policy-admin",
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().to_owned()
    });
    let decided: Value = util::http()
        .post(server.url("/api/v1/decide"))
        .bearer_auth(&admin)
        .json(&json!({"agent": "bot", "action": "refund", "resource": "o-1", "context": {"amount": 50}, "payload": {"o": 1}, "job_id": "j-1"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(decided["decision"], "ALLOW", "{decided}");
    let event_id = decided["event_id"].as_str().unwrap().to_owned();
    let remote = ok_json(
        &util::evident()
            .args([
                "policy",
                "list",
                "--server",
                &server.base,
                "--api-key",
                &admin,
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(remote["sets"][0]["version"], 1);
    server.stop();

    // A newer publish; the old decision replays the same under its own snapshot.
    let second = ok_json(&run(
        &data,
        &["policy", "publish", "refunds", &v2, "--schema", &schema],
    ));
    assert_eq!(second["version"], 2);
    let replayed = ok_json(&run(&data, &["policy", "replay", &event_id]));
    assert_eq!(replayed["same"], true, "{replayed}");
    assert_eq!(replayed["replayed"]["decision"], "ALLOW");
    assert_eq!(replayed["logged"]["policy_versions"][0]["version"], 1);
    assert_eq!(
        replayed["current_policy_snapshot"],
        second["policy_snapshot"]
    );
    assert!(
        replayed["notes"][0]
            .as_str()
            .unwrap()
            .contains("changed since"),
        "{replayed}"
    );

    let back = ok_json(&run(&data, &["policy", "rollback", "refunds"]));
    assert_eq!(back["version"], 1);
    assert_eq!(back["policy_snapshot"], first["policy_snapshot"]);
    assert!(run(&data, &["verify"]).status.success());
}

//! Governance end to end through the real binary (CONTRACT sections 4, 6 and 7): an
//! admin publishes a Cedar policy set with `evident policy publish`; an agent asks
//! `/decide` for a $900 refund and gets REQUIRE_APPROVAL with the request it opened;
//! an approver edits it to $450 and approves with `evident approvals resolve`; the
//! agent acts with the final's hash; and the trace, the job and the policy audit show
//! the whole chain with hashes that match. The same with the agent acting on the
//! unedited draft shows `action_matches_approval: false`. Then `evident approvals
//! list|resolve` on the local store.

mod util;

use evident_core::governance::job_hash_of;
use serde_json::{json, Value};
use util::{run, stderr, stdout, Server};

fn ok_json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

fn create_key(data: &std::path::Path, role: &str, name: &str) -> String {
    let out = run(data, &["keys", "create", "--role", role, "--name", name]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_owned()
}

fn refund(cents: u64) -> Value {
    json!({"kind": "refund", "order": "O-77", "customer_email": "wei.novak@example.org",
           "amount_cents": cents, "currency": "USD", "nonce": "n-5e1f"})
}

/// Refunds up to $500 are allowed, larger ones need a human, none above $10,000.
const REFUNDS: &str = r#"@id("refund-small") @reason("refunds up to $500 are fine")
permit(principal, action == Action::"refund", resource) when { context.amount_cents <= 50000 };

@id("refund-large") @reason("refunds over $500 need a human") @require_approval
permit(principal, action == Action::"refund", resource) when { context.amount_cents > 50000 };

@id("refund-cap") @reason("never above $10,000")
forbid(principal, action == Action::"refund", resource) when { context.amount_cents > 1000000 };
"#;

const REFUNDS_SCHEMA: &str = r#"entity Agent;
entity Resource;
action "refund" appliesTo {
  principal: [Agent], resource: [Resource],
  context: {amount_cents: Long, now: {hour: Long, weekday: String, date: String}}
};
"#;

/// The agent asks whether it may perform `draft` for `job`; returns the decision,
/// which must have opened an approval request.
fn decide(server: &Server, agent_key: &str, job: &str, draft: &Value) -> Value {
    let body = json!({"agent": "refund-bot", "action": "refund", "resource": "order-O-77",
                      "context": {"amount_cents": draft["amount_cents"]}, "payload": draft,
                      "job_id": job, "trace_id": format!("t-{job}"), "subject": "C-1042"});
    let reply = util::http()
        .post(server.url("/api/v1/decide"))
        .bearer_auth(agent_key)
        .json(&body)
        .send()
        .unwrap();
    assert!(reply.status().is_success(), "{}", reply.text().unwrap());
    let decided: Value = reply.json().unwrap();
    assert_eq!(decided["decision"], json!("REQUIRE_APPROVAL"), "{decided}");
    assert_eq!(
        decided["policy_rule_id"],
        json!("refund-large"),
        "{decided}"
    );
    assert_eq!(decided["job_hash"], json!(job_hash_of(draft)), "{decided}");
    assert!(decided["approval_id"].is_string(), "{decided}");
    decided
}

/// The agent reports the action it performed, with the hash of what it did.
fn act(server: &Server, agent_key: &str, job: &str, performed: &Value) {
    let event = json!({
        "event_id": format!("act-{job}"), "trace_id": format!("t-{job}"),
        "timestamp": "2026-11-23T14:30:00Z", "actor": {"type": "agent", "id": "refund-bot"},
        "event_type": "external_action", "context": {"job_id": job},
        "output": performed, "job_hash": job_hash_of(performed),
    });
    let reply = util::http()
        .post(server.url("/api/v1/events"))
        .bearer_auth(agent_key)
        .json(&event)
        .send()
        .unwrap();
    assert!(reply.status().is_success(), "{}", reply.text().unwrap());
}

fn get(server: &Server, key: &str, path: &str) -> Value {
    let reply = util::http()
        .get(server.url(path))
        .bearer_auth(key)
        .send()
        .unwrap();
    assert!(reply.status().is_success(), "{}", reply.text().unwrap());
    reply.json().unwrap()
}

#[test]
fn a_refund_edited_to_450_is_matched_and_one_on_the_draft_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    util::init_with_events(&data, 1);
    let server = Server::start(&data, &["--otlp-grpc-listen", "off"]);
    let agent = create_key(&data, "ingest", "refund-bot-key");
    let approver = create_key(&data, "approver", "approver-maria");
    let auditor = create_key(&data, "auditor", "auditor-1");
    let admin = create_key(&data, "admin", "admin-policies");
    let remote = |args: &[&str], key: &str| {
        util::evident()
            .args(args)
            .args(["--server", server.base.as_str(), "--api-key", key])
            .output()
            .expect("running evident")
    };

    let draft = refund(90_000);
    let final_payload = refund(45_000);
    let final_file = dir.path().join("final.json");
    std::fs::write(&final_file, final_payload.to_string()).unwrap();
    let policy_file = dir.path().join("refunds.cedar");
    let schema_file = dir.path().join("refunds.cedarschema");
    std::fs::write(&policy_file, REFUNDS).unwrap();
    std::fs::write(&schema_file, REFUNDS_SCHEMA).unwrap();
    let published = ok_json(&remote(
        &[
            "policy",
            "publish",
            "refunds",
            policy_file.to_str().unwrap(),
            "--schema",
            schema_file.to_str().unwrap(),
        ],
        &admin,
    ));
    let good = decide(&server, &agent, "job-good", &draft);
    assert_eq!(
        good["policy_snapshot"], published["policy_snapshot"],
        "{good}"
    );
    let bad = decide(&server, &agent, "job-bad", &draft);
    let pending = decide(&server, &agent, "job-local", &draft);

    // The approver sees the queue, and edits both requests to $450.
    let queue = ok_json(&remote(&["approvals", "list"], &approver));
    let queued: Vec<&Value> = queue["approvals"].as_array().unwrap().iter().collect();
    assert_eq!(queued.len(), 3, "{queue}");
    assert_eq!(queued[0]["job_hash"], json!(job_hash_of(&draft)));
    for request in [&good, &bad] {
        let id = request["approval_id"].as_str().unwrap();
        let edited = ok_json(&remote(
            &[
                "approvals",
                "resolve",
                id,
                "--resolution",
                "edited",
                "--job-hash",
                &job_hash_of(&draft),
                "--final",
                final_file.to_str().unwrap(),
                "--comment",
                "capped at policy limit",
            ],
            &approver,
        ));
        assert_eq!(edited["state"], json!("edited"), "{edited}");
        assert_eq!(edited["resolved_by"], json!("approver-maria"));
        assert_eq!(edited["method"], json!("cli"));
        assert_eq!(edited["final_job_hash"], json!(job_hash_of(&final_payload)));
    }
    // The agent waits on its own request with its own key, and reads the outcome.
    let mine = get(
        &server,
        &agent,
        &format!(
            "/api/v1/approvals/{}",
            good["approval_id"].as_str().unwrap()
        ),
    );
    assert_eq!(
        mine["approved_job_hash"],
        json!(job_hash_of(&final_payload)),
        "{mine}"
    );
    assert_eq!(
        mine["diff"],
        json!([{"op": "replace", "path": "/amount_cents", "value": 45_000}])
    );

    // One agent does what was approved, the other what it first asked.
    act(&server, &agent, "job-good", &final_payload);
    act(&server, &agent, "job-bad", &draft);

    let job = get(&server, &auditor, "/api/v1/jobs/job-good");
    assert_eq!(job["action_matches_approval"], json!(true), "{job}");
    assert_eq!(job["approved_job_hash"], json!(job_hash_of(&final_payload)));
    assert_eq!(job["job_hash"], json!(job_hash_of(&final_payload)));
    assert_eq!(job["result_ptr"]["event_id"], json!("act-job-good"));
    let job = get(&server, &auditor, "/api/v1/jobs/job-bad");
    assert_eq!(job["action_matches_approval"], json!(false), "{job}");
    assert_eq!(job["job_hash"], json!(job_hash_of(&draft)));
    assert_eq!(job["approval_violation"]["reason"], json!("hash_mismatch"));

    // The trace holds the chain: decision → request (its child) → resolution (the
    // request's child) → action, each entry quoting the hashes, none holding the
    // customer's e-mail.
    let trace = get(&server, &auditor, "/api/v1/traces/t-job-good");
    // (In log order: the agent's clock and the server's differ.)
    let mut events = trace["events"].as_array().unwrap().clone();
    events.sort_by_key(|e| e["seq"].as_u64());
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "policy_decision",
            "approval_request",
            "approval_resolution",
            "external_action"
        ],
        "{trace}"
    );
    assert_eq!(events[0]["event_id"], good["event_id"]);
    assert_eq!(events[0]["job_hash"], json!(job_hash_of(&draft)));
    assert_eq!(
        events[0]["snapshot"]["policy_snapshot"],
        published["policy_snapshot"]
    );
    assert_eq!(events[1]["parent_event_id"], events[0]["event_id"]);
    assert_eq!(
        events[1]["approval"]["job_hash"],
        json!(job_hash_of(&draft))
    );
    assert_eq!(events[2]["parent_event_id"], events[1]["event_id"]);
    assert_eq!(
        events[2]["approval"]["final_job_hash"],
        json!(job_hash_of(&final_payload))
    );
    assert_eq!(events[3]["job_hash"], json!(job_hash_of(&final_payload)));
    // The job's decisions and the policy audit name the same decision and rule.
    let decisions = get(&server, &auditor, "/api/v1/jobs/job-good/decisions");
    let decisions = decisions["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!(decisions[0]["event_id"], good["event_id"]);
    let audit = get(
        &server,
        &auditor,
        "/api/v1/policy/audit?agent=refund-bot&rule_id=refund-large",
    );
    let audited: Vec<&Value> = audit["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["event_id"] == good["event_id"])
        .collect();
    assert_eq!(audited.len(), 1, "{audit}");
    assert_eq!(audited[0]["decision"], json!("REQUIRE_APPROVAL"));
    assert_eq!(audit["history"][0]["id"], json!("refunds"), "{audit}");
    assert!(
        !trace.to_string().contains("wei.novak@example.org"),
        "{trace}"
    );
    server.stop();

    // On the local store: the queue, and a resolution recorded under `cli`.
    let all = ok_json(&run(&data, &["approvals", "list", "--all"]));
    assert_eq!(all["approvals"].as_array().unwrap().len(), 3, "{all}");
    let open_only = ok_json(&run(&data, &["approvals", "list"]));
    assert_eq!(
        open_only["approvals"].as_array().unwrap().len(),
        1,
        "{open_only}"
    );
    let id = pending["approval_id"].as_str().unwrap();
    let wrong = run(
        &data,
        &[
            "approvals",
            "resolve",
            id,
            "--resolution",
            "approved",
            "--job-hash",
            &job_hash_of(&final_payload),
        ],
    );
    assert!(!wrong.status.success());
    assert!(stderr(&wrong).contains("job_hash"), "{}", stderr(&wrong));
    let approved = ok_json(&run(
        &data,
        &[
            "approvals",
            "resolve",
            id,
            "--resolution",
            "approved",
            "--job-hash",
            &job_hash_of(&draft),
            "--comment",
            "ok",
        ],
    ));
    assert_eq!(approved["state"], json!("approved"), "{approved}");
    assert_eq!(approved["resolved_by"], json!("cli"));
    assert!(run(&data, &["verify"]).status.success());
}

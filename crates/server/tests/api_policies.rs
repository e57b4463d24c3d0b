//! Policy sets and decisions over HTTP (CONTRACT section 6; section 4,
//! `/api/v1/policies`, `/api/v1/policy/audit`, `/api/v1/decide`): publish, refusals
//! naming the field and line, decisions with their determining rules, rollback
//! moving the snapshot, fail-closed evaluation, agent binding, governance payloads
//! behind the privacy boundary, a failing active set at start, and two servers on
//! one PostgreSQL database.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{TestApp, MANUAL_CHECKPOINTS};
use evident_server::auth::Role;
use evident_server::clock::TestClock;
use evident_server::state::Settings;
use evident_server::App;
use serde_json::{json, Value};

const SCHEMA: &str = r#"
entity Agent;
entity Resource;
type Now = {hour: Long, weekday: String, date: String};
action "refund" appliesTo {
  principal: [Agent], resource: [Resource],
  context: {amount: Long, email?: String, now: Now}
};
action "read" appliesTo { principal: [Agent], resource: [Resource], context: {now: Now} };
"#;

const REFUNDS_V1: &str = r#"@id("refund-small") @reason("small refunds are fine")
permit(principal, action == Action::"refund", resource) when { context.amount <= 10000 };

@id("refund-large") @reason("large refunds need a human") @require_approval
permit(principal, action == Action::"refund", resource) when { context.amount > 10000 };

@id("refund-cap") @reason("never above 1M")
forbid(principal, action == Action::"refund", resource) when { context.amount > 100000000 };
"#;

/// v2: small refunds need approval too.
const REFUNDS_V2: &str = r#"@id("refund-any") @reason("every refund needs a human") @require_approval
permit(principal, action == Action::"refund", resource);
"#;

fn settings(clock: Arc<TestClock>) -> Settings {
    Settings {
        checkpoint_interval: MANUAL_CHECKPOINTS,
        clock,
        ..Settings::default()
    }
}

async fn app() -> (TestApp, Arc<TestClock>) {
    let clock = TestClock::at("2026-12-07T10:00:00Z");
    (TestApp::with_settings(settings(clock.clone())).await, clock)
}

fn request(method: Method, uri: &str, key: &str, body: Option<&Value>) -> Request<Body> {
    let builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "application/json");
    builder
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap()
}

async fn post(app: &Arc<App>, uri: &str, key: &str, body: &Value) -> common::Reply {
    common::send_to(app, request(Method::POST, uri, key, Some(body))).await
}

async fn get(app: &Arc<App>, uri: &str, key: &str) -> common::Reply {
    common::send_to(app, request(Method::GET, uri, key, None)).await
}

fn publish_body(id: &str, text: &str) -> Value {
    json!({"id": id, "text": text, "schema": SCHEMA})
}

fn refund(amount: Value) -> Value {
    json!({
        "agent": "refund-bot", "action": "refund", "resource": "order-1",
        "context": {"amount": amount}, "payload": {"order": "order-1", "amount": 500},
        "job_id": "job-1",
    })
}

#[tokio::test]
async fn publish_decide_rollback_decide_moves_the_snapshot() {
    let (t, _clock) = app().await;
    let published = post(
        &t.app,
        "/api/v1/policies",
        &t.admin,
        &publish_body("refunds", REFUNDS_V1),
    )
    .await
    .ok_json();
    assert_eq!(published["version"], 1);
    let snapshot_v1 = published["policy_snapshot"].as_str().unwrap().to_owned();

    let allow = post(&t.app, "/api/v1/decide", &t.ingest, &refund(json!(500)))
        .await
        .ok_json();
    assert_eq!(allow["decision"], "ALLOW");
    assert_eq!(allow["policy_rule_id"], "refund-small");
    assert_eq!(allow["policy_reason"], "small refunds are fine");
    assert_eq!(
        allow["determining"],
        json!([{"rule_id": "refund-small", "reason": "small refunds are fine"}])
    );
    assert_eq!(allow["policy_snapshot"], snapshot_v1);
    // job_hash: SHA-256 of the payload's RFC 8785 bytes.
    let jcs = br#"{"amount":500,"order":"order-1"}"#;
    assert_eq!(
        allow["job_hash"],
        evident_core::blob::hex(&<sha2::Sha256 as sha2::Digest>::digest(jcs))
    );

    let approval = post(&t.app, "/api/v1/decide", &t.ingest, &refund(json!(50000)))
        .await
        .ok_json();
    assert_eq!(approval["decision"], "REQUIRE_APPROVAL");
    assert_eq!(approval["policy_rule_id"], "refund-large");
    // The request it opened, committed with it: the draft is the payload.
    let approval_id = approval["approval_id"]
        .as_str()
        .expect("an approval was opened");
    let request = t
        .get(&format!("/api/v1/approvals/{approval_id}"), Some(&t.ingest))
        .await
        .ok_json();
    assert_eq!(request["job_hash"], approval["job_hash"], "{request}");
    assert_eq!(request["state"], "open", "{request}");

    let deny = post(
        &t.app,
        "/api/v1/decide",
        &t.ingest,
        &refund(json!(200_000_000)),
    )
    .await
    .ok_json();
    assert_eq!(deny["decision"], "DENY");
    assert_eq!(deny["policy_rule_id"], "refund-cap");
    assert_eq!(deny["policy_reason"], "never above 1M");

    let default = post(&t.app, "/api/v1/decide", &t.ingest, &json!({
        "agent": "refund-bot", "action": "read", "resource": "r", "payload": {}, "job_id": "job-2"
    })).await.ok_json();
    assert_eq!(default["decision"], "DENY");
    assert!(default["policy_rule_id"].is_null());
    assert_eq!(default["determining"], json!([]));

    let v2 = post(
        &t.app,
        "/api/v1/policies",
        &t.admin,
        &publish_body("refunds", REFUNDS_V2),
    )
    .await
    .ok_json();
    assert_eq!(v2["version"], 2);
    let now_v2 = post(&t.app, "/api/v1/decide", &t.ingest, &refund(json!(500)))
        .await
        .ok_json();
    assert_eq!(now_v2["decision"], "REQUIRE_APPROVAL");
    assert_eq!(now_v2["policy_snapshot"], v2["policy_snapshot"]);
    assert_ne!(v2["policy_snapshot"], snapshot_v1);

    let back = post(
        &t.app,
        "/api/v1/policies/refunds/rollback",
        &t.admin,
        &json!({}),
    )
    .await
    .ok_json();
    assert_eq!(back["version"], 1);
    assert_eq!(back["from_version"], 2);
    assert_eq!(
        back["policy_snapshot"], snapshot_v1,
        "the same versions, the same snapshot"
    );
    let after = post(&t.app, "/api/v1/decide", &t.ingest, &refund(json!(500)))
        .await
        .ok_json();
    assert_eq!(after["decision"], "ALLOW");
    assert_eq!(after["policy_snapshot"], snapshot_v1);

    // Rolled back to version 1: nothing before it.
    let refused = post(
        &t.app,
        "/api/v1/policies/refunds/rollback",
        &t.admin,
        &json!({}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
    let unknown = post(
        &t.app,
        "/api/v1/policies/nothing/rollback",
        &t.admin,
        &json!({}),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // The events: each decision in the log, with its snapshot and versions.
    let logged = t
        .get_event(after["event_id"].as_str().unwrap())
        .await
        .ok_json();
    let record = &logged["record"];
    assert_eq!(record["event_type"], "policy_decision");
    assert_eq!(record["decision"]["action"], "ALLOW");
    assert_eq!(
        record["decision"]["policy_versions"],
        json!([{"id": "refunds", "version": 1, "sha256": published["sha256"]}])
    );
    assert_eq!(record["snapshot"]["policy_snapshot"], snapshot_v1);
    assert_eq!(record["job_hash"], after["job_hash"]);

    // The job's decisions are found by its id (the entry keeps context.job_id).
    let job = get(&t.app, "/api/v1/jobs/job-1/decisions", &t.auditor)
        .await
        .ok_json();
    assert_eq!(job["decisions"].as_array().unwrap().len(), 5, "{job}");

    // The list and the audit trail.
    let list = get(&t.app, "/api/v1/policies", &t.auditor).await.ok_json();
    assert_eq!(list["sets"][0]["id"], "refunds");
    assert_eq!(list["sets"][0]["version"], 1);
    assert_eq!(list["sets"][0]["state"], "active");
    let audit = get(&t.app, "/api/v1/policy/audit", &t.auditor)
        .await
        .ok_json();
    let kinds: Vec<_> = audit["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["kind"].clone(), h["version"].clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (json!("publish"), json!(1)),
            (json!("publish"), json!(2)),
            (json!("rollback"), json!(1))
        ]
    );
    assert_eq!(audit["decisions"].as_array().unwrap().len(), 6);
    let denies = get(
        &t.app,
        "/api/v1/policy/audit?decision=DENY&rule_id=refund-cap",
        &t.auditor,
    )
    .await
    .ok_json();
    assert_eq!(denies["decisions"].as_array().unwrap().len(), 1);
    assert_eq!(denies["decisions"][0]["event_id"], deny["event_id"]);
    let bad = get(&t.app, "/api/v1/policy/audit?decision=MAYBE", &t.auditor).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // Replay of the first decision after newer publishes: the same, under its own
    // snapshot, and it says the policies changed since... they did not (rolled
    // back); replay the v2 one instead, now that v1 is active again.
    let replay = get(
        &t.app,
        &format!(
            "/api/v1/policy/replay/{}",
            now_v2["event_id"].as_str().unwrap()
        ),
        &t.auditor,
    )
    .await
    .ok_json();
    assert_eq!(replay["same"], true, "{replay}");
    assert_eq!(replay["replayed"]["decision"], "REQUIRE_APPROVAL");
    assert!(
        replay["notes"][0]
            .as_str()
            .unwrap()
            .contains("changed since"),
        "{replay}"
    );
}

#[tokio::test]
async fn refused_publishes_name_the_field_and_line_and_store_nothing() {
    let (t, _clock) = app().await;
    let parse = post(
        &t.app,
        "/api/v1/policies",
        &t.admin,
        &publish_body(
            "s",
            "@id(\"a\")\npermit(principal, action, resource)\n  when { context.amount > };\n",
        ),
    )
    .await;
    let problem = parse.problem(StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("/text: line 3"),
        "{problem}"
    );

    let invalid = post(&t.app, "/api/v1/policies", &t.admin, &publish_body("s", "@id(\"a\")\npermit(principal, action == Action::\"refund\", resource)\n  when { context.amonut > 5 };\n")).await;
    let problem = invalid.problem(StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"].as_str().unwrap().contains("line 3"),
        "{problem}"
    );
    assert!(
        problem["detail"].as_str().unwrap().starts_with("/text"),
        "{problem}"
    );

    let schema = post(
        &t.app,
        "/api/v1/policies",
        &t.admin,
        &json!({"id": "s", "text": REFUNDS_V1, "schema": "entity Agent"}),
    )
    .await;
    assert!(schema.problem(StatusCode::BAD_REQUEST)["detail"]
        .as_str()
        .unwrap()
        .starts_with("/schema"));

    let missing_schema = post(
        &t.app,
        "/api/v1/policies",
        &t.admin,
        &json!({"id": "s", "text": REFUNDS_V1}),
    )
    .await;
    assert!(missing_schema.problem(StatusCode::BAD_REQUEST)["detail"]
        .as_str()
        .unwrap()
        .starts_with("/schema"));

    let no_id = post(
        &t.app,
        "/api/v1/policies",
        &t.admin,
        &publish_body("s", "permit(principal, action, resource);"),
    )
    .await;
    assert!(no_id.problem(StatusCode::BAD_REQUEST)["detail"]
        .as_str()
        .unwrap()
        .contains("@id"));

    let mut failing = publish_body("refunds", REFUNDS_V1);
    failing["tests"] = json!([
        {"request": {"agent": "a", "action": "refund", "resource": "r", "context": {"amount": 5}}, "expect": "ALLOW"},
        {"request": {"agent": "a", "action": "refund", "resource": "r", "context": {"amount": 50000}}, "expect": "ALLOW"},
    ]);
    let test_failed = post(&t.app, "/api/v1/policies", &t.admin, &failing).await;
    let detail = test_failed.problem(StatusCode::BAD_REQUEST)["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        detail.starts_with("/tests: [1]: expected ALLOW, got REQUIRE_APPROVAL"),
        "{detail}"
    );

    let malformed = post(
        &t.app,
        "/api/v1/policies",
        &t.admin,
        &json!({"id": "s", "text": REFUNDS_V1, "schema": SCHEMA, "tests": [{"expect": "ALLOW"}]}),
    )
    .await;
    assert!(malformed.problem(StatusCode::BAD_REQUEST)["detail"]
        .as_str()
        .unwrap()
        .starts_with("/tests: [0]"));

    let bad_id = post(
        &t.app,
        "/api/v1/policies",
        &t.admin,
        &publish_body("a/b", REFUNDS_V1),
    )
    .await;
    assert!(bad_id.problem(StatusCode::BAD_REQUEST)["detail"]
        .as_str()
        .unwrap()
        .starts_with("/id"));

    // Nothing of all that was stored.
    assert_eq!(t.tree_size().await, 0);

    // A rule id another active set uses.
    post(
        &t.app,
        "/api/v1/policies",
        &t.admin,
        &publish_body("refunds", REFUNDS_V1),
    )
    .await
    .ok_json();
    let clash = post(
        &t.app,
        "/api/v1/policies",
        &t.admin,
        &publish_body(
            "other",
            "@id(\"refund-cap\") forbid(principal, action, resource);",
        ),
    )
    .await;
    let detail = clash.problem(StatusCode::BAD_REQUEST)["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        detail.contains("refund-cap") && detail.contains("refunds"),
        "{detail}"
    );
    assert_eq!(t.tree_size().await, 1);

    // Only admins publish; ingest keys cannot.
    let forbidden = post(
        &t.app,
        "/api/v1/policies",
        &t.ingest,
        &publish_body("x", REFUNDS_V2),
    )
    .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let auditor_decides = post(&t.app, "/api/v1/decide", &t.auditor, &refund(json!(5))).await;
    assert_eq!(auditor_decides.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn evaluation_errors_and_floats_are_deny_not_500() {
    let (t, _clock) = app().await;
    post(
        &t.app,
        "/api/v1/policies",
        &t.admin,
        &publish_body("refunds", REFUNDS_V1),
    )
    .await
    .ok_json();
    // A string where the rule compares a number: the rule fails to evaluate.
    let error = post(&t.app, "/api/v1/decide", &t.ingest, &refund(json!("lots")))
        .await
        .ok_json();
    assert_eq!(error["decision"], "DENY");
    assert!(
        error["policy_reason"]
            .as_str()
            .unwrap()
            .contains("evaluation error"),
        "{error}"
    );
    // No amount at all.
    let mut missing = refund(json!(1));
    missing["context"] = json!({});
    let missing = post(&t.app, "/api/v1/decide", &t.ingest, &missing)
        .await
        .ok_json();
    assert_eq!(missing["decision"], "DENY");
    // A float: Cedar has none.
    let float = post(&t.app, "/api/v1/decide", &t.ingest, &refund(json!(12.5)))
        .await
        .ok_json();
    assert_eq!(float["decision"], "DENY");
    assert!(
        float["policy_reason"].as_str().unwrap().contains("context"),
        "{float}"
    );
    // Each is recorded.
    let audit = get(&t.app, "/api/v1/policy/audit?decision=DENY", &t.auditor)
        .await
        .ok_json();
    assert_eq!(audit["decisions"].as_array().unwrap().len(), 3);

    // Bad requests are 400 naming the field.
    let mut no_job = refund(json!(1));
    no_job.as_object_mut().unwrap().remove("job_id");
    let problem = post(&t.app, "/api/v1/decide", &t.ingest, &no_job)
        .await
        .problem(StatusCode::BAD_REQUEST);
    assert_eq!(
        problem["detail"].as_str().unwrap().split(':').next(),
        Some("/job_id")
    );
    let mut now = refund(json!(1));
    now["context"]["now"] = json!({"hour": 3});
    let problem = post(&t.app, "/api/v1/decide", &t.ingest, &now)
        .await
        .problem(StatusCode::BAD_REQUEST);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .starts_with("/context/now"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_key_bound_to_agents_decides_only_for_them() {
    let (t, _clock) = app().await;
    post(
        &t.app,
        "/api/v1/policies",
        &t.admin,
        &publish_body("refunds", REFUNDS_V1),
    )
    .await
    .ok_json();
    let bound = t.key("bound", Role::Ingest, &["refund-bot"]).await;
    post(&t.app, "/api/v1/decide", &bound, &refund(json!(5)))
        .await
        .ok_json();
    let mut other = refund(json!(5));
    other["agent"] = json!("other-bot");
    let refused = post(&t.app, "/api/v1/decide", &bound, &other).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(t.tree_size().await, 2);
}

#[tokio::test]
async fn governance_payload_is_tokenized_for_an_auditor() {
    let (t, _clock) = app().await;
    post(
        &t.app,
        "/api/v1/policies",
        &t.admin,
        &publish_body("refunds", REFUNDS_V1),
    )
    .await
    .ok_json();
    let mut body = refund(json!(5));
    body["context"]["email"] = json!("wei.novak@example.com");
    body["payload"] = json!({"refund_to": "wei.novak@example.com", "amount": 5});
    body["subject"] = json!("customer-1042");
    let decided = post(&t.app, "/api/v1/decide", &t.ingest, &body)
        .await
        .ok_json();
    assert_eq!(decided["decision"], "ALLOW");
    let entry = t
        .entry_json(decided["seq"].as_u64().unwrap())
        .await
        .to_string();
    assert!(
        !entry.contains("wei.novak"),
        "clear e-mail in the entry: {entry}"
    );
    assert!(
        !entry.contains("customer-1042"),
        "clear subject in the entry: {entry}"
    );
    let shown = t
        .get(
            &format!("/api/v1/events/{}", decided["event_id"].as_str().unwrap()),
            Some(&t.auditor),
        )
        .await
        .ok_json();
    let record = shown["record"].to_string();
    assert!(!record.contains("wei.novak"), "{record}");
    assert!(
        shown["record"]["input"]["payload"]["refund_to"]
            .as_str()
            .unwrap()
            .starts_with('<')
            || record.contains("tok_")
            || record.contains("EMAIL"),
        "{record}"
    );
    assert_eq!(shown["record"]["input"]["request"]["action"], "refund");
}

/// A decision's text reaches the full-text index tokenized, as its sealed payload
/// reads back: its words are searchable, the clear e-mail and subject are not.
#[tokio::test]
async fn a_decision_is_searchable_by_its_tokenized_text() {
    let (t, _clock) = app().await;
    post(
        &t.app,
        "/api/v1/policies",
        &t.admin,
        &publish_body("refunds", REFUNDS_V1),
    )
    .await
    .ok_json();
    let mut body = refund(json!(5));
    body["payload"] = json!({"note": "zanzibar parcel", "refund_to": "wei.novak@example.com"});
    body["subject"] = json!("customer-1042");
    let decided = post(&t.app, "/api/v1/decide", &t.ingest, &body)
        .await
        .ok_json();
    t.wait_for_text_index(t.tree_size().await, std::time::Duration::from_secs(10))
        .await;
    let found = t.search_get(&[("q", "zanzibar")]).await.ok_json();
    assert_eq!(
        common::event_ids(&found),
        vec![decided["event_id"].as_str().unwrap().to_owned()]
    );
    for clear in [
        "wei.novak@example.com",
        "\"wei novak\"",
        "customer-1042",
        "1042",
    ] {
        let found = t.search_get(&[("q", clear)]).await.ok_json();
        assert_eq!(common::event_ids(&found), Vec::<String>::new(), "q={clear}");
    }
}

#[tokio::test]
async fn a_set_failing_its_tests_at_start_makes_every_decision_deny() {
    let (t, _clock) = app().await;
    // Passes at 10:00 (its test gives no `now`), fails from noon.
    let text = "@id(\"mornings\") @reason(\"before noon\")\npermit(principal, action == Action::\"read\", resource) when { context.now.hour < 12 };\n";
    let mut body = publish_body("hours", text);
    body["tests"] =
        json!([{"request": {"agent": "a", "action": "read", "resource": "r"}, "expect": "ALLOW"}]);
    post(&t.app, "/api/v1/policies", &t.admin, &body)
        .await
        .ok_json();
    let read =
        json!({"agent": "a", "action": "read", "resource": "r", "payload": {}, "job_id": "j"});
    assert_eq!(
        post(&t.app, "/api/v1/decide", &t.ingest, &read)
            .await
            .ok_json()["decision"],
        "ALLOW"
    );

    // A server started at 09:00 the next day... at 13:00, when the test fails.
    let later = TestClock::at("2026-12-07T13:00:00Z");
    let restarted = t.sibling(settings(later.clone())).await;
    let denied = post(&restarted, "/api/v1/decide", &t.ingest, &read)
        .await
        .ok_json();
    assert_eq!(denied["decision"], "DENY");
    assert!(
        denied["policy_reason"]
            .as_str()
            .unwrap()
            .contains("\"hours\""),
        "{denied}"
    );
    let list = get(&restarted, "/api/v1/policies", &t.auditor)
        .await
        .ok_json();
    assert_eq!(list["sets"][0]["state"], "failing");
    assert!(
        list["sets"][0]["failure"]
            .as_str()
            .unwrap()
            .contains("expected ALLOW"),
        "{list}"
    );
}

/// Two servers on one store: a publish on one is seen by the next decision on the
/// other, whose cache was warm with the older sets (checked in the decision's own
/// transaction). On PostgreSQL (`EVIDENT_TEST_API_STORE=postgres`) each server has
/// its own connection pool.
#[tokio::test]
async fn a_decision_on_another_server_sees_the_latest_publish() {
    let (t, clock) = app().await;
    let other = t.sibling(settings(clock.clone())).await;
    post(
        &t.app,
        "/api/v1/policies",
        &t.admin,
        &publish_body("refunds", REFUNDS_V1),
    )
    .await
    .ok_json();
    let first = post(&other, "/api/v1/decide", &t.ingest, &refund(json!(500)))
        .await
        .ok_json();
    assert_eq!(first["decision"], "ALLOW");
    let v2 = post(
        &t.app,
        "/api/v1/policies",
        &t.admin,
        &publish_body("refunds", REFUNDS_V2),
    )
    .await
    .ok_json();
    let second = post(&other, "/api/v1/decide", &t.ingest, &refund(json!(500)))
        .await
        .ok_json();
    assert_eq!(second["policy_snapshot"], v2["policy_snapshot"]);
    assert_eq!(second["decision"], "REQUIRE_APPROVAL");
    let back = post(
        &other,
        "/api/v1/policies/refunds/rollback",
        &t.admin,
        &json!({}),
    )
    .await
    .ok_json();
    let third = post(&t.app, "/api/v1/decide", &t.ingest, &refund(json!(500)))
        .await
        .ok_json();
    assert_eq!(third["policy_snapshot"], back["policy_snapshot"]);
    assert_eq!(third["decision"], "ALLOW");
}

/// After the subject's erasure the decision's request and payload are gone (sealed
/// under the destroyed key); replay says it can no longer show them.
#[tokio::test]
async fn replay_after_erasure_says_what_is_unshowable() {
    let (t, _clock) = app().await;
    post(
        &t.app,
        "/api/v1/policies",
        &t.admin,
        &publish_body("refunds", REFUNDS_V1),
    )
    .await
    .ok_json();
    let mut body = refund(json!(5));
    body["subject"] = json!("customer-77");
    let decided = post(&t.app, "/api/v1/decide", &t.ingest, &body)
        .await
        .ok_json();
    let event_id = decided["event_id"].as_str().unwrap().to_owned();
    let before = get(
        &t.app,
        &format!("/api/v1/policy/replay/{event_id}"),
        &t.auditor,
    )
    .await
    .ok_json();
    assert_eq!(before["same"], true, "{before}");

    let erased = post(
        &t.app,
        "/api/v1/subjects/erase",
        &t.privacy,
        &json!({"subject": "customer-77", "reason": "GDPR art. 17"}),
    )
    .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.text());
    let after = get(
        &t.app,
        &format!("/api/v1/policy/replay/{event_id}"),
        &t.auditor,
    )
    .await
    .ok_json();
    assert!(after["same"].is_null(), "{after}");
    assert!(after["replayed"].is_null(), "{after}");
    let notes = after["notes"].to_string();
    assert!(notes.contains("erased"), "{after}");
    // The decision itself, its rule and versions stay in the entry.
    assert_eq!(after["logged"]["action"], "ALLOW");
    assert_eq!(after["logged"]["policy_rule_id"], "refund-small");

    // Not a decision, and no such event.
    let other = get(
        &t.app,
        &format!("/api/v1/policy/replay/{}", "no-such-event"),
        &t.auditor,
    )
    .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
}

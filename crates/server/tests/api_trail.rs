//! `GET /api/v1/traces/{id}`, `GET /api/v1/jobs/{id}` and `/decisions`, and
//! `GET /api/v1/workflow-runs/{id}/timeline` (CONTRACT section 4): time
//! order across UTC offsets, the causal tree (fan-out, nesting, missing parents,
//! cycles), job state, and their errors.

mod common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use common::{detail, event_ids, event_seqs, TestApp};
use serde_json::{json, Value};

/// An event of `trace` at `timestamp`, caused by `parent`.
fn ev(id: &str, trace: &str, timestamp: &str, parent: Option<&str>) -> Value {
    let mut e = json!({
        "event_id": id,
        "trace_id": trace,
        "timestamp": timestamp,
        "actor": {"type": "agent", "id": "tree-bot"},
        "event_type": "step",
    });
    if let Some(parent) = parent {
        e["parent_event_id"] = json!(parent);
    }
    e
}

/// The trace of the tree tests. Instants are 2026-11-23T10:00:NNZ, written in several
/// offsets so that the text order is not the time order.
fn tree_trace() -> BTreeMap<&'static str, Value> {
    let t = "tr-tree";
    [
        ("R", ev("R", t, "2026-11-23T05:00:00-05:00", None)),
        ("A", ev("A", t, "2026-11-23T11:00:01+01:00", Some("R"))),
        ("B", ev("B", t, "2026-11-23T10:00:02Z", Some("R"))),
        ("C", ev("C", t, "2026-11-23T15:30:03+05:30", Some("R"))),
        ("A1", ev("A1", t, "2026-11-23T10:00:04.000Z", Some("A"))),
        ("A2", ev("A2", t, "2026-11-23T11:00:05+01:00", Some("A"))),
        ("A1a", ev("A1a", t, "2026-11-23T04:00:06-06:00", Some("A1"))),
        // Its parent is in no trace at all.
        (
            "O",
            ev("O", t, "2026-11-23T10:00:07Z", Some("no-such-event")),
        ),
        // Its parent is in another trace.
        ("P", ev("P", "tr-other", "2026-11-23T10:00:00Z", None)),
        ("Q", ev("Q", t, "2026-11-23T10:00:08Z", Some("P"))),
        // The same instant: seq breaks the tie (E is ingested first).
        ("D", ev("D", t, "2026-11-23T10:00:09Z", Some("C"))),
        ("E", ev("E", t, "2026-11-23T11:00:09+01:00", Some("C"))),
        // A cycle of parents, and an event that is its own parent.
        ("X", ev("X", t, "2026-11-23T10:00:10Z", Some("Y"))),
        ("Y", ev("Y", t, "2026-11-23T10:00:11Z", Some("X"))),
        ("S", ev("S", t, "2026-11-23T10:00:12Z", Some("S"))),
    ]
    .into_iter()
    .collect()
}

/// A tree node as (event_id, orphan, children), checking the node's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node(String, bool, Vec<Node>);

fn node(value: &Value) -> Node {
    let id = value["event_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a node without event_id: {value}"))
        .to_owned();
    let orphan = match value.get("orphan") {
        None | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(other) => panic!("orphan must be true or absent: {other}"),
    };
    let children = value["children"]
        .as_array()
        .unwrap_or_else(|| panic!("a node without a children array: {value}"))
        .iter()
        .map(node)
        .collect();
    Node(id, orphan, children)
}

fn n(id: &str, children: Vec<Node>) -> Node {
    Node(id.to_owned(), false, children)
}

fn orphan(id: &str, children: Vec<Node>) -> Node {
    Node(id.to_owned(), true, children)
}

fn flatten(nodes: &[Node], out: &mut Vec<String>) {
    for Node(id, _, children) in nodes {
        out.push(id.clone());
        flatten(children, out);
    }
}

async fn ingest_tree(t: &TestApp) {
    let events = tree_trace();
    let batch = |ids: &[&str]| Value::Array(ids.iter().map(|id| events[id].clone()).collect());
    // Children before parents, and out of time order.
    t.ingest_ok(&batch(&["A1a", "C", "Y", "E"])).await;
    t.ingest_ok(&batch(&["S", "R", "X", "D"])).await;
    t.ingest_ok(&batch(&["B", "O", "A2", "P", "Q", "A", "A1"]))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_events_are_in_time_then_seq_order() {
    let t = TestApp::new().await;
    ingest_tree(&t).await;
    let answer = t
        .get("/api/v1/traces/tr-tree", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(answer["trace_id"], json!("tr-tree"));
    assert_eq!(
        event_ids(&answer),
        ["R", "A", "B", "C", "A1", "A2", "A1a", "O", "Q", "E", "D", "X", "Y", "S"],
        "by timestamp (as instants, not text), then seq; P is another trace"
    );
    // Records carry their seq: E was ingested before D.
    let seqs = event_seqs(&answer);
    assert!(seqs[9] < seqs[10], "{seqs:?}");
    // The other trace holds only P.
    let other = t
        .get("/api/v1/traces/tr-other", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(event_ids(&other), ["P"]);
    assert_eq!(other["tree"], json!([{"event_id": "P", "children": []}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_tree_fans_out_nests_and_keeps_orphans_at_the_root() {
    let t = TestApp::new().await;
    ingest_tree(&t).await;
    let answer = t
        .get("/api/v1/traces/tr-tree", Some(&t.auditor))
        .await
        .ok_json();
    let tree: Vec<Node> = answer["tree"]
        .as_array()
        .expect("a tree array")
        .iter()
        .map(node)
        .collect();

    // Every event exactly once.
    let mut all = Vec::new();
    flatten(&tree, &mut all);
    let mut sorted = all.clone();
    sorted.sort();
    let mut expected = event_ids(&answer);
    expected.sort();
    assert_eq!(
        sorted, expected,
        "each event of the trace once in the tree: {all:?}"
    );

    // The cycle X <-> Y hangs at the root as one orphan holding the other.
    let (cycle, rest): (Vec<Node>, Vec<Node>) = tree
        .into_iter()
        .partition(|Node(id, _, _)| id == "X" || id == "Y");
    assert_eq!(cycle.len(), 1, "the cycle is one subtree: {cycle:?}");
    let Node(head, head_orphan, children) = &cycle[0];
    assert!(head_orphan, "a cycle's root is marked orphan: {cycle:?}");
    let other = if head == "X" { "Y" } else { "X" };
    assert_eq!(children, &vec![n(other, vec![])], "{cycle:?}");

    // Fan-out in time order, nested grandchildren; missing parents at the root.
    assert_eq!(
        rest,
        vec![
            n(
                "R",
                vec![
                    n("A", vec![n("A1", vec![n("A1a", vec![])]), n("A2", vec![])]),
                    n("B", vec![]),
                    n("C", vec![n("E", vec![]), n("D", vec![])]),
                ]
            ),
            orphan("O", vec![]),
            orphan("Q", vec![]),
            orphan("S", vec![]),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_tree_of_a_wide_and_deep_trace() {
    let t = TestApp::new().await;
    // One parent with 30 children, and a chain 40 deep under the last child.
    let mut events = vec![ev("root", "tr-wide", "2026-11-23T10:00:00Z", None)];
    for i in 0..30 {
        events.push(ev(
            &format!("kid-{i:02}"),
            "tr-wide",
            &format!("2026-11-23T10:00:{:02}Z", i + 1),
            Some("root"),
        ));
    }
    let mut parent = "kid-29".to_owned();
    for i in 0..40 {
        let id = format!("deep-{i:02}");
        events.push(ev(
            &id,
            "tr-wide",
            &format!("2026-11-23T10:01:{i:02}Z"),
            Some(&parent),
        ));
        parent = id;
    }
    // Ingested newest first.
    events.reverse();
    t.ingest_ok(&Value::Array(events)).await;
    let answer = t
        .get("/api/v1/traces/tr-wide", Some(&t.auditor))
        .await
        .ok_json();
    let tree: Vec<Node> = answer["tree"]
        .as_array()
        .unwrap()
        .iter()
        .map(node)
        .collect();
    assert_eq!(tree.len(), 1, "one root");
    let Node(root, root_orphan, kids) = &tree[0];
    assert_eq!(root, "root");
    assert!(!root_orphan);
    let kid_ids: Vec<&str> = kids.iter().map(|k| k.0.as_str()).collect();
    let expected: Vec<String> = (0..30).map(|i| format!("kid-{i:02}")).collect();
    assert_eq!(kid_ids, expected);
    let mut depth = 0;
    let mut cursor = &kids[29];
    while let Some(next) = cursor.2.first() {
        assert_eq!(cursor.2.len(), 1);
        assert_eq!(next.0, format!("deep-{depth:02}"));
        depth += 1;
        cursor = next;
    }
    assert_eq!(depth, 40);
    let mut all = Vec::new();
    flatten(&tree, &mut all);
    assert_eq!(all.len(), 71);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_errors_and_roles() {
    let t = TestApp::new().await;
    ingest_tree(&t).await;
    let reply = t
        .get("/api/v1/traces/no-such-trace", Some(&t.auditor))
        .await;
    reply.problem(StatusCode::NOT_FOUND);
    let long = "x".repeat(129);
    let reply = t
        .get(&format!("/api/v1/traces/{long}"), Some(&t.auditor))
        .await;
    reply.client_problem();
    let reply = t.get("/api/v1/traces/tr-tree", Some(&t.ingest)).await;
    reply.problem(StatusCode::FORBIDDEN);
    let reply = t.get("/api/v1/traces/tr-tree", None).await;
    reply.problem(StatusCode::UNAUTHORIZED);
    for key in [&t.auditor, &t.approver, &t.privacy, &t.admin] {
        t.get("/api/v1/traces/tr-tree", Some(key)).await.ok_json();
    }
    // Hostile ids are plain ids.
    for id in ["%27%20OR%201%3D1%20--", "tr-%25", "tr-tree%00"] {
        let reply = t
            .get(&format!("/api/v1/traces/{id}"), Some(&t.auditor))
            .await;
        assert!(
            reply.status.is_client_error(),
            "{id}: {} {}",
            reply.status,
            reply.text()
        );
    }
}

// ---------------------------------------------------------------------------------
// Jobs.

fn job_event(id: &str, job: &str, second: u32, kind: &str, extra: &Value) -> Value {
    let mut e = json!({
        "event_id": id,
        "trace_id": format!("tr-{job}"),
        "timestamp": format!("2026-11-23T10:00:{second:02}Z"),
        "actor": {"type": "agent", "id": "job-bot"},
        "event_type": kind,
        "context": {"job_id": job},
    });
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_state_is_derived_from_its_events() {
    let t = TestApp::new().await;
    let first = t
        .ingest_ok(&json!([
            job_event(
                "j-ctx",
                "job-77",
                1,
                "model_call",
                &json!({
                    "outcome": "success",
                    "output_safety": {"decision": "release", "rule_id": "r-1"},
                })
            ),
            // Another job's events in between change nothing about job-77.
            job_event(
                "o-1",
                "job-78",
                2,
                "external_action",
                &json!({"outcome": "escalated"})
            ),
            job_event(
                "j-ea-1",
                "job-77",
                3,
                "external_action",
                &json!({"outcome": "pending"})
            ),
            job_event(
                "j-hr-1",
                "job-77",
                4,
                "human_review",
                &json!({
                    "approval": {"resolution": "approved", "resolved_by": "maria",
                                 "method": "console", "comment": "fine"},
                })
            ),
        ]))
        .await;
    let second = t
        .ingest_ok(&json!([
            job_event(
                "j-ea-2",
                "job-77",
                5,
                "external_action",
                &json!({
                    "outcome": "success",
                    "output_safety": {"decision": "redact", "rule_id": "r-2"},
                })
            ),
            job_event(
                "j-err",
                "job-77",
                6,
                "tool_result",
                &json!({"outcome": "error"})
            ),
            job_event(
                "j-hr-2",
                "job-77",
                7,
                "human_review",
                &json!({
                    "approval": {"resolution": "rejected", "resolved_by": "li", "method": "email"},
                })
            ),
            job_event(
                "o-2",
                "job-78",
                8,
                "external_action",
                &json!({
                    "outcome": "success",
                    "output_safety": {"decision": "quarantine"},
                })
            ),
        ]))
        .await;
    let seq_of = |answer: &[Value], id: &str| {
        answer
            .iter()
            .find(|a| a["event_id"] == json!(id))
            .map(|a| a["seq"].clone())
            .unwrap()
    };

    let job = t
        .get("/api/v1/jobs/job-77", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(job["outcome"], json!("error"), "the latest outcome: {job}");
    assert_eq!(job["context_ptr"]["event_id"], json!("j-ctx"), "{job}");
    assert_eq!(job["context_ptr"]["seq"], seq_of(&first, "j-ctx"), "{job}");
    assert_eq!(
        job["result_ptr"]["event_id"],
        json!("j-ea-2"),
        "the last external_action: {job}"
    );
    assert_eq!(job["result_ptr"]["seq"], seq_of(&second, "j-ea-2"), "{job}");
    assert_eq!(
        job["output_safety"],
        json!({"decision": "redact", "rule_id": "r-2"}),
        "the latest output_safety: {job}"
    );
    let approvals = job["approvals"].as_array().expect("approvals");
    let ids: Vec<&str> = approvals
        .iter()
        .map(|a| a["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["j-hr-1", "j-hr-2"], "{job}");
    assert_eq!(approvals[0]["approval"]["resolution"], json!("approved"));
    assert_eq!(approvals[1]["approval"]["resolution"], json!("rejected"));
    assert_eq!(approvals[1]["approval"]["resolved_by"], json!("li"));

    // A job with one event: no result, no approvals.
    let lone = t
        .ingest_ok(&json!([job_event(
            "l-1",
            "job-lone",
            9,
            "model_call",
            &json!({})
        )]))
        .await;
    let job = t
        .get("/api/v1/jobs/job-lone", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(job["context_ptr"]["event_id"], json!("l-1"));
    assert_eq!(job["context_ptr"]["seq"], lone[0]["seq"]);
    assert_eq!(job["result_ptr"], Value::Null, "{job}");
    assert_eq!(job["outcome"], Value::Null, "{job}");
    assert_eq!(job["output_safety"], Value::Null, "{job}");
    assert_eq!(job["approvals"], json!([]), "{job}");

    // The other job saw only its own events.
    let job = t
        .get("/api/v1/jobs/job-78", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(job["context_ptr"]["event_id"], json!("o-1"));
    assert_eq!(job["result_ptr"]["event_id"], json!("o-2"));
    assert_eq!(job["outcome"], json!("success"));
    assert_eq!(job["output_safety"], json!({"decision": "quarantine"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_decisions_and_errors() {
    let t = TestApp::new().await;
    t.ingest_ok(&json!([
        job_event(
            "j-1",
            "job-5",
            1,
            "decision",
            &json!({"decision": {"action": "refund"}})
        ),
        job_event("j-2", "job-5", 2, "tool_call", &json!({})),
    ]))
    .await;
    // Client `decision` events are not policy decisions: none yet.
    let answer = t
        .get("/api/v1/jobs/job-5/decisions", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(answer["decisions"], json!([]), "{answer}");

    let reply = t.get("/api/v1/jobs/no-such-job", Some(&t.auditor)).await;
    let problem = reply.problem(StatusCode::NOT_FOUND);
    assert!(detail(&problem).contains("no-such-job"), "{problem}");
    for path in ["/api/v1/jobs/job-5", "/api/v1/jobs/job-5/decisions"] {
        t.get(path, Some(&t.ingest))
            .await
            .problem(StatusCode::FORBIDDEN);
        t.get(path, None).await.problem(StatusCode::UNAUTHORIZED);
        for key in [&t.auditor, &t.approver, &t.privacy, &t.admin] {
            t.get(path, Some(key)).await.ok_json();
        }
    }
    let long = "j".repeat(129);
    t.get(&format!("/api/v1/jobs/{long}"), Some(&t.auditor))
        .await
        .client_problem();
}

// ---------------------------------------------------------------------------------
// Workflow-run timelines.

fn run_event(id: &str, run: &str, timestamp: &str) -> Value {
    json!({
        "event_id": id,
        "trace_id": format!("tr-{id}"),
        "timestamp": timestamp,
        "actor": {"type": "agent", "id": "run-bot"},
        "event_type": "step",
        "context": {"workflow_run_id": run},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_is_in_time_order_and_honours_limit() {
    let t = TestApp::new().await;
    t.ingest_ok(&json!([
        run_event("w-4", "run-9", "2026-11-23T10:00:04Z"),
        run_event("w-2", "run-9", "2026-11-23T11:00:02+01:00"),
        run_event("x-1", "run-8", "2026-11-23T10:00:01Z"),
        run_event("w-5b", "run-9", "2026-11-23T10:00:05Z"),
    ]))
    .await;
    t.ingest_ok(&json!([
        run_event("w-1", "run-9", "2026-11-23T04:00:01-06:00"),
        run_event("w-5c", "run-9", "2026-11-23T15:30:05+05:30"),
        run_event("w-3", "run-9", "2026-11-23T10:00:03.000Z"),
    ]))
    .await;
    let all = ["w-1", "w-2", "w-3", "w-4", "w-5b", "w-5c"];
    let answer = t
        .get("/api/v1/workflow-runs/run-9/timeline", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(event_ids(&answer), all, "time order, then seq");
    for limit in [1, 2, 5, 6, 1000] {
        let answer = t
            .get(
                &format!("/api/v1/workflow-runs/run-9/timeline?limit={limit}"),
                Some(&t.auditor),
            )
            .await
            .ok_json();
        assert_eq!(
            event_ids(&answer),
            all[..limit.min(all.len())],
            "limit {limit}"
        );
    }
    let answer = t
        .get("/api/v1/workflow-runs/run-8/timeline", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(event_ids(&answer), ["x-1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_errors_and_roles() {
    let t = TestApp::new().await;
    t.ingest_ok(&run_event("w-1", "run-9", "2026-11-23T10:00:01Z"))
        .await;
    for limit in [
        "0",
        "1001",
        "abc",
        "-1",
        "",
        "1.5",
        "99999999999999999999999",
    ] {
        let reply = t
            .get(
                &format!("/api/v1/workflow-runs/run-9/timeline?limit={limit}"),
                Some(&t.auditor),
            )
            .await;
        let problem = reply.problem(StatusCode::BAD_REQUEST);
        assert!(
            detail(&problem).contains("`limit`"),
            "limit={limit}: {problem}"
        );
    }
    t.get(
        "/api/v1/workflow-runs/no-such-run/timeline",
        Some(&t.auditor),
    )
    .await
    .problem(StatusCode::NOT_FOUND);
    let path = "/api/v1/workflow-runs/run-9/timeline";
    t.get(path, Some(&t.ingest))
        .await
        .problem(StatusCode::FORBIDDEN);
    t.get(path, None).await.problem(StatusCode::UNAUTHORIZED);
}

/// A causal chain `c-0 <- c-1 <- ... <- c-{depth-1}`, ingested newest first.
async fn ingest_chain(t: &TestApp, trace: &str, depth: usize) {
    let events: Vec<Value> = (0..depth)
        .map(|i| {
            let parent = (i > 0).then(|| format!("c-{}", i - 1));
            ev(
                &format!("c-{i}"),
                trace,
                &format!(
                    "2026-11-23T{:02}:{:02}:{:02}Z",
                    10 + i / 3600,
                    i / 60 % 60,
                    i % 60
                ),
                parent.as_deref(),
            )
        })
        .rev()
        .collect();
    t.ingest_ok(&Value::Array(events)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_deeper_than_the_tree_limit_loses_no_event() {
    let t = TestApp::new().await;
    const DEPTH: usize = 600;
    ingest_chain(&t, "tr-chain", DEPTH).await;
    let reply = t.get("/api/v1/traces/tr-chain", Some(&t.auditor)).await;
    assert_eq!(reply.status, StatusCode::OK);
    // Too deep for serde_json's default parser (see the ignored test below): count
    // in the text. Each event's id is written once in `events` and once in `tree`.
    let text = reply.text();
    for i in 0..DEPTH {
        let needle = format!("\"event_id\":\"c-{i}\"");
        assert_eq!(
            text.matches(&needle).count(),
            2,
            "c-{i} is not exactly once in the events and once in the tree"
        );
    }
    // A chain has no orphan: every parent is in the trace.
    assert!(
        !text.contains("\"orphan\""),
        "no event of a chain is an orphan"
    );
}

/// `evident trace --server` reads this answer with reqwest's `.json()`, i.e. serde_json
/// with its default recursion limit of 128: each tree level costs two levels of JSON
/// (a node and its `children`), so a causal chain of 63 events (an agent whose every
/// step is caused by the previous one) gives an answer it cannot parse (62 is the
/// most that parses). The server cuts the tree only at MAX_TREE_DEPTH = 256 levels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_63_event_chain_parses_with_default_json_limits() {
    let t = TestApp::new().await;
    ingest_chain(&t, "tr-chain", 63).await;
    let reply = t.get("/api/v1/traces/tr-chain", Some(&t.auditor)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let answer: Value = serde_json::from_slice(&reply.body)
        .unwrap_or_else(|e| panic!("the answer must parse with default limits: {e}"));
    assert_eq!(event_ids(&answer).len(), 63);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_62_event_chain_parses_with_default_json_limits() {
    let t = TestApp::new().await;
    ingest_chain(&t, "tr-chain", 62).await;
    let answer = t
        .get("/api/v1/traces/tr-chain", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(event_ids(&answer).len(), 62);
}

/// A timeline longer than its limit says so (`truncated`), at the largest limit too:
/// the answer never passes for the whole run when it is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_past_the_largest_limit_is_marked_truncated() {
    let t = TestApp::new().await;
    let events: Vec<Value> = (0..1_000)
        .map(|i| {
            run_event(
                &format!("r-{i:04}"),
                "run-long",
                &format!("2026-11-23T10:{:02}:{:02}Z", i / 60, i % 60),
            )
        })
        .collect();
    t.ingest_ok(&Value::Array(events)).await;
    let whole = t
        .get("/api/v1/workflow-runs/run-long/timeline", Some(&t.auditor))
        .await
        .ok_json();
    assert_eq!(event_ids(&whole).len(), 1_000);
    assert_eq!(whole["truncated"], json!(false), "exactly the largest page");
    t.ingest_ok(&run_event("r-late", "run-long", "2026-11-23T11:00:00Z"))
        .await;
    for uri in [
        "/api/v1/workflow-runs/run-long/timeline",
        "/api/v1/workflow-runs/run-long/timeline?limit=1000",
    ] {
        let answer = t.get(uri, Some(&t.auditor)).await.ok_json();
        assert_eq!(event_ids(&answer).len(), 1_000, "{uri}");
        assert_eq!(answer["truncated"], json!(true), "{uri}");
    }
    let answer = t
        .get(
            "/api/v1/workflow-runs/run-long/timeline?limit=3",
            Some(&t.auditor),
        )
        .await
        .ok_json();
    assert_eq!(event_ids(&answer), ["r-0000", "r-0001", "r-0002"]);
    assert_eq!(answer["truncated"], json!(true));
}

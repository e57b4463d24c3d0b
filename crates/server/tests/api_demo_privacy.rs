//! The demo's workload through the real HTTP path (CONTRACT section 2, "Identifiers no
//! pattern can see"): the generator declares each run's customer (name and customer
//! id), so no customer name reaches a reader in clear, whether the agent wrote it in a
//! prompt, a tool result, a reason or a comment.

mod common;

use std::collections::BTreeSet;

use common::TestApp;
use serde_json::Value;

#[tokio::test]
async fn no_generated_customer_name_is_shown_in_clear() {
    let t = TestApp::new().await;
    let events = evident_bench::generator::generate(11, 300);
    // The customers' names, as the CRM lookups of the workload answer them.
    let names: BTreeSet<String> = events
        .iter()
        .filter_map(|e| e.pointer("/output/name")?.as_str())
        .map(str::to_owned)
        .collect();
    assert!(
        names.len() >= 5,
        "the workload looks customers up: {names:?}"
    );
    // The generator writes the names into its texts: otherwise this test shows nothing.
    let submitted = Value::Array(events.clone()).to_string();
    assert!(names.iter().any(|name| submitted.contains(name.as_str())));

    for batch in events.chunks(100) {
        t.ingest_ok(&Value::Array(batch.to_vec())).await;
    }

    let mut traces = BTreeSet::new();
    let mut shown = String::new();
    for event in &events {
        let id = event["event_id"]
            .as_str()
            .expect("generated events have ids");
        let reply = t
            .get(&format!("/api/v1/events/{id}"), Some(&t.auditor))
            .await;
        shown.push_str(&reply.ok_json().to_string());
        traces.insert(event["trace_id"].as_str().expect("a trace id").to_owned());
    }
    for trace in &traces {
        let reply = t
            .get(&format!("/api/v1/traces/{trace}"), Some(&t.auditor))
            .await;
        shown.push_str(&reply.ok_json().to_string());
    }
    let shown = shown.to_lowercase();
    for name in &names {
        let (first, last) = name.split_once(' ').expect("First Last");
        for written in [name.clone(), format!("{last}, {first}")] {
            assert!(
                !shown.contains(&written.to_lowercase()),
                "{written:?} is shown in clear"
            );
        }
    }
}

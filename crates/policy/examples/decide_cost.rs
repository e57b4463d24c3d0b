//! The cost of one decision over the `evident bench` decide scenario's rules (100
//! rules over amount bands, every one scoped to `refund`), without the server:
//! `cargo run --release -p evident-policy --example decide_cost [DECISIONS]`.
//! Prints the time per decision; run it under `valgrind --tool=callgrind` for an
//! instruction count that a loaded machine does not blur.

use std::sync::Arc;
use std::time::Instant;

use evident_policy::{compile, ActiveSets, Now, PolicyRequest};
use serde_json::json;

const SCHEMA: &str = r#"entity Agent;
entity Resource;
type Now = {hour: Long, weekday: String, date: String};
action "refund" appliesTo {
  principal: [Agent], resource: [Resource],
  context: {amount: Long, region: String, now: Now}
};
"#;

/// The bench's rules (`crates/bench/src/decide.rs`).
fn policy_text(rules: usize) -> String {
    let mut text = String::new();
    for i in 0..rules {
        let low = i * 1_000;
        let high = low + 1_000;
        let rule = match i % 10 {
            0 => format!("@id(\"band-{i:03}\") @reason(\"band {i} is refused in eu-2\")\nforbid(principal, action == Action::\"refund\", resource) when {{ context.amount >= {low} && context.amount < {high} && context.region == \"eu-2\" }};\n"),
            1 | 2 => format!("@id(\"band-{i:03}\") @reason(\"band {i} needs a human\") @require_approval\npermit(principal, action == Action::\"refund\", resource) when {{ context.amount >= {low} && context.amount < {high} }};\n"),
            _ => format!("@id(\"band-{i:03}\") @reason(\"band {i} is fine\")\npermit(principal, action == Action::\"refund\", resource) when {{ context.amount >= {low} && context.amount < {high} }};\n"),
        };
        text.push_str(&rule);
    }
    text
}

fn main() {
    let decisions: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let now = Now {
        hour: 14,
        weekday: "monday".into(),
        date: "2026-12-07".into(),
    };
    let set = compile("bench", 1, &policy_text(100), SCHEMA, Vec::new(), &now)
        .expect("the bench's rules compile");
    let sets = ActiveSets::new(vec![Arc::new(set)]).expect("one set");
    let requests: Vec<PolicyRequest> = (1..=decisions)
        .map(|n| PolicyRequest {
            agent: "bench-agent-0".into(),
            action: "refund".into(),
            resource: format!("order-0-{n}"),
            context: json!({
                "amount": (n * 7_919) % 100_000,
                "region": if n % 3 == 0 { "eu-2" } else { "us-1" },
            }),
        })
        .collect();
    let started = Instant::now();
    let mut outcomes = std::collections::BTreeMap::new();
    for request in &requests {
        *outcomes
            .entry(sets.decide(request, &now).outcome.as_str())
            .or_insert(0) += 1;
    }
    let elapsed = started.elapsed();
    println!(
        "{decisions} decisions, {:.1} µs each, {outcomes:?}",
        elapsed.as_secs_f64() * 1e6 / decisions as f64
    );
}

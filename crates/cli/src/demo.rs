//! Sample agent runs for `evident serve --demo`: refund, support and research agents
//! doing realistic work (model calls, tool calls and results, retrievals, decisions,
//! guardrails, human reviews, external actions), deterministic for a seed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const AGENTS: &[(&str, &str, &str)] = &[
    ("refund-agent", "gpt-4o-2024-08-06", "refund-triage@v7"),
    ("support-agent", "claude-sonnet-4-5", "support-reply@v12"),
    ("kyc-agent", "gemini-2.5-pro", "kyc-review@v3"),
];

const CUSTOMERS: &[&str] = &[
    "maria.gonzalez@example.com",
    "li.wei@example.org",
    "john.smith@example.net",
    "amara.okafor@example.com",
];

/// `runs` agent runs of 4–9 events each, as client events.
pub fn generate(seed: u64, runs: usize) -> Vec<Value> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut events = Vec::new();
    let base = time_base();
    for run in 0..runs {
        let (agent, model, prompt) = AGENTS[run % AGENTS.len()];
        let customer = CUSTOMERS[rng.gen_range(0..CUSTOMERS.len())];
        let trace = format!("demo-trace-{run:04}");
        let job = format!("job-{run:04}");
        let case = format!("case-{}", 1000 + run % 7);
        let mut t = base + i64::try_from(run).unwrap_or(0) * 90;
        let mut next = |kind: &str, parent: Option<&str>, extra: Value| {
            t += rng.gen_range(1..5);
            let mut event = json!({
                "event_id": format!("{trace}-{kind}-{}", events.len()),
                "trace_id": trace,
                "parent_event_id": parent,
                "timestamp": timestamp(t),
                "actor": {"type": "agent", "id": agent, "run_id": format!("run-{run}"), "version": "1.4.2", "environment": "production"},
                "event_type": kind,
                "context": {"case_id": case, "job_id": job, "workflow_run_id": format!("wf-{run}"), "subject": customer},
                "snapshot": {"model": model, "prompt_version": prompt, "policy_snapshot": "refunds@3"},
            });
            if let (Value::Object(target), Value::Object(more)) = (&mut event, extra) {
                target.extend(more);
            }
            let event_id = event["event_id"].as_str().unwrap_or_default().to_owned();
            events.push(event);
            event_id
        };
        let root = next(
            "agent_run",
            None,
            json!({"input": {"task": format!("Handle the request of {customer}")}, "outcome": "success"}),
        );
        next(
            "retrieval",
            Some(&root),
            json!({"input": {"query": "refund policy for damaged goods"}, "output": {"documents": ["Refunds up to 500 EUR are automatic.", "Damaged goods: photo required."]}}),
        );
        let call = next(
            "model_call",
            Some(&root),
            json!({
                "input": {"messages": [{"role": "user", "content": format!("My order arrived broken, please refund me. Contact me at {customer} or +44 20 7946 0958.")}]},
                "output": {"message": {"role": "assistant", "content": "I can refund the damaged item."}},
                "metadata": {"input_tokens": 812, "output_tokens": 64, "latency_ms": 1430, "cost_usd": 0.0061}
            }),
        );
        let tool = next(
            "tool_call",
            Some(&call),
            json!({"tool": {"name": "issue_refund", "call_id": format!("call-{run}"), "type": "function", "version": "2"}, "input": {"order": format!("ORD-{}", 50000 + run), "amount_cents": 4599}}),
        );
        next(
            "tool_result",
            Some(&tool),
            json!({"tool": {"name": "issue_refund", "call_id": format!("call-{run}")}, "output": {"status": "ok"}, "outcome": "success"}),
        );
        next(
            "guardrail",
            Some(&root),
            json!({"output_safety": {"decision": "release", "rule_id": "pii-outbound"}}),
        );
        if run % 3 == 0 {
            next(
                "human_review",
                Some(&root),
                json!({"approval": {"resolution": "approved", "resolved_by": "maria.chen", "method": "console", "comment": "photo checks out"}}),
            );
        }
        next(
            "external_action",
            Some(&root),
            json!({"input": {"action": "send_email", "template": "refund-confirmation"}, "outcome": "success"}),
        );
    }
    events
}

fn time_base() -> i64 {
    // 2026-11-23T09:00:00Z
    1_795_424_400
}

fn timestamp(unix: i64) -> String {
    let t = time_from_unix(unix);
    evident_core::time::format_utc_micros(t)
}

fn time_from_unix(unix: i64) -> ::time::OffsetDateTime {
    ::time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(::time::OffsetDateTime::UNIX_EPOCH)
}

//! The `decide` scenario: `POST /api/v1/decide` from concurrent clients against a set
//! of active rules, with no other load (CONTRACT section 6; the target is p99 under
//! 5 ms with 16 clients and 100 rules). Every answer counted is a 200 carrying a
//! decision, which the server gives only once the `policy_decision` event is
//! durable; any other answer fails the scenario (decisions are never dropped).

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};

use super::ingest::Target;
use super::report::{latency_json, Samples};

/// The scenario's shape.
pub struct DecidePhase {
    pub clients: usize,
    pub rules: usize,
    pub duration: Duration,
}

const SCHEMA: &str = r#"entity Agent;
entity Resource;
type Now = {hour: Long, weekday: String, date: String};
action "refund" appliesTo {
  principal: [Agent], resource: [Resource],
  context: {amount: Long, region: String, now: Now}
};
"#;

/// `rules` rules over amount bands and regions: permits, `@require_approval`
/// permits and forbids, so decisions of every outcome are made.
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

/// Publishes the rules, then runs the clients for the phase's duration.
///
/// # Errors
/// The publish was refused, or any decision was not a 200 with a decision.
pub async fn run(target: &Target, phase: &DecidePhase) -> anyhow::Result<Value> {
    let published = target
        .client
        .post(target.url("/api/v1/policies"))
        .bearer_auth(&target.key)
        .json(&json!({"id": "bench", "text": policy_text(phase.rules), "schema": SCHEMA}))
        .send()
        .await
        .context("publishing the bench's policy set")?;
    anyhow::ensure!(
        published.status().is_success(),
        "publishing the bench's policy set: {}",
        published.text().await.unwrap_or_default()
    );
    let bar = crate::progress_bar(phase.duration.as_secs(), "decide");
    let started = Instant::now();
    let deadline = started + phase.duration;
    let mut tasks = Vec::new();
    for client in 0..phase.clients {
        let target = target.clone();
        let max_amount = phase.rules * 1_000;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut outcomes = [0u64; 3];
            let mut n: usize = 0;
            while Instant::now() < deadline {
                n += 1;
                let amount = (n * 7_919 + client * 104_729) % max_amount.max(1);
                let region = if n.is_multiple_of(3) { "eu-2" } else { "us-1" };
                let body = json!({
                    "agent": format!("bench-agent-{client}"), "action": "refund",
                    "resource": format!("order-{client}-{n}"),
                    "context": {"amount": amount, "region": region},
                    "payload": {"order": format!("order-{client}-{n}"), "amount": amount},
                    "job_id": format!("bench-job-{client}-{n}"),
                });
                let sent = Instant::now();
                let response = target
                    .client
                    .post(target.url("/api/v1/decide"))
                    .bearer_auth(&target.key)
                    .json(&body)
                    .send()
                    .await
                    .context("POST /api/v1/decide")?;
                let status = response.status();
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                latencies.push(sent.elapsed());
                anyhow::ensure!(
                    status.is_success() && answer["event_id"].is_string(),
                    "a decision was not recorded ({status}): {answer}"
                );
                match answer["decision"].as_str() {
                    Some("ALLOW") => outcomes[0] += 1,
                    Some("DENY") => outcomes[1] += 1,
                    Some("REQUIRE_APPROVAL") => outcomes[2] += 1,
                    other => anyhow::bail!("not a decision: {other:?}"),
                }
            }
            Ok::<_, anyhow::Error>((latencies, outcomes))
        }));
    }
    let ticker = {
        let bar = bar.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                bar.inc(1);
            }
        })
    };
    let mut latencies = Vec::new();
    let mut outcomes = [0u64; 3];
    for task in tasks {
        let (mut mine, counts) = task.await??;
        latencies.append(&mut mine);
        for (total, count) in outcomes.iter_mut().zip(counts) {
            *total += count;
        }
    }
    ticker.abort();
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let decisions = latencies.len();
    Ok(json!({
        "clients": phase.clients,
        "rules": phase.rules,
        "decisions": decisions,
        "seconds": seconds,
        "decisions_per_second": decisions as f64 / seconds,
        "outcomes": {"ALLOW": outcomes[0], "DENY": outcomes[1], "REQUIRE_APPROVAL": outcomes[2]},
        "latency_ms": latency_json(Samples::new(latencies)),
    }))
}

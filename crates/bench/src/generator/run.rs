//! One agent run: its plan of steps and the events each step writes.

use serde_json::{json, Value};

use super::rng::Rng;
use super::text::{sentence_text, spread_text, timestamp, with_pii};
use super::world::{Agent, CHANNELS, REVIEWERS, TARGETS};
use super::{Params, MAX_RUN_EVENTS, MIN_RUN_EVENTS};

/// A job some later run may follow up.
#[derive(Clone)]
pub(super) struct Job {
    pub(super) job_id: String,
    pub(super) case_id: String,
    pub(super) subject: String,
}

/// Where a run stands while it is generated.
pub(super) struct RunState<'a> {
    pub(super) agent: &'a Agent,
    pub(super) trace_id: String,
    pub(super) run_id: String,
    pub(super) job: Job,
    pub(super) workflow_run_id: String,
    pub(super) environment: &'static str,
    pub(super) correlation_ids: Vec<String>,
    pub(super) customer: String,
    pub(super) step: usize,
    pub(super) now_ms: i64,
    pub(super) events: Vec<(i64, Value)>,
}

/// What the run does after its root, before its tail.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Step {
    /// Two in a row are a fan-out: both hang off the same model call.
    ToolCall,
    ToolResult,
    Retrieval,
    ModelCall,
    Decision,
    Guardrail,
    HumanReview,
    ExternalAction,
}

/// The steps of a run of `total` events (root included).
fn plan(rng: &mut Rng, total: usize) -> Vec<Step> {
    let after_root = total - 1;
    let mut tail = vec![Step::Decision];
    if rng.chance(0.5) {
        tail.push(Step::Guardrail);
    }
    if rng.chance(0.3) {
        tail.push(Step::HumanReview);
    }
    if rng.chance(0.8) {
        tail.push(Step::ExternalAction);
    }
    // Keep at least a model call before the tail.
    tail.truncate(after_root.saturating_sub(1).max(1));
    let mut head = vec![Step::ModelCall];
    while head.len() + tail.len() < after_root {
        let u = rng.unit();
        if u < 0.2 {
            head.extend([
                Step::ToolCall,
                Step::ToolCall,
                Step::ToolResult,
                Step::ToolResult,
                Step::ModelCall,
            ]);
        } else if u < 0.7 {
            head.extend([Step::ToolCall, Step::ToolResult, Step::ModelCall]);
        } else {
            head.extend([Step::Retrieval, Step::ModelCall]);
        }
    }
    head.truncate(after_root - tail.len());
    head.extend(tail);
    head
}

pub(super) fn generate_run(
    rng: &mut Rng,
    params: &Params,
    mut run: RunState<'_>,
) -> Vec<(i64, Value)> {
    let total = rng.range(MIN_RUN_EVENTS, MAX_RUN_EVENTS);
    let steps = plan(rng, total);
    let root = root_event(rng, params, &mut run);
    let mut last_model = root.clone();
    let mut previous = root.clone();
    let mut open_calls: Vec<(String, &'static str, String)> = Vec::new();
    let mut action: &'static str = "escalate";
    for step in steps {
        run.now_ms += i64::try_from(rng.range(2, 40)).unwrap_or(2);
        previous = match step {
            Step::ModelCall => {
                let id = model_call(rng, params, &mut run, &previous);
                last_model = id.clone();
                id
            }
            Step::ToolCall => {
                let (call, tool, call_id) = tool_call(rng, params, &mut run, &last_model);
                open_calls.push((call.clone(), tool, call_id));
                call
            }
            Step::ToolResult => {
                let (call, tool, call_id) = if open_calls.is_empty() {
                    (
                        previous.clone(),
                        *rng.pick(&run.agent.domain.tools),
                        format!("call_{}", rng.hex(12)),
                    )
                } else {
                    open_calls.remove(0)
                };
                tool_result(rng, params, &mut run, &call, tool, &call_id)
            }
            Step::Retrieval => retrieval(rng, params, &mut run, &last_model),
            Step::Decision => {
                action = *rng.pick(run.agent.domain.actions);
                decision(rng, params, &mut run, &last_model, action)
            }
            Step::Guardrail => guardrail(rng, params, &mut run, &previous, action),
            Step::HumanReview => human_review(rng, params, &mut run, &previous, action),
            Step::ExternalAction => external_action(rng, params, &mut run, &previous, action),
        };
    }
    run.events
}

/// The fields every event of the run shares; returns the event with `event_id` set.
fn envelope(
    rng: &mut Rng,
    run: &mut RunState<'_>,
    event_type: &str,
    parent: Option<&str>,
    actor: Value,
) -> Value {
    run.step += 1;
    let agent = run.agent;
    let event_id = format!("evt_{}", rng.ulid(run.now_ms));
    json!({
        "event_id": event_id,
        "trace_id": run.trace_id,
        "parent_event_id": parent,
        "timestamp": timestamp(run.now_ms),
        "actor": actor,
        "event_type": event_type,
        "context": {
            "case_id": run.job.case_id,
            "job_id": run.job.job_id,
            "workflow_run_id": run.workflow_run_id,
            "workflow_step_id": format!("step-{:02}-{event_type}", run.step),
            "subject": run.job.subject,
            // What identifies the customer in the text: declared, so the name is
            // tokenized wherever the agent writes it (CONTRACT section 2).
            "subject_identifiers": {"name": run.customer, "customer_id": run.job.subject},
            "correlation_ids": run.correlation_ids,
        },
        "snapshot": {
            "model": agent.model,
            "model_params": {"temperature": agent.temperature, "max_tokens": agent.max_tokens},
            "prompt_version": agent.prompt_version,
            "tool_versions": agent.tool_versions,
            "retrieval_index_version": agent.retrieval_index_version,
            "policy_snapshot": agent.policy_snapshot,
            "workflow_version": agent.workflow_version,
        },
    })
}

fn agent_actor(run: &RunState<'_>) -> Value {
    json!({
        "type": "agent",
        "id": run.agent.id,
        "run_id": run.run_id,
        "version": run.agent.version,
        "environment": run.environment,
    })
}

/// Records `event` (with `fields` merged in) at the run's clock; returns its id.
fn emit(run: &mut RunState<'_>, mut event: Value, fields: Value) -> String {
    if let (Value::Object(target), Value::Object(more)) = (&mut event, fields) {
        target.extend(more);
    }
    let id = event["event_id"].as_str().unwrap_or_default().to_owned();
    run.events.push((run.now_ms, event));
    id
}

fn root_event(rng: &mut Rng, params: &Params, run: &mut RunState<'_>) -> String {
    let channel = *rng.pick(CHANNELS);
    let actor = agent_actor(run);
    let event = envelope(rng, run, "agent_run", None, actor);
    let mut request = format!(
        "[{channel}] Customer {} ({}) {}. {}",
        run.customer,
        run.job.subject,
        run.agent.domain.request,
        spread_text(rng, 320)
    );
    with_pii(rng, params.pii_share, &run.customer, &mut request);
    emit(
        run,
        event,
        json!({
            "input": {"channel": channel, "request": request},
            "metadata": {"trigger": channel},
            "outcome": "success",
        }),
    )
}

fn model_call(rng: &mut Rng, params: &Params, run: &mut RunState<'_>, parent: &str) -> String {
    let actor = agent_actor(run);
    let event = envelope(rng, run, "model_call", Some(parent), actor);
    let mut user = format!("Context so far: {}", spread_text(rng, 130));
    with_pii(rng, params.pii_share, &run.customer, &mut user);
    let reply = spread_text(rng, 120);
    let input_tokens = (run.agent.system_prompt.len() + user.len()) / 4;
    let output_tokens = reply.len() / 4 + 1;
    let latency = 250 + rng.size(900);
    let cost = (input_tokens as f64 * run.agent.price_in
        + output_tokens as f64 * run.agent.price_out)
        * 1e6;
    let finish = if rng.chance(0.7) {
        "tool_calls"
    } else {
        "stop"
    };
    let id = emit(
        run,
        event,
        json!({
            "input": {"messages": [
                {"role": "system", "content": run.agent.system_prompt},
                {"role": "user", "content": user},
            ]},
            "output": {"role": "assistant", "content": reply, "finish_reason": finish},
            "metadata": {
                "input_tokens": input_tokens,
                "output_tokens": output_tokens,
                "latency_ms": latency,
                "cost_usd": cost.round() / 1e6,
            },
            "outcome": "success",
        }),
    );
    run.now_ms += i64::try_from(latency).unwrap_or(0);
    id
}

fn tool_call(
    rng: &mut Rng,
    params: &Params,
    run: &mut RunState<'_>,
    parent: &str,
) -> (String, &'static str, String) {
    let tool = *rng.pick(&run.agent.domain.tools);
    let call_id = format!("call_{}", rng.hex(12));
    let actor = agent_actor(run);
    let event = envelope(rng, run, "tool_call", Some(parent), actor);
    let mut query = spread_text(rng, 90);
    with_pii(rng, params.pii_share, &run.customer, &mut query);
    let version = run.agent.tool_versions[tool].clone();
    let id = emit(
        run,
        event,
        json!({
            "tool": {"name": tool, "call_id": call_id, "type": "function", "version": version},
            "input": {"arguments": {"customer_id": run.job.subject, "query": query}},
            "metadata": {"latency_ms": rng.range(1, 5)},
        }),
    );
    run.now_ms += i64::try_from(rng.range(0, 3)).unwrap_or(0);
    (id, tool, call_id)
}

fn tool_result(
    rng: &mut Rng,
    params: &Params,
    run: &mut RunState<'_>,
    parent: &str,
    tool: &'static str,
    call_id: &str,
) -> String {
    let latency = 20 + rng.size(250);
    run.now_ms += i64::try_from(latency).unwrap_or(0);
    let actor = agent_actor(run);
    let event = envelope(rng, run, "tool_result", Some(parent), actor);
    let tool_field = json!({"name": tool, "call_id": call_id, "type": "function"});
    if rng.chance(0.03) {
        let kind = *rng.pick(&["timeout", "http_503", "schema_mismatch"]);
        let message = format!("{tool} failed: {}", sentence_text(rng, 60));
        return emit(
            run,
            event,
            json!({
                "tool": tool_field,
                "metadata": {"latency_ms": latency},
                "outcome": "error",
                "error": {"kind": kind, "message": message},
            }),
        );
    }
    let mut notes = spread_text(rng, 170);
    with_pii(rng, params.pii_share, &run.customer, &mut notes);
    let mut output = json!({"customer_id": run.job.subject, "name": run.customer, "notes": notes});
    if rng.chance(0.35) {
        let records: Vec<Value> = (0..rng.range(1, 8))
            .map(|_| {
                json!({
                    "id": format!("rec_{}", rng.range(1, 10_000_000)),
                    "amount_cents": rng.range(500, 500_000),
                    "currency": *rng.pick(&["EUR", "USD", "GBP"]),
                    "date": timestamp(run.now_ms - i64::try_from(rng.range(1, 400)).unwrap_or(1) * 86_400_000)[..10].to_owned(),
                    "status": *rng.pick(&["open", "paid", "disputed", "closed"]),
                })
            })
            .collect();
        output["records"] = Value::Array(records);
    }
    // The tail: a statement, contract or report pulled in whole.
    if rng.chance(0.04) {
        let bytes = rng.range(4_000, 15_500);
        output["document"] = Value::String(sentence_text(rng, bytes));
    }
    emit(
        run,
        event,
        json!({
            "tool": tool_field,
            "output": output,
            "metadata": {"latency_ms": latency},
            "outcome": "success",
        }),
    )
}

fn retrieval(rng: &mut Rng, params: &Params, run: &mut RunState<'_>, parent: &str) -> String {
    let latency = 15 + rng.size(60);
    let actor = agent_actor(run);
    let event = envelope(rng, run, "retrieval", Some(parent), actor);
    let mut query = spread_text(rng, 70);
    with_pii(rng, params.pii_share, &run.customer, &mut query);
    let documents: Vec<Value> = (0..rng.range(2, 4))
        .map(|_| {
            json!({
                "doc_id": format!("kb_{:06}#{}", rng.range(1, 50_000), rng.range(0, 40)),
                "score": (rng.range(5_000, 9_900) as f64) / 10_000.0,
                "text": spread_text(rng, 100),
            })
        })
        .collect();
    let id = emit(
        run,
        event,
        json!({
            "input": {"query": query, "index": run.agent.retrieval_index_version, "top_k": 5},
            "output": {"documents": documents},
            "metadata": {"latency_ms": latency},
            "outcome": "success",
        }),
    );
    run.now_ms += i64::try_from(latency).unwrap_or(0);
    id
}

fn decision(
    rng: &mut Rng,
    params: &Params,
    run: &mut RunState<'_>,
    parent: &str,
    action: &'static str,
) -> String {
    let actor = agent_actor(run);
    let event = envelope(rng, run, "decision", Some(parent), actor);
    let mut reason = format!("{action}: {}", spread_text(rng, 160));
    with_pii(rng, params.pii_share, &run.customer, &mut reason);
    let rule = format!("{}-{:03}", run.agent.domain.policy, rng.range(1, 60));
    let outcome = if action == "escalate" || action == "manual_review" {
        "escalated"
    } else {
        "success"
    };
    emit(
        run,
        event,
        json!({
            "decision": {
                "action": action,
                "reason": reason,
                "policy_rule_id": rule,
                "threshold": (rng.range(50, 95) as f64) / 100.0,
                "data_refs": [parent],
            },
            "output": {"action": action, "confidence": (rng.range(550, 990) as f64) / 1000.0},
            "metadata": {"latency_ms": rng.range(1, 20)},
            "outcome": outcome,
        }),
    )
}

fn guardrail(
    rng: &mut Rng,
    params: &Params,
    run: &mut RunState<'_>,
    parent: &str,
    action: &'static str,
) -> String {
    let actor = json!({"type": "system", "id": "guardrails", "version": "2.3.0", "environment": run.environment});
    let event = envelope(rng, run, "guardrail", Some(parent), actor);
    let verdict = *rng.pick(&["release", "release", "release", "redact", "quarantine"]);
    let check = *rng.pick(&[
        "pii-outbound",
        "toxicity",
        "policy-limit",
        "prompt-injection",
    ]);
    let mut excerpt = spread_text(rng, 120);
    with_pii(rng, params.pii_share, &run.customer, &mut excerpt);
    emit(
        run,
        event,
        json!({
            "input": {"intended_action": action, "excerpt": excerpt},
            "output": {"verdict": verdict, "checks": [check]},
            "output_safety": {"decision": verdict, "rule_id": check},
            "metadata": {"latency_ms": rng.range(1, 8)},
            "outcome": "success",
        }),
    )
}

fn human_review(
    rng: &mut Rng,
    params: &Params,
    run: &mut RunState<'_>,
    parent: &str,
    action: &'static str,
) -> String {
    // A person takes a minute to a quarter of an hour.
    let wait_ms = 30_000 + rng.size(120_000);
    run.now_ms += i64::try_from(wait_ms).unwrap_or(0);
    let reviewer = *rng.pick(REVIEWERS);
    let actor = json!({"type": "user", "id": reviewer, "environment": run.environment});
    let event = envelope(rng, run, "human_review", Some(parent), actor);
    let resolution = *rng.pick(&["approved", "approved", "approved", "edited", "rejected"]);
    let mut comment = spread_text(rng, 120);
    with_pii(rng, params.pii_share, &run.customer, &mut comment);
    let outcome = if resolution == "rejected" {
        "escalated"
    } else {
        "success"
    };
    emit(
        run,
        event,
        json!({
            "input": {"proposed_action": action},
            "approval": {
                "resolution": resolution,
                "resolved_by": reviewer,
                "method": *rng.pick(&["console", "slack", "email"]),
                "comment": comment,
            },
            "metadata": {"latency_ms": wait_ms},
            "outcome": outcome,
        }),
    )
}

fn external_action(
    rng: &mut Rng,
    params: &Params,
    run: &mut RunState<'_>,
    parent: &str,
    action: &'static str,
) -> String {
    let latency = 40 + rng.size(300);
    let actor = agent_actor(run);
    let event = envelope(rng, run, "external_action", Some(parent), actor);
    let mut note = spread_text(rng, 110);
    with_pii(rng, params.pii_share, &run.customer, &mut note);
    let failed = rng.chance(0.02);
    let reference = format!("ext_{}", rng.hex(12));
    let mut fields = json!({
        "input": {
            "action": action,
            "target": *rng.pick(TARGETS),
            "payload": {
                "customer_id": run.job.subject,
                "amount_cents": rng.range(100, 250_000),
                "note": note,
            },
        },
        "output": {"status": if failed { 502 } else { 200 }, "external_ref": reference},
        "metadata": {"latency_ms": latency},
        "outcome": if failed { "error" } else { "success" },
    });
    if failed {
        fields["error"] = json!({"kind": "http_502", "message": "upstream returned 502"});
    }
    let id = emit(run, event, fields);
    run.now_ms += i64::try_from(latency).unwrap_or(0);
    id
}

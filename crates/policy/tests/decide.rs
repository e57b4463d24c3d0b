//! Sets compiled and decided through the crate's public API (CONTRACT section 6).

use std::sync::Arc;

use evident_policy::{compile, ActiveSets, Now, Outcome, PolicyError, PolicyRequest, TestCase};
use proptest::prelude::*;
use serde_json::{json, Value};

const SCHEMA: &str = r#"
entity Agent;
entity Resource;
type Now = {hour: Long, weekday: String, date: String};
action "refund" appliesTo {
  principal: [Agent], resource: [Resource],
  context: {amount: Long, now: Now}
};
action "read" appliesTo { principal: [Agent], resource: [Resource], context: {now: Now} };
"#;

const REFUNDS: &str = r#"
@id("refund-small") @reason("small refunds are fine")
permit(principal, action == Action::"refund", resource) when { context.amount <= 10000 };

@id("refund-large") @reason("large refunds need a human") @require_approval
permit(principal, action == Action::"refund", resource) when { context.amount > 10000 };

@id("refund-huge") @reason("never above 1M")
forbid(principal, action == Action::"refund", resource) when { context.amount > 100000000 };
"#;

fn now() -> Now {
    Now {
        hour: 14,
        weekday: "monday".into(),
        date: "2026-12-07".into(),
    }
}

fn request(action: &str, context: Value) -> PolicyRequest {
    PolicyRequest {
        agent: "bot".into(),
        action: action.into(),
        resource: "order-1".into(),
        context,
    }
}

fn active(sets: Vec<evident_policy::CompiledSet>) -> ActiveSets {
    ActiveSets::new(sets.into_iter().map(Arc::new).collect()).unwrap()
}

fn refunds() -> evident_policy::CompiledSet {
    compile("refunds", 1, REFUNDS, SCHEMA, Vec::new(), &now()).unwrap()
}

#[test]
fn outcomes_follow_contract_rules() {
    let sets = active(vec![refunds()]);
    let allow = sets.decide(&request("refund", json!({"amount": 500})), &now());
    assert_eq!(allow.outcome, Outcome::Allow);
    assert_eq!(allow.policy_rule_id.as_deref(), Some("refund-small"));
    assert_eq!(allow.reason.as_deref(), Some("small refunds are fine"));

    let approval = sets.decide(&request("refund", json!({"amount": 50000})), &now());
    assert_eq!(approval.outcome, Outcome::RequireApproval);
    assert_eq!(approval.policy_rule_id.as_deref(), Some("refund-large"));

    let deny = sets.decide(&request("refund", json!({"amount": 200000000})), &now());
    assert_eq!(deny.outcome, Outcome::Deny);
    assert_eq!(deny.policy_rule_id.as_deref(), Some("refund-huge"));
    assert_eq!(deny.determining.len(), 1);

    let default = sets.decide(&request("read", json!({})), &now());
    assert_eq!(default.outcome, Outcome::Deny);
    assert_eq!(default.policy_rule_id, None);
    assert!(default.determining.is_empty());
}

#[test]
fn determining_lists_every_satisfied_rule_smallest_id_first() {
    let text = r#"
@id("b-permit") @reason("b") permit(principal, action == Action::"read", resource);
@id("a-permit") @reason("a") permit(principal, action == Action::"read", resource) when { context.now.hour < 20 };
"#;
    let sets = active(vec![
        compile("reads", 1, text, SCHEMA, Vec::new(), &now()).unwrap()
    ]);
    let decision = sets.decide(&request("read", json!({})), &now());
    assert_eq!(decision.outcome, Outcome::Allow);
    let ids: Vec<_> = decision
        .determining
        .iter()
        .map(|d| d.rule_id.as_str())
        .collect();
    assert_eq!(ids, ["a-permit", "b-permit"]);
    assert_eq!(decision.policy_rule_id.as_deref(), Some("a-permit"));
    assert_eq!(decision.reason.as_deref(), Some("a"));
}

#[test]
fn evaluation_error_is_deny_even_when_a_permit_holds() {
    // Forbid errors (no `amount` in a read's context); Cedar alone would skip it and
    // allow through the permit.
    let text = r#"
@id("read-ok") permit(principal, action, resource);
@id("amount-cap") forbid(principal, action, resource) when { context has amount && context.amount > 5 };
@id("bad") forbid(principal, action == Action::"refund", resource) when { context.amount > 5 };
"#;
    let sets = active(vec![
        compile("s", 1, text, SCHEMA, Vec::new(), &now()).unwrap()
    ]);
    let decision = sets.decide(&request("refund", json!({"amount": "lots"})), &now());
    assert_eq!(decision.outcome, Outcome::Deny);
    assert!(decision.errored);
    assert!(decision.reason.unwrap().contains("evaluation error"));
}

#[test]
fn floats_and_huge_numbers_are_deny_not_panic() {
    let sets = active(vec![refunds()]);
    for context in [
        json!({"amount": 12.5}),
        json!({"amount": 1e300}),
        json!({"amount": u64::MAX}),
    ] {
        let decision = sets.decide(&request("refund", context), &now());
        assert_eq!(decision.outcome, Outcome::Deny);
        assert!(decision.errored, "{decision:?}");
    }
}

#[test]
fn parse_error_names_the_line() {
    let text = "@id(\"a\") permit(principal, action, resource);\n\n@id(\"b\") permit(principal, action resource);\n";
    let error = compile("s", 1, text, SCHEMA, Vec::new(), &now()).unwrap_err();
    assert_eq!(error.field(), "text");
    assert!(
        matches!(error, PolicyError::Text { line: Some(3), .. }),
        "{error:?}"
    );
    assert!(error.to_string().starts_with("line 3"), "{error}");
}

#[test]
fn validation_against_the_schema_is_strict() {
    let text = "@id(\"a\")\npermit(principal, action == Action::\"refund\", resource)\n  when { context.amonut > 5 };\n";
    let error = compile("s", 1, text, SCHEMA, Vec::new(), &now()).unwrap_err();
    assert!(
        matches!(error, PolicyError::Validation { line: Some(3), .. }),
        "{error:?}"
    );
    let error = compile(
        "s",
        1,
        "@id(\"a\") permit(principal, action, resource);",
        "entity Agent",
        Vec::new(),
        &now(),
    )
    .unwrap_err();
    assert_eq!(error.field(), "schema");
}

#[test]
fn annotations_are_checked() {
    let missing = compile(
        "s",
        1,
        "permit(principal, action, resource);",
        SCHEMA,
        Vec::new(),
        &now(),
    )
    .unwrap_err();
    assert!(
        matches!(missing, PolicyError::Annotation { line: Some(1), .. }),
        "{missing:?}"
    );
    let forbid = compile(
        "s",
        1,
        "@id(\"x\") @require_approval forbid(principal, action, resource);",
        SCHEMA,
        Vec::new(),
        &now(),
    )
    .unwrap_err();
    assert!(forbid.to_string().contains("only for a permit"));
    let twice = compile("s", 1, "@id(\"x\") permit(principal, action, resource);\n@id(\"x\") permit(principal, action, resource);", SCHEMA, Vec::new(), &now()).unwrap_err();
    assert!(
        matches!(twice, PolicyError::Annotation { line: Some(2), .. }),
        "{twice:?}"
    );
    let template = compile(
        "s",
        1,
        "@id(\"x\") permit(principal == ?principal, action, resource);",
        SCHEMA,
        Vec::new(),
        &now(),
    )
    .unwrap_err();
    assert_eq!(template.field(), "text");
}

#[test]
fn rule_ids_are_unique_across_sets() {
    let other = compile(
        "other",
        1,
        "@id(\"refund-small\") permit(principal, action, resource);",
        SCHEMA,
        Vec::new(),
        &now(),
    )
    .unwrap();
    let error = ActiveSets::new(vec![Arc::new(refunds()), Arc::new(other)]).unwrap_err();
    assert!(matches!(error, PolicyError::DuplicateRuleId { .. }));
}

#[test]
fn test_cases_run_at_compile() {
    let passing = TestCase {
        request: request("refund", json!({"amount": 500})),
        expect: Outcome::Allow,
        now: None,
    };
    compile("refunds", 1, REFUNDS, SCHEMA, vec![passing.clone()], &now()).unwrap();
    let failing = TestCase {
        expect: Outcome::Deny,
        ..passing
    };
    let error = compile("refunds", 1, REFUNDS, SCHEMA, vec![failing], &now()).unwrap_err();
    assert_eq!(error.field(), "tests");
    assert!(
        error.to_string().contains("expected DENY, got ALLOW"),
        "{error}"
    );
}

#[test]
fn snapshot_changes_with_version_and_text() {
    let one = active(vec![refunds()]);
    let two = active(vec![compile(
        "refunds",
        2,
        REFUNDS,
        SCHEMA,
        Vec::new(),
        &now(),
    )
    .unwrap()]);
    assert_ne!(one.snapshot(), two.snapshot());
    assert!(one.snapshot().starts_with("sha256:"));
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<bool>().prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
        Just(Value::Null),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Whatever else the context holds, an amount over the cap is never ALLOW (and
    /// nothing panics).
    #[test]
    fn a_satisfied_forbid_is_never_overridden(extra in prop::collection::btree_map("[a-z]{1,6}", json_value(), 0..5), amount in 100000001i64..i64::MAX) {
        let sets = active(vec![refunds()]);
        let mut context: serde_json::Map<String, Value> = extra.into_iter().collect();
        context.insert("amount".into(), Value::from(amount));
        let decision = sets.decide(&request("refund", Value::Object(context)), &now());
        prop_assert_eq!(decision.outcome, Outcome::Deny);
    }

    #[test]
    fn random_contexts_never_panic(context in json_value()) {
        let sets = active(vec![refunds()]);
        let decision = sets.decide(&request("refund", context.clone()), &now());
        if let Some(amount) = context.get("amount").and_then(Value::as_i64) {
            if amount > 100000000 { prop_assert_eq!(decision.outcome, Outcome::Deny); }
        }
    }
}

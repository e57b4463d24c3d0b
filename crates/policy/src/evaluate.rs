//! Decisions over the active sets, with CONTRACT section 6's outcome rules.
//!
//! Each set is evaluated by Cedar's authorizer on its own (a set's rule ids are its
//! Cedar policy ids); the sets' answers are combined exactly as Cedar combines
//! policies: any satisfied `forbid` denies, else any satisfied `permit` allows. Then
//! Evident's layer: a satisfied `@require_approval` permit turns ALLOW into
//! REQUIRE_APPROVAL, and any evaluation error anywhere is DENY (Cedar itself skips an
//! erroring policy, which for a `forbid` would be an ALLOW on error: never here).
//!
//! At run time requests are not typed by the sets' schemas (each set has its own,
//! and one set's schema need not declare another set's actions); the schemas did
//! their work at publish, where strict validation proved the rules type-correct for
//! the requests they describe. A request that does not fit (a missing attribute, a
//! string where a number is compared) makes its rule fail to evaluate, which is DENY.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr as _;
use std::sync::Arc;

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, EntityId, EntityTypeName, EntityUid,
    Request, RestrictedExpression,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::set::{CompiledSet, PolicyError, RuleInfo};
use crate::snapshot::{snapshot_of, SetVersion};

/// A decision's outcome (CONTRACT section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    Allow,
    Deny,
    RequireApproval,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "ALLOW",
            Self::Deny => "DENY",
            Self::RequireApproval => "REQUIRE_APPROVAL",
        }
    }

    /// Parses `ALLOW`, `DENY` or `REQUIRE_APPROVAL`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ALLOW" => Some(Self::Allow),
            "DENY" => Some(Self::Deny),
            "REQUIRE_APPROVAL" => Some(Self::RequireApproval),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The moment of a request as policies see it: `context.now` (CONTRACT section 6),
/// in the server's configured time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Now {
    /// 0 to 23.
    pub hour: u8,
    /// Lowercase English day name: `monday` ... `sunday`.
    pub weekday: String,
    /// `YYYY-MM-DD`.
    pub date: String,
}

/// What is decided: principal `Agent::"<agent>"`, action `Action::"<action>"`,
/// resource `Resource::"<resource>"`, and the context (a JSON object; `now` is
/// added by the evaluator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    pub agent: String,
    pub action: String,
    pub resource: String,
    #[serde(default = "empty_object")]
    pub context: Value,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// A rule that decided the outcome, with its `@reason` (or, for a rule that failed
/// to evaluate, the error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Determining {
    pub rule_id: String,
    pub reason: Option<String>,
}

/// A decision (CONTRACT section 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// The smallest id among [`Decision::determining`]; `None` for a default deny.
    pub policy_rule_id: Option<String>,
    /// That rule's `@reason`, or the error that made the decision a DENY.
    pub reason: Option<String>,
    /// Every rule that decided the outcome, by id.
    pub determining: Vec<Determining>,
    /// Whether an error (evaluation, or a request Cedar cannot take) decided it.
    pub errored: bool,
}

impl Decision {
    /// A DENY that no rule made: an error before or outside evaluation.
    pub fn deny_error(reason: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Deny,
            policy_rule_id: None,
            reason: Some(reason.into()),
            determining: Vec::new(),
            errored: true,
        }
    }

    fn from_rules(outcome: Outcome, mut determining: Vec<Determining>) -> Self {
        determining.sort_by(|a, b| a.rule_id.cmp(&b.rule_id));
        determining.dedup_by(|a, b| a.rule_id == b.rule_id);
        let first = determining.first();
        Self {
            outcome,
            policy_rule_id: first.map(|d| d.rule_id.clone()),
            reason: first.and_then(|d| d.reason.clone()),
            determining,
            errored: false,
        }
    }
}

/// The active sets, evaluated together; their `policy_snapshot`.
#[derive(Debug, Clone)]
pub struct ActiveSets {
    sets: Vec<Arc<CompiledSet>>,
    rules: BTreeMap<String, RuleInfo>,
    snapshot: String,
}

impl ActiveSets {
    /// The sets active together.
    ///
    /// # Errors
    /// [`PolicyError::DuplicateRuleId`] if two sets share a rule id.
    pub fn new(sets: Vec<Arc<CompiledSet>>) -> Result<Self, PolicyError> {
        let mut rules: BTreeMap<String, RuleInfo> = BTreeMap::new();
        for set in &sets {
            for rule in set.rules.values() {
                if let Some(other) = rules.get(&rule.rule_id) {
                    return Err(PolicyError::DuplicateRuleId {
                        rule_id: rule.rule_id.clone(),
                        other_set: other.set_id.clone(),
                    });
                }
                rules.insert(rule.rule_id.clone(), rule.clone());
            }
        }
        let versions: Vec<SetVersion> = sets.iter().map(|s| SetVersion::of(s)).collect();
        Ok(Self {
            snapshot: snapshot_of(&versions),
            sets,
            rules,
        })
    }

    pub(crate) fn from_one(set: CompiledSet) -> Self {
        let rules = set.rules.clone();
        let snapshot = snapshot_of(&[SetVersion::of(&set)]);
        Self {
            sets: vec![Arc::new(set)],
            rules,
            snapshot,
        }
    }

    /// `sha256:<hex>` naming exactly these set versions (see [`snapshot_of`]).
    pub fn snapshot(&self) -> &str {
        &self.snapshot
    }

    /// The sets, as (id, version, text SHA-256), sorted by id.
    pub fn versions(&self) -> Vec<SetVersion> {
        let mut versions: Vec<SetVersion> = self.sets.iter().map(|s| SetVersion::of(s)).collect();
        versions.sort_by(|a, b| a.id.cmp(&b.id));
        versions
    }

    pub fn sets(&self) -> &[Arc<CompiledSet>] {
        &self.sets
    }

    /// Decides `request` at `now`. Never panics and never answers ALLOW or
    /// REQUIRE_APPROVAL when anything failed (module docs).
    pub fn decide(&self, request: &PolicyRequest, now: &Now) -> Decision {
        self.decide_sliced(request, now, true)
    }

    /// [`Self::decide`], evaluating only the rules that can apply to the request's
    /// action when `sliced` (what decisions do), or every rule (the reference the
    /// slicing is tested against).
    fn decide_sliced(&self, request: &PolicyRequest, now: &Now, sliced: bool) -> Decision {
        let cedar_request = match cedar_request(request, now) {
            Ok(r) => r,
            Err(why) => return Decision::deny_error(why),
        };
        let action = cedar_request.action().cloned();
        let authorizer = Authorizer::new();
        let entities = Entities::empty();
        let mut forbids = Vec::new();
        let mut permits = Vec::new();
        let mut errors = Vec::new();
        for set in &self.sets {
            let policies = match (&action, sliced) {
                (Some(action), true) => set.policies_for(action),
                _ => &set.policies,
            };
            let response = authorizer.is_authorized(&cedar_request, policies, &entities);
            for error in response.diagnostics().errors() {
                let cedar_policy::AuthorizationError::PolicyEvaluationError(e) = error;
                errors.push(Determining {
                    rule_id: e.policy_id().to_string(),
                    reason: Some(format!("evaluation error: {}", e.inner())),
                });
            }
            let satisfied = response
                .diagnostics()
                .reason()
                .filter_map(|id| self.rules.get(&id.to_string()));
            for rule in satisfied {
                let determining = Determining {
                    rule_id: rule.rule_id.clone(),
                    reason: rule.reason.clone(),
                };
                match (rule.forbid, response.decision()) {
                    (true, _) => forbids.push(determining),
                    (false, CedarDecision::Allow) => {
                        permits.push((rule.require_approval, determining))
                    }
                    (false, CedarDecision::Deny) => {}
                }
            }
        }
        if !errors.is_empty() {
            let mut decision = Decision::from_rules(Outcome::Deny, errors);
            decision.errored = true;
            return decision;
        }
        if !forbids.is_empty() {
            return Decision::from_rules(Outcome::Deny, forbids);
        }
        if permits.is_empty() {
            return Decision {
                outcome: Outcome::Deny,
                policy_rule_id: None,
                reason: None,
                determining: Vec::new(),
                errored: false,
            };
        }
        let approvals: Vec<Determining> = permits
            .iter()
            .filter(|(require, _)| *require)
            .map(|(_, d)| d.clone())
            .collect();
        if !approvals.is_empty() {
            return Decision::from_rules(Outcome::RequireApproval, approvals);
        }
        Decision::from_rules(
            Outcome::Allow,
            permits.into_iter().map(|(_, d)| d).collect(),
        )
    }
}

/// The Cedar request, or why Cedar cannot take it.
fn cedar_request(request: &PolicyRequest, now: &Now) -> Result<Request, String> {
    let context = cedar_context(&request.context, now)?;
    let principal = uid("Agent", &request.agent)?;
    let action = uid("Action", &request.action)?;
    let resource = uid("Resource", &request.resource)?;
    Request::new(principal, action, resource, context, None).map_err(|e| format!("request: {e}"))
}

/// The request's context with `now` added, as Cedar takes it.
///
/// A context of plain values (booleans, integers, strings, and arrays and objects of
/// them, with no key starting `__`) is built directly, value by value; anything else
/// (a float, a `null`, an escape such as `__entity` or `__extn`) goes through
/// Cedar's own JSON reading, which decides what it means or why it is refused. Both
/// give the same [`Context`] for plain values (a property test compares them); the
/// direct path only skips Cedar's generic JSON decoding, which tries every escape
/// form on every value and was about a third of a decision's evaluation.
fn cedar_context(context: &Value, now: &Now) -> Result<Context, String> {
    let Value::Object(fields) = context else {
        return Err("context: must be an object".into());
    };
    if let Some(plain) = plain_context(fields, now) {
        return Ok(plain);
    }
    cedar_context_from_json(fields, now)
}

/// The context through Cedar's JSON reading (the reference for [`plain_context`]).
fn cedar_context_from_json(fields: &Map<String, Value>, now: &Now) -> Result<Context, String> {
    let mut context = fields.clone();
    context.insert(
        "now".into(),
        serde_json::to_value(now).map_err(|e| format!("context.now: {e}"))?,
    );
    Context::from_json_value(Value::Object(context), None).map_err(|e| {
        format!("context: Cedar cannot take it ({e}); send amounts as integers or decimal strings")
    })
}

/// The context built value by value, or `None` if any value is not plain (see
/// [`cedar_context`]) or names `now`, which the evaluator sets.
fn plain_context(fields: &Map<String, Value>, now: &Now) -> Option<Context> {
    if fields.contains_key("now") || fields.keys().any(|k| k.starts_with("__")) {
        return None;
    }
    let mut pairs = Vec::with_capacity(fields.len() + 1);
    for (key, value) in fields {
        pairs.push((key.clone(), plain_expression(value)?));
    }
    pairs.push(("now".to_owned(), now_expression(now).ok()?));
    Context::from_pairs(pairs).ok()
}

/// `context.now` as a Cedar record.
fn now_expression(now: &Now) -> Result<RestrictedExpression, String> {
    RestrictedExpression::new_record([
        (
            "hour".to_owned(),
            RestrictedExpression::new_long(i64::from(now.hour)),
        ),
        (
            "weekday".to_owned(),
            RestrictedExpression::new_string(now.weekday.clone()),
        ),
        (
            "date".to_owned(),
            RestrictedExpression::new_string(now.date.clone()),
        ),
    ])
    .map_err(|e| e.to_string())
}

/// A plain JSON value as the Cedar value its JSON form denotes; `None` for anything
/// Cedar's JSON reading would treat specially or refuse.
fn plain_expression(value: &Value) -> Option<RestrictedExpression> {
    Some(match value {
        Value::Bool(b) => RestrictedExpression::new_bool(*b),
        Value::Number(n) => RestrictedExpression::new_long(n.as_i64()?),
        Value::String(s) => RestrictedExpression::new_string(s.clone()),
        Value::Array(items) => RestrictedExpression::new_set(
            items
                .iter()
                .map(plain_expression)
                .collect::<Option<Vec<_>>>()?,
        ),
        Value::Object(fields) => {
            let mut pairs = Vec::with_capacity(fields.len());
            for (key, value) in fields {
                if key.starts_with("__") {
                    return None;
                }
                pairs.push((key.clone(), plain_expression(value)?));
            }
            RestrictedExpression::new_record(pairs).ok()?
        }
        Value::Null => return None,
    })
}

fn uid(type_name: &str, id: &str) -> Result<EntityUid, String> {
    let name = EntityTypeName::from_str(type_name).map_err(|e| e.to_string())?;
    Ok(EntityUid::from_type_name_and_id(name, EntityId::new(id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn now() -> Now {
        Now {
            hour: 9,
            weekday: "tuesday".into(),
            date: "2026-12-08".into(),
        }
    }

    /// Keys that matter to Cedar's JSON reading: escapes, entity-like records.
    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z]{1,5}",
            Just("type".to_owned()),
            Just("id".to_owned()),
            Just("fn".to_owned()),
            Just("arg".to_owned()),
            Just("__entity".to_owned()),
            Just("__extn".to_owned()),
            Just("__expr".to_owned()),
            Just("_x".to_owned()),
        ]
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            (i64::MAX as u64..=u64::MAX).prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            "[ -~]{0,8}".prop_map(Value::String),
            Just(json!("Agent")),
            Just(json!("ip")),
            Just(json!("10.0.0.1")),
            Just(Value::Null),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn escapes_floats_and_nulls_take_cedars_own_path() {
        for context in [
            json!({"who": {"__entity": {"type": "Agent", "id": "a"}}}),
            json!({"ip": {"__extn": {"fn": "ip", "arg": "10.0.0.1"}}}),
            json!({"amount": 1.5}),
            json!({"amount": u64::MAX}),
            json!({"gone": null}),
            json!({"__entity": {"type": "Agent", "id": "a"}}),
            json!({"now": 1}),
        ] {
            let Value::Object(fields) = &context else {
                unreachable!()
            };
            assert!(plain_context(fields, &now()).is_none(), "{context}");
        }
        let Value::Object(plain) = json!({"amount": 12, "tags": ["a", "b"], "r": {"x": true}})
        else {
            unreachable!()
        };
        assert!(plain_context(&plain, &now()).is_some());
    }

    const SLICED_SCHEMA: &str = r#"
entity Agent;
entity Resource;
type Now = {hour: Long, weekday: String, date: String};
action "refund", "read", "write", "delete" appliesTo {
  principal: [Agent], resource: [Resource], context: {amount: Long, now: Now}
};
"#;

    /// Rules of every scope: single actions, lists, any action; a principal
    /// constraint; forbids; approvals; a rule whose arithmetic can overflow.
    const SLICED_RULES: &str = r#"
@id("refund-small") permit(principal, action == Action::"refund", resource) when { context.amount < 1000 };
@id("refund-huge") forbid(principal, action == Action::"refund", resource) when { context.amount > 5000 };
@id("read-big") @require_approval permit(principal, action == Action::"read", resource) when { context.amount > 10 };
@id("read-write") permit(principal, action in [Action::"read", Action::"write"], resource) when { context.amount >= 0 };
@id("bot-writes") permit(principal == Agent::"bot", action == Action::"write", resource);
@id("write-plus") permit(principal, action == Action::"write", resource) when { context.amount + 1 > 100 };
@id("never-42") forbid(principal, action, resource) when { context.amount == 42 };
@id("any-mid") @require_approval permit(principal, action, resource) when { context.amount > 2000 && context.amount < 3000 };
"#;

    fn sliced_request() -> impl Strategy<Value = PolicyRequest> {
        (
            prop_oneof![Just("bot"), Just("other")],
            prop_oneof![
                Just("refund"),
                Just("read"),
                Just("write"),
                Just("delete"),
                Just("Refund"),
                Just("unknown")
            ],
            prop_oneof![
                Just(Value::Null),
                (-10i64..6000).prop_map(|n| json!(n)),
                Just(json!(42)),
                Just(json!(i64::MAX)),
                Just(json!("7")),
                Just(json!(1.5)),
            ],
        )
            .prop_map(|(agent, action, amount)| {
                let mut context = Map::new();
                if !amount.is_null() {
                    context.insert("amount".into(), amount);
                }
                PolicyRequest {
                    agent: agent.into(),
                    action: action.into(),
                    resource: "r".into(),
                    context: Value::Object(context),
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Evaluating only the rules that can apply to the request's action decides
        /// exactly what evaluating every rule decides: outcome, rules, reasons, errors.
        #[test]
        fn sliced_decisions_are_the_whole_sets(request in sliced_request()) {
            static SETS: std::sync::OnceLock<ActiveSets> = std::sync::OnceLock::new();
            let sets = SETS.get_or_init(|| {
                let set = crate::set::compile("sliced", 1, SLICED_RULES, SLICED_SCHEMA, Vec::new(), &now())
                    .expect("the test set compiles");
                assert!(set.sliced);
                ActiveSets::new(vec![Arc::new(set)]).unwrap()
            });
            prop_assert_eq!(
                sets.decide_sliced(&request, &now(), true),
                sets.decide_sliced(&request, &now(), false)
            );
        }

        /// Wherever the direct path builds a context, it is the context Cedar's JSON
        /// reading builds from the same value; elsewhere the JSON reading decides.
        #[test]
        fn the_direct_context_is_cedars_own(
            fields in prop::collection::btree_map(key(), value(), 0..6)
        ) {
            let fields: Map<String, Value> = fields.into_iter().collect();
            let reference = cedar_context_from_json(&fields, &now());
            match plain_context(&fields, &now()) {
                Some(direct) => prop_assert_eq!(Ok(direct), reference),
                None => {
                    let through = cedar_context(&Value::Object(fields), &now());
                    prop_assert_eq!(through.is_ok(), reference.is_ok());
                }
            }
        }
    }
}

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
    Request,
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
        let cedar_request = match cedar_request(request, now) {
            Ok(r) => r,
            Err(why) => return Decision::deny_error(why),
        };
        let authorizer = Authorizer::new();
        let entities = Entities::empty();
        let mut forbids = Vec::new();
        let mut permits = Vec::new();
        let mut errors = Vec::new();
        for set in &self.sets {
            let response = authorizer.is_authorized(&cedar_request, &set.policies, &entities);
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
    let Value::Object(fields) = &request.context else {
        return Err("context: must be an object".into());
    };
    let mut context = fields.clone();
    context.insert(
        "now".into(),
        serde_json::to_value(now).map_err(|e| format!("context.now: {e}"))?,
    );
    let context = Context::from_json_value(Value::Object(context), None).map_err(|e| {
        format!("context: Cedar cannot take it ({e}); send amounts as integers or decimal strings")
    })?;
    let principal = uid("Agent", &request.agent)?;
    let action = uid("Action", &request.action)?;
    let resource = uid("Resource", &request.resource)?;
    Request::new(principal, action, resource, context, None).map_err(|e| format!("request: {e}"))
}

fn uid(type_name: &str, id: &str) -> Result<EntityUid, String> {
    let name = EntityTypeName::from_str(type_name).map_err(|e| e.to_string())?;
    Ok(EntityUid::from_type_name_and_id(name, EntityId::new(id)))
}

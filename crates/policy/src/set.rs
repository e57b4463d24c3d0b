//! One policy set: parsed, validated against its schema, its annotations read
//! (CONTRACT section 6, "Annotations"), ready to evaluate.
//!
//! A set is refused, with the line and column of the fault where Cedar gives one,
//! when its text does not parse, when it holds templates (a decision fills no
//! slots), when its schema does not parse, when strict validation against that
//! schema fails, when a rule has no `@id` or shares one with another rule, or when
//! `@require_approval` sits on a `forbid`.

use std::collections::BTreeMap;
use std::str::FromStr as _;

use cedar_policy::{
    ActionConstraint, Effect, EntityUid, PolicyId, PolicySet, Schema, ValidationMode, Validator,
};
use miette::Diagnostic;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::evaluate::{ActiveSets, Now, Outcome, PolicyRequest};

/// Longest rule id (`@id`), in bytes.
pub const MAX_RULE_ID_BYTES: usize = 128;

/// Why a set (or its tests) was refused. Each names the request field at fault
/// ([`PolicyError::field`]) and, in its message, the line where Cedar gives one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The set id is not acceptable.
    #[error("{0}")]
    Id(String),
    /// The text is not Cedar, or holds something a set may not (templates).
    #[error("{}{message}", at(*line, *column))]
    Text {
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    /// The schema is not a Cedar schema.
    #[error("{}{message}", at(*line, *column))]
    Schema {
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    /// A rule's annotations break Evident's rules (`@id` missing or repeated,
    /// `@require_approval` on a `forbid`).
    #[error("{}{message}", at(*line, None))]
    Annotation {
        line: Option<usize>,
        message: String,
    },
    /// Strict validation against the schema failed.
    #[error("{}rule {rule_id:?}: {message}", at(*line, *column))]
    Validation {
        line: Option<usize>,
        column: Option<usize>,
        rule_id: String,
        message: String,
    },
    /// A rule id is already used by another active set (ids are unique across sets).
    #[error("rule id {rule_id:?} is already used by active policy set {other_set:?}")]
    DuplicateRuleId { rule_id: String, other_set: String },
    /// A test case is malformed.
    #[error("[{index}]: {message}")]
    TestCase { index: usize, message: String },
    /// A test case does not decide what it expects.
    #[error(transparent)]
    TestFailed(#[from] TestFailure),
}

impl PolicyError {
    /// The request field at fault: `id`, `text`, `schema` or `tests`.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Id(_) => "id",
            Self::Text { .. }
            | Self::Annotation { .. }
            | Self::Validation { .. }
            | Self::DuplicateRuleId { .. } => "text",
            Self::Schema { .. } => "schema",
            Self::TestCase { .. } | Self::TestFailed(_) => "tests",
        }
    }
}

fn at(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("line {l}, column {c}: "),
        (Some(l), None) => format!("line {l}: "),
        _ => String::new(),
    }
}

/// A test case that decided otherwise than it expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[{index}]: expected {expected}, got {got} ({why})")]
pub struct TestFailure {
    pub index: usize,
    pub expected: Outcome,
    pub got: Outcome,
    /// The decision's rule and reason.
    pub why: String,
}

/// One test case: a request and the decision the set alone must make for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    pub request: PolicyRequest,
    pub expect: Outcome,
    /// When the request is made (`context.now`); the moment of the run if absent, so
    /// a test that depends on the hour should give one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<Now>,
}

/// What Evident reads from a rule's annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub rule_id: String,
    /// The set that holds the rule.
    pub set_id: String,
    pub reason: Option<String>,
    /// `@require_approval` on a permit.
    pub require_approval: bool,
    pub forbid: bool,
}

/// A parsed and validated set, its rules renamed by their `@id`.
#[derive(Debug, Clone)]
pub struct CompiledSet {
    pub id: String,
    pub version: u64,
    /// Lowercase hex SHA-256 of the text's UTF-8 bytes (the snapshot names it).
    pub text_sha256: String,
    pub(crate) policies: PolicySet,
    /// The same rules sliced by the action they can apply to (see [`ActionSlices`]),
    /// when `sliced`.
    pub(crate) slices: ActionSlices,
    pub(crate) sliced: bool,
    pub(crate) rules: BTreeMap<String, RuleInfo>,
    pub tests: Vec<TestCase>,
}

/// A set's rules by the action a request names, so that a decision evaluates only
/// the rules that can apply to it.
///
/// A rule scoped `action == A` can be satisfied, or fail to evaluate, only for a
/// request naming `A`: Cedar evaluates a rule's scope before its conditions, and a
/// scope cannot fail (the principal's and resource's constraints are equality,
/// membership or type tests, which give `false` rather than an error), so for any
/// other action the rule is simply not satisfied and leaves no trace in the answer.
/// Leaving it out therefore changes nothing but the time taken (a property test in
/// `evaluate.rs` compares both over random requests). Rules scoped otherwise
/// (`action in [...]`, or any action) are in every slice.
#[derive(Debug, Clone, Default)]
pub(crate) struct ActionSlices {
    /// Per action named by some `action ==` rule: those rules and the unscoped ones.
    by_action: std::collections::HashMap<EntityUid, PolicySet>,
    /// The rules not scoped to a single action, for every other action.
    unscoped: PolicySet,
}

impl ActionSlices {
    /// Slices `policies`; `None` if Cedar refuses to copy a rule into a slice (then
    /// every decision evaluates the whole set).
    fn of(policies: &PolicySet) -> Option<Self> {
        let mut scoped: std::collections::HashMap<EntityUid, Vec<&cedar_policy::Policy>> =
            std::collections::HashMap::new();
        let mut unscoped = Vec::new();
        for policy in policies.policies() {
            match policy.action_constraint() {
                ActionConstraint::Eq(action) => scoped.entry(action).or_default().push(policy),
                _ => unscoped.push(policy),
            }
        }
        let mut slices = Self::default();
        for policy in &unscoped {
            slices.unscoped.add((*policy).clone()).ok()?;
        }
        for (action, rules) in scoped {
            let mut slice = slices.unscoped.clone();
            for policy in rules {
                slice.add(policy.clone()).ok()?;
            }
            slices.by_action.insert(action, slice);
        }
        Some(slices)
    }
}

impl CompiledSet {
    /// The rules that can apply to a request naming `action` (see [`ActionSlices`]).
    pub(crate) fn policies_for(&self, action: &EntityUid) -> &PolicySet {
        if !self.sliced {
            return &self.policies;
        }
        self.slices
            .by_action
            .get(action)
            .unwrap_or(&self.slices.unscoped)
    }
}

impl CompiledSet {
    /// The rules, by id.
    pub fn rules(&self) -> impl Iterator<Item = &RuleInfo> {
        self.rules.values()
    }

    /// Runs the set's test cases against the set alone; `now` stands for the moment
    /// of a case that gives none.
    ///
    /// # Errors
    /// The first case that decides otherwise.
    pub fn run_tests(&self, now: &Now) -> Result<(), TestFailure> {
        if self.tests.is_empty() {
            return Ok(());
        }
        let alone = ActiveSets::from_one(self.clone());
        for (index, case) in self.tests.iter().enumerate() {
            let decision = alone.decide(&case.request, case.now.as_ref().unwrap_or(now));
            if decision.outcome != case.expect {
                return Err(TestFailure {
                    index,
                    expected: case.expect,
                    got: decision.outcome,
                    why: format!(
                        "rule {}: {}",
                        decision.policy_rule_id.as_deref().unwrap_or("none"),
                        decision.reason.as_deref().unwrap_or("no reason given")
                    ),
                });
            }
        }
        Ok(())
    }
}

/// Parses and validates version `version` of set `id`: `text` in Cedar's policy
/// syntax, `schema` in Cedar's schema syntax (required: strict validation is what
/// catches a misspelt attribute before it silently never matches), and runs
/// `tests` against it.
///
/// # Errors
/// See [`PolicyError`]; a failing test case is [`PolicyError::TestFailed`].
pub fn compile(
    id: &str,
    version: u64,
    text: &str,
    schema: &str,
    tests: Vec<TestCase>,
    now: &Now,
) -> Result<CompiledSet, PolicyError> {
    crate::check_set_id(id).map_err(PolicyError::Id)?;
    let parsed = PolicySet::from_str(text).map_err(|e| {
        let (line, column) = first_label(text, &e);
        PolicyError::Text {
            line,
            column,
            message: first_message(&e),
        }
    })?;
    if parsed.templates().next().is_some() {
        return Err(PolicyError::Text {
            line: None,
            column: None,
            message: "templates (?principal, ?resource) are not allowed: a decision fills no slots"
                .into(),
        });
    }
    let (schema, _warnings) = Schema::from_cedarschema_str(schema).map_err(|e| {
        let (line, column) = first_label(schema, &e);
        PolicyError::Schema {
            line,
            column,
            message: first_message(&e),
        }
    })?;

    // Cedar numbers the policies of a text policy0, policy1, ... in order.
    let mut ordered: Vec<(usize, &cedar_policy::Policy)> = parsed
        .policies()
        .map(|p| {
            let n = p
                .id()
                .to_string()
                .strip_prefix("policy")
                .and_then(|n| n.parse().ok())
                .unwrap_or(usize::MAX);
            (n, p)
        })
        .collect();
    ordered.sort_by_key(|(n, _)| *n);

    let mut renamed = PolicySet::new();
    let mut rules = BTreeMap::new();
    let mut lines: BTreeMap<String, Option<usize>> = BTreeMap::new();
    let mut cursor = 0;
    for (_, policy) in ordered {
        let source = policy.to_string();
        let line = text[cursor..].find(&source).map(|found| {
            cursor += found + source.len();
            line_col(text, cursor - source.len()).0
        });
        let rule_id =
            match policy.annotation("id") {
                Some(rule_id) => rule_id.to_owned(),
                None => return Err(PolicyError::Annotation {
                    line,
                    message:
                        "every rule needs an @id(\"...\") (decisions name the rules that made them)"
                            .into(),
                }),
            };
        if rule_id.is_empty() || rule_id.len() > MAX_RULE_ID_BYTES {
            return Err(PolicyError::Annotation {
                line,
                message: format!("@id must be 1 to {MAX_RULE_ID_BYTES} bytes"),
            });
        }
        let forbid = policy.effect() == Effect::Forbid;
        let require_approval = policy.annotation("require_approval").is_some();
        if forbid && require_approval {
            return Err(PolicyError::Annotation {
                line,
                message: format!("rule {rule_id:?}: @require_approval is only for a permit"),
            });
        }
        if rules.contains_key(&rule_id) {
            return Err(PolicyError::Annotation {
                line,
                message: format!("@id({rule_id:?}) is used twice in this set"),
            });
        }
        renamed
            .add(policy.new_id(PolicyId::new(&rule_id)))
            .map_err(|e| PolicyError::Annotation {
                line,
                message: e.to_string(),
            })?;
        lines.insert(rule_id.clone(), line);
        rules.insert(
            rule_id.clone(),
            RuleInfo {
                rule_id,
                set_id: id.to_owned(),
                reason: policy.annotation("reason").map(str::to_owned),
                require_approval,
                forbid,
            },
        );
    }

    let validation = Validator::new(schema).validate(&renamed, ValidationMode::Strict);
    if let Some(error) = validation.validation_errors().next() {
        let (line, column) = first_label(text, error);
        let rule_id = error.policy_id().to_string();
        return Err(PolicyError::Validation {
            line: line.or_else(|| lines.get(&rule_id).copied().flatten()),
            column,
            rule_id,
            message: error.to_string(),
        });
    }

    let slices = ActionSlices::of(&renamed);
    let compiled = CompiledSet {
        id: id.to_owned(),
        version,
        text_sha256: evident_core::blob::hex(&sha2::Sha256::digest(text.as_bytes())),
        sliced: slices.is_some(),
        slices: slices.unwrap_or_default(),
        policies: renamed,
        rules,
        tests,
    };
    compiled.run_tests(now)?;
    Ok(compiled)
}

/// The line and column (1-based) of a diagnostic's first label in `source`.
fn first_label(source: &str, diagnostic: &dyn Diagnostic) -> (Option<usize>, Option<usize>) {
    let offset = diagnostic
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| label.offset())
        .or_else(|| {
            diagnostic
                .related()
                .and_then(|mut r| r.next())
                .and_then(|d| d.labels().and_then(|mut l| l.next()))
                .map(|label| label.offset())
        });
    match offset {
        Some(offset) if offset <= source.len() => {
            let (line, column) = line_col(source, offset);
            (Some(line), Some(column))
        }
        _ => (None, None),
    }
}

/// The message of the first of possibly several errors.
fn first_message(diagnostic: &dyn Diagnostic) -> String {
    let own = diagnostic.to_string();
    let first_related = diagnostic
        .related()
        .and_then(|mut r| r.next())
        .map(|d| d.to_string());
    match first_related {
        Some(related) if !related.is_empty() && related != own => related,
        _ => own,
    }
}

fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = &source.as_bytes()[..offset.min(source.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, column)
}

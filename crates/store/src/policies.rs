//! Policy sets' storage (CONTRACT section 6, "Policies"): the versions of each set,
//! which version of each set is active, and an index of the decisions made.
//!
//! Written only as [`crate::Effect`]s, in the transaction of the server event that
//! records them: [`crate::Effect::PublishPolicy`] (`policy_publish`),
//! [`crate::Effect::RollbackPolicy`] (`policy_rollback`) and
//! [`crate::Effect::IndexPolicyDecision`] (`policy_decision`). Every publish and
//! rollback appends one activation row; the **generation** is the number of the last
//! one (0 before any), so a server tells that its cached active sets are stale by
//! comparing one integer, and [`crate::Effect::RequirePolicyGeneration`] lets a
//! decision commit only if no publish or rollback committed since the sets it was
//! made with were read (on PostgreSQL this is checked under the tree head's row lock
//! that every append of every server takes, so it holds across servers).
//!
//! Out of scope: what a set means (evident-policy parses and evaluates it).

use async_trait::async_trait;

use crate::StoreResult;

/// One version of a set, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    pub set_id: String,
    /// 1, 2, ... per set.
    pub version: i64,
    /// Cedar policy text.
    pub text: String,
    /// Its Cedar schema.
    pub schema: String,
    /// Its test cases, as JSON text (an array).
    pub tests: String,
    /// Lowercase hex SHA-256 of `text`.
    pub text_sha256: String,
    /// The `policy_publish` event that records it.
    pub event_id: String,
    /// Its `received_at`, µs since the epoch.
    pub published_micros: i64,
}

/// A set made active (by a publish or a rollback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyActivation {
    /// The generation this activation starts (1, 2, ... across all sets).
    pub generation: i64,
    pub set_id: String,
    pub version: i64,
    /// `publish` or `rollback`.
    pub kind: String,
    pub event_id: String,
    pub at_micros: i64,
}

/// A rollback: set `set_id` goes from `from_version` (refused unless it is still the
/// active one) back to `to_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRollback {
    pub set_id: String,
    pub from_version: i64,
    pub to_version: i64,
    pub event_id: String,
    pub at_micros: i64,
}

/// A decision, indexed for `GET /api/v1/policy/audit`'s filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDecisionRow {
    pub event_id: String,
    pub decided_micros: i64,
    /// `ALLOW`, `DENY` or `REQUIRE_APPROVAL`.
    pub decision: String,
    /// The decision's `policy_rule_id`.
    pub rule_id: Option<String>,
    pub agent: String,
}

/// Filters of the decision index; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecisionFilter {
    pub from_micros: Option<i64>,
    pub to_micros: Option<i64>,
    pub rule_id: Option<String>,
    pub decision: Option<String>,
    pub agent: Option<String>,
    pub limit: usize,
}

/// Reads of policy state. Writes are effects (module docs).
#[async_trait]
pub trait PolicyStore: Send + Sync {
    /// The number of the last activation, 0 before any.
    async fn policy_generation(&self) -> StoreResult<i64>;

    /// The active version of each set, with the generation they were read at (one
    /// consistent read), sorted by set id.
    async fn active_policies(&self) -> StoreResult<(i64, Vec<PolicyVersion>)>;

    /// One version of a set.
    async fn policy_version(
        &self,
        set_id: &str,
        version: i64,
    ) -> StoreResult<Option<PolicyVersion>>;

    /// Every activation, oldest first.
    async fn policy_activations(&self) -> StoreResult<Vec<PolicyActivation>>;

    /// Indexed decisions matching `filter`, oldest first, at most `filter.limit`,
    /// with each one's `seq`.
    async fn policy_decisions(
        &self,
        filter: &DecisionFilter,
    ) -> StoreResult<Vec<(PolicyDecisionRow, Option<u64>)>>;
}

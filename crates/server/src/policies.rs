//! Policy sets (CONTRACT section 6, "Policies"): publish, rollback, the list of
//! active sets with their state, the audit trail, and the cache of active sets
//! decisions are made with.
//!
//! A publish commits the version with its `policy_publish` event, a rollback the
//! re-activation with its `policy_rollback` event (see [`crate::record`]). Both move
//! the store's policy generation; the [`PolicyCache`] holds the active sets compiled
//! for one generation. A decision carries that generation as a precondition of its
//! commit ([`evident_store::Effect::RequirePolicyGeneration`]), so it is never
//! committed under sets older than a publish or rollback committed before it, on one
//! server or several sharing a PostgreSQL database; when refused, the cache reloads
//! and the decision is made again ([`crate::decide`]).
//!
//! **Fail closed.** Each time the active sets are loaded (the first use after start,
//! and after every generation change) their test cases run again; a set that fails
//! them, or that no longer compiles, is shown `failing` in the list and makes every
//! decision DENY with the reason.

use std::sync::Arc;

use evident_core::record::ServerEvent;
use evident_policy::{compile, ActiveSets, CompiledSet, Now, PolicyError, SetVersion, TestCase};
use evident_store::policies::{DecisionFilter, PolicyRollback, PolicyVersion};
use evident_store::{Effect, StoreError};
use serde_json::{json, Map, Value};

use crate::auth::Principal;
use crate::record::RecordError;
use crate::state::App;

/// Largest policy text or schema, in bytes: far more than any hand-written set, small
/// enough that compiling one at publish stays cheap.
pub const MAX_TEXT_BYTES: usize = 256 * 1024;

/// Most test cases one publish may carry.
pub const MAX_TESTS: usize = 1000;

/// Times a publish or rollback is tried again when another one of the same set
/// committed between reading its state and the commit.
const ATTEMPTS: usize = 3;

/// Why a policy request was not done; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum PolicyServiceError {
    /// The set (or its tests) is refused; the error names the field and line.
    #[error(transparent)]
    Invalid(#[from] PolicyError),
    /// A field of the request is malformed.
    #[error("{field}: {why}")]
    Field { field: &'static str, why: String },
    #[error("{0}")]
    NotFound(String),
    /// The state does not allow it (no previous version to roll back to, a set that
    /// kept changing under the request).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Record(RecordError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an admin publishes.
#[derive(Debug, Clone)]
pub struct PublishRequest {
    pub id: String,
    pub text: String,
    pub schema: String,
    pub tests: Vec<TestCase>,
}

/// Parses a publish's `tests` member.
///
/// # Errors
/// [`PolicyServiceError::Invalid`] naming the case.
pub fn parse_tests(tests: Option<&Value>) -> Result<Vec<TestCase>, PolicyServiceError> {
    let items = match tests {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(PolicyServiceError::Field {
                field: "tests",
                why: "must be an array of {request, expect}".into(),
            })
        }
    };
    if items.len() > MAX_TESTS {
        return Err(PolicyServiceError::Field {
            field: "tests",
            why: format!("at most {MAX_TESTS} cases"),
        });
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            serde_json::from_value(item.clone()).map_err(|e| {
                PolicyServiceError::Invalid(PolicyError::TestCase {
                    index,
                    message: format!(
                        "{e} (a case is {{\"request\": {{agent, action, resource, context}}, \"expect\": \"ALLOW\"|\"DENY\"|\"REQUIRE_APPROVAL\", \"now\"?}})"
                    ),
                })
            })
        })
        .collect()
}

/// The state of one active set.
#[derive(Debug, Clone)]
pub struct SetState {
    pub version: PolicyVersion,
    /// Compiled, or why not.
    pub compiled: Option<Arc<CompiledSet>>,
    /// Why the set makes decisions DENY (it no longer compiles, its tests fail, its
    /// rule ids clash); `None` when it is healthy.
    pub failure: Option<String>,
}

/// The active sets of one policy generation, compiled and re-tested.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub generation: i64,
    pub sets: Vec<SetState>,
    /// The healthy sets, evaluated together.
    pub active: ActiveSets,
    /// `sha256:<hex>` over every active version (healthy or not).
    pub snapshot: String,
}

impl Loaded {
    /// Every active version, sorted by set id.
    pub fn versions(&self) -> Vec<SetVersion> {
        self.sets
            .iter()
            .map(|s| SetVersion {
                id: s.version.set_id.clone(),
                version: u64::try_from(s.version.version).unwrap_or_default(),
                sha256: s.version.text_sha256.clone(),
            })
            .collect()
    }

    /// Why decisions are DENY whatever the request: the first failing set.
    pub fn failure(&self) -> Option<String> {
        self.sets.iter().find_map(|s| {
            s.failure.as_ref().map(|why| {
                format!(
                    "policy set {:?} version {} is failing ({why}); every decision is DENY until it is fixed or rolled back",
                    s.version.set_id, s.version.version
                )
            })
        })
    }
}

/// The compiled active sets, per generation (module docs).
#[derive(Debug, Default)]
pub struct PolicyCache {
    loaded: std::sync::RwLock<Option<Arc<Loaded>>>,
    reload: tokio::sync::Mutex<()>,
}

impl PolicyCache {
    fn get(&self) -> Option<Arc<Loaded>> {
        self.loaded.read().ok().and_then(|l| l.clone())
    }
}

/// The active sets as cached, loading them on first use.
///
/// # Errors
/// Store errors.
pub async fn cached(app: &App) -> Result<Arc<Loaded>, StoreError> {
    match app.policies.get() {
        Some(loaded) => Ok(loaded),
        None => reload(app, None).await,
    }
}

/// The active sets as the store has them now: reloaded when the generation moved.
///
/// # Errors
/// Store errors.
pub async fn current(app: &App) -> Result<Arc<Loaded>, StoreError> {
    let generation = app.store.policy_generation().await?;
    match app.policies.get() {
        Some(loaded) if loaded.generation == generation => Ok(loaded),
        _ => reload(app, None).await,
    }
}

/// Loads the active sets unless the cache already holds a generation other than
/// `stale` (another task reloaded meanwhile).
///
/// # Errors
/// Store errors.
pub async fn reload(app: &App, stale: Option<i64>) -> Result<Arc<Loaded>, StoreError> {
    let _one_at_a_time = app.policies.reload.lock().await;
    if let (Some(stale), Some(loaded)) = (stale, app.policies.get()) {
        if loaded.generation != stale {
            return Ok(loaded);
        }
    }
    let (generation, versions) = app.store.active_policies().await?;
    let now = now(app);
    let mut sets: Vec<SetState> = versions
        .into_iter()
        .map(|version| {
            let tests: Result<Vec<TestCase>, _> = serde_json::from_str(&version.tests);
            let compiled = tests.map_err(|e| e.to_string()).and_then(|tests| {
                compile(
                    &version.set_id,
                    u64::try_from(version.version).unwrap_or_default(),
                    &version.text,
                    &version.schema,
                    tests,
                    &now,
                )
                .map_err(|e| match e {
                    PolicyError::TestFailed(failure) => format!("test case {failure}"),
                    other => format!("{}: {other}", other.field()),
                })
            });
            match compiled {
                Ok(set) => SetState {
                    version,
                    compiled: Some(Arc::new(set)),
                    failure: None,
                },
                Err(why) => {
                    tracing::error!(set = %version.set_id, version = version.version, %why, "an active policy set fails; decisions are DENY");
                    SetState {
                        version,
                        compiled: None,
                        failure: Some(why),
                    }
                }
            }
        })
        .collect();
    let healthy: Vec<Arc<CompiledSet>> = sets.iter().filter_map(|s| s.compiled.clone()).collect();
    let active = match ActiveSets::new(healthy) {
        Ok(active) => active,
        Err(clash) => {
            for set in &mut sets {
                set.failure.get_or_insert_with(|| clash.to_string());
            }
            ActiveSets::new(Vec::new()).map_err(|e| StoreError::Internal(e.to_string()))?
        }
    };
    let snapshot = evident_policy::snapshot_of(
        &sets
            .iter()
            .map(|s| SetVersion {
                id: s.version.set_id.clone(),
                version: u64::try_from(s.version.version).unwrap_or_default(),
                sha256: s.version.text_sha256.clone(),
            })
            .collect::<Vec<_>>(),
    );
    let loaded = Arc::new(Loaded {
        generation,
        sets,
        active,
        snapshot,
    });
    if let Ok(mut slot) = app.policies.loaded.write() {
        *slot = Some(loaded.clone());
    }
    Ok(loaded)
}

/// `context.now` at the app's present instant, in the configured time zone.
pub fn now(app: &App) -> Now {
    now_at(app.now_micros(), &app.settings.policy_time_zone)
}

/// `context.now` at `micros` (µs since the epoch) in `zone`.
pub fn now_at(micros: i64, zone: &jiff::tz::TimeZone) -> Now {
    let instant = jiff::Timestamp::from_microsecond(micros).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let zoned = instant.to_zoned(zone.clone());
    let weekday = match zoned.weekday() {
        jiff::civil::Weekday::Monday => "monday",
        jiff::civil::Weekday::Tuesday => "tuesday",
        jiff::civil::Weekday::Wednesday => "wednesday",
        jiff::civil::Weekday::Thursday => "thursday",
        jiff::civil::Weekday::Friday => "friday",
        jiff::civil::Weekday::Saturday => "saturday",
        jiff::civil::Weekday::Sunday => "sunday",
    };
    Now {
        hour: u8::try_from(zoned.hour()).unwrap_or_default(),
        weekday: weekday.to_owned(),
        date: zoned.date().to_string(),
    }
}

/// A version published or re-activated, with its event.
#[derive(Debug, Clone)]
pub struct Changed {
    pub set_id: String,
    pub version: i64,
    pub from_version: Option<i64>,
    pub text_sha256: String,
    pub event_id: String,
    pub seq: u64,
    /// The snapshot once it is active.
    pub snapshot: String,
}

/// The highest version of `set_id` ever published (0 if none).
async fn last_version(app: &App, set_id: &str) -> Result<i64, StoreError> {
    Ok(app
        .store
        .policy_activations()
        .await?
        .iter()
        .filter(|a| a.set_id == set_id)
        .map(|a| a.version)
        .max()
        .unwrap_or(0))
}

/// The snapshot the active sets would have with `set_id` at `replacement`.
fn snapshot_with(loaded: &Loaded, replacement: SetVersion) -> String {
    let mut versions: Vec<SetVersion> = loaded
        .versions()
        .into_iter()
        .filter(|v| v.id != replacement.id)
        .collect();
    versions.push(replacement);
    evident_policy::snapshot_of(&versions)
}

/// Checks that `set`'s rule ids are not used by another active set.
fn check_unique(loaded: &Loaded, set: &CompiledSet) -> Result<(), PolicyError> {
    let mut together: Vec<Arc<CompiledSet>> = loaded
        .sets
        .iter()
        .filter(|s| s.version.set_id != set.id)
        .filter_map(|s| s.compiled.clone())
        .collect();
    together.push(Arc::new(set.clone()));
    ActiveSets::new(together).map(|_| ())
}

/// Publishes the next version of a set with its `policy_publish` event (one
/// transaction) and makes it active. The text must parse, validate strictly
/// against the schema, carry an `@id` on every rule (unique across active sets),
/// and pass its test cases.
///
/// # Errors
/// See [`PolicyServiceError`].
pub async fn publish(
    app: &App,
    principal: &Principal,
    request: PublishRequest,
) -> Result<Changed, PolicyServiceError> {
    evident_policy::check_set_id(&request.id).map_err(PolicyError::Id)?;
    for (field, value) in [("text", &request.text), ("schema", &request.schema)] {
        if value.len() > MAX_TEXT_BYTES {
            return Err(PolicyServiceError::Field {
                field,
                why: format!("at most {MAX_TEXT_BYTES} bytes"),
            });
        }
    }
    let tests =
        serde_json::to_string(&request.tests).map_err(|e| StoreError::Internal(e.to_string()))?;
    for _ in 0..ATTEMPTS {
        let loaded = current(app).await?;
        let version = last_version(app, &request.id).await? + 1;
        let set = compile(
            &request.id,
            u64::try_from(version).unwrap_or_default(),
            &request.text,
            &request.schema,
            request.tests.clone(),
            &now(app),
        )?;
        check_unique(&loaded, &set)?;
        let snapshot = snapshot_with(&loaded, SetVersion::of(&set));
        let rules: Vec<&str> = set.rules().map(|r| r.rule_id.as_str()).collect();
        let received = app.now_micros();
        let event = ServerEvent {
            event_type: "policy_publish",
            trace_id: None,
            parent_event_id: None,
            fields: Map::from_iter([
                (
                    "policy".to_owned(),
                    json!({
                        "id": request.id, "version": version, "sha256": set.text_sha256,
                        "rules": rules, "tests": request.tests.len(),
                        // What `verify` holds the stored schema and test cases to.
                        "schema_sha256": sha256_hex(&request.schema),
                        "tests_sha256": sha256_hex(&tests),
                    }),
                ),
                (
                    "snapshot".to_owned(),
                    json!({ "policy_snapshot": snapshot }),
                ),
            ]),
        };
        let (event, event_id) = crate::record::prepare_at(app, principal, event, received);
        let effect = Effect::PublishPolicy(PolicyVersion {
            set_id: request.id.clone(),
            version,
            text: request.text.clone(),
            schema: request.schema.clone(),
            tests: tests.clone(),
            text_sha256: set.text_sha256.clone(),
            event_id: event_id.clone(),
            published_micros: received,
        });
        match crate::record::record_prepared(app, event, vec![effect]).await {
            Ok(appended) => {
                reload(app, Some(loaded.generation)).await?;
                return Ok(Changed {
                    set_id: request.id,
                    version,
                    from_version: None,
                    text_sha256: set.text_sha256,
                    event_id,
                    seq: appended.seq,
                    snapshot,
                });
            }
            Err(RecordError::Refused {
                error: StoreError::Conflict(_),
                ..
            }) => continue,
            Err(e) => return Err(PolicyServiceError::Record(e)),
        }
    }
    Err(PolicyServiceError::Conflict(
        "the set kept changing while this publish was made; nothing was stored, retry".into(),
    ))
}

/// Re-activates the version before the active one of `set_id` with its
/// `policy_rollback` event (one transaction).
///
/// # Errors
/// [`PolicyServiceError::NotFound`] for a set with no active version,
/// [`PolicyServiceError::Conflict`] when it is at version 1; see
/// [`PolicyServiceError`].
pub async fn rollback(
    app: &App,
    principal: &Principal,
    set_id: &str,
) -> Result<Changed, PolicyServiceError> {
    evident_policy::check_set_id(set_id).map_err(PolicyError::Id)?;
    for _ in 0..ATTEMPTS {
        let loaded = current(app).await?;
        let Some(active) = loaded.sets.iter().find(|s| s.version.set_id == set_id) else {
            return Err(PolicyServiceError::NotFound(format!(
                "no policy set {set_id:?} is published"
            )));
        };
        let from = active.version.version;
        if from <= 1 {
            return Err(PolicyServiceError::Conflict(format!(
                "policy set {set_id:?} is at version {from}: there is no previous version"
            )));
        }
        let to = from - 1;
        let target = app
            .store
            .policy_version(set_id, to)
            .await?
            .ok_or_else(|| StoreError::Internal(format!("{set_id} version {to} is missing")))?;
        let snapshot = snapshot_with(
            &loaded,
            SetVersion {
                id: set_id.to_owned(),
                version: u64::try_from(to).unwrap_or_default(),
                sha256: target.text_sha256.clone(),
            },
        );
        let received = app.now_micros();
        let event = ServerEvent {
            event_type: "policy_rollback",
            trace_id: None,
            parent_event_id: None,
            fields: Map::from_iter([
                (
                    "policy".to_owned(),
                    json!({
                        "id": set_id, "from_version": from, "version": to,
                        "sha256": target.text_sha256,
                    }),
                ),
                (
                    "snapshot".to_owned(),
                    json!({ "policy_snapshot": snapshot }),
                ),
            ]),
        };
        let (event, event_id) = crate::record::prepare_at(app, principal, event, received);
        let effect = Effect::RollbackPolicy(PolicyRollback {
            set_id: set_id.to_owned(),
            from_version: from,
            to_version: to,
            event_id: event_id.clone(),
            at_micros: received,
        });
        match crate::record::record_prepared(app, event, vec![effect]).await {
            Ok(appended) => {
                reload(app, Some(loaded.generation)).await?;
                return Ok(Changed {
                    set_id: set_id.to_owned(),
                    version: to,
                    from_version: Some(from),
                    text_sha256: target.text_sha256,
                    event_id,
                    seq: appended.seq,
                    snapshot,
                });
            }
            Err(RecordError::Refused {
                error: StoreError::Conflict(_),
                ..
            }) => continue,
            Err(e) => return Err(PolicyServiceError::Record(e)),
        }
    }
    Err(PolicyServiceError::Conflict(
        "the set kept changing while this rollback was made; nothing was stored, retry".into(),
    ))
}

/// `GET /api/v1/policies`: the active sets with their state, rules and tests.
///
/// # Errors
/// Store errors.
pub async fn list(app: &App) -> Result<Value, StoreError> {
    let loaded = current(app).await?;
    let sets: Vec<Value> = loaded
        .sets
        .iter()
        .map(|s| {
            let rules: Vec<Value> = s
                .compiled
                .iter()
                .flat_map(|c| c.rules())
                .map(|r| {
                    json!({
                        "rule_id": r.rule_id, "reason": r.reason,
                        "effect": if r.forbid { "forbid" } else { "permit" },
                        "require_approval": r.require_approval,
                    })
                })
                .collect();
            json!({
                "id": s.version.set_id,
                "version": s.version.version,
                "sha256": s.version.text_sha256,
                "state": if s.failure.is_some() { "failing" } else { "active" },
                "failure": s.failure,
                "event_id": s.version.event_id,
                "published_at": crate::clock::format_micros(s.version.published_micros),
                "rules": rules,
                "text": s.version.text,
                "schema": s.version.schema,
            })
        })
        .collect();
    Ok(json!({
        "policy_snapshot": loaded.snapshot,
        "generation": loaded.generation,
        "sets": sets,
    }))
}

/// `GET /api/v1/policy/audit`: every publish and rollback, and the decisions that
/// match `filter` (from the decision index, not a log scan).
///
/// # Errors
/// Store errors.
pub async fn audit(app: &App, filter: &DecisionFilter) -> Result<Value, StoreError> {
    let history: Vec<Value> = app
        .store
        .policy_activations()
        .await?
        .into_iter()
        .map(|a| {
            json!({
                "kind": a.kind, "id": a.set_id, "version": a.version,
                "event_id": a.event_id, "at": crate::clock::format_micros(a.at_micros),
                "generation": a.generation,
            })
        })
        .collect();
    let decisions: Vec<Value> = app
        .store
        .policy_decisions(filter)
        .await?
        .into_iter()
        .map(|(d, seq)| {
            json!({
                "event_id": d.event_id, "seq": seq,
                "decided_at": crate::clock::format_micros(d.decided_micros),
                "decision": d.decision, "policy_rule_id": d.rule_id, "agent": d.agent,
            })
        })
        .collect();
    Ok(json!({ "history": history, "decisions": decisions }))
}

/// Lowercase hex SHA-256 of a stored text.
fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    evident_core::blob::hex(&sha2::Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_read_in_the_configured_zone() {
        // 2026-12-07T23:30:00Z: Monday in UTC, already Tuesday in Berlin.
        let micros = 1_796_686_200_000_000;
        let utc = now_at(micros, &jiff::tz::TimeZone::UTC);
        assert_eq!(
            (utc.hour, utc.weekday.as_str(), utc.date.as_str()),
            (23, "monday", "2026-12-07")
        );
        let berlin = now_at(micros, &jiff::tz::TimeZone::get("Europe/Berlin").unwrap());
        assert_eq!(
            (berlin.hour, berlin.weekday.as_str(), berlin.date.as_str()),
            (0, "tuesday", "2026-12-08")
        );
    }
}

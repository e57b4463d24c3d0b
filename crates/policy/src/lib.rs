//! evident-policy: policy sets written in Cedar, and the decisions they make
//! (CONTRACT section 6, "Policies, decisions").
//!
//! In scope: parsing a set's text and its Cedar schema (refused with the line and
//! column of the fault), strict validation against that schema, Evident's
//! annotations (`@id`, `@reason`, `@require_approval`), rule ids unique across the
//! active sets, the `policy_snapshot` digest, evaluation with the outcome rules of
//! CONTRACT 6 (and its `determining` rules), and a set's test cases.
//!
//! Out of scope: where sets are stored, which versions are active, the clock and its
//! time zone (the caller passes [`Now`]), what a decision is recorded as.
//!
//! Fail closed everywhere: an evaluation error in any set, a context value Cedar
//! cannot represent (a float, an integer outside i64), or a request Cedar refuses is
//! [`Outcome::Deny`] with the error in the reason. Never ALLOW on an error.
//!
//! Pure: no I/O, no async.

mod evaluate;
mod set;
mod snapshot;

pub use evaluate::{ActiveSets, Decision, Determining, Now, Outcome, PolicyRequest};
pub use set::{compile, CompiledSet, PolicyError, RuleInfo, TestCase, TestFailure};
pub use snapshot::{snapshot_of, SetVersion};

/// Longest set id, in bytes.
pub const MAX_SET_ID_BYTES: usize = 128;

/// Checks a set id: 1 to [`MAX_SET_ID_BYTES`] of letters, digits, `.`, `_`, `-`.
/// No `#`, `/` or `@`, so an id never needs escaping in a path or a snapshot.
///
/// # Errors
/// A sentence saying what is allowed.
pub fn check_set_id(id: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if id.is_empty() || id.len() > MAX_SET_ID_BYTES || !id.chars().all(allowed) {
        return Err(format!(
            "1 to {MAX_SET_ID_BYTES} of letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

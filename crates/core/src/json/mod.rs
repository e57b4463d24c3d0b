//! Strict JSON in, canonical JSON out.
//!
//! Everything a client sends passes through [`parse_value`] or [`parse_events_body`];
//! everything the log hashes passes through [`canonical_bytes`].
//!
//! # Parsing: I-JSON (RFC 7493)
//!
//! The parser accepts exactly the I-JSON subset of JSON (RFC 8259) and nothing
//! more, because two parties that disagree about what a message means must not be
//! able to agree about its hash:
//!
//! - text is UTF-8 (RFC 7493 §2.1); escapes may not encode lone surrogates, and
//!   strings and names may not contain Unicode noncharacters (§2.1);
//! - numbers are finite and no greater than ±2^53 in magnitude, the range in
//!   which every integer is exact in an IEEE 754 double (§2.2);
//! - object member names are unique (§2.3): `{"a": 1, "a": 2}` is refused rather
//!   than "last one wins", which is how a signed and a displayed value could differ;
//! - nesting is at most [`MAX_DEPTH`] levels, checked before any recursion goes
//!   deeper, so no input can overflow the stack;
//! - whitespace around the value is fine; anything else after it is not.
//!
//! Every error is a [`JsonError`] whose `pointer` (RFC 6901) locates the problem in
//! the request body, e.g. `/2/actor/id` for the third event of a batch: it becomes
//! the `detail` of the RFC 9457 problem (CONTRACT section 4).
//!
//! # Canonical form: JCS (RFC 8785)
//!
//! An entry's bytes are the RFC 8785 canonical form of the stored record
//! (CONTRACT section 3): no whitespace, members sorted by their names' UTF-16 code
//! units (§3.2.3), numbers in ECMAScript form (§3.2.2.3), strings with the minimal
//! escaping of §3.2.2.2. [`canonical_bytes`] is a one-pass writer over
//! `serde_json::Value` (`jcs.rs`); `tests/json_jcs.rs` checks it against the RFC's own
//! examples (§3.2.2–§3.2.4, Appendix B), the reference implementation's vectors in
//! `testdata/jcs/`, and the `serde_json_canonicalizer` crate on generated values.
//!
//! ```
//! use evident_core::json::{canonical_bytes, parse_value};
//!
//! let value = parse_value(br#"{"b": [1.50, 1e2], "a": "\u20ac"}"#).unwrap();
//! assert_eq!(canonical_bytes(&value), r#"{"a":"€","b":[1.5,100]}"#.as_bytes());
//!
//! let err = parse_value(br#"{"actor": {"id": 1, "id": 2}}"#).unwrap_err();
//! assert_eq!(err.pointer, "/actor/id");
//! ```
//!
//! # Checking canonical form: `scan.rs`
//!
//! [`Canonical::check`] decides, in one pass over the bytes and without building a
//! value, whether bytes are exactly what [`canonical_bytes`] writes for what
//! [`parse_value`] reads from them; `evident verify` runs it on every entry, and
//! reads the few members it needs from the checked bytes.
//!
//! ```
//! use evident_core::json::Canonical;
//!
//! let entry = Canonical::check(r#"{"a":"€","b":[1.5,100]}"#.as_bytes()).unwrap();
//! assert_eq!(entry.get("b").unwrap().as_bytes(), b"[1.5,100]");
//! assert!(Canonical::check(br#"{"b":1,"a":2}"#).is_err()); // not sorted
//! assert!(Canonical::check(br#"{"a": 1}"#).is_err()); // whitespace
//! assert!(Canonical::check(b"[1.50]").is_err()); // not ECMAScript's 1.5
//! assert!(Canonical::check(br#"["\u20ac"]"#).is_err()); // € needs no escape
//! ```

mod body;
pub mod jcs;
pub mod scan;
mod strict;

use std::borrow::Cow;

use serde_json::Value;
use sha2::{Digest, Sha256};

pub use body::{parse_events_body, BodyFormat};
pub use scan::{Canonical, CanonicalObject, NotCanonical};

/// The deepest nesting of arrays and objects accepted, counting the outermost
/// container as level 1.
///
/// Agent events are shallow (an event's own fields nest 2 levels; payloads such as
/// chat messages with tool calls rarely go past 10), so 64 leaves room for any real
/// payload while
/// bounding every recursive walk over a stored record (canonicalization, PII
/// scanning, `Drop`) to a small, fixed amount of stack. It is also half of
/// `serde_json`'s own limit of 128, so a stored record still parses in
/// `serde_json`-based tools after the server wraps it in an API answer or bundle.
pub const MAX_DEPTH: usize = 64;

/// The most events one request body may carry.
///
/// Bounds the work and the size of a single all-or-nothing append: a rejected
/// batch stores nothing (CONTRACT section 4), so a batch is one transaction.
/// Larger imports are sent as several bodies.
pub const MAX_BATCH: usize = 10_000;

/// Magnitude bound for numbers, 2^53 (RFC 7493 §2.2): beyond it not every integer
/// has an exact IEEE 754 double, so two parsers could read different values.
pub(crate) const MAX_SAFE_MAGNITUDE: u64 = 1 << 53;

/// A request body that is not acceptable JSON, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at {pointer}: {message}")]
pub struct JsonError {
    /// RFC 6901 JSON pointer into the request body (`""` is the whole body).
    pub pointer: String,
    /// What is wrong, for a human; includes line and column for syntax errors.
    pub message: String,
}

impl JsonError {
    /// An error at `pointer` (an RFC 6901 pointer, already escaped).
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        JsonError {
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    /// The same error seen from the enclosing array: an error at `/actor/id` of
    /// the event at `index` becomes one at `/{index}/actor/id`.
    #[must_use]
    pub fn in_element(self, index: usize) -> Self {
        JsonError {
            pointer: format!("/{index}{}", self.pointer),
            message: self.message,
        }
    }
}

/// Escapes one reference token of an RFC 6901 JSON pointer (§3: `~` becomes
/// `~0`, `/` becomes `~1`), for building pointers from object member names.
pub fn escape_pointer_token(token: &str) -> Cow<'_, str> {
    if token.contains(['~', '/']) {
        Cow::Owned(token.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(token)
    }
}

/// Parses one JSON value under the strict I-JSON rules of this module.
///
/// # Errors
///
/// A [`JsonError`] pointing at the offending member, element or number when it is
/// known: a duplicate name, a number out of range, nesting beyond [`MAX_DEPTH`],
/// a lone surrogate or noncharacter, invalid UTF-8, trailing garbage, or any
/// syntax error (with line and column in the message).
pub fn parse_value(bytes: &[u8]) -> Result<Value, JsonError> {
    strict::parse(bytes, None).map_err(|failure| failure.into_error(None))
}

/// The RFC 8785 (JCS) canonical bytes of `value`: the bytes of a log entry.
///
/// Numbers are written as the IEEE 754 doubles they denote (RFC 8785 §3.2.2.3), so
/// an integer beyond ±2^53 that was built in code (not parsed by [`parse_value`],
/// which refuses it) is rounded: keep such values as strings.
///
/// A `serde_json::Value` always has a canonical form (its names are unique strings and
/// its numbers finite). Canonicalization recurses, so the value should be one
/// [`parse_value`] accepted or no deeper than [`MAX_DEPTH`].
pub fn canonical_bytes(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(2048);
    jcs::write_value(value, &mut out);
    out
}

/// SHA-256 of [`canonical_bytes`], e.g. the `job_hash` of a decision's payload
/// (CONTRACT section 6).
pub fn sha256_canonical(value: &Value) -> [u8; 32] {
    Sha256::digest(canonical_bytes(value)).into()
}

/// [`canonical_bytes`] appended to `out` (no allocation when `out` has room).
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    jcs::write_value(value, out);
}

/// How [`JsonError`] messages name the kind of a value.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

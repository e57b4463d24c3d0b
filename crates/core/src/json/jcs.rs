//! RFC 8785 (JCS) serialization straight from a `serde_json::Value`.
//!
//! Every entry, payload and submission digest goes through here, several times per
//! ingested event, so it is written for speed: one pass, one output buffer, no
//! allocation per member. The rules it implements:
//!
//! - §3.2.2.1 literals `null`, `true`, `false`;
//! - §3.2.2.2 strings: `"` and `\` escaped, U+0000–U+001F as `\b \t \n \f \r` or
//!   `\u00xx` (lowercase hex), everything else (including U+007F and `/`) as is;
//! - §3.2.2.3 numbers: the ECMAScript `Number.prototype.toString` form of the IEEE 754
//!   double (`ryu-js`, the algorithm RFC 8785 Appendix B was checked with); integers
//!   within ±2^53 are exact doubles and print as plain digits;
//! - §3.2.3 members sorted by the UTF-16 code units of their names. `serde_json::Map`
//!   is a `BTreeMap` unless some crate of the build enables serde_json's
//!   `preserve_order` (cedar-policy-core does, so in the `evident` binary it is an
//!   insertion-ordered `IndexMap`). A sorted map iterates in UTF-8 byte order, which is
//!   code-point order and equals UTF-16 order unless a name holds a character beyond
//!   U+FFFF (UTF-16 sorts its surrogates below U+E000–U+FFFF). So the names are written
//!   as they come only when one linear pass finds them in ascending byte order with no
//!   such character; otherwise they are sorted first.
//!
//! `tests/json_jcs.rs` checks this against the RFC's examples, cyberphone's reference
//! vectors and, on generated values, against the `serde_json_canonicalizer` crate.

use serde_json::{Map, Number, Value};

/// Appends the RFC 8785 form of `value` to `out`.
pub fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(members) => write_object(members, out),
    }
}

fn write_object(members: &Map<String, Value>, out: &mut Vec<u8>) {
    out.push(b'{');
    if needs_utf16_sort(members.keys().map(String::as_str)) || !in_byte_order(members) {
        let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
        sorted.sort_by(|a, b| utf16_order(a.0, b.0));
        write_members(sorted.into_iter(), out);
    } else {
        write_members(members.iter(), out);
    }
    out.push(b'}');
}

fn write_members<'a>(members: impl Iterator<Item = (&'a String, &'a Value)>, out: &mut Vec<u8>) {
    for (i, (name, value)) in members.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(name, out);
        out.push(b':');
        write_value(value, out);
    }
}

/// Whether the names iterate in ascending byte order (always, for a `BTreeMap`; by
/// chance, for an insertion-ordered map).
fn in_byte_order(members: &Map<String, Value>) -> bool {
    let mut names = members.keys();
    let Some(mut previous) = names.next() else {
        return true;
    };
    for name in names {
        if name.as_bytes() <= previous.as_bytes() {
            return false;
        }
        previous = name;
    }
    true
}

/// Whether code-point order (a `BTreeMap`'s) may differ from UTF-16 order for these
/// names: only names with a character beyond U+FFFF (a 4-byte UTF-8 sequence, lead
/// byte 0xF0–0xF4) sort differently.
pub(crate) fn needs_utf16_sort<'a>(mut names: impl Iterator<Item = &'a str>) -> bool {
    names.any(|name| name.bytes().any(|b| b >= 0xF0))
}

/// RFC 8785 §3.2.3 member order.
pub fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Integers up to 2^53 in magnitude are exact doubles: their ECMAScript form is their
/// decimal digits.
const EXACT_INTEGER: u64 = 1 << 53;

fn write_number(n: &Number, out: &mut Vec<u8>) {
    if let Some(u) = n.as_u64().filter(|u| *u <= EXACT_INTEGER) {
        out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
        return;
    }
    if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= EXACT_INTEGER) {
        out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
        return;
    }
    // Anything else is written as the double it denotes (integers beyond 2^53 built
    // in code are rounded, as the module docs of `json` say). A `Number` is finite.
    let f = n.as_f64().unwrap_or(0.0);
    out.extend_from_slice(ryu_js::Buffer::new().format_finite(f).as_bytes());
}

/// Appends `s` as an RFC 8785 string (§3.2.2.2).
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    // Most strings need no escape: copy them whole.
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

//! Checking that bytes are RFC 8785 canonical I-JSON in one pass, without building a
//! value: what `evident verify` runs on every entry.
//!
//! [`Canonical::check`] accepts `bytes` exactly when
//! `canonical_bytes(&parse_value(bytes)?) == bytes`, i.e. when the bytes are I-JSON
//! (the rules of [`parse_value`](super::parse_value)) already written the way
//! [`canonical_bytes`](super::canonical_bytes) writes them:
//!
//! - no whitespace, nothing after the value;
//! - literals `null`, `true`, `false`;
//! - strings: valid UTF-8 without noncharacters; `"` and `\` escaped as `\"` and `\\`,
//!   U+0000–U+001F as `\b \t \n \f \r` or else `\u00xx` (lowercase hex), no other
//!   escape (so no `\/`, no `\u` for anything else, which also rules out surrogates);
//! - numbers: an integer of at most 2^53 in magnitude written as plain digits (no
//!   leading zero, no `-0`), or any other number within ±2^53 written exactly as
//!   ECMAScript prints the double it denotes (`ryu-js`, as the writer does);
//! - object members strictly increasing by the UTF-16 code units of their names (so
//!   no name twice);
//! - at most [`MAX_DEPTH`] levels of nesting (checked without recursion).
//!
//! One deliberate difference: a fraction is read as the nearest double (Rust's
//! correctly rounded parser), where `parse_value` uses `serde_json`'s faster parser,
//! which may be one unit in the last place off on long inputs. Bytes the writer
//! produced are the shortest form of their double, which reads back exactly, so this
//! can only accept an entry the old round trip would wrongly have refused, never the
//! other way round.
//!
//! A checked [`Canonical`] can then be read without another validation: its members,
//! strings and integers (what `verify` needs of an entry: its `seq`, its index keys,
//! its blob references). `tests/json_scan.rs` checks the scanner against
//! `parse_value` and `canonical_bytes` on generated values and on mutations of them.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::jcs::utf16_order;
use super::{MAX_DEPTH, MAX_SAFE_MAGNITUDE};

/// Why bytes are not canonical I-JSON, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {reason}")]
pub struct NotCanonical {
    /// Offset of the first byte that is wrong (or of the token it belongs to).
    pub offset: usize,
    pub reason: &'static str,
}

fn fail<T>(offset: usize, reason: &'static str) -> Result<T, NotCanonical> {
    Err(NotCanonical { offset, reason })
}

/// A JSON value whose bytes are RFC 8785 canonical I-JSON (see the module docs).
///
/// Only [`Canonical::check`] makes one, from a whole input; the accessors hand out
/// parts of it, which are canonical too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Canonical<'a> {
    bytes: &'a [u8],
}

/// A canonical JSON object with its top-level members, found while checking it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalObject<'a> {
    bytes: &'a [u8],
    /// `(name, value)`, in order; the name is a string value (quotes included).
    members: Vec<(Canonical<'a>, Canonical<'a>)>,
}

impl<'a> Canonical<'a> {
    /// Checks that `bytes` are one canonical I-JSON value.
    ///
    /// # Errors
    /// The first thing that is not canonical, with its offset.
    pub fn check(bytes: &'a [u8]) -> Result<Self, NotCanonical> {
        scan(bytes, |_, _| {})?;
        Ok(Self { bytes })
    }

    /// The value's bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The string this value is, unescaped; `None` if it is not a string.
    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        let inner = self.bytes.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
        if inner.contains(&b'\\') {
            Some(Cow::Owned(unescape(inner)))
        } else {
            // Checked UTF-8 already; this cannot fail, but costs no `unsafe`.
            std::str::from_utf8(inner).ok().map(Cow::Borrowed)
        }
    }

    /// Whether this value is the string `text`.
    pub fn is_str(&self, text: &str) -> bool {
        // Canonical form writes text as it is unless it holds `"`, `\` or a control
        // character: compare bytes first (member lookups by name take this path).
        if self.bytes.len() == text.len() + 2
            && self.bytes.first() == Some(&b'"')
            && between_quotes(self.bytes) == text.as_bytes()
        {
            // Equal bytes with an escape in them decode to something shorter.
            return !text.contains('\\');
        }
        // Different bytes without an escape are different text.
        self.bytes.contains(&b'\\') && self.as_str().is_some_and(|s| s == text)
    }

    /// The non-negative integer this value is, like `serde_json::Value::as_u64`:
    /// `None` for anything else, fractions and negative numbers included.
    pub fn as_u64(&self) -> Option<u64> {
        // Canonical integers are plain digits, at most 2^53: `parse` cannot overflow.
        if self.bytes.first().is_some_and(u8::is_ascii_digit)
            && self.bytes.iter().all(u8::is_ascii_digit)
        {
            std::str::from_utf8(self.bytes).ok()?.parse().ok()
        } else {
            None
        }
    }

    /// Whether this value is an object.
    pub fn is_object(&self) -> bool {
        self.bytes.first() == Some(&b'{')
    }

    /// The members of this object, `(name, value)` in order; none if it is not one.
    pub fn members(&self) -> Members<'a> {
        let rest = match self.bytes {
            [b'{', inner @ .., b'}'] => inner,
            _ => &[],
        };
        Members { rest }
    }

    /// The value of member `name`, if this is an object that has one.
    pub fn get(&self, name: &str) -> Option<Canonical<'a>> {
        self.members()
            .find(|(n, _)| n.is_str(name))
            .map(|(_, value)| value)
    }
}

impl<'a> CanonicalObject<'a> {
    /// Checks that `bytes` are one canonical I-JSON object, keeping its members.
    ///
    /// # Errors
    /// The first thing that is not canonical, or a value that is not an object.
    pub fn check(bytes: &'a [u8]) -> Result<Self, NotCanonical> {
        let mut members = Vec::with_capacity(32);
        scan(bytes, |name, value| {
            members.push((Canonical { bytes: name }, Canonical { bytes: value }));
        })?;
        if bytes.first() != Some(&b'{') {
            return fail(0, "not a JSON object");
        }
        Ok(Self { bytes, members })
    }

    /// The whole object.
    pub fn as_value(&self) -> Canonical<'a> {
        Canonical { bytes: self.bytes }
    }

    /// The value of member `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<Canonical<'a>> {
        self.members
            .iter()
            .find(|(n, _)| n.is_str(name))
            .map(|(_, value)| *value)
    }

    /// The members, `(name, value)` in order.
    pub fn members(&self) -> &[(Canonical<'a>, Canonical<'a>)] {
        &self.members
    }
}

/// The members of a [`Canonical`] object.
#[derive(Debug, Clone)]
pub struct Members<'a> {
    /// What is left between the braces; starts at a name, or after a `,`.
    rest: &'a [u8],
}

impl<'a> Iterator for Members<'a> {
    type Item = (Canonical<'a>, Canonical<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest.strip_prefix(b",").unwrap_or(self.rest);
        if rest.is_empty() {
            return None;
        }
        // The input is canonical: a name, `:`, a value, then `,` or the end.
        let name_len = skip_value(rest);
        let value_start = name_len + 1;
        let value_len = skip_value(&rest[value_start..]);
        let (name, value) = (
            &rest[..name_len],
            &rest[value_start..value_start + value_len],
        );
        self.rest = &rest[value_start + value_len..];
        Some((Canonical { bytes: name }, Canonical { bytes: value }))
    }
}

/// The length of the (valid, canonical) JSON value at the start of `bytes`.
fn skip_value(bytes: &[u8]) -> usize {
    match bytes.first() {
        Some(b'"') => skip_string(bytes, 0),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = 0;
            while i < bytes.len() {
                match bytes[i] {
                    b'"' => {
                        i = skip_string(bytes, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            i
        }
        // A number or literal: no structural character inside.
        _ => bytes
            .iter()
            .position(|b| matches!(b, b',' | b'}' | b']' | b':'))
            .unwrap_or(bytes.len()),
    }
}

/// The offset just past the valid string starting at `bytes[start]` (a `"`).
fn skip_string(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return i + 1,
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    i
}

/// Unescapes the inside of a canonical string (only the escapes canonical form uses).
fn unescape(inner: &[u8]) -> String {
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        if inner[i] != b'\\' {
            out.push(inner[i]);
            i += 1;
            continue;
        }
        let (byte, len) = match inner.get(i + 1) {
            Some(b'b') => (0x08, 2),
            Some(b't') => (b'\t', 2),
            Some(b'n') => (b'\n', 2),
            Some(b'f') => (0x0c, 2),
            Some(b'r') => (b'\r', 2),
            Some(b'u') => (
                inner
                    .get(i + 4..i + 6)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .unwrap_or_default(),
                6,
            ),
            Some(&other) => (other, 2), // `\"` and `\\`
            None => break,
        };
        out.push(byte);
        i += len;
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The bytes of `word` (eight string bytes, little-endian) the string loop must stop
/// at: controls, `"` and `\\`. The lowest byte with its high bit set in the result is
/// the first of them (higher ones may be false hits); bytes from 0x80 up are not
/// flagged.
fn special_bytes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    (below_space | quote | backslash) & HIGH
}

/// What [`string`] saw in a string, for comparing member names cheaply.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Seen {
    escape: bool,
    /// A character beyond U+FFFF, where UTF-8 and UTF-16 order differ.
    supplementary: bool,
}

/// One open array or object.
#[derive(Clone, Copy, Default)]
struct Frame {
    object: bool,
    /// The previous member name of an object, as `start..end` of the input (quotes
    /// included); `start == end` before the first.
    previous_name: (usize, usize),
    previous_seen: Seen,
}

/// Checks `bytes` (see the module docs), handing each top-level member of an object to
/// `member(name, value)` as it is checked.
fn scan<'a>(
    bytes: &'a [u8],
    mut member: impl FnMut(&'a [u8], &'a [u8]),
) -> Result<(), NotCanonical> {
    // Text is only checked inside strings: a byte from 0x80 up is a syntax error
    // anywhere else.
    let mut stack = [Frame::default(); MAX_DEPTH];
    let mut depth = 0usize;
    let mut pos = 0usize;
    // The top-level member being read: its name's span and where its value starts.
    let mut top_member = (0usize, 0usize, 0usize);
    let byte = |pos: usize| bytes.get(pos).copied();
    loop {
        // A value starts at `pos`.
        match byte(pos) {
            Some(open @ (b'{' | b'[')) => {
                if depth == MAX_DEPTH {
                    return fail(pos, "nested deeper than 64 levels");
                }
                stack[depth] = Frame {
                    object: open == b'{',
                    previous_name: (pos, pos),
                    previous_seen: Seen::default(),
                };
                depth += 1;
                pos += 1;
                let close = if open == b'{' { b'}' } else { b']' };
                if byte(pos) == Some(close) {
                    depth -= 1;
                    pos += 1;
                } else {
                    if open == b'{' {
                        pos = name(bytes, pos, &mut stack[depth - 1])?;
                        if depth == 1 {
                            top_member = (stack[0].previous_name.0, stack[0].previous_name.1, pos);
                        }
                    }
                    continue;
                }
            }
            Some(b'"') => pos = string(bytes, pos)?.0,
            Some(b'-' | b'0'..=b'9') => pos = number(bytes, pos)?,
            Some(b't') => pos = literal(bytes, pos, b"true")?,
            Some(b'f') => pos = literal(bytes, pos, b"false")?,
            Some(b'n') => pos = literal(bytes, pos, b"null")?,
            Some(_) => return fail(pos, "not the start of a value (or whitespace)"),
            None => return fail(pos, "a value is missing"),
        }
        // A value ended at `pos`: close containers, or go on to the next element.
        loop {
            if depth == 0 {
                if pos != bytes.len() {
                    return fail(pos, "something follows the value");
                }
                return Ok(());
            }
            if depth == 1 && stack[0].object {
                let (name_start, name_end, value_start) = top_member;
                member(&bytes[name_start..name_end], &bytes[value_start..pos]);
            }
            let frame = &mut stack[depth - 1];
            match byte(pos) {
                Some(b',') => {
                    pos += 1;
                    if frame.object {
                        pos = name(bytes, pos, frame)?;
                        if depth == 1 {
                            top_member = (frame.previous_name.0, frame.previous_name.1, pos);
                        }
                    }
                    break;
                }
                Some(b'}') if frame.object => {}
                Some(b']') if !frame.object => {}
                _ => return fail(pos, "expected `,` or the end of the array or object"),
            }
            pos += 1;
            depth -= 1;
        }
    }
}

/// Checks the member name at `pos` and the `:` after it; returns where its value
/// starts. The name must sort after the frame's previous one, and becomes it.
fn name(bytes: &[u8], pos: usize, frame: &mut Frame) -> Result<usize, NotCanonical> {
    if bytes.get(pos) != Some(&b'"') {
        return fail(pos, "expected a member name");
    }
    let (end, seen) = string(bytes, pos)?;
    let (prev_start, prev_end) = frame.previous_name;
    if prev_start != prev_end {
        let previous = (&bytes[prev_start..prev_end], frame.previous_seen);
        if name_order(previous, (&bytes[pos..end], seen)) != Ordering::Less {
            return fail(
                pos,
                "member names are not in increasing UTF-16 order (or repeat)",
            );
        }
    }
    frame.previous_name = (pos, end);
    frame.previous_seen = seen;
    if bytes.get(end) != Some(&b':') {
        return fail(end, "expected `:`");
    }
    Ok(end + 1)
}

/// RFC 8785 §3.2.3 order of two canonical member names (quotes included).
fn name_order((a, a_seen): (&[u8], Seen), (b, b_seen): (&[u8], Seen)) -> Ordering {
    if a_seen == Seen::default() && b_seen == Seen::default() {
        // Between the quotes, the raw bytes are the names' UTF-8, whose order is
        // UTF-16's below U+10000. Names are short: compare inline, not with memcmp.
        let (a, b) = (between_quotes(a), between_quotes(b));
        return match a.iter().zip(b).find(|(x, y)| x != y) {
            Some((x, y)) => x.cmp(y),
            None => a.len().cmp(&b.len()),
        };
    }
    let (a, b) = (
        Canonical { bytes: a }.as_str(),
        Canonical { bytes: b }.as_str(),
    );
    utf16_order(&a.unwrap_or_default(), &b.unwrap_or_default())
}

fn between_quotes(string: &[u8]) -> &[u8] {
    string.get(1..string.len() - 1).unwrap_or_default()
}

/// Checks the string at `pos` (a `"`); returns the offset after its closing quote.
fn string(bytes: &[u8], pos: usize) -> Result<(usize, Seen), NotCanonical> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = pos + 1;
    let mut escape = false;
    // The bytes passed over, OR-ed: a high bit set means non-ASCII text to check.
    let mut passed = 0u64;
    loop {
        // Most string bytes need no look: skip them eight at a time, up to the first
        // that does.
        while let Some(word) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
            let special = special_bytes(word);
            if special != 0 {
                let before = special.trailing_zeros() as usize / 8;
                passed |= word & ((1u64 << (8 * before)) - 1);
                i += before;
                break;
            }
            passed |= word;
            i += 8;
        }
        let Some(&b) = bytes.get(i) else {
            return fail(pos, "unterminated string");
        };
        match b {
            b'"' => {
                let mut seen = Seen {
                    escape,
                    supplementary: false,
                };
                if passed & HIGH != 0 {
                    seen.supplementary = check_text(bytes, pos + 1, i)?;
                }
                return Ok((i + 1, seen));
            }
            b'\\' => {
                escape = true;
                i = escape_end(bytes, i)?;
            }
            0x00..=0x1f => return fail(i, "control character not escaped"),
            // Near the end of the input, one byte at a time.
            _ => {
                passed |= u64::from(b);
                i += 1;
            }
        }
    }
}

/// Checks the non-ASCII text of a string, `bytes[start..end]`: valid UTF-8 without
/// noncharacters. Returns whether it holds a character beyond U+FFFF.
fn check_text(bytes: &[u8], start: usize, end: usize) -> Result<bool, NotCanonical> {
    let text = match std::str::from_utf8(&bytes[start..end]) {
        Ok(text) => text,
        Err(e) => return fail(start + e.valid_up_to(), "invalid UTF-8"),
    };
    let mut supplementary = false;
    // Every noncharacter is U+FDD0 or above, whose UTF-8 starts with 0xEF or more.
    if text.bytes().any(|b| b >= 0xef) {
        for (offset, c) in text.char_indices() {
            if is_noncharacter(c) {
                return fail(start + offset, "a Unicode noncharacter (not I-JSON)");
            }
            supplementary |= u32::from(c) > 0xffff;
        }
    }
    Ok(supplementary)
}

/// Checks the escape at `pos` (a `\`); returns the offset after it.
fn escape_end(bytes: &[u8], pos: usize) -> Result<usize, NotCanonical> {
    match bytes.get(pos + 1) {
        Some(b'"' | b'\\' | b'b' | b't' | b'n' | b'f' | b'r') => Ok(pos + 2),
        Some(b'u') => {
            // Only U+0000–U+001F without a short form, as `\u00` and lowercase hex.
            let code = match bytes.get(pos + 2..pos + 6) {
                Some([b'0', b'0', hi @ (b'0' | b'1'), lo]) => {
                    let lo = match lo {
                        b'0'..=b'9' => lo - b'0',
                        b'a'..=b'f' => lo - b'a' + 10,
                        _ => return fail(pos, "not the canonical escape"),
                    };
                    (hi - b'0') << 4 | lo
                }
                _ => return fail(pos, "not the canonical escape"),
            };
            if matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                return fail(pos, "not the canonical escape");
            }
            Ok(pos + 6)
        }
        _ => fail(pos, "not the canonical escape"),
    }
}

fn is_noncharacter(c: char) -> bool {
    let code = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE
}

/// Checks the number at `pos`; returns the offset after it.
fn number(bytes: &[u8], pos: usize) -> Result<usize, NotCanonical> {
    let mut i = pos + usize::from(bytes[pos] == b'-');
    let digits_start = i;
    match bytes.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => return fail(pos, "not a number"),
    }
    if !matches!(bytes.get(i), Some(b'.' | b'e' | b'E')) {
        // An integer: canonical as its digits when exact, i.e. within ±2^53.
        let digits = &bytes[digits_start..i];
        if digits == b"0" && digits_start > pos {
            return fail(pos, "`-0` (canonical form is `0`)");
        }
        let magnitude = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse::<u64>().ok());
        if magnitude.is_none_or(|m| m > MAX_SAFE_MAGNITUDE) {
            return fail(pos, "a number outside the I-JSON range of ±2^53");
        }
        return Ok(i);
    }
    // Anything else must read as a double within range that ECMAScript prints as
    // exactly these bytes.
    while bytes
        .get(i)
        .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        i += 1;
    }
    let token = &bytes[pos..i];
    let value = std::str::from_utf8(token)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|v| v.is_finite());
    let Some(value) = value else {
        return fail(pos, "not a number");
    };
    // Exact: 2^53 is a power of two.
    if value.abs() > MAX_SAFE_MAGNITUDE as f64 {
        return fail(pos, "a number outside the I-JSON range of ±2^53");
    }
    if ryu_js::Buffer::new().format_finite(value).as_bytes() != token {
        return fail(pos, "a number not in its ECMAScript form");
    }
    Ok(i)
}

/// Checks the literal `word` at `pos`; returns the offset after it.
fn literal(bytes: &[u8], pos: usize, word: &[u8]) -> Result<usize, NotCanonical> {
    if bytes.get(pos..pos + word.len()) == Some(word) {
        Ok(pos + word.len())
    } else {
        fail(pos, "not a literal")
    }
}

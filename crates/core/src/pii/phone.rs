//! Phone numbers in text: spans with the shape of a phone number, validated against
//! the numbering plans of Google's libphonenumber (its Rust port, `phonenumber`).
//!
//! A number written internationally (`+CC` or `00CC`) is a phone number in every
//! region when its country code exists and its length is possible there. A number
//! written nationally (no country code) means something only in a region: written
//! like a phone number (groups, an area code in parentheses) it counts when its length
//! is possible in one of the configured default regions; a bare run of digits counts
//! when a word such as "phone" or "Tel." announces it, or when it is valid in a
//! configured region (its ranges in use) and nothing marks it as an order number, an
//! id or a Unix time — bare digits are those far more often than phone numbers.

use std::str::FromStr;
use std::sync::OnceLock;

use phonenumber::country::Id;
use phonenumber::metadata::{Descriptor, Metadata, DATABASE};
use phonenumber::PhoneNumber;
use regex::Regex;

use super::boundary::stands_alone;

/// A region whose national phone formats are recognised (ISO 3166-1 alpha-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneRegion {
    id: Id,
    /// The national number lengths its plan allows, read from the metadata once.
    national_lengths: u64,
}

/// A region code libphonenumber does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown phone region {0:?} (expected an ISO 3166-1 alpha-2 code such as US, DE or BR)")]
pub struct UnknownRegion(pub String);

impl FromStr for PhoneRegion {
    type Err = UnknownRegion;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        let upper = code.trim().to_ascii_uppercase();
        let id = Id::from_str(&upper).map_err(|_| UnknownRegion(code.to_owned()))?;
        let plan = DATABASE
            .by_id(id.as_ref())
            .ok_or_else(|| UnknownRegion(code.to_owned()))?;
        let national_lengths = descriptors(plan)
            .flat_map(|desc| desc.possible_length().iter().copied())
            .fold(0u64, |set, length| {
                set | 1u64.checked_shl(u32::from(length)).unwrap_or(0)
            });
        Ok(PhoneRegion {
            id,
            national_lengths,
        })
    }
}

impl PhoneRegion {
    /// The region's ISO 3166-1 alpha-2 code.
    pub fn code(&self) -> &str {
        self.id.as_ref()
    }

    /// The national number lengths the region's plan allows for any type of number,
    /// as a bit set (bit `n` set: `n` digits are possible).
    fn national_lengths(&self) -> u64 {
        self.national_lengths
    }
}

/// Separators people put between digit groups: a space, a dot, a dash or a slash
/// (alone or between spaces), or two spaces.
const SEP: &str = r"(?:[ \x{a0}]?[.\-/][ \x{a0}]?|[ \x{a0}]{1,2})";

fn candidate_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let pattern = format!(
            r"(?:\+[ \x{{a0}}]?)?(?:\(\+?\d{{1,5}}\)[ \x{{a0}}]?|\d)(?:{SEP}?(?:\(\d{{1,5}}\)|\d)){{5,20}}(?:[ \x{{a0}}]?(?:x|ext\.?|#)[ \x{{a0}}]?\d{{1,6}})?"
        );
        Regex::new(&pattern).expect("the phone pattern compiles")
    })
}

fn extension_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(r"[ \x{a0}]?(?:x|ext\.?|#)[ \x{a0}]?\d{1,6}$")
            .expect("the extension pattern compiles")
    })
}

/// Dates and similar dotted or dashed numbers that a numbering plan may accept.
fn date_pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(r"^(?:\d{4}[-./ ]\d{1,2}[-./ ]\d{1,2}|\d{1,2}[-./ ]\d{1,2}[-./ ]\d{2,4})$")
            .expect("the date pattern compiles")
    })
}

/// A date at the start ("2015-12-15 08:35").
fn date_prefix() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| Regex::new(r"^\d{4}-\d{2}-\d{2}").expect("the date prefix compiles"))
}

/// Words that announce a phone number, in the languages of the covered regions.
const PHONE_CUES: &[&str] = &[
    "phone",
    "tel",
    "call",
    "mobile",
    "mobil",
    "cell",
    "fax",
    "whatsapp",
    "sms",
    "☎",
    "電話",
    "电话",
    "telefon",
    "téléphone",
    "telefono",
    "teléfono",
    "telefone",
    "celular",
    "portable",
    "handy",
    "ring",
    "dial",
];

/// Words that announce an id: a bare number after them is not a phone number.
const ID_CUES: &[&str] = &[
    "order", "invoice", "ref", "id", "#", "no.", "nr", "number", "ticket", "tracking", "sku",
    "ean", "isbn", "qty", "total", "amount", "count", "tokens", "ms", "bytes", "seq", "account",
    "acct", "bestell", "commande", "pedido", "ordine", "rechnung", "facture", "factura", "fattura",
];

/// Every phone number in `text`: `(start, end)` byte ranges.
pub(crate) fn find(text: &str, regions: &[PhoneRegion], out: &mut Vec<(usize, usize)>) {
    enlarge_regex_cache();
    let pattern = candidate_pattern();
    let mut at = 0;
    while let Some(m) = pattern.find_at(text, at) {
        let ends = group_ends(text, m.start(), m.end());
        let accepted = ends.iter().rev().copied().find(|&end| {
            stands_alone(text, m.start(), end, &['-', '.', '/', '_', ','])
                && !part_of_a_time(text, m.start(), end)
                && is_phone(
                    &text[m.start()..end],
                    regions,
                    || cue_before(text, m.start(), PHONE_CUES),
                    || cue_before(text, m.start(), ID_CUES),
                )
        });
        match accepted {
            Some(end) => {
                out.push((m.start(), end));
                at = end;
            }
            // Skip the first group only: a later group may start a number.
            None => at = ends.first().copied().unwrap_or(m.end()).max(m.start() + 1),
        }
        while !text.is_char_boundary(at) {
            at += 1;
        }
    }
}

/// Compiled expressions `phonenumber` keeps. Its own default (100) is smaller than the
/// working set of the ten default regions (each plan has a dozen or more expressions,
/// and international numbers bring their own countries'), so an LRU of 100 evicted and
/// recompiled expressions on nearly every parse: compiling was most of the scanner's
/// time. The whole metadata has a few thousand; this holds every region a deployment
/// plausibly sees, at a few kilobytes each.
const PHONE_REGEX_CACHE: usize = 2048;

/// Replaces `phonenumber`'s regular-expression cache by a larger one, once. Every
/// cached expression of the metadata holds the same shared cache and looks its
/// compiled form up there by source, so swapping the cache's contents changes only
/// how much stays compiled.
fn enlarge_regex_cache() {
    static ENLARGED: OnceLock<()> = OnceLock::new();
    ENLARGED.get_or_init(|| {
        let cache = DATABASE.cache();
        let mut guard = cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard = regex_cache::RegexCache::new(PHONE_REGEX_CACHE);
    });
}

/// The places where a digit group of the span ends: where a number inside it may end.
fn group_ends(text: &str, start: usize, end: usize) -> Vec<usize> {
    let span = &text[start..end];
    let mut ends = Vec::new();
    let mut chars = span.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        if (c.is_ascii_digit() || c == ')') && !next.is_some_and(|n| n.is_ascii_digit()) {
            ends.push(start + i + c.len_utf8());
        }
    }
    ends
}

/// A colon between digits joins the parts of a time ("08:35:10", "T09:22:35.06").
fn part_of_a_time(text: &str, start: usize, end: usize) -> bool {
    let mut before = text[..start].chars().rev();
    let mut after = text[end..].chars();
    (before.next() == Some(':') && before.next().is_some_and(|c| c.is_ascii_digit()))
        || (after.next() == Some(':') && after.next().is_some_and(|c| c.is_ascii_digit()))
}

/// One of `cues` is a word among the 24 characters before `start` ("id" in "id:",
/// not in "valid").
fn cue_before(text: &str, start: usize, cues: &[&str]) -> bool {
    let window_start = text[..start]
        .char_indices()
        .rev()
        .nth(23)
        .map_or(0, |(i, _)| i);
    let window = text[window_start..start].to_lowercase();
    cues.iter().any(|cue| {
        window.match_indices(cue).any(|(i, _)| {
            let before = window[..i].chars().next_back();
            let after = window[i + cue.len()..].chars().next();
            let word = |c: char| c.is_alphanumeric();
            !before.is_some_and(word) && !after.is_some_and(word)
                || !cue.chars().all(char::is_alphanumeric)
        })
    })
}

/// `span` is a phone number: international and possible in its country; national,
/// written like a phone number and possible in a configured region; or a bare run of
/// digits that a cue announces or that is valid in a configured region.
fn is_phone(
    span: &str,
    regions: &[PhoneRegion],
    cue: impl Fn() -> bool,
    id_cue: impl Fn() -> bool,
) -> bool {
    let number = extension_pattern()
        .find(span)
        .map_or(span, |ext| &span[..ext.start()]);
    let digits = number.bytes().filter(u8::is_ascii_digit).count();
    let trimmed = number.trim_start_matches(['(', ' ']);
    let international = trimmed.starts_with('+') || trimmed.starts_with("00");
    if international {
        let rest = trimmed.trim_start_matches('+');
        let rest = rest.strip_prefix("00").unwrap_or(rest);
        // "+44 (0) 20..." writes the trunk prefix a caller from abroad drops.
        let digits_only: String = rest
            .replacen("(0)", "", 1)
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let normal = format!("+{digits_only}");
        let e164_digits = normal.bytes().filter(u8::is_ascii_digit).count();
        return (7..=15).contains(&e164_digits)
            && phonenumber::parse(None, &normal).is_ok_and(|n| plausible(&n));
    }
    if !(7..=15).contains(&digits) || date_pattern().is_match(number) || regions.is_empty() {
        return false;
    }
    let formatted = number.contains(['(', ' ', '-', '.', '/', '\u{a0}']);
    if formatted {
        if !grouped_like_a_phone(number) || id_cue() {
            return false;
        }
        return fitting(regions, digits).any(|region| {
            phonenumber::parse(Some(region.id), number).is_ok_and(|n| plausible(&n))
        });
    }
    // A bare run of digits is a phone number when a word such as "phone" announces
    // it, or when it is valid in a region (its ranges in use, not only its length),
    // has the 10 to 12 digits of a full national number in the covered plans, or 9
    // after a leading 0 (Italian landlines; other nine-digit runs are order numbers
    // far more often than Spanish numbers; 13 digits is an EAN), is not announced as an order, invoice or other id, and is
    // not a Unix time of this century (seconds or milliseconds).
    if cue() {
        return fitting(regions, digits).any(|region| {
            phonenumber::parse(Some(region.id), number).is_ok_and(|n| plausible(&n))
        });
    }
    ((10..=12).contains(&digits) || (digits == 9 && number.starts_with('0')))
        && !id_cue()
        && !unix_time(number)
        && fitting(regions, digits)
            .any(|region| phonenumber::parse(Some(region.id), number).is_ok_and(|n| n.is_valid()))
}

/// Digits a national prefix and a carrier selection code may add in front of the
/// national number (Brazil's "0 21 11 98765 4321" adds three; "90" and a carrier code
/// add four).
const MAX_PREFIX_DIGITS: usize = 4;

/// The regions among `regions` where a nationally written number of `digits` digits
/// can be a phone number at all: its national number (the digits less a trunk prefix
/// and carrier code of at most `MAX_PREFIX_DIGITS`) has a length the region's plan
/// allows. Parsing costs microseconds (libphonenumber's regular expressions); this
/// table lookup costs nanoseconds and rules out most regions for most digit runs.
fn fitting(regions: &[PhoneRegion], digits: usize) -> impl Iterator<Item = &PhoneRegion> {
    regions.iter().filter(move |region| {
        let lengths = region.national_lengths();
        (0..=MAX_PREFIX_DIGITS.min(digits)).any(|prefix| {
            u32::try_from(digits - prefix)
                .ok()
                .and_then(|length| 1u64.checked_shl(length))
                .is_some_and(|bit| lengths & bit != 0)
        })
    })
}

/// The number is valid in its country (its ranges in use) or has a length its plan
/// allows. The length check needs no regular expression, so it goes first.
fn plausible(number: &PhoneNumber) -> bool {
    possible(number) || number.is_valid()
}

/// Seconds or milliseconds since 1970 between 2001 and 2033: the shape of the
/// timestamps agent payloads are full of.
fn unix_time(digits: &str) -> bool {
    let seconds = match digits.len() {
        10 => digits.parse::<u64>().ok(),
        13 => digits.parse::<u64>().ok().map(|ms| ms / 1000),
        _ => None,
    };
    seconds.is_some_and(|s| (978_307_200..=2_000_000_000).contains(&s))
}

/// Groups of a nationally written number: a single-digit group only first (a trunk
/// or country code, "1 (786) 834-4978"), and not four dot-separated groups (an IPv4
/// address or a version).
fn grouped_like_a_phone(number: &str) -> bool {
    let groups: Vec<&str> = number
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    let dots = number.matches('.').count();
    let digits: usize = groups.iter().map(|g| g.len()).sum();
    // "64.3548215" and "98.581.64" are decimals and amounts.
    let dotted_ok = dots == 0 || (groups.len() >= 3 && digits >= 9);
    // "123-45-6789" is the shape of a US SSN, valid or not.
    let ssn_shape = number.len() == 11 && number.split('-').map(str::len).eq([3, 2, 4]);
    dotted_ok
        && !ssn_shape
        && !date_prefix().is_match(number)
        && groups.len() >= 2
        && groups.iter().skip(1).all(|g| g.len() >= 2)
        && !(dots >= 3 && groups.len() == 4 && groups.iter().all(|g| g.len() <= 3))
}

/// The number's length is one its country's numbering plan allows for some type of
/// number (libphonenumber's "possible number": the length, not the ranges in use).
fn possible(number: &PhoneNumber) -> bool {
    let length = u16::try_from(number.national().to_string().len()).unwrap_or(u16::MAX);
    DATABASE
        .by_code(&number.code().value())
        .is_some_and(|plans| {
            plans
                .iter()
                .any(|plan| descriptors(plan).any(|desc| desc.possible_length().contains(&length)))
        })
}

/// The descriptors of a plan's types of number (general first).
fn descriptors(plan: &Metadata) -> impl Iterator<Item = &Descriptor> {
    let d = plan.descriptors();
    std::iter::once(Some(d.general()))
        .chain([
            d.fixed_line(),
            d.mobile(),
            d.toll_free(),
            d.premium_rate(),
            d.shared_cost(),
            d.personal_number(),
            d.voip(),
            d.uan(),
        ])
        .flatten()
}

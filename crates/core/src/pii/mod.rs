//! Personal data in text (CONTRACT section 2, "Personal data in text").
//!
//! Detectors find e-mail addresses, phone numbers (international formats in every
//! region, national formats in the configured default regions, by libphonenumber's
//! numbering plans: `phone.rs`), payment cards (Luhn), IBANs (ISO 13616 mod-97), US
//! SSNs and IPv4/IPv6 addresses, plus any configured ones (name, regex, optional
//! checksum, token type). A value is found whatever surrounds it: where it ends is
//! decided by `boundary.rs`, not by the patterns. Each match becomes a
//! typed token `<EMAIL_<base32>>`: HMAC-SHA-256 under the store's token key over type
//! and value, truncated to 80 bits, so the same value always gets the same token and
//! nobody without the key can confirm a guess. The clear values are handed back to
//! the caller for the vault.
//!
//! Precision over recall where they conflict: ids, timestamps, versions, hashes and
//! order numbers are common in agent payloads and must not turn into tokens. Checksums
//! (Luhn, mod-97), issuer prefixes and structural rules keep look-alikes out. The
//! generated corpus in `testdata/pii/` measures both, per kind (`docs/privacy.md`).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use regex::Regex;
use sha2::Sha256;

use crate::token::TokenKey;

mod boundary;
mod checks;
mod declared;
mod phone;

use boundary::stands_alone;
use checks::{card_prefix_and_length, consistent_separators, ssn_valid};
pub use checks::{luhn_valid, mod97_valid};
pub use declared::{
    declared_token, identifier_kind, normalized_pairs, DeclaredIdentifiers, Matchers,
    MAX_IDENTIFIER_KEY,
};
pub use phone::{PhoneRegion, UnknownRegion};

/// Bytes of HMAC kept in a PII token (80 bits ≥ the contract's 64).
const PII_TOKEN_BYTES: usize = 10;

/// A checksum a detector's matches must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    None,
    /// Payment cards (ISO/IEC 7812).
    Luhn,
    /// IBANs (ISO 13616, ISO 7064 MOD 97-10).
    Mod97,
}

/// A detector configured by the deployment.
#[derive(Debug, Clone)]
pub struct CustomDetector {
    /// Its name, for errors and docs.
    pub name: String,
    pub pattern: Regex,
    pub checksum: Checksum,
    /// The token type: `EMPLOYEE_ID` gives `<EMPLOYEE_ID_...>`. Uppercase letters,
    /// digits and `_`.
    pub token_type: String,
}

/// A clear value found in text, and the token that replaced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub token: String,
    pub kind: String,
    pub value: String,
}

/// The detectors in force: the built-in ones and the configured ones.
#[derive(Debug, Clone)]
pub struct Detectors {
    pub custom: Vec<CustomDetector>,
    /// Regions whose nationally written phone numbers are found (international ones
    /// are found in every region).
    pub phone_regions: Vec<PhoneRegion>,
    /// Fields whose values are always tokenized whole, as a kind.
    pub field_rules: Vec<FieldRule>,
    /// Configured values (e.g. an export of customer names) matched in all text. The
    /// list itself lives in the deployment's configuration, outside the store and so
    /// outside crypto-shredding.
    pub dictionary: Option<std::sync::Arc<DeclaredIdentifiers>>,
}

/// Where a field rule applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldTarget {
    /// An RFC 6901 JSON pointer into the event's `input`, `output` or `attributes`
    /// (`/input/customer/name`).
    Pointer(String),
    /// Every member of this name in `input`, `output` and `attributes`, at any depth.
    Key(String),
}

/// A configured field whose value is always tokenized as `kind`, whatever it looks
/// like (the server-side masking of a field an application knows is personal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRule {
    pub target: FieldTarget,
    /// The token type, e.g. `NAME` or `DOB`.
    pub kind: String,
}

/// The regions whose national phone formats are found unless configured otherwise:
/// the ones the generated corpus measures (`docs/privacy.md`), all at once.
pub const DEFAULT_PHONE_REGIONS: [&str; 10] =
    ["US", "CA", "GB", "DE", "FR", "ES", "IT", "NL", "IN", "BR"];

impl Default for Detectors {
    fn default() -> Self {
        Self {
            custom: Vec::new(),
            field_rules: Vec::new(),
            dictionary: None,
            phone_regions: DEFAULT_PHONE_REGIONS
                .iter()
                .map(|code| {
                    code.parse()
                        .expect("libphonenumber knows the default regions")
                })
                .collect(),
        }
    }
}

struct Builtins {
    email: Regex,
    card: Regex,
    iban: Regex,
    ssn: Regex,
    ipv4: Regex,
    ipv6: Regex,
}

fn builtins() -> &'static Builtins {
    static BUILTINS: OnceLock<Builtins> = OnceLock::new();
    BUILTINS.get_or_init(|| {
        let re = |p: &str| Regex::new(p).expect("built-in patterns compile");
        Builtins {
            // The local part may hold Latin letters beyond ASCII (RFC 6531: "müller@").
            email: re(r"[\p{Latin}0-9][\p{Latin}0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}"),
            card: re(r"\d(?:[ -]?\d){11,18}"),
            iban: re(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}"),
            ssn: re(r"\d{3}-\d{2}-\d{4}"),
            ipv4: re(r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"),
            ipv6: re(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,9}(?:(?:\.\d{1,3}){3})?(?:%[0-9A-Za-z]+)?"),
        }
    })
}

/// A candidate match: where, what kind, and the priority that settles overlaps.
struct Candidate {
    start: usize,
    end: usize,
    kind: String,
    priority: u8,
}

impl Detectors {
    /// Replaces every piece of personal data in `text` by its token; returns the new
    /// text (or `None` if nothing was found) and appends what was found to `found`.
    pub fn tokenize(&self, key: &TokenKey, text: &str, found: &mut Vec<Finding>) -> Option<String> {
        let after_dictionary = self
            .dictionary
            .as_ref()
            .and_then(|d| d.tokenize(key, text, found));
        let current = after_dictionary.as_deref().unwrap_or(text);
        self.tokenize_patterns(key, current, found)
            .or(after_dictionary)
    }

    /// The built-in and configured patterns over `text`.
    fn tokenize_patterns(
        &self,
        key: &TokenKey,
        text: &str,
        found: &mut Vec<Finding>,
    ) -> Option<String> {
        // The shortest value any built-in detector finds is the IPv6 address "::1".
        if text.len() < 3 {
            return None;
        }
        let mut candidates = self.candidates(text);
        if candidates.is_empty() {
            return None;
        }
        // Where candidates overlap, the longest wins ("::DE36 0000 …" is an IBAN
        // after two colons, not the IPv6 address "::DE36"); at equal length the
        // higher priority (a deployment's own detectors first), then the earliest.
        candidates.sort_by_key(|c| (usize::MAX - (c.end - c.start), c.priority, c.start));
        let mut chosen: Vec<Candidate> = Vec::with_capacity(candidates.len());
        for c in candidates {
            if chosen.iter().all(|k| c.end <= k.start || k.end <= c.start) {
                chosen.push(c);
            }
        }
        chosen.sort_by_key(|c| c.start);
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for c in chosen {
            let value = &text[c.start..c.end];
            let token = pii_token(key, &c.kind, value);
            out.push_str(&text[at..c.start]);
            out.push_str(&token);
            found.push(Finding {
                token,
                kind: c.kind,
                value: value.to_owned(),
            });
            at = c.end;
        }
        out.push_str(&text[at..]);
        Some(out)
    }

    fn candidates(&self, text: &str) -> Vec<Candidate> {
        let b = builtins();
        let mut out = Vec::new();
        let mut push = |start, end, kind: &str, priority| {
            out.push(Candidate {
                start,
                end,
                kind: kind.to_owned(),
                priority,
            });
        };
        // Custom detectors first: a deployment's own types win ties.
        for d in &self.custom {
            for m in d.pattern.find_iter(text) {
                if passes(d.checksum, m.as_str()) {
                    push(m.start(), m.end(), &d.token_type, 0);
                }
            }
        }
        if text.contains('@') {
            for m in b.email.find_iter(text) {
                let mut start = m.start();
                // A JSON escape written out in the text ("\\njane@...") is not part of
                // the address.
                if text[..start].ends_with('\\') && m.as_str().starts_with(['n', 't', 'r']) {
                    start += 1;
                }
                let after = text[m.end()..].chars().next();
                if !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '@') {
                    push(start, m.end(), "EMAIL", 1);
                }
            }
        }
        let has_digit = text.bytes().any(|c| c.is_ascii_digit());
        if has_digit {
            for m in b.iban.find_iter(text) {
                if let Some(end) = iban_end(text, m.start(), m.end()) {
                    push(m.start(), end, "IBAN", 2);
                }
            }
            for m in b.card.find_iter(text) {
                if let Some(end) = card_end(text, m.start(), m.end()) {
                    push(m.start(), end, "CARD", 2);
                }
            }
            for m in b.ssn.find_iter(text) {
                if stands_alone(text, m.start(), m.end(), &['-', '.', '/']) && ssn_valid(m.as_str())
                {
                    push(m.start(), m.end(), "SSN", 3);
                }
            }
            for m in b.ipv4.find_iter(text) {
                if stands_alone(text, m.start(), m.end(), &['.'])
                    && m.as_str().parse::<Ipv4Addr>().is_ok()
                {
                    push(m.start(), m.end(), "IP", 3);
                }
            }
            let mut phones = Vec::new();
            phone::find(text, &self.phone_regions, &mut phones);
            for (start, end) in phones {
                push(start, end, "PHONE", 4);
            }
        }
        if text.contains(':') {
            for m in b.ipv6.find_iter(text) {
                if let Some((start, end)) = ipv6_span(text, m.start(), m.end()) {
                    push(start, end, "IP", 3);
                }
            }
        }
        out
    }
}

/// The longest prefix of `text[start..end]` that is a valid IBAN ending at a word
/// boundary: the pattern is greedy and may have run into a following word.
fn iban_end(text: &str, start: usize, end: usize) -> Option<usize> {
    let mut candidate_end = end;
    while candidate_end > start {
        let slice = &text[start..candidate_end];
        let compact: String = slice.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.len() < 15 {
            return None;
        }
        if compact.len() <= 34
            && !slice.ends_with(' ')
            && stands_alone(text, start, candidate_end, &[])
            && mod97_valid(&compact)
        {
            return Some(candidate_end);
        }
        candidate_end -= slice.chars().next_back().map_or(1, char::len_utf8);
    }
    None
}

/// The IPv6 address inside the match, if any. The pattern may have started inside
/// the word before ("value:48b:c7cb:…" starts at the `e`) or run into a colon after
/// ("1:::"), so later starts after a colon and shorter ends are tried too; an address
/// that ends where the pattern did comes first. One exception: an address that starts
/// right after a "::" inside the match loses to a longer one that does not, because
/// "::" compresses zero groups of the address it is in ("1::1::" is "1::1" and a
/// "::", not the "1::" after it), while "::1:0:1:0:1:0:1:0" stays the eight groups
/// after the "::" (the alternative is no longer).
fn ipv6_span(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let starts: Vec<usize> = std::iter::once(start)
        .chain(
            text[start..end]
                .match_indices(':')
                .take(2)
                .map(|(i, _)| start + i + 1),
        )
        .collect();
    let first = ipv6_span_from(text, &starts, start, end)?;
    let inside_compression = |s: usize| s >= start + 2 && text[..s].ends_with("::");
    if !inside_compression(first.0) {
        return Some(first);
    }
    let others: Vec<usize> = starts
        .into_iter()
        .filter(|&s| !inside_compression(s))
        .collect();
    let longer = (end.saturating_sub(5).max(start + 2)..=end)
        .flat_map(|e| others.iter().map(move |&s| (s, e)))
        .filter(|&(s, e)| s + 2 <= e && e - s > first.1 - first.0)
        .filter(|&(s, e)| is_ipv6_at(text, s, e))
        .max_by_key(|&(s, e)| (e - s, e));
    Some(longer.unwrap_or(first))
}

/// `text[start..end]` is an IPv6 address standing alone.
fn is_ipv6_at(text: &str, start: usize, end: usize) -> bool {
    let address = text[start..end].split('%').next().unwrap_or_default();
    address.matches(':').count() >= 2
        && address.bytes().any(|c| c.is_ascii_hexdigit())
        && address.parse::<Ipv6Addr>().is_ok()
        && stands_alone(text, start, end, &[])
}

/// The first address among `starts` and ends at or a little before `end`.
fn ipv6_span_from(
    text: &str,
    starts: &[usize],
    start: usize,
    end: usize,
) -> Option<(usize, usize)> {
    // The full end first: an address that ends where the pattern did is more likely
    // than one cut short ("cc:1:0:1:0:1:0:1:0" is eight groups after "cc:").
    // The pattern is ASCII: every byte offset is a char boundary.
    for candidate_end in (end.saturating_sub(5).max(start + 2)..=end).rev() {
        for &candidate_start in starts.iter().filter(|&&s| s + 2 <= candidate_end) {
            if is_ipv6_at(text, candidate_start, candidate_end) {
                return Some((candidate_start, candidate_end));
            }
        }
    }
    None
}

/// The end of the payment card number that starts the match, if any: the pattern is
/// greedy and may have taken the digit groups that follow a card ("4111 1111 1111
/// 1111 12 27"), so shorter spans ending at a group are tried too.
fn card_end(text: &str, start: usize, end: usize) -> Option<usize> {
    let mut candidate_end = end;
    loop {
        let span = &text[start..candidate_end];
        let digits: String = span.chars().filter(char::is_ascii_digit).collect();
        if digits.len() < 12 {
            return None;
        }
        if stands_alone(text, start, candidate_end, &['-', '.', '/', ','])
            && consistent_separators(span)
            && card_prefix_and_length(&digits)
            && luhn_valid(&digits)
        {
            return Some(candidate_end);
        }
        // Drop the last group (or the last digit of an unseparated run: then no
        // shorter span can stand alone, and the loop ends on the digit count).
        candidate_end = span
            .rfind([' ', '-'])
            .map_or(candidate_end - 1, |sep| start + sep);
    }
}

/// The token of a value of a kind: `<KIND_<base32 of 80 bits>>`.
pub fn pii_token(key: &TokenKey, kind: &str, value: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(b"evident/pii\0");
    mac.update(kind.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!(
        "<{kind}_{}>",
        BASE32_NOPAD.encode(&bytes[..PII_TOKEN_BYTES])
    )
}

/// `true` if `text` has the shape of a PII token.
pub fn is_pii_token(text: &str) -> bool {
    let Some(inner) = text.strip_prefix('<').and_then(|t| t.strip_suffix('>')) else {
        return false;
    };
    let Some((kind, code)) = inner.rsplit_once('_') else {
        return false;
    };
    !kind.is_empty()
        && kind
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && code.len() == 16
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
}

fn passes(checksum: Checksum, value: &str) -> bool {
    match checksum {
        Checksum::None => true,
        Checksum::Luhn => luhn_valid(
            &value
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>(),
        ),
        Checksum::Mod97 => mod97_valid(
            &value
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenize(text: &str) -> (String, Vec<Finding>) {
        let key = TokenKey::from_bytes([3; 32]);
        let mut found = Vec::new();
        let out = Detectors::default()
            .tokenize(&key, text, &mut found)
            .unwrap_or_else(|| text.to_owned());
        (out, found)
    }

    #[test]
    fn finds_each_kind() {
        let (out, found) = tokenize(
            "mail maria.g@example.com, call +44 20 7946 0958, card 4111 1111 1111 1111, \
             IBAN GB82 WEST 1234 5698 7654 32, SSN 123-45-6789, from 192.168.1.20 and 2001:db8::1",
        );
        let kinds: Vec<&str> = found.iter().map(|f| f.kind.as_str()).collect();
        assert_eq!(
            kinds,
            vec!["EMAIL", "PHONE", "CARD", "IBAN", "SSN", "IP", "IP"],
            "{out}"
        );
        assert!(!out.contains("maria") && !out.contains("4111") && !out.contains("192.168"));
        assert!(found.iter().all(|f| is_pii_token(&f.token)), "{found:?}");
    }

    /// Values that were left in clear by the characters around them, and national
    /// numbers no pattern of ours could know.
    #[test]
    fn values_are_found_whatever_surrounds_them() {
        for (text, kind, value) in [
            ("mail jane@example.org.", "EMAIL", "jane@example.org"),
            ("call +1-415-555-7234.", "PHONE", "+1-415-555-7234"),
            ("from 203.0.113.226.", "IP", "203.0.113.226"),
            ("phone:+14155557234;", "PHONE", "+14155557234"),
            ("Handy 0171 1234567", "PHONE", "0171 1234567"),
            ("0171 1234567", "PHONE", "0171 1234567"),
            ("SSN 123-45-6789.", "SSN", "123-45-6789"),
            ("联系jane@example.org谢谢", "EMAIL", "jane@example.org"),
            ("{\"note\":\"ip 203.0.113.226\"}", "IP", "203.0.113.226"),
            (
                "https://x.example/cb?tel=%2B1&ip=203.0.113.226&x=1",
                "IP",
                "203.0.113.226",
            ),
            (
                "value:48b:c7cb:a619:2378:c756:3228:bed3:a40|",
                "IP",
                "48b:c7cb:a619:2378:c756:3228:bed3:a40",
            ),
            (
                "**card** 4111-1111-1111-1111.",
                "CARD",
                "4111-1111-1111-1111",
            ),
        ] {
            let (out, found) = tokenize(text);
            assert!(
                found.iter().any(|f| f.kind == kind && f.value == value),
                "{text:?} → {out:?} {found:?}"
            );
            assert!(!out.contains(value), "{out}");
        }
    }

    #[test]
    fn national_numbers_need_a_configured_region() {
        let key = TokenKey::from_bytes([3; 32]);
        let only_us = Detectors {
            phone_regions: vec!["US".parse().unwrap()],
            ..Detectors::default()
        };
        let mut found = Vec::new();
        assert!(only_us
            .tokenize(&key, "Handy 0171 1234567", &mut found)
            .is_none());
        assert!(only_us
            .tokenize(&key, "call (415) 555-7234", &mut found)
            .is_some());
        assert!(only_us
            .tokenize(&key, "Handy +49 171 1234567", &mut found)
            .is_some());
        assert!("XX".parse::<PhoneRegion>().is_err());
    }

    #[test]
    fn look_alikes_stay() {
        for text in [
            "order ORD-2024-118822 shipped 2026-11-23T14:22:07Z",
            "version 1.2.3 build 4.5.6-beta",
            "sha256:9f2c41aa00112233445566778899aabbccddeeff00112233445566778899aabb",
            "invoice 4111111111111112 total 1234567890123",
            "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
            "time 14:22:07.123 latency 1430 ms tokens 812",
            "amount 1,234.56 EUR qty 10000",
        ] {
            let (out, found) = tokenize(text);
            assert!(found.is_empty(), "{text} → {out}");
        }
    }

    #[test]
    fn tokens_are_stable_and_typed() {
        let (a, _) = tokenize("write to bob@example.org please");
        let (b, _) = tokenize("cc bob@example.org");
        let token = |s: &str| {
            s.split_whitespace()
                .find(|w| w.starts_with("<EMAIL_"))
                .unwrap()
                .to_owned()
        };
        assert_eq!(token(&a), token(&b));
    }

    #[test]
    fn checksums() {
        assert!(luhn_valid("4111111111111111"));
        assert!(!luhn_valid("4111111111111112"));
        assert!(mod97_valid("GB82WEST12345698765432"));
        assert!(!mod97_valid("GB82WEST12345698765433"));
    }
}

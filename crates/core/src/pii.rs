//! Personal data in text (CONTRACT section 2, "Personal data in text").
//!
//! Detectors find e-mail addresses, phone numbers (international formats), payment
//! cards (Luhn), IBANs (ISO 13616 mod-97), US SSNs and IPv4/IPv6 addresses, plus any
//! configured ones (name, regex, optional checksum, token type). Each match becomes a
//! typed token `<EMAIL_<base32>>`: HMAC-SHA-256 under the store's token key over type
//! and value, truncated to 80 bits, so the same value always gets the same token and
//! nobody without the key can confirm a guess. The clear values are handed back to
//! the caller for the vault.
//!
//! Precision over recall where they conflict: ids, timestamps, versions, hashes and
//! order numbers are common in agent payloads and must not turn into tokens. Checksums
//! (Luhn, mod-97), issuer prefixes and structural rules keep look-alikes out; the test
//! corpus in `testdata/pii/` measures both.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use regex::Regex;
use sha2::Sha256;

use crate::token::TokenKey;

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
#[derive(Debug, Clone, Default)]
pub struct Detectors {
    pub custom: Vec<CustomDetector>,
}

struct Builtins {
    email: Regex,
    phone: Regex,
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
            email: re(r"[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}"),
            // +CC and groups separated by space, dot or dash, or a parenthesised area
            // code; bare digit runs are not phones (they are usually ids).
            phone: re(r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]\d{2,8}){1,4}|\+\d{7,15}"),
            card: re(r"\d(?:[ -]?\d){12,18}"),
            iban: re(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}"),
            ssn: re(r"\d{3}-\d{2}-\d{4}"),
            ipv4: re(r"\d{1,3}(?:\.\d{1,3}){3}"),
            ipv6: re(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%[0-9A-Za-z]+)?"),
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
        if text.len() < 6 {
            return None;
        }
        let mut candidates = self.candidates(text);
        if candidates.is_empty() {
            return None;
        }
        // Earliest first; at the same start, the higher priority, then the longer.
        candidates.sort_by_key(|c| (c.start, c.priority, usize::MAX - c.end));
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for c in candidates {
            if c.start < at {
                continue;
            }
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
                if bounded(text, m.start(), m.end(), |c| {
                    c.is_alphanumeric() || c == '.'
                }) {
                    push(m.start(), m.end(), "EMAIL", 1);
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
                let digits: String = m.as_str().chars().filter(char::is_ascii_digit).collect();
                if bounded(text, m.start(), m.end(), |c| {
                    c.is_alphanumeric() || c == '-' || c == '_'
                }) && consistent_separators(m.as_str())
                    && card_prefix_and_length(&digits)
                    && luhn_valid(&digits)
                {
                    push(m.start(), m.end(), "CARD", 2);
                }
            }
            for m in b.ssn.find_iter(text) {
                if bounded(text, m.start(), m.end(), |c| {
                    c.is_alphanumeric() || c == '-' || c == '.'
                }) && ssn_valid(m.as_str())
                {
                    push(m.start(), m.end(), "SSN", 3);
                }
            }
            for m in b.ipv4.find_iter(text) {
                if bounded(text, m.start(), m.end(), |c| {
                    c.is_alphanumeric() || c == '.'
                }) && m.as_str().parse::<Ipv4Addr>().is_ok()
                {
                    push(m.start(), m.end(), "IP", 3);
                }
            }
            for m in b.phone.find_iter(text) {
                if bounded(text, m.start(), m.end(), |c| {
                    c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':')
                }) && phone_plausible(m.as_str())
                {
                    push(m.start(), m.end(), "PHONE", 4);
                }
            }
        }
        if text.contains(':') {
            for m in b.ipv6.find_iter(text) {
                let candidate = m.as_str().split('%').next().unwrap_or_default();
                if bounded(text, m.start(), m.end(), |c| {
                    c.is_alphanumeric() || c == ':'
                }) && candidate.matches(':').count() >= 2
                    && candidate.bytes().any(|c| c.is_ascii_hexdigit())
                    && candidate.parse::<Ipv6Addr>().is_ok()
                {
                    push(m.start(), m.end(), "IP", 3);
                }
            }
        }
        out
    }
}

/// The longest prefix of `text[start..end]` that is a valid IBAN ending at a word
/// boundary: the pattern is greedy and may have run into a following word.
fn iban_end(text: &str, start: usize, end: usize) -> Option<usize> {
    if text[..start]
        .chars()
        .next_back()
        .is_some_and(char::is_alphanumeric)
    {
        return None;
    }
    let mut candidate_end = end;
    while candidate_end > start {
        let slice = &text[start..candidate_end];
        let compact: String = slice.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.len() < 15 {
            return None;
        }
        if compact.len() <= 34
            && !slice.ends_with(' ')
            && !text[candidate_end..]
                .chars()
                .next()
                .is_some_and(char::is_alphanumeric)
            && mod97_valid(&compact)
        {
            return Some(candidate_end);
        }
        candidate_end -= slice.chars().next_back().map_or(1, char::len_utf8);
    }
    None
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

/// The match is not glued to a longer word on either side.
fn bounded(text: &str, start: usize, end: usize, glue: impl Fn(char) -> bool) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(&glue) && !after.is_some_and(&glue)
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

/// The Luhn check (ISO/IEC 7812-1 annex B).
pub fn luhn_valid(digits: &str) -> bool {
    if digits.len() < 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Issuer prefixes and lengths of the major card networks (ISO/IEC 7812 IINs), so a
/// Luhn-valid order number is not taken for a card.
fn card_prefix_and_length(digits: &str) -> bool {
    let len = digits.len();
    let prefix = |n: usize| {
        digits
            .get(..n)
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0)
    };
    let visa = digits.starts_with('4') && matches!(len, 13 | 16 | 19);
    let mastercard =
        ((51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4))) && len == 16;
    let amex = matches!(prefix(2), 34 | 37) && len == 15;
    let discover = (prefix(4) == 6011 || prefix(2) == 65 || (644..=649).contains(&prefix(3)))
        && (16..=19).contains(&len);
    let diners = ((300..=305).contains(&prefix(3)) || matches!(prefix(2), 36 | 38))
        && (14..=19).contains(&len);
    let jcb = (3528..=3589).contains(&prefix(4)) && (16..=19).contains(&len);
    visa || mastercard || amex || discover || diners || jcb
}

/// Separators in a card number are all the same (or absent).
fn consistent_separators(text: &str) -> bool {
    let seps: Vec<char> = text.chars().filter(|c| !c.is_ascii_digit()).collect();
    seps.windows(2).all(|w| w[0] == w[1])
}

/// The IBAN check: move the first four characters to the end, letters to numbers
/// (A = 10), and the remainder mod 97 must be 1 (ISO 7064 MOD 97-10).
pub fn mod97_valid(iban: &str) -> bool {
    if iban.len() < 5
        || !iban
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return false;
    }
    let (head, tail) = iban.split_at(4);
    let mut remainder: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let value = c.to_digit(36).unwrap_or(0);
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

/// SSA rules: no area 000, 666 or 900–999, no group 00, no serial 0000.
fn ssn_valid(ssn: &str) -> bool {
    let parts: Vec<&str> = ssn.split('-').collect();
    let [area, group, serial] = parts.as_slice() else {
        return false;
    };
    let area: u32 = area.parse().unwrap_or(0);
    area != 0 && area != 666 && area < 900 && *group != "00" && *serial != "0000"
}

/// A phone match is plausible: 7 to 15 digits (E.164), and either an international
/// `+` prefix, a parenthesised area code, or at least two separated groups with the
/// last one of 3+ digits (which rules out dates like 2026-11-23 and versions).
fn phone_plausible(text: &str) -> bool {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    if !(7..=15).contains(&digits) {
        return false;
    }
    if text.starts_with('+') || text.contains('(') {
        return true;
    }
    // The shape of a US SSN (valid or not) is not a phone number.
    if text.len() == 11 && text.split('-').map(str::len).eq([3, 2, 4]) {
        return false;
    }
    let groups: Vec<&str> = text
        .split([' ', '.', '-'])
        .filter(|g| !g.is_empty())
        .collect();
    let seps: Vec<char> = text
        .chars()
        .filter(|c| matches!(c, ' ' | '.' | '-'))
        .collect();
    let same_separator = seps.windows(2).all(|w| w[0] == w[1]);
    // Dotted numbers with four groups are IPs or versions; with a leading 4-digit
    // group they are usually dates or years.
    groups.len() >= 3
        && groups.len() <= 4
        && same_separator
        && groups.last().is_some_and(|g| g.len() >= 4)
        && groups.first().is_some_and(|g| g.len() <= 3)
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

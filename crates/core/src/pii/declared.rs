//! Identifiers no pattern can see (CONTRACT section 2): the values an event declares
//! in `context.subject_identifiers` (`{"name": "Wei Novak", "customer_id": "C-1042"}`)
//! are tokenized wherever they occur in the event's text, case- and
//! whitespace-insensitively, names also as "Novak, Wei", "Novak Wei" and "W. Novak".
//!
//! Every variant of a value gets the value's one token (`<NAME_…>`, typed by the
//! declaration's key), and the finding holds the declared value, so a reveal answers
//! "Wei Novak" whichever way the text wrote it. One Aho-Corasick automaton matches
//! all variants of all values in one pass over the text.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::{pii_token, Finding};
use crate::token::TokenKey;

/// The longest key of `subject_identifiers`: it becomes a token's type.
pub const MAX_IDENTIFIER_KEY: usize = 64;

/// At most this many patterns (a few declared values and their variants) are built
/// into the quick-to-build automaton; more (a dictionary) into the quick-to-search one.
const PER_EVENT_PATTERNS: usize = 256;

/// A declared value and its kind.
#[derive(Debug, Clone)]
struct Declared {
    kind: String,
    value: String,
}

/// Values to find in text, ready to match: the declared identifiers of one event, or
/// a configured dictionary. `Debug` shows how many, never the values.
#[derive(Clone)]
pub struct DeclaredIdentifiers {
    declared: Vec<Declared>,
    matcher: AhoCorasick,
    /// For each pattern of `matcher`, the index of its value in `declared`.
    owner: Vec<usize>,
}

impl std::fmt::Debug for DeclaredIdentifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeclaredIdentifiers")
            .field("values", &self.declared.len())
            .finish_non_exhaustive()
    }
}

/// The token type of a declaration's key: `customer_id` → `CUSTOMER_ID`.
pub fn identifier_kind(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// A declared value as the matcher holds it: runs of whitespace as one space.
fn collapse_whitespace(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `(key, value)` pairs as declared, as `(kind, value)` pairs the way
/// [`DeclaredIdentifiers`] holds them (the key as a token type, runs of whitespace in
/// the value as one space), in their order, without empty values or repeats.
pub fn normalized_pairs<'a>(
    identifiers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (key, value) in identifiers {
        let value = collapse_whitespace(value);
        if value.is_empty() {
            continue;
        }
        let pair = (identifier_kind(key), value);
        if !out.contains(&pair) {
            out.push(pair);
        }
    }
    out
}

/// The token of a declared `(key, value)`, as [`DeclaredIdentifiers::token_of`] gives
/// it once the pair is declared; `None` for an empty value (never declared).
pub fn declared_token(token_key: &TokenKey, key: &str, value: &str) -> Option<String> {
    let value = collapse_whitespace(value);
    (!value.is_empty()).then(|| pii_token(token_key, &identifier_kind(key), &value))
}

/// Matchers already built, by the `(kind, value)` pairs they match (as
/// [`normalized_pairs`] gives them, in order). Building one costs far more than
/// searching an event's text with it, and the events of a request mostly come a few
/// to a subject, which declares the same identifiers each time: they share one. It
/// holds clear values, so it lives as long as one request.
#[derive(Default)]
pub struct Matchers {
    built: HashMap<Vec<(String, String)>, Option<Arc<DeclaredIdentifiers>>>,
}

impl std::fmt::Debug for Matchers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matchers")
            .field("built", &self.built.len())
            .finish()
    }
}

impl Matchers {
    /// The matcher for `pairs`, built on first use; `None` when there is nothing to
    /// match.
    pub fn get(&mut self, pairs: Vec<(String, String)>) -> Option<Arc<DeclaredIdentifiers>> {
        if pairs.is_empty() {
            return None;
        }
        if let Some(built) = self.built.get(&pairs) {
            return built.clone();
        }
        let matcher = DeclaredIdentifiers::new(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map(Arc::new);
        self.built.insert(pairs, matcher.clone());
        matcher
    }
}

impl DeclaredIdentifiers {
    /// The matcher for `(key, value)` pairs as declared; `None` when there is nothing
    /// to match.
    pub fn new<'a>(identifiers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<Self> {
        let mut declared = Vec::new();
        let mut patterns = Vec::new();
        // A dictionary holds tens of thousands of variants: a set keeps building it
        // linear.
        let mut seen = std::collections::HashSet::new();
        let mut owner = Vec::new();
        for (key, value) in identifiers {
            let value = collapse_whitespace(value);
            if value.is_empty() {
                continue;
            }
            let kind = identifier_kind(key);
            let index = declared.len();
            for variant in variants(&kind, &value) {
                let normal = normalize(&variant).0;
                if !normal.is_empty() && seen.insert(normal.clone()) {
                    patterns.push(normal);
                    owner.push(index);
                }
            }
            declared.push(Declared { kind, value });
        }
        if patterns.is_empty() {
            return None;
        }
        let mut builder = AhoCorasick::builder();
        builder
            .match_kind(MatchKind::Standard)
            // ASCII text is searched as written (`tokenize`'s fast path): the patterns
            // are lowercase, the text may not be.
            .ascii_case_insensitive(true);
        // An event's few values are matched once: a DFA would cost more to build than
        // it saves. A dictionary is built once and matched in every text.
        if patterns.len() <= PER_EVENT_PATTERNS {
            builder.kind(Some(AhoCorasickKind::ContiguousNFA));
        }
        let matcher = builder
            .build(&patterns)
            .expect("a handful of short patterns always builds");
        Some(Self {
            declared,
            matcher,
            owner,
        })
    }

    /// One finding per declared value, for the vault: a value is kept there even when
    /// this event's text does not mention it, so later reveals and erasure cover it.
    pub fn findings<'k>(&'k self, key: &'k TokenKey) -> impl Iterator<Item = Finding> + 'k {
        self.declared.iter().map(|d| Finding {
            token: pii_token(key, &d.kind, &d.value),
            kind: d.kind.clone(),
            value: d.value.clone(),
        })
    }

    /// The `(kind, value)` pairs it matches, normalized as declared.
    pub fn declared_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.declared
            .iter()
            .map(|d| (d.kind.as_str(), d.value.as_str()))
    }

    /// The token of the declared value of `key`, if declared.
    pub fn token_of(&self, token_key: &TokenKey, key: &str, value: &str) -> Option<String> {
        let kind = identifier_kind(key);
        let value = collapse_whitespace(value);
        self.declared
            .iter()
            .find(|d| d.kind == kind && d.value == value)
            .map(|d| pii_token(token_key, &d.kind, &d.value))
    }

    /// Replaces every occurrence of a declared value in `text` by its token; `None`
    /// when there is none. Findings go to `found`.
    pub fn tokenize(&self, key: &TokenKey, text: &str, found: &mut Vec<Finding>) -> Option<String> {
        // ASCII text with single spaces only is its own normal form up to ASCII case,
        // which the matcher ignores: most text needs no copy and no offset map.
        let (normal, spans) = if already_normal(text) {
            (Cow::Borrowed(text), None)
        } else {
            let (normal, spans) = normalize(text);
            (Cow::Owned(normal), Some(spans))
        };
        let original = |start: usize, end: usize| match &spans {
            Some(spans) => (spans[start].0, spans[end - 1].1),
            None => (start, end),
        };
        // Every match, overlapping ones too: the first one found may be glued to a
        // word ("at Robinson" holds "t robinson", the "T Robinson" variant) and
        // must not hide the real one that overlaps it.
        let mut matches: Vec<(usize, usize, usize)> = self
            .matcher
            .find_overlapping_iter(normal.as_ref())
            .map(|m| {
                let (start, end) = original(m.start(), m.end());
                (start, end, m.pattern().as_usize())
            })
            .filter(|&(start, end, _)| stands_alone(text, start, end))
            .collect();
        matches.sort_by_key(|&(start, end, _)| (start, usize::MAX - end));
        let mut out = String::new();
        let mut at = 0;
        for (start, end, pattern) in matches {
            if start < at {
                continue;
            }
            let declared = &self.declared[self.owner[pattern]];
            let token = pii_token(key, &declared.kind, &declared.value);
            out.push_str(&text[at..start]);
            out.push_str(&token);
            found.push(Finding {
                token,
                kind: declared.kind.clone(),
                value: declared.value.clone(),
            });
            at = end;
        }
        if at == 0 {
            return None;
        }
        out.push_str(&text[at..]);
        Some(out)
    }
}

/// The ways a value is written: as declared, and for names (a kind that is or ends in
/// `NAME`) of two or more words, "Last, First", "Last First", "F. Last" and "F Last",
/// with the family name taken as every tail of the words ("Bas van Salmen": "Salmen",
/// "van Salmen"), and "First Last" without middle names.
fn variants(kind: &str, value: &str) -> Vec<String> {
    let mut out = vec![value.to_owned()];
    let words: Vec<&str> = value.split(' ').collect();
    if !kind.ends_with("NAME") || words.len() < 2 {
        return out;
    }
    let first = words[0];
    let initial: String = first.chars().take(1).collect();
    for split in 1..words.len() {
        let given = words[..split].join(" ");
        let family = words[split..].join(" ");
        out.push(format!("{family}, {given}"));
        out.push(format!("{family} {given}"));
        out.push(format!("{initial}. {family}"));
        out.push(format!("{initial} {family}"));
        out.push(format!("{first} {family}"));
    }
    out
}

/// `text` is ASCII and its only whitespace is single spaces: `normalize` would change
/// nothing but the case of letters.
fn already_normal(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes
        .iter()
        .all(|&b| b.is_ascii() && !matches!(b, b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
        && !bytes.windows(2).any(|pair| pair == b"  ")
}

/// Lowercase with runs of whitespace as one space, and for each byte of the result
/// the byte range of the character of `text` it came from.
fn normalize(text: &str) -> (String, Vec<(usize, usize)>) {
    let mut normal = String::with_capacity(text.len());
    let mut spans: Vec<(usize, usize)> = Vec::with_capacity(text.len());
    let mut in_space = false;
    for (offset, c) in text.char_indices() {
        let end = offset + c.len_utf8();
        if c.is_whitespace() {
            if in_space {
                // The space already written stands for the whole run.
                if let Some(last) = spans.last_mut() {
                    last.1 = end;
                }
                continue;
            }
            in_space = true;
            normal.push(' ');
            spans.push((offset, end));
            continue;
        }
        in_space = false;
        for lower in c.to_lowercase() {
            let mut buf = [0; 4];
            for _ in lower.encode_utf8(&mut buf).bytes() {
                spans.push((offset, end));
            }
            normal.push(lower);
        }
    }
    (normal, spans)
}

/// A declared value is not part of a longer word ("Wei Novakowski" is not "Wei
/// Novak"). Letters of scripts written without spaces (CJK and after) do not count.
fn stands_alone(text: &str, start: usize, end: usize) -> bool {
    let word = |c: char| c.is_alphanumeric() && c < '\u{2E80}';
    !text[..start].chars().next_back().is_some_and(word)
        && !text[end..].chars().next().is_some_and(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::from_bytes([4; 32])
    }

    fn declared() -> DeclaredIdentifiers {
        DeclaredIdentifiers::new([("name", "Wei  Novak"), ("customer_id", "C-1042")]).unwrap()
    }

    #[test]
    fn names_in_their_usual_variants_get_one_token() {
        let d = declared();
        let token = d.token_of(&key(), "name", "Wei Novak").unwrap();
        for text in [
            "Customer Wei Novak called.",
            "NOVAK, WEI (gold)",
            "wei\n novak",
            "Dear W. Novak,",
            "联系Wei Novak谢谢",
            "{\"name\":\"Novak Wei\"}",
        ] {
            let mut found = Vec::new();
            let out = d
                .tokenize(&key(), text, &mut found)
                .unwrap_or_else(|| text.to_owned());
            assert!(out.contains(&token), "{text:?} → {out:?}");
            assert!(!out.to_lowercase().contains("novak"), "{out}");
            assert_eq!(found[0].value, "Wei Novak");
            assert_eq!(found[0].kind, "NAME");
        }
    }

    #[test]
    fn longer_words_and_other_people_stay() {
        let d = declared();
        for text in ["Wei Novakowski", "Weilin Novak?", "C-10423", "Anna Novak"] {
            let mut found = Vec::new();
            assert!(d.tokenize(&key(), text, &mut found).is_none(), "{text}");
        }
        let mut found = Vec::new();
        let out = d.tokenize(&key(), "account c-1042.", &mut found).unwrap();
        assert!(
            out.starts_with("account <CUSTOMER_ID_") && out.ends_with(">."),
            "{out}"
        );
    }

    #[test]
    fn matchers_are_built_once_per_set_of_pairs() {
        let pairs = |values: &[(&str, &str)]| normalized_pairs(values.iter().copied());
        assert_eq!(
            pairs(&[("name", "Wei  Novak"), ("Name", "Wei Novak"), ("id", " ")]),
            [("NAME".to_owned(), "Wei Novak".to_owned())]
        );
        let mut matchers = Matchers::default();
        let first = matchers.get(pairs(&[("name", "Wei Novak")])).unwrap();
        let again = matchers.get(pairs(&[("name", "Wei   Novak")])).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let other = matchers
            .get(pairs(&[("name", "Wei Novak"), ("customer_id", "C-1042")]))
            .unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
        assert!(matchers.get(Vec::new()).is_none());
        assert_eq!(
            declared_token(&key(), "name", " Wei \n Novak"),
            first.token_of(&key(), "name", "Wei Novak")
        );
        assert_eq!(declared_token(&key(), "name", "  "), None);
    }
}

//! Where a value ends: the characters around a match decide whether it stands alone
//! or is part of a longer token.
//!
//! Only ASCII letters, digits and `_` continue a token. Non-ASCII letters do not:
//! Chinese or Japanese text runs values into words with no space ("联系jane@example.org"),
//! so a detector that asked for a Unicode word boundary would miss them there.
//! Sentence punctuation, brackets, quotes, `=`, `&` and line breaks all end a value.

/// A character that continues a token.
pub(crate) fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The match `text[start..end]` is not glued to a longer token: the characters just
/// before and after are not word characters, nor one of `joiners` with a word
/// character on its far side ("ORD-2024", "v1.2.3.4.5", but "see 10.0.0.1." ends at
/// the full stop).
pub(crate) fn stands_alone(text: &str, start: usize, end: usize, joiners: &[char]) -> bool {
    let mut before = text[..start].chars().rev();
    let glued_before = match before.next() {
        Some(c) if is_word(c) && c != '_' => true,
        Some(c) if c == '_' || joiners.contains(&c) => before.next().is_some_and(is_word),
        _ => false,
    };
    let mut after = text[end..].chars();
    let glued_after = match after.next() {
        Some(c) if is_word(c) && c != '_' => true,
        Some(c) if c == '_' || joiners.contains(&c) => after.next().is_some_and(is_word),
        _ => false,
    };
    !glued_before && !glued_after
}

//! Where a value ends: the characters around a match decide whether it stands alone
//! or is part of a longer token.
//!
//! Only ASCII letters and digits continue a token. Non-ASCII letters do not:
//! Chinese or Japanese text runs values into words with no space ("联系jane@example.org"),
//! so a detector that asked for a Unicode word boundary would miss them there.
//! Sentence punctuation, brackets, quotes, `=`, `&` and line breaks all end a value.

/// A character that continues a token.
pub(crate) fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// The match `text[start..end]` is not glued to a longer token: the characters just
/// before and after are not letters or digits, nor one of `joiners` (or a run of
/// `_`) with a letter or digit on its far side ("ORD-2024", "v1.2.3.4.5",
/// "user_4111…"; but "see 10.0.0.1." ends at the full stop and "_4111…_" is
/// Markdown emphasis).
pub(crate) fn stands_alone(text: &str, start: usize, end: usize, joiners: &[char]) -> bool {
    let before: Vec<char> = text[..start].chars().rev().take(SIDE).collect();
    let after: Vec<char> = text[end..].chars().take(SIDE).collect();
    !glued(&before, joiners, true) && !glued(&after, joiners, false)
}

/// How far from a match `stands_alone` looks: past a run of `_` of this length the
/// text is not a token a value is glued to.
const SIDE: usize = 16;

/// The characters next to a match, nearest first, continue it. On the side before
/// it, "\n", "\t" and "\r" are JSON escapes written out in the text, not words.
fn glued(side: &[char], joiners: &[char], before: bool) -> bool {
    let word_at = |i: usize| {
        side.get(i).is_some_and(|&c| {
            is_word(c)
                && !(before && matches!(c, 'n' | 't' | 'r') && side.get(i + 1) == Some(&'\\'))
        })
    };
    match side.first() {
        None => false,
        Some(_) if word_at(0) => true,
        Some('_') => side.iter().position(|&c| c != '_').is_some_and(word_at),
        Some(c) if joiners.contains(c) => word_at(1),
        _ => false,
    }
}

//! The full-text query language of `q` (CONTRACT section 4): words (all must match),
//! `"exact phrases"`, and `prefix*`. Parsed here once, so every backend translates the
//! same structure into its own engine's syntax (SQLite FTS5, PostgreSQL tsquery) and
//! no user text is ever spliced into a query string.

/// One term of a query; every term must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextTerm {
    /// A word, matched whole (case-insensitive).
    Word(String),
    /// Words that must appear consecutively, in order.
    Phrase(Vec<String>),
    /// Words starting with this prefix.
    Prefix(String),
}

/// Longest `q` accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 1_024;

/// Most terms in one query.
pub const MAX_TERMS: usize = 32;

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

/// Splits text into the words the index holds: runs of letters and digits, lowercased.
/// The same function tokenizes documents and queries, so they always agree.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// Parses `q`.
///
/// # Errors
/// An empty query, an unbalanced quote, a bare `*`, or a query too long.
pub fn parse_text_query(q: &str) -> Result<Vec<TextTerm>, QueryError> {
    if q.len() > MAX_QUERY_BYTES {
        return Err(QueryError(format!("longer than {MAX_QUERY_BYTES} bytes")));
    }
    let mut terms = Vec::new();
    let mut rest = q;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        if let Some(after_quote) = rest.strip_prefix('"') {
            let end = after_quote
                .find('"')
                .ok_or_else(|| QueryError("a phrase is missing its closing quote".into()))?;
            let phrase: Vec<String> = words(&after_quote[..end]).collect();
            match phrase.len() {
                0 => {}
                1 => terms.push(TextTerm::Word(
                    phrase.into_iter().next().unwrap_or_default(),
                )),
                _ => terms.push(TextTerm::Phrase(phrase)),
            }
            rest = &after_quote[end + 1..];
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '"')
            .unwrap_or(rest.len());
        let token = &rest[..end];
        rest = &rest[end..];
        if let Some(stem) = token.strip_suffix('*') {
            let stem_words: Vec<String> = words(stem).collect();
            match stem_words.as_slice() {
                [] => return Err(QueryError("a `*` must follow a word prefix".into())),
                [only] => terms.push(TextTerm::Prefix(only.clone())),
                [init @ .., last] => {
                    terms.extend(init.iter().cloned().map(TextTerm::Word));
                    terms.push(TextTerm::Prefix(last.clone()));
                }
            }
        } else {
            terms.extend(words(token).map(TextTerm::Word));
        }
    }
    if terms.is_empty() {
        return Err(QueryError("no words to search for".into()));
    }
    if terms.len() > MAX_TERMS {
        return Err(QueryError(format!("more than {MAX_TERMS} terms")));
    }
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_phrases_and_prefixes() {
        assert_eq!(
            parse_text_query(r#"Refund "damaged goods" polic*"#).unwrap(),
            vec![
                TextTerm::Word("refund".into()),
                TextTerm::Phrase(vec!["damaged".into(), "goods".into()]),
                TextTerm::Prefix("polic".into()),
            ]
        );
        assert_eq!(
            parse_text_query("ORD-123").unwrap(),
            vec![TextTerm::Word("ord".into()), TextTerm::Word("123".into())]
        );
    }

    #[test]
    fn hostile_queries_are_refused_not_spliced() {
        assert!(parse_text_query(r#""unclosed"#).is_err());
        assert!(parse_text_query("*").is_err());
        assert!(parse_text_query("   ").is_err());
        assert!(parse_text_query(&"a ".repeat(40)).is_err());
        // Operators of the engines are just punctuation here.
        assert_eq!(parse_text_query("x OR y NEAR(z) -w ^v").unwrap().len(), 7);
    }
}

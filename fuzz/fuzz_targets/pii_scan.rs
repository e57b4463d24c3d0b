//! The personal-data scanner over arbitrary text: it never panics, every finding is
//! a token over a value of the text, and scanning the output again leaves every token
//! whole (a token is never taken for personal data). The same checks run on stable over the
//! corpus in `fuzz/corpus/pii_scan/` (crates/core/tests/pii_fuzz_corpus.rs).
#![no_main]

use evident_core::pii::Detectors;
use evident_core::token::TokenKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let key = TokenKey::from_bytes([1; 32]);
    let detectors = Detectors::default();
    let mut found = Vec::new();
    let Some(out) = detectors.tokenize(&key, text, &mut found) else {
        assert!(found.is_empty());
        return;
    };
    for f in &found {
        assert!(evident_core::pii::is_pii_token(&f.token));
        assert!(text.contains(f.value.as_str()));
    }
    let mut again = Vec::new();
    let rescanned = detectors
        .tokenize(&key, &out, &mut again)
        .unwrap_or_else(|| out.clone());
    for f in &found {
        assert!(rescanned.contains(&f.token), "{} broken in {rescanned:?}", f.token);
    }
});

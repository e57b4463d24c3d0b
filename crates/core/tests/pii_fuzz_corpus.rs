//! The `pii_scan` fuzz target's checks over its corpus (`fuzz/corpus/pii_scan/`), so
//! they run on stable in every test run; cargo-fuzz itself needs nightly.

use evident_core::pii::{is_pii_token, Detectors};
use evident_core::token::TokenKey;

#[test]
fn the_scanner_holds_on_the_fuzz_corpus() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/pii_scan");
    let key = TokenKey::from_bytes([1; 32]);
    let detectors = Detectors::default();
    let mut inputs = 0;
    for entry in std::fs::read_dir(dir).expect("the fuzz corpus is committed") {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        inputs += 1;
        let mut found = Vec::new();
        let Some(out) = detectors.tokenize(&key, text, &mut found) else {
            assert!(found.is_empty());
            continue;
        };
        for f in &found {
            assert!(is_pii_token(&f.token), "{f:?}");
            assert!(text.contains(f.value.as_str()), "{f:?}");
            assert!(
                out.matches(f.value.as_str()).count() < text.matches(f.value.as_str()).count(),
                "{f:?} left in {out:?}"
            );
        }
        // Scanning the output again leaves every token whole: a token is never taken
        // for personal data (text around a token may still hold a value the first
        // scan gave to a longer overlapping one).
        let mut again = Vec::new();
        let rescanned = detectors
            .tokenize(&key, &out, &mut again)
            .unwrap_or_else(|| out.clone());
        for f in &found {
            assert!(
                rescanned.contains(&f.token),
                "{} broken in {rescanned:?}",
                f.token
            );
        }
    }
    assert!(inputs >= 200, "only {inputs} corpus inputs");
}

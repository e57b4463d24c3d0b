//! Precision and recall of the built-in personal-data detectors over the corpus in
//! `testdata/pii/` (true positives and look-alikes that must not match).

use evident_core::pii::Detectors;
use evident_core::token::TokenKey;
use serde_json::Value;

#[test]
fn detectors_are_precise_and_find_what_they_should() {
    let corpus = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/pii/corpus.jsonl"
    ))
    .unwrap();
    let key = TokenKey::from_bytes([5; 32]);
    let detectors = Detectors::default();
    let (mut true_pos, mut false_pos, mut false_neg) = (0u32, 0u32, 0u32);
    let mut misses = Vec::new();
    for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        let text = case["text"].as_str().unwrap();
        let expected: Vec<(String, String)> = case["expected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_owned(),
                    e["value"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let mut found = Vec::new();
        let replaced = detectors
            .tokenize(&key, text, &mut found)
            .unwrap_or_else(|| text.to_owned());
        let got: Vec<(String, String)> = found.into_iter().map(|f| (f.kind, f.value)).collect();
        for g in &got {
            if expected.contains(g) {
                true_pos += 1;
            } else {
                false_pos += 1;
                misses.push(format!("false positive {g:?} in {text:?}"));
            }
        }
        for e in &expected {
            if !got.contains(e) {
                false_neg += 1;
                misses.push(format!("missed {e:?} in {text:?} → {replaced:?}"));
            }
            assert!(!got.contains(e) || !replaced.contains(&e.1), "{replaced}");
        }
    }
    let precision = f64::from(true_pos) / f64::from(true_pos + false_pos);
    let recall = f64::from(true_pos) / f64::from(true_pos + false_neg);
    println!("PII detectors: precision {precision:.3}, recall {recall:.3} ({true_pos} found, {false_pos} false positives, {false_neg} missed)");
    for m in &misses {
        println!("  {m}");
    }
    assert!(precision >= 0.95, "precision {precision:.3}: {misses:#?}");
    assert!(recall >= 0.95, "recall {recall:.3}: {misses:#?}");
}

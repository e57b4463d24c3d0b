//! Recall of declared identifiers over the generated corpus (`testdata/pii/`): names
//! in their usual variants, customer ids, street addresses and dates of birth that
//! the case declares in `context.subject_identifiers`, in every surrounding context
//! and locale of the corpus. Print the figures with
//! `cargo test -p evident-core --test pii_declared -- --nocapture`.

use std::collections::BTreeMap;

use evident_core::pii::{identifier_kind, DeclaredIdentifiers};
use evident_core::token::TokenKey;
use serde_json::Value;

#[test]
fn declared_identifiers_are_found_in_every_context() {
    let corpus = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/pii/generated.jsonl"
    ))
    .expect("the generated corpus is committed");
    let key = TokenKey::from_bytes([6; 32]);
    let mut tally: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut misses = Vec::new();
    for line in corpus.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        let Some(declared) = case["declared"].as_object() else {
            continue;
        };
        let identifiers = DeclaredIdentifiers::new(
            declared
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str().unwrap())),
        )
        .unwrap();
        let text = case["text"].as_str().unwrap();
        let mut found = Vec::new();
        let replaced = identifiers
            .tokenize(&key, text, &mut found)
            .unwrap_or_else(|| text.to_owned());
        for expected in case["expected"].as_array().unwrap() {
            let kind = expected["kind"].as_str().unwrap();
            let value = expected["value"].as_str().unwrap();
            let entry = tally.entry(kind.to_owned()).or_default();
            entry.0 += 1;
            let declared_kind = declared
                .keys()
                .map(|k| identifier_kind(k))
                .any(|k| k == kind);
            let hit =
                declared_kind && found.iter().any(|f| f.kind == kind) && !replaced.contains(value);
            if hit {
                entry.1 += 1;
            } else {
                misses.push(format!("{kind} {value:?} in {text:?} → {replaced:?}"));
            }
        }
    }
    println!("\n| declared kind | labelled | recall |\n|---|---:|---:|");
    let (mut all, mut all_hit) = (0, 0);
    for (kind, (labelled, hit)) in &tally {
        all += labelled;
        all_hit += hit;
        println!(
            "| {kind} | {labelled} | {:.3} |",
            f64::from(*hit) / f64::from(*labelled)
        );
    }
    let recall = f64::from(all_hit) / f64::from(all);
    println!("| all | {all} | {recall:.3} |");
    for m in misses.iter().take(30) {
        println!("  missed {m}");
    }
    assert!(all >= 2000, "only {all} declared values in the corpus");
    assert!(recall >= 0.99, "declared identifiers recall {recall:.3}");
}

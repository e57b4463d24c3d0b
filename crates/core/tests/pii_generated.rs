//! Precision and recall per kind of the personal-data detectors over the corpus that
//! `scripts/pii-corpus.py` generates from Faker (`testdata/pii/generated.jsonl`):
//! values of every kind in many surrounding contexts and locales, and hard negatives.
//!
//! Run it with `--nocapture` to print the table `docs/privacy.md` quotes:
//! `cargo test -p evident-core --test pii_generated -- --nocapture`.
//!
//! A labelled value counts as found when a finding of its kind covers it and the
//! clear value is gone from the text; a finding that covers no labelled value is a
//! false positive of its kind.

use std::collections::BTreeMap;

use evident_core::pii::{Detectors, PhoneRegion};
use evident_core::token::TokenKey;
use serde_json::Value;

/// The regions the corpus's national phone numbers come from, configured at once
/// (the worst case for precision: every national plan gets a say).
const REGIONS: [&str; 10] = ["US", "CA", "GB", "DE", "FR", "ES", "IT", "NL", "IN", "BR"];

/// Kinds the pattern detectors cover; the corpus's declared identifiers are measured
/// by `pii_declared.rs`.
const PATTERN_KINDS: [&str; 6] = ["EMAIL", "PHONE", "CARD", "IBAN", "SSN", "IP"];

#[derive(Default)]
struct Tally {
    labelled: u32,
    found: u32,
    false_positives: u32,
    misses: Vec<String>,
}

fn corpus() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/pii/generated.jsonl"
    ))
    .expect("the generated corpus is committed");
    text.lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object a line"))
        .collect()
}

#[test]
fn detectors_per_kind_on_the_generated_corpus() {
    let key = TokenKey::from_bytes([5; 32]);
    let detectors = Detectors {
        phone_regions: REGIONS
            .iter()
            .map(|r| r.parse().unwrap())
            .collect::<Vec<PhoneRegion>>(),
        ..Detectors::default()
    };
    let mut kinds: BTreeMap<String, Tally> = BTreeMap::new();
    let mut negatives: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut negative_misses = Vec::new();
    let mut phone_by_locale: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut cases = 0;
    let mut scanning = std::time::Duration::ZERO;
    for case in corpus() {
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
            .filter(|(kind, _)| PATTERN_KINDS.contains(&kind.as_str()))
            .collect();
        let negative = case["negative"].as_str();
        if expected.is_empty() && negative.is_none() {
            continue;
        }
        cases += 1;
        let text = case["text"].as_str().unwrap();
        let mut found = Vec::new();
        let started = std::time::Instant::now();
        let scanned = detectors.tokenize(&key, text, &mut found);
        scanning += started.elapsed();
        let replaced = scanned.unwrap_or_else(|| text.to_owned());
        for (kind, value) in &expected {
            let tally = kinds.entry(kind.clone()).or_default();
            tally.labelled += 1;
            let hit = found
                .iter()
                .any(|f| &f.kind == kind && f.value.contains(value.as_str()))
                && !replaced.contains(value.as_str());
            if hit {
                tally.found += 1;
            } else {
                tally
                    .misses
                    .push(format!("{value:?} in {text:?} → {replaced:?}"));
            }
            if kind == "PHONE" {
                let locale = case["locale"].as_str().unwrap_or("?").to_owned();
                let entry = phone_by_locale.entry(locale).or_default();
                entry.0 += 1;
                entry.1 += u32::from(hit);
            }
        }
        for f in &found {
            let covers = expected
                .iter()
                .any(|(kind, value)| &f.kind == kind && f.value.contains(value.as_str()));
            if !covers {
                kinds.entry(f.kind.clone()).or_default().false_positives += 1;
                let label = negative.unwrap_or("in a labelled case");
                negative_misses.push(format!("{label}: {} {:?} in {text:?}", f.kind, f.value));
            }
        }
        if let Some(label) = negative {
            let entry = negatives.entry(label.to_owned()).or_default();
            entry.0 += 1;
            entry.1 += u32::from(found.is_empty());
        }
    }

    println!("\nPII detectors on testdata/pii/generated.jsonl ({cases} cases, phone regions {REGIONS:?})\n");
    println!("| kind | labelled | found | recall | false positives | precision |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (kind, t) in &kinds {
        let recall = ratio(t.found, t.labelled);
        let precision = ratio(t.found, t.found + t.false_positives);
        println!(
            "| {kind} | {} | {} | {recall:.3} | {} | {precision:.3} |",
            t.labelled, t.found, t.false_positives
        );
    }
    println!("\n| phone locale | labelled | recall |\n|---|---:|---:|");
    for (locale, (labelled, hit)) in &phone_by_locale {
        println!("| {locale} | {labelled} | {:.3} |", ratio(*hit, *labelled));
    }
    let (neg_total, neg_clean) = negatives
        .values()
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    println!("\n| hard negative | cases | left in clear |\n|---|---:|---:|");
    for (label, (total, clean)) in &negatives {
        println!("| {label} | {total} | {:.3} |", ratio(*clean, *total));
    }
    println!("| all | {neg_total} | {:.3} |", ratio(neg_clean, neg_total));
    if let Ok(path) = std::env::var("PII_MISSES") {
        let all: Vec<String> = kinds
            .iter()
            .flat_map(|(kind, t)| t.misses.iter().map(move |m| format!("missed {kind}: {m}")))
            .chain(
                negative_misses
                    .iter()
                    .map(|m| format!("false positive {m}")),
            )
            .collect();
        std::fs::write(path, all.join("\n")).unwrap();
    }
    for (kind, t) in &kinds {
        for m in t.misses.iter().take(15) {
            println!("  missed {kind}: {m}");
        }
    }
    for m in negative_misses.iter().take(40) {
        println!("  false positive {m}");
    }

    let recall = |kind: &str| kinds.get(kind).map_or(0.0, |t| ratio(t.found, t.labelled));
    for (kind, floor) in [
        ("EMAIL", 0.99),
        ("CARD", 0.99),
        ("IBAN", 0.99),
        ("IP", 0.99),
        ("SSN", 0.99),
    ] {
        assert!(
            recall(kind) >= floor,
            "{kind} recall {:.3} < {floor}",
            recall(kind)
        );
    }
    let (covered, covered_hit) = phone_by_locale
        .iter()
        .filter(|(locale, _)| covered_locale(locale))
        .fold((0, 0), |a, (_, b)| (a.0 + b.0, a.1 + b.1));
    let phone_recall = ratio(covered_hit, covered);
    println!("\nphone recall in the covered regions: {phone_recall:.3}");
    println!(
        "scanner: {:.1} µs per text on average ({} texts; build profile decides: use --release)",
        scanning.as_secs_f64() * 1e6 / f64::from(cases),
        cases
    );
    assert!(
        phone_recall >= 0.95,
        "phone recall {phone_recall:.3} in the covered regions"
    );
    let negative_precision = ratio(neg_clean, neg_total);
    assert!(
        negative_precision >= 0.98,
        "hard negatives left in clear {negative_precision:.3}"
    );
}

fn covered_locale(locale: &str) -> bool {
    [
        "en_US", "en_CA", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "en_IN", "pt_BR",
    ]
    .contains(&locale)
}

fn ratio(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        return 1.0;
    }
    f64::from(part) / f64::from(whole)
}

//! The personal-data scanner's cost per event over the realistic workload
//! (`docs/privacy.md`, "Speed"): `cargo run --release -p evident-bench --example
//! pii_scan -- [EVENTS]`.
//!
//! Prints, in µs per event: the whole record step of ingest (`prepare_client_event`:
//! validation, subject token, declared identifiers, scanning, canonical JSON, blob
//! sealing), and the scan alone over every scanned text of the event, with the built-in
//! detectors only and with a dictionary of customer names plus the event's declared
//! identifiers on. One thread, no I/O: run it on a quiet machine, at small sizes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use evident_core::pii::{DeclaredIdentifiers, Detectors};
use evident_core::record::{prepare_client_event, Submission};
use evident_core::token::TokenKey;
use serde_json::Value;

/// Fields whose text the record step scans (CONTRACT section 2).
const SCANNED: &[&str] = &[
    "input",
    "output",
    "attributes",
    "decision",
    "approval",
    "error",
];

fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .map_or(Ok(2000), |n| n.parse())
        .expect("EVENTS is a number");
    let workload = evident_bench::generator::generate(7, events);
    let key = TokenKey::from_bytes([7; 32]);

    // A dictionary the size of a customer export: every name the workload declares,
    // repeated under other spellings until it holds 10,000 entries.
    let mut names: Vec<String> = workload
        .iter()
        .filter_map(|e| e.pointer("/context/subject_identifiers/name")?.as_str())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    let base = names.len().max(1);
    let mut n = 0;
    while names.len() < 10_000 && !names.is_empty() {
        names.push(format!("{} {n}", names[n % base]));
        n += 1;
    }
    let dictionary = DeclaredIdentifiers::new(names.iter().map(|v| ("name", v.as_str())));
    let plain = Detectors::default();
    let with_dictionary = Detectors {
        dictionary: dictionary.map(Arc::new),
        ..Detectors::default()
    };

    let texts: Vec<(Vec<String>, Option<DeclaredIdentifiers>)> = workload
        .iter()
        .map(|event| {
            let mut texts = Vec::new();
            for field in SCANNED {
                if let Some(value) = event.get(*field) {
                    collect_strings(value, &mut texts);
                }
            }
            let declared = event
                .pointer("/context/subject_identifiers")
                .and_then(Value::as_object)
                .and_then(|ids| {
                    DeclaredIdentifiers::new(
                        ids.iter()
                            .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?))),
                    )
                });
            (texts, declared)
        })
        .collect();
    let text_bytes: usize = texts.iter().flat_map(|(t, _)| t).map(String::len).sum();

    let scan = |detectors: &Detectors, declared_on: bool| {
        let started = Instant::now();
        let mut found = Vec::new();
        for (event_texts, declared) in &texts {
            for text in event_texts {
                let after = declared
                    .as_ref()
                    .filter(|_| declared_on)
                    .and_then(|d| d.tokenize(&key, text, &mut found));
                let current = after.as_deref().unwrap_or(text);
                std::hint::black_box(detectors.tokenize(&key, current, &mut found));
            }
            found.clear();
        }
        started.elapsed().as_secs_f64() * 1e6 / events as f64
    };
    // Warm up: the phone metadata's expressions compile on first use.
    scan(&with_dictionary, true);
    let builtin = scan(&plain, false);
    let declared_only = scan(&plain, true);
    let dictionary_only = scan(&with_dictionary, false);
    let full = scan(&with_dictionary, true);

    let uploads = HashMap::new();
    let mut rng = rand::thread_rng();
    let submission = Submission {
        token_key: &key,
        detectors: &with_dictionary,
        principal: "bench",
        received_at: "2026-12-07T12:00:00.000000Z",
        received_micros: 1_796_644_800_000_000,
    };
    let started = Instant::now();
    for event in &workload {
        let prepared = prepare_client_event(event.clone(), &submission, &uploads, &mut rng);
        std::hint::black_box(prepared.expect("the workload is valid"));
    }
    let record_step = started.elapsed().as_secs_f64() * 1e6 / events as f64;

    println!(
        "{events} events, {:.0} bytes of scanned text per event",
        text_bytes as f64 / events as f64
    );
    println!("record step (prepare_client_event), everything on: {record_step:.1} µs/event");
    println!("scan, built-in detectors:                          {builtin:.1} µs/event");
    println!("scan, + declared identifiers:                      {declared_only:.1} µs/event");
    println!(
        "scan, + {} dictionary names:                     {dictionary_only:.1} µs/event",
        names.len()
    );
    println!("scan, + both:                                      {full:.1} µs/event");
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(members) => members.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

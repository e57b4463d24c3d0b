//! `canonical_bytes` against published RFC 8785 vectors (see `testdata/jcs/README.md`).

// The generator's mutations are used by json_scan.rs only.
#[allow(dead_code)]
mod common;

use std::path::PathBuf;

use common::Gen;
use evident_core::json::{canonical_bytes, parse_value, sha256_canonical};
use serde_json::{json, Number, Value};

fn vector_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/jcs")
        .join(relative)
}

fn read(relative: &str) -> Vec<u8> {
    let path = vector_path(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn from_hex(text: &[u8]) -> Vec<u8> {
    std::str::from_utf8(text)
        .unwrap()
        .split_whitespace()
        .map(|byte| u8::from_str_radix(byte, 16).unwrap())
        .collect()
}

/// A plain (non-strict) parse: some vectors use numbers outside I-JSON's ±2^53.
fn lenient(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[test]
fn rfc_3_2_2_example_and_3_2_4_utf8_bytes() {
    let input = lenient(&read("rfc8785/example.input.json"));
    let canonical = canonical_bytes(&input);
    assert_eq!(canonical, read("rfc8785/example.expected.json"));
    assert_eq!(canonical, from_hex(&read("rfc8785/example.utf8.hex")));
}

#[test]
fn rfc_3_2_3_sorting_by_utf16_code_units() {
    let bytes = read("rfc8785/sorting.input.json");
    let strict = parse_value(&bytes).unwrap();
    assert_eq!(strict, lenient(&bytes));
    assert_eq!(
        canonical_bytes(&strict),
        read("rfc8785/sorting.expected.json")
    );
}

#[test]
fn rfc_appendix_b_number_serialization() {
    let table = String::from_utf8(read("rfc8785/appendix-b.csv")).unwrap();
    let mut rows = 0;
    for row in table.lines().skip(1) {
        let mut fields = row.splitn(3, ',');
        let (hex, expected) = (fields.next().unwrap(), fields.next().unwrap());
        let number = f64::from_bits(u64::from_str_radix(hex, 16).unwrap());
        if expected.is_empty() {
            // NaN and Infinity: JCS must refuse them, and a serde_json Value cannot hold one.
            assert!(!number.is_finite(), "{hex}");
            assert!(Number::from_f64(number).is_none(), "{hex}");
        } else {
            let canonical = canonical_bytes(&Value::from(number));
            assert_eq!(String::from_utf8(canonical).unwrap(), expected, "{hex}");
        }
        rows += 1;
    }
    assert_eq!(rows, 26, "Appendix B, Table 1 has 26 rows");
}

#[test]
fn cyberphone_reference_vectors() {
    for name in [
        "arrays",
        "french",
        "structures",
        "unicode",
        "values",
        "weird",
    ] {
        let input = read(&format!("cyberphone/input/{name}.json"));
        let expected = read(&format!("cyberphone/output/{name}.json"));
        let canonical = canonical_bytes(&lenient(&input));
        assert_eq!(
            String::from_utf8_lossy(&canonical),
            String::from_utf8_lossy(&expected),
            "{name}"
        );
        assert_eq!(
            canonical,
            from_hex(&read(&format!("cyberphone/outhex/{name}.txt")))
        );

        // Every vector but values.json (1E30 > 2^53) is I-JSON, and the strict
        // parser reads it to the same value.
        match parse_value(&input) {
            Ok(strict) => assert_eq!(strict, lenient(&input), "{name}"),
            Err(err) => {
                assert_eq!(name, "values", "{err}");
                assert_eq!(err.pointer, "/numbers/1");
            }
        }
    }
}

#[test]
fn numbers_at_the_i_json_limits() {
    let value =
        parse_value(b"[9007199254740992, -9007199254740992, 1.5, -0.0, 1e-7, 1E2, 0.1]").unwrap();
    assert_eq!(
        canonical_bytes(&value),
        b"[9007199254740992,-9007199254740992,1.5,0,1e-7,100,0.1]"
    );
}

#[test]
fn canonical_form_is_independent_of_input_formatting() {
    let a = parse_value(br#"{"b": {"y": [1, 2.0], "x": null}, "a": "\u00e9"}"#).unwrap();
    let b = parse_value("{\"a\":\"é\",\"b\":{\"x\":null,\"y\":[1.0,2]}}".as_bytes()).unwrap();
    assert_eq!(canonical_bytes(&a), canonical_bytes(&b));
    assert_eq!(sha256_canonical(&a), sha256_canonical(&b));
}

#[test]
fn sha256_canonical_is_sha256_of_the_canonical_bytes() {
    // echo -n '{"a":1}' | sha256sum
    let digest = sha256_canonical(&json!({ "a": 1 }));
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    assert_eq!(
        hex,
        "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862"
    );
}

#[test]
fn equals_the_reference_implementation_on_generated_values() {
    let mut gen = Gen(0x9e37_79b9_7f4a_7c15);
    for case in 0..20_000 {
        let value = gen.value(0);
        let ours = canonical_bytes(&value);
        let reference = serde_json_canonicalizer::to_vec(&value).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&reference),
            "case {case}: {value:?}"
        );
    }
}

/// Members are written in RFC 8785 order whatever order the map keeps: with serde_json's
/// `preserve_order` (which cedar-policy-core turns on in the `evident` build) a
/// `Map` iterates in insertion order.
#[test]
fn members_are_sorted_whatever_order_the_map_keeps() {
    let mut map = serde_json::Map::new();
    map.insert("order".into(), serde_json::json!("o-1"));
    map.insert("amount".into(), serde_json::json!(500));
    map.insert("nested".into(), serde_json::json!({"z": 1, "a": 2}));
    let bytes = evident_core::json::canonical_bytes(&serde_json::Value::Object(map));
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        r#"{"amount":500,"nested":{"a":2,"z":1},"order":"o-1"}"#
    );
}

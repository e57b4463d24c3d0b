//! `Canonical::check` against its definition: bytes are accepted exactly when
//! `canonical_bytes(&parse_value(bytes)?) == bytes`. Checked on the RFC's and
//! cyberphone's vectors, on generated values, on every kind of near miss, and on
//! random mutations of canonical bytes; plus the accessors `verify` reads entries with.

mod common;

use std::path::PathBuf;

use common::Gen;
use evident_core::json::{canonical_bytes, parse_value, Canonical, CanonicalObject, MAX_DEPTH};
use serde_json::{json, Value};

/// The definition the scanner must agree with.
fn reference(bytes: &[u8]) -> bool {
    parse_value(bytes).is_ok_and(|value| canonical_bytes(&value) == bytes)
}

fn accepted(bytes: &[u8]) -> bool {
    Canonical::check(bytes).is_ok()
}

#[track_caller]
fn assert_agrees(bytes: &[u8]) {
    assert_eq!(
        accepted(bytes),
        reference(bytes),
        "{:?}: scanner {:?}",
        String::from_utf8_lossy(bytes),
        Canonical::check(bytes)
    );
}

#[track_caller]
fn assert_refused(bytes: &[u8]) {
    assert!(
        !reference(bytes),
        "not a near miss: {:?}",
        String::from_utf8_lossy(bytes)
    );
    assert!(
        Canonical::check(bytes).is_err(),
        "{:?} was accepted",
        String::from_utf8_lossy(bytes)
    );
}

fn vector(relative: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/jcs")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn accepts_the_published_canonical_outputs() {
    let sorting = vector("rfc8785/sorting.expected.json");
    assert!(accepted(&sorting), "{:?}", Canonical::check(&sorting));
    for name in ["arrays", "french", "structures", "unicode", "weird"] {
        let expected = vector(&format!("cyberphone/output/{name}.json"));
        assert!(
            accepted(&expected),
            "{name}: {:?}",
            Canonical::check(&expected)
        );
        assert_agrees(&expected);
        // The inputs are the same values, not yet canonical.
        let input = vector(&format!("cyberphone/input/{name}.json"));
        assert_refused(&input);
    }
    // values.json holds 1e+30: canonical, but not I-JSON.
    let values = vector("cyberphone/output/values.json");
    assert_refused(&values);
}

#[test]
fn refuses_every_kind_of_near_miss() {
    let near_misses: &[&[u8]] = &[
        // Layout.
        b"",
        b" {}",
        b"{} ",
        b"{\"a\": 1}",
        b"{\"a\":1 }",
        b"[1, 2]",
        b"{}{}",
        b"{\"a\":1,}",
        b"[1,]",
        b"[,1]",
        b"{\"a\"}",
        b"{\"a\":}",
        b"{\"a\",1}",
        b"{1:1}",
        b"[1}",
        b"{\"a\":1]",
        b"[",
        b"{\"a\":[1,2}",
        // Member order and uniqueness.
        br#"{"b":1,"a":2}"#,
        br#"{"a":1,"a":2}"#,
        br#"{"a":1,"\u0061":2}"#,
        br#"{"a":1,"":2}"#,
        br#"{"":1,"":2}"#,
        "{\"\u{e000}\":1,\"😀\":3}".as_bytes(),
        br#"{"ab":1,"a":2}"#,
        br#"{"x":{"b":1,"a":2}}"#,
        br#"{"a":{"b":1},"a":{"c":2}}"#,
        "{\"\u{ffee}\":2,\"\u{1d11e}\":1}".as_bytes(), // UTF-8 order, not UTF-16
        br#"{"\n":1,"\b":2}"#,
        // Literals.
        b"nul",
        b"True",
        b"[nulll]",
        b"[truefalse]",
        // Strings.
        b"\"abc",
        b"\"a\"b\"",
        b"\"\\/\"",
        br#""\u0041""#,
        br#""\u00e9""#,
        br#""\u20ac""#,
        br#""\u001F""#,
        br#""\u0008""#,
        br#""\u0009""#,
        br#""\u000a""#,
        br#""\u000c""#,
        br#""\u000d""#,
        br#""\u005c""#,
        br#""\u0022""#,
        br#""\u007f""#,
        br#""\ud83d\ude00""#,
        br#""\ud800""#,
        br#""\x""#,
        b"\"\\\"",
        b"\"\x00\"",
        b"\"\x1f\"",
        b"\"\n\"",
        b"\"\t\"",
        b"\"\xff\"",
        b"\"\xc3\x28\"",
        b"\"\xc0\xaf\"",
        b"\"\xed\xa0\x80\"",
        b"\"\xf4\x90\x80\x80\"",
        b"\xef\xbb\xbf{}",
        "\"\u{fdd0}\"".as_bytes(),
        "\"\u{fdef}\"".as_bytes(),
        "\"\u{fffe}\"".as_bytes(),
        "\"\u{ffff}\"".as_bytes(),
        "\"\u{1fffe}\"".as_bytes(),
        "\"\u{10ffff}\"".as_bytes(),
        "{\"\u{fffe}\":1}".as_bytes(),
        // Numbers.
        b"-0",
        b"01",
        b"-01",
        b"00",
        b"+1",
        b"1.0",
        b"1.50",
        b"0.10",
        b".5",
        b"1.",
        b"-",
        b"1e2",
        b"1E2",
        b"1e-07",
        b"1E-7",
        b"1e+2",
        b"0.0000001",
        b"1.5e0",
        b"-0.0",
        b"0e0",
        b"9007199254740993",
        b"-9007199254740993",
        b"18446744073709551616",
        b"1e300",
        b"1e400",
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b"0x10",
        b"1_000",
        b"9007199254740992.5",
        b"[1.5.5]",
        b"[1e5e5]",
        b"[--1]",
        b"[1-2]",
    ];
    for bytes in near_misses {
        assert_refused(bytes);
    }
}

#[test]
fn accepts_what_canonical_bytes_writes_at_the_edges() {
    let samples: &[&[u8]] = &[
        b"{}",
        b"[]",
        b"[[]]",
        b"{\"\":{}}",
        b"null",
        b"true",
        b"false",
        b"0",
        b"-1",
        b"9007199254740992",
        b"-9007199254740992",
        b"1.5",
        b"-1.5",
        b"0.1",
        b"1e-7",
        b"1.2345e-300",
        b"5e-324",
        b"123456789012.125",
        b"\"\"",
        br#""\b\t\n\f\r\"\\""#,
        br#""\u0000\u001f\u000b""#,
        b"\"\x7f/\"",
        br#"{"a":1,"b":2}"#,
        br#"{"":1,"a":2}"#,
        br#"{"\n":1,"a":2}"#,
        br#"{"\"":1,"\\":2}"#,
        br#"{"a":{"b":[{"c":null}]},"b":[1,"x",true]}"#,
        "{\"\u{1d11e}\":1,\"\u{ffee}\":2}".as_bytes(), // UTF-16 order
        "{\"😀\":3,\"\u{e000}\":1,\"\u{fb33}\":2}".as_bytes(),
        "\"€日本\u{fdcf}\u{fdf0}\u{fffd}\u{1fffd}\u{10fffd}\"".as_bytes(),
    ];
    for bytes in samples {
        assert!(
            accepted(bytes),
            "{:?}: {:?}",
            String::from_utf8_lossy(bytes),
            Canonical::check(bytes)
        );
        assert_agrees(bytes);
    }
}

#[test]
fn nesting_stops_at_max_depth() {
    let nested = |depth: usize| {
        let mut bytes = "[".repeat(depth).into_bytes();
        bytes.extend("]".repeat(depth).into_bytes());
        bytes
    };
    assert!(accepted(&nested(MAX_DEPTH)));
    assert_refused(&nested(MAX_DEPTH + 1));
    let objects = |depth: usize| {
        let mut bytes = r#"{"a":"#.repeat(depth).into_bytes();
        bytes.extend(b"0");
        bytes.extend("}".repeat(depth).into_bytes());
        bytes
    };
    assert!(accepted(&objects(MAX_DEPTH)));
    assert_refused(&objects(MAX_DEPTH + 1));
    // Deep input is refused without recursing: no stack overflow.
    assert!(!accepted(&nested(1_000_000)));
}

#[test]
fn agrees_with_parse_and_canonical_bytes_on_generated_values_and_their_mutations() {
    let mut gen = Gen(0x9e37_79b9_7f4a_7c15);
    let (mut canonical, mut refused) = (0, 0);
    for _ in 0..20_000 {
        let value = gen.value(0);
        let bytes = canonical_bytes(&value);
        // canonical_bytes writes any Value, also numbers outside I-JSON's range,
        // names and strings with noncharacters: those must be refused.
        assert_agrees(&bytes);
        canonical += usize::from(accepted(&bytes));
        for _ in 0..8 {
            let mutated = gen.mutate(&bytes);
            assert_agrees(&mutated);
            refused += usize::from(!accepted(&mutated));
        }
    }
    // The run covers both sides.
    assert!(canonical > 10_000, "{canonical}");
    assert!(refused > 100_000, "{refused}");
}

#[test]
fn members_strings_and_integers_read_back_as_parse_value_reads_them() {
    let mut gen = Gen(42);
    for _ in 0..5_000 {
        let value = gen.value(0);
        let bytes = canonical_bytes(&value);
        let Ok(checked) = Canonical::check(&bytes) else {
            continue;
        };
        // Compare with what `verify` used to read: the parsed bytes (an integral
        // double parses back as an integer, for instance).
        let value = parse_value(&bytes).unwrap();
        assert_reads_back(checked, &value);
        if let Value::Object(members) = &value {
            let object = CanonicalObject::check(&bytes).unwrap();
            assert_eq!(object.as_value(), checked);
            assert_eq!(object.members().len(), members.len());
            for ((name, member), (expected_name, expected)) in
                object.members().iter().zip(sorted(members))
            {
                assert_eq!(name.as_str().unwrap(), expected_name.as_str());
                assert_eq!(object.get(expected_name), checked.get(expected_name));
                assert_reads_back(*member, expected);
            }
        } else {
            assert!(CanonicalObject::check(&bytes).is_err());
        }
    }
}

fn sorted(members: &serde_json::Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut sorted: Vec<_> = members.iter().collect();
    sorted.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    sorted
}

#[track_caller]
fn assert_reads_back(checked: Canonical<'_>, value: &Value) {
    assert_eq!(checked.as_bytes(), canonical_bytes(value).as_slice());
    assert_eq!(checked.as_str().as_deref(), value.as_str());
    assert_eq!(checked.as_u64(), value.as_u64());
    assert_eq!(checked.is_object(), value.is_object());
    match value {
        Value::Object(members) => {
            let read: Vec<_> = checked.members().collect();
            assert_eq!(read.len(), members.len());
            for ((name, member), (expected_name, expected)) in read.into_iter().zip(sorted(members))
            {
                assert!(name.is_str(expected_name));
                assert_eq!(checked.get(expected_name), Some(member));
                assert_reads_back(member, expected);
            }
        }
        _ => assert_eq!(checked.members().count(), 0),
    }
}

#[test]
fn reads_an_entry() {
    let record = json!({
        "seq": 17,
        "trace_id": "t\"1\\",
        "actor": {"id": "agent-7", "type": "agent"},
        "context": {"subject": "subj_x", "job_id": null},
        "input": {"$blob": "sha256:00", "size": 3},
        "metadata": {"cost_usd": 0.000088}
    });
    let bytes = canonical_bytes(&record);
    let entry = CanonicalObject::check(&bytes).unwrap();
    assert_eq!(entry.get("seq").and_then(|v| v.as_u64()), Some(17));
    assert_eq!(entry.get("trace_id").unwrap().as_str().unwrap(), "t\"1\\");
    let actor = entry.get("actor").unwrap();
    assert!(actor.get("id").unwrap().is_str("agent-7"));
    assert_eq!(actor.get("missing"), None);
    let context = entry.get("context").unwrap();
    assert_eq!(context.get("job_id").unwrap().as_bytes(), b"null");
    assert_eq!(context.get("job_id").unwrap().as_str(), None);
    let blob = entry.get("input").unwrap().get("$blob").unwrap();
    assert_eq!(blob.as_str().unwrap(), "sha256:00");
    assert_eq!(
        entry
            .get("metadata")
            .unwrap()
            .get("cost_usd")
            .unwrap()
            .as_u64(),
        None
    );
    assert_eq!(entry.get("nope"), None);

    // is_str compares bytes where it can, and decodes where it must.
    let text = |bytes: &'static [u8]| Canonical::check(bytes).unwrap();
    assert!(text(br#""a\\b""#).is_str("a\\b"));
    assert!(!text(br#""a\bb""#).is_str("a\\bb"));
    assert!(text(br#""a\bb""#).is_str("a\u{8}b"));
    assert!(text(br#""\n""#).is_str("\n"));
    assert!(!text(br#""\n""#).is_str("n"));
    assert!(!text(b"5").is_str("5"));
    assert!(!text(br#""ab""#).is_str("a"));
    assert!(!text(br#"["a"]"#).is_str("a"));

    let err = CanonicalObject::check(b"[1]").unwrap_err();
    assert_eq!(err.offset, 0);
    let err = Canonical::check(br#"{"b":1,"a":2}"#).unwrap_err();
    assert_eq!(err.offset, 7, "{err}");
}

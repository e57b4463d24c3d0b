//! `parse_value`: the I-JSON rules of RFC 7493 and the pointers of its errors.

use std::time::{Duration, Instant};

use evident_core::json::{escape_pointer_token, parse_value, JsonError, MAX_DEPTH};
use serde_json::{json, Value};

fn error_of(bytes: &[u8]) -> JsonError {
    match parse_value(bytes) {
        Ok(value) => panic!(
            "{:?} was accepted as {value}",
            String::from_utf8_lossy(bytes)
        ),
        Err(err) => err,
    }
}

fn pointer_of(bytes: &[u8]) -> String {
    error_of(bytes).pointer
}

#[test]
fn accepts_plain_json_with_surrounding_whitespace() {
    let value = parse_value(b" \r\n\t{\"a\": [1, \"x\", null, true, {}], \"b\": {}} \n").unwrap();
    assert_eq!(value, json!({"a": [1, "x", null, true, {}], "b": {}}));
    assert_eq!(parse_value(b"\"bare\"").unwrap(), json!("bare"));
}

#[test]
fn duplicate_names_are_refused_where_they_occur() {
    let err = error_of(br#"{"a": 1, "a": 2}"#);
    assert_eq!(err.pointer, "/a");
    assert!(err.message.contains("duplicate"), "{err}");

    assert_eq!(
        pointer_of(br#"{"x": [{"k": 1}, {"k": 1, "j": 0, "k": 2}]}"#),
        "/x/1/k"
    );
    assert_eq!(
        pointer_of(br#"{"actor": {"id": "a", "type": "agent", "id": "b"}}"#),
        "/actor/id"
    );
    // The same name spelled differently is still the same name.
    assert_eq!(pointer_of(br#"{"a": 1, "\u0061": 2}"#), "/a");
    // RFC 6901 escaping of the reported name.
    assert_eq!(pointer_of(br#"{"a/b~c": 1, "a/b~c": 2}"#), "/a~1b~0c");
    assert_eq!(pointer_of(br#"{"": {"": 1, "": 2}}"#), "//");
}

#[test]
fn lone_surrogate_escapes_are_refused() {
    for text in [
        r#""\ud800""#,
        r#""\udc00""#,
        r#""\ud800x""#,
        r#""\ud800\u0041""#,
        r#""\ud800\ud800""#,
        r#""\udfff\ud800""#,
    ] {
        error_of(text.as_bytes());
    }
    assert_eq!(pointer_of(br#"{"s": ["ok", "\ud800"]}"#), "/s/1");
    assert_eq!(pointer_of(br#"{"o": {"\udbff": 1}}"#), "/o");
    assert_eq!(parse_value(br#""\ud83d\ude00""#).unwrap(), json!("😀"));
}

#[test]
fn invalid_utf8_is_refused() {
    for bytes in [
        &b"\"\xff\""[..],
        b"\"\xc3\x28\"",         // truncated sequence
        b"\"\xc0\xaf\"",         // overlong '/'
        b"\"\xed\xa0\x80\"",     // UTF-8-encoded surrogate (CESU-8)
        b"\"\xf4\x90\x80\x80\"", // above U+10FFFF
        b"\xef\xbb\xbf{}",       // byte order mark (RFC 8259 §8.1)
        b"{\"a\": \xff}",
    ] {
        error_of(bytes);
    }
    assert_eq!(pointer_of(b"{\"a\": [\"\xe2\x82\"]}"), "/a/0");
    assert_eq!(
        parse_value("\"€ ö 😀\"".as_bytes()).unwrap(),
        json!("€ ö 😀")
    );
}

#[test]
fn noncharacters_are_refused() {
    for text in [
        r#""\uffff""#,
        r#""\ufffe""#,
        r#""\ufdd0""#,
        r#""\ufdef""#,
        r#""\ud83f\udffe""#,
    ] {
        let err = error_of(text.as_bytes());
        assert!(err.message.contains("noncharacter"), "{err}");
    }
    error_of("\"a\u{10FFFF}\"".as_bytes());
    assert_eq!(pointer_of("{\"k\u{FDD5}\": 1}".as_bytes()), "/k\u{FDD5}");
    // Neighbours that are ordinary characters.
    for text in ["\u{FDCF}", "\u{FDF0}", "\u{FFFD}", "\u{EFFFD}", "\u{1F600}"] {
        assert_eq!(
            parse_value(json!(text).to_string().as_bytes()).unwrap(),
            json!(text)
        );
    }
}

#[test]
fn numbers_must_be_finite_and_within_2_pow_53() {
    for text in [
        "1e400",
        "-1e400",
        "1e300",
        "-1e300",
        "9007199254740993",
        "-9007199254740993",
        "9007199254740994.0",
        "18446744073709551616",
        "NaN",
        "Infinity",
        "-Infinity",
    ] {
        let err = error_of(text.as_bytes());
        assert_eq!(err.pointer, "", "{text}");
    }
    let err = error_of(br#"{"metadata": {"input_tokens": 9007199254740993}}"#);
    assert_eq!(err.pointer, "/metadata/input_tokens");
    assert!(err.message.contains("2^53"), "{err}");

    for (text, expected) in [
        ("9007199254740992", json!(9_007_199_254_740_992_u64)),
        ("-9007199254740992", json!(-9_007_199_254_740_992_i64)),
        ("1.5", json!(1.5)),
        ("-0.0", json!(-0.0)),
        ("-0", json!(-0.0)),
        ("1e-7", json!(1e-7)),
        ("5e-324", json!(5e-324)),
        ("0", json!(0)),
    ] {
        assert_eq!(parse_value(text.as_bytes()).unwrap(), expected, "{text}");
    }
}

/// `levels` containers, each `open` … `close`, around `innermost`.
fn nested(open: &str, innermost: &str, close: &str, levels: usize) -> Vec<u8> {
    format!("{}{innermost}{}", open.repeat(levels), close.repeat(levels)).into_bytes()
}

#[test]
fn nesting_up_to_max_depth_is_accepted_and_one_more_is_refused() {
    parse_value(&nested("[", "", "]", MAX_DEPTH)).unwrap();
    parse_value(&nested("{\"a\":", "1", "}", MAX_DEPTH - 1)).unwrap();

    let err = error_of(&nested("[", "", "]", MAX_DEPTH + 1));
    assert_eq!(err.pointer, "/0".repeat(MAX_DEPTH));
    assert!(err.message.contains("nesting"), "{err}");
    let err = error_of(&nested("{\"a\":", "1", "}", MAX_DEPTH + 1));
    assert_eq!(err.pointer, "/a".repeat(MAX_DEPTH));
}

/// Runs `test` on a thread with the default 2 MiB stack: deep input must fail
/// cleanly there, not overflow it.
fn on_small_stack(test: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(test)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn deep_nesting_cannot_overflow_the_stack() {
    on_small_stack(|| {
        let levels = 100_000;
        for document in [
            nested("[", "", "]", levels),
            nested("{\"a\":", "1", "}", levels),
            nested("[{\"a\":", "1", "}]", levels / 2),
            "[".repeat(levels).into_bytes(), // unterminated
        ] {
            let err = error_of(&document);
            assert!(err.message.contains("nesting"), "{err}");
        }
    });
}

#[test]
fn a_ten_megabyte_string_is_accepted_quickly() {
    let started = Instant::now();
    for filler in ["x", "é", "😀"] {
        let text = filler.repeat(10_000_000 / filler.len());
        let document = format!("{{\"output\": \"{text}\"}}");
        let value = parse_value(document.as_bytes()).unwrap();
        assert_eq!(value["output"].as_str().unwrap().len(), text.len());
    }
    // Generous even for a debug build; guards against anything quadratic.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn trailing_garbage_is_refused() {
    for text in [
        "{} x",
        "{}{}",
        "1 2",
        "[1]]",
        "{\"a\":1}}",
        "null,",
        "\"a\" \"b\"",
    ] {
        let err = error_of(text.as_bytes());
        assert_eq!(err.pointer, "", "{text}");
        assert!(err.message.contains("trailing"), "{text}: {err}");
    }
}

#[test]
fn syntax_errors_say_where() {
    let err = error_of(b"");
    assert_eq!(err.pointer, "");
    assert!(err.message.contains("EOF"), "{err}");

    let err = error_of(b"{\"a\": [1, 2,\n  x]}");
    assert_eq!(err.pointer, "/a/2");
    assert!(err.message.ends_with("(line 2, column 3)"), "{err}");

    assert_eq!(pointer_of(br#"{"a": {"b": tru}}"#), "/a/b");
    assert_eq!(pointer_of(br#"{"a": "unterminated"#), "/a");
    assert_eq!(pointer_of(b"{'a': 1}"), "");
    assert_eq!(pointer_of(b"[1, 2,]"), "/2");
    assert_eq!(pointer_of(b"{\"a\": \"tab\there\"}"), "/a");
}

#[test]
fn errors_display_pointer_then_message() {
    let err = JsonError::new("/actor/id", "must be a string");
    assert_eq!(err.to_string(), "at /actor/id: must be a string");
    assert_eq!(err.in_element(2).pointer, "/2/actor/id");
    assert_eq!(escape_pointer_token("a/b~c"), "a~1b~0c");
    assert_eq!(escape_pointer_token("plain"), "plain");
}

#[test]
fn parsed_values_are_plain_serde_json_values() {
    let value: Value = parse_value(br#"{"z": 1, "a": [true]}"#).unwrap();
    assert_eq!(
        value,
        serde_json::from_str::<Value>(r#"{"a": [true], "z": 1}"#).unwrap()
    );
}

//! `parse_events_body`: one event, a JSON array, or NDJSON (CONTRACT section 4).

use evident_core::json::{parse_events_body, BodyFormat, JsonError, MAX_BATCH};
use serde_json::json;

fn json_body(bytes: &[u8]) -> Result<Vec<serde_json::Value>, JsonError> {
    parse_events_body(bytes, BodyFormat::Json)
}

fn ndjson_body(bytes: &[u8]) -> Result<Vec<serde_json::Value>, JsonError> {
    parse_events_body(bytes, BodyFormat::Ndjson)
}

const EVENT: &str = r#"{"trace_id": "t-1", "actor": {"type": "agent", "id": "a"}}"#;

#[test]
fn a_single_object_is_a_batch_of_one() {
    let events = json_body(EVENT.as_bytes()).unwrap();
    assert_eq!(
        events,
        vec![serde_json::from_str::<serde_json::Value>(EVENT).unwrap()]
    );
}

#[test]
fn an_array_is_a_batch_in_order() {
    let events = json_body(br#" [{"n": 0}, {"n": 1}, {"n": 2}] "#).unwrap();
    assert_eq!(
        events,
        vec![json!({"n": 0}), json!({"n": 1}), json!({"n": 2})]
    );
}

#[test]
fn json_bodies_that_are_not_events() {
    for (body, pointer, words) in [
        (&b""[..], "", "empty body"),
        (b" \n", "", "empty body"),
        (b"[]", "", "empty batch"),
        (b"\"an event\"", "", "found a string"),
        (b"42", "", "found a number"),
        (b"null", "", "found null"),
        (b"[{}, {}, [], {}]", "/2", "found an array"),
        (b"[{}, \"x\"]", "/1", "found a string"),
    ] {
        let err = json_body(body).unwrap_err();
        assert_eq!(err.pointer, pointer, "{err}");
        assert!(err.message.contains(words), "{err}");
    }
}

#[test]
fn json_batch_errors_point_into_the_event() {
    let err = json_body(br#"[{}, {}, {"actor": {"id": "a", "id": "b"}}]"#).unwrap_err();
    assert_eq!(err.pointer, "/2/actor/id");
    let err = json_body(br#"[{}, {"metadata": {"cost": 1e300}}]"#).unwrap_err();
    assert_eq!(err.pointer, "/1/metadata/cost");
}

#[test]
fn json_batch_size_is_limited() {
    let body = |count: usize| format!("[{}]", vec!["{}"; count].join(",")).into_bytes();
    assert_eq!(json_body(&body(MAX_BATCH)).unwrap().len(), MAX_BATCH);
    let err = json_body(&body(MAX_BATCH + 1)).unwrap_err();
    assert_eq!(err.pointer, format!("/{MAX_BATCH}"));
    assert!(err.message.contains("more than 10000 events"), "{err}");
    // Nested arrays are payload, not events: no batch limit applies to them.
    let payload = format!("{{\"input\": [{}]}}", vec!["0"; MAX_BATCH + 1].join(","));
    json_body(payload.as_bytes()).unwrap();
}

#[test]
fn ndjson_one_event_per_line() {
    let body = format!("{EVENT}\r\n\r\n{{\"n\": 2}}\n  \n{{\"n\": 3}}");
    let events = ndjson_body(body.as_bytes()).unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[2], json!({"n": 3}));
    assert_eq!(ndjson_body(b"{}\n").unwrap(), vec![json!({})]);
}

#[test]
fn ndjson_errors_name_the_line() {
    let err = ndjson_body(b"{}\n{}\nnot json\n{}\n").unwrap_err();
    assert_eq!(err.pointer, "/2");
    assert!(err.message.ends_with("(line 3, column 2)"), "{err}");
    // Within the line, as precisely as the parser got.
    let err = ndjson_body(b"{}\n{}\n{\"a\": }\n{}\n").unwrap_err();
    assert_eq!(err.pointer, "/2/a");
    assert!(err.message.ends_with("(line 3, column 7)"), "{err}");

    let err = ndjson_body(b"{}\n{}\n{\"actor\": {\"id\": 1, \"id\": 2}}\n").unwrap_err();
    assert_eq!(err.pointer, "/2/actor/id");
    // The index is the line's: a blank line 2 makes line 4 "/3".
    let err = ndjson_body(b"{}\n\n{}\n{\"n\": 9007199254740993}\n").unwrap_err();
    assert_eq!(err.pointer, "/3/n");
    assert!(err.message.contains("line 4"), "{err}");
}

#[test]
fn ndjson_bodies_that_are_not_events() {
    for (body, pointer, words) in [
        (&b""[..], "", "empty batch"),
        (b"\n\r\n \n", "", "empty batch"),
        (b"{}\n[{}]\n", "/1", "found an array"),
        (b"{}\n\"x\"", "/1", "found a string"),
        (b"{} {}\n", "/0", "trailing"),
        (b"{\"a\":\n1}\n", "/0/a", "EOF"),
    ] {
        let err = ndjson_body(body).unwrap_err();
        assert_eq!(err.pointer, pointer, "{err}");
        assert!(err.message.contains(words), "{err}");
    }
}

#[test]
fn ndjson_batch_size_is_limited() {
    let body = |count: usize| "{}\n".repeat(count).into_bytes();
    assert_eq!(ndjson_body(&body(MAX_BATCH)).unwrap().len(), MAX_BATCH);
    let err = ndjson_body(&body(MAX_BATCH + 1)).unwrap_err();
    assert_eq!(err.pointer, format!("/{MAX_BATCH}"));
}

#[test]
fn deep_nesting_in_a_body_cannot_overflow_the_stack() {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| {
            let deep = format!(
                "{{\"input\": {}{}}}",
                "[".repeat(100_000),
                "]".repeat(100_000)
            );
            for format in [BodyFormat::Json, BodyFormat::Ndjson] {
                let err = parse_events_body(deep.as_bytes(), format).unwrap_err();
                assert!(err.message.contains("nesting"), "{err}");
            }
            let batch = format!("[{{}}, {deep}]");
            let err = json_body(batch.as_bytes()).unwrap_err();
            assert!(err.pointer.starts_with("/1/input/0/0"), "{err}");
        })
        .unwrap()
        .join()
        .unwrap();
}

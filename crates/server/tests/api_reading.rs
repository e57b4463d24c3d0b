//! Records in answers (CONTRACT section 4: "records with payloads resolved, tokens not
//! revealed"), checked against the log itself: every record of a search page, trace,
//! timeline or lookup must be its entry with each JSON payload in place of its
//! commitment, whatever the page size (small pages are resolved on the async thread,
//! large ones on the blocking pool), however blobs are shared between events, and
//! with erased subjects among readable ones.

mod common;

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use common::TestApp;
use serde_json::{json, Value};

const PAYLOADS: [&str; 3] = ["input", "output", "attributes"];

/// An event of `trace` about `subject` (if any) whose payloads are about 1 KB each,
/// free of personal data so they are stored as submitted.
fn event(id: &str, trace: &str, subject: Option<&str>, n: usize) -> Value {
    let words = format!("lorem ipsum {n} dolor sit amet ").repeat(30);
    let mut e = json!({
        "event_id": id, "trace_id": trace, "timestamp": format!("2026-11-23T10:{:02}:{:02}Z", n / 60 % 60, n % 60),
        "actor": {"type": "agent", "id": "reader-bot"}, "event_type": "tool_call",
        "context": {"workflow_run_id": format!("run-{trace}"), "job_id": format!("job-{trace}")},
        "input": {"prompt": words, "n": n, "nested": [{"a": [1, 2.5, null, true]}, "é ü \u{1F600}"]},
        "output": {"text": format!("answer {n}"), "score": 0.125},
    });
    if n.is_multiple_of(3) {
        e["attributes"] = json!({"weather": "sunny", "list": [n, n + 1]});
    }
    if let Some(subject) = subject {
        e["context"]["subject"] = json!(subject);
    }
    e
}

/// What every record must be: its entry, each payload commitment replaced by the
/// payload submitted (`payloads`, by event id); commitments of other blobs stay.
async fn expected_records(
    t: &TestApp,
    payloads: &HashMap<String, Value>,
) -> HashMap<String, Value> {
    let mut expected = HashMap::new();
    for entry in t.entries().await {
        let mut record: Value = serde_json::from_slice(&entry).unwrap();
        let id = record["event_id"].as_str().unwrap().to_owned();
        if let Some(submitted) = payloads.get(&id) {
            for field in PAYLOADS {
                if !submitted[field].is_null() {
                    assert!(
                        record[field]["$blob"].is_string(),
                        "{id}: {field} is a blob"
                    );
                    record[field] = submitted[field].clone();
                }
            }
        }
        expected.insert(id, record);
    }
    expected
}

fn assert_records(answer: &Value, list: &str, expected: &HashMap<String, Value>, what: &str) {
    let records = answer[list]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: {answer}"));
    assert!(!records.is_empty(), "{what}: no records");
    for record in records {
        let id = record["event_id"].as_str().unwrap();
        assert_eq!(record, &expected[id], "{what}: record {id}");
    }
}

/// Every page of a search, following `next_cursor`.
async fn walk(t: &TestApp, filters: Value, limit: usize) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut body = filters;
    body["limit"] = json!(limit);
    loop {
        let page = t.search_post(&body).await.ok_json();
        let next = page["next_cursor"].clone();
        pages.push(page);
        match next.as_str() {
            Some(cursor) => body["cursor"] = json!(cursor),
            None => return pages,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_every_answer_are_their_entries_with_payloads() {
    let t = TestApp::new().await;
    let subjects = [Some("cust-ana"), Some("cust-bo"), None];
    let events: Vec<Value> = (0..120)
        .map(|n| {
            event(
                &format!("r{n}"),
                &format!("trace-{}", n % 4),
                subjects[n % 3],
                n,
            )
        })
        .collect();
    t.ingest_ok(&Value::Array(events.clone())).await;
    t.wait_indexed().await;
    let payloads: HashMap<String, Value> = events
        .iter()
        .map(|e| (e["event_id"].as_str().unwrap().to_owned(), e.clone()))
        .collect();
    let expected = expected_records(&t, &payloads).await;

    // One page of everything (about 300 KB: resolved on the blocking pool), and small
    // pages (resolved inline).
    for limit in [1000, 7] {
        let pages = walk(&t, json!({}), limit).await;
        let total: usize = pages
            .iter()
            .map(|p| p["events"].as_array().unwrap().len())
            .sum();
        assert!(total >= 120, "limit {limit}: {total} records");
        for page in &pages {
            assert_records(page, "events", &expected, &format!("search, limit {limit}"));
        }
        for filters in [
            json!({"subject": "cust-ana"}),
            json!({"trace_id": "trace-1"}),
            json!({"q": "lorem"}),
        ] {
            for page in walk(&t, filters.clone(), limit).await {
                assert_records(
                    &page,
                    "events",
                    &expected,
                    &format!("{filters}, limit {limit}"),
                );
            }
        }
    }
    for trace in 0..4 {
        let answer = t
            .get(&format!("/api/v1/traces/trace-{trace}"), Some(&t.auditor))
            .await
            .ok_json();
        assert_eq!(answer["events"].as_array().unwrap().len(), 30);
        assert_records(&answer, "events", &expected, "trace");
        let answer = t
            .get(
                &format!("/api/v1/workflow-runs/run-trace-{trace}/timeline"),
                Some(&t.auditor),
            )
            .await
            .ok_json();
        assert_records(&answer, "events", &expected, "timeline");
    }
    for id in ["r0", "r1", "r2", "r119"] {
        let answer = t.get_event(id).await.ok_json();
        assert_eq!(answer["record"], expected[id], "event {id}");
        assert_eq!(answer["seq"], expected[id]["seq"]);
    }
    // Tokens stay tokens: no clear subject anywhere in an answer.
    let text = walk(&t, json!({}), 1000).await[0].to_string();
    assert!(!text.contains("cust-ana") && !text.contains("cust-bo"));
}

async fn upload(t: &TestApp, media_type: &str, body: String) -> Value {
    t.send(
        Method::POST,
        "/api/v1/blobs",
        Some(&t.ingest),
        Some(media_type),
        body,
    )
    .await
    .ok_json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_referenced_by_several_events_resolves_in_each() {
    let t = TestApp::new().await;
    let shared = json!({"transcript": "a Kangaroo crossed the road", "n": [1, 2]});
    let json_upload = upload(&t, "application/json", shared.to_string()).await;
    let text_upload = upload(&t, "text/plain", "plain words".into()).await;
    // The first event claims the uploads; the later ones (of the same subject: an
    // upload belongs to one subject) reference them again, so their blobs are stored
    // with the first one, not with them.
    let mut first = event("u-first", "trace-u", Some("cust-up"), 1);
    first["input"] = json_upload.clone();
    first["output"] = text_upload.clone();
    let mut filler = Vec::new();
    for n in 0..5 {
        filler.push(event(&format!("u-filler-{n}"), "trace-other", None, n));
    }
    let mut again = event("u-again", "trace-u", Some("cust-up"), 2);
    again["input"] = json_upload.clone();
    again["attributes"] = text_upload.clone();
    let mut third = event("u-third", "trace-u", Some("cust-up"), 3);
    third["output"] = json_upload.clone();
    let mut batch = vec![first];
    batch.extend(filler);
    batch.push(again);
    t.ingest_ok(&Value::Array(batch)).await;
    t.ingest_ok(&json!([third])).await;
    t.wait_indexed().await;

    let check = |record: &Value, field: &str, what: &str| {
        assert_eq!(
            record[field], shared,
            "{what}: {field} of {}",
            record["event_id"]
        );
    };
    let check_text = |record: &Value, field: &str, what: &str| {
        assert_eq!(record[field]["$blob"], text_upload["$blob"], "{what}");
        assert_eq!(record[field]["media_type"], json!("text/plain"), "{what}");
    };
    let by_id = |answer: &Value| -> HashMap<String, Value> {
        answer["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["event_id"].as_str().unwrap().to_owned(), r.clone()))
            .collect()
    };
    let trace = t
        .get("/api/v1/traces/trace-u", Some(&t.auditor))
        .await
        .ok_json();
    let pages: Vec<Value> = walk(&t, json!({"trace_id": "trace-u"}), 1).await;
    let mut answers = vec![("trace", by_id(&trace))];
    for page in &pages {
        answers.push(("search page of one", by_id(page)));
    }
    answers.push((
        "search",
        by_id(&t.search_post(&json!({"q": "kangaroo"})).await.ok_json()),
    ));
    for (what, records) in &answers {
        for (id, record) in records {
            match id.as_str() {
                "u-first" => {
                    check(record, "input", what);
                    check_text(record, "output", what);
                }
                "u-again" => {
                    check(record, "input", what);
                    check_text(record, "attributes", what);
                }
                "u-third" => check(record, "output", what),
                other => panic!("{what}: unexpected {other}"),
            }
        }
    }
    assert_eq!(answers[0].1.len(), 3);
    assert_eq!(
        answers.last().unwrap().1.len(),
        3,
        "all three match the text"
    );
    for id in ["u-first", "u-again", "u-third"] {
        assert_eq!(
            t.get_event(id).await.ok_json()["record"],
            answers[0].1[id],
            "GET {id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erased_and_readable_payloads_share_a_page() {
    let t = TestApp::new().await;
    let events: Vec<Value> = (0..60usize)
        .map(|n| {
            let subject = if n.is_multiple_of(2) {
                "cust-gone"
            } else {
                "cust-kept"
            };
            event(&format!("x{n}"), "trace-x", Some(subject), n)
        })
        .collect();
    t.ingest_ok(&Value::Array(events.clone())).await;
    t.wait_indexed().await;
    let before = walk(&t, json!({}), 1000).await.remove(0);
    t.send(
        Method::POST,
        "/api/v1/subjects/erase",
        Some(&t.privacy),
        Some("application/json"),
        json!({"subject": "cust-gone", "reason": "GDPR art. 17"}).to_string(),
    )
    .await
    .ok_json();
    let entries: HashMap<String, Value> = t
        .entries()
        .await
        .iter()
        .map(|e| {
            let v: Value = serde_json::from_slice(e).unwrap();
            (v["event_id"].as_str().unwrap().to_owned(), v)
        })
        .collect();
    let trace = t
        .get("/api/v1/traces/trace-x", Some(&t.auditor))
        .await
        .ok_json();
    for (what, answer) in [
        ("one large page", walk(&t, json!({}), 1000).await.remove(0)),
        (
            "a small page",
            walk(&t, json!({"trace_id": "trace-x"}), 5).await.remove(0),
        ),
        ("trace", trace),
    ] {
        for record in answer["events"].as_array().unwrap() {
            let id = record["event_id"].as_str().unwrap();
            // The erasure's own event is in the log too.
            let Some(n) = id.strip_prefix('x').and_then(|n| n.parse::<usize>().ok()) else {
                continue;
            };
            let entry = &entries[id];
            for field in PAYLOADS {
                if entry[field].is_null() {
                    continue;
                }
                if n.is_multiple_of(2) {
                    let mut commitment = entry[field].clone();
                    commitment["erased"] = json!(true);
                    assert_eq!(record[field], commitment, "{what}: {id} {field}");
                } else {
                    assert_eq!(record[field], events[n][field], "{what}: {id} {field}");
                }
            }
        }
    }
    // The readable records did not change; the erased ones lost only their payloads.
    let after = walk(&t, json!({}), 1000).await.remove(0);
    let (before, after) = (
        before["events"].as_array().unwrap(),
        after["events"].as_array().unwrap(),
    );
    for (b, a) in before.iter().zip(after) {
        let erased = a["input"]["erased"] == json!(true);
        if !erased {
            assert_eq!(a, b);
        } else {
            let mut a = a.clone();
            let mut b = b.clone();
            for field in PAYLOADS {
                a[field] = Value::Null;
                b[field] = Value::Null;
            }
            assert_eq!(a, b);
        }
    }
    // An erased subject's events are dropped from search text by the erasure; the
    // readable ones still match.
    let answer = t.search_post(&json!({"q": "lorem"})).await.ok_json();
    assert!(answer["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["input"]["prompt"].is_string()));
    t.get("/api/v1/events/x0", Some(&t.auditor)).await.ok_json()["record"]["input"]["erased"]
        .as_bool()
        .filter(|erased| *erased)
        .expect("x0 is erased");
    assert_eq!(
        t.get("/api/v1/events/nope", Some(&t.auditor)).await.status,
        StatusCode::NOT_FOUND
    );
}

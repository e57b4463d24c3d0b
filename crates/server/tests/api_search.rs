//! `GET /api/v1/events` and `POST /api/v1/events/search` (CONTRACT section 4):
//! every filter alone and combined, checked against a model of the corpus computed
//! here; pagination (also while another task keeps appending); full text (words,
//! phrases, prefixes, payloads, what is not indexed, `indexed_through`); and bad
//! parameters, which are 400 problem+json naming the parameter, never a 5xx.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use common::{detail, event_ids, event_seqs, Reply, TestApp};
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------------
// The corpus: 40 events whose filter values cycle with different periods, so that
// every filter alone selects a proper subset and combinations intersect.

const AGENTS: [&str; 3] = ["refund-bot", "triage-bot", "kyc-bot"];
const KINDS: [&str; 4] = ["tool_call", "model_call", "decision", "external_action"];
const TRACES: [&str; 5] = ["t-1", "t-2", "t-3", "t-4", "t-5"];
const JOBS: [Option<&str>; 3] = [Some("job-A"), Some("job-B"), None];
const CASES: [Option<&str>; 3] = [Some("case-1"), Some("case-2"), None];
const SUBJECTS: [Option<&str>; 3] = [Some("customer-4711"), Some("customer-0815"), None];
/// UTC offsets (minutes) the events and filters are written in.
const OFFSETS: [i64; 4] = [0, 60, -300, 330];
const CORPUS_SIZE: usize = 40;

/// The RFC 3339 text of the instant `secs` seconds after 2026-11-23T09:00:00Z, written
/// in the UTC offset `offset` (minutes).
fn timestamp(secs: i64, offset: i64) -> String {
    let local = 9 * 3600 + secs + offset * 60;
    assert!((0..86_400).contains(&local), "stays on one day");
    let zone = if offset == 0 {
        "Z".to_owned()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        format!("{sign}{:02}:{:02}", offset.abs() / 60, offset.abs() % 60)
    };
    format!(
        "2026-11-23T{:02}:{:02}:{:02}{zone}",
        local / 3600,
        local / 60 % 60,
        local % 60
    )
}

#[derive(Debug, Clone)]
struct Spec {
    id: String,
    agent: &'static str,
    kind: &'static str,
    trace: &'static str,
    job: Option<&'static str>,
    case: Option<&'static str>,
    subject: Option<&'static str>,
    /// Seconds after 09:00Z; distinct for every event, and not in `seq` order.
    secs: i64,
    offset: i64,
    even: bool,
}

fn corpus() -> Vec<Spec> {
    (0..CORPUS_SIZE)
        .map(|i| Spec {
            id: format!("ev-{i:02}"),
            agent: AGENTS[i % 3],
            kind: KINDS[i % 4],
            trace: TRACES[i % 5],
            job: JOBS[(i / 2) % 3],
            case: CASES[(i / 3) % 3],
            subject: SUBJECTS[(i / 5) % 3],
            // 37 is prime to 120: distinct minutes in 0..120.
            secs: i64::try_from(i * 37 % 120).unwrap() * 60,
            offset: OFFSETS[i % 4],
            even: i % 2 == 0,
        })
        .collect()
}

fn spec_event(spec: &Spec) -> Value {
    let mut context = Map::new();
    if let Some(job) = spec.job {
        context.insert("job_id".into(), json!(job));
    }
    if let Some(case) = spec.case {
        context.insert("case_id".into(), json!(case));
    }
    if let Some(subject) = spec.subject {
        context.insert("subject".into(), json!(subject));
    }
    let parity = if spec.even { "even" } else { "odd" };
    let mut input = json!({"note": format!("parity {parity}")});
    if let Some(subject) = spec.subject {
        // The clear identifier in the text too: ingest replaces it by the token.
        input["ticket"] = json!(format!("ticket opened for {subject} today"));
    }
    json!({
        "event_id": spec.id,
        "trace_id": spec.trace,
        "timestamp": timestamp(spec.secs, spec.offset),
        "actor": {"type": "agent", "id": spec.agent},
        "event_type": spec.kind,
        "context": context,
        "input": input,
        "outcome": "success",
    })
}

/// A test app holding the corpus (ingested in three requests), fully text-indexed.
async fn corpus_app() -> (TestApp, Vec<Spec>) {
    let t = TestApp::new().await;
    let specs = corpus();
    for chunk in specs.chunks(15) {
        let events: Vec<Value> = chunk.iter().map(spec_event).collect();
        t.ingest_ok(&Value::Array(events)).await;
    }
    t.wait_indexed().await;
    (t, specs)
}

/// A named filter set and the events it must select.
type FilterCase = (
    &'static str,
    Vec<(&'static str, String)>,
    Box<dyn Fn(&Spec) -> bool>,
);

fn pairs_ref<'a>(pairs: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn body_of(pairs: &[(&str, String)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect(),
    )
}

/// Asserts `answer` has the search shape, its events strictly in `seq` order.
fn assert_search_shape(answer: &Value) {
    assert!(answer["events"].is_array(), "{answer}");
    assert!(
        answer.get("next_cursor").is_some(),
        "next_cursor is always present: {answer}"
    );
    assert!(
        answer.get("indexed_through").is_some(),
        "indexed_through is always present: {answer}"
    );
    let seqs = event_seqs(answer);
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "results in seq order: {seqs:?}"
    );
}

/// Runs one filter set by GET and by POST and compares both with `expected`.
async fn check_filters(
    t: &TestApp,
    what: &str,
    pairs: &[(&str, String)],
    expected: &[String],
    size: u64,
) {
    let get = t.search_get(&pairs_ref(pairs)).await;
    let get_answer = get.ok_json();
    assert_search_shape(&get_answer);
    assert_eq!(event_ids(&get_answer), expected, "GET {what}: {pairs:?}");
    assert_eq!(get_answer["next_cursor"], Value::Null, "GET {what}");
    assert_eq!(
        get_answer["indexed_through"],
        json!(size - 1),
        "GET {what}: the index covers the whole log"
    );
    let post = t.search_post(&body_of(pairs)).await;
    let post_answer = post.ok_json();
    assert_search_shape(&post_answer);
    assert_eq!(event_ids(&post_answer), expected, "POST {what}: {pairs:?}");
    for (name, reply) in [("GET", &get), ("POST", &post)] {
        let text = reply.text();
        for clear in SUBJECTS.iter().flatten() {
            assert!(
                !text.contains(clear),
                "{name} {what}: the clear subject id {clear:?} leaked: {text}"
            );
        }
    }
}

fn expect(specs: &[Spec], pred: impl Fn(&Spec) -> bool) -> Vec<String> {
    specs
        .iter()
        .filter(|s| pred(s))
        .map(|s| s.id.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_filter_alone_by_get_and_post() {
    let (t, specs) = corpus_app().await;
    let size = t.tree_size().await;
    assert_eq!(size, CORPUS_SIZE as u64);

    // The token of customer-4711, as stored (read back, not computed here).
    let stored = t.get_event("ev-00").await.ok_json();
    let token = stored["record"]["context"]["subject"]
        .as_str()
        .expect("a subject token")
        .to_owned();
    assert!(token.starts_with("subj_"), "{token}");

    let from = 37 * 60; // ev-01's instant
    let to = 74 * 60; // ev-02's instant
    let cases: Vec<FilterCase> = vec![
        (
            "agent",
            vec![("agent", "refund-bot".into())],
            Box::new(|s| s.agent == "refund-bot"),
        ),
        (
            "type",
            vec![("type", "decision".into())],
            Box::new(|s| s.kind == "decision"),
        ),
        (
            "trace_id",
            vec![("trace_id", "t-3".into())],
            Box::new(|s| s.trace == "t-3"),
        ),
        (
            "job_id",
            vec![("job_id", "job-B".into())],
            Box::new(|s| s.job == Some("job-B")),
        ),
        (
            "case_id",
            vec![("case_id", "case-2".into())],
            Box::new(|s| s.case == Some("case-2")),
        ),
        (
            "subject (clear id)",
            vec![("subject", "customer-4711".into())],
            Box::new(|s| s.subject == Some("customer-4711")),
        ),
        (
            "subject (clear id, untrimmed)",
            vec![("subject", "  customer-4711 ".into())],
            Box::new(|s| s.subject == Some("customer-4711")),
        ),
        (
            "subject (token)",
            vec![("subject", token.clone())],
            Box::new(|s| s.subject == Some("customer-4711")),
        ),
        (
            "from (inclusive, another offset)",
            vec![("from", timestamp(from, 330))],
            Box::new(move |s| s.secs >= from),
        ),
        (
            "to (inclusive, another offset)",
            vec![("to", timestamp(to, -300))],
            Box::new(move |s| s.secs <= to),
        ),
        (
            "from just after an event",
            vec![("from", timestamp(from + 1, 60))],
            Box::new(move |s| s.secs > from),
        ),
        (
            "to just before an event",
            vec![("to", timestamp(to - 1, 0))],
            Box::new(move |s| s.secs < to),
        ),
        ("q", vec![("q", "even".into())], Box::new(|s| s.even)),
    ];
    for (what, pairs, pred) in &cases {
        let expected = expect(&specs, pred);
        assert!(
            !expected.is_empty() && expected.len() < specs.len(),
            "{what}: the corpus must make this filter select a proper subset"
        );
        check_filters(&t, what, pairs, &expected, size).await;
    }

    // Inclusive bounds: the events exactly at `from` and `to` are in.
    let both = vec![("from", timestamp(from, -300)), ("to", timestamp(to, 330))];
    let expected = expect(&specs, |s| (from..=to).contains(&s.secs));
    assert!(expected.contains(&"ev-01".to_owned()) && expected.contains(&"ev-02".to_owned()));
    check_filters(&t, "from and to", &both, &expected, size).await;
    // from = to: exactly the event at that instant.
    let point = vec![("from", timestamp(from, 0)), ("to", timestamp(from, 60))];
    check_filters(&t, "from = to", &point, &["ev-01".to_owned()], size).await;

    // A valid value nothing matches.
    for pairs in [
        vec![("type", "policy_decision".to_owned())],
        vec![("agent", "nobody".to_owned())],
        vec![("case_id", "case-9".to_owned())],
        vec![("subject", "customer-9999".to_owned())],
        vec![("subject", format!("subj_{}", "a".repeat(32)))],
    ] {
        check_filters(&t, "no match", &pairs, &[], size).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_combine_by_get_and_post() {
    let (t, specs) = corpus_app().await;
    let size = t.tree_size().await;
    let stored = t.get_event("ev-05").await.ok_json();
    let token_0815 = stored["record"]["context"]["subject"]
        .as_str()
        .expect("a subject token")
        .to_owned();

    let cases: Vec<FilterCase> = vec![
        (
            "agent + type",
            vec![
                ("agent", "refund-bot".into()),
                ("type", "model_call".into()),
            ],
            Box::new(|s| s.agent == "refund-bot" && s.kind == "model_call"),
        ),
        (
            "trace + job",
            vec![("trace_id", "t-2".into()), ("job_id", "job-A".into())],
            Box::new(|s| s.trace == "t-2" && s.job == Some("job-A")),
        ),
        (
            "agent + from + to",
            vec![
                ("agent", "triage-bot".into()),
                ("from", timestamp(20 * 60, 60)),
                ("to", timestamp(90 * 60, -300)),
            ],
            Box::new(|s| s.agent == "triage-bot" && (1200..=5400).contains(&s.secs)),
        ),
        (
            "subject (clear) + case",
            vec![
                ("subject", "customer-0815".into()),
                ("case_id", "case-1".into()),
            ],
            Box::new(|s| s.subject == Some("customer-0815") && s.case == Some("case-1")),
        ),
        (
            "subject (token) + case",
            vec![
                ("subject", token_0815.clone()),
                ("case_id", "case-1".into()),
            ],
            Box::new(|s| s.subject == Some("customer-0815") && s.case == Some("case-1")),
        ),
        (
            "type + job + case + from",
            vec![
                ("type", "tool_call".into()),
                ("job_id", "job-A".into()),
                ("case_id", "case-1".into()),
                ("from", timestamp(10 * 60, 330)),
            ],
            Box::new(|s| {
                s.kind == "tool_call"
                    && s.job == Some("job-A")
                    && s.case == Some("case-1")
                    && s.secs >= 600
            }),
        ),
        (
            "q + agent",
            vec![("q", "odd".into()), ("agent", "kyc-bot".into())],
            Box::new(|s| !s.even && s.agent == "kyc-bot"),
        ),
        (
            "phrase + trace + to",
            vec![
                ("q", "\"parity even\"".into()),
                ("trace_id", "t-1".into()),
                ("to", timestamp(100 * 60, 0)),
            ],
            Box::new(|s| s.even && s.trace == "t-1" && s.secs <= 6000),
        ),
        (
            "contradictory",
            vec![("trace_id", "t-1".into()), ("trace_id", "t-2".into())],
            // Repeated names: the last wins (documented in routes/params.rs).
            Box::new(|s| s.trace == "t-2"),
        ),
    ];
    for (what, pairs, pred) in &cases {
        let expected = expect(&specs, pred);
        assert!(
            !expected.is_empty(),
            "{what}: the corpus must give this combination a match"
        );
        if what == &"contradictory" {
            // A JSON body cannot repeat a name; GET only.
            let answer = t.search_get(&pairs_ref(pairs)).await.ok_json();
            assert_eq!(event_ids(&answer), expected, "{what}");
            continue;
        }
        check_filters(&t, what, pairs, &expected, size).await;
    }

    // Every filter at once, each taken from one event: exactly that event.
    let one = specs
        .iter()
        .skip(1)
        .find(|s| s.job.is_some() && s.case.is_some() && s.subject.is_some())
        .expect("an event with every context id");
    let all = vec![
        ("agent", one.agent.to_owned()),
        ("type", one.kind.to_owned()),
        ("trace_id", one.trace.to_owned()),
        ("job_id", one.job.unwrap().to_owned()),
        ("case_id", one.case.unwrap().to_owned()),
        ("subject", one.subject.unwrap().to_owned()),
        ("from", timestamp(one.secs, 330)),
        ("to", timestamp(one.secs, -300)),
        ("q", if one.even { "even" } else { "odd" }.to_owned()),
    ];
    check_filters(&t, "all filters", &all, std::slice::from_ref(&one.id), size).await;
    // Change any one of them and nothing matches.
    // (`from` and `to` are covered above: moving one alone inverts the range.)
    for i in 0..all.len() {
        let mut changed = all.clone();
        changed[i].1 = match changed[i].0 {
            "from" | "to" => continue,
            "type" => "retrieval".to_owned(),
            "subject" => "customer-0000".to_owned(),
            "q" => if one.even { "odd" } else { "even" }.to_owned(),
            _ => format!("{}-x", changed[i].1),
        };
        check_filters(&t, changed[i].0, &changed, &[], size).await;
    }

    // A JSON body takes a numeric limit.
    let page = t
        .search_post(&json!({"agent": "refund-bot", "limit": 5}))
        .await
        .ok_json();
    assert_eq!(
        event_ids(&page),
        expect(&specs, |s| s.agent == "refund-bot")[..5].to_vec()
    );
    assert!(page["next_cursor"].is_string(), "{page}");
    // null members are as if absent.
    let page = t
        .search_post(&json!({"agent": "refund-bot", "q": null, "cursor": null}))
        .await
        .ok_json();
    assert_eq!(
        event_ids(&page),
        expect(&specs, |s| s.agent == "refund-bot")
    );
    // An empty body is no filter.
    let reply = t
        .send(
            Method::POST,
            "/api/v1/events/search",
            Some(&t.auditor),
            Some("application/json"),
            "",
        )
        .await;
    assert_eq!(event_ids(&reply.ok_json()).len(), CORPUS_SIZE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_subject_ids_are_neither_shown_nor_searchable() {
    let (t, specs) = corpus_app().await;
    // Every event, every way of asking: no clear identifier in any answer.
    let everything = t.search_get(&[("limit", "1000")]).await.ok_json();
    assert_eq!(event_ids(&everything).len(), specs.len());
    let text = everything.to_string();
    for clear in SUBJECTS.iter().flatten() {
        assert!(!text.contains(clear), "{clear} leaked");
    }
    // The text index holds the token, not the clear identifier.
    for q in ["4711", "customer", "customer-4711", "\"customer 4711\""] {
        let answer = t.search_get(&[("q", q)]).await.ok_json();
        assert_eq!(event_ids(&answer), Vec::<String>::new(), "q={q}");
    }
    // ...while the rest of that text is indexed.
    let answer = t.search_get(&[("q", "ticket opened")]).await.ok_json();
    assert_eq!(event_ids(&answer), expect(&specs, |s| s.subject.is_some()));
}

// ---------------------------------------------------------------------------------
// Pagination.

/// Walks every page of a search with `limit`; returns the pages.
async fn walk(t: &TestApp, filters: &[(&str, &str)], limit: usize) -> Vec<Value> {
    let limit_text = limit.to_string();
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut pairs: Vec<(&str, &str)> = filters.to_vec();
        pairs.push(("limit", limit_text.as_str()));
        if let Some(c) = &cursor {
            pairs.push(("cursor", c.as_str()));
        }
        let page = t.search_get(&pairs).await.ok_json();
        assert_search_shape(&page);
        let n = page["events"].as_array().unwrap().len();
        assert!(n <= limit, "a page holds at most `limit` events");
        let next = page["next_cursor"].as_str().map(str::to_owned);
        if n < limit {
            assert_eq!(next, None, "a short page is the last: {page}");
        }
        pages.push(page);
        assert!(pages.len() < 1_000, "the walk does not end");
        match next {
            Some(c) => cursor = Some(c),
            None => return pages,
        }
    }
}

fn union_ids(pages: &[Value]) -> Vec<String> {
    pages.iter().flat_map(event_ids).collect()
}

fn union_seqs(pages: &[Value]) -> Vec<u64> {
    pages.iter().flat_map(event_seqs).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_walks_every_result_once_in_order() {
    let (t, specs) = corpus_app().await;
    let refund = expect(&specs, |s| s.agent == "refund-bot");
    assert_eq!(refund.len(), 14);
    for limit in [1, 3, 5, 13, 14, 100] {
        let pages = walk(&t, &[("agent", "refund-bot")], limit).await;
        assert_eq!(union_ids(&pages), refund, "limit {limit}");
        let seqs = union_seqs(&pages);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        let last = pages.last().unwrap();
        assert_eq!(last["next_cursor"], Value::Null, "limit {limit}");
        // No empty page, except a final one after an exactly full page.
        for (i, page) in pages.iter().enumerate() {
            if page["events"].as_array().unwrap().is_empty() {
                assert_eq!(i, pages.len() - 1, "limit {limit}: an empty page mid-walk");
                assert_eq!(refund.len() % limit, 0, "limit {limit}");
            }
        }
        assert!(pages.len() <= refund.len() / limit + 1, "limit {limit}");
    }
    // The whole log, no filter, in small pages.
    let pages = walk(&t, &[], 7).await;
    assert_eq!(union_ids(&pages), expect(&specs, |_| true));
    // A cursor combined with full text and time filters.
    let from = timestamp(30 * 60, 60);
    let pages = walk(&t, &[("q", "even"), ("from", from.as_str())], 2).await;
    assert_eq!(
        union_ids(&pages),
        expect(&specs, |s| s.even && s.secs >= 1800)
    );

    // A cursor kept while new events arrive continues with them, after the old ones.
    let first = t
        .search_get(&[("agent", "refund-bot"), ("limit", "10")])
        .await
        .ok_json();
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let late: Vec<Value> = (0..3)
        .map(|i| {
            let mut s = specs[0].clone();
            s.id = format!("late-{i}");
            spec_event(&s)
        })
        .collect();
    t.ingest_ok(&Value::Array(late)).await;
    let rest = t
        .search_get(&[("agent", "refund-bot"), ("cursor", cursor.as_str())])
        .await
        .ok_json();
    let mut all = event_ids(&first);
    all.extend(event_ids(&rest));
    let mut expected = refund.clone();
    expected.extend(["late-0", "late-1", "late-2"].map(String::from));
    assert_eq!(all, expected);
}

/// An event for the pagination-under-load tests: agent `pager` when it should match.
fn paged_event(id: &str, matching: bool) -> Value {
    json!({
        "event_id": id,
        "trace_id": "t-paging",
        "timestamp": "2026-11-23T10:00:00Z",
        "actor": {"type": "agent", "id": if matching { "pager" } else { "other" }},
        "event_type": "step",
        "input": {"text": if matching { "marker alpha" } else { "marker beta" }},
    })
}

fn matching_ids(seed: usize, batches: usize) -> BTreeSet<String> {
    let mut ids: BTreeSet<String> = (0..seed)
        .filter(|i| i % 4 != 3)
        .map(|i| format!("seed-{i}"))
        .collect();
    for n in 0..batches {
        ids.insert(format!("w-{n}-a"));
        ids.insert(format!("w-{n}-c"));
    }
    ids
}

/// Starts a task that keeps appending batches of two matching events and one other
/// until `stop`; it returns how many batches it wrote.
fn start_writer(t: &Arc<TestApp>, stop: &Arc<AtomicBool>) -> tokio::task::JoinHandle<usize> {
    let (t, stop) = (t.clone(), stop.clone());
    tokio::spawn(async move {
        let mut n = 0;
        while !stop.load(Ordering::SeqCst) {
            let batch = json!([
                paged_event(&format!("w-{n}-a"), true),
                paged_event(&format!("w-{n}-b"), false),
                paged_event(&format!("w-{n}-c"), true),
            ]);
            t.ingest_ok(&batch).await;
            n += 1;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        n
    })
}

const SEED: usize = 40;

async fn seed_paging(t: &TestApp) -> u64 {
    let seed: Vec<Value> = (0..SEED)
        .map(|i| paged_event(&format!("seed-{i}"), i % 4 != 3))
        .collect();
    t.ingest_ok(&Value::Array(seed)).await;
    t.wait_indexed().await;
    t.tree_size().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_under_concurrent_appends_skips_and_repeats_nothing() {
    let t = Arc::new(TestApp::new().await);
    let start_size = seed_paging(&t).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = start_writer(&t, &stop);

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut ids: Vec<String> = Vec::new();
    let mut seqs: Vec<u64> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    let mut size_before_last;
    loop {
        // Keep the writer going until the walk has seen some of its events.
        if pages >= 8 && seqs.last().is_some_and(|s| *s >= start_size) {
            stop.store(true, Ordering::SeqCst);
        }
        assert!(Instant::now() < deadline, "paging did not finish");
        size_before_last = t.tree_size().await;
        let mut pairs = vec![("agent", "pager"), ("limit", "5")];
        if let Some(c) = &cursor {
            pairs.push(("cursor", c.as_str()));
        }
        let page = t.search_get(&pairs).await.ok_json();
        assert_search_shape(&page);
        ids.extend(event_ids(&page));
        seqs.extend(event_seqs(&page));
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let batches = writer.await.expect("writer");
    assert!(batches > 0, "the writer wrote while paging");
    assert!(
        seqs.iter().any(|s| *s >= start_size),
        "the walk saw events appended while it paged"
    );

    // No repeats, in order.
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let seen: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(seen.len(), ids.len(), "an event was repeated");

    // Every matching event now in the log, read without concurrency.
    let all_pages = walk(&t, &[("agent", "pager")], 1000).await;
    let all_ids = union_ids(&all_pages);
    let all_seqs = union_seqs(&all_pages);
    assert_eq!(
        all_ids.iter().cloned().collect::<BTreeSet<_>>(),
        matching_ids(SEED, batches),
        "the filter selects exactly the matching events"
    );
    // The walk is exactly the matching events up to where it ended: nothing skipped.
    let last_seen = *seqs.last().unwrap();
    let expected: Vec<String> = all_ids
        .iter()
        .zip(&all_seqs)
        .filter(|(_, s)| **s <= last_seen)
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(ids, expected, "an event was skipped");
    // ...and the walk ended only after reaching what existed when its last page was
    // asked for.
    for (id, seq) in all_ids.iter().zip(&all_seqs) {
        if *seq < size_before_last {
            assert!(
                seen.contains(id),
                "{id} (seq {seq}) existed but was never seen"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_text_paging_under_concurrent_appends_never_passes_the_index() {
    let t = Arc::new(TestApp::new().await);
    let start_size = seed_paging(&t).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = start_writer(&t, &stop);

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut ids: Vec<String> = Vec::new();
    let mut seqs: Vec<u64> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    let mut last_indexed;
    loop {
        if pages >= 8 && seqs.last().is_some_and(|s| *s >= start_size) {
            stop.store(true, Ordering::SeqCst);
        }
        assert!(Instant::now() < deadline, "paging did not finish");
        let mut pairs = vec![("q", "Alpha"), ("limit", "4")];
        if let Some(c) = &cursor {
            pairs.push(("cursor", c.as_str()));
        }
        let page = t.search_get(&pairs).await.ok_json();
        assert_search_shape(&page);
        last_indexed = page["indexed_through"]
            .as_u64()
            .expect("the seed is indexed");
        let page_seqs = event_seqs(&page);
        assert!(
            page_seqs.iter().all(|s| *s <= last_indexed),
            "a q answer returned events past indexed_through {last_indexed}: {page_seqs:?}"
        );
        ids.extend(event_ids(&page));
        seqs.extend(page_seqs);
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let batches = writer.await.expect("writer");
    assert!(pages > 1);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    t.wait_indexed().await;
    let all_pages = walk(&t, &[("q", "alpha")], 1000).await;
    let all_ids = union_ids(&all_pages);
    assert_eq!(
        all_ids.iter().cloned().collect::<BTreeSet<_>>(),
        matching_ids(SEED, batches)
    );
    // The walk is exactly the matching events the index covered when it ended.
    let expected: Vec<String> = all_ids
        .iter()
        .zip(union_seqs(&all_pages))
        .filter(|(_, s)| *s <= last_indexed)
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(ids, expected, "an event was skipped or repeated");
}

// ---------------------------------------------------------------------------------
// Full text.

fn fts_event(id: &str, kind: &str, extra: &Value) -> Value {
    let mut e = json!({
        "event_id": id,
        "trace_id": "wombat-trace",
        "timestamp": "2026-11-23T10:00:00Z",
        "actor": {"type": "agent", "id": "fts-agent"},
        "event_type": kind,
    });
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_text_words_phrases_prefixes_and_payloads() {
    let t = TestApp::new().await;
    // A JSON payload uploaded on its own, referenced by an event.
    let upload = t
        .send(
            Method::POST,
            "/api/v1/blobs",
            Some(&t.ingest),
            Some("application/json"),
            json!({"transcript": "a Kangaroo crossed the road"}).to_string(),
        )
        .await
        .ok_json();
    let events = json!([
        fts_event(
            "quokka-1",
            "tool_call",
            &json!({"input": {"prompt": "Customer reports Damaged Goods on arrival"}})
        ),
        fts_event(
            "quokka-2",
            "tool_result",
            &json!({"output": {"text": "the goods damaged in transit were replaced"}})
        ),
        fts_event(
            "quokka-3",
            "decision",
            &json!({"decision": {"action": "refund", "reason": "Refund approved under the POLICY limit"}})
        ),
        fts_event(
            "quokka-4",
            "human_review",
            &json!({"approval": {"resolution": "approved", "resolved_by": "maria", "method": "console",
                                 "comment": "Escalated to the compliance team"}})
        ),
        fts_event(
            "quokka-5",
            "model_call",
            &json!({"parent_event_id": "quokka-1",
                    "input": {"question": "the policyholder asked about polices"}})
        ),
        fts_event(
            "quokka-6",
            "retrieval",
            &json!({"input": upload, "attributes": {"weather": "sunny"}})
        ),
        fts_event(
            "quokka-7",
            "error",
            &json!({"error": {"kind": "timeout", "message": "upstream gateway hiccup"}})
        ),
    ]);
    t.ingest_ok(&events).await;
    t.wait_indexed().await;

    let cases: &[(&str, &[&str])] = &[
        // Words: every one must match, in any order.
        ("damaged goods", &["quokka-1", "quokka-2"]),
        ("goods damaged", &["quokka-1", "quokka-2"]),
        ("damaged sunny", &[]),
        // Case-insensitive.
        ("DAMAGED", &["quokka-1", "quokka-2"]),
        ("dAmAgEd gOoDs", &["quokka-1", "quokka-2"]),
        // Phrases: order and adjacency matter.
        ("\"damaged goods\"", &["quokka-1"]),
        ("\"Damaged GOODS\"", &["quokka-1"]),
        ("\"goods damaged\"", &["quokka-2"]),
        ("\"compliance team\"", &["quokka-4"]),
        ("\"team compliance\"", &[]),
        ("\"reports goods\"", &[]),
        ("\"kangaroo crossed\" road", &["quokka-6"]),
        // Prefixes.
        ("polic*", &["quokka-3", "quokka-5"]),
        ("POLIC*", &["quokka-3", "quokka-5"]),
        ("policyh*", &["quokka-5"]),
        ("compl* team", &["quokka-4"]),
        ("compl* sunny", &[]),
        ("damag* \"goods damaged\"", &["quokka-2"]),
        // decision.reason, approval.comment, error.message.
        ("refund approved", &["quokka-3"]),
        ("escalated", &["quokka-4"]),
        ("hiccup", &["quokka-7"]),
        // Payloads: inline (stored as blobs) and uploaded blobs.
        ("kangaroo", &["quokka-6"]),
        ("sunny", &["quokka-6"]),
        ("transit replaced", &["quokka-2"]),
        // Ids, hashes and blob references are not text.
        ("quokka", &[]),
        ("quok*", &[]),
        ("wombat", &[]),
        ("wombat*", &[]),
        ("sha256", &[]),
    ];
    for (q, expected) in cases {
        let answer = t.search_get(&[("q", q)]).await.ok_json();
        assert_search_shape(&answer);
        assert_eq!(event_ids(&answer), *expected, "GET q={q}");
        let answer = t.search_post(&json!({"q": q})).await.ok_json();
        assert_eq!(event_ids(&answer), *expected, "POST q={q}");
    }

    // Results carry their payloads resolved.
    let answer = t.search_get(&[("q", "kangaroo")]).await.ok_json();
    assert_eq!(
        answer["events"][0]["input"]["transcript"],
        json!("a Kangaroo crossed the road")
    );
    assert_eq!(answer["events"][0]["attributes"]["weather"], json!("sunny"));
    // Text combined with another filter.
    let answer = t
        .search_get(&[("q", "damaged"), ("type", "tool_result")])
        .await
        .ok_json();
    assert_eq!(event_ids(&answer), ["quokka-2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q_never_returns_events_past_indexed_through() {
    let t = TestApp::new().await;
    let mut lagged = 0;
    let mut all: Vec<(u64, String)> = Vec::new();
    for round in 0..15 {
        let events: Vec<Value> = (0..40)
            .map(|i| {
                fts_event(
                    &format!("r{round}-{i}"),
                    "step",
                    &json!({"input": {"text": "trailing index probe"}}),
                )
            })
            .collect();
        let answer = t.ingest_ok(&Value::Array(events)).await;
        for a in &answer {
            all.push((
                a["seq"].as_u64().unwrap(),
                a["event_id"].as_str().unwrap().to_owned(),
            ));
        }
        // At once, while the indexer trails.
        let page = t
            .search_get(&[("q", "probe"), ("limit", "1000")])
            .await
            .ok_json();
        let seqs = event_seqs(&page);
        match page["indexed_through"].as_u64() {
            None => assert!(seqs.is_empty(), "nothing indexed, yet {seqs:?}"),
            Some(through) => {
                let expected: Vec<String> = all
                    .iter()
                    .filter(|(s, _)| *s <= through)
                    .map(|(_, id)| id.clone())
                    .collect();
                assert_eq!(
                    event_ids(&page),
                    expected,
                    "round {round}: exactly the indexed matches, none past {through}"
                );
                if through < all.last().unwrap().0 {
                    lagged += 1;
                }
            }
        }
        // Filters without text are answered at once, whatever the index.
        let now = t
            .search_get(&[("trace_id", "wombat-trace"), ("limit", "1000")])
            .await
            .ok_json();
        assert_eq!(event_ids(&now).len(), all.len());
    }
    eprintln!("the index trailed ingest in {lagged} of 15 rounds");
    t.wait_indexed().await;
    let page = t
        .search_get(&[("q", "probe"), ("limit", "1000")])
        .await
        .ok_json();
    assert_eq!(event_ids(&page).len(), all.len());
    assert_eq!(page["indexed_through"], json!(t.tree_size().await - 1));
}

/// Hammers `q` while one task appends and another drives the indexer in small
/// steps: the index position moves between the server's reading of it and its
/// search, and an answer must still stop at the `indexed_through` it reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn q_answers_stop_at_indexed_through_while_the_index_moves() {
    const TOTAL: usize = 900;
    let t = Arc::new(TestApp::new().await);
    t.wait_indexed().await;
    let base = t.tree_size().await;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (t, stop) = (t.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while n < TOTAL && !stop.load(Ordering::SeqCst) {
                let batch: Vec<Value> = (n..n + 3)
                    .map(|i| {
                        fts_event(
                            &format!("m-{i}"),
                            "step",
                            &json!({"input": {"text": "moving probe"}}),
                        )
                    })
                    .collect();
                t.ingest_ok(&Value::Array(batch)).await;
                n += 3;
            }
        })
    };
    let indexer = {
        let (t, stop) = (t.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                match evident_server::indexer::index_step(&t.app).await {
                    Ok(_) | Err(evident_store::StoreError::Conflict(_)) => {}
                    Err(e) => panic!("indexing failed: {e}"),
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut answers = 0;
    while Instant::now() < deadline && !writer.is_finished() {
        let page = t
            .search_get(&[("q", "probe"), ("limit", "1000")])
            .await
            .ok_json();
        answers += 1;
        let Some(through) = page["indexed_through"].as_u64() else {
            assert_eq!(page["events"], json!([]), "nothing indexed");
            continue;
        };
        let seqs = event_seqs(&page);
        // Every entry past the base is a probe: exactly those the index covers.
        let expected: Vec<u64> = (base..=through).collect();
        assert_eq!(
            seqs, expected,
            "answer {answers}: indexed_through {through}, events past it or missing"
        );
    }
    stop.store(true, Ordering::SeqCst);
    writer.await.expect("writer");
    indexer.await.expect("indexer");
    assert!(answers > 10, "only {answers} answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexed_through_is_null_on_an_empty_index() {
    let t = TestApp::new().await;
    t.wait_indexed().await;
    let size = t.tree_size().await;
    let answer = t.search_get(&[]).await.ok_json();
    if size == 0 {
        assert_eq!(answer["indexed_through"], Value::Null, "{answer}");
        assert_eq!(answer["events"], json!([]));
    } else {
        assert_eq!(answer["indexed_through"], json!(size - 1), "{answer}");
    }
    let answer = t.search_get(&[("q", "anything")]).await.ok_json();
    assert_eq!(answer["events"], json!([]));
}

// ---------------------------------------------------------------------------------
// Bad parameters, injection attempts, roles.

/// `{name: value}`.
fn member(name: &str, value: &str) -> Value {
    let mut m = Map::new();
    m.insert(name.to_owned(), json!(value));
    Value::Object(m)
}

fn b64url(text: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn assert_names(reply: &Reply, name: &str, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "{what}: expected 400, got {}: {}",
        reply.status,
        reply.text()
    );
    let problem = reply.problem(StatusCode::BAD_REQUEST);
    assert!(
        detail(&problem).contains(name),
        "{what}: the detail must name {name}: {problem}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_400_naming_the_parameter() {
    let (t, _) = corpus_app().await;
    let long_q = "x".repeat(2_000);
    let many_terms = "a ".repeat(40);
    let long_id = "x".repeat(129);
    let random_b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode([0x9f, 0x13, 0xee, 0x00, 0x42, 0xab, 0xcd, 0x01]);
    let cases: Vec<(&str, String, &str)> = vec![
        // Unknown filters (names are case-sensitive).
        ("bogus", "1".into(), "`bogus`"),
        ("Agent", "refund-bot".into(), "`Agent`"),
        ("event_type", "tool_call".into(), "`event_type`"),
        ("subject_token", "x".into(), "`subject_token`"),
        // Unknown type values.
        ("type", "tool-call".into(), "`type`"),
        ("type", "TOOL_CALL".into(), "`type`"),
        ("type", String::new(), "`type`"),
        ("type", "tool_call' OR '1'='1".into(), "`type`"),
        // Broken cursors.
        ("cursor", random_b64, "`cursor`"),
        ("cursor", "!!!garbage!!!".into(), "`cursor`"),
        ("cursor", "-1".into(), "`cursor`"),
        ("cursor", b64url("v1:-1"), "`cursor`"),
        ("cursor", b64url("v1:abc"), "`cursor`"),
        ("cursor", b64url("v1:"), "`cursor`"),
        ("cursor", b64url("v2:5"), "`cursor`"),
        ("cursor", b64url("v1:99999999999999999999999"), "`cursor`"),
        ("cursor", b64url("v1:5 OR 1=1"), "`cursor`"),
        ("cursor", String::new(), "`cursor`"),
        ("cursor", "' OR 1=1 --".into(), "`cursor`"),
        // Limits.
        ("limit", "0".into(), "`limit`"),
        ("limit", "1001".into(), "`limit`"),
        ("limit", "abc".into(), "`limit`"),
        ("limit", "-1".into(), "`limit`"),
        ("limit", "1e3".into(), "`limit`"),
        ("limit", "5.0".into(), "`limit`"),
        ("limit", String::new(), "`limit`"),
        ("limit", "99999999999999999999999".into(), "`limit`"),
        // Malformed timestamps.
        ("from", "2026-11-23".into(), "`from`"),
        ("from", "2026-11-23T10:00:00".into(), "`from`"),
        ("from", "1700000000".into(), "`from`"),
        ("from", "2026-13-01T00:00:00Z".into(), "`from`"),
        ("to", "yesterday".into(), "`to`"),
        ("to", "2026-11-23T25:00:00Z".into(), "`to`"),
        ("to", "2026-11-23 10:00:00 +01:00".into(), "`to`"),
        ("to", String::new(), "`to`"),
        // Full-text syntax errors.
        ("q", "\"unbalanced".into(), "`q`"),
        ("q", "damaged \"goods".into(), "`q`"),
        ("q", "*".into(), "`q`"),
        ("q", " * ".into(), "`q`"),
        ("q", "**".into(), "`q`"),
        ("q", String::new(), "`q`"),
        ("q", "   ".into(), "`q`"),
        ("q", "\"\"".into(), "`q`"),
        ("q", "%".into(), "`q`"),
        ("q", long_q, "`q`"),
        ("q", many_terms, "`q`"),
        // Ids out of the contract's shape.
        ("agent", String::new(), "`agent`"),
        ("trace_id", long_id, "`trace_id`"),
        ("job_id", "tab\there".into(), "`job_id`"),
        ("case_id", "ünïcode".into(), "`case_id`"),
        ("subject", String::new(), "`subject`"),
        ("subject", "   ".into(), "`subject`"),
    ];
    for (name, value, named) in &cases {
        let what = format!("GET {name}={value:?}");
        let reply = t.search_get(&[(*name, value.as_str())]).await;
        assert_names(&reply, named, &what);
        if !["bogus", "Agent", "event_type", "subject_token"].contains(name) {
            let reply = t.search_post(&member(name, value)).await;
            assert_names(&reply, named, &format!("POST {name}={value:?}"));
        }
    }

    // An inverted time range, by GET and POST, whatever the offsets.
    let later = timestamp(3600, 330);
    let earlier = timestamp(3599, -300);
    let reply = t
        .search_get(&[("from", later.as_str()), ("to", earlier.as_str())])
        .await;
    let problem = reply.problem(StatusCode::BAD_REQUEST);
    assert!(
        detail(&problem).contains("`from`") || detail(&problem).contains("`to`"),
        "{problem}"
    );
    let reply = t.search_post(&json!({"from": later, "to": earlier})).await;
    reply.problem(StatusCode::BAD_REQUEST);

    // Bodies that are not an object of strings.
    let bodies: &[(&str, &str)] = &[
        ("{\"limit\": 5.5}", "limit"),
        ("{\"limit\": -1}", "limit"),
        ("{\"limit\": true}", "/limit"),
        ("{\"agent\": [\"refund-bot\"]}", "/agent"),
        ("{\"agent\": {\"$ne\": null}}", "/agent"),
        ("{\"bogus\": \"x\"}", "bogus"),
        ("[]", ""),
        ("\"agent\"", ""),
        ("not json", ""),
        ("{\"agent\": \"a\", \"agent\": \"b\"}", ""),
    ];
    for (body, named) in bodies {
        let reply = t
            .send(
                Method::POST,
                "/api/v1/events/search",
                Some(&t.auditor),
                Some("application/json"),
                *body,
            )
            .await;
        let problem = reply.problem(StatusCode::BAD_REQUEST);
        assert!(
            detail(&problem).contains(named),
            "POST {body}: the detail must name {named}: {problem}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injection_attempts_never_widen_results() {
    let t = TestApp::new().await;
    let mut events: Vec<Value> = (0..5)
        .map(|i| {
            fts_event(
                &format!("plain-{i}"),
                "step",
                &json!({"input": {"text": "ordinary entry text"}}),
            )
        })
        .collect();
    // The one event that holds, as plain words, every word the attempts below contain.
    events.push(fts_event(
        "bait",
        "step",
        &json!({"input": {"text": "x or y; 1 near a b; col val and not body"}}),
    ));
    t.ingest_ok(&Value::Array(events)).await;
    t.wait_indexed().await;

    let attempts = [
        "' OR 1=1 --",
        "x\" OR \"y",
        "NEAR(a b)",
        "NEAR(a b, 2)",
        "col:val",
        "body:x",
        "{body}: x",
        "x OR y",
        "x AND NOT y",
        "x NOT ordinary",
        "-x",
        "^x",
        "x + y",
        "\"x\" OR \"ordinary\"",
        "'; DROP TABLE entries; --",
        "x) OR (1=1",
        "x*) OR (ordinary*",
        "a\u{0}b",
        "ordinary\" OR \"x",
    ];
    for q in attempts {
        for reply in [
            t.search_get(&[("q", q)]).await,
            t.search_post(&json!({"q": q})).await,
        ] {
            assert!(
                !reply.status.is_server_error(),
                "q={q:?}: {} {}",
                reply.status,
                reply.text()
            );
            if reply.status == StatusCode::OK {
                let ids = event_ids(&reply.json());
                assert!(
                    ids.iter().all(|id| id == "bait"),
                    "q={q:?} widened the results to {ids:?}"
                );
            } else {
                assert_names(&reply, "`q`", &format!("q={q:?}"));
            }
        }
    }
    // The four classic ones are plain words: they find the bait, and only it.
    for q in ["' OR 1=1 --", "x\" OR \"y", "NEAR(a b)", "col:val"] {
        let answer = t.search_get(&[("q", q)]).await.ok_json();
        assert_eq!(event_ids(&answer), ["bait"], "q={q:?}");
    }
    // The tables are all still there.
    let answer = t.search_get(&[("limit", "1000")]).await.ok_json();
    assert_eq!(event_ids(&answer).len(), 6);

    // Filter values are compared whole, never as patterns or SQL.
    for (name, value) in [
        ("agent", "' OR 1=1 --"),
        ("agent", "%"),
        ("agent", "*"),
        ("agent", "fts-%"),
        ("trace_id", "wombat-trace' OR '1'='1"),
        ("trace_id", "wombat_trace"),
        ("job_id", "1 OR 1=1"),
        ("case_id", "%"),
        ("subject", "' OR 1=1 --"),
        ("subject", "subj_%"),
        ("subject", "%"),
    ] {
        for reply in [
            t.search_get(&[(name, value)]).await,
            t.search_post(&member(name, value)).await,
        ] {
            let answer = reply.ok_json();
            assert_eq!(
                event_ids(&answer),
                Vec::<String>::new(),
                "{name}={value:?} matched something"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_needs_a_reading_role() {
    let (t, _) = corpus_app().await;
    let reply = t.search_get_as(&t.ingest, &[("agent", "refund-bot")]).await;
    reply.problem(StatusCode::FORBIDDEN);
    let reply = t.get("/api/v1/events?agent=refund-bot", None).await;
    reply.problem(StatusCode::UNAUTHORIZED);
    let reply = t.get("/api/v1/events", Some("evk_not-a-real-key")).await;
    reply.problem(StatusCode::UNAUTHORIZED);
    for (key, status) in [
        (Some(t.ingest.as_str()), StatusCode::FORBIDDEN),
        (None, StatusCode::UNAUTHORIZED),
    ] {
        let reply = t
            .send(
                Method::POST,
                "/api/v1/events/search",
                key,
                Some("application/json"),
                "{}",
            )
            .await;
        reply.problem(status);
    }
    // A bad filter from a key without the role is refused all the same.
    let reply = t.search_get_as(&t.ingest, &[("limit", "0")]).await;
    assert!(reply.status.is_client_error(), "{}", reply.status);
    // Every reading role may search.
    for key in [&t.auditor, &t.approver, &t.privacy, &t.admin] {
        let answer = t
            .search_get_as(key, &[("agent", "refund-bot")])
            .await
            .ok_json();
        assert_eq!(event_ids(&answer).len(), 14);
    }
}

// ---------------------------------------------------------------------------------
// Found while writing these tests.

/// Ids are not text: a word of an id must not make `q` match. The top-level ids are
/// left out (see `full_text_words_phrases_prefixes_and_payloads`), but the ids inside
/// `context`, `actor.id`, `tool.call_id` and the key name in `principal` are indexed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_inside_context_actor_and_tool_are_not_text() {
    let t = TestApp::new().await;
    t.ingest_ok(&fts_event(
        "plain",
        "tool_call",
        &json!({
            "actor": {"type": "agent", "id": "narwhal-bot"},
            "context": {"job_id": "okapi-7", "case_id": "ibex-8", "workflow_run_id": "tapir-9",
                        "workflow_step_id": "lemur-1", "idempotency_key": "dingo-2",
                        "correlation_ids": ["gecko-3"]},
            "tool": {"name": "issue_refund", "call_id": "marmot-4"},
            "input": {"text": "an ordinary request"},
        }),
    ))
    .await;
    t.wait_indexed().await;
    // The text is there...
    let answer = t.search_get(&[("q", "ordinary request")]).await.ok_json();
    assert_eq!(event_ids(&answer), ["plain"]);
    // ...the ids are not.
    let mut found = Vec::new();
    for q in [
        "narwhal", "okapi", "ibex", "tapir", "lemur", "dingo", "gecko", "marmot", "ingest",
    ] {
        let answer = t.search_get(&[("q", q)]).await.ok_json();
        if !event_ids(&answer).is_empty() {
            found.push(q);
        }
    }
    assert_eq!(found, Vec::<&str>::new(), "id words that q matches");
}

/// `from`/`to` filter at microsecond precision, exactly: an event's timestamp counts
/// as its microsecond (digits past the sixth dropped), both bounds are inclusive, and a
/// bound with non-zero digits past the microsecond is a 400 naming it (it could not be
/// honoured exactly).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_bounds_are_exact_to_the_microsecond() {
    async fn ids(t: &TestApp, pairs: &[(&str, &str)]) -> Vec<String> {
        event_ids(&t.search_get(pairs).await.ok_json())
    }
    let t = TestApp::new().await;
    // Event timestamps are compared at their microsecond: digits past the sixth are
    // dropped, so these two fall in 10:00:00.000000 and 10:00:01.000000.
    let mut e = fts_event("late", "step", &json!({}));
    e["timestamp"] = json!("2026-11-23T10:00:00.0000009Z");
    t.ingest_ok(&e).await;
    let mut e = fts_event("early", "step", &json!({}));
    e["timestamp"] = json!("2026-11-23T11:00:01.0000001+01:00");
    t.ingest_ok(&e).await;

    assert_eq!(ids(&t, &[("to", "2026-11-23T10:00:00Z")]).await, ["late"]);
    assert_eq!(
        ids(&t, &[("to", "2026-11-23T09:59:59.999999Z")]).await,
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&t, &[("from", "2026-11-23T10:00:00.000001Z")]).await,
        ["early"]
    );
    assert_eq!(
        ids(&t, &[("from", "2026-11-23T10:00:01.000001Z")]).await,
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&t, &[("from", "2026-11-23T10:00:01Z")]).await,
        ["early"]
    );
    // Trailing zeros past the microsecond say nothing finer and are accepted.
    assert_eq!(
        ids(
            &t,
            &[
                ("from", "2026-11-23T10:00:00.000000000Z"),
                ("to", "2026-11-23T10:00:00.000000000Z")
            ]
        )
        .await,
        ["late"]
    );

    // A bound finer than the microsecond cannot be honoured exactly: 400 naming it.
    for (name, value) in [
        ("to", "2026-11-23T10:00:00.0000001Z"),
        ("from", "2026-11-23T10:00:01.0000009Z"),
        ("from", "2026-11-23T10:00:01.123456789+01:00"),
    ] {
        let reply = t.search_get(&[(name, value)]).await;
        assert_names(&reply, name, value);
        let reply = t.search_post(&member(name, value)).await;
        assert_names(&reply, name, value);
    }
}

/// `next_cursor` is null on the last page, even when that page is exactly full: the
/// client needs no extra request to learn that the next page would be empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_cursor_is_null_on_an_exactly_full_last_page() {
    let (t, specs) = corpus_app().await;
    let refund = expect(&specs, |s| s.agent == "refund-bot");
    assert_eq!(refund.len(), 14);
    let pages = walk(&t, &[("agent", "refund-bot")], 7).await;
    assert_eq!(union_ids(&pages), refund);
    assert_eq!(pages.len(), 2, "two full pages and no empty third one");
}

/// Paging at the largest page size reaches every event: a page of `limit=1000` that
/// is followed by more carries a cursor, by GET and by POST; a larger `limit` is a
/// 400 naming it (never silently clamped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_at_the_largest_limit_reaches_every_event() {
    let t = TestApp::new().await;
    let total = 2_345;
    for batch in 0..5 {
        let events: Vec<Value> = (batch * 500..(batch * 500 + 500).min(total))
            .map(|i| paged_event(&format!("big-{i:05}"), true))
            .collect();
        t.ingest_ok(&Value::Array(events)).await;
    }
    let expected: Vec<String> = (0..total).map(|i| format!("big-{i:05}")).collect();
    let pages = walk(&t, &[], 1_000).await;
    assert_eq!(pages.len(), 3, "1,000 + 1,000 + 345");
    assert_eq!(union_ids(&pages), expected, "GET");

    let mut ids = Vec::new();
    let mut cursor = Value::Null;
    for _ in 0..3 {
        let page = t
            .search_post(&json!({"limit": 1_000, "cursor": cursor}))
            .await
            .ok_json();
        ids.extend(event_ids(&page));
        cursor = page["next_cursor"].clone();
    }
    assert_eq!(cursor, Value::Null, "the third page is the last");
    assert_eq!(ids, expected, "POST");

    let reply = t.search_get(&[("limit", "1001")]).await;
    assert_names(&reply, "limit", "a limit above the largest page");
    let reply = t.search_post(&json!({"limit": 1_001})).await;
    assert_names(&reply, "limit", "a limit above the largest page");
}

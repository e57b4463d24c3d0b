//! The embedded store answers the read side's queries from its indexes, never by
//! scanning the log (`evident bench` measures them at 1M and 10M events).
//!
//! Each check asks SQLite for the plan of the exact SQL `Store::search` runs
//! (`EXPLAIN QUERY PLAN`, through `SqliteStore::explain_search`) and asserts it
//! searches the expected index and has no `SCAN entries` step. No `ANALYZE` is run:
//! these are the plans of a fresh database, before any statistics exist.

use evident_store::conformance::test_event;
use evident_store::sqlite::{SqliteOptions, SqliteStore};
use evident_store::LogStore;
use evident_store::{AppendRequest, SearchOrder, SearchQuery};

/// A store holding a few hundred events over many traces, jobs and subjects.
async fn store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), &SqliteOptions::default()).unwrap();
    for batch in 0..6 {
        let events = (0..50)
            .map(|i| {
                let n = batch * 50 + i;
                let subject = format!("subject-{}", n % 17);
                test_event(
                    &format!("e-{n}"),
                    &format!("trace-{}", n % 23),
                    (n % 3 != 0).then_some(subject.as_str()),
                    &format!("body number {n}"),
                )
            })
            .collect();
        store
            .append(vec![AppendRequest::events(events)])
            .await
            .expect("append");
    }
    assert_eq!(store.tree_head().await.unwrap().size, 300);
    (store, dir)
}

fn query() -> SearchQuery {
    SearchQuery {
        limit: 100,
        ..SearchQuery::default()
    }
}

const FROM: i64 = 1_795_000_000_000_000;
const TO: i64 = 1_796_000_000_000_000;
const SUBJECT: &str = "subj_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// The plan of `q`, asserted to search `index` and never scan the log. With
/// `ordered`, the index must also give the answer's order (no sort step).
async fn assert_plan(store: &SqliteStore, what: &str, q: &SearchQuery, index: &str, ordered: bool) {
    let plan = store.explain_search(q).await.expect("explain");
    println!("{what}:\n  {}", plan.join("\n  "));
    assert!(
        plan.iter()
            .any(|line| line.contains(&format!("USING INDEX {index} "))
                || line.ends_with(&format!("USING INDEX {index}"))
                || line.contains(&format!("USING COVERING INDEX {index}"))),
        "{what}: the plan does not use {index}: {plan:#?}"
    );
    assert!(
        !plan
            .iter()
            .any(|line| line.trim_start().starts_with("SCAN entries")),
        "{what}: the plan scans the log: {plan:#?}"
    );
    if ordered {
        assert!(
            !plan.iter().any(|line| line.contains("TEMP B-TREE")),
            "{what}: the plan sorts instead of reading the index in order: {plan:#?}"
        );
    }
}

#[tokio::test]
async fn single_filters_use_their_index() {
    let (store, _dir) = store().await;
    let cases: Vec<(&str, SearchQuery, &str, bool)> = vec![
        (
            "trace_id",
            SearchQuery {
                trace_id: Some("trace-3".into()),
                ..query()
            },
            "entries_by_trace",
            true,
        ),
        (
            "job_id",
            SearchQuery {
                job_id: Some("job-trace-3".into()),
                ..query()
            },
            "entries_by_job",
            true,
        ),
        (
            "subject",
            SearchQuery {
                subject: Some(SUBJECT.into()),
                ..query()
            },
            "entries_by_subject",
            true,
        ),
        (
            "case_id",
            SearchQuery {
                case_id: Some("case-1".into()),
                ..query()
            },
            "entries_by_case",
            true,
        ),
        (
            "event_type",
            SearchQuery {
                event_type: Some("tool_call".into()),
                ..query()
            },
            "entries_by_type",
            true,
        ),
        (
            "workflow_run_id, time order",
            SearchQuery {
                workflow_run_id: Some("run-1".into()),
                order: SearchOrder::Time,
                ..query()
            },
            "entries_by_run",
            true,
        ),
        (
            "agent + from + to",
            SearchQuery {
                agent: Some("agent-1".into()),
                from_micros: Some(FROM),
                to_micros: Some(TO),
                ..query()
            },
            "entries_by_agent",
            false,
        ),
        (
            "agent + from",
            SearchQuery {
                agent: Some("agent-1".into()),
                from_micros: Some(FROM),
                ..query()
            },
            "entries_by_agent",
            false,
        ),
    ];
    for (what, q, index, ordered) in &cases {
        assert_plan(&store, what, q, index, *ordered).await;
    }
}

#[tokio::test]
async fn next_pages_keep_the_index() {
    // A cursor adds `seq > ?`; the plan must not switch to walking the log by seq.
    let (store, _dir) = store().await;
    let page = |q: SearchQuery| SearchQuery {
        after_seq: Some(150),
        ..q
    };
    let cases: Vec<(&str, SearchQuery, &str, bool)> = vec![
        (
            "trace_id after a cursor",
            page(SearchQuery {
                trace_id: Some("trace-3".into()),
                ..query()
            }),
            "entries_by_trace",
            true,
        ),
        (
            "job_id after a cursor",
            page(SearchQuery {
                job_id: Some("job-trace-3".into()),
                ..query()
            }),
            "entries_by_job",
            true,
        ),
        (
            "subject after a cursor",
            page(SearchQuery {
                subject: Some(SUBJECT.into()),
                ..query()
            }),
            "entries_by_subject",
            true,
        ),
        (
            "case_id after a cursor",
            page(SearchQuery {
                case_id: Some("case-1".into()),
                ..query()
            }),
            "entries_by_case",
            true,
        ),
        (
            "agent + from + to after a cursor",
            page(SearchQuery {
                agent: Some("agent-1".into()),
                from_micros: Some(FROM),
                to_micros: Some(TO),
                ..query()
            }),
            "entries_by_agent",
            false,
        ),
        (
            "trace_id below what the text index covers",
            SearchQuery {
                before_seq: Some(200),
                ..page(SearchQuery {
                    trace_id: Some("trace-3".into()),
                    ..query()
                })
            },
            "entries_by_trace",
            true,
        ),
    ];
    for (what, q, index, ordered) in &cases {
        assert_plan(&store, what, q, index, *ordered).await;
    }
}

#[tokio::test]
async fn full_text_and_combined_filters_never_scan_the_log() {
    let (store, _dir) = store().await;
    let words = evident_core::query::parse_text_query("body \"number 7\" num*").unwrap();
    let cases: Vec<(&str, SearchQuery)> = vec![
        (
            "q alone",
            SearchQuery {
                text: words.clone(),
                before_seq: Some(300),
                ..query()
            },
        ),
        (
            "q + trace_id",
            SearchQuery {
                text: words.clone(),
                trace_id: Some("trace-3".into()),
                before_seq: Some(300),
                ..query()
            },
        ),
        (
            "trace_id + job_id + subject + agent + type + time",
            SearchQuery {
                trace_id: Some("trace-3".into()),
                job_id: Some("job-trace-3".into()),
                subject: Some(SUBJECT.into()),
                agent: Some("agent-1".into()),
                event_type: Some("tool_call".into()),
                from_micros: Some(FROM),
                to_micros: Some(TO),
                ..query()
            },
        ),
        (
            "case_id + type",
            SearchQuery {
                case_id: Some("case-1".into()),
                event_type: Some("decision".into()),
                ..query()
            },
        ),
    ];
    for (what, q) in &cases {
        let plan = store.explain_search(q).await.expect("explain");
        println!("{what}:\n  {}", plan.join("\n  "));
        assert!(
            !plan
                .iter()
                .any(|line| line.trim_start().starts_with("SCAN entries")),
            "{what}: the plan scans the log: {plan:#?}"
        );
        assert!(
            plan.iter().any(|line| line.contains("USING")),
            "{what}: no index in the plan: {plan:#?}"
        );
    }
    // q really goes through the FTS5 index, not a text scan of entries.
    let plan = store.explain_search(&cases[0].1).await.unwrap();
    assert!(
        plan.iter()
            .any(|line| line.contains("events_fts VIRTUAL TABLE")),
        "q alone: {plan:#?}"
    );
}

/// Plans printed for the record (time range and agent alone page in `seq` order, so
/// SQLite either sorts the matching range or walks the log backwards from the cursor;
/// neither is asserted here).
#[tokio::test]
async fn report_plans_of_range_only_queries() {
    let (store, _dir) = store().await;
    for (what, q) in [
        (
            "from + to",
            SearchQuery {
                from_micros: Some(FROM),
                to_micros: Some(TO),
                ..query()
            },
        ),
        (
            "agent alone",
            SearchQuery {
                agent: Some("agent-1".into()),
                ..query()
            },
        ),
        ("no filter", query()),
    ] {
        let plan = store.explain_search(&q).await.expect("explain");
        println!("{what}:\n  {}", plan.join("\n  "));
    }
}

#[tokio::test]
async fn text_alone_reads_matches_in_seq_order_and_stops_at_the_page() {
    let (store, _dir) = store().await;
    let words = evident_core::query::parse_text_query("body \"number 7\" num*").unwrap();
    for (what, after_seq) in [("q alone", None), ("q after a cursor", Some(150))] {
        let q = SearchQuery {
            text: words.clone(),
            after_seq,
            before_seq: Some(300),
            ..query()
        };
        let plan = store.explain_search(&q).await.expect("explain");
        println!("{what}:\n  {}", plan.join("\n  "));
        // FTS5 drives, in rowid (= seq) order, so the LIMIT ends the scan; entries
        // are looked up by seq.
        assert!(
            plan[0].contains("events_fts VIRTUAL TABLE"),
            "{what}: FTS5 is not the outer loop: {plan:#?}"
        );
        assert!(
            plan.iter()
                .any(|l| l.contains("SEARCH entries USING INTEGER PRIMARY KEY")),
            "{what}: {plan:#?}"
        );
        assert!(
            !plan
                .iter()
                .any(|l| l.contains("TEMP B-TREE") || l.contains("LIST SUBQUERY")),
            "{what}: the plan builds the match set or sorts it: {plan:#?}"
        );
    }
}

/// A retention purge finds its candidates and deletes from the indexes of what is
/// left to purge, never by scanning the log (`evident bench --scenarios retention`
/// measures it).
#[tokio::test]
async fn retention_purges_never_scan_the_log() {
    let (store, _dir) = store().await;
    let plans = store.explain_retention().await.expect("explain");
    for (what, plan) in &plans {
        println!("{what}:\n  {}", plan.join("\n  "));
        assert!(
            !plan.iter().any(|line| {
                let line = line.trim_start();
                line.starts_with("SCAN entries")
                    || line.starts_with("SCAN first")
                    || line.starts_with("SCAN blobs")
                    || line.starts_with("SCAN id_numbers")
                    || line.contains("id_numbers USING PRIMARY KEY (kind=? AND value>?)")
            }),
            "{what}: the plan scans the log: {plan:#?}"
        );
    }
    assert_eq!(plans.len(), 11);
}

//! `evident bench` end to end: the real binary starts a real server, loads a small
//! generated workload and reports every figure. Nothing here asserts a speed: timed
//! assertions would be flaky on shared CI machines; BENCHMARKS.md has the figures.

mod util;

use serde_json::Value;
use util::{evident, stderr, stdout};

fn number(doc: &Value, pointer: &str) -> f64 {
    doc.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{pointer} is not a number in {doc:#}"))
}

#[test]
fn bench_runs_every_scenario_and_reports_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results.json");
    let output = evident()
        .args(["bench", "--events", "2000", "--queries", "10", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    for row in [
        "batched ingest",
        "single-event requests",
        "checkpoint lag",
        "trace by id",
        "all events of a subject",
        "full-text query",
        "evident verify",
        "disk per event",
        "server peak RSS",
    ] {
        assert!(table.contains(row), "no {row:?} in\n{table}");
    }

    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(doc["schema"], "evident-bench/1");
    assert_eq!(number(&doc, "/workload/events"), 2000.0);
    // OTLP spans come on top: a fifth as many, of other runs.
    assert_eq!(number(&doc, "/otlp_ingest/events"), 400.0);
    assert_eq!(number(&doc, "/loaded_events"), 2400.0);
    assert!(number(&doc, "/workload/mean_event_bytes") > 500.0);
    // The generated workload is kept compressed.
    assert!(number(&doc, "/workload/stored_bytes") * 4.0 < number(&doc, "/workload/bytes"));
    // The single-event scenario takes a fifth; the rest goes in batches.
    assert_eq!(number(&doc, "/single_ingest/events"), 400.0);
    assert_eq!(number(&doc, "/batch_ingest/events"), 1600.0);
    for phase in ["batch_ingest", "single_ingest"] {
        for figure in [
            "events_per_second",
            "megabytes_per_second",
            "latency_ms/p50",
            "latency_ms/p99",
            "latency_ms/max",
            "checkpoint_lag_ms/p50",
            "checkpoint_lag_ms/p99",
            "checkpoint_lag_ms/max",
            "server_cpu_seconds",
            "client_cpu_seconds",
        ] {
            number(&doc, &format!("/{phase}/{figure}"));
        }
        assert_eq!(
            number(&doc, &format!("/{phase}/acks_without_checkpoint")),
            0.0
        );
    }
    assert!(doc["otlp_ingest"].is_object());
    number(&doc, "/search_catch_up_seconds");
    for kind in ["event_by_id", "trace", "job", "subject", "text"] {
        for figure in ["p50", "p99", "max", "mean_results"] {
            number(&doc, &format!("/queries/{kind}/{figure}"));
        }
        assert!(
            number(&doc, &format!("/queries/{kind}/mean_results")) >= 1.0,
            "{kind} queries found nothing"
        );
    }
    assert_eq!(doc["verify"]["ok"], true, "{:#}", doc["verify"]);
    assert_eq!(number(&doc, "/verify/events"), 2400.0);
    number(&doc, "/verify/events_per_second");
    assert!(number(&doc, "/disk/bytes_per_event") > 0.0);
    for group in [
        "entries", "indexes", "tiles", "blobs", "fts", "other", "free",
    ] {
        number(&doc, &format!("/disk/groups/{group}/bytes_per_event"));
    }
    assert!(number(&doc, "/server/peak_rss_bytes") > 0.0);
    number(&doc, "/server/cpu_seconds");
    number(&doc, "/machine/cpus");
}

#[test]
fn the_workload_is_deterministic_and_an_ndjson_file_can_be_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.ndjson");
    let b = dir.path().join("b.ndjson");
    for file in [&a, &b] {
        let output = evident()
            .args(["bench", "--events", "300", "--seed", "9", "--emit-workload"])
            .arg(file)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(bytes, std::fs::read(&b).unwrap());
    assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 300);

    // The same file as --input, as another generator would write it: batched only, kept.
    let data = dir.path().join("kept");
    let out = dir.path().join("results.json");
    let output = evident()
        .args([
            "bench",
            "--scenarios",
            "batch,disk",
            "--batch",
            "100",
            "--input",
        ])
        .arg(&a)
        .arg("--keep-data")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(doc["workload"]["source"], "file");
    assert_eq!(number(&doc, "/batch_ingest/events"), 300.0);
    assert_eq!(number(&doc, "/batch_ingest/requests"), 3.0);
    assert!(doc.get("single_ingest").is_none());
    assert!(data.join("evident.db").exists(), "--keep-data kept nothing");
}

#[test]
fn bench_refuses_a_data_dir_that_is_not_empty() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("something"), "x").unwrap();
    let output = evident()
        .args(["bench", "--events", "10", "--keep-data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("must not exist or be empty"));
}

#[test]
fn the_decide_scenario_publishes_rules_and_every_decision_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results.json");
    let output = evident()
        .args([
            "bench",
            "--scenarios",
            "decide,verify",
            "--events",
            "10",
            "--decide-seconds",
            "1",
            "--decide-clients",
            "2",
            "--decide-rules",
            "20",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(
        table.contains("decide, 2 clients, 20 active rules"),
        "{table}"
    );
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let decisions = number(&doc, "/decide/decisions");
    assert!(decisions > 0.0, "{doc:#}");
    let outcomes = number(&doc, "/decide/outcomes/ALLOW")
        + number(&doc, "/decide/outcomes/DENY")
        + number(&doc, "/decide/outcomes/REQUIRE_APPROVAL");
    assert_eq!(outcomes, decisions);
    assert!(number(&doc, "/decide/latency_ms/p99") > 0.0);
    // Every decision and the publish are in the log, and it verifies.
    assert_eq!(number(&doc, "/loaded_events"), decisions + 1.0);
    assert_eq!(doc["verify"]["ok"], true, "{doc:#}");
}

#[test]
fn the_retention_scenario_purges_the_oldest_tenth_while_ingest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results.json");
    let output = evident()
        .args([
            "bench",
            "--scenarios",
            "retention,verify",
            "--events",
            "2000",
            "--batch",
            "50",
            "--clients",
            "2",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(
        table.contains("retention purge of the oldest tenth (200 of 2,000 events)"),
        "{table}"
    );
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    // The traces that ended in the tenth were purged, and nothing younger: the purged
    // blobs are at most the tenth's events' (input, output, attributes each).
    let traces = number(&doc, "/retention/purge/traces");
    let blobs = number(&doc, "/retention/purge/blobs");
    assert!(traces > 0.0 && blobs > 0.0, "{doc:#}");
    assert!(blobs <= 3.0 * 200.0, "{doc:#}");
    assert!(number(&doc, "/retention/ingest_events_per_second_before") > 0.0);
    assert!(number(&doc, "/retention/ingest_events_per_second_during") > 0.0);
    assert!(number(&doc, "/loaded_events") >= 2000.0, "{doc:#}");
    // `verify` passes after the purge and counts the purged blobs.
    assert_eq!(doc["verify"]["ok"], true, "{doc:#}");
    let verified = doc["verify"]["output"].as_str().unwrap();
    assert!(
        verified.contains(&format!("{blobs} blobs were purged by retention")),
        "{verified}"
    );
}

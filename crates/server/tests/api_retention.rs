//! Retention with a controlled clock (CONTRACT sections 2 and 7): expiry by tier and
//! by trace, counted from `received_at` (read from the signed checkpoints, so a
//! backdated `timestamp` does not purge early); one `retention_purge` event per run
//! with its counts; purged blobs read as 410 naming the run; `verify` passes and
//! counts them; search stops finding purged text; legal holds keep what they cover;
//! the archive's blobs check against their entries until an erasure reaches them.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{TestApp, MANUAL_CHECKPOINTS};
use evident_server::clock::TestClock;
use evident_server::retention::{RetentionPolicy, Tier};
use evident_server::state::Settings;
use evident_server::vault::BlobContent;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const DAY: Duration = Duration::from_secs(86_400);

async fn app_with_clock() -> (TestApp, Arc<TestClock>) {
    let clock = TestClock::at("2026-11-23T10:00:00Z");
    let t = TestApp::with_settings(Settings {
        checkpoint_interval: MANUAL_CHECKPOINTS,
        clock: clock.clone(),
        ..Settings::default()
    })
    .await;
    (t, clock)
}

fn policy(archive: Option<std::path::PathBuf>) -> RetentionPolicy {
    RetentionPolicy {
        tiers: vec![
            Tier {
                name: "default".into(),
                payload: Some(90 * DAY),
                search_text: Some(365 * DAY),
                ..Tier::default()
            },
            Tier {
                name: "aml".into(),
                payload: Some(5 * 365 * DAY),
                search_text: Some(5 * 365 * DAY),
                cases: vec!["case-aml".into()],
                ..Tier::default()
            },
        ],
        archive_dir: archive,
        ..RetentionPolicy::default()
    }
}

fn event(id: &str, trace: &str, timestamp: &str, case: Option<&str>) -> Value {
    let mut event = json!({
        "event_id": id, "trace_id": trace, "timestamp": timestamp,
        "actor": {"type": "agent", "id": "refund-bot"}, "event_type": "tool_call",
        "context": {"subject": format!("cust-{trace}")},
        "input": {"text": format!("refund the broken kettle{id} for jane.{id}@example.org")},
    });
    if let Some(case) = case {
        event["context"]["case_id"] = json!(case);
    }
    event
}

async fn run(t: &TestApp, policy: &RetentionPolicy) -> evident_server::retention::PurgeReport {
    let principal = evident_server::configuration::server_principal();
    evident_server::retention::run(&t.app, &principal, policy)
        .await
        .expect("the purge runs")
}

async fn verify(t: &TestApp) -> evident_server::verifier::VerifyReport {
    evident_server::verifier::verify_store(
        &*t.app.store,
        &t.app.vault,
        &t.verifier_key,
        &[],
        evident_server::verifier::Depth::Full,
        &|_, _| {},
    )
    .await
    .expect("verify passes")
}

/// The blob reference of payload `input` of event `id`, from its entry.
async fn input_ref(t: &TestApp, id: &str) -> String {
    let entry = t.store.entry_by_event_id(id).await.unwrap().unwrap();
    let record: Value = serde_json::from_slice(&entry.entry).unwrap();
    record["input"]["$blob"].as_str().unwrap().to_owned()
}

async fn blob(t: &TestApp, reference: &str) -> common::Reply {
    t.get(&format!("/api/v1/blobs/{reference}"), Some(&t.auditor))
        .await
}

async fn found(t: &TestApp, q: &str) -> Vec<String> {
    t.wait_indexed().await;
    common::event_ids(&t.search_get(&[("q", q)]).await.ok_json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_by_tier_and_trace_from_received_at_with_holds_and_receipts_of_each_run() {
    let (t, clock) = app_with_clock().await;
    let archive = tempfile::tempdir().unwrap();
    let policy = policy(Some(archive.path().to_owned()));
    t.ingest_ok(&json!([
        event("o1", "t-old", "2026-11-23T09:00:00Z", None),
        event("o2", "t-old", "2026-11-23T09:01:00Z", None),
        event("a1", "t-aml", "2026-11-23T09:00:00Z", Some("case-aml")),
        // One event of the trace is in the AML tier: the whole trace is kept 5 years.
        event("m1", "t-mixed", "2026-11-23T09:00:00Z", None),
        event("m2", "t-mixed", "2026-11-23T09:00:00Z", Some("case-aml")),
        event("h1", "t-held", "2026-11-23T09:00:00Z", None),
    ]))
    .await;
    let hold = t
        .send(
            Method::POST,
            "/api/v1/legal-holds",
            Some(&t.admin),
            Some("application/json"),
            json!({"trace_id": "t-held", "reason": "litigation"}).to_string(),
        )
        .await
        .ok_json();
    t.wait_indexed().await;
    t.sign().await;

    // 91 days later a backdated event arrives: its `timestamp` is years old, but it
    // was received now, so it is not purged with the old ones.
    clock.advance(91 * DAY);
    t.ingest_ok(&json!([event(
        "late1",
        "t-late",
        "2020-01-01T00:00:00Z",
        None
    )]))
    .await;
    t.wait_indexed().await;
    t.sign().await;
    let old_ref = input_ref(&t, "o1").await;
    let late_ref = input_ref(&t, "late1").await;
    assert_eq!(blob(&t, &old_ref).await.status, StatusCode::OK);

    let report = run(&t, &policy).await;
    assert_eq!(report.traces, 1, "{report:?}");
    assert_eq!(report.counts.blobs, 2, "{report:?}");
    assert_eq!(report.counts.texts, 0, "search text is kept a year");
    assert_eq!(report.by_tier["default"], (1, 2, 0));
    assert_eq!(
        report.held,
        [(
            "t-held".to_owned(),
            vec![hold["hold_id"].as_str().unwrap().to_owned()]
        )]
        .into()
    );
    let logged = t.entry_json(report.seq).await;
    assert_eq!(logged["event_type"], json!("retention_purge"));
    let purge = &logged["retention_purge"];
    assert_eq!(purge["run_id"], json!(report.run_id));
    assert_eq!(
        (purge["traces"].clone(), purge["blobs"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(purge["by_tier"]["default"]["blobs"], json!(2));
    assert_eq!(purge["held"]["traces"], json!(1));
    assert_eq!(purge["held"]["holds"], json!([hold["hold_id"]]));

    // Purged blobs read as purged, naming the run; others are untouched.
    let problem = blob(&t, &old_ref).await.problem(StatusCode::GONE);
    assert!(
        common::detail(&problem).contains(&report.run_id),
        "{problem}"
    );
    assert_eq!(blob(&t, &late_ref).await.status, StatusCode::OK);
    for kept in ["a1", "m1", "m2", "h1"] {
        let reference = input_ref(&t, kept).await;
        assert_eq!(blob(&t, &reference).await.status, StatusCode::OK, "{kept}");
    }
    let shown = t.get_event("o1").await.ok_json();
    assert_eq!(
        shown["record"]["input"]["purged"]["run_id"],
        json!(report.run_id)
    );
    assert_eq!(shown["record"]["input"]["$blob"], json!(old_ref));
    // Text is kept a year: still found.
    assert_eq!(found(&t, "kettleo1").await, ["o1"]);
    let checked = verify(&t).await;
    assert_eq!(checked.purged_blobs, 2);

    // The archive: each blob checks against its entry's commitment.
    let lines: Vec<Value> =
        std::fs::read_to_string(report.archive.as_ref().expect("an archive was written"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        let stored = archived_blob(line);
        let entry: Value = serde_json::from_str(line["entry"].as_str().unwrap()).unwrap();
        assert_eq!(entry["input"]["$blob"], line["blob"]);
        match t.app.vault.open_blob(&stored).await.unwrap() {
            BlobContent::Readable { salt, bytes } => {
                let digest = Sha256::new()
                    .chain_update(salt)
                    .chain_update(&bytes)
                    .finalize();
                assert_eq!(line["blob"], json!(format!("sha256:{}", hex(&digest))));
            }
            BlobContent::Erased => panic!("not erased yet"),
        }
    }

    // A year later the text goes too, and the late trace's payload.
    clock.advance(275 * DAY);
    t.sign().await;
    let second = run(&t, &policy).await;
    // o1, o2 and the hold's `legal_hold` event: server events match tiers too.
    assert_eq!(second.counts.texts, 3, "{second:?}");
    assert_eq!(second.counts.blobs, 1, "{second:?}");
    assert!(found(&t, "kettleo1").await.is_empty());
    assert_eq!(found(&t, "kettlelate1").await, ["late1"]);
    assert_eq!(found(&t, "kettlea1").await, ["a1"]);
    blob(&t, &late_ref).await.problem(StatusCode::GONE);
    assert_eq!(verify(&t).await.purged_blobs, 3);

    // Nothing more expired: the run still says it ran.
    let third = run(&t, &policy).await;
    assert_eq!(
        (third.traces, third.counts.blobs, third.counts.texts),
        (0, 0, 0)
    );

    // An erasure reaches the archive: its blobs no longer open.
    t.send(
        Method::POST,
        "/api/v1/subjects/erase",
        Some(&t.privacy),
        Some("application/json"),
        json!({"subject": "cust-t-old", "reason": "GDPR art. 17"}).to_string(),
    )
    .await
    .ok_json();
    for line in &lines {
        assert!(matches!(
            t.app.vault.open_blob(&archived_blob(line)).await.unwrap(),
            BlobContent::Erased
        ));
    }
    verify(&t).await;
}

fn archived_blob(line: &Value) -> evident_store::StoredBlob {
    use base64::Engine as _;
    evident_store::StoredBlob {
        reference: evident_core::blob::parse_blob_ref(line["blob"].as_str().unwrap()).unwrap(),
        media_type: line["media_type"].as_str().unwrap().to_owned(),
        size: line["size"].as_u64().unwrap(),
        key_id: line["key_id"].as_str().unwrap().to_owned(),
        sealed: base64::engine::general_purpose::STANDARD
            .decode(line["sealed"].as_str().unwrap())
            .unwrap(),
        seq: line["seq"].as_u64(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A tier below its floor is refused, naming both; with the override it is allowed.
#[test]
fn tiers_below_their_floors_are_named() {
    let mut policy = policy(None);
    policy.payload_floor = Some(180 * DAY);
    let found = evident_server::retention::floor_violations(&policy);
    assert_eq!(found.len(), 1);
    let text = found[0].to_string();
    assert!(text.contains("retention.tiers[0].payload"), "{text}");
    assert!(text.contains("retention.floors.payload (180d)"), "{text}");
    assert!(text.contains("90d"), "{text}");
    policy.payload_floor = Some(90 * DAY);
    assert!(evident_server::retention::floor_violations(&policy).is_empty());
}

/// The `<KIND_…>` tokens in a text.
fn tokens_in(text: &str) -> Vec<String> {
    text.split('<')
        .skip(1)
        .filter_map(|rest| rest.split_once('>').map(|(token, _)| format!("<{token}>")))
        .collect()
}

/// Reveals `tokens` with the privacy key: the clear values still in the vault.
async fn revealed(t: &TestApp, tokens: &[&String]) -> Vec<String> {
    let reply = t
        .send(
            Method::POST,
            "/api/v1/vault/reveal",
            Some(&t.privacy),
            Some("application/json"),
            json!({"tokens": tokens, "reason": "retention check"}).to_string(),
        )
        .await;
    if reply.status == StatusCode::NOT_FOUND {
        return Vec::new();
    }
    let mut values: Vec<String> = reply.ok_json()["values"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    values.sort();
    values
}

/// Personal data found in events without a subject is sealed under the log's default
/// key. Those values expire with the traces that used them, by the same trace rule:
/// a value another kept trace still uses stays until that trace expires too, and a
/// legal hold keeps the values of the traces it covers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_values_under_the_default_key_expire_with_the_traces_that_used_them() {
    let (t, clock) = app_with_clock().await;
    let policy = RetentionPolicy {
        tiers: vec![Tier {
            name: "default".into(),
            payload: Some(90 * DAY),
            ..Tier::default()
        }],
        ..RetentionPolicy::default()
    };
    let anonymous = |id: &str, trace: &str, text: &str| {
        json!({
            "event_id": id, "trace_id": trace, "timestamp": "2026-11-23T09:00:00Z",
            "actor": {"type": "agent", "id": "mail-bot"}, "event_type": "tool_call",
            "input": {"text": text},
        })
    };
    t.ingest_ok(&json!([
        anonymous(
            "a1",
            "t-a",
            "write to only.a@example.org and shared@example.org"
        ),
        anonymous("b1", "t-b", "copy shared@example.org"),
        anonymous("h1", "t-held", "keep held@example.org"),
    ]))
    .await;
    t.send(
        Method::POST,
        "/api/v1/legal-holds",
        Some(&t.admin),
        Some("application/json"),
        json!({"trace_id": "t-held", "reason": "litigation"}).to_string(),
    )
    .await
    .ok_json();
    t.wait_indexed().await;
    t.sign().await;
    let text_of = |record: Value| {
        record["record"]["input"]["text"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let a_tokens = tokens_in(&text_of(t.get_event("a1").await.ok_json()));
    let held_tokens = tokens_in(&text_of(t.get_event("h1").await.ok_json()));
    let (only_a, shared, held) = (&a_tokens[0], &a_tokens[1], &held_tokens[0]);
    assert_eq!(
        revealed(&t, &[only_a, shared, held]).await,
        [
            "held@example.org",
            "only.a@example.org",
            "shared@example.org"
        ]
    );

    // 91 days on, trace t-b gets a new event: it is kept, and with it the value it
    // shares with the expired t-a.
    clock.advance(91 * DAY);
    t.ingest_ok(&json!([anonymous("b2", "t-b", "nothing personal")]))
        .await;
    t.wait_indexed().await;
    t.sign().await;
    let report = run(&t, &policy).await;
    assert_eq!(report.traces, 1, "{report:?}");
    assert_eq!(
        report.counts.values, 1,
        "only t-a's own value goes: {report:?}"
    );
    assert_eq!(
        t.entry_json(report.seq).await["retention_purge"]["values"],
        json!(1)
    );
    assert_eq!(
        revealed(&t, &[only_a, shared, held]).await,
        ["held@example.org", "shared@example.org"]
    );

    // Another 91 days: t-b expires, and the shared value with it; the hold keeps t-held's.
    clock.advance(91 * DAY);
    t.sign().await;
    let report = run(&t, &policy).await;
    assert_eq!(report.counts.values, 1, "{report:?}");
    assert_eq!(
        revealed(&t, &[only_a, shared, held]).await,
        ["held@example.org"]
    );
    verify(&t).await;
}

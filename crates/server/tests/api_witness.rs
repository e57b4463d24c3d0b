//! The log's side of witnessing through the router (CONTRACT section 3,
//! "Witnessing"; C2SP tlog-witness): checkpoints are sent to the configured
//! witnesses (here real `witness::router`s on loopback), only cosignatures by a
//! witness's configured key are kept, `/checkpoint` carries them, and
//! `GET /api/v1/log` shows each witness's status and the quorum. Runs on PostgreSQL
//! too (EVIDENT_TEST_API_STORE=postgres).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{TestApp, MANUAL_CHECKPOINTS};
use evident_server::cosigning::{WitnessEndpoint, Witnessing};
use evident_server::state::Settings;
use evident_server::witness::Witness;
use evident_tlog::witness::{verify_quorum, CosignatureSigner, CosignatureVerifier, WitnessPolicy};
use serde_json::Value;

/// A port nothing listens on yet, for a witness started once the log's key exists.
async fn free_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

async fn serve_witness(witness: Witness, port: u16) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let router = evident_server::witness::router(Arc::new(witness));
    tokio::spawn(async move { axum::serve(listener, router).await });
}

fn endpoint(name: &str, port: u16, verifier_key: &str) -> WitnessEndpoint {
    WitnessEndpoint {
        name: name.into(),
        url: format!("http://127.0.0.1:{port}"),
        verifier: CosignatureVerifier::new(verifier_key).unwrap(),
        verifier_key: verifier_key.into(),
    }
}

async fn log_status(t: &TestApp) -> Value {
    t.get("/api/v1/log", None).await.ok_json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosignatures_by_configured_keys_are_kept_served_and_reported() {
    let (good_private, good_vkey) = CosignatureSigner::generate("good.test").unwrap();
    // The server is configured with one key for "liar"; it cosigns with another.
    let (liar_private, _) = CosignatureSigner::generate("liar.test").unwrap();
    let (_, liar_configured) = CosignatureSigner::generate("liar.test").unwrap();
    let (good_port, liar_port, down_port) =
        (free_port().await, free_port().await, free_port().await);
    let settings = Settings {
        checkpoint_interval: MANUAL_CHECKPOINTS,
        witnessing: Witnessing {
            witnesses: vec![
                endpoint("good", good_port, &good_vkey),
                endpoint("liar", liar_port, &liar_configured),
                endpoint("down", down_port, &good_vkey),
            ],
            quorum: 1,
        },
        ..Settings::default()
    };
    let t = TestApp::with_settings(settings).await;
    let states = tempfile::tempdir().unwrap();
    for (private, port, dir) in [
        (&good_private, good_port, "good"),
        (&liar_private, liar_port, "liar"),
    ] {
        let witness = Witness::open(
            CosignatureSigner::new(private).unwrap(),
            std::slice::from_ref(&t.verifier_key),
            &states.path().join(dir),
        )
        .unwrap();
        serve_witness(witness, port).await;
    }
    t.ingest_n("w", 5).await;
    let checkpoint = t.sign().await;
    assert_eq!(checkpoint.size, 5);

    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let status = log_status(&t).await;
        let reported = status["witnesses"].as_array().unwrap();
        let settled = status["witness_quorum"]["met"] == true
            && reported
                .iter()
                .filter(|w| w["last_error"].is_string())
                .count()
                == 2;
        if settled {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "witnesses did not settle: {status:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let by_name = |name: &str| {
        status["witnesses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == name)
            .unwrap()
            .clone()
    };
    let good = by_name("good");
    assert_eq!(good["last_cosigned_size"], 5);
    assert_eq!(good["cosigned_latest"], true);
    assert_eq!(good["verifier_key"], good_vkey.as_str());
    assert!(good["last_cosigned_at"].as_str().unwrap().ends_with('Z'));
    let liar = by_name("liar");
    assert!(
        liar["last_error"]
            .as_str()
            .unwrap()
            .contains("without a valid cosignature"),
        "{liar}"
    );
    assert_eq!(liar["cosigned_latest"], false);
    assert!(liar["last_cosigned_size"].is_null());
    let down = by_name("down");
    assert!(
        down["last_error"].as_str().unwrap().contains("unreachable"),
        "{down}"
    );
    assert_eq!(status["witness_quorum"]["required"], 1);
    assert_eq!(status["witness_quorum"]["cosigned"], 1);
    assert_eq!(status["witness_quorum"]["checkpoint_size"], 5);

    // Only the configured key's cosignature is kept and served.
    let served = t.get("/checkpoint", None).await.text();
    assert!(served.starts_with(&checkpoint.note), "{served}");
    assert_eq!(served.lines().filter(|l| l.starts_with("— ")).count(), 2);
    let stored = t.store.cosignatures(5).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].witness, "good");
    let policy = WitnessPolicy::parse(&format!("witness good {good_vkey}\nquorum good\n")).unwrap();
    assert_eq!(
        verify_quorum(&served, &t.verifier_key, &policy).unwrap(),
        ["good"]
    );
    // Cosignatures are not entries.
    assert_eq!(t.tree_size().await, 5);
}

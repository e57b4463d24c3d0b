//! Witnessing end to end with the real binary (CONTRACT section 3, "Witnessing"):
//! two `evident witness` processes on loopback and an `evident serve` configured with
//! both. Cosignatures are collected and verified with a witness policy; a witness
//! refuses a forked, shrunk or foreign history with the C2SP status codes; a witness
//! restarted keeps its state; a witness that is down never blocks ingest and the log
//! status says so.

mod util;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use evident_tlog::witness::{verify_quorum, AddCheckpoint, WitnessError, WitnessPolicy};
use evident_tlog::{Checkpoint, LogSigner};
use serde_json::Value;
use util::{evident, http, Server};

/// A running `evident witness`, killed when dropped.
struct Witness {
    child: Child,
    url: String,
}

impl Witness {
    fn start(port: u16, log_key: &str, key: &Path, state: &Path) -> Self {
        let mut child = evident()
            .args(["witness", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--log-key", log_key, "--key"])
            .arg(key)
            .arg("--state")
            .arg(state)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting evident witness");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines.next().expect("witness exited").unwrap();
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Self { child, url }
    }

    fn add_checkpoint(&self, body: String) -> (u16, String, String) {
        let reply = http()
            .post(format!("{}/add-checkpoint", self.url))
            .body(body)
            .send()
            .unwrap();
        let status = reply.status().as_u16();
        let media = reply
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, media, reply.text().unwrap())
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn keygen(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let key = dir.join(format!("{name}.key"));
    let out = evident()
        .args(["witness", "keygen", "--name", name, "--key"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", util::stderr(&out));
    (key, util::stdout(&out).trim().to_owned())
}

fn log_status(server: &Server) -> Value {
    http()
        .get(server.url("/api/v1/log"))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn ingest(server: &Server, key: &str, id: &str) {
    let reply = http()
        .post(server.url("/api/v1/events"))
        .bearer_auth(key)
        .json(&util::event(id, "t-witness"))
        .send()
        .unwrap();
    assert_eq!(reply.status().as_u16(), 200, "{}", reply.text().unwrap());
}

/// Polls `/api/v1/log` until `done` holds for it.
fn wait_for(server: &Server, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = log_status(server);
        if done(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {status:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn witness_named<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["witnesses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == name)
        .unwrap()
}

#[test]
fn two_witnesses_cosign_refuse_bad_histories_and_never_block_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = util::run(&data, &["init", "--origin", "witness.test/log"]);
    assert!(out.status.success(), "{}", util::stderr(&out));
    let log_key = util::stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("verifier key: "))
        .unwrap()
        .to_owned();
    let admin = util::stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("admin API key (shown once, keep it safe): "))
        .unwrap()
        .to_owned();

    let (key1, vkey1) = keygen(dir.path(), "w1.test");
    let (key2, vkey2) = keygen(dir.path(), "w2.test");
    let (port1, port2) = (free_port(), free_port());
    let state2 = dir.path().join("w2-state");
    let w1 = Witness::start(port1, &log_key, &key1, &dir.path().join("w1-state"));
    let mut w2 = Some(Witness::start(port2, &log_key, &key2, &state2));
    let config = dir.path().join("evident.toml");
    std::fs::write(
        &config,
        format!(
            "witness_quorum = 2\n\
             [[witness]]\nname = \"one\"\nurl = \"{}\"\nvkey = \"{vkey1}\"\n\
             [[witness]]\nname = \"two\"\nurl = \"{}\"\nvkey = \"{vkey2}\"\n",
            w1.url,
            w2.as_ref().unwrap().url
        ),
    )
    .unwrap();
    let server = Server::start(
        &data,
        &[
            "--config",
            config.to_str().unwrap(),
            "--otlp-grpc-listen",
            "off",
        ],
    );

    // Both cosign: /checkpoint carries both cosignatures, and a policy verifies them.
    for i in 0..3 {
        ingest(&server, &admin, &format!("e{i}"));
    }
    let status = wait_for(&server, "quorum at size 3", |s| {
        s["witness_quorum"]["met"] == true && s["witness_quorum"]["checkpoint_size"] == 3
    });
    assert_eq!(witness_named(&status, "one")["last_cosigned_size"], 3);
    assert_eq!(witness_named(&status, "two")["known_size"], 3);
    assert!(witness_named(&status, "two")["last_error"].is_null());
    let cosigned3 = http()
        .get(server.url("/checkpoint"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let policy = WitnessPolicy::parse(&format!(
        "log {log_key}\nwitness one {vkey1}\nwitness two {vkey2}\ngroup both all one two\nquorum both\n"
    ))
    .unwrap();
    assert_eq!(
        verify_quorum(&cosigned3, &log_key, &policy).unwrap(),
        ["one", "two"]
    );
    assert!(cosigned3.contains("\n— w1.test ") && cosigned3.contains("\n— w2.test "));

    // Witness two goes down: ingest still answers 200, checkpoints are still signed,
    // the log says two failed and the quorum is not met; /checkpoint stays at the
    // newest checkpoint that has its quorum.
    drop(w2.take());
    for i in 3..6 {
        ingest(&server, &admin, &format!("e{i}"));
    }
    let status = wait_for(&server, "witness two's error", |s| {
        s["witness_quorum"]["checkpoint_size"] == 6
            && witness_named(s, "two")["last_error"].is_string()
            && witness_named(s, "one")["last_cosigned_size"] == 6
    });
    assert_eq!(status["tree_size"], 6);
    assert_eq!(status["pending"], 0);
    assert_eq!(status["witness_quorum"]["met"], false);
    assert_eq!(status["witness_quorum"]["cosigned"], 1);
    assert_eq!(witness_named(&status, "two")["last_cosigned_size"], 3);
    let error = witness_named(&status, "two")["last_error"]
        .as_str()
        .unwrap();
    assert!(error.contains("unreachable"), "{error}");
    let served = http()
        .get(server.url("/checkpoint"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(served, cosigned3);
    let one_only = WitnessPolicy::parse(&format!(
        "witness one {vkey1}\nwitness two {vkey2}\ngroup both all one two\nquorum both\n"
    ))
    .unwrap();
    let latest = status["checkpoint"].as_str().unwrap();
    assert!(matches!(
        verify_quorum(latest, &log_key, &one_only),
        Err(WitnessError::QuorumNotMet { .. })
    ));

    // Restarted on its state, witness two still holds size 3: it refuses a rollback to
    // size 0 with 409 and its size, then takes the log's checkpoint with a proof from 3.
    let w2 = Witness::start(port2, &log_key, &key2, &state2);
    // Signed with the log's own key: the refusals below are about history, not keys.
    let signer = LogSigner::new(
        std::fs::read_to_string(data.join("secrets/signing.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let shrunk = signer
        .sign_checkpoint(&Checkpoint {
            origin: "witness.test/log".into(),
            size: 2,
            root: evident_tlog::leaf_hash(b"not the log"),
        })
        .unwrap();
    let (code, media, body) = w2.add_checkpoint(
        AddCheckpoint {
            old_size: 0,
            proof: vec![],
            checkpoint: shrunk.clone(),
        }
        .to_body(),
    );
    assert_eq!(
        (code, media.as_str(), body.as_str()),
        (409, "text/x.tlog.size", "3\n")
    );
    // Shrunk below what it holds, even claiming its size as the old one: 400.
    let (code, _, _) = w2.add_checkpoint(
        AddCheckpoint {
            old_size: 3,
            proof: vec![],
            checkpoint: shrunk,
        }
        .to_body(),
    );
    assert_eq!(code, 400);
    // A fork at the size it holds: 409.
    let forked3 = signer
        .sign_checkpoint(&Checkpoint {
            origin: "witness.test/log".into(),
            size: 3,
            root: evident_tlog::leaf_hash(b"fork"),
        })
        .unwrap();
    let (code, _, body) = w2.add_checkpoint(
        AddCheckpoint {
            old_size: 3,
            proof: vec![],
            checkpoint: forked3,
        }
        .to_body(),
    );
    assert_eq!((code, body.as_str()), (409, "3\n"));
    // A fork grown past it, whatever proof comes with it: 422.
    let forked9 = signer
        .sign_checkpoint(&Checkpoint {
            origin: "witness.test/log".into(),
            size: 9,
            root: evident_tlog::leaf_hash(b"fork"),
        })
        .unwrap();
    let (code, _, _) = w2.add_checkpoint(
        AddCheckpoint {
            old_size: 3,
            proof: vec![evident_tlog::leaf_hash(b"x"), evident_tlog::leaf_hash(b"y")],
            checkpoint: forked9,
        }
        .to_body(),
    );
    assert_eq!(code, 422);
    // Another key under the log's name: 403; a log it does not know: 404.
    let (other_private, _) = LogSigner::generate("witness.test/log").unwrap();
    let impostor = LogSigner::new(&other_private)
        .unwrap()
        .sign_checkpoint(&Checkpoint {
            origin: "witness.test/log".into(),
            size: 7,
            root: evident_tlog::leaf_hash(b"fork"),
        })
        .unwrap();
    let request = |checkpoint: String| {
        AddCheckpoint {
            old_size: 3,
            proof: vec![],
            checkpoint,
        }
        .to_body()
    };
    assert_eq!(w2.add_checkpoint(request(impostor)).0, 403);
    let (stranger_private, _) = LogSigner::generate("elsewhere.test/log").unwrap();
    let stranger = LogSigner::new(&stranger_private)
        .unwrap()
        .sign_checkpoint(&Checkpoint {
            origin: "elsewhere.test/log".into(),
            size: 1,
            root: evident_tlog::leaf_hash(b"a"),
        })
        .unwrap();
    assert_eq!(w2.add_checkpoint(request(stranger)).0, 404);
    assert_eq!(w2.add_checkpoint("old 1\nnot a hash\n\nx\n".into()).0, 400);

    // None of that moved it: the server's next round proves 3..6 and gets the quorum.
    let status = wait_for(&server, "quorum again at size 6", |s| {
        s["witness_quorum"]["met"] == true && s["witness_quorum"]["checkpoint_size"] == 6
    });
    assert!(witness_named(&status, "two")["last_error"].is_null());
    assert_eq!(witness_named(&status, "two")["last_cosigned_size"], 6);
    let cosigned6 = http()
        .get(server.url("/checkpoint"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        cosigned6.starts_with("witness.test/log\n6\n"),
        "{cosigned6}"
    );
    assert_eq!(
        verify_quorum(&cosigned6, &log_key, &policy).unwrap(),
        ["one", "two"]
    );

    // An evidence bundle carries the cosigned checkpoint, and verify-bundle checks its
    // quorum against a policy, offline; a policy that needs a third witness fails.
    let bundle = dir.path().join("t-witness.tar");
    let out = util::evident()
        .args([
            "export",
            "--trace",
            "t-witness",
            "-o",
            bundle.to_str().unwrap(),
        ])
        .args(["--server", &server.base, "--api-key", &admin])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", util::stderr(&out));
    let policy_file = dir.path().join("policy.txt");
    std::fs::write(
        &policy_file,
        format!("log {log_key}\nwitness one {vkey1}\nwitness two {vkey2}\ngroup both all one two\nquorum both\n"),
    )
    .unwrap();
    let verify = |policy: &Path| {
        util::evident()
            .arg("verify-bundle")
            .arg(&bundle)
            .args(["--key", &log_key, "--witness-policy"])
            .arg(policy)
            .output()
            .unwrap()
    };
    let out = verify(&policy_file);
    assert!(
        out.status.success(),
        "{}{}",
        util::stdout(&out),
        util::stderr(&out)
    );
    assert!(
        util::stdout(&out).contains("witness quorum met: cosigned by one, two"),
        "{}",
        util::stdout(&out)
    );
    let (_, vkey3) = keygen(dir.path(), "w3.test");
    let stricter = dir.path().join("stricter.txt");
    std::fs::write(
        &stricter,
        format!("witness one {vkey1}\nwitness two {vkey2}\nwitness three {vkey3}\ngroup all3 all one two three\nquorum all3\n"),
    )
    .unwrap();
    let out = verify(&stricter);
    assert_eq!(out.status.code(), Some(1), "{}", util::stdout(&out));
    assert!(
        util::stderr(&out).contains("FAILED evidence/checkpoint: witness quorum"),
        "{}",
        util::stderr(&out)
    );
    drop(w1);
}

#[test]
fn witness_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keygen(dir.path(), "w.test");
    // keygen never overwrites a key.
    let again = evident()
        .args(["witness", "keygen", "--name", "w.test", "--key"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    let no_log_key = evident()
        .args(["witness", "--listen", "127.0.0.1:0", "--key"])
        .arg(&key)
        .arg("--state")
        .arg(dir.path().join("s"))
        .output()
        .unwrap();
    assert_eq!(no_log_key.status.code(), Some(2));
    assert!(util::stderr(&no_log_key).contains("--log-key"));
    let bad_log_key = evident()
        .args([
            "witness",
            "--listen",
            "127.0.0.1:0",
            "--log-key",
            "nonsense",
            "--key",
        ])
        .arg(&key)
        .arg("--state")
        .arg(dir.path().join("s"))
        .output()
        .unwrap();
    assert_eq!(bad_log_key.status.code(), Some(2));
}

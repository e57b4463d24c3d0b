//! Several `evident serve` processes on one PostgreSQL database (CONTRACT section 9):
//! both accept ingest; the signing server is `kill -9`ed mid-ingest; every
//! acknowledged event is present exactly once at its `seq`, the other server takes
//! over signing, and `evident verify` passes on the database. And the application
//! role really cannot rewrite the log.
//!
//! Needs `EVIDENT_TEST_DATABASE_URL` (set by `./scripts/test`).

mod util;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use util::{event, evident, http, stderr, stdout, Server};

/// A fresh database on the test cluster: (URL, admin URL, name).
fn fresh_database() -> Option<(String, String)> {
    let Ok(admin_url) = std::env::var("EVIDENT_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("EVIDENT_REQUIRE_POSTGRES").is_err(),
            "EVIDENT_TEST_DATABASE_URL is not set but PostgreSQL tests are required"
        );
        eprintln!("SKIPPED: no PostgreSQL (run ./scripts/test, which starts one)");
        return None;
    };
    let name = format!(
        "evident_cli_{}",
        std::process::id() as u64 * 1000 + rand_suffix()
    );
    psql(&admin_url, &format!("CREATE DATABASE {name}")).unwrap();
    let base = admin_url.rsplit_once('/').unwrap().0;
    Some((format!("{base}/{name}"), admin_url))
}

fn rand_suffix() -> u64 {
    u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
            % 1000,
    )
}

/// Runs SQL with psql; the error text if it fails.
fn psql(url: &str, sql: &str) -> Result<String, String> {
    let out = std::process::Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])
        .output()
        .expect("running psql");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn with_db(url: &str, args: &[&str], data: &std::path::Path) -> std::process::Output {
    evident()
        .args(args)
        .args(["--database-url", url, "--data"])
        .arg(data)
        .output()
        .unwrap()
}

fn checkpoints_signed(server: &Server) -> u64 {
    let text = http()
        .get(server.url("/metrics"))
        .send()
        .map(|r| r.text().unwrap_or_default())
        .unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("evident_checkpoints_signed_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn two_servers_one_tree_and_failover_loses_nothing() {
    let Some((url, _admin)) = fresh_database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("secrets-dir");
    let out = with_db(&url, &["init", "--origin", "pg.example/log"], &data);
    assert!(out.status.success(), "{}", stderr(&out));
    let key = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("admin API key (shown once, keep it safe): "))
        .unwrap()
        .to_owned();
    let extra = ["--database-url", url.as_str()];
    let mut servers = vec![Server::start(&data, &extra), Server::start(&data, &extra)];
    // Wait until one of them leads (signs the first checkpoint).
    let deadline = Instant::now() + Duration::from_secs(10);
    while servers.iter().all(|s| checkpoints_signed(s) == 0) {
        assert!(Instant::now() < deadline, "no server signed a checkpoint");
        std::thread::sleep(Duration::from_millis(100));
    }
    let leader = usize::from(checkpoints_signed(&servers[0]) == 0);
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();

    let acked: Arc<Mutex<HashMap<String, (u64, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..4 {
        let (acked, stop, key, bases) = (acked.clone(), stop.clone(), key.clone(), bases.clone());
        clients.push(std::thread::spawn(move || {
            let http = http();
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) && n < 2_000 {
                // Alternate servers: both accept ingest and answer with seq.
                let base = &bases[(client + n) % 2];
                let batch: Vec<Value> = (0..(1 + n % 10))
                    .map(|i| event(&format!("pg-c{client}-{n}-{i}"), &format!("t{client}")))
                    .collect();
                n += 1;
                let Ok(response) = http
                    .post(format!("{base}/api/v1/events"))
                    .bearer_auth(&key)
                    .json(&batch)
                    .send()
                else {
                    continue;
                };
                if !response.status().is_success() {
                    continue;
                }
                let results: Vec<Value> = response.json().unwrap();
                let mut acked = acked.lock().unwrap();
                for r in results {
                    acked.insert(
                        r["event_id"].as_str().unwrap().to_owned(),
                        (
                            r["seq"].as_u64().unwrap(),
                            r["leaf_hash"].as_str().unwrap().to_owned(),
                        ),
                    );
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let killed = servers.remove(leader);
    killed.kill9();
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }
    let survivor = &servers[0];
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 50,
        "too few events acknowledged: {}",
        acked.len()
    );

    // The survivor takes over signing and covers everything acknowledged.
    let deadline = Instant::now() + Duration::from_secs(15);
    let tree_size = loop {
        let log: Value = http()
            .get(survivor.url("/api/v1/log"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let size = log["checkpoint"]
            .as_str()
            .and_then(|c| c.lines().nth(1))
            .and_then(|l| l.parse::<u64>().ok())
            .unwrap_or(0);
        if size > 0
            && size == log["tree_size"].as_u64().unwrap()
            && checkpoints_signed(survivor) > 0
        {
            break size;
        }
        assert!(
            Instant::now() < deadline,
            "the survivor never took over signing: {log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(tree_size >= acked.len() as u64);
    // Every acknowledged event once, at its acknowledged position.
    let http = http();
    let mut seqs = HashMap::new();
    for (event_id, (seq, leaf)) in &acked {
        let got: Value = http
            .get(survivor.url(&format!("/api/v1/events/{event_id}")))
            .bearer_auth(&key)
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(got["seq"].as_u64(), Some(*seq), "{event_id}");
        assert_eq!(got["leaf_hash"].as_str(), Some(leaf.as_str()), "{event_id}");
        assert!(
            seqs.insert(*seq, event_id.clone()).is_none(),
            "seq {seq} twice"
        );
    }
    let count = psql(
        &url,
        "SELECT count(*), count(DISTINCT event_id), max(seq) FROM entries",
    )
    .unwrap();
    let fields: Vec<u64> = count
        .trim()
        .split('|')
        .map(|f| f.parse().unwrap())
        .collect();
    assert_eq!(fields[0], fields[1], "an event stored twice");
    assert_eq!(fields[2] + 1, fields[0], "a gap in the log");
    servers.pop().unwrap().stop();
    // The reads above are noted in the access log: its batches (`access_log_checkpoint`
    // entries) may have followed the count taken while the survivor ran.
    let final_size: u64 = psql(&url, "SELECT count(*) FROM entries")
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    let out = with_db(&url, &["verify"], &data);
    assert!(
        out.status.success(),
        "verify on the database: {}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains(&format!("ok: {final_size} entries")),
        "{}",
        stdout(&out)
    );
}

#[test]
fn the_application_role_cannot_rewrite_the_log() {
    let Some((url, admin_url)) = fresh_database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    assert!(with_db(&url, &["init"], &data).status.success());
    let file = dir.path().join("e.ndjson");
    util::write_ndjson(&file, "ro", 5);
    let out = with_db(&url, &["ingest", file.to_str().unwrap()], &data);
    assert!(out.status.success(), "{}", stderr(&out));

    let role = format!("evident_app_{}", rand_suffix());
    psql(&admin_url, &format!("CREATE ROLE {role} LOGIN")).unwrap();
    let out = with_db(&url, &["migrate", "--grant-to", &role], &data);
    assert!(out.status.success(), "{}", stderr(&out));
    let app_url = url.replacen("evident@", &format!("{role}@"), 1);
    // The application role reads and appends…
    assert_eq!(
        psql(&app_url, "SELECT count(*) FROM entries")
            .unwrap()
            .trim(),
        "5"
    );
    // A command connecting as the application role starts on the database the owner
    // migrated (it may not create tables) and appends.
    let more = dir.path().join("more.ndjson");
    util::write_ndjson(&more, "app", 3);
    let out = with_db(&app_url, &["ingest", more.to_str().unwrap()], &data);
    assert!(out.status.success(), "{}", stderr(&out));
    // …but cannot change or remove what is written.
    for sql in [
        "UPDATE entries SET entry = 'x' WHERE seq = 0",
        "DELETE FROM entries WHERE seq = 0",
        "TRUNCATE entries",
        "DELETE FROM checkpoints",
        "UPDATE tree_head SET size = 0",
        "DELETE FROM tiles",
    ] {
        let err = psql(&app_url, sql).expect_err(sql);
        assert!(
            err.contains("denied") || err.contains("refused") || err.contains("only grow"),
            "{sql}: {err}"
        );
    }
    // Even the owner is stopped by the triggers.
    for sql in [
        "UPDATE entries SET entry = 'x' WHERE seq = 0",
        "DELETE FROM entries",
        "TRUNCATE entries",
    ] {
        let err = psql(&url, sql).expect_err(sql);
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    // An approval closes once and keeps its history: a resolved request cannot be
    // reopened or turned into another resolution, nor removed, even by the owner.
    psql(
        &url,
        "INSERT INTO approvals(approval_id, job_id, job_hash, action, requested_by, trace_id,
                               event_id, opened_at, expires_at, state)
         VALUES ('apr_t', 'job-t', 'aa', 'refund', 'agent', 't', 'evt_t', 0, 10, 'rejected')",
    )
    .unwrap();
    for sql in [
        "UPDATE approvals SET state = 'approved' WHERE approval_id = 'apr_t'",
        "UPDATE approvals SET state = 'open' WHERE approval_id = 'apr_t'",
        "DELETE FROM approvals",
    ] {
        let err = psql(&url, sql).expect_err(sql);
        assert!(
            err.contains("append-only") || err.contains("closes once"),
            "{sql}: {err}"
        );
    }
    let out = with_db(&url, &["verify"], &data);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn erasure_on_postgres_leaves_no_clear_value_or_key_in_any_table() {
    let Some((url, _admin)) = fresh_database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    assert!(with_db(&url, &["init"], &data).status.success());
    let file = dir.path().join("pii.ndjson");
    let mut e = event("pii-1", "t-pii");
    e["context"]["subject"] = "erin.erased@example.com".into();
    e["context"]["subject_identifiers"] = serde_json::json!({"name": "Erin Quill"});
    e["input"] = serde_json::json!({"note": "call erin.erased@example.com or +44 20 7946 0958"});
    std::fs::write(&file, format!("{e}\n")).unwrap();
    let out = with_db(&url, &["ingest", file.to_str().unwrap()], &data);
    assert!(out.status.success(), "{}", stderr(&out));
    let dump = |url: &str| -> String {
        let tables = psql(
            url,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
        )
        .unwrap();
        tables
            .lines()
            .map(|t| psql(url, &format!("SELECT t::text FROM {t} t")).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let before = dump(&url);
    assert!(
        !before.contains("erin.erased")
            && !before.contains("7946 0958")
            && !before.contains("Erin Quill"),
        "clear values rest in a table"
    );
    let remembered = "SELECT count(*) FROM subject_identifiers";
    assert_eq!(psql(&url, remembered).unwrap().trim(), "1");
    let wrapped = psql(
        &url,
        "SELECT encode(wrapped, 'hex') FROM data_keys WHERE subject <> ''",
    )
    .unwrap();
    assert_eq!(wrapped.lines().count(), 1);
    let out = with_db(
        &url,
        &["erase", "erin.erased@example.com", "--reason", "art. 17"],
        &data,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let after = dump(&url);
    assert!(
        !after.contains(wrapped.trim()),
        "the destroyed key is still in a table"
    );
    assert_eq!(psql(&url, remembered).unwrap().trim(), "0");
    let out = with_db(&url, &["verify"], &data);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 blobs are erased"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn copy_moves_an_embedded_log_into_postgres_with_equal_trees() {
    let Some((url, _admin)) = fresh_database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("embedded");
    // Past the dictionary threshold: the embedded store keeps the last entries
    // compressed, and the copy must carry their exact bytes.
    let size = util::init_with_compressed_entries(&data, 100);
    let compressed: i64 = rusqlite::Connection::open(data.join("evident.db"))
        .unwrap()
        .query_row(
            "SELECT count(*) FROM entries WHERE substr(entry, 1, 4) = X'28B52FFD'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(compressed >= 100, "{compressed}");
    // The artifact registry goes along.
    let prompt = dir.path().join("prompt.json");
    std::fs::write(&prompt, r#"{"template": "hello"}"#).unwrap();
    let out = util::run(
        &data,
        &[
            "artifacts",
            "publish",
            "--kind",
            "prompt",
            "--name",
            "triage",
            "--version",
            "1",
            prompt.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let published: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    // And the policy sets, with their activations.
    let schema = dir.path().join("policy.cedarschema");
    std::fs::write(&schema, "entity Agent;\nentity Resource;\naction \"read\" appliesTo { principal: [Agent], resource: [Resource] };\n").unwrap();
    let policy = dir.path().join("policy.cedar");
    std::fs::write(
        &policy,
        "@id(\"reads\") permit(principal, action == Action::\"read\", resource);\n",
    )
    .unwrap();
    let out = util::run(
        &data,
        &[
            "policy",
            "publish",
            "reads",
            policy.to_str().unwrap(),
            "--schema",
            schema.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let policies: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    // So do the identifiers remembered for a subject.
    let file = dir.path().join("declared.ndjson");
    let mut e = event("declared-1", "t-declared");
    e["context"]["subject"] = "cust-1042".into();
    e["context"]["subject_identifiers"] = serde_json::json!({"name": "Wei Novak"});
    std::fs::write(&file, format!("{e}\n")).unwrap();
    let out = util::run(&data, &["ingest", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // And approvals: a request opened on a server over the embedded store, resolved.
    let server = Server::start(&data, &["--otlp-grpc-listen", "off"]);
    let key = |role: &str, name: &str| {
        let out = util::run(&data, &["keys", "create", "--role", role, "--name", name]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().to_owned()
    };
    let (agent, approver) = (
        key("ingest", "copy-agent"),
        key("approver", "copy-approver"),
    );
    let draft = serde_json::json!({"refund_cents": 90_000, "nonce": "n-1"});
    let job_hash = evident_core::governance::job_hash_of(&draft);
    let opened: Value = http()
        .post(server.url("/api/v1/approvals"))
        .bearer_auth(&agent)
        .json(
            &serde_json::json!({"job_id": "job-copy", "job_hash": job_hash,
                                  "action": "refund", "draft": draft}),
        )
        .send()
        .unwrap()
        .json()
        .unwrap();
    let approval_id = opened["approval_id"].as_str().expect("opened").to_owned();
    let resolved = http()
        .post(server.url(&format!("/api/v1/approvals/{approval_id}/resolve")))
        .bearer_auth(&approver)
        .json(&serde_json::json!({"resolution": "approved", "job_hash": job_hash, "comment": "ok"}))
        .send()
        .unwrap();
    assert!(
        resolved.status().is_success(),
        "{}",
        resolved.text().unwrap()
    );
    server.stop();
    // The artifact, the identifiers' event, the policy publish, two keys, the request
    // and its resolution.
    let size = size + 7;
    let before = stdout(&util::run(&data, &["checkpoint"]));
    let out = evident()
        .args(["copy", "--from"])
        .arg(&data)
        .args(["--to", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("copied {size} entries")),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains(&format!("both trees are equal: {size} entries")),
        "{}",
        stdout(&out)
    );
    // The copy serves the same signed checkpoint and verifies on its own.
    let after = stdout(&with_db(&url, &["checkpoint"], &data));
    assert_eq!(before, after);
    let out = with_db(&url, &["verify"], &data);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = with_db(&url, &["artifacts", "get", "prompt/triage"], &data);
    assert!(out.status.success(), "{}", stderr(&out));
    let copied: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(copied["seq"], published["seq"]);
    assert_eq!(copied["content_hash"], published["content_hash"]);
    let out = with_db(&url, &["policy", "list"], &data);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(listed["policy_snapshot"], policies["policy_snapshot"]);
    assert_eq!(listed["generation"], 1);
    assert_eq!(
        psql(&url, "SELECT count(*) FROM subject_identifiers")
            .unwrap()
            .trim(),
        "1"
    );
    let out = with_db(&url, &["approvals", "list", "--all"], &data);
    assert!(out.status.success(), "{}", stderr(&out));
    let approvals: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        approvals["approvals"][0]["approval_id"],
        approval_id.as_str()
    );
    assert_eq!(approvals["approvals"][0]["state"], "approved");
    assert_eq!(approvals["approvals"][0]["resolved_by"], "copy-approver");
    // A second copy into the same database is refused: it is not empty any more.
    let out = evident()
        .args(["copy", "--from"])
        .arg(&data)
        .args(["--to", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("already holds a log"),
        "{}",
        stderr(&out)
    );
}

/// `verify` on PostgreSQL runs the database's own check (amcheck) when the role may,
/// finds a damaged index with it, and says plainly when it had to skip it, never that
/// it found nothing.
#[test]
fn verify_runs_amcheck_or_says_it_was_skipped() {
    let Some((superuser_url, admin_url)) = fresh_database() else {
        return;
    };
    // A role that owns its database, as a deployment's would, but is no superuser: it
    // may not install amcheck (not a trusted extension).
    let role = format!("evident_owner_{}", rand_suffix());
    psql(&admin_url, &format!("CREATE ROLE {role} LOGIN")).unwrap();
    let database = format!("{role}_db");
    psql(
        &admin_url,
        &format!("CREATE DATABASE {database} OWNER {role}"),
    )
    .unwrap();
    let base = superuser_url.rsplit_once('/').unwrap().0;
    let url = format!("{base}/{database}").replacen("evident@", &format!("{role}@"), 1);
    let as_superuser = format!("{base}/{database}");

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let out = with_db(&url, &["init"], &data);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = dir.path().join("e.ndjson");
    util::write_ndjson(&file, "am", 20);
    let out = with_db(&url, &["ingest", file.to_str().unwrap()], &data);
    assert!(out.status.success(), "{}", stderr(&out));

    let skipped = |out: &std::process::Output, why: &str| {
        assert!(out.status.success(), "{}", stderr(out));
        let text = stdout(out);
        assert!(
            text.contains("the database's own integrity check was skipped") && text.contains(why),
            "{text}"
        );
        assert!(!text.contains("found nothing wrong"), "{text}");
    };
    skipped(
        &with_db(&url, &["verify"], &data),
        "the `amcheck` extension is not installed in this database and this role may not install it",
    );
    // A superuser installs it (verify as a superuser does so itself)…
    let out = with_db(&as_superuser, &["verify"], &data);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(
            "the database's own integrity check found nothing wrong (PostgreSQL amcheck: verify_heapam on"
        ),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        psql(
            &url,
            "SELECT count(*) FROM pg_extension WHERE extname = 'amcheck'"
        )
        .unwrap()
        .trim(),
        "1"
    );
    // …but its functions are not the owner's to run…
    skipped(
        &with_db(&url, &["verify"], &data),
        "this role may not run amcheck's functions",
    );
    // …until granted.
    psql(
        &as_superuser,
        &format!(
            "GRANT EXECUTE ON FUNCTION bt_index_check(regclass, boolean),
               verify_heapam(regclass, boolean, boolean, text, bigint, bigint) TO {role}"
        ),
    )
    .unwrap();
    let out = with_db(&url, &["verify"], &data);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("found nothing wrong (PostgreSQL amcheck"),
        "{}",
        stdout(&out)
    );

    // The index by event type now claims to be over agents: none of the table's rows
    // is in it, as if its pages had been lost. The log itself is intact (--quick
    // passes); the database's own check finds the index damaged.
    psql(
        &as_superuser,
        "UPDATE pg_index SET indkey = (
             SELECT string_agg(attnum::text, ' ' ORDER BY o)
               FROM unnest(ARRAY['agent', 'seq']) WITH ORDINALITY AS c(name, o)
               JOIN pg_attribute ON attrelid = 'entries'::regclass AND attname = c.name)::int2vector
          WHERE indexrelid = 'entries_by_type'::regclass",
    )
    .unwrap();
    let out = with_db(&url, &["verify"], &data);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("the database is damaged")
            && stderr(&out).contains("entries_by_type"),
        "{}",
        stderr(&out)
    );
    let out = with_db(&url, &["verify", "--quick"], &data);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `keys rotate-signing` while two servers share the database (CONTRACT sections 7
/// and 9): the elected signer, another process, picks up the new key from the key
/// history and the key file; the old key signs the checkpoint covering the
/// announcement, the new key every later one, and the log verifies.
#[test]
fn rotating_the_signing_key_while_two_servers_share_the_database() {
    let Some((url, _admin)) = fresh_database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("secrets-dir");
    let out = with_db(&url, &["init", "--origin", "pg.example/log"], &data);
    assert!(out.status.success(), "{}", stderr(&out));
    let key = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("admin API key (shown once, keep it safe): "))
        .unwrap()
        .to_owned();
    let extra = ["--database-url", url.as_str(), "--otlp-grpc-listen", "off"];
    let servers = [Server::start(&data, &extra), Server::start(&data, &extra)];
    let ingest = |n: usize, prefix: &str| {
        for (i, server) in servers.iter().enumerate() {
            let batch: Vec<Value> = (0..n)
                .map(|j| event(&format!("{prefix}-{i}-{j}"), "t-rot"))
                .collect();
            let response = http()
                .post(server.url("/api/v1/events"))
                .bearer_auth(&key)
                .json(&batch)
                .send()
                .unwrap();
            assert!(response.status().is_success());
        }
    };
    ingest(3, "before");
    let out = with_db(&url, &["keys", "rotate-signing", "--wait", "20"], &data);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).is_empty(),
        "the running signer took over: {}",
        stderr(&out)
    );
    let new_key = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("verifier key: "))
        .unwrap()
        .to_owned();
    ingest(4, "after");
    let deadline = Instant::now() + Duration::from_secs(10);
    let info = loop {
        let info: Value = http()
            .get(servers[0].url("/api/v1/log"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        if info["pending"] == 0 && info["tree_size"].as_u64() > Some(13) {
            break info;
        }
        assert!(Instant::now() < deadline, "no checkpoint: {info}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(info["verifier_key"], new_key.as_str());
    let latest = info["checkpoint"].as_str().unwrap();
    evident_tlog::open_checkpoint(latest.as_bytes(), &new_key).unwrap();
    let old_key = info["verifier_keys"][0]["verifier_key"].as_str().unwrap();
    let handover = info["verifier_keys"][1]["handover_checkpoint"]
        .as_str()
        .unwrap();
    let opened = evident_tlog::open_checkpoint(handover.as_bytes(), old_key).unwrap();
    assert_eq!(
        opened.size,
        info["verifier_keys"][1]["announced_at"].as_u64().unwrap() + 1
    );
    for server in servers {
        server.stop();
    }
    let out = with_db(&url, &["verify"], &data);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The binary connects to PostgreSQL over TLS as the URL says: `verify-full` with the
/// cluster's CA works; a CA that did not sign the server's certificate, or a host name
/// it does not hold, fails with the reason; cleartext to a remote host is refused
/// before any connection (exit 2, the host named).
#[test]
fn the_database_connection_is_tls_as_the_url_says() {
    let Some((url, _admin)) = fresh_database() else {
        return;
    };
    let ca =
        std::env::var("EVIDENT_TEST_PG_CA").expect("scripts/pg-cluster sets EVIDENT_TEST_PG_CA");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let local = url.replacen("@127.0.0.1:", "@localhost:", 1);
    let verified = format!("{local}?sslmode=verify-full&sslrootcert={ca}");
    let out = with_db(&verified, &["migrate"], &data);
    assert!(
        out.status.success(),
        "verify-full with the CA: {}",
        stderr(&out)
    );

    let wrong_ca = dir.path().join("wrong-ca.pem");
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(&wrong_ca, other.cert.pem()).unwrap();
    for (bad, why) in [
        (
            format!(
                "{local}?sslmode=verify-full&sslrootcert={}",
                wrong_ca.display()
            ),
            "UnknownIssuer",
        ),
        (
            format!("{url}?sslmode=verify-full&sslrootcert={ca}"),
            "not valid for name",
        ),
    ] {
        let out = with_db(&bad, &["migrate"], &data);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains(why), "{bad}: {}", stderr(&out));
    }

    let out = with_db(
        "postgres://evident@db.example.com:5432/evident?sslmode=disable",
        &["migrate"],
        &data,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("db.example.com"), "{}", stderr(&out));
    assert!(stderr(&out).contains("in clear"), "{}", stderr(&out));
}

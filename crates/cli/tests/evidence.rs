//! Evidence bundles end to end (CONTRACT section 8), with the real binary: export a
//! trace, verify it offline, then change each member in turn and remove an entry from
//! the middle, and `verify-bundle` fails naming what changed. The same bundles go to
//! the standalone JavaScript verifier (`node --test web/verifier/test/`), which must
//! agree, and to the by-hand procedure of docs/evidence.md (OpenSSL 3 and Python).

mod util;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use util::{run, stderr, stdout};

type Members = BTreeMap<String, Vec<u8>>;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// An event of trace `trace` about `subject`, naming the prompt `refund@1` and
/// claiming a policy snapshot this log never published (as agents that run their own
/// policy engine do).
fn event(id: &str, trace: &str, subject: &str) -> Value {
    json!({
        "event_id": id, "trace_id": trace, "timestamp": "2026-11-23T14:00:00Z",
        "actor": {"type": "agent", "id": "agent-7"}, "event_type": "tool_call",
        "context": {"job_id": "job-1", "case_id": "case-1", "subject": subject},
        "snapshot": {
            "prompt_version": "refund@1", "model": "gpt-x",
            "policy_snapshot": format!("sha256:{}", "ab".repeat(32)),
        },
        "input": {"args": {"note": format!("payload of {id} for {subject}")}},
        "output": {"ok": true},
    })
}

struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    bundle: PathBuf,
    key: String,
}

/// A log with trace `t-main` (six events about jane, one about bob, interleaved with
/// another trace), the prompt `refund@1` published, bob erased; `t-main` exported.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let data = dir.join("data");
    let out = run(&data, &["init", "--origin", "test.example/log"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let key = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("verifier key: "))
        .expect("init prints the verifier key")
        .to_owned();
    let prompt = dir.join("prompt.json");
    std::fs::write(&prompt, r#"{"template": "Refund up to {{limit}}"}"#).unwrap();
    let out = run(
        &data,
        &[
            "artifacts",
            "publish",
            "--kind",
            "prompt",
            "--name",
            "refund",
            "--version",
            "1",
            prompt.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut lines = String::new();
    for i in 0..7 {
        let subject = if i == 3 {
            "bob@example.com"
        } else {
            "jane@example.com"
        };
        lines += &format!("{}\n", event(&format!("m{i}"), "t-main", subject));
        lines += &format!(
            "{}\n",
            event(&format!("o{i}"), "t-other", "jane@example.com")
        );
    }
    let events = dir.join("events.ndjson");
    std::fs::write(&events, lines).unwrap();
    let out = run(&data, &["ingest", events.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&data, &["erase", "bob@example.com", "--reason", "request"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bundle = dir.join("t-main.tar");
    let out = run(
        &data,
        &[
            "export",
            "--trace",
            "t-main",
            "-o",
            bundle.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("exported 7 entries"),
        "{}",
        stdout(&out)
    );
    Fixture {
        _dir: tmp,
        dir,
        bundle,
        key,
    }
}

fn read(path: &Path) -> Members {
    evident_server::evidence::read_bundle(std::fs::File::open(path).unwrap()).unwrap()
}

fn write(path: &Path, members: &Members) {
    let mut tar = tar::Builder::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in members {
        let mut header = tar::Header::new_ustar();
        header.set_path(name).unwrap();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append(&header, bytes.as_slice()).unwrap();
    }
    tar.finish().unwrap();
}

fn verify_bundle(bundle: &Path, extra: &[&str]) -> std::process::Output {
    util::evident()
        .arg("verify-bundle")
        .arg(bundle)
        .args(extra)
        .output()
        .unwrap()
}

fn first_member(members: &Members, prefix: &str, suffix: &str) -> String {
    members
        .keys()
        .find(|k| k.starts_with(prefix) && k.ends_with(suffix))
        .unwrap_or_else(|| panic!("no member {prefix}*{suffix}"))
        .clone()
}

/// The selected entries' seqs, from the manifest.
fn selected(members: &Members) -> Vec<u64> {
    let manifest: Value = serde_json::from_slice(&members["evidence/manifest.json"]).unwrap();
    manifest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect()
}

fn flip_last(bytes: &mut [u8]) {
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
}

/// One changed copy of the bundle: its name, the member that must be named, and
/// what the failure must say.
struct Case {
    name: &'static str,
    member: String,
    says: &'static str,
    members: Members,
}

fn tampered(original: &Members) -> Vec<Case> {
    let seqs = selected(original);
    let middle = seqs[seqs.len() / 2];
    let entry = format!("evidence/entries/{middle}.json");
    let proof = format!("evidence/proofs/{middle}.tlog-proof");
    let blob = first_member(original, "evidence/blobs/", "");
    let blob = blob.trim_end_matches(".salt").to_owned();
    let salt = format!("{blob}.salt");
    let artifact = first_member(original, "evidence/artifacts/", ".json");
    let mut cases = Vec::new();
    let mut change = |name, member: &str, says, edit: &dyn Fn(&mut Vec<u8>)| {
        let mut members = original.clone();
        edit(members.get_mut(member).unwrap());
        cases.push(Case {
            name,
            member: member.to_owned(),
            says,
            members,
        });
    };
    change("entry", &entry, "", &|bytes| {
        let text = String::from_utf8(bytes.clone()).unwrap();
        *bytes = text.replacen("agent-7", "agent-8", 1).into_bytes();
    });
    change("blob", &blob, "commitment", &|bytes| flip_last(bytes));
    change("salt", &salt, "commitment", &|bytes| bytes[0] ^= 0x01);
    change("proof", &proof, "", &|bytes| {
        let text = String::from_utf8(bytes.clone()).unwrap();
        let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
        // Line 0 is the header, 1 the index, 2 the first hash.
        let hash = &mut lines[2];
        let replacement = if hash.starts_with('A') { "B" } else { "A" };
        hash.replace_range(0..1, replacement);
        *bytes = lines.join("\n").into_bytes();
    });
    change(
        "checkpoint",
        "evidence/checkpoint",
        "does not verify",
        &|bytes| {
            let text = String::from_utf8(bytes.clone()).unwrap();
            let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
            lines[1] = format!("{}", lines[1].parse::<u64>().unwrap() + 1);
            *bytes = lines.join("\n").into_bytes();
        },
    );
    change("artifact", &artifact, "artifact_publish", &|bytes| {
        let text = String::from_utf8(bytes.clone()).unwrap();
        *bytes = text.replace("Refund up to", "Refund beyond").into_bytes();
    });
    change("manifest", "evidence/manifest.json", "", &|bytes| {
        let text = String::from_utf8(bytes.clone()).unwrap();
        *bytes = text.replacen("\"included\"", "\"erased\"", 1).into_bytes();
    });
    // A middle entry removed, with its proof and payloads: the back-links show it.
    let mut members = original.clone();
    members.remove(&entry);
    members.remove(&proof);
    let value: Value = serde_json::from_slice(&original[&entry]).unwrap();
    for field in ["input", "output"] {
        if let Some(reference) = value[field]["$blob"].as_str() {
            let hex = reference.trim_start_matches("sha256:");
            members.remove(&format!("evidence/blobs/{hex}"));
            members.remove(&format!("evidence/blobs/{hex}.salt"));
        }
    }
    cases.push(Case {
        name: "removed-entry",
        member: format!("evidence/entries/{}.json", seqs[seqs.len() / 2 + 1]),
        says: "completeness",
        members,
    });
    cases
}

#[test]
fn a_trace_bundle_verifies_offline_and_every_change_is_named() {
    let f = fixture();
    let key = f.key.as_str();

    let out = verify_bundle(&f.bundle, &["--key", key]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    // The trace's seven and the prompt's artifact_publish entry.
    assert!(text.contains("8 entries proven"), "{text}");
    assert!(
        text.contains("is erased"),
        "bob's payloads are listed as erased: {text}"
    );
    assert!(text.contains("OK: every check holds"), "{text}");
    assert!(
        text.contains("the client's claim, not resolved"),
        "a client's policy snapshot is reported, not failed: {text}"
    );

    let original = read(&f.bundle);
    assert!(original.contains_key("evidence/README.txt"));
    // The page embeds the verifier whole and may load nothing (file://, no network).
    let html = String::from_utf8(original["evidence/verify.html"].clone()).unwrap();
    let verifier =
        std::fs::read_to_string(repo_root().join("web/verifier/evident-verify.js")).unwrap();
    assert!(html.contains(&verifier));
    assert!(html.contains("default-src 'none'"));
    assert!(
        !html.contains(" src=") && !html.contains("import "),
        "nothing is loaded"
    );
    assert!(
        original
            .keys()
            .any(|k| k.starts_with("evidence/artifacts/")),
        "the prompt the snapshots name is shipped"
    );

    // The key must be pinned.
    let out = verify_bundle(&f.bundle, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not pinned"), "{}", stderr(&out));
    let out = verify_bundle(&f.bundle, &["--trust-bundled-key"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("NOT pinned"), "{}", stderr(&out));
    // Another log's key does not open it.
    let (_, other) = evident_tlog::LogSigner::generate("test.example/log").unwrap();
    let out = verify_bundle(&f.bundle, &["--key", &other]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("FAILED evidence/checkpoint"),
        "{}",
        stderr(&out)
    );
    // A key that is not one is a usage error.
    let out = verify_bundle(&f.bundle, &["--key", "not-a-key"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let mut js_cases = vec![json!({"file": f.bundle, "ok": true})];
    for case in tampered(&original) {
        let path = f.dir.join(format!("{}.tar", case.name));
        write(&path, &case.members);
        let out = verify_bundle(&path, &["--key", key]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", case.name);
        assert!(
            err.contains(&format!("FAILED {}", case.member))
                || err.contains(&format!(" / {}", case.member)),
            "{}: the failure names {}: {err}",
            case.name,
            case.member
        );
        assert!(
            err.contains(case.says),
            "{}: says {:?}: {err}",
            case.name,
            case.says
        );
        js_cases.push(json!({"file": path, "ok": false, "member": case.member, "says": case.says, "name": case.name}));
    }

    let cases = f.dir.join("cases.json");
    std::fs::write(&cases, json!({"key": key, "cases": js_cases}).to_string()).unwrap();
    run_node_tests(&cases);
    run_by_hand_procedure(&f, &original);
}

/// Runs the JavaScript verifier's tests on the bundles written here.
fn run_node_tests(cases: &Path) {
    let node = Command::new("node").arg("--version").output();
    if node.is_err() {
        assert!(
            std::env::var("EVIDENT_REQUIRE_NODE").as_deref() != Ok("1"),
            "node is required (EVIDENT_REQUIRE_NODE=1) but not installed"
        );
        eprintln!("SKIPPED: node is not installed; the JavaScript verifier was not run");
        return;
    }
    let out = Command::new("node")
        .arg("--test")
        .arg(repo_root().join("web/verifier/test/"))
        .env("EVIDENT_VERIFY_CASES", cases)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "node --test failed:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
}

/// The shell block of docs/evidence.md marked `by-hand`, as a third party runs it.
fn by_hand_script() -> String {
    let doc = std::fs::read_to_string(repo_root().join("docs/evidence.md")).unwrap();
    let start = doc
        .find("```sh by-hand\n")
        .expect("docs/evidence.md has a ```sh by-hand block");
    let body = &doc[start + "```sh by-hand\n".len()..];
    body[..body.find("\n```").unwrap()].to_owned()
}

/// Runs the documented procedure (OpenSSL 3 and Python's standard library only) on
/// the bundle, and on a copy whose entry was changed: the first passes, the second
/// fails.
fn run_by_hand_procedure(f: &Fixture, original: &Members) {
    let script = by_hand_script();
    let attempt = |bundle: &Path, name: &str| {
        let work = f.dir.join(name);
        std::fs::create_dir_all(&work).unwrap();
        Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(&work)
            .env("BUNDLE", bundle)
            .env("VKEY", &f.key)
            .output()
            .unwrap()
    };
    let out = attempt(&f.bundle, "by-hand-good");
    assert!(
        out.status.success(),
        "the documented procedure fails on a good bundle:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    let seqs = selected(original);
    let mut members = original.clone();
    let entry = format!("evidence/entries/{}.json", seqs[0]);
    let text = String::from_utf8(members[&entry].clone()).unwrap();
    members.insert(entry, text.replacen("agent-7", "agent-9", 1).into_bytes());
    let bad = f.dir.join("by-hand-bad.tar");
    write(&bad, &members);
    let out = attempt(&bad, "by-hand-bad");
    assert!(
        !out.status.success(),
        "the documented procedure passes a changed entry:\n{}",
        stdout(&out)
    );
}

/// `evident export --server`: by trace (a GET) and by clear subject (posted, never in a
/// URL), from a running server; both verify offline. A key of the ingest role is
/// refused, and no file is left behind.
#[test]
fn export_from_a_server_verifies_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = util::Server::start(&data, &[]);
    let admin = server
        .admin_key
        .clone()
        .expect("the first start prints the admin key");
    let events = tmp.path().join("events.ndjson");
    let lines: String = (0..4)
        .map(|i| {
            format!(
                "{}\n",
                event(&format!("r{i}"), "t-remote", "maria@example.com")
            )
        })
        .collect();
    std::fs::write(&events, lines).unwrap();
    let remote = |args: &[&str]| {
        util::evident()
            .args(args)
            .args(["--server", &server.base, "--api-key", &admin])
            .output()
            .unwrap()
    };
    let out = remote(&["ingest", events.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let vkey: Value =
        serde_json::from_slice(&reqwest_like_get(&format!("{}/api/v1/log", server.base))).unwrap();
    let vkey = vkey["verifier_key"].as_str().unwrap().to_owned();

    for (flag, id) in [("--trace", "t-remote"), ("--subject", "maria@example.com")] {
        let bundle = tmp.path().join(format!("{}.tar", &flag[2..]));
        let out = remote(&["export", flag, id, "-o", bundle.to_str().unwrap()]);
        assert!(out.status.success(), "{flag}: {}", stderr(&out));
        let out = verify_bundle(&bundle, &["--key", &vkey]);
        assert!(
            out.status.success(),
            "{flag}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(
            stdout(&out).contains("4 entries proven"),
            "{}",
            stdout(&out)
        );
    }

    let ingest = util::evident()
        .args([
            "keys", "create", "--role", "ingest", "--name", "writer", "--data",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(ingest.status.success(), "{}", stderr(&ingest));
    let ingest_key = stdout(&ingest).trim().to_owned();
    let refused = tmp.path().join("refused.tar");
    let out = util::evident()
        .args([
            "export",
            "--trace",
            "t-remote",
            "-o",
            refused.to_str().unwrap(),
        ])
        .args(["--server", &server.base, "--api-key", &ingest_key])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("403"), "{}", stderr(&out));
    assert!(!refused.exists() && !tmp.path().join("refused.tar.partial").exists());
}

/// A plain HTTP GET with the standard library (the test needs no client crate).
fn reqwest_like_get(url: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let body = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    answer[body..].to_vec()
}

//! `evident serve --config FILE` and HTTPS, on the real binary: a config file drives
//! the server; bad configs are refused at start (exit 2) naming the key; secrets stay
//! out of the output; HTTPS with a certificate made here; SIGTERM during a request
//! still answers it and the last checkpoint covers every acknowledged event.

mod util;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use util::{event, evident, run, stderr, stdout, Server};

/// Runs `evident serve ARGS` and waits until it listens (like `Server::start`, but
/// without adding `--listen` and `--data`, so a config file can set them).
fn serve(args: &[&str], envs: &[(&str, &str)]) -> Server {
    let mut child = evident()
        .arg("serve")
        .args(args)
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting evident serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut admin_key = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    let base = loop {
        assert!(Instant::now() < deadline, "server did not start");
        let line = lines
            .next()
            .expect("server exited before listening")
            .unwrap();
        if let Some(key) = line.strip_prefix("admin API key (shown once, keep it safe): ") {
            admin_key = Some(key.to_owned());
        }
        if let Some(addr) = line.strip_prefix("listening on ") {
            break addr.to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        base,
        admin_key,
        data: PathBuf::new(),
    }
}

/// `evident serve ARGS` that must not start; its output.
fn refused(args: &[&str], envs: &[(&str, &str)]) -> Output {
    evident()
        .arg("serve")
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("running evident serve")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write(path: &Path, text: &str) -> String {
    std::fs::write(path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A self-signed certificate for 127.0.0.1 and localhost: (cert PEM, key PEM).
fn self_signed() -> (String, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

/// An HTTPS client that trusts exactly `cert_pem`.
fn https_client(cert_pem: &str) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .tls_built_in_root_certs(false)
        .https_only(true)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The tree size of the latest signed checkpoint in `data`.
fn checkpoint_size(data: &Path) -> u64 {
    let out = run(data, &["checkpoint"]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().nth(1).unwrap().parse().unwrap()
}

fn wait_exit(server: &mut Server) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_config_file_drives_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write(
        &dir.path().join("evident.toml"),
        &format!(
            r#"
# Relative paths are relative to this file.
listen = "127.0.0.1:{port}"
data_dir = "data"
origin = "config.example/log"
checkpoint_interval_ms = 100
otlp_grpc_listen = "off"

[[pii.detectors]]
name = "employee ids"
pattern = 'EMP-\d{{6}}'
checksum = "none"
token_type = "EMPLOYEE_ID"
"#
        ),
    );
    let server = serve(&["--config", &config], &[]);
    assert_eq!(server.base, format!("http://127.0.0.1:{port}"));
    assert!(dir.path().join("data").join("evident.db").exists());
    let admin = server.admin_key.clone().unwrap();
    let client = util::http();
    let log: Value = client
        .get(server.url("/api/v1/log"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(log["origin"], "config.example/log");

    let mut submitted = event("evt-emp", "trace-emp");
    submitted["input"] = json!({"note": "badge EMP-123456 of ops@example.org was reset"});
    let answer = client
        .post(server.url("/api/v1/events"))
        .bearer_auth(&admin)
        .json(&submitted)
        .send()
        .unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().unwrap());
    let stored: Value = client
        .get(server.url("/api/v1/events/evt-emp"))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let note = stored["record"]["input"]["note"].as_str().unwrap();
    assert!(note.contains("<EMPLOYEE_ID_"), "{note}");
    assert!(!note.contains("EMP-123456"), "{note}");
    assert!(
        note.contains("<EMAIL_"),
        "built-in detectors still run: {note}"
    );
    server.stop();
}

#[test]
fn flags_beat_environment_beat_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write(
        &dir.path().join("evident.toml"),
        "listen = \"127.0.0.1:7001\"\norigin = \"file.example/log\"\nmax_body_bytes = 4096\n\
         checkpoint_interval_ms = 300\n",
    );
    let out = evident()
        .args(["serve", "--config", &config, "--check-config", "--listen"])
        .arg("127.0.0.1:7003")
        .env("EVIDENT_LISTEN", "127.0.0.1:7002")
        .env("EVIDENT_MAX_BODY_BYTES", "8192")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "listen = \"127.0.0.1:7003\"  # from --listen",
        "max_body_bytes = 8192  # from EVIDENT_MAX_BODY_BYTES",
        "origin = \"file.example/log\"  # from origin",
        "checkpoint_interval_ms = 300  # from checkpoint_interval_ms",
        "max_db_bytes = (unset)  # default",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
}

#[test]
fn bad_configs_are_refused_at_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("never-created");
    let (cert, key) = self_signed();
    let (_, other_key) = self_signed();
    let cert_file = write(&dir.path().join("cert.pem"), &cert);
    write(&dir.path().join("key.pem"), &key);
    let other_key_file = write(&dir.path().join("other-key.pem"), &other_key);
    let data_line = format!("data_dir = {:?}\n", data.to_str().unwrap());
    let detector = |pattern: &str| {
        format!("[[pii.detectors]]\nname = \"d\"\npattern = '{pattern}'\ntoken_type = \"D\"\n")
    };
    let cases: Vec<(String, &str)> = vec![
        (
            "colour = \"blue\"\n".into(),
            "config error: colour: unknown field",
        ),
        (
            "[tls]\ncert = \"cert.pem\"\n".into(),
            "config error: tls.cert: unknown field",
        ),
        (
            format!("{}{}", detector("EMP-\\d{6}"), detector("EMP-(")),
            "config error: pii.detectors[1].pattern: invalid regex",
        ),
        (detector("x*"), "config error: pii.detectors[0].pattern"),
        (
            "listen = \"localhost:http\"\n".into(),
            "config error: listen: \"localhost:http\" is not an address",
        ),
        (
            "otlp_grpc_listen = \"everywhere\"\n".into(),
            "config error: otlp_grpc_listen:",
        ),
        (
            "[tls]\ncert_file = \"cert.pem\"\n".into(),
            "config error: tls: cert_file set without key_file",
        ),
        (
            "[tls]\ncert_file = \"cert.pem\"\nkey_file = \"other-key.pem\"\n".into(),
            "config error: tls: the certificate and the private key do not go together",
        ),
        (
            "[tls]\ncert_file = \"missing.pem\"\nkey_file = \"key.pem\"\n".into(),
            "config error: tls.cert_file:",
        ),
        (
            "checkpoint_interval_ms = 5000\n".into(),
            "config error: checkpoint_interval_ms: 5000 is out of range",
        ),
        ("listen = [1, 2\n".into(), "not valid TOML"),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let config = write(
            &dir.path().join(format!("bad-{i}.toml")),
            &format!("{data_line}{text}"),
        );
        let out = refused(&["--config", &config], &[]);
        assert_eq!(out.status.code(), Some(2), "{text}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{text}: expected {expected:?}, got {}",
            stderr(&out)
        );
        assert!(
            !data.exists(),
            "{text}: the store was touched before the config was checked"
        );
    }
    // Flags and variables are named as such.
    let out = refused(
        &["--data", data.to_str().unwrap(), "--tls-cert", &cert_file],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("config error: tls: --tls-cert set without --tls-key"),
        "{}",
        stderr(&out)
    );
    let out = refused(
        &[
            "--data",
            data.to_str().unwrap(),
            "--tls-cert",
            &cert_file,
            "--tls-key",
            &other_key_file,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("config error: tls: the certificate"),
        "{}",
        stderr(&out)
    );
    let out = refused(
        &["--data", data.to_str().unwrap()],
        &[("EVIDENT_LISTEN", "not-an-address")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("config error: EVIDENT_LISTEN:"),
        "{}",
        stderr(&out)
    );
    assert!(!data.exists());
}

#[test]
fn secrets_are_not_printed() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "hunter2-do-not-print";
    // Port 1 on loopback: nothing listens there, so nothing outside this machine is
    // ever contacted.
    let config = write(
        &dir.path().join("evident.toml"),
        &format!(
            "data_dir = \"data\"\ndatabase_url = \"postgres://evident:{secret}@127.0.0.1:1/evident?sslmode=disable\"\n"
        ),
    );
    let out = evident()
        .args(["serve", "--config", &config, "--check-config"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("postgres://evident:***@127.0.0.1:1/evident"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains(secret) && !stderr(&out).contains(secret));

    // A real start logs its configuration (EVIDENT_LOG=debug) and then fails to
    // reach the database: neither the log nor the error may show the password.
    let mut child = evident()
        .args(["serve", "--config", &config, "--otlp-grpc-listen", "off"])
        .env("EVIDENT_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        printed.contains("***"),
        "the configuration was not logged: {printed}"
    );
    assert!(!printed.contains(secret), "{printed}");
    assert_ne!(out.status.code(), Some(0), "{printed}");
}

#[test]
fn https_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (cert, key) = self_signed();
    let cert_file = write(&dir.path().join("cert.pem"), &cert);
    let key_file = write(&dir.path().join("key.pem"), &key);
    let server = Server::start(
        &data,
        &[
            "--tls-cert",
            &cert_file,
            "--tls-key",
            &key_file,
            "--otlp-grpc-listen",
            "off",
        ],
    );
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let client = https_client(&cert);
    let health = client.get(server.url("/healthz")).send().unwrap();
    assert_eq!(health.status(), 200);
    let admin = server.admin_key.clone().unwrap();
    let acks: Value = client
        .post(server.url("/api/v1/events"))
        .bearer_auth(&admin)
        .json(&json!([event("tls-0", "t"), event("tls-1", "t")]))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(acks.as_array().unwrap().len(), 2, "{acks}");

    // A client that does not trust the certificate is refused, and plain HTTP to the
    // HTTPS port gets no answer.
    let untrusting = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    assert!(untrusting.get(server.url("/healthz")).send().is_err());
    let plain = server.url("/healthz").replacen("https://", "http://", 1);
    let answered = untrusting
        .get(plain)
        .send()
        .is_ok_and(|r| r.status().is_success());
    assert!(!answered);

    // The CLI talks HTTPS too, trusting the certificate through SSL_CERT_FILE.
    let deadline = Instant::now() + Duration::from_secs(10);
    let checkpoint = loop {
        let text = client
            .get(server.url("/checkpoint"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        if text.lines().nth(1) == Some("2") {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint covers the events: {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = evident()
        .args(["checkpoint", "--server", &server.base])
        .env("SSL_CERT_FILE", &cert_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), checkpoint);

    // SIGHUP reloads a renewed certificate without a restart.
    let (renewed_cert, renewed_key) = self_signed();
    write(&dir.path().join("cert.pem"), &renewed_cert);
    write(&dir.path().join("key.pem"), &renewed_key);
    let hup = Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let renewed = https_client(&renewed_cert);
    let deadline = Instant::now() + Duration::from_secs(10);
    while renewed.get(server.url("/healthz")).send().is_err() {
        assert!(
            Instant::now() < deadline,
            "the renewed certificate was not loaded"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(https_client(&cert)
        .get(server.url("/healthz"))
        .send()
        .is_err());
    server.stop();
}

/// A request body that sends its first part, then waits for a go before the rest:
/// the request is in flight for as long as the test wants.
struct HeldBody {
    parts: Vec<Vec<u8>>,
    at: usize,
    offset: usize,
    started: Option<mpsc::Sender<()>>,
    go: mpsc::Receiver<()>,
}

impl Read for HeldBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at == 1 && self.offset == 0 {
            if let Some(started) = self.started.take() {
                let _ = started.send(());
            }
            let _ = self.go.recv();
        }
        let Some(part) = self.parts.get(self.at) else {
            return Ok(0);
        };
        let n = buf.len().min(part.len() - self.offset);
        buf[..n].copy_from_slice(&part[self.offset..self.offset + n]);
        self.offset += n;
        if self.offset == part.len() {
            self.at += 1;
            self.offset = 0;
        }
        Ok(n)
    }
}

/// SIGTERM while a request is in flight: the server stops accepting, answers it,
/// signs a last checkpoint and exits 0; that checkpoint covers every acknowledged
/// event and the store verifies. Over HTTPS and plain HTTP.
#[test]
fn sigterm_during_a_request_answers_it_and_the_last_checkpoint_covers_it() {
    for tls in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let (cert, key) = self_signed();
        let cert_file = write(&dir.path().join("cert.pem"), &cert);
        let key_file = write(&dir.path().join("key.pem"), &key);
        let mut extra = vec![
            "--otlp-grpc-listen",
            "off",
            "--checkpoint-interval-ms",
            "1000",
        ];
        if tls {
            extra.extend(["--tls-cert", &cert_file, "--tls-key", &key_file]);
        }
        let mut server = Server::start(&data, &extra);
        let client = if tls {
            https_client(&cert)
        } else {
            util::http()
        };
        let admin = server.admin_key.clone().unwrap();
        let first: Value = client
            .post(server.url("/api/v1/events"))
            .bearer_auth(&admin)
            .json(&json!([
                event("before-0", "t"),
                event("before-1", "t"),
                event("before-2", "t")
            ]))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(first.as_array().unwrap().len(), 3);

        let lines: Vec<String> = (0..50)
            .map(|i| event(&format!("held-{i}"), "held").to_string() + "\n")
            .collect();
        let (started_tx, started_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel();
        let body = HeldBody {
            parts: vec![
                lines[..25].concat().into_bytes(),
                lines[25..].concat().into_bytes(),
            ],
            at: 0,
            offset: 0,
            started: Some(started_tx),
            go: go_rx,
        };
        let url = server.url("/api/v1/events");
        let (held_client, held_admin) = (client.clone(), admin.clone());
        let in_flight = std::thread::spawn(move || {
            held_client
                .post(url)
                .bearer_auth(held_admin)
                .header("content-type", "application/x-ndjson")
                .body(reqwest::blocking::Body::new(body))
                .send()
        });
        started_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let killed = Command::new("kill")
            .args(["-TERM", &server.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        // Stops accepting (as soon as it has seen the signal) while the held request
        // is still in flight: a new connection is not served.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let fresh = if tls {
                https_client(&cert)
            } else {
                util::http()
            };
            if fresh.get(server.url("/healthz")).send().is_err() {
                break;
            }
            assert!(Instant::now() < deadline, "tls={tls}: still accepting");
            std::thread::sleep(Duration::from_millis(50));
        }
        go_tx.send(()).unwrap();
        let answer = in_flight
            .join()
            .unwrap()
            .expect("the in-flight request was answered");
        assert_eq!(answer.status(), 200, "tls={tls}");
        let acks: Value = answer.json().unwrap();
        let acked = acks.as_array().unwrap();
        assert_eq!(acked.len(), 50);
        let covered_up_to = acked
            .iter()
            .map(|a| a["seq"].as_u64().unwrap() + 1)
            .max()
            .unwrap();
        assert_eq!(covered_up_to, 53);

        let status = wait_exit(&mut server);
        assert!(status.success(), "tls={tls}: {status:?}");
        assert!(checkpoint_size(&data) >= covered_up_to, "tls={tls}");
        let out = run(&data, &["verify"]);
        assert!(out.status.success(), "tls={tls}: {}", stderr(&out));
    }
}

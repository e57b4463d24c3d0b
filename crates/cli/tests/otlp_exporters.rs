//! Real exporter output into a real `evident serve`: the official OpenTelemetry
//! Python SDK and its OTLP exporters (HTTP protobuf with gzip, HTTP JSON, gRPC with
//! gzip; pinned in tests/otlp/requirements.txt) send a GenAI agent trace and an
//! OpenInference trace (tests/otlp/send_traces.py), each twice; the traces are read
//! back through `GET /api/v1/traces/{id}` and checked span by span, then the store
//! passes `evident verify`.
//!
//! Needs `EVIDENT_OTLP_PYTHON`, the Python of the venv `scripts/test` creates. Without
//! it the test says SKIPPED, unless `EVIDENT_REQUIRE_OTLP_SDK=1` (set by
//! `scripts/test`) asks for it: then it fails.

mod util;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use util::{evident, http, run, stderr, Server};

/// The Python of the venv with the pinned OpenTelemetry packages, or `None` (and a
/// loud message) when the test command did not set one up.
fn python() -> Option<PathBuf> {
    match std::env::var_os("EVIDENT_OTLP_PYTHON") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => {
            // CI must not pass by skipping: when the test command asks for these
            // tests, not being able to run them is a failure.
            assert!(
                !std::env::var("EVIDENT_REQUIRE_OTLP_SDK").is_ok_and(|v| !v.is_empty() && v != "0"),
                "EVIDENT_REQUIRE_OTLP_SDK is set but EVIDENT_OTLP_PYTHON is not: the OpenTelemetry \
                 SDK exporter tests cannot run"
            );
            eprintln!(
                "\n*** SKIPPED: EVIDENT_OTLP_PYTHON is not set, so the OpenTelemetry SDK exporter \
                 tests did not run. ./scripts/test sets it up; by hand:\n***   python3 -m venv \
                 ~/.cache/evident-venv && ~/.cache/evident-venv/bin/pip install -r \
                 tests/otlp/requirements.txt\n***   EVIDENT_OTLP_PYTHON=~/.cache/evident-venv/bin/python \
                 cargo test -p evident-cli --test otlp_exporters\n"
            );
            None
        }
    }
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/otlp/send_traces.py")
}

/// A free local port for the gRPC listener.
fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Runs the exporter script; returns what it sent (trace and span ids).
fn send(python: &PathBuf, transport: &str, endpoint: &str, key: &str) -> Value {
    let output = Command::new(python)
        .arg(script())
        .args([
            "--transport",
            transport,
            "--endpoint",
            endpoint,
            "--key",
            key,
        ])
        .output()
        .expect("running the exporter script");
    assert!(
        output.status.success(),
        "{transport}: the exporter failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

/// `GET /api/v1/traces/{id}` until it holds `count` events (indexing follows within
/// 1 s of ingest, CONTRACT section 3).
fn read_trace(server: &Server, key: &str, trace_id: &str, count: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = http()
            .get(server.url(&format!("/api/v1/traces/{trace_id}")))
            .bearer_auth(key)
            .send()
            .unwrap();
        if response.status().is_success() {
            let trace: Value = response.json().unwrap();
            if trace["events"].as_array().map(Vec::len) == Some(count) {
                return trace;
            }
            assert!(
                Instant::now() < deadline,
                "trace {trace_id}: expected {count} events: {trace}"
            );
        } else {
            assert!(
                Instant::now() < deadline,
                "trace {trace_id}: {}",
                response.status()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The trace's events by logical span name, from the script's trace and span ids
/// (`event_id` = `span_<trace id>_<span id>`, CONTRACT section 5).
fn by_name<'a>(trace: &'a Value, sent: &Value) -> impl Fn(&str) -> &'a Value {
    let trace_id = sent["trace_id"].as_str().expect("the script's trace id");
    let ids: Vec<(String, String)> = sent["spans"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, id)| {
            (
                name.clone(),
                format!("span_{trace_id}_{}", id.as_str().unwrap()),
            )
        })
        .collect();
    move |name: &str| {
        let event_id = &ids.iter().find(|(n, _)| n == name).expect(name).1;
        trace["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["event_id"] == event_id.as_str())
            .unwrap_or_else(|| panic!("no event {event_id} ({name})"))
    }
}

fn check_genai(transport: &str, trace: &Value, sent: &Value) {
    let event = by_name(trace, sent);
    let root = event("invoke_agent");
    let root_id = root["event_id"].as_str().unwrap();
    assert_eq!(root["event_type"], "agent_run", "{transport}");
    assert!(root.get("parent_event_id").is_none());
    assert_eq!(root["actor"]["type"], "agent");
    assert_eq!(root["actor"]["id"], "travel-planner-7");
    assert_eq!(root["actor"]["version"], "2.3.1");
    assert_eq!(root["actor"]["environment"], "test");
    assert_eq!(root["snapshot"]["model"], "gpt-4o");
    assert_eq!(root["outcome"], "success");
    assert_eq!(
        root["input"]["messages"][0]["parts"][0]["content"],
        "Book me a trip to Paris"
    );
    assert_eq!(
        root["attributes"]["span"]["app.request.bytes"], "1152921504606846977",
        "{transport}: integers above 2^53 become strings"
    );
    assert_eq!(
        root["attributes"]["resource"]["service.name"],
        "travel-service"
    );
    let timestamp = root["timestamp"].as_str().unwrap();
    assert!(
        timestamp.ends_with('Z') && timestamp.len() == "2026-11-23T14:22:07.123456789Z".len(),
        "{transport}: nanosecond RFC 3339: {timestamp}"
    );

    for name in [
        "chat_1",
        "get_weather",
        "search_flights",
        "book_hotel",
        "chat_2",
        "http",
    ] {
        assert_eq!(
            event(name)["parent_event_id"],
            root_id,
            "{transport}: {name}"
        );
        assert_eq!(event(name)["trace_id"], root["trace_id"]);
        assert!(event(name)["metadata"]["latency_ms"].as_f64().unwrap() >= 0.0);
    }

    let chat = event("chat_1");
    assert_eq!(chat["event_type"], "model_call", "{transport}");
    assert_eq!(chat["actor"]["id"], "travel-service");
    assert_eq!(chat["snapshot"]["model"], "gpt-4o");
    assert_eq!(chat["snapshot"]["model_params"]["temperature"], 0.2);
    assert_eq!(chat["snapshot"]["model_params"]["max_tokens"], 512);
    assert_eq!(chat["metadata"]["input_tokens"], 120);
    assert_eq!(chat["metadata"]["output_tokens"], 45);
    assert_eq!(chat["outcome"], "success");
    assert_eq!(
        chat["output"]["messages"][0]["parts"][0]["name"],
        "get_weather"
    );
    assert_eq!(
        chat["input"]["system_instructions"][0]["content"],
        "You are a travel agent."
    );

    let weather = event("get_weather");
    assert_eq!(weather["event_type"], "tool_call", "{transport}");
    assert_eq!(weather["tool"]["name"], "get_weather");
    assert_eq!(weather["tool"]["call_id"], "call_1");
    assert_eq!(weather["tool"]["type"], "function");
    assert_eq!(weather["input"]["arguments"]["city"], "Paris");
    assert_eq!(weather["output"]["result"]["temp_c"], 18);
    assert_eq!(weather["outcome"], "success");

    let flights = event("search_flights");
    assert_eq!(flights["event_type"], "tool_call");
    assert_eq!(flights["tool"]["name"], "search_flights");
    assert_eq!(flights["output"]["result"]["flights"][0], "AF123");

    let hotel = event("book_hotel");
    assert_eq!(hotel["event_type"], "tool_call", "{transport}");
    assert_eq!(hotel["tool"]["name"], "book_hotel");
    assert_eq!(hotel["outcome"], "error");
    assert_eq!(hotel["error"]["kind"], "TimeoutError");
    assert!(
        hotel["error"]["message"]
            .as_str()
            .unwrap()
            .contains("hotel API timed out"),
        "{transport}: {}",
        hotel["error"]
    );
    assert_eq!(hotel["attributes"]["events"][0]["name"], "exception");
    assert_eq!(hotel["input"]["arguments"]["nights"], 2);

    let legacy = event("chat_2");
    assert_eq!(
        legacy["event_type"], "model_call",
        "{transport}: deprecated names"
    );
    assert_eq!(legacy["snapshot"]["model"], "gpt-4o-mini");
    assert_eq!(legacy["metadata"]["input_tokens"], 300);
    assert_eq!(legacy["metadata"]["output_tokens"], 80);
    assert_eq!(legacy["input"]["messages"][0]["role"], "system");
    assert_eq!(legacy["input"]["messages"][1]["role"], "user");
    assert_eq!(
        legacy["input"]["messages"][1]["content"],
        "What happened with my booking?"
    );
    assert_eq!(
        legacy["output"]["choices"][0]["message"]["content"],
        "Flights are held; the hotel failed."
    );

    let plain = event("http");
    assert_eq!(
        plain["event_type"], "step",
        "{transport}: no span is skipped"
    );
    assert_eq!(plain["attributes"]["otel"]["kind"], "server");

    let tree = trace["tree"].as_array().unwrap();
    assert_eq!(tree.len(), 1, "{transport}: one root: {}", trace["tree"]);
    assert_eq!(tree[0]["event_id"], root_id);
    assert_eq!(tree[0]["children"].as_array().map(Vec::len), Some(6));
}

fn check_openinference(transport: &str, trace: &Value, sent: &Value) {
    let event = by_name(trace, sent);
    let agent = event("agent");
    let agent_id = agent["event_id"].as_str().unwrap();
    assert_eq!(agent["event_type"], "agent_run", "{transport}");
    assert_eq!(agent["actor"]["id"], "oi-travel-agent");
    assert_eq!(agent["input"]["value"], "Find me a hotel in Oslo");
    assert_eq!(agent["output"]["value"], "Hotel Bristol, 2 nights");
    for name in ["llm", "tool", "retriever", "reranker"] {
        assert_eq!(
            event(name)["parent_event_id"],
            agent_id,
            "{transport}: {name}"
        );
    }

    let llm = event("llm");
    assert_eq!(llm["event_type"], "model_call", "{transport}");
    assert_eq!(llm["snapshot"]["model"], "claude-3-5-sonnet");
    assert_eq!(llm["snapshot"]["model_params"]["temperature"], 0.1);
    assert_eq!(llm["metadata"]["input_tokens"], 210);
    assert_eq!(llm["metadata"]["output_tokens"], 33);
    assert_eq!(llm["input"]["messages"][0]["role"], "system");
    assert_eq!(
        llm["input"]["messages"][1]["content"],
        "Find me a hotel in Oslo"
    );
    assert_eq!(
        llm["output"]["messages"][0]["tool_calls"][0]["function"]["name"],
        "lookup_weather"
    );

    let tool = event("tool");
    assert_eq!(tool["event_type"], "tool_call", "{transport}");
    assert_eq!(tool["tool"]["name"], "lookup_weather");
    assert_eq!(tool["input"]["value"]["city"], "Oslo");
    assert_eq!(tool["input"]["parameters"]["type"], "object");
    assert_eq!(tool["output"]["value"]["temp_c"], 4);

    let retriever = event("retriever");
    assert_eq!(retriever["event_type"], "retrieval", "{transport}");
    assert_eq!(retriever["input"]["value"], "hotels in Oslo");
    assert_eq!(retriever["output"]["documents"][0]["id"], "hotel-bristol");
    assert_eq!(retriever["output"]["documents"][0]["score"], 0.92);
    assert_eq!(retriever["output"]["documents"][1]["id"], "hotel-thon");

    let reranker = event("reranker");
    assert_eq!(reranker["event_type"], "retrieval", "{transport}");
    assert_eq!(reranker["input"]["query"], "quiet hotel");
    assert_eq!(reranker["snapshot"]["model"], "cross-encoder/ms-marco");
}

#[test]
fn official_sdk_exporters_over_http_json_and_grpc() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let grpc = free_addr();
    let server = Server::start(&data, &["--otlp-grpc-listen", &grpc]);
    let key = server.admin_key.clone().expect("admin key");
    let traces_url = server.url("/v1/traces");
    for (transport, endpoint) in [
        ("http-protobuf", traces_url.as_str()),
        ("http-json", traces_url.as_str()),
        ("grpc", grpc.as_str()),
    ] {
        let sent = send(&python, transport, endpoint, &key);
        let genai = read_trace(
            &server,
            &key,
            sent["genai"]["trace_id"].as_str().unwrap(),
            7,
        );
        check_genai(transport, &genai, &sent["genai"]);
        let openinference = read_trace(
            &server,
            &key,
            sent["openinference"]["trace_id"].as_str().unwrap(),
            5,
        );
        check_openinference(transport, &openinference, &sent["openinference"]);
        eprintln!(
            "{transport}: {} spans exported twice in {} s, stored once, checked",
            sent["span_count"], sent["seconds"]
        );
    }
    server.stop();
    let verified = run(&data, &["verify"]);
    assert!(verified.status.success(), "verify: {}", stderr(&verified));
}

#[test]
fn the_grpc_listen_flag_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let output = evident()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--otlp-grpc-listen",
            "nowhere",
        ])
        .arg("--data")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--otlp-grpc-listen"),
        "{}",
        stderr(&output)
    );
    // `off` serves HTTP only; an address serves gRPC there and says so.
    for (flag, grpc_line) in [
        ("off", None),
        ("127.0.0.1:0", Some("OTLP/gRPC listening on 127.0.0.1:")),
    ] {
        let mut child = evident()
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--otlp-grpc-listen",
                flag,
            ])
            .arg("--data")
            .arg(dir.path().join(format!("data-{}", flag.len())))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut grpc = None;
        for line in std::io::BufRead::lines(stdout) {
            let line = line.unwrap();
            if line.starts_with("OTLP/gRPC") {
                grpc = Some(line.clone());
            }
            if line.starts_with("listening on ") {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        match grpc_line {
            None => assert_eq!(grpc, None, "--otlp-grpc-listen off"),
            Some(prefix) => assert!(
                grpc.as_deref().is_some_and(|l| l.starts_with(prefix)),
                "{grpc:?}"
            ),
        }
    }
}

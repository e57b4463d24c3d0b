//! Query scenarios at the loaded size, over HTTP, one query at a time (latency, not
//! throughput): an event by id, a trace, a job, every event of a subject (a DSAR:
//! `POST /api/v1/events/search` with the clear id, following every page), and a
//! two-word full-text search.

use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::ingest::Target;
use super::report::{latency_json, Samples};
use super::workload::Targets;

/// How long the search index may take to cover the loaded events before the query
/// scenario starts anyway (and reports the catch-up as not reached).
const INDEX_WAIT: Duration = Duration::from_secs(600);

/// Page size of the subject search (the API's largest).
const SUBJECT_PAGE: u64 = 1_000;

/// Waits until search covers `events` entries (`indexed_through` = `events - 1`);
/// `false` if it did not within [`INDEX_WAIT`].
///
/// # Errors
/// The server refused the search.
pub async fn wait_for_index(target: &Target, events: u64) -> anyhow::Result<bool> {
    let deadline = Instant::now() + INDEX_WAIT;
    let bar = crate::progress_bar(events, "waiting for the search index");
    loop {
        let answer = get_json(target, &target.url("/api/v1/events?limit=1")).await?;
        let through = answer["indexed_through"]
            .as_u64()
            .map(|s| s + 1)
            .unwrap_or(0);
        bar.set_position(through);
        if through >= events {
            bar.finish_and_clear();
            return Ok(true);
        }
        if Instant::now() >= deadline {
            bar.finish_and_clear();
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One kind of query: its timings and how many events its answers held.
struct Kind {
    latencies: Vec<Duration>,
    results: u64,
    requests: u64,
}

/// Runs `count` queries of each kind.
///
/// # Errors
/// A query failed.
pub async fn run(
    target: &Target,
    targets: &Targets,
    count: usize,
    seed: u64,
) -> anyhow::Result<Value> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let bar = crate::progress_bar(5 * count as u64, "queries");
    let mut out = serde_json::Map::new();
    let kinds: [(&str, &[String]); 5] = [
        ("event_by_id", &targets.event_ids),
        ("trace", &targets.trace_ids),
        ("job", &targets.job_ids),
        ("subject", &targets.subjects),
        ("text", &targets.text_queries),
    ];
    for (name, pool) in kinds {
        if pool.is_empty() {
            out.insert(
                name.into(),
                json!({"skipped": "the workload has no such field"}),
            );
            bar.inc(count as u64);
            continue;
        }
        let mut kind = Kind {
            latencies: Vec::with_capacity(count),
            results: 0,
            requests: 0,
        };
        for _ in 0..count {
            let value = &pool[rng.gen_range(0..pool.len())];
            let started = Instant::now();
            let (results, requests) = query(target, name, value).await?;
            kind.latencies.push(started.elapsed());
            kind.results += results;
            kind.requests += requests;
            bar.inc(1);
        }
        let mut figures = latency_json(Samples::new(kind.latencies));
        figures["mean_results"] = json!(kind.results as f64 / count.max(1) as f64);
        figures["mean_requests"] = json!(kind.requests as f64 / count.max(1) as f64);
        out.insert(name.into(), figures);
    }
    bar.finish_and_clear();
    Ok(Value::Object(out))
}

/// One query; returns (events in the answer, HTTP requests made).
async fn query(target: &Target, kind: &str, value: &str) -> anyhow::Result<(u64, u64)> {
    let events_of = |v: &Value, field: &str| v[field].as_array().map_or(0, Vec::len) as u64;
    match kind {
        "event_by_id" => {
            let url = target.url(&format!("/api/v1/events/{}", segment(value)));
            get_json(target, &url).await?;
            Ok((1, 1))
        }
        "trace" => {
            let url = target.url(&format!("/api/v1/traces/{}", segment(value)));
            Ok((events_of(&get_json(target, &url).await?, "events"), 1))
        }
        "job" => {
            let url = target.url(&format!("/api/v1/jobs/{}", segment(value)));
            Ok((
                get_json(target, &url).await?["events"]
                    .as_u64()
                    .unwrap_or(0),
                1,
            ))
        }
        "subject" => {
            let (mut events, mut requests) = (0, 0);
            let mut cursor: Option<String> = None;
            loop {
                let mut filters = json!({"subject": value, "limit": SUBJECT_PAGE});
                if let Some(c) = &cursor {
                    filters["cursor"] = json!(c);
                }
                let answer = post_json(target, "/api/v1/events/search", &filters).await?;
                events += events_of(&answer, "events");
                requests += 1;
                match answer["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => return Ok((events, requests)),
                }
            }
        }
        _ => {
            let url = target.url(&format!("/api/v1/events?q={}", segment(value)));
            Ok((events_of(&get_json(target, &url).await?, "events"), 1))
        }
    }
}

async fn get_json(target: &Target, url: &str) -> anyhow::Result<Value> {
    let response = target
        .client
        .get(url)
        .bearer_auth(&target.key)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    answer(response).await
}

async fn post_json(target: &Target, path: &str, body: &Value) -> anyhow::Result<Value> {
    let response = target
        .client
        .post(target.url(path))
        .bearer_auth(&target.key)
        .json(body)
        .send()
        .await
        .with_context(|| format!("POST {path}"))?;
    answer(response).await
}

async fn answer(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let url = response.url().path().to_owned();
    let bytes = response.bytes().await?;
    anyhow::ensure!(
        status.is_success(),
        "{url}: the server answered {status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    serde_json::from_slice(&bytes).with_context(|| format!("{url}: the answer is not JSON"))
}

/// Percent-encodes a path segment or query value (everything but RFC 3986's
/// unreserved characters).
fn segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(super::segment("evt_01J-x.y~z"), "evt_01J-x.y~z");
        assert_eq!(super::segment("a b/c?d"), "a%20b%2Fc%3Fd");
    }
}

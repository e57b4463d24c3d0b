//! The bench's results: one JSON document (`--out`) and a table on stdout, beside the
//! targets BENCHMARKS.md sets.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Map, Value};

use super::Args;

/// The version of the JSON layout; bump it when a figure moves or changes meaning.
pub const SCHEMA: &str = "evident-bench/1";

/// Sorted durations, for percentiles.
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self(samples)
    }

    /// Nearest-rank percentile (`p` in 0..=100); `None` without samples.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if self.0.is_empty() {
            return None;
        }
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        Some(self.0[rank.clamp(1, self.0.len()) - 1])
    }

    fn mean(&self) -> Option<Duration> {
        let n = u32::try_from(self.0.len()).ok().filter(|n| *n > 0)?;
        Some(self.0.iter().sum::<Duration>() / n)
    }
}

/// `{count, p50, p99, max, mean}` in milliseconds.
pub fn latency_json(samples: Samples) -> Value {
    let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1e3);
    json!({
        "count": samples.0.len(),
        "p50": ms(samples.percentile(50.0)),
        "p99": ms(samples.percentile(99.0)),
        "max": ms(samples.percentile(100.0)),
        "mean": ms(samples.mean()),
    })
}

pub struct Report {
    doc: Map<String, Value>,
    loaded: u64,
}

impl Report {
    pub fn new(args: &Args, database: bool) -> Self {
        let mut doc = Map::new();
        doc.insert("schema".into(), json!(SCHEMA));
        doc.insert("evident_version".into(), json!(env!("CARGO_PKG_VERSION")));
        doc.insert(
            "build".into(),
            json!(if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }),
        );
        doc.insert(
            "started_at".into(),
            json!(evident_core::time::now_utc_micros().0),
        );
        doc.insert(
            "command".into(),
            json!(std::env::args().collect::<Vec<_>>().join(" ")),
        );
        doc.insert("machine".into(), machine());
        doc.insert(
            "settings".into(),
            json!({
                "clients": args.clients,
                "batch": args.batch,
                "single_clients": args.single_clients,
                "queries": args.queries,
                "seed": args.seed,
                "scenarios": args.scenarios.iter().map(|s| format!("{s:?}").to_lowercase()).collect::<Vec<_>>(),
                "store": if database { "database (--database-url)" } else { "embedded (fresh data dir)" },
            }),
        );
        Self { doc, loaded: 0 }
    }

    pub fn set(&mut self, key: &str, value: Value) {
        self.doc.insert(key.into(), value);
    }

    pub fn set_loaded_events(&mut self, events: u64) {
        self.loaded = events;
        self.set("loaded_events", json!(events));
    }

    pub fn loaded_events(&self) -> u64 {
        self.loaded
    }

    pub fn verify_failed(&self) -> bool {
        self.doc
            .get("verify")
            .is_some_and(|v| v["ok"] == Value::Bool(false))
    }

    /// Prints the table and writes the JSON.
    ///
    /// # Errors
    /// The JSON file could not be written.
    pub fn finish(&self, out: Option<&Path>) -> anyhow::Result<()> {
        let doc = Value::Object(self.doc.clone());
        print!("{}", table(&doc));
        if let Some(path) = out {
            let text = serde_json::to_string_pretty(&doc)? + "\n";
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            println!("results written to {}", path.display());
        }
        Ok(())
    }
}

/// What the figures were measured on.
fn machine() -> Value {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let field = |name: &str| {
        cpuinfo
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    };
    let meminfo = read("/proc/meminfo");
    let mem_kib: Option<u64> = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok());
    json!({
        "cpus": std::thread::available_parallelism().map(usize::from).ok(),
        "cpu_model": field("model name"),
        "sha_ni": cpuinfo.contains(" sha_ni"),
        "memory_bytes": mem_kib.map(|k| k * 1024),
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        // Other work on the machine skews every figure; say how busy it was.
        "load_average_at_start": read("/proc/loadavg").split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        "temp_dir_filesystem": filesystem_of(&std::env::temp_dir()),
    })
}

/// The device and type of the filesystem holding `path` (from /proc/mounts).
fn filesystem_of(path: &Path) -> Option<String> {
    let path = path.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (device, mount, kind) = (fields.next()?, fields.next()?, fields.next()?);
            path.starts_with(mount)
                .then(|| (mount.len(), format!("{device} ({kind}) on {mount}")))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, text)| text)
}

// ---------------------------------------------------------------------------------
// The table.

fn number(value: f64) -> String {
    let rounded = value.round() as i128;
    let digits = rounded.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if rounded < 0 {
        out.insert(0, '-');
    }
    out
}

fn ms(value: &Value) -> String {
    match value.as_f64() {
        None => "-".into(),
        Some(v) if v < 10.0 => format!("{v:.2}"),
        Some(v) if v < 100.0 => format!("{v:.1}"),
        Some(v) => number(v),
    }
}

fn p50_p99_max(figures: &Value) -> String {
    format!(
        "{} / {} / {} ms",
        ms(&figures["p50"]),
        ms(&figures["p99"]),
        ms(&figures["max"])
    )
}

fn table(doc: &Value) -> String {
    let mut rows: Vec<(String, String, &str)> = Vec::new();
    let mut row = |what: String, measured: String, target: &'static str| {
        rows.push((what, measured, target));
    };
    let workload = &doc["workload"];
    let loaded = doc["loaded_events"].as_f64().unwrap_or(0.0);
    for (key, label, unit, target) in [
        (
            "batch_ingest",
            "batched ingest",
            "events",
            "≥ 100,000 events/s",
        ),
        (
            "single_ingest",
            "single-event requests",
            "events",
            "≥ 20,000 events/s",
        ),
        (
            "otlp_ingest",
            "OTLP/HTTP protobuf ingest",
            "spans",
            "≥ 50,000 spans/s",
        ),
    ] {
        let phase = &doc[key];
        if !phase.is_object() {
            continue;
        }
        let per_request = phase["events_per_request"].as_u64().unwrap_or(0);
        let shape = if per_request == 1 {
            format!("{label}, {} clients", phase["clients"])
        } else {
            format!(
                "{label}, {per_request}/request, {} clients",
                phase["clients"]
            )
        };
        row(
            shape,
            format!(
                "{} {unit}/s ({:.1} MB/s, {} {unit})",
                number(phase["events_per_second"].as_f64().unwrap_or(0.0)),
                phase["megabytes_per_second"].as_f64().unwrap_or(0.0),
                number(phase["events"].as_f64().unwrap_or(0.0)),
            ),
            target,
        );
        row(
            "  ack latency p50 / p99 / max".into(),
            p50_p99_max(&phase["latency_ms"]),
            if per_request == 1 {
                "p99 ≤ 10 ms"
            } else {
                ""
            },
        );
        if phase["checkpoint_lag_ms"].is_object() {
            row(
                "  checkpoint lag p50 / p99 / max".into(),
                p50_p99_max(&phase["checkpoint_lag_ms"]),
                "p99 ≤ 1 s",
            );
        }
        row(
            "  CPU seconds: server / bench clients".into(),
            format!(
                "{:.1} / {:.1} s",
                phase["server_cpu_seconds"].as_f64().unwrap_or(f64::NAN),
                phase["client_cpu_seconds"].as_f64().unwrap_or(f64::NAN)
            ),
            "",
        );
        row(
            "  server CPU per event / storage bytes written per event".into(),
            format!(
                "{:.0} µs / {}",
                phase["server_cpu_us_per_event"]
                    .as_f64()
                    .unwrap_or(f64::NAN),
                phase["storage_write_bytes_per_event"]
                    .as_u64()
                    .map_or("n/a".to_owned(), |b| format!("{} bytes", number(b as f64)))
            ),
            "",
        );
    }
    if doc["decide"].is_object() {
        let decide = &doc["decide"];
        row(
            format!(
                "decide, {} clients, {} active rules",
                decide["clients"], decide["rules"]
            ),
            format!(
                "{} decisions/s ({} decisions, each durable before its answer)",
                number(decide["decisions_per_second"].as_f64().unwrap_or(0.0)),
                number(decide["decisions"].as_f64().unwrap_or(0.0)),
            ),
            "",
        );
        row(
            "  decide latency p50 / p99 / max".into(),
            p50_p99_max(&decide["latency_ms"]),
            "p99 < 5 ms",
        );
    }
    if doc["retention"].is_object() {
        let retention = &doc["retention"];
        let purge = &retention["purge"];
        row(
            format!(
                "retention purge of the oldest tenth ({} of {} events), ingest going on",
                number(retention["expiring_part_events"].as_f64().unwrap_or(0.0)),
                number(retention["events"].as_f64().unwrap_or(0.0)),
            ),
            format!(
                "{:.2} s: {} traces, {} blobs, {} vault values, {} search texts",
                purge["seconds"].as_f64().unwrap_or(f64::NAN),
                number(purge["traces"].as_f64().unwrap_or(0.0)),
                number(purge["blobs"].as_f64().unwrap_or(0.0)),
                number(purge["values"].as_f64().unwrap_or(0.0)),
                number(purge["search_texts"].as_f64().unwrap_or(0.0)),
            ),
            "a tenth of 1M",
        );
        row(
            "  candidate scan and plan / commit".into(),
            format!(
                "{:.2} s / {:.2} s",
                purge["plan_seconds"].as_f64().unwrap_or(f64::NAN),
                purge["commit_seconds"].as_f64().unwrap_or(f64::NAN)
            ),
            "",
        );
        row(
            "  ingest during the purge / before".into(),
            format!(
                "{} / {} events/s ({:.0} %){}",
                number(
                    retention["ingest_events_per_second_during"]
                        .as_f64()
                        .unwrap_or(0.0)
                ),
                number(
                    retention["ingest_events_per_second_before"]
                        .as_f64()
                        .unwrap_or(0.0)
                ),
                retention["during_vs_before"].as_f64().unwrap_or(f64::NAN) * 100.0,
                if retention["ingest_ran_throughout_the_purge"] == json!(true) {
                    ""
                } else {
                    " (ingest ended before the purge did: an underestimate)"
                }
            ),
            "",
        );
    }
    if let Some(seconds) = doc["search_catch_up_seconds"].as_f64() {
        row(
            "search index catch-up after the load".into(),
            format!("{seconds:.2} s"),
            "",
        );
    }
    let queries = &doc["queries"];
    for (key, label, target) in [
        ("event_by_id", "event by id", ""),
        ("trace", "trace by id", "p99 ≤ 2 ms (at 10M)"),
        ("job", "job", ""),
        (
            "subject",
            "all events of a subject (DSAR)",
            "p99 ≤ 10 ms (at 10M)",
        ),
        ("text", "full-text query", "p99 ≤ 50 ms (at 1M)"),
    ] {
        let figures = &queries[key];
        if figures["p50"].is_null() {
            continue;
        }
        row(
            format!("{label} p50 / p99, at {} events", number(loaded)),
            format!(
                "{} / {} ms ({:.1} events/answer)",
                ms(&figures["p50"]),
                ms(&figures["p99"]),
                figures["mean_results"].as_f64().unwrap_or(0.0)
            ),
            target,
        );
    }
    let verify = &doc["verify"];
    if verify.is_object() {
        row(
            "evident verify".into(),
            format!(
                "{} events/s ({:.1} s){}",
                number(verify["events_per_second"].as_f64().unwrap_or(0.0)),
                verify["seconds"].as_f64().unwrap_or(0.0),
                if verify["ok"] == Value::Bool(true) {
                    ""
                } else {
                    " FAILED"
                }
            ),
            "≥ 500,000 events/s",
        );
    }
    let disk = &doc["disk"];
    if let Some(per_event) = disk["bytes_per_event"].as_f64() {
        row(
            format!("disk per event, at {} events", number(loaded)),
            format!(
                "{} bytes ({:.1} MB in all)",
                number(per_event),
                disk["bytes"].as_f64().unwrap_or(0.0) / 1e6
            ),
            "≤ 1,000 bytes (at 1M)",
        );
        if let Some(groups) = disk["groups"].as_object() {
            let parts: Vec<String> = groups
                .iter()
                .map(|(name, g)| {
                    format!(
                        "{name} {}",
                        number(g["bytes_per_event"].as_f64().unwrap_or(0.0))
                    )
                })
                .collect();
            row("  by part (bytes/event)".into(), parts.join(", "), "");
        }
    }
    if let Some(rss) = doc["server"]["peak_rss_bytes"].as_f64() {
        row(
            "server peak RSS".into(),
            format!("{:.0} MiB", rss / (1024.0 * 1024.0)),
            "≤ 512 MiB (10M run)",
        );
    }

    let machine = &doc["machine"];
    let mut out = format!(
        "\nevident bench: {} events ({}, mean {:.0} bytes/event), {} build, {} CPUs ({})\n\n",
        number(workload["events"].as_f64().unwrap_or(0.0)),
        workload["source"].as_str().unwrap_or("?"),
        workload["mean_event_bytes"].as_f64().unwrap_or(0.0),
        doc["build"].as_str().unwrap_or("?"),
        machine["cpus"],
        machine["cpu_model"].as_str().unwrap_or("unknown CPU"),
    );
    let width = |f: fn(&(String, String, &str)) -> usize| rows.iter().map(f).max().unwrap_or(0);
    let (w0, w1) = (
        width(|r| r.0.chars().count()).max(6),
        width(|r| r.1.chars().count()).max(8),
    );
    out.push_str(&format!("{:w0$}  {:w1$}  target\n", "figure", "measured"));
    for (what, measured, target) in &rows {
        let line = format!("{what:w0$}  {measured:w1$}  {target}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples = Samples::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(samples.percentile(50.0), Some(Duration::from_millis(50)));
        assert_eq!(samples.percentile(99.0), Some(Duration::from_millis(99)));
        assert_eq!(samples.percentile(100.0), Some(Duration::from_millis(100)));
        assert_eq!(Samples::new(Vec::new()).percentile(50.0), None);
    }

    #[test]
    fn numbers_have_thousands_separators() {
        assert_eq!(number(1_234_567.4), "1,234,567");
        assert_eq!(number(999.0), "999");
        assert_eq!(number(-1_000.0), "-1,000");
    }
}

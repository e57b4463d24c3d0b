//! The bench's workload: an NDJSON file (generated, or `--input`), split into the
//! part each ingest scenario sends, with a sample of ids, subjects and words for the
//! query scenario. Request bodies are cut from the file by a reader thread while the
//! clients send, so nothing is generated or serialized on the clock.

use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use evident_core::workload::{Params, Workload};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::Args;

/// Events generated when neither `--events` nor `--input` says otherwise.
pub const DEFAULT_EVENTS: u64 = 100_000;

/// Events kept as query targets (a uniform sample of the loaded events, so hot
/// subjects and long traces come up as often as they occur).
const SAMPLE: usize = 4_096;

/// A byte range of the workload file holding whole lines.
#[derive(Debug, Clone, Default)]
pub struct Part {
    pub start: u64,
    pub end: u64,
    pub events: u64,
    pub bytes: u64,
}

/// What the query scenario asks for, drawn from the loaded events.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub event_ids: Vec<String>,
    pub trace_ids: Vec<String>,
    pub job_ids: Vec<String>,
    /// Clear subject identifiers, as a DSAR names them.
    pub subjects: Vec<String>,
    /// Two words taken from one event's payload text.
    pub text_queries: Vec<String>,
}

#[derive(Debug)]
pub struct Prepared {
    pub path: PathBuf,
    pub generated: bool,
    pub seed: u64,
    pub batch: Part,
    pub single: Part,
    pub max_event_bytes: u64,
    pub prepare_seconds: f64,
    pub targets: Targets,
}

impl Prepared {
    pub fn events(&self) -> u64 {
        self.batch.events + self.single.events
    }

    pub fn describe(&self) -> Value {
        let events = self.events();
        let bytes = self.batch.bytes + self.single.bytes;
        json!({
            "source": if self.generated { "generated" } else { "file" },
            "path": (!self.generated).then(|| self.path.display().to_string()),
            "seed": self.generated.then_some(self.seed),
            "events": events,
            "bytes": bytes,
            "mean_event_bytes": bytes as f64 / events.max(1) as f64,
            "max_event_bytes": self.max_event_bytes,
            "prepare_seconds": self.prepare_seconds,
        })
    }
}

/// Generates (or takes) the workload and splits it: the last `single` events (default
/// a fifth, at most 20,000) for the single-event scenario, the rest batched.
///
/// # Errors
/// I/O errors, or an input with no events.
pub async fn prepare(args: &Args, work: &Path, single: Option<u64>) -> anyhow::Result<Prepared> {
    let started = Instant::now();
    let (path, generated) = match &args.input {
        Some(input) => (input.clone(), false),
        None => {
            let path = work.join("workload.ndjson");
            generate_file(&path, args.events.unwrap_or(DEFAULT_EVENTS), args.seed).await?;
            (path, true)
        }
    };
    let limit = args.events.unwrap_or(u64::MAX);
    let seed = args.seed;
    let scan_path = path.clone();
    let keep_last = single.unwrap_or(super::DEFAULT_SINGLE_EVENTS);
    let scan =
        tokio::task::spawn_blocking(move || scan(&scan_path, limit, seed, keep_last)).await??;
    anyhow::ensure!(scan.events > 0, "{} holds no events", path.display());
    let single = single
        .unwrap_or((scan.events / 5).min(super::DEFAULT_SINGLE_EVENTS))
        .min(scan.events);
    let split_at = scan.events - single;
    // `last_offsets` holds the offsets of the last events (and of the end).
    let first_kept = scan.events + 1 - scan.last_offsets.len() as u64;
    let (split_offset, split_bytes) =
        scan.last_offsets[usize::try_from(split_at - first_kept).unwrap_or(0)];
    Ok(Prepared {
        batch: Part {
            start: 0,
            end: split_offset,
            events: split_at,
            bytes: split_bytes,
        },
        single: Part {
            start: split_offset,
            end: scan.end,
            events: single,
            bytes: scan.bytes - split_bytes,
        },
        path,
        generated,
        seed,
        max_event_bytes: scan.max_event_bytes,
        prepare_seconds: started.elapsed().as_secs_f64(),
        targets: scan.targets,
    })
}

/// Writes `events` generated events as NDJSON to `path`; returns the bytes written.
///
/// # Errors
/// I/O errors.
pub async fn generate_file(path: &Path, events: u64, seed: u64) -> anyhow::Result<u64> {
    let path = path.to_path_buf();
    let bar = crate::commands::progress_bar(events, "generating the workload");
    let bar_inner = bar.clone();
    let written = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
        let file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut bytes = 0u64;
        let stream = Workload::new(Params {
            seed,
            ..Params::default()
        })
        .events();
        let mut line = Vec::with_capacity(32 << 10);
        for (i, event) in stream
            .take(usize::try_from(events).unwrap_or(usize::MAX))
            .enumerate()
        {
            line.clear();
            serde_json::to_writer(&mut line, &event)?;
            line.push(b'\n');
            out.write_all(&line)?;
            bytes += line.len() as u64;
            if i % 4096 == 0 {
                bar_inner.set_position(i as u64);
            }
        }
        out.flush()?;
        Ok(bytes)
    })
    .await??;
    bar.finish_and_clear();
    Ok(written)
}

struct Scan {
    events: u64,
    bytes: u64,
    max_event_bytes: u64,
    /// The byte offset where the file's part of interest ends.
    end: u64,
    /// For each of the last `keep_last` events and the end: (byte offset of its line,
    /// bytes of the events before it), so the single-event part can be cut off.
    last_offsets: std::collections::VecDeque<(u64, u64)>,
    targets: Targets,
}

/// Reads the first `limit` events of the file: counts, line offsets, and a reservoir
/// sample of lines, parsed into query targets.
fn scan(path: &Path, limit: u64, seed: u64, keep_last: u64) -> anyhow::Result<Scan> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut sample: Vec<Vec<u8>> = Vec::with_capacity(SAMPLE);
    let keep = usize::try_from(keep_last)
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    let mut offsets = std::collections::VecDeque::new();
    let (mut offset, mut events, mut bytes, mut max) = (0u64, 0u64, 0u64, 0u64);
    let mut line = Vec::with_capacity(32 << 10);
    while events < limit {
        line.clear();
        let read = reader.read_until(b'\n', &mut line)? as u64;
        if read == 0 {
            break;
        }
        let content = line.trim_ascii();
        if !content.is_empty() {
            if offsets.len() == keep {
                offsets.pop_front();
            }
            offsets.push_back((offset, bytes));
            let size = content.len() as u64 + 1;
            bytes += size;
            max = max.max(size);
            if sample.len() < SAMPLE {
                sample.push(content.to_vec());
            } else {
                let slot = rng.gen_range(0..=events);
                if let Some(kept) = sample.get_mut(usize::try_from(slot).unwrap_or(usize::MAX)) {
                    *kept = content.to_vec();
                }
            }
            events += 1;
        }
        offset += read;
    }
    if offsets.len() == keep {
        offsets.pop_front();
    }
    offsets.push_back((offset, bytes));
    let mut targets = Targets::default();
    for (i, line) in sample.iter().enumerate() {
        let event: Value = serde_json::from_slice(line)
            .with_context(|| format!("{}: a sampled line is not JSON", path.display()))?;
        add_targets(&mut targets, &event, i);
    }
    Ok(Scan {
        events,
        bytes,
        max_event_bytes: max,
        end: offset,
        last_offsets: offsets,
        targets,
    })
}

fn add_targets(targets: &mut Targets, event: &Value, i: usize) {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    if let Some(id) = text(&event["event_id"]) {
        targets.event_ids.push(id);
    }
    if let Some(id) = text(&event["trace_id"]) {
        targets.trace_ids.push(id);
    }
    if let Some(id) = text(&event["context"]["job_id"]) {
        targets.job_ids.push(id);
    }
    if let Some(subject) = text(&event["context"]["subject"]) {
        targets.subjects.push(subject);
    }
    let mut words = Vec::new();
    for field in ["input", "output"] {
        collect_words(&event[field], &mut words);
    }
    if words.len() >= 2 {
        // Two words of the same event, so the query has at least that hit.
        let a = &words[i % words.len()];
        let b = &words[(i * 7 + 3) % words.len()];
        targets.text_queries.push(format!("{a} {b}"));
    }
}

/// Plain lowercase words of 5+ letters (no ids, numbers or personal data).
fn collect_words(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            for word in s.split(|c: char| !c.is_ascii_alphabetic()) {
                if word.len() >= 5 && word.bytes().all(|b| b.is_ascii_lowercase()) {
                    out.push(word.to_owned());
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_words(v, out)),
        Value::Object(members) => members.values().for_each(|v| collect_words(v, out)),
        _ => {}
    }
}

/// One request's body and how many events it holds.
pub struct Body {
    pub bytes: bytes::Bytes,
    pub events: u64,
}

/// Cuts `part` of the file into bodies of `per_request` events (NDJSON; a single event
/// is sent as one JSON object) on a reader thread, at most `ahead` bodies in advance.
pub fn bodies(
    path: &Path,
    part: &Part,
    per_request: usize,
    ahead: usize,
) -> tokio::sync::mpsc::Receiver<anyhow::Result<Body>> {
    let (tx, rx) = tokio::sync::mpsc::channel(ahead.max(1));
    let path = path.to_path_buf();
    let part = part.clone();
    std::thread::spawn(move || {
        let result = (|| -> anyhow::Result<()> {
            let mut file = std::fs::File::open(&path)?;
            file.seek(SeekFrom::Start(part.start))?;
            let mut reader = BufReader::with_capacity(1 << 20, file.take(part.end - part.start));
            let mut body = Vec::new();
            let mut in_body = 0u64;
            let mut line = Vec::new();
            loop {
                line.clear();
                if reader.read_until(b'\n', &mut line)? == 0 {
                    break;
                }
                let content = line.trim_ascii();
                if content.is_empty() {
                    continue;
                }
                body.extend_from_slice(content);
                body.push(b'\n');
                in_body += 1;
                if in_body as usize == per_request {
                    let full = Body {
                        bytes: bytes::Bytes::from(std::mem::take(&mut body)),
                        events: in_body,
                    };
                    in_body = 0;
                    if tx.blocking_send(Ok(full)).is_err() {
                        return Ok(());
                    }
                }
            }
            if in_body > 0 {
                let _ = tx.blocking_send(Ok(Body {
                    bytes: bytes::Bytes::from(body),
                    events: in_body,
                }));
            }
            Ok(())
        })();
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(e));
        }
    });
    rx
}

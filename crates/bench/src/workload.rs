//! The bench's workload: NDJSON events (generated, or `--input`), split into the part
//! each ingest scenario sends, with a sample of ids, subjects and words for the query
//! scenario. Request bodies are cut from the files by a reader thread while the
//! clients send, so nothing is generated or serialized on the clock.
//!
//! A generated workload is written as it is generated into two zstd-compressed files,
//! one per part (`batch.ndjson.zst`, `single.ndjson.zst`): ~1.5 KB of JSON per event
//! would be 15 GB at 10M events, next to a data dir of twice that; compressed it is
//! about an eighth. The reader thread decompresses on the clock, at over 1 GB/s against
//! the ~15 MB/s the clients send. `--input` is read as it is: plain NDJSON, or
//! zstd-compressed if its name ends in `.zst`; its parts are byte ranges of its text.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::generator::{Params, Workload};
use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// Events generated when neither `--events` nor `--input` says otherwise.
pub const DEFAULT_EVENTS: u64 = 100_000;

/// Events kept as query targets (a uniform sample of the loaded events, so hot
/// subjects and long traces come up as often as they occur).
const SAMPLE: usize = 4_096;

/// zstd's level for generated workloads: its default, ~8x on these events at
/// hundreds of MB/s, well ahead of the generator.
const ZSTD_LEVEL: i32 = 3;

/// Buffer of the workload files' readers and writers.
const IO_BUFFER: usize = 1 << 20;

/// Whole lines of one workload file: the byte range `start..end` of its NDJSON text
/// (the decompressed text, for a `.zst` file).
#[derive(Debug, Clone, Default)]
pub struct Part {
    pub path: PathBuf,
    pub start: u64,
    pub end: u64,
    pub events: u64,
    /// The events' bytes, one newline each (blank lines and surrounding blanks not
    /// counted).
    pub bytes: u64,
}

/// What the query scenario asks for, drawn from the loaded events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// `--input`, or `None` for a generated workload.
    pub input: Option<PathBuf>,
    pub seed: u64,
    pub batch: Part,
    pub single: Part,
    pub max_event_bytes: u64,
    /// What the workload's files take on disk.
    pub stored_bytes: u64,
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
            "source": if self.input.is_some() { "file" } else { "generated" },
            "path": self.input.as_ref().map(|p| p.display().to_string()),
            "seed": self.input.is_none().then_some(self.seed),
            "events": events,
            "bytes": bytes,
            "stored_bytes": self.stored_bytes,
            "mean_event_bytes": bytes as f64 / events.max(1) as f64,
            "max_event_bytes": self.max_event_bytes,
            "prepare_seconds": self.prepare_seconds,
        })
    }
}

/// Generates `events` (default [`DEFAULT_EVENTS`]) into `work`, or takes the first
/// `events` of `input`, and splits them: the last `single` events (default a fifth, at
/// most 20,000) for the single-event scenario, the rest batched.
///
/// # Errors
/// I/O errors, or a workload with no events.
pub async fn prepare(
    input: Option<&Path>,
    events: Option<u64>,
    seed: u64,
    work: &Path,
    single: Option<u64>,
) -> anyhow::Result<Prepared> {
    let started = Instant::now();
    let single_events = move |total: u64| {
        single
            .unwrap_or((total / 5).min(super::DEFAULT_SINGLE_EVENTS))
            .min(total)
    };
    let (batch, single_part, tally, stored_bytes) = match input {
        None => {
            let total = events.unwrap_or(DEFAULT_EVENTS);
            anyhow::ensure!(total > 0, "--events must be at least 1");
            let single_count = single_events(total);
            let files = vec![
                (work.join("batch.ndjson.zst"), total - single_count),
                (work.join("single.ndjson.zst"), single_count),
            ];
            let (tally, mut written) = generate(files, seed).await?;
            let single_file = written.pop().context("no single part written")?;
            let batch_file = written.pop().context("no batch part written")?;
            let stored = batch_file.stored_bytes + single_file.stored_bytes;
            (batch_file.part, single_file.part, tally, stored)
        }
        Some(input) => {
            let path = input.to_path_buf();
            let limit = events.unwrap_or(u64::MAX);
            let keep_last = single.unwrap_or(super::DEFAULT_SINGLE_EVENTS);
            let scanned =
                tokio::task::spawn_blocking(move || scan(&path, limit, seed, keep_last)).await??;
            let total = scanned.tally.events;
            anyhow::ensure!(total > 0, "{} holds no events", input.display());
            let (batch, single_part) = scanned.split(input, total - single_events(total));
            let stored = std::fs::metadata(input)?.len();
            (batch, single_part, scanned.tally, stored)
        }
    };
    Ok(Prepared {
        input: input.map(Path::to_path_buf),
        seed,
        batch,
        single: single_part,
        max_event_bytes: tally.max_event_bytes,
        stored_bytes,
        prepare_seconds: started.elapsed().as_secs_f64(),
        targets: tally.targets()?,
    })
}

/// `true` for a file kept zstd-compressed.
fn is_compressed(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "zst")
}

/// An NDJSON file being written: zstd-compressed if its name ends in `.zst`.
enum Output {
    Plain(BufWriter<File>),
    Zstd(zstd::Encoder<'static, BufWriter<File>>),
}

impl Output {
    fn create(path: &Path) -> anyhow::Result<Self> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let file = BufWriter::with_capacity(IO_BUFFER, file);
        Ok(if is_compressed(path) {
            Self::Zstd(zstd::Encoder::new(file, ZSTD_LEVEL)?)
        } else {
            Self::Plain(file)
        })
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Self::Plain(out) => out,
            Self::Zstd(out) => out,
        }
    }

    /// Ends the stream and flushes; the bytes the file takes.
    fn finish(self) -> anyhow::Result<u64> {
        let mut file = match self {
            Self::Plain(out) => out,
            Self::Zstd(out) => out.finish()?,
        };
        file.flush()?;
        Ok(file.get_ref().metadata()?.len())
    }
}

/// The NDJSON text of a workload file, decompressed if its name ends in `.zst`.
fn open_text(path: &Path) -> anyhow::Result<Box<dyn BufRead + Send>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(if is_compressed(path) {
        Box::new(BufReader::with_capacity(
            IO_BUFFER,
            zstd::Decoder::new(file)?,
        ))
    } else {
        Box::new(BufReader::with_capacity(IO_BUFFER, file))
    })
}

/// The text of `part`, positioned at its start.
fn open_part(part: &Part) -> anyhow::Result<impl BufRead + Send> {
    let len = part.end - part.start;
    if !is_compressed(&part.path) {
        let mut file =
            File::open(&part.path).with_context(|| format!("opening {}", part.path.display()))?;
        file.seek(SeekFrom::Start(part.start))?;
        let text: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(IO_BUFFER, file));
        return Ok(text.take(len));
    }
    // A compressed stream cannot seek: what comes before the part is read and dropped
    // (only for a compressed `--input`; generated parts have files of their own).
    let mut text = open_text(&part.path)?;
    let skipped = std::io::copy(&mut (&mut text).take(part.start), &mut std::io::sink())?;
    anyhow::ensure!(
        skipped == part.start,
        "{} ended before its part",
        part.path.display()
    );
    Ok(text.take(len))
}

/// Events seen in order: their count and sizes, and a uniform sample of them
/// (reservoir sampling, drawn from `seed`).
struct Tally {
    events: u64,
    bytes: u64,
    max_event_bytes: u64,
    rng: StdRng,
    sample: Vec<Vec<u8>>,
}

impl Tally {
    fn new(seed: u64) -> Self {
        Self {
            events: 0,
            bytes: 0,
            max_event_bytes: 0,
            rng: StdRng::seed_from_u64(seed),
            sample: Vec::with_capacity(SAMPLE),
        }
    }

    /// One event's line, without its newline.
    fn add(&mut self, content: &[u8]) {
        let size = content.len() as u64 + 1;
        self.bytes += size;
        self.max_event_bytes = self.max_event_bytes.max(size);
        if self.sample.len() < SAMPLE {
            self.sample.push(content.to_vec());
        } else {
            let slot = self.rng.gen_range(0..=self.events);
            if let Some(kept) = self
                .sample
                .get_mut(usize::try_from(slot).unwrap_or(usize::MAX))
            {
                *kept = content.to_vec();
            }
        }
        self.events += 1;
    }

    /// The sampled events' query targets.
    fn targets(&self) -> anyhow::Result<Targets> {
        let mut targets = Targets::default();
        for (i, line) in self.sample.iter().enumerate() {
            let event: Value =
                serde_json::from_slice(line).context("a sampled workload line is not JSON")?;
            add_targets(&mut targets, &event, i);
        }
        Ok(targets)
    }
}

/// A generated file: the part it holds, and what it takes on disk.
struct Written {
    part: Part,
    stored_bytes: u64,
}

/// Generates events for `seed` into each of `files` in turn, as many as it says.
async fn generate(files: Vec<(PathBuf, u64)>, seed: u64) -> anyhow::Result<(Tally, Vec<Written>)> {
    let total = files.iter().map(|(_, events)| events).sum();
    let bar = crate::progress_bar(total, "generating the workload");
    let bar_inner = bar.clone();
    let generated = tokio::task::spawn_blocking(move || {
        let mut stream = Workload::new(Params {
            seed,
            ..Params::default()
        })
        .events();
        let mut tally = Tally::new(seed);
        let mut written = Vec::with_capacity(files.len());
        let mut line = Vec::with_capacity(32 << 10);
        for (path, events) in files {
            let mut out = Output::create(&path)?;
            let (first_event, first_byte) = (tally.events, tally.bytes);
            for event in stream
                .by_ref()
                .take(usize::try_from(events).unwrap_or(usize::MAX))
            {
                line.clear();
                serde_json::to_writer(&mut line, &event)?;
                tally.add(&line);
                line.push(b'\n');
                out.writer().write_all(&line)?;
                if tally.events.is_multiple_of(4096) {
                    bar_inner.set_position(tally.events);
                }
            }
            let bytes = tally.bytes - first_byte;
            written.push(Written {
                part: Part {
                    path,
                    start: 0,
                    end: bytes,
                    events: tally.events - first_event,
                    bytes,
                },
                stored_bytes: out.finish()?,
            });
        }
        anyhow::Ok((tally, written))
    })
    .await??;
    bar.finish_and_clear();
    Ok(generated)
}

/// Writes `events` generated events as NDJSON to `path` (zstd-compressed if its name
/// ends in `.zst`); returns the NDJSON bytes and what the file takes on disk.
///
/// # Errors
/// I/O errors.
pub async fn generate_file(path: &Path, events: u64, seed: u64) -> anyhow::Result<(u64, u64)> {
    let (tally, written) = generate(vec![(path.to_path_buf(), events)], seed).await?;
    Ok((tally.bytes, written.iter().map(|w| w.stored_bytes).sum()))
}

/// What a scan of an `--input` file found.
struct Scan {
    tally: Tally,
    /// Where the text read ends (after the last event counted).
    end: u64,
    /// For each of the last `keep_last` events and the end: (byte offset of its line,
    /// bytes of the events before it), so the single-event part can be cut off.
    last_offsets: VecDeque<(u64, u64)>,
}

impl Scan {
    /// The batched part (events before `split_at`) and the single part (the rest).
    fn split(&self, path: &Path, split_at: u64) -> (Part, Part) {
        // `last_offsets` holds the offsets of the last events (and of the end).
        let first_kept = self.tally.events + 1 - self.last_offsets.len() as u64;
        let (split_offset, split_bytes) =
            self.last_offsets[usize::try_from(split_at - first_kept).unwrap_or(0)];
        let batch = Part {
            path: path.to_path_buf(),
            start: 0,
            end: split_offset,
            events: split_at,
            bytes: split_bytes,
        };
        let single = Part {
            path: path.to_path_buf(),
            start: split_offset,
            end: self.end,
            events: self.tally.events - split_at,
            bytes: self.tally.bytes - split_bytes,
        };
        (batch, single)
    }
}

/// Reads the first `limit` events of the file: counts, line offsets, and a reservoir
/// sample of lines.
fn scan(path: &Path, limit: u64, seed: u64, keep_last: u64) -> anyhow::Result<Scan> {
    let mut reader = open_text(path)?;
    let mut tally = Tally::new(seed);
    let keep = usize::try_from(keep_last)
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    let mut offsets = VecDeque::new();
    let mut offset = 0u64;
    let mut line = Vec::with_capacity(32 << 10);
    while tally.events < limit {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading {}", path.display()))? as u64;
        if read == 0 {
            break;
        }
        let content = line.trim_ascii();
        if !content.is_empty() {
            if offsets.len() == keep {
                offsets.pop_front();
            }
            offsets.push_back((offset, tally.bytes));
            tally.add(content);
        }
        offset += read;
    }
    if offsets.len() == keep {
        offsets.pop_front();
    }
    offsets.push_back((offset, tally.bytes));
    Ok(Scan {
        tally,
        end: offset,
        last_offsets: offsets,
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

/// Cuts `part` into bodies of `per_request` events (NDJSON; a single event is sent as
/// one JSON object) on a reader thread, at most `ahead` bodies in advance. The file is
/// opened and positioned at the part before this returns, off the scenario's clock.
///
/// # Errors
/// The file cannot be opened or is shorter than the part.
pub async fn bodies(
    part: &Part,
    per_request: usize,
    ahead: usize,
) -> anyhow::Result<tokio::sync::mpsc::Receiver<anyhow::Result<Body>>> {
    let opened = part.clone();
    let mut reader = tokio::task::spawn_blocking(move || open_part(&opened)).await??;
    let (tx, rx) = tokio::sync::mpsc::channel(ahead.max(1));
    std::thread::spawn(move || {
        let result = (|| -> anyhow::Result<()> {
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
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every body of `part`, concatenated.
    async fn text_of(part: &Part, per_request: usize) -> Vec<u8> {
        let mut rx = bodies(part, per_request, 4).await.unwrap();
        let mut text = Vec::new();
        let mut events = 0;
        while let Some(body) = rx.recv().await {
            let body = body.unwrap();
            assert!(body.events as usize <= per_request);
            events += body.events;
            text.extend_from_slice(&body.bytes);
        }
        assert_eq!(events, part.events);
        text
    }

    /// The text of lines `from..to` of `text`.
    fn lines(text: &[u8], from: usize, to: usize) -> Vec<u8> {
        text.split_inclusive(|&b| b == b'\n')
            .skip(from)
            .take(to - from)
            .flatten()
            .copied()
            .collect()
    }

    #[tokio::test]
    async fn generated_parts_are_the_emitted_workload_with_the_same_sizes_and_targets() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("w.ndjson");
        let compressed = dir.path().join("w.ndjson.zst");
        let (bytes, stored) = generate_file(&plain, 300, 9).await.unwrap();
        assert_eq!(stored, bytes);
        let (zst_bytes, zst_stored) = generate_file(&compressed, 300, 9).await.unwrap();
        assert_eq!(zst_bytes, bytes);
        assert!(zst_stored * 4 < bytes, "{zst_stored} of {bytes}");
        let text = std::fs::read(&plain).unwrap();

        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        let generated = prepare(None, Some(300), 9, &work, Some(40)).await.unwrap();
        assert!(is_compressed(&generated.batch.path) && is_compressed(&generated.single.path));
        assert!(generated.stored_bytes * 4 < bytes);
        assert_eq!((generated.batch.events, generated.single.events), (260, 40));
        assert_eq!(text_of(&generated.batch, 100).await, lines(&text, 0, 260));
        assert_eq!(text_of(&generated.single, 1).await, lines(&text, 260, 300));

        // The same events as --input, plain or compressed, with a blank line and
        // padding that are not counted: the same parts, sizes and query targets.
        let padded = dir.path().join("padded.ndjson");
        let mut with_blanks = b"\n".to_vec();
        for line in text.split_inclusive(|&b| b == b'\n') {
            with_blanks.extend_from_slice(b" ");
            with_blanks.extend_from_slice(line);
        }
        std::fs::write(&padded, &with_blanks).unwrap();
        for input in [&plain, &compressed, &padded] {
            let read = prepare(Some(input), None, 9, &work, Some(40))
                .await
                .unwrap();
            assert_eq!(read.input.as_deref(), Some(input.as_path()));
            for (part, from, to) in [(&read.batch, 0, 260), (&read.single, 260, 300)] {
                assert_eq!(text_of(part, 7).await, lines(&text, from, to), "{input:?}");
            }
            assert_eq!(read.batch.bytes, generated.batch.bytes, "{input:?}");
            assert_eq!(read.single.bytes, generated.single.bytes, "{input:?}");
            assert_eq!(read.max_event_bytes, generated.max_event_bytes);
            assert_eq!(read.targets, generated.targets, "{input:?}");
        }
        assert!(!generated.targets.event_ids.is_empty());

        // --events takes the first events of a file; the single part defaults to a fifth.
        let first = prepare(Some(&compressed), Some(100), 9, &work, None)
            .await
            .unwrap();
        assert_eq!((first.batch.events, first.single.events), (80, 20));
        assert_eq!(text_of(&first.single, 3).await, lines(&text, 80, 100));
    }
}

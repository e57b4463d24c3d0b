//! A measured prototype of the embedded store's next shape: the log itself as the
//! store (`docs/design/storage.md`). Not wired into the server, not a store: it runs
//! the hot path of that design over the bench's workload and reports what it costs.
//!
//! What it does, per group of `--group` events (one sequencer commit):
//! - the durable path, on one writer thread: the idempotency look-up (`event_id` in
//!   the index, plus the ids written since the index last caught up), `seq`s and
//!   back-links from in-memory maps, the entry bytes (RFC 8785 with the position
//!   spliced in), leaf hashes and tiles (`evident_tlog::integrate`), each entry
//!   compressed (zstd, a dictionary trained on the first entries) into a checksummed
//!   frame of the log segment, each sealed payload and vault value into a frame of a
//!   blob segment, a commit frame carrying the tree head; then `fdatasync` of the
//!   blob segment and of the log segment: the group is durable when its commit frame
//!   is, and only then would its requests get their 2xx;
//! - off the durable path, on an indexer thread: the secondary indexes (trace,
//!   subject, job, case, run, agent, type, time, blob and vault locations) in an LSM
//!   (`fjall`), the full text in a contentless SQLite FTS5 table, each with an
//!   indexed-through watermark written with the rows it covers.
//!
//! The workload is the bench's own (`evident bench --emit-workload FILE.ndjson.zst`),
//! prepared as the server prepares it (validation, subject tokens, PII scan, payload
//! blobs with commitments, XChaCha20-Poly1305 sealing under a key per subject) in
//! chunks *before* each timed part: preparation runs in the request handlers, in
//! parallel, and is reported apart. Each timed part ends when the indexer has caught
//! up with the chunk, so the index's cost is inside the figures.
//!
//! ```sh
//! cargo run --release -p evident-store --example log_prototype -- \
//!     --input w.ndjson.zst --events 100000 --dir /tmp/proto
//! ```
//!
//! Figures: events/s over the timed parts, CPU µs per event (the process, and the
//! writer and indexer threads apart), bytes written per event (`/proc/self/io`
//! `write_bytes`), fdatasyncs, index lag per group, bytes on disk per file kind.
//! Linux only (it reads `/proc`).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::time::{Duration, Instant};

use evident_core::crypto::{blob_aad, vault_aad, SecretKey};
use evident_core::pii::Detectors;
use evident_core::record::{prepare_client_event, IndexKeys, Submission};
use evident_core::token::TokenKey;
use evident_tlog::{integrate, leaf_hash, right_edge_tiles, TileId, FULL_TILE_BYTES};

/// Frame kinds of a segment file.
const FRAME_ENTRY: u8 = 1;
const FRAME_COMMIT: u8 = 2;
const FRAME_BLOB: u8 = 3;
const FRAME_VAULT: u8 = 4;

/// A new segment file is started past this size, so retention can delete whole
/// blob segments and a damaged log segment stays small.
const SEGMENT_BYTES: u64 = 256 << 20;

/// Entries the compression dictionary is trained on (as the SQLite store does).
const DICTIONARY_SAMPLES: usize = 4096;

/// Groups the indexer may lag behind before the writer waits (backpressure).
const INDEX_QUEUE_GROUPS: usize = 256;

/// Events prepared at a time (untimed), then appended (timed).
const CHUNK_EVENTS: usize = 50_000;

struct Args {
    input: PathBuf,
    events: usize,
    dir: PathBuf,
    group: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut input = None;
    let mut events = 100_000;
    let mut dir = None;
    let mut group = 1000;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--input" => input = Some(PathBuf::from(value()?)),
            "--dir" => dir = Some(PathBuf::from(value()?)),
            "--events" => events = value()?.parse().map_err(|e| format!("--events: {e}"))?,
            "--group" => group = value()?.parse().map_err(|e| format!("--group: {e}"))?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if group == 0 {
        return Err("--group must be at least 1".into());
    }
    Ok(Args {
        input: input.ok_or("--input FILE.ndjson[.zst] is required")?,
        events,
        dir: dir.ok_or("--dir DIR is required (it is emptied first)")?,
        group,
    })
}

/// An event as the store receives it: serialized members, index keys, sealed blobs
/// and vault values, its searchable text.
struct Sealed {
    members: evident_core::entry::CanonicalMembers,
    index: IndexKeys,
    digest: [u8; 32],
    blobs: Vec<([u8; 32], String, Vec<u8>)>,
    vault: Vec<(String, String, String, Vec<u8>)>,
    text: Option<String>,
}

/// Prepares events on every core, as the request handlers would.
fn prepare(lines: &[String], detectors: &Detectors, token_key: &TokenKey) -> Vec<Sealed> {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let per = lines.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = lines
            .chunks(per)
            .map(|part| scope.spawn(move || prepare_part(part, detectors, token_key)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a preparing thread panicked"))
            .collect()
    })
}

fn prepare_part(lines: &[String], detectors: &Detectors, token_key: &TokenKey) -> Vec<Sealed> {
    let mut rng = rand::thread_rng();
    let mut keys: HashMap<String, (String, SecretKey)> = HashMap::new();
    let submission = Submission {
        token_key,
        detectors,
        principal: "ingest",
        received_at: "2026-12-07T18:00:00.000000Z",
        received_micros: 1_796_666_400_000_000,
    };
    let uploads = HashMap::new();
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        let value: serde_json::Value = serde_json::from_str(line).expect("workload line is JSON");
        let mut event = prepare_client_event(value, &submission, &uploads, &mut rng)
            .expect("workload event is valid");
        let subject = event.index.subject.clone().unwrap_or_default();
        let (key_id, key) = keys.entry(subject).or_insert_with(|| {
            let mut id = [0u8; 12];
            rand::RngCore::fill_bytes(&mut rng, &mut id);
            (
                format!("dk_{}", evident_core::blob::hex(&id)),
                SecretKey::generate(&mut rng),
            )
        });
        let blobs = std::mem::take(&mut event.blobs)
            .into_iter()
            .map(|b| {
                let plain = [b.salt.as_slice(), &b.bytes].concat();
                let sealed = key.seal(&plain, &blob_aad(&b.reference), &mut rng);
                (b.reference.0, key_id.clone(), sealed)
            })
            .collect();
        let vault = std::mem::take(&mut event.pii)
            .into_iter()
            .map(|f| {
                let sealed = key.seal(f.value.as_bytes(), &vault_aad(&f.token), &mut rng);
                (f.token, f.kind, key_id.clone(), sealed)
            })
            .collect();
        out.push(Sealed {
            members: event.members,
            index: event.index,
            digest: event.submission_digest,
            blobs,
            vault,
            text: event.text,
        });
    }
    out
}

/// Appends one frame: `len: u32 LE ‖ crc32: u32 LE ‖ kind: u8 ‖ payload`, `len`
/// counting kind and payload, the CRC (IEEE) covering `len`, kind and payload: a
/// flipped bit in any of them fails it, and a torn write at the tail is a frame that
/// does not check.
fn push_frame(buf: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    let len = u32::try_from(payload.len() + 1).expect("frames are under 4 GiB");
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len.to_le_bytes());
    crc.update(&[kind]);
    crc.update(payload);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&crc.finalize().to_le_bytes());
    buf.push(kind);
    buf.extend_from_slice(payload);
}

/// An append-only file of frames, rolled over at [`SEGMENT_BYTES`].
struct Segments {
    dir: PathBuf,
    file: File,
    number: u32,
    len: u64,
    fsyncs: u64,
    fsync_time: Duration,
}

impl Segments {
    fn create(dir: PathBuf) -> std::io::Result<Self> {
        fs::create_dir_all(&dir)?;
        let file = Self::open_new(&dir, 0)?;
        Ok(Self {
            dir,
            file,
            number: 0,
            len: 0,
            fsyncs: 0,
            fsync_time: Duration::ZERO,
        })
    }

    fn open_new(dir: &Path, number: u32) -> std::io::Result<File> {
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(dir.join(format!("{number:08}.seg")))?;
        // The new name must be durable before anything in it counts.
        File::open(dir)?.sync_all()?;
        Ok(file)
    }

    /// Where the next frame will start: (segment number, offset).
    fn position(&self) -> (u32, u64) {
        (self.number, self.len)
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> std::io::Result<()> {
        let started = Instant::now();
        self.file.sync_data()?;
        self.fsyncs += 1;
        self.fsync_time += started.elapsed();
        if self.len >= SEGMENT_BYTES {
            self.number += 1;
            self.file = Self::open_new(&self.dir, self.number)?;
            self.len = 0;
        }
        Ok(())
    }
}

/// What the indexer gets of one durable group.
struct IndexBatch {
    first_seq: u64,
    events: Vec<(IndexKeys, Option<String>)>,
    /// (blob reference or vault token, location), locations as `segment ‖ offset`.
    locations: Vec<(Vec<u8>, [u8; 12])>,
    durable_at: Instant,
}

struct IndexReport {
    lags: Vec<Duration>,
    cpu: Duration,
    /// Time spent in the full-text index and in the LSM, apart.
    text_time: Duration,
    lsm_time: Duration,
}

fn key(prefix: &str, value: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + value.len() + 10);
    k.extend_from_slice(prefix.as_bytes());
    k.extend_from_slice(value.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The indexer: the derived indexes, off the durable path. Each batch's rows and
/// its watermark go in one fjall batch and one SQLite transaction; a crash loses at
/// most what the next start replays from the log after the watermark.
fn run_indexer(
    db: fjall::Database,
    postings: fjall::Keyspace,
    locations: fjall::Keyspace,
    text: rusqlite::Connection,
    batches: Receiver<IndexBatch>,
    done: std::sync::mpsc::Sender<u64>,
) -> IndexReport {
    let started_cpu = thread_cpu();
    let mut lags = Vec::new();
    let mut text_time = Duration::ZERO;
    let mut lsm_time = Duration::ZERO;
    let mut insert = text
        .prepare("INSERT INTO events_fts(rowid, body) VALUES (?1, ?2)")
        .expect("prepare");
    while let Ok(first) = batches.recv() {
        // Take every batch waiting: fewer, larger transactions when behind.
        let mut group = vec![first];
        while let Ok(more) = batches.try_recv() {
            group.push(more);
        }
        let mut batch = db.batch();
        let mut last = 0;
        let started = Instant::now();
        text.execute_batch("BEGIN").expect("begin");
        for b in &group {
            for (i, (_, body)) in b.events.iter().enumerate() {
                if let Some(body) = body {
                    let seq = b.first_seq + i as u64;
                    insert
                        .execute(rusqlite::params![seq as i64, body])
                        .expect("fts insert");
                }
            }
        }
        let last_of_group = group
            .last()
            .map_or(0, |b| b.first_seq + b.events.len() as u64 - 1);
        text.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'indexed_through'",
            [last_of_group as i64],
        )
        .expect("watermark");
        text.execute_batch("COMMIT").expect("commit");
        text_time += started.elapsed();
        let started = Instant::now();
        for b in &group {
            for (i, (keys, _)) in b.events.iter().enumerate() {
                let seq = b.first_seq + i as u64;
                last = seq;
                let none: &[u8] = &[];
                batch.insert(&postings, key("t", &keys.trace_id, seq), none);
                batch.insert(&postings, key("a", &keys.agent, seq), none);
                batch.insert(&postings, key("y", &keys.event_type, seq), none);
                for (p, v) in [
                    ("s", &keys.subject),
                    ("j", &keys.job_id),
                    ("c", &keys.case_id),
                    ("r", &keys.workflow_run_id),
                ] {
                    if let Some(v) = v {
                        batch.insert(&postings, key(p, v, seq), none);
                    }
                }
                let mut time = b"m".to_vec();
                time.extend_from_slice(&keys.timestamp_micros.to_be_bytes());
                time.extend_from_slice(&seq.to_be_bytes());
                batch.insert(&postings, time, none);
            }
            for (name, at) in &b.locations {
                batch.insert(&locations, name.clone(), at.to_vec());
            }
        }
        batch.insert(&locations, "~indexed_through", last.to_be_bytes().to_vec());
        batch.commit().expect("index batch");
        lsm_time += started.elapsed();
        let now = Instant::now();
        lags.extend(group.iter().map(|b| now - b.durable_at));
        let _ = done.send(last);
    }
    IndexReport {
        lags,
        cpu: thread_cpu() - started_cpu,
        text_time,
        lsm_time,
    }
}

/// CPU time of the calling thread (`/proc/thread-self/stat`, clock ticks of 10 ms).
fn thread_cpu() -> Duration {
    cpu_of("/proc/thread-self/stat")
}

fn cpu_of(path: &str) -> Duration {
    let stat = fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15: indexes 11 and 12 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn write_bytes() -> u64 {
    fs::read_to_string("/proc/self/io")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// The writer's state: the tree, the back-link maps, the ids not yet indexed.
struct Writer {
    log: Segments,
    blobs: Segments,
    tiles: File,
    tree_size: u64,
    edge: HashMap<TileId, Vec<u8>>,
    last_of_trace: HashMap<String, u64>,
    last_of_subject: HashMap<String, u64>,
    event_ids: fjall::Keyspace,
    /// Ids written since the indexer's watermark; the index answers for older ones.
    unindexed_ids: HashMap<String, (u64, [u8; 32])>,
    compressor: zstd::bulk::Compressor<'static>,
    group_number: u64,
    duplicates: u64,
}

impl Writer {
    /// Appends one group durably; returns what the indexer needs.
    fn append(&mut self, events: &[Sealed]) -> std::io::Result<IndexBatch> {
        let mut log_buf = Vec::with_capacity(events.len() * 400);
        let mut blob_buf = Vec::with_capacity(events.len() * 1200);
        let mut leaves = Vec::with_capacity(events.len());
        let mut locations = Vec::new();
        let first_seq = self.tree_size;
        let (blob_segment, blob_start) = self.blobs.position();
        for (i, event) in events.iter().enumerate() {
            let id = &event.index.event_id;
            if self.unindexed_ids.contains_key(id)
                || self
                    .event_ids
                    .get(id.as_bytes())
                    .expect("index read")
                    .is_some()
            {
                // A real store answers the first `seq` here; the workload has none.
                self.duplicates += 1;
            }
            let seq = first_seq + i as u64;
            let trace_prev = self.last_of_trace.insert(event.index.trace_id.clone(), seq);
            let subject_prev = event
                .index
                .subject
                .as_ref()
                .and_then(|s| self.last_of_subject.insert(s.clone(), seq));
            let entry = event.members.with_position(seq, trace_prev, subject_prev);
            leaves.push(leaf_hash(&entry));
            let compressed = self.compressor.compress(&entry)?;
            let mut payload = Vec::with_capacity(8 + compressed.len());
            payload.extend_from_slice(&seq.to_le_bytes());
            payload.extend_from_slice(&compressed);
            push_frame(&mut log_buf, FRAME_ENTRY, &payload);

            for (reference, key_id, sealed) in &event.blobs {
                let at = blob_start + blob_buf.len() as u64;
                let mut payload = Vec::with_capacity(48 + sealed.len());
                payload.extend_from_slice(reference);
                payload.extend_from_slice(&seq.to_le_bytes());
                payload.push(key_id.len() as u8);
                payload.extend_from_slice(key_id.as_bytes());
                payload.extend_from_slice(sealed);
                push_frame(&mut blob_buf, FRAME_BLOB, &payload);
                locations.push((reference.to_vec(), location(blob_segment, at)));
            }
            for (token, kind, key_id, sealed) in &event.vault {
                let at = blob_start + blob_buf.len() as u64;
                let mut payload = Vec::with_capacity(64 + sealed.len());
                for part in [token.as_bytes(), kind.as_bytes(), key_id.as_bytes()] {
                    payload.push(part.len() as u8);
                    payload.extend_from_slice(part);
                }
                payload.extend_from_slice(&seq.to_le_bytes());
                payload.extend_from_slice(sealed);
                push_frame(&mut blob_buf, FRAME_VAULT, &payload);
                locations.push((token.as_bytes().to_vec(), location(blob_segment, at)));
            }
            self.unindexed_ids.insert(id.clone(), (seq, event.digest));
        }

        let integration = integrate(self.tree_size, &self.edge, &leaves)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.group_number += 1;
        let blob_end = blob_start + blob_buf.len() as u64;
        let mut commit = Vec::with_capacity(72);
        commit.extend_from_slice(&self.group_number.to_le_bytes());
        commit.extend_from_slice(&first_seq.to_le_bytes());
        commit.extend_from_slice(&integration.tree_size.to_le_bytes());
        commit.extend_from_slice(integration.root.as_bytes());
        commit.extend_from_slice(&blob_segment.to_le_bytes());
        commit.extend_from_slice(&blob_end.to_le_bytes());
        push_frame(&mut log_buf, FRAME_COMMIT, &commit);

        // Blobs first: a commit frame may only name blob bytes that are durable.
        self.blobs.write(&blob_buf)?;
        self.blobs.sync()?;
        self.log.write(&log_buf)?;
        self.log.sync()?;
        let durable_at = Instant::now();

        // Derived from here on: tiles (recomputable from the entries) are written
        // without a sync; the edge keeps only what the next append needs.
        let mut full = Vec::new();
        for (tile, data) in integration.tiles {
            if data.len() == FULL_TILE_BYTES {
                full.extend_from_slice(&tile.level.to_le_bytes());
                full.extend_from_slice(&tile.index.to_le_bytes());
                full.extend_from_slice(&data);
            }
            self.edge.insert(tile, data);
        }
        self.tiles.write_all(&full)?;
        self.tree_size = integration.tree_size;
        let keep = right_edge_tiles(self.tree_size);
        self.edge.retain(|tile, _| keep.contains(tile));

        Ok(IndexBatch {
            first_seq,
            events: events
                .iter()
                .map(|e| (e.index.clone(), e.text.clone()))
                .collect(),
            locations,
            durable_at,
        })
    }

    /// The ids the indexer has covered leave the writer's map for the index.
    fn indexed_through(&mut self, seq: u64, batch: &mut fjall::OwnedWriteBatch) {
        self.unindexed_ids.retain(|id, (s, digest)| {
            if *s <= seq {
                let mut value = s.to_be_bytes().to_vec();
                value.extend_from_slice(digest);
                batch.insert(&self.event_ids, id.as_bytes().to_vec(), value);
                false
            } else {
                true
            }
        });
    }
}

/// Reads the log back as `evident verify` would: every frame's CRC, every entry
/// decompressed at its `seq`, every leaf hashed, and the tree head of every commit
/// frame recomputed from the entries. Returns the number of entries checked, or the
/// first failure, naming the `seq` where there is one.
fn verify_log(segments: &[Vec<u8>], dictionary: &[u8]) -> Result<u64, String> {
    let mut decompressor =
        zstd::bulk::Decompressor::with_dictionary(dictionary).map_err(|e| e.to_string())?;
    let mut tree_size = 0u64;
    let mut edge: HashMap<TileId, Vec<u8>> = HashMap::new();
    let mut leaves = Vec::new();
    for (number, bytes) in segments.iter().enumerate() {
        let mut at = 0usize;
        while at < bytes.len() {
            let next_seq = tree_size + leaves.len() as u64;
            let damaged =
                |what: &str| format!("segment {number} offset {at} (seq {next_seq}): {what}");
            let header = bytes
                .get(at..at + 9)
                .ok_or_else(|| damaged("torn frame header"))?;
            let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
            if len == 0 {
                return Err(damaged("empty frame"));
            }
            let stored_crc = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
            let body = bytes
                .get(at + 8..at + 8 + len)
                .ok_or_else(|| damaged("frame runs past the end"))?;
            let mut crc = crc32fast::Hasher::new();
            crc.update(&header[..4]);
            crc.update(body);
            if crc.finalize() != stored_crc {
                return Err(damaged("frame checksum fails"));
            }
            let (kind, payload) = (body[0], &body[1..]);
            let shortest = match kind {
                FRAME_ENTRY => 8,
                FRAME_COMMIT => 56,
                _ => 0,
            };
            if payload.len() < shortest {
                return Err(damaged("frame too short for its kind"));
            }
            match kind {
                FRAME_ENTRY => {
                    let seq = u64::from_le_bytes(payload[..8].try_into().expect("8 bytes"));
                    if seq != next_seq {
                        return Err(damaged(&format!("entry frame says seq {seq}")));
                    }
                    let entry = decompressor
                        .decompress(&payload[8..], 1 << 20)
                        .map_err(|e| damaged(&format!("entry does not decompress: {e}")))?;
                    leaves.push(leaf_hash(&entry));
                }
                FRAME_COMMIT => {
                    let claimed_size = u64::from_le_bytes(payload[16..24].try_into().expect("8"));
                    let integration = integrate(tree_size, &edge, &leaves)
                        .map_err(|e| damaged(&e.to_string()))?;
                    if integration.tree_size != claimed_size
                        || integration.root.as_bytes()[..] != payload[24..56]
                    {
                        return Err(damaged("the commit's tree head does not match its entries"));
                    }
                    for (tile, data) in integration.tiles {
                        edge.insert(tile, data);
                    }
                    tree_size = integration.tree_size;
                    let keep = right_edge_tiles(tree_size);
                    edge.retain(|tile, _| keep.contains(tile));
                    leaves.clear();
                }
                other => return Err(damaged(&format!("unknown frame kind {other}"))),
            }
            at += 8 + len;
        }
    }
    if !leaves.is_empty() {
        return Err(format!(
            "{} entries after the last commit frame",
            leaves.len()
        ));
    }
    Ok(tree_size)
}

fn location(segment: u32, offset: u64) -> [u8; 12] {
    let mut at = [0u8; 12];
    at[..4].copy_from_slice(&segment.to_be_bytes());
    at[4..].copy_from_slice(&offset.to_be_bytes());
    at
}

fn read_lines(path: &Path, max: usize) -> std::io::Result<Vec<String>> {
    let file = File::open(path)?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "zst") {
        Box::new(zstd::stream::read::Decoder::new(file)?)
    } else {
        Box::new(file)
    };
    BufReader::new(reader)
        .lines()
        .take(max)
        .filter(|l| !l.as_ref().is_ok_and(|l| l.trim().is_empty()))
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let lines = read_lines(&args.input, args.events)?;
    if lines.len() < args.events {
        return Err(format!("{} holds only {} events", args.input.display(), lines.len()).into());
    }
    if args.dir.exists() {
        fs::remove_dir_all(&args.dir)?;
    }
    fs::create_dir_all(&args.dir)?;
    let detectors = Detectors::default();
    let token_key = TokenKey::from_bytes([7; 32]);

    // The dictionary is trained on the first entries, untimed (the SQLite store
    // trains it on a thread of its own once the log holds 4,096 entries).
    let samples_prepared = prepare(
        &lines[..DICTIONARY_SAMPLES.min(lines.len())],
        &detectors,
        &token_key,
    );
    let samples: Vec<Vec<u8>> = samples_prepared
        .iter()
        .enumerate()
        .map(|(i, e)| e.members.with_position(i as u64, None, None))
        .collect();
    let dictionary = zstd::dict::from_samples(&samples, 64 << 10)?;
    fs::write(args.dir.join("entries.dict"), &dictionary)?;
    drop(samples_prepared);

    let index_db = fjall::Database::builder(args.dir.join("index"))
        .cache_size(64 << 20)
        .open()?;
    let ids = index_db.keyspace("event_ids", fjall::KeyspaceCreateOptions::default)?;
    let postings = index_db.keyspace("postings", fjall::KeyspaceCreateOptions::default)?;
    let locations = index_db.keyspace("locations", fjall::KeyspaceCreateOptions::default)?;
    let text = rusqlite::Connection::open(args.dir.join("text.db"))?;
    // Derived and rebuilt from the log after a crash: no sync of its own.
    text.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;
         CREATE VIRTUAL TABLE events_fts USING fts5(body, content='', contentless_delete=1, tokenize='unicode61');
         CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER);
         INSERT INTO meta VALUES ('indexed_through', -1);",
    )?;

    let mut writer = Writer {
        log: Segments::create(args.dir.join("log"))?,
        blobs: Segments::create(args.dir.join("blobs"))?,
        tiles: File::create(args.dir.join("tiles.dat"))?,
        tree_size: 0,
        edge: HashMap::new(),
        last_of_trace: HashMap::new(),
        last_of_subject: HashMap::new(),
        event_ids: ids,
        unindexed_ids: HashMap::new(),
        compressor: zstd::bulk::Compressor::with_dictionary(1, &dictionary)?,
        group_number: 0,
        duplicates: 0,
    };

    let (to_indexer, batches) = sync_channel::<IndexBatch>(INDEX_QUEUE_GROUPS);
    let (indexed_tx, indexed_rx) = std::sync::mpsc::channel::<u64>();
    let indexer = {
        let db = index_db.clone();
        std::thread::spawn(move || run_indexer(db, postings, locations, text, batches, indexed_tx))
    };

    let mut timed = Duration::ZERO;
    let mut prep = Duration::ZERO;
    let mut prep_cpu = Duration::ZERO;
    let mut process_cpu = Duration::ZERO;
    let mut writer_cpu = Duration::ZERO;
    let mut written = 0u64;
    let mut blocked = Duration::ZERO;
    let mut catch_up = Vec::new();
    let mut indexed = None;
    for chunk in lines.chunks(CHUNK_EVENTS) {
        let cpu_before = cpu_of("/proc/self/stat");
        let started = Instant::now();
        let sealed = prepare(chunk, &detectors, &token_key);
        prep += started.elapsed();
        prep_cpu += cpu_of("/proc/self/stat") - cpu_before;

        let cpu_before = cpu_of("/proc/self/stat");
        let writer_before = thread_cpu();
        let bytes_before = write_bytes();
        let started = Instant::now();
        for group in sealed.chunks(args.group) {
            let batch = writer.append(group)?;
            let sent = Instant::now();
            to_indexer.send(batch)?;
            blocked += sent.elapsed();
            while let Ok(seq) = indexed_rx.try_recv() {
                indexed = Some(seq);
            }
            if let Some(seq) = indexed.take() {
                let mut b = index_db.batch();
                writer.indexed_through(seq, &mut b);
                b.commit()?;
            }
        }
        let written_at = Instant::now();
        let last = writer.tree_size - 1;
        loop {
            let seq = indexed_rx.recv()?;
            let mut b = index_db.batch();
            writer.indexed_through(seq, &mut b);
            b.commit()?;
            if seq == last {
                break;
            }
        }
        catch_up.push(written_at.elapsed());
        timed += started.elapsed();
        written += write_bytes() - bytes_before;
        writer_cpu += thread_cpu() - writer_before;
        process_cpu += cpu_of("/proc/self/stat") - cpu_before;
        drop(sealed);
    }
    drop(to_indexer);
    let report = indexer.join().expect("indexer panicked");
    index_db.persist(fjall::PersistMode::SyncAll)?;
    drop(index_db);

    // Read back: every frame, entry and tree head. Then the same bytes with one bit
    // flipped in the middle of the log must fail, naming where.
    let mut segment_files: Vec<PathBuf> = fs::read_dir(args.dir.join("log"))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    segment_files.sort();
    let segments: Vec<Vec<u8>> = segment_files
        .iter()
        .map(fs::read)
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    let checked = verify_log(&segments, &dictionary)?;
    let verify_time = started.elapsed();
    if checked != writer.tree_size {
        return Err(format!("read back {checked} entries of {}", writer.tree_size).into());
    }
    let mut flipped = segments;
    let middle = flipped[0].len() / 2;
    flipped[0][middle] ^= 0x10;
    let flip_report = match verify_log(&flipped, &dictionary) {
        Ok(_) => return Err("a flipped bit in the log went unnoticed".into()),
        Err(report) => report,
    };
    eprintln!("bit flip at offset {middle} of segment 0: {flip_report}");

    let n = args.events as f64;
    let mut lags = report.lags;
    lags.sort();
    catch_up.sort();
    let per_event = |d: Duration| d.as_secs_f64() * 1e6 / n;
    let sizes = [
        ("log", dir_bytes(&args.dir.join("log"))),
        ("blobs", dir_bytes(&args.dir.join("blobs"))),
        (
            "tiles",
            fs::metadata(args.dir.join("tiles.dat")).map_or(0, |m| m.len()),
        ),
        ("index", dir_bytes(&args.dir.join("index"))),
        (
            "text",
            ["text.db", "text.db-wal"]
                .iter()
                .map(|f| fs::metadata(args.dir.join(f)).map_or(0, |m| m.len()))
                .sum(),
        ),
    ];
    let total: u64 = sizes.iter().map(|(_, b)| b).sum();
    println!(
        "{{\"events\": {}, \"group\": {}, \"events_per_s\": {:.0}, \"timed_s\": {:.2}, \
         \"cpu_us_per_event\": {:.1}, \"writer_cpu_us_per_event\": {:.1}, \
         \"indexer_cpu_us_per_event\": {:.1}, \"write_bytes_per_event\": {:.0}, \
         \"fdatasyncs\": {}, \"fdatasync_ms_mean\": {:.2}, \
         \"index_lag_ms_p50\": {:.1}, \"index_lag_ms_p99\": {:.1}, \"index_lag_ms_max\": {:.1}, \
         \"catch_up_ms_max\": {:.1}, \"writer_blocked_s\": {:.2}, \
         \"prepare_cpu_us_per_event\": {:.1}, \"prepare_events_per_s\": {:.0}, \
         \"disk_bytes_per_event\": {:.0}, \"disk\": {{{}}}, \"duplicates\": {}, \
         \"verify_events_per_s_one_thread\": {:.0}, \
         \"indexer_text_s\": {:.2}, \"indexer_lsm_s\": {:.2}}}",
        args.events,
        args.group,
        n / timed.as_secs_f64(),
        timed.as_secs_f64(),
        per_event(process_cpu),
        per_event(writer_cpu),
        per_event(report.cpu),
        written as f64 / n,
        writer.log.fsyncs + writer.blobs.fsyncs,
        (writer.log.fsync_time + writer.blobs.fsync_time).as_secs_f64() * 1e3
            / (writer.log.fsyncs + writer.blobs.fsyncs).max(1) as f64,
        percentile(&lags, 0.5).as_secs_f64() * 1e3,
        percentile(&lags, 0.99).as_secs_f64() * 1e3,
        lags.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        catch_up.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        blocked.as_secs_f64(),
        per_event(prep_cpu),
        n / prep.as_secs_f64(),
        total as f64 / n,
        sizes
            .iter()
            .map(|(k, b)| format!("\"{k}\": {:.0}", *b as f64 / n))
            .collect::<Vec<_>>()
            .join(", "),
        writer.duplicates,
        n / verify_time.as_secs_f64(),
        report.text_time.as_secs_f64(),
        report.lsm_time.as_secs_f64(),
    );
    Ok(())
}

//! Entries kept compressed: zstd with a dictionary trained on the log's own entries.
//!
//! Why: an entry is ~1.5 KB of RFC 8785 JSON whose keys, agent names, model names and
//! versions repeat from entry to entry, but one entry alone is too small for a
//! compressor to find that out (zstd alone: ~1.6x). A dictionary trained on the
//! log's first entries supplies the repetition: ~5x on the bench's workload, which is
//! most of an event's bytes on disk and of the pages each commit writes.
//!
//! How an entry is stored (column `entries.entry`):
//! - bytes starting with `{`: the entry itself (RFC 8785 JSON always starts so);
//! - bytes starting with the zstd magic number: one zstd frame (RFC 8878) holding the
//!   entry, compressed with the dictionary whose id the frame header names (RFC 8878
//!   §3.1.1.1.3, `Dictionary_ID`), a row of `entry_dictionaries`;
//! - anything else is damage.
//!
//! Only the stored form changes: the Merkle leaf, every answer and `evident verify`
//! see the entry's exact bytes, decompressed on read. Entries written before the
//! dictionary existed stay as they are.
//!
//! When: once the log holds [`SqliteOptions::entry_dictionary_after`] entries, the
//! writer trains a dictionary from them on a thread of its own (ingest goes on
//! meanwhile), commits it in a transaction of its own, and only then compresses with
//! it — so no stored entry ever names a dictionary that is not durable. A store
//! opened later takes up the newest dictionary in the table. Several processes on one
//! data dir may each train one; every frame names its own, so any mix reads back.
//!
//! [`SqliteOptions::entry_dictionary_after`]: super::SqliteOptions::entry_dictionary_after

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use rusqlite::{params, Connection, OptionalExtension};
use zstd::zstd_safe::{self, CCtx, CParameter, DCtx, DDict};

/// RFC 8878 §3.1.1: every zstd frame starts with these bytes.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Largest dictionary trained (zstd's own tools default to 110 KB; 64 KiB gives
/// ~5x on entries of ~1.5 KB and keeps the decoder's copy small).
const DICTIONARY_BYTES: usize = 64 << 10;

/// Compression level of entries: 1 is the fastest, and the dictionary, not the level,
/// does most of the work (level 3 saves another ~3% at 80% of the speed).
const LEVEL: i32 = 1;

/// An entry claiming to decompress to more than this is damage, not an entry: no
/// request body the server takes is larger (its default limit is 16 MiB).
const MAX_ENTRY_BYTES: u64 = 16 << 20;

/// How long closing the store waits for a training in progress.
const FINISH_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

thread_local! {
    /// One decompression context per thread (making one allocates ~100 KB).
    static DECOMPRESSOR: RefCell<DCtx<'static>> = RefCell::new(DCtx::create());
}

/// The dictionaries readers have met, by id; shared by every connection of a store.
#[derive(Default)]
pub(crate) struct Dictionaries {
    by_id: RwLock<HashMap<u32, Arc<DDict<'static>>>>,
}

impl Dictionaries {
    /// The entry stored as `stored` in the row of `seq`: itself, or decompressed.
    /// A dictionary met for the first time is read from `conn`.
    pub(crate) fn unpack(
        &self,
        conn: &Connection,
        seq: i64,
        stored: Vec<u8>,
    ) -> rusqlite::Result<Vec<u8>> {
        self.try_unpack(conn, stored).map_err(|(stored, why)| {
            rusqlite::Error::FromSqlConversionFailure(
                stored.len(),
                rusqlite::types::Type::Blob,
                format!("seq {seq}: {why}").into(),
            )
        })
    }

    /// [`Self::unpack`] that gives the stored bytes back, with why, if they cannot be
    /// read as an entry (`evident verify` reports that at the entry's `seq`).
    pub(crate) fn try_unpack(
        &self,
        conn: &Connection,
        stored: Vec<u8>,
    ) -> Result<Vec<u8>, (Vec<u8>, String)> {
        let why = match stored.first() {
            Some(b'{') => return Ok(stored),
            _ if stored.starts_with(&ZSTD_MAGIC) => match self.decompress(conn, &stored) {
                Ok(entry) => return Ok(entry),
                Err(why) => why,
            },
            _ => "neither JSON nor a zstd frame".into(),
        };
        Err((
            stored,
            format!("the stored entry cannot be read back: {why}"),
        ))
    }

    fn decompress(&self, conn: &Connection, frame: &[u8]) -> Result<Vec<u8>, String> {
        let size = match zstd_safe::get_frame_content_size(frame) {
            Ok(Some(size)) if size <= MAX_ENTRY_BYTES => size,
            Ok(Some(size)) => return Err(format!("claims {size} bytes")),
            _ => return Err("no readable frame header".into()),
        };
        let id = zstd_safe::get_dict_id_from_frame(frame)
            .ok_or("the frame names no dictionary")?
            .get();
        let dictionary = self.get(conn, id)?;
        let mut out = Vec::with_capacity(usize::try_from(size).map_err(|e| e.to_string())?);
        DECOMPRESSOR.with(|dctx| {
            dctx.borrow_mut()
                .decompress_using_ddict(&mut out, frame, &dictionary)
                .map_err(|code| zstd_safe::get_error_name(code).to_owned())
        })?;
        if out.len() as u64 != size {
            return Err(format!(
                "{} bytes, not the {size} its header says",
                out.len()
            ));
        }
        Ok(out)
    }

    fn get(&self, conn: &Connection, id: u32) -> Result<Arc<DDict<'static>>, String> {
        if let Some(found) = self.by_id.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(found);
        }
        let bytes: Vec<u8> = conn
            .prepare_cached("SELECT dict FROM entry_dictionaries WHERE id = ?1")
            .and_then(|mut stmt| stmt.query_row([id], |r| r.get(0)).optional())
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("its dictionary {id} is missing"))?;
        let dictionary = Arc::new(DDict::try_create(&bytes).ok_or("a damaged dictionary")?);
        if let Ok(mut map) = self.by_id.write() {
            map.insert(id, dictionary.clone());
        }
        Ok(dictionary)
    }
}

/// The writer's side: compresses new entries once a dictionary is durable, and
/// trains that dictionary when the log is long enough. Used under the writer lock.
pub(super) struct Packer {
    path: PathBuf,
    /// Train once the log holds this many entries (0: never compress).
    after: u64,
    /// A compression context with the current dictionary loaded, once there is one.
    current: Option<CCtx<'static>>,
    training: Option<JoinHandle<Option<Vec<u8>>>>,
    /// Training was tried in this process (it is not retried if it failed).
    tried: bool,
}

impl Packer {
    /// Takes up the newest dictionary of the database, if there is one.
    pub(super) fn open(conn: &Connection, path: PathBuf, after: u64) -> rusqlite::Result<Self> {
        let newest: Option<Vec<u8>> = conn
            .query_row(
                "SELECT dict FROM entry_dictionaries ORDER BY created_at DESC, id LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok(Self {
            path,
            after,
            current: newest.and_then(|d| compressor(&d)),
            training: None,
            tried: false,
        })
    }

    /// After a commit that left the log at `size` entries: starts training when it
    /// is time, and makes a trained dictionary durable (a commit of its own) and current.
    pub(super) fn prepare(&mut self, conn: &Connection, size: u64) {
        if self.current.is_some() || self.after == 0 {
            return;
        }
        if self.training.is_none() && !self.tried && size >= self.after {
            self.tried = true;
            let (path, count) = (self.path.clone(), self.after);
            self.training = std::thread::Builder::new()
                .name("evident-dictionary".into())
                .spawn(move || train(&path, count))
                .ok();
        }
        if self.training.as_ref().is_some_and(JoinHandle::is_finished) {
            self.take_up(conn);
        }
    }

    /// On a clean close: waits (at most [`FINISH_WAIT`]) for a training in progress
    /// and keeps its dictionary, so that short-lived processes (`evident ingest`)
    /// leave one and the next process compresses from its first entry.
    pub(super) fn finish(&mut self, conn: &Connection) {
        let deadline = std::time::Instant::now() + FINISH_WAIT;
        while self.training.as_ref().is_some_and(|t| !t.is_finished()) {
            if std::time::Instant::now() > deadline {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        if self.training.is_some() {
            self.take_up(conn);
        }
    }

    /// Joins the training thread and stores what it trained.
    fn take_up(&mut self, conn: &Connection) {
        let Some(dictionary) = self.training.take().and_then(|t| t.join().ok()).flatten() else {
            return;
        };
        let (Some(id), Some(cctx)) = (
            zstd_safe::get_dict_id_from_dict(&dictionary),
            compressor(&dictionary),
        ) else {
            return;
        };
        let stored = conn.execute(
            "INSERT INTO entry_dictionaries(id, dict, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(id) DO NOTHING",
            params![id.get(), dictionary, now_micros()],
        );
        // Another process may have stored the same dictionary (the id is derived from
        // its content): use it only if the bytes are the same.
        let same = || -> rusqlite::Result<bool> {
            let kept: Vec<u8> = conn.query_row(
                "SELECT dict FROM entry_dictionaries WHERE id = ?1",
                [id.get()],
                |r| r.get(0),
            )?;
            Ok(kept == dictionary)
        };
        match stored {
            Ok(1) => self.current = Some(cctx),
            Ok(_) if same().unwrap_or(false) => self.current = Some(cctx),
            Ok(_) => tracing::warn!(id = id.get(), "another dictionary has this id"),
            Err(e) => tracing::warn!(error = %e, "could not store the entry dictionary"),
        }
    }

    /// The stored form of `entry`: compressed when a dictionary is current (and it
    /// helps), else the entry itself.
    pub(super) fn pack<'e>(&mut self, entry: &'e [u8]) -> Cow<'e, [u8]> {
        let Some(cctx) = &mut self.current else {
            return Cow::Borrowed(entry);
        };
        let mut out = Vec::with_capacity(zstd_safe::compress_bound(entry.len()));
        match cctx.compress2(&mut out, entry) {
            Ok(_) if out.len() < entry.len() => Cow::Owned(out),
            _ => Cow::Borrowed(entry),
        }
    }
}

/// A compression context for entries with `dictionary` loaded: level [`LEVEL`], the
/// content size and dictionary id in every frame header, and a checksum of the entry
/// in every frame (RFC 8878 §3.1.1: `Content_Checksum`), so a flipped bit in a stored
/// frame fails its decompression instead of decoding to other bytes.
fn compressor(dictionary: &[u8]) -> Option<CCtx<'static>> {
    let mut cctx = CCtx::try_create()?;
    cctx.set_parameter(CParameter::CompressionLevel(LEVEL))
        .ok()?;
    cctx.set_parameter(CParameter::ChecksumFlag(true)).ok()?;
    cctx.set_parameter(CParameter::ContentSizeFlag(true)).ok()?;
    cctx.set_parameter(CParameter::DictIdFlag(true)).ok()?;
    // Loaded once: the context keeps the tables built from it for every frame.
    cctx.load_dictionary(dictionary).ok()?;
    Some(cctx)
}

/// Trains a dictionary on the first `count` entries (on its own connection).
fn train(path: &std::path::Path, count: u64) -> Option<Vec<u8>> {
    let started = std::time::Instant::now();
    let conn = super::open_connection(path, true).ok()?;
    let readers = Dictionaries::default();
    let mut stmt = conn
        .prepare("SELECT seq, entry FROM entries WHERE seq < ?1 ORDER BY seq")
        .ok()?;
    let samples: Vec<Vec<u8>> = stmt
        .query_map([i64::try_from(count).ok()?], |r| {
            readers.unpack(&conn, r.get(0)?, r.get(1)?)
        })
        .ok()?
        .collect::<rusqlite::Result<_>>()
        .ok()?;
    // zstd's trainer wants ~10-100 times the dictionary's size in samples.
    let total: usize = samples.iter().map(Vec::len).sum();
    match zstd::dict::from_samples(&samples, DICTIONARY_BYTES.min(total / 10).max(1024)) {
        Ok(dictionary) => {
            tracing::info!(
                entries = samples.len(),
                bytes = dictionary.len(),
                ms = started.elapsed().as_millis(),
                "trained the entry dictionary"
            );
            Some(dictionary)
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not train an entry dictionary; entries stay uncompressed");
            None
        }
    }
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

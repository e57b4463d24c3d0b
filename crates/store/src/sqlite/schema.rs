//! The embedded store's schema and its migrations, keyed by `PRAGMA user_version`.
//!
//! Each migration is applied once, in order, inside one transaction. Never edit a
//! released migration: add the next one.

use rusqlite::Connection;

/// Migrations in order; `user_version` = how many have been applied.
const MIGRATIONS: &[&str] = &[
    // 1: the log, its tree, checkpoints, blobs, API keys.
    r"
CREATE TABLE meta(
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- One row per log entry; seq is the leaf index. The columns after `entry` are derived
-- from the entry (evident verify checks them) and exist for the indexes below.
CREATE TABLE entries(
  seq             INTEGER PRIMARY KEY,
  event_id        TEXT    NOT NULL,
  digest          BLOB    NOT NULL,   -- SHA-256 of the client's submission (idempotency)
  entry           BLOB    NOT NULL,   -- RFC 8785 bytes: the Merkle leaf
  trace_id        TEXT    NOT NULL,
  event_type      TEXT    NOT NULL,
  agent           TEXT    NOT NULL,
  job_id          TEXT,
  case_id         TEXT,
  workflow_run_id TEXT,
  subject         TEXT,               -- subject token, never a clear identifier
  ts              INTEGER NOT NULL    -- the event's timestamp, µs since the epoch
);
CREATE UNIQUE INDEX entries_by_event_id ON entries(event_id);
CREATE INDEX entries_by_trace   ON entries(trace_id, seq);
CREATE INDEX entries_by_job     ON entries(job_id, seq)          WHERE job_id IS NOT NULL;
CREATE INDEX entries_by_case    ON entries(case_id, seq)         WHERE case_id IS NOT NULL;
CREATE INDEX entries_by_run     ON entries(workflow_run_id, ts)  WHERE workflow_run_id IS NOT NULL;
CREATE INDEX entries_by_subject ON entries(subject, seq)         WHERE subject IS NOT NULL;
CREATE INDEX entries_by_agent   ON entries(agent, ts);
CREATE INDEX entries_by_type    ON entries(event_type, seq);
CREATE INDEX entries_by_time    ON entries(ts);

-- Hash tiles (C2SP tlog-tiles, height 8): the latest data of each tile; a partial
-- tile's row is rewritten as it grows, a full tile's never again.
CREATE TABLE tiles(
  level INTEGER NOT NULL,
  idx   INTEGER NOT NULL,
  data  BLOB    NOT NULL,
  PRIMARY KEY(level, idx)
) WITHOUT ROWID;

-- The integrated tree: exactly entries 0..size.
CREATE TABLE tree_head(
  id   INTEGER PRIMARY KEY CHECK (id = 0),
  size INTEGER NOT NULL,
  root BLOB    NOT NULL
);
INSERT INTO tree_head(id, size, root)
  VALUES (0, 0, X'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');

CREATE TABLE checkpoints(
  size       INTEGER PRIMARY KEY,
  root       BLOB    NOT NULL,
  note       TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);

-- Payloads and uploads, sealed (encrypted) under a data key: `sealed` opens to
-- salt || bytes. seq is NULL for an upload no entry references yet; only uploads
-- (uploaded = 1) may be referenced by an event's blob reference.
CREATE TABLE blobs(
  ref        BLOB    PRIMARY KEY,
  seq        INTEGER,
  uploaded   INTEGER NOT NULL DEFAULT 0,
  subject    TEXT,
  media_type TEXT    NOT NULL,
  size       INTEGER NOT NULL,
  key_id     TEXT    NOT NULL,
  sealed     BLOB    NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX blobs_by_seq ON blobs(seq);

-- Data keys, one active per subject ('' = the log's default key), wrapped by the
-- master key. Erasure deletes the subject's rows: with secure_delete the bytes are
-- zeroed in the file, and the WAL is truncated right after.
CREATE TABLE data_keys(
  key_id       TEXT    PRIMARY KEY,
  subject      TEXT    NOT NULL,
  wrapped      BLOB    NOT NULL,
  master_epoch INTEGER NOT NULL,
  created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX data_keys_by_subject ON data_keys(subject);

-- The vault: clear personal-data values, sealed under the key of the subject they
-- were found with, filed under their token.
CREATE TABLE vault(
  token  TEXT NOT NULL,
  key_id TEXT NOT NULL,
  kind   TEXT NOT NULL,
  sealed BLOB NOT NULL,
  PRIMARY KEY(token, key_id)
) WITHOUT ROWID;

-- Ids of destroyed data keys (never the keys): a blob whose key is listed here was
-- erased; a blob whose key is missing and not listed is damage.
CREATE TABLE destroyed_keys(
  key_id       TEXT    PRIMARY KEY,
  subject      TEXT    NOT NULL,
  destroyed_at INTEGER NOT NULL
);

CREATE TABLE erasures(
  subject   TEXT    PRIMARY KEY,
  erased_at INTEGER NOT NULL
);

CREATE TABLE api_keys(
  name       TEXT    PRIMARY KEY,
  role       TEXT    NOT NULL,
  key_hash   BLOB    NOT NULL UNIQUE,
  agents     TEXT    NOT NULL,        -- JSON array of agent ids; [] = any
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
",
    // 2: full-text search. Contentless (the text lives in entries and blobs) with
    // deletes allowed, so erasure and retention can remove an event's text.
    r"
CREATE VIRTUAL TABLE events_fts USING fts5(
  body,
  content = '',
  contentless_delete = 1,
  tokenize = 'unicode61'
);
INSERT INTO meta(key, value) VALUES ('text_indexed_through', '0');
",
];

/// Brings the database to the newest schema.
///
/// # Errors
/// SQLite errors, or a database newer than this program.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let applied: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if applied > MIGRATIONS.len() {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "the database schema version {applied} is newer than this program's {}",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied schema migration");
    }
    Ok(())
}

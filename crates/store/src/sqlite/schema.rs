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
    // 3: traces, jobs, cases and workflow runs are indexed by number, not by their ids.
    // An id's number is the `seq` of the first entry that named it (`id_numbers`), so
    // the numbers of the traces, jobs and runs in flight are all recent and new index
    // rows land at the right edge of each index. Indexed by their ids (random strings),
    // each insert dirtied a page somewhere in the index, and every commit wrote each
    // dirtied page whole to the WAL: at 300k events that was most of the 23 KB written
    // per event. The ids stay in their columns; `index_rows` reads them through the
    // numbers, so `evident verify` checks both.
    r"
CREATE TABLE id_numbers(
  kind  INTEGER NOT NULL,   -- 0 trace, 1 job, 2 case, 3 workflow run
  value TEXT    NOT NULL,
  no    INTEGER NOT NULL,
  PRIMARY KEY(kind, value)
) WITHOUT ROWID;
INSERT INTO id_numbers SELECT 0, trace_id, min(seq) FROM entries GROUP BY trace_id;
INSERT INTO id_numbers SELECT 1, job_id, min(seq) FROM entries WHERE job_id IS NOT NULL GROUP BY job_id;
INSERT INTO id_numbers SELECT 2, case_id, min(seq) FROM entries WHERE case_id IS NOT NULL GROUP BY case_id;
INSERT INTO id_numbers SELECT 3, workflow_run_id, min(seq) FROM entries
  WHERE workflow_run_id IS NOT NULL GROUP BY workflow_run_id;
ALTER TABLE entries ADD COLUMN trace_no INTEGER;
ALTER TABLE entries ADD COLUMN job_no INTEGER;
ALTER TABLE entries ADD COLUMN case_no INTEGER;
ALTER TABLE entries ADD COLUMN run_no INTEGER;
UPDATE entries SET
  trace_no = (SELECT no FROM id_numbers WHERE kind = 0 AND value = entries.trace_id),
  job_no = (SELECT no FROM id_numbers WHERE kind = 1 AND value = entries.job_id),
  case_no = (SELECT no FROM id_numbers WHERE kind = 2 AND value = entries.case_id),
  run_no = (SELECT no FROM id_numbers WHERE kind = 3 AND value = entries.workflow_run_id);
DROP INDEX entries_by_trace;
DROP INDEX entries_by_job;
DROP INDEX entries_by_case;
DROP INDEX entries_by_run;
CREATE INDEX entries_by_trace ON entries(trace_no, seq);
CREATE INDEX entries_by_job   ON entries(job_no, seq) WHERE job_no IS NOT NULL;
CREATE INDEX entries_by_case  ON entries(case_no, seq) WHERE case_no IS NOT NULL;
CREATE INDEX entries_by_run   ON entries(run_no, ts) WHERE run_no IS NOT NULL;
",
    // 4: zstd dictionaries that entries may be compressed with (`compress.rs`); `id` is
    // the dictionary's own id, which every frame compressed with it names.
    r"
CREATE TABLE entry_dictionaries(
  id         INTEGER PRIMARY KEY,
  dict       BLOB    NOT NULL,
  created_at INTEGER NOT NULL
);
",
    // 5: the artifact registry (`artifacts.rs`): immutable versions and the history of
    // label moves, each row written with its server event (published_at / moved_at =
    // the event's received_at, µs), so time travel reads rows, not the log.
    r"
CREATE TABLE artifacts(
  id           INTEGER PRIMARY KEY,
  kind         TEXT    NOT NULL,
  name         TEXT    NOT NULL,
  version      TEXT    NOT NULL,
  content      TEXT    NOT NULL,   -- RFC 8785 JSON
  content_hash TEXT    NOT NULL,   -- hex SHA-256 of content
  metadata     TEXT,
  event_id     TEXT    NOT NULL,   -- its artifact_publish event
  published_at INTEGER NOT NULL,
  UNIQUE(kind, name, version)
);
CREATE INDEX artifacts_by_time ON artifacts(kind, name, published_at, id);
CREATE TABLE artifact_label_moves(
  id           INTEGER PRIMARY KEY,
  kind         TEXT    NOT NULL,
  name         TEXT    NOT NULL,
  label        TEXT    NOT NULL,
  from_version TEXT,
  version      TEXT    NOT NULL,
  event_id     TEXT    NOT NULL,   -- its label_move event
  moved_at     INTEGER NOT NULL
);
CREATE INDEX artifact_label_moves_by_time ON artifact_label_moves(kind, name, label, moved_at, id);
",
    // 6: declared identifiers remembered per subject (`identifiers.rs`): sealed under
    // the subject's data key, deduplicated by a keyed hash, deleted by its erasure.
    r"
CREATE TABLE subject_identifiers(
  id         INTEGER PRIMARY KEY,
  subject    TEXT    NOT NULL,
  kind       TEXT    NOT NULL,
  value_hash BLOB    NOT NULL,
  key_id     TEXT    NOT NULL,
  sealed     BLOB    NOT NULL,
  UNIQUE(subject, kind, value_hash)
);
",
    // Human approvals (`approvals.rs`): a request's row is written with its
    // approval_request event and changed only with an approval_resolution event; each
    // resolution (escalations too) is a row of its own. Instants are µs.
    r"
CREATE TABLE IF NOT EXISTS approvals(
  approval_id  TEXT    PRIMARY KEY,
  job_id       TEXT    NOT NULL,
  job_hash     TEXT    NOT NULL,
  action       TEXT    NOT NULL,
  requested_by TEXT    NOT NULL,   -- the API key that asked
  trace_id     TEXT    NOT NULL,
  subject      TEXT,               -- subject token the draft is sealed under
  event_id     TEXT    NOT NULL,   -- its approval_request event
  opened_at    INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  state        TEXT    NOT NULL    -- open, approved, rejected, edited, expired
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS approvals_by_state ON approvals(state, opened_at, approval_id);
CREATE INDEX IF NOT EXISTS approvals_due ON approvals(expires_at) WHERE state = 'open';
CREATE INDEX IF NOT EXISTS approvals_by_job ON approvals(job_id);
CREATE INDEX IF NOT EXISTS approvals_by_requester ON approvals(requested_by, opened_at);
CREATE TABLE IF NOT EXISTS approval_resolutions(
  id             INTEGER PRIMARY KEY,
  approval_id    TEXT    NOT NULL,
  job_hash       TEXT    NOT NULL,
  resolution     TEXT    NOT NULL,   -- approved, rejected, edited, escalated, expired
  resolved_by    TEXT    NOT NULL,
  method         TEXT,
  final_job_hash TEXT,
  event_id       TEXT    NOT NULL,   -- its approval_resolution event
  resolved_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS approval_resolutions_by_approval ON approval_resolutions(approval_id, id);
",
    // Policy sets (`policies.rs`): versions, activations (publish and rollback; the
    // last activation's id is the policy generation) and the decision index
    // `GET /api/v1/policy/audit` filters, each row written with its server event.
    r"
CREATE TABLE IF NOT EXISTS policy_versions(
  set_id       TEXT    NOT NULL,
  version      INTEGER NOT NULL,
  text         TEXT    NOT NULL,
  schema       TEXT    NOT NULL,
  tests        TEXT    NOT NULL,   -- JSON array of test cases
  text_sha256  TEXT    NOT NULL,
  event_id     TEXT    NOT NULL,   -- its policy_publish event
  published_at INTEGER NOT NULL,
  PRIMARY KEY(set_id, version)
);
CREATE TABLE IF NOT EXISTS policy_activations(
  id       INTEGER PRIMARY KEY,     -- the generation it starts
  set_id   TEXT    NOT NULL,
  version  INTEGER NOT NULL,
  kind     TEXT    NOT NULL,        -- publish | rollback
  event_id TEXT    NOT NULL,
  at       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS policy_activations_by_set ON policy_activations(set_id, id);
CREATE TABLE IF NOT EXISTS policy_decisions(
  id         INTEGER PRIMARY KEY,
  event_id   TEXT    NOT NULL,
  decided_at INTEGER NOT NULL,
  decision   TEXT    NOT NULL,
  rule_id    TEXT,
  agent      TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS policy_decisions_by_time ON policy_decisions(decided_at, id);
CREATE INDEX IF NOT EXISTS policy_decisions_by_rule ON policy_decisions(rule_id, decided_at);
CREATE INDEX IF NOT EXISTS policy_decisions_by_agent ON policy_decisions(agent, decided_at);
",
    // Legal holds (`holds.rs`), blobs purged by retention (`retention.rs`) and the
    // read-access log (`access.rs`). Holds: each row written with its `legal_hold` event; lifting
    // sets `lifted_at`, the row stays. `kind` is subject, trace, job, case (`value`
    // the id) or time (`from_at`..`to_at`, the events' timestamps, µs).
    r"
CREATE TABLE IF NOT EXISTS legal_holds(
  hold_id   TEXT    PRIMARY KEY,
  kind      TEXT    NOT NULL,
  value     TEXT,
  from_at   INTEGER NOT NULL,
  to_at     INTEGER NOT NULL,
  reason    TEXT    NOT NULL,
  placed_by TEXT    NOT NULL,
  placed_at INTEGER NOT NULL,
  until_at  INTEGER,
  event_id  TEXT    NOT NULL,
  lifted_at INTEGER,
  lifted_by TEXT
);
-- Blobs a retention purge deleted (`retention.rs`): reads answer 410 naming the run,
-- `verify` counts them.
CREATE TABLE IF NOT EXISTS purged_blobs(
  ref       BLOB    PRIMARY KEY,
  seq       INTEGER NOT NULL,
  run_id    TEXT    NOT NULL,
  purged_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS purged_blobs_by_seq ON purged_blobs(seq);
-- The read-access log (`access.rs`): records numbered from 0, each batch written with
-- the access_log_checkpoint event that states its root.
CREATE TABLE IF NOT EXISTS access_log(
  seq    INTEGER PRIMARY KEY,
  key    TEXT    NOT NULL,
  at     INTEGER NOT NULL,
  record BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS access_log_by_key ON access_log(key, seq);
",
    // Witness cosignatures beside the checkpoints they sign, and what the server last
    // learned from each configured witness (`witnesses.rs`). Not log entries.
    r"
CREATE TABLE IF NOT EXISTS cosignatures(
  size        INTEGER NOT NULL,
  witness     TEXT    NOT NULL,
  line        TEXT    NOT NULL,
  timestamp   INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (size, witness)
);
CREATE TABLE IF NOT EXISTS witness_status(
  witness       TEXT PRIMARY KEY,
  known_size    INTEGER,
  cosigned_size INTEGER,
  cosigned_at   INTEGER,
  error         TEXT,
  error_at      INTEGER
);
",
    // The dashboard's rollup (`stats.rs`): events per hour (of their own timestamps),
    // agent and type, advanced with the text index's position, so it counts exactly the
    // entries the text index covers; filled here for those already indexed.
    r"
CREATE TABLE IF NOT EXISTS activity_hours(
  hour       INTEGER NOT NULL,   -- the hour's first µs
  agent      TEXT    NOT NULL,
  event_type TEXT    NOT NULL,
  events     INTEGER NOT NULL,
  PRIMARY KEY(hour, agent, event_type)
) WITHOUT ROWID;
INSERT INTO activity_hours(hour, agent, event_type, events)
  SELECT ts - ((ts % 3600000000) + 3600000000) % 3600000000, agent, event_type, count(*)
  FROM entries
  WHERE seq < CAST((SELECT value FROM meta WHERE key = 'text_indexed_through') AS INTEGER)
  GROUP BY 1, 2, 3
  ON CONFLICT(hour, agent, event_type) DO NOTHING;
",
    // Which entries use each vault value sealed under the log's default key (values
    // found in events without a subject; `retention.rs`): such a value is purged once
    // every trace that used it is. Written with the entry; a purge deletes the rows of
    // the entries it purges. Values sealed before this table have no rows: kept.
    r"
CREATE TABLE IF NOT EXISTS vault_uses(
  seq    INTEGER NOT NULL,
  key_id TEXT    NOT NULL,
  token  TEXT    NOT NULL,
  PRIMARY KEY(seq, key_id, token)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS vault_uses_by_value ON vault_uses(key_id, token, seq);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A data dir written before migration 3 gets numbers for the ids it holds, and
    /// its traces, jobs, cases and runs are found by them.
    #[test]
    fn migration_3_numbers_the_ids_already_stored() {
        let mut conn = Connection::open_in_memory().unwrap();
        for (i, sql) in MIGRATIONS.iter().take(2).enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", i + 1).unwrap();
        }
        let rows = [
            (0, "t1", Some("j1"), None, Some("run-1")),
            (1, "t2", Some("j1"), Some("c1"), None),
            (2, "t1", None, Some("c1"), Some("run-1")),
        ];
        for (seq, trace, job, case, run) in rows {
            conn.execute(
                "INSERT INTO entries(seq, event_id, digest, entry, trace_id, event_type, agent,
                                     job_id, case_id, workflow_run_id, subject, ts)
                 VALUES (?1, ?2, x'00', x'7b7d', ?3, 'step', 'a', ?4, ?5, ?6, NULL, 0)",
                rusqlite::params![seq, format!("e{seq}"), trace, job, case, run],
            )
            .unwrap();
        }
        migrate(&mut conn).unwrap();
        let numbers = |sql: &str| -> Vec<(i64, Option<i64>)> {
            let mut stmt = conn.prepare(sql).unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        assert_eq!(
            numbers("SELECT seq, trace_no FROM entries ORDER BY seq"),
            vec![(0, Some(0)), (1, Some(1)), (2, Some(0))]
        );
        assert_eq!(
            numbers("SELECT seq, job_no FROM entries ORDER BY seq"),
            vec![(0, Some(0)), (1, Some(0)), (2, None)]
        );
        assert_eq!(
            numbers("SELECT seq, case_no FROM entries ORDER BY seq"),
            vec![(0, None), (1, Some(1)), (2, Some(1))]
        );
        assert_eq!(
            numbers("SELECT seq, run_no FROM entries ORDER BY seq"),
            vec![(0, Some(0)), (1, None), (2, Some(0))]
        );
        let query = crate::SearchQuery {
            trace_id: Some("t1".into()),
            limit: 10,
            ..Default::default()
        };
        let found = crate::sqlite::search::search(&conn, &Default::default(), &query).unwrap();
        assert_eq!(found.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![0, 2]);
    }
}

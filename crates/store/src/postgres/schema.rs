//! The PostgreSQL schema and its migrations (`evident migrate`, and at every start).
//!
//! Append-only in the database too: triggers refuse UPDATE, DELETE and TRUNCATE of
//! entries and checkpoints, let hash tiles only grow (a partial tile's new data must
//! extend its old data), and let the tree head only grow. A bug or a stolen
//! application credential cannot rewrite history; a superuser still can (disable the
//! triggers), which is what `evident verify` and witnesses are for.

use tokio_postgres::Client;

/// Migrations in order; the `schema_version` row of `evident_schema` counts them.
const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE meta(
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT INTO meta(key, value) VALUES ('text_indexed_through', '0');

CREATE TABLE entries(
  seq             BIGINT PRIMARY KEY,
  event_id        TEXT   NOT NULL UNIQUE,
  digest          BYTEA  NOT NULL,
  entry           BYTEA  NOT NULL,
  trace_id        TEXT   NOT NULL,
  event_type      TEXT   NOT NULL,
  agent           TEXT   NOT NULL,
  job_id          TEXT,
  case_id         TEXT,
  workflow_run_id TEXT,
  subject         TEXT,
  ts              BIGINT NOT NULL
);
CREATE INDEX entries_by_trace   ON entries(trace_id, seq);
CREATE INDEX entries_by_job     ON entries(job_id, seq)         WHERE job_id IS NOT NULL;
CREATE INDEX entries_by_case    ON entries(case_id, seq)        WHERE case_id IS NOT NULL;
CREATE INDEX entries_by_run     ON entries(workflow_run_id, ts) WHERE workflow_run_id IS NOT NULL;
CREATE INDEX entries_by_subject ON entries(subject, seq)        WHERE subject IS NOT NULL;
CREATE INDEX entries_by_agent   ON entries(agent, ts);
CREATE INDEX entries_by_type    ON entries(event_type, seq);
CREATE INDEX entries_by_time    ON entries(ts);

CREATE TABLE tiles(
  level SMALLINT NOT NULL,
  idx   BIGINT   NOT NULL,
  data  BYTEA    NOT NULL,
  PRIMARY KEY(level, idx)
);

CREATE TABLE tree_head(
  id   INT    PRIMARY KEY CHECK (id = 0),
  size BIGINT NOT NULL,
  root BYTEA  NOT NULL
);
INSERT INTO tree_head(id, size, root)
  VALUES (0, 0, '\xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');

CREATE TABLE checkpoints(
  size       BIGINT PRIMARY KEY,
  root       BYTEA  NOT NULL,
  note       TEXT   NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE blobs(
  ref        BYTEA   PRIMARY KEY,
  seq        BIGINT,
  uploaded   BOOLEAN NOT NULL DEFAULT FALSE,
  subject    TEXT,
  media_type TEXT    NOT NULL,
  size       BIGINT  NOT NULL,
  key_id     TEXT    NOT NULL,
  sealed     BYTEA   NOT NULL,
  created_at BIGINT  NOT NULL
);
CREATE INDEX blobs_by_seq ON blobs(seq);

CREATE TABLE data_keys(
  key_id       TEXT   PRIMARY KEY,
  subject      TEXT   NOT NULL UNIQUE,
  wrapped      BYTEA  NOT NULL,
  master_epoch INT    NOT NULL,
  created_at   BIGINT NOT NULL
);
CREATE TABLE destroyed_keys(
  key_id       TEXT   PRIMARY KEY,
  subject      TEXT   NOT NULL,
  destroyed_at BIGINT NOT NULL
);
CREATE TABLE vault(
  token  TEXT  NOT NULL,
  key_id TEXT  NOT NULL,
  kind   TEXT  NOT NULL,
  sealed BYTEA NOT NULL,
  PRIMARY KEY(token, key_id)
);
CREATE TABLE erasures(
  subject   TEXT   PRIMARY KEY,
  erased_at BIGINT NOT NULL
);
CREATE TABLE api_keys(
  name       TEXT   PRIMARY KEY,
  role       TEXT   NOT NULL,
  key_hash   BYTEA  NOT NULL UNIQUE,
  agents     TEXT   NOT NULL,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT
);

-- Full-text search: a tsvector per entry, 'simple' configuration (no stemming, so
-- words, phrases and prefixes mean what they say).
CREATE TABLE event_texts(
  seq  BIGINT   PRIMARY KEY,
  body tsvector NOT NULL
);
CREATE INDEX event_texts_body ON event_texts USING GIN(body);

-- Append-only, enforced by the database.
CREATE FUNCTION evident_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'evident: % on % is refused: the log is append-only', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
  FOR EACH ROW EXECUTE FUNCTION evident_refuse();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
  FOR EACH STATEMENT EXECUTE FUNCTION evident_refuse();
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
  FOR EACH ROW EXECUTE FUNCTION evident_refuse();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION evident_refuse();
CREATE TRIGGER tiles_no_delete BEFORE DELETE ON tiles
  FOR EACH ROW EXECUTE FUNCTION evident_refuse();
CREATE TRIGGER tiles_no_truncate BEFORE TRUNCATE ON tiles
  FOR EACH STATEMENT EXECUTE FUNCTION evident_refuse();
CREATE TRIGGER tree_head_no_delete BEFORE DELETE ON tree_head
  FOR EACH ROW EXECUTE FUNCTION evident_refuse();
CREATE TRIGGER tree_head_no_truncate BEFORE TRUNCATE ON tree_head
  FOR EACH STATEMENT EXECUTE FUNCTION evident_refuse();

CREATE FUNCTION evident_tile_grows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF length(NEW.data) < length(OLD.data)
     OR substring(NEW.data FROM 1 FOR length(OLD.data)) <> OLD.data
     OR NEW.level <> OLD.level OR NEW.idx <> OLD.idx THEN
    RAISE EXCEPTION 'evident: a hash tile may only grow' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER tiles_only_grow BEFORE UPDATE ON tiles
  FOR EACH ROW EXECUTE FUNCTION evident_tile_grows();

CREATE FUNCTION evident_head_grows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.size < OLD.size THEN
    RAISE EXCEPTION 'evident: the tree head may only grow' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER tree_head_only_grows BEFORE UPDATE ON tree_head
  FOR EACH ROW EXECUTE FUNCTION evident_head_grows();
",
    // 2: the artifact registry (`artifacts.rs`): immutable versions and the history of
    // label moves, each row written with its server event (published_at / moved_at = the
    // event's received_at, µs). Both are append-only, like the log.
    r"
CREATE TABLE artifacts(
  id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind         TEXT   NOT NULL,
  name         TEXT   NOT NULL,
  version      TEXT   NOT NULL,
  content      TEXT   NOT NULL,
  content_hash TEXT   NOT NULL,
  metadata     TEXT,
  event_id     TEXT   NOT NULL,
  published_at BIGINT NOT NULL,
  UNIQUE (kind, name, version)
);
CREATE INDEX artifacts_by_time ON artifacts(kind, name, published_at, id);
CREATE TABLE artifact_label_moves(
  id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind         TEXT   NOT NULL,
  name         TEXT   NOT NULL,
  label        TEXT   NOT NULL,
  from_version TEXT,
  version      TEXT   NOT NULL,
  event_id     TEXT   NOT NULL,
  moved_at     BIGINT NOT NULL
);
CREATE INDEX artifact_label_moves_by_time ON artifact_label_moves(kind, name, label, moved_at, id);
CREATE TRIGGER artifacts_append_only BEFORE UPDATE OR DELETE ON artifacts
  FOR EACH ROW EXECUTE FUNCTION evident_refuse();
CREATE TRIGGER artifact_label_moves_append_only BEFORE UPDATE OR DELETE ON artifact_label_moves
  FOR EACH ROW EXECUTE FUNCTION evident_refuse();
",
    // 3: declared identifiers remembered per subject (`identifiers.rs`): sealed under
    // the subject's data key, deduplicated by a keyed hash, deleted by its erasure.
    r"
CREATE TABLE subject_identifiers(
  id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  subject    TEXT   NOT NULL,
  kind       TEXT   NOT NULL,
  value_hash BYTEA  NOT NULL,
  key_id     TEXT   NOT NULL,
  sealed     BYTEA  NOT NULL,
  UNIQUE (subject, kind, value_hash)
);
",
    // Human approvals (`approvals.rs`): a request's row is written with its
    // approval_request event and changed only with an approval_resolution event (one
    // conditional UPDATE); each resolution is an append-only row. Instants are µs.
    r#"
CREATE TABLE IF NOT EXISTS approvals(
  approval_id  TEXT COLLATE "C" PRIMARY KEY,
  job_id       TEXT   NOT NULL,
  job_hash     TEXT   NOT NULL,
  action       TEXT   NOT NULL,
  requested_by TEXT   NOT NULL,
  trace_id     TEXT   NOT NULL,
  subject      TEXT,
  event_id     TEXT   NOT NULL,
  opened_at    BIGINT NOT NULL,
  expires_at   BIGINT NOT NULL,
  state        TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS approvals_by_state ON approvals(state, opened_at, approval_id);
CREATE INDEX IF NOT EXISTS approvals_due ON approvals(expires_at) WHERE state = 'open';
CREATE INDEX IF NOT EXISTS approvals_by_job ON approvals(job_id);
CREATE INDEX IF NOT EXISTS approvals_by_requester ON approvals(requested_by, opened_at);
CREATE TABLE IF NOT EXISTS approval_resolutions(
  id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  approval_id    TEXT   NOT NULL,
  job_hash       TEXT   NOT NULL,
  resolution     TEXT   NOT NULL,
  resolved_by    TEXT   NOT NULL,
  method         TEXT,
  final_job_hash TEXT,
  event_id       TEXT   NOT NULL,
  resolved_at    BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS approval_resolutions_by_approval ON approval_resolutions(approval_id, id);
CREATE TRIGGER approval_resolutions_append_only BEFORE UPDATE OR DELETE ON approval_resolutions
  FOR EACH ROW EXECUTE FUNCTION evident_refuse();
CREATE TRIGGER approvals_no_delete BEFORE DELETE ON approvals
  FOR EACH ROW EXECUTE FUNCTION evident_refuse();
-- A request changes only from open to its resolution, and nothing else of it changes.
CREATE FUNCTION evident_approval_closes_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.state <> 'open' OR NEW.approval_id <> OLD.approval_id OR NEW.job_id <> OLD.job_id
     OR NEW.job_hash <> OLD.job_hash OR NEW.requested_by <> OLD.requested_by
     OR NEW.event_id <> OLD.event_id OR NEW.opened_at <> OLD.opened_at
     OR NEW.expires_at <> OLD.expires_at THEN
    RAISE EXCEPTION 'evident: an approval request closes once and is otherwise immutable'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER approvals_close_once BEFORE UPDATE ON approvals
  FOR EACH ROW EXECUTE FUNCTION evident_approval_closes_once();
"#,
    // Policy sets (`policies.rs`): versions, activations (publish and rollback; the
    // last activation's id is the policy generation) and the decision index, each row
    // written with its server event. Append-only, like the log.
    r"
CREATE TABLE IF NOT EXISTS policy_versions(
  set_id       TEXT   NOT NULL,
  version      BIGINT NOT NULL,
  text         TEXT   NOT NULL,
  schema       TEXT   NOT NULL,
  tests        TEXT   NOT NULL,
  text_sha256  TEXT   NOT NULL,
  event_id     TEXT   NOT NULL,
  published_at BIGINT NOT NULL,
  PRIMARY KEY (set_id, version)
);
CREATE TABLE IF NOT EXISTS policy_activations(
  id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  set_id   TEXT   NOT NULL,
  version  BIGINT NOT NULL,
  kind     TEXT   NOT NULL,
  event_id TEXT   NOT NULL,
  at       BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS policy_activations_by_set ON policy_activations(set_id, id);
CREATE TABLE IF NOT EXISTS policy_decisions(
  id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id   TEXT   NOT NULL,
  decided_at BIGINT NOT NULL,
  decision   TEXT   NOT NULL,
  rule_id    TEXT,
  agent      TEXT   NOT NULL
);
CREATE INDEX IF NOT EXISTS policy_decisions_by_time ON policy_decisions(decided_at, id);
CREATE INDEX IF NOT EXISTS policy_decisions_by_rule ON policy_decisions(rule_id, decided_at);
CREATE INDEX IF NOT EXISTS policy_decisions_by_agent ON policy_decisions(agent, decided_at);
DROP TRIGGER IF EXISTS policy_versions_append_only ON policy_versions;
CREATE TRIGGER policy_versions_append_only BEFORE UPDATE OR DELETE ON policy_versions
  FOR EACH ROW EXECUTE FUNCTION evident_refuse();
DROP TRIGGER IF EXISTS policy_activations_append_only ON policy_activations;
CREATE TRIGGER policy_activations_append_only BEFORE UPDATE OR DELETE ON policy_activations
  FOR EACH ROW EXECUTE FUNCTION evident_refuse();
",
    // Legal holds (`holds.rs`), blobs purged by retention (`retention.rs`) and the
    // read-access log (`access.rs`). Holds: each row written with its `legal_hold` event; lifting
    // sets `lifted_at`, the row stays. `kind` is subject, trace, job, case (`value`
    // the id) or time (`from_at`..`to_at`, the events' timestamps, µs).
    r"
CREATE TABLE IF NOT EXISTS legal_holds(
  hold_id   TEXT   PRIMARY KEY,
  kind      TEXT   NOT NULL,
  value     TEXT,
  from_at   BIGINT NOT NULL,
  to_at     BIGINT NOT NULL,
  reason    TEXT   NOT NULL,
  placed_by TEXT   NOT NULL,
  placed_at BIGINT NOT NULL,
  until_at  BIGINT,
  event_id  TEXT   NOT NULL,
  lifted_at BIGINT,
  lifted_by TEXT
);
-- Blobs a retention purge deleted (`retention.rs`): reads answer 410 naming the run,
-- `verify` counts them.
CREATE TABLE IF NOT EXISTS purged_blobs(
  ref       BYTEA  PRIMARY KEY,
  seq       BIGINT NOT NULL,
  run_id    TEXT   NOT NULL,
  purged_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS purged_blobs_by_seq ON purged_blobs(seq);
-- The read-access log (`access.rs`): records numbered from 0, each batch written with
-- the access_log_checkpoint event that states its root.
CREATE TABLE IF NOT EXISTS access_log(
  seq    BIGINT PRIMARY KEY,
  key    TEXT   NOT NULL,
  at     BIGINT NOT NULL,
  record BYTEA  NOT NULL
);
CREATE INDEX IF NOT EXISTS access_log_by_key ON access_log(key, seq);
",
    // Witness cosignatures beside the checkpoints they sign, and what the server last
    // learned from each configured witness (`witnesses.rs`). Not log entries.
    r"
CREATE TABLE IF NOT EXISTS cosignatures(
  size        BIGINT NOT NULL,
  witness     TEXT   NOT NULL,
  line        TEXT   NOT NULL,
  timestamp   BIGINT NOT NULL,
  received_at BIGINT NOT NULL,
  PRIMARY KEY (size, witness)
);
CREATE TABLE IF NOT EXISTS witness_status(
  witness       TEXT PRIMARY KEY,
  known_size    BIGINT,
  cosigned_size BIGINT,
  cosigned_at   BIGINT,
  error         TEXT,
  error_at      BIGINT
);
",
    // The dashboard's rollup (`stats.rs`): events per hour (of their own timestamps),
    // agent and type, advanced with the text index's position, so it counts exactly the
    // entries the text index covers; filled here for those already indexed.
    r"
CREATE TABLE IF NOT EXISTS activity_hours(
  hour       BIGINT NOT NULL,   -- the hour's first µs
  agent      TEXT   NOT NULL,
  event_type TEXT   NOT NULL,
  events     BIGINT NOT NULL,
  PRIMARY KEY(hour, agent, event_type)
);
INSERT INTO activity_hours(hour, agent, event_type, events)
  SELECT ts - ((ts % 3600000000) + 3600000000) % 3600000000, agent, event_type, count(*)
  FROM entries
  WHERE seq < (SELECT value::bigint FROM meta WHERE key = 'text_indexed_through')
  GROUP BY 1, 2, 3
  ON CONFLICT(hour, agent, event_type) DO NOTHING;
",
    // Which entries use each vault value sealed under the log's default key (values
    // found in events without a subject; `retention.rs`): such a value is purged once
    // every trace that used it is. Written with the entry; a purge deletes the rows of
    // the entries it purges. Values sealed before this table have no rows: kept.
    r"
CREATE TABLE IF NOT EXISTS vault_uses(
  seq    BIGINT NOT NULL,
  key_id TEXT   NOT NULL,
  token  TEXT   NOT NULL,
  PRIMARY KEY(seq, key_id, token)
);
CREATE INDEX IF NOT EXISTS vault_uses_by_value ON vault_uses(key_id, token, seq);
",
];

/// Brings the database to the newest schema, serialized by an advisory lock so that
/// several servers starting at once migrate once.
///
/// # Errors
/// SQL errors, or a database newer than this program.
pub async fn migrate(client: &mut Client) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    // 0x45564944 = "EVID": one lock id for migrations.
    tx.execute("SELECT pg_advisory_xact_lock(1163282756)", &[])
        .await?;
    // Only when missing: `CREATE TABLE IF NOT EXISTS` checks the right to create in
    // the schema before it looks, so a server's least-privilege role (which may not
    // create tables; PostgreSQL 15+ gives no one CREATE on `public` by default) could
    // not even start on a database the owner already migrated.
    let exists: bool = tx
        .query_one("SELECT to_regclass('evident_schema') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        tx.batch_execute("CREATE TABLE evident_schema(version INT NOT NULL)")
            .await?;
    }
    let applied: i64 = tx
        .query_one("SELECT count(*) FROM evident_schema", &[])
        .await?
        .get(0);
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(applied).unwrap_or(0))
    {
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO evident_schema(version) VALUES ($1)",
            &[&(i32::try_from(i + 1).unwrap_or(i32::MAX))],
        )
        .await?;
        tracing::info!(version = i + 1, "applied PostgreSQL schema migration");
    }
    tx.commit().await
}

/// Grants an application role what a server needs and no more: log tables are
/// INSERT and SELECT only (the triggers above refuse the rest even to the owner).
pub fn grant_sql(role: &str) -> String {
    let role = format!("\"{}\"", role.replace('"', "\"\""));
    format!(
        "GRANT SELECT, INSERT ON entries, checkpoints TO {role};
         GRANT SELECT, INSERT, UPDATE ON tiles, tree_head TO {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON blobs, data_keys, vault, meta, api_keys, event_texts, subject_identifiers TO {role};
         GRANT SELECT, INSERT ON destroyed_keys, erasures, evident_schema TO {role};
         GRANT UPDATE ON erasures TO {role};
         GRANT SELECT, INSERT ON artifacts, artifact_label_moves TO {role};
         GRANT SELECT, INSERT, UPDATE ON approvals TO {role};
         GRANT SELECT, INSERT ON approval_resolutions TO {role};
         GRANT SELECT, INSERT ON policy_versions, policy_activations, policy_decisions TO {role};
         GRANT SELECT, INSERT, UPDATE ON legal_holds TO {role};
         GRANT SELECT, INSERT ON purged_blobs, access_log TO {role};
         GRANT SELECT, INSERT, UPDATE ON cosignatures, witness_status TO {role};
         GRANT SELECT, INSERT, UPDATE ON activity_hours TO {role};
         GRANT SELECT, INSERT, DELETE ON vault_uses TO {role};"
    )
}

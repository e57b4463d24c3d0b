#!/usr/bin/env bash
# The PostgreSQL reference for BENCHMARKS.md: the bench's workload loaded by COPY into
# a plain table whose trigger chains every row's hash to the previous one, with the
# indexes idempotency and trace look-ups need (a unique event_id, trace_id). No
# privacy layer, no payload blobs, no Merkle tree, no checkpoints: what a team could
# build with a database and a trigger, so readers see the ratio to Evident.
#
# Durability is Evident's: synchronous_commit=on and fsync=on (pg-cluster's settings),
# one transaction per batch of BATCH events (as `evident bench`'s 1,000-event
# requests), CLIENTS sessions at once (the chain's head row serializes them, as
# Evident's single writer does).
#
# Usage: scripts/pg-reference.sh WORKLOAD.ndjson[.zst] [EVENTS] [BATCH] [CLIENTS]
#   the workload: `evident bench --events N --seed 1 --emit-workload FILE.ndjson.zst`.
# Needs EVIDENT_TEST_DATABASE_URL (eval "$(scripts/pg-cluster start DIR)"); prints one
# JSON line of figures.
set -euo pipefail

workload="${1:?usage: $0 WORKLOAD.ndjson[.zst] [EVENTS] [BATCH] [CLIENTS]}"
events="${2:-100000}"
batch="${3:-1000}"
clients="${4:-4}"
url="${EVIDENT_TEST_DATABASE_URL:?start a cluster: eval \"\$(scripts/pg-cluster start DIR)\"}"
bin="${EVIDENT_TEST_PG_BIN:-$(dirname "$(command -v psql)")}"
psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 "$url")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The batches, cut before the clock starts (as the bench prepares its request bodies).
# `head` closes the pipe early, so the reader's SIGPIPE is expected here; the count
# below catches a short file.
(
  set +o pipefail
  case "$workload" in
    *.zst) zstd -dc "$workload" 2>/dev/null ;;
    *) cat "$workload" ;;
  esac | head -n "$events" | split -l "$batch" -d -a 6 - "$work/batch."
)
loaded=$(cat "$work"/batch.* | wc -l)
[ "$loaded" -eq "$events" ] || { echo "$workload holds only $loaded events" >&2; exit 1; }

"${psql[@]}" <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS reference_events, reference_head;
CREATE TABLE reference_head (id int PRIMARY KEY, seq bigint NOT NULL, hash bytea NOT NULL);
INSERT INTO reference_head VALUES (1, -1, '\x'::bytea);
CREATE TABLE reference_events (
  seq bigint PRIMARY KEY,
  event_id text NOT NULL UNIQUE,
  trace_id text NOT NULL,
  body jsonb NOT NULL,
  prev_hash bytea NOT NULL,
  hash bytea NOT NULL
);
CREATE INDEX reference_events_trace ON reference_events (trace_id, seq);
-- Each row: the next seq and SHA-256(previous hash || the event's bytes), under the
-- head row's lock, so the chain has one order and no fork.
CREATE OR REPLACE FUNCTION reference_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  head reference_head%ROWTYPE;
BEGIN
  SELECT * INTO head FROM reference_head WHERE id = 1 FOR UPDATE;
  NEW.seq := head.seq + 1;
  NEW.event_id := NEW.body->>'event_id';
  NEW.trace_id := NEW.body->>'trace_id';
  NEW.prev_hash := head.hash;
  NEW.hash := sha256(head.hash || convert_to(NEW.body::text, 'UTF8'));
  UPDATE reference_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
  RETURN NEW;
END $$;
CREATE TRIGGER reference_chain BEFORE INSERT ON reference_events
  FOR EACH ROW EXECUTE FUNCTION reference_chain();
SQL

# One psql session per client, each loading its share of the batches with one COPY
# (one transaction, one commit) per batch. The CSV quote and delimiter are bytes JSON
# never holds, so each line arrives as it is.
ls "$work"/batch.* > "$work/all"
for c in $(seq 0 $((clients - 1))); do
  awk -v c="$c" -v n="$clients" 'NR % n == c' "$work/all" |
    while read -r f; do
      echo "\\copy reference_events (body) FROM '$f' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
    done > "$work/client.$c.sql"
done

start=$(date +%s.%N)
pids=()
for c in $(seq 0 $((clients - 1))); do
  "${psql[@]}" -f "$work/client.$c.sql" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
end=$(date +%s.%N)

rows=$("${psql[@]}" -At -c "SELECT count(*) FROM reference_events")
size=$("${psql[@]}" -At -c "SELECT pg_total_relation_size('reference_events')")
python3 - "$events" "$batch" "$clients" "$start" "$end" "$rows" "$size" <<'PY'
import json, sys
events, batch, clients = map(int, sys.argv[1:4])
start, end = float(sys.argv[4]), float(sys.argv[5])
rows, size = int(sys.argv[6]), int(sys.argv[7])
assert rows == events, f"{rows} rows for {events} events"
print(json.dumps({"events": events, "batch": batch, "clients": clients,
                  "seconds": round(end - start, 2),
                  "events_per_s": round(events / (end - start)),
                  "table_bytes_per_event": round(size / events)}))
PY

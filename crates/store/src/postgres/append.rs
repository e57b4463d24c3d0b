//! Sequencing and integration in one PostgreSQL transaction.
//!
//! Several servers may append at once: each takes the tree head's row lock
//! (`SELECT ... FOR UPDATE`), so appends are serialized across processes and every
//! one sees the tree the previous one left. Inside the lock the steps are those of
//! the embedded store (see `sqlite/append.rs`), decided by the same pure
//! [`GroupPlanner`]: plan, apply effects, sequence, write, integrate, move the head;
//! the commit (with `synchronous_commit = on`) makes it durable. Look-ups take one
//! round trip per request: its ids, then the traces and subjects it continues.

use std::collections::HashMap;

use evident_tlog::{integrate, leaf_hash, right_edge_tiles, Hash, TileMap};
use tokio_postgres::Transaction;

use super::{map_err, pg_seq, seq_of};
use crate::plan::{answers, FirstAnswer, GroupPlanner, LinkKind, LinkLookup, LinksBefore};
use crate::{AppendOutcome, AppendRequest, EventToAppend, StoreError, StoreResult};

pub(super) async fn append(
    tx: &Transaction<'_>,
    requests: Vec<AppendRequest>,
) -> StoreResult<Vec<AppendOutcome>> {
    tx.batch_execute("SET LOCAL synchronous_commit = on")
        .await
        .map_err(map_err)?;
    let head = tx
        .query_one(
            "SELECT size, root FROM tree_head WHERE id = 0 FOR UPDATE",
            &[],
        )
        .await
        .map_err(map_err)?;
    let old_size = seq_of(head.get::<_, i64>(0));
    let mut planner = GroupPlanner::new(old_size);
    let mut rows = Rows::default();
    let mut leaves: Vec<Hash> = Vec::new();
    let mut outcomes = Vec::with_capacity(requests.len());

    for request in &requests {
        let stored = first_answers(tx, &planner.ids_to_look_up(request)).await?;
        let plan = match planner.plan(request, &stored) {
            Ok(plan) => plan,
            Err(conflict) => {
                outcomes.push(conflict);
                continue;
            }
        };
        if let Err(refused) = apply_effects(tx, &request.effects).await? {
            outcomes.push(refused);
            continue;
        }
        let before = links_before(tx, &planner.links_to_look_up(request, &plan)).await?;
        for entry in planner.accept(request, &plan, &before) {
            let appended = &request.events[entry.index];
            let bytes = appended.event.members.with_position(
                entry.seq,
                entry.trace_prev,
                entry.subject_prev,
            );
            leaves.push(leaf_hash(&bytes));
            rows.push(entry.seq, bytes, appended);
        }
        outcomes.push(AppendOutcome::Appended(answers(request, &plan, |seq| {
            leaves[usize::try_from(seq - old_size).expect("a group fits in memory")]
        })));
    }
    if leaves.is_empty() {
        return Ok(outcomes);
    }
    rows.write(tx).await?;
    integrate_leaves(tx, old_size, &leaves).await?;
    Ok(outcomes)
}

/// Applies a request's effects, before its events (see `effect.rs`); a refusal rolls
/// back the request's effects alone, to a savepoint taken only when there are any.
async fn apply_effects(
    tx: &Transaction<'_>,
    effects: &[crate::Effect],
) -> StoreResult<Result<(), AppendOutcome>> {
    if effects.is_empty() {
        return Ok(Ok(()));
    }
    tx.batch_execute("SAVEPOINT effects")
        .await
        .map_err(map_err)?;
    for (index, effect) in effects.iter().enumerate() {
        if let Err(error) = super::effects::apply(tx, effect).await? {
            tx.batch_execute("ROLLBACK TO SAVEPOINT effects; RELEASE SAVEPOINT effects")
                .await
                .map_err(map_err)?;
            return Ok(Err(AppendOutcome::Refused { index, error }));
        }
    }
    tx.batch_execute("RELEASE SAVEPOINT effects")
        .await
        .map_err(map_err)?;
    Ok(Ok(()))
}

/// The first answers of these `event_id`s, where the log already holds them.
async fn first_answers(
    tx: &Transaction<'_>,
    event_ids: &[&str],
) -> StoreResult<HashMap<String, FirstAnswer>> {
    if event_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = tx
        .query(
            "SELECT event_id, seq, digest, entry FROM entries WHERE event_id = ANY($1)",
            &[&event_ids],
        )
        .await
        .map_err(map_err)?;
    rows.into_iter()
        .map(|r| {
            let seq = seq_of(r.get(1));
            let digest: Vec<u8> = r.get(2);
            let digest = digest.try_into().map_err(|_| {
                StoreError::Corrupt(format!("seq {seq}: the stored digest is not 32 bytes"))
            })?;
            let entry: Vec<u8> = r.get(3);
            Ok((
                r.get(0),
                FirstAnswer {
                    seq,
                    digest,
                    leaf_hash: leaf_hash(&entry),
                },
            ))
        })
        .collect()
}

/// The newest `seq` of each trace and subject looked up, in one round trip per kind;
/// each is the index's max (a backward step of its `(…, seq)` index).
async fn links_before(
    tx: &Transaction<'_>,
    lookups: &[LinkLookup<'_>],
) -> StoreResult<LinksBefore> {
    let mut before = LinksBefore::new();
    for (kind, sql) in [
        (
            LinkKind::Trace,
            "SELECT v, (SELECT max(seq) FROM entries WHERE trace_id = v)
             FROM unnest($1::text[]) AS v",
        ),
        (
            LinkKind::Subject,
            "SELECT v, (SELECT max(seq) FROM entries WHERE subject = v)
             FROM unnest($1::text[]) AS v",
        ),
    ] {
        let values: Vec<&str> = lookups
            .iter()
            .filter(|l| l.kind == kind)
            .map(|l| l.value)
            .collect();
        if values.is_empty() {
            continue;
        }
        for row in tx.query(sql, &[&values]).await.map_err(map_err)? {
            let previous: Option<i64> = row.get(1);
            before.insert((kind, row.get(0)), previous.map(seq_of));
        }
    }
    Ok(before)
}

/// New rows of one transaction, written with one multi-row statement per table.
#[derive(Default)]
struct Rows {
    seq: Vec<i64>,
    event_id: Vec<String>,
    digest: Vec<Vec<u8>>,
    entry: Vec<Vec<u8>>,
    trace_id: Vec<String>,
    event_type: Vec<String>,
    agent: Vec<String>,
    job_id: Vec<Option<String>>,
    case_id: Vec<Option<String>>,
    run_id: Vec<Option<String>>,
    subject: Vec<Option<String>>,
    ts: Vec<i64>,
    blobs: Vec<(i64, Option<String>, i64, crate::SealedBlob)>,
    claims: Vec<(i64, Option<String>, crate::SealedBlob)>,
    values: Vec<crate::SealedValue>,
    /// (seq, key id, token) of the values of events without a subject (`vault_uses`).
    uses: Vec<(i64, String, String)>,
    remember: Vec<crate::SealedIdentifier>,
}

impl Rows {
    fn push(&mut self, seq: u64, bytes: Vec<u8>, appended: &EventToAppend) {
        let keys = &appended.event.index;
        self.seq.push(pg_seq(seq));
        self.event_id.push(keys.event_id.clone());
        self.digest.push(appended.event.submission_digest.to_vec());
        self.entry.push(bytes);
        self.trace_id.push(keys.trace_id.clone());
        self.event_type.push(keys.event_type.clone());
        self.agent.push(keys.agent.clone());
        self.job_id.push(keys.job_id.clone());
        self.case_id.push(keys.case_id.clone());
        self.run_id.push(keys.workflow_run_id.clone());
        self.subject.push(keys.subject.clone());
        self.ts.push(keys.timestamp_micros);
        for blob in &appended.blobs {
            self.blobs.push((
                pg_seq(seq),
                keys.subject.clone(),
                keys.timestamp_micros,
                blob.clone(),
            ));
        }
        for blob in &appended.claimed_uploads {
            self.claims
                .push((pg_seq(seq), keys.subject.clone(), blob.clone()));
        }
        self.values.extend(appended.vault.iter().cloned());
        // Values of an event without a subject are under the log's default key, shared
        // by every such event: which entries use them decides when retention purges them.
        if keys.subject.is_none() {
            for value in &appended.vault {
                self.uses
                    .push((pg_seq(seq), value.key_id.clone(), value.token.clone()));
            }
        }
        self.remember.extend(appended.remember.iter().cloned());
    }

    async fn write(&self, tx: &Transaction<'_>) -> StoreResult<()> {
        tx.execute(
            "INSERT INTO entries(seq, event_id, digest, entry, trace_id, event_type, agent,
                                 job_id, case_id, workflow_run_id, subject, ts)
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bytea[], $4::bytea[], $5::text[],
                                  $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                                  $11::text[], $12::bigint[])",
            &[
                &self.seq,
                &self.event_id,
                &self.digest,
                &self.entry,
                &self.trace_id,
                &self.event_type,
                &self.agent,
                &self.job_id,
                &self.case_id,
                &self.run_id,
                &self.subject,
                &self.ts,
            ],
        )
        .await
        .map_err(map_err)?;
        if !self.blobs.is_empty() {
            let refs: Vec<Vec<u8>> = self
                .blobs
                .iter()
                .map(|b| b.3.reference.0.to_vec())
                .collect();
            let seqs: Vec<i64> = self.blobs.iter().map(|b| b.0).collect();
            let subjects: Vec<Option<String>> = self.blobs.iter().map(|b| b.1.clone()).collect();
            let media: Vec<String> = self.blobs.iter().map(|b| b.3.media_type.clone()).collect();
            let sizes: Vec<i64> = self
                .blobs
                .iter()
                .map(|b| i64::try_from(b.3.size).unwrap_or(i64::MAX))
                .collect();
            let key_ids: Vec<String> = self.blobs.iter().map(|b| b.3.key_id.clone()).collect();
            let sealed: Vec<Vec<u8>> = self.blobs.iter().map(|b| b.3.sealed.clone()).collect();
            let created: Vec<i64> = self.blobs.iter().map(|b| b.2).collect();
            tx.execute(
                "INSERT INTO blobs(ref, seq, uploaded, subject, media_type, size, key_id, sealed, created_at)
                 SELECT r, s, FALSE, sub, m, sz, k, se, c
                 FROM UNNEST($1::bytea[], $2::bigint[], $3::text[], $4::text[], $5::bigint[],
                             $6::text[], $7::bytea[], $8::bigint[]) AS t(r, s, sub, m, sz, k, se, c)",
                &[&refs, &seqs, &subjects, &media, &sizes, &key_ids, &sealed, &created],
            )
            .await
            .map_err(map_err)?;
        }
        for (seq, subject, blob) in &self.claims {
            tx.execute(
                "UPDATE blobs SET seq = $1, subject = $2, key_id = $3, sealed = $4
                 WHERE ref = $5 AND uploaded AND seq IS NULL",
                &[
                    seq,
                    subject,
                    &blob.key_id,
                    &blob.sealed,
                    &blob.reference.0.as_slice(),
                ],
            )
            .await
            .map_err(map_err)?;
        }
        for value in &self.values {
            tx.execute(
                "INSERT INTO vault(token, key_id, kind, sealed) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (token, key_id) DO NOTHING",
                &[&value.token, &value.key_id, &value.kind, &value.sealed],
            )
            .await
            .map_err(map_err)?;
        }
        if !self.uses.is_empty() {
            let seqs: Vec<i64> = self.uses.iter().map(|u| u.0).collect();
            let key_ids: Vec<&str> = self.uses.iter().map(|u| u.1.as_str()).collect();
            let tokens: Vec<&str> = self.uses.iter().map(|u| u.2.as_str()).collect();
            tx.execute(
                "INSERT INTO vault_uses(seq, key_id, token)
                 SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[])
                 ON CONFLICT DO NOTHING",
                &[&seqs, &key_ids, &tokens],
            )
            .await
            .map_err(map_err)?;
        }
        if !self.remember.is_empty() {
            super::identifiers::remember(tx, &self.remember).await?;
        }
        Ok(())
    }
}

async fn integrate_leaves(tx: &Transaction<'_>, old_size: u64, leaves: &[Hash]) -> StoreResult<()> {
    let mut edge = TileMap::new();
    for id in right_edge_tiles(old_size) {
        let row = tx
            .query_opt(
                "SELECT data FROM tiles WHERE level = $1 AND idx = $2",
                &[&i16::from(id.level), &pg_seq(id.index)],
            )
            .await
            .map_err(map_err)?
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "tile {}/{} missing at tree size {old_size}",
                    id.level, id.index
                ))
            })?;
        edge.insert(id, row.get(0));
    }
    let integration = integrate(old_size, &edge, leaves)
        .map_err(|e| StoreError::Corrupt(format!("integrating at size {old_size}: {e}")))?;
    for (id, data) in &integration.tiles {
        tx.execute(
            "INSERT INTO tiles(level, idx, data) VALUES ($1, $2, $3)
             ON CONFLICT (level, idx) DO UPDATE SET data = excluded.data",
            &[&i16::from(id.level), &pg_seq(id.index), data],
        )
        .await
        .map_err(map_err)?;
    }
    let moved = tx
        .execute(
            "UPDATE tree_head SET size = $1, root = $2 WHERE id = 0 AND size = $3",
            &[
                &pg_seq(integration.tree_size),
                &integration.root.0.as_slice(),
                &pg_seq(old_size),
            ],
        )
        .await
        .map_err(map_err)?;
    if moved != 1 {
        return Err(StoreError::Conflict(format!(
            "tree head moved from {old_size} during append"
        )));
    }
    Ok(())
}

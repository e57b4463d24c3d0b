//! Sequencing and integration in one SQLite transaction (the embedded store's
//! `Store::append`).
//!
//! In one `BEGIN IMMEDIATE` transaction, request by request: plan it (new, duplicate
//! or conflicting events, their `seq`s and back-links: the pure [`GroupPlanner`], with
//! this backend's look-ups around it); apply its effects; write its entries and blobs.
//! Then extend the hash tiles (evident-tlog's `integrate`), move the tree head with a
//! compare-and-swap on its size, and commit (fsync). A failure anywhere rolls the
//! whole transaction back.
//!
//! The back-links (`trace_prev`, `subject_prev`) and the numbers traces, jobs, cases
//! and runs are indexed by (`id_numbers`, schema migration 3) come from a
//! [`BackLinks`] cache kept beside the writer connection and trusted only while the
//! tree head is where this process's last commit left it.

use std::collections::HashMap;

use evident_tlog::{integrate, leaf_hash, right_edge_tiles, Hash, TileMap};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::compress::{Dictionaries, Packer};
use super::search::IdKind;
use super::{map_err, read_tree_head, seq_of, sql_seq};
use crate::plan::{
    answers, FirstAnswer, GroupPlanner, LinkKind, LinkLookup, LinksBefore, NewEntry,
};
use crate::{AppendOutcome, AppendRequest, EventToAppend, StoreError, StoreResult};

/// The newest `seq` of each recently seen trace and subject, and the numbers of
/// recently seen ids, so that a new entry's back-links and index numbers cost no
/// lookup. Valid only for the tree size `valid_at`: any append by another process
/// (several `evident` commands may open one data dir) moves the head, and the cache is
/// then dropped. A miss asks the database.
#[derive(Debug, Default)]
pub(super) struct BackLinks {
    valid_at: Option<u64>,
    committed: Links,
}

/// Entries per map before that map starts over (about 100 bytes each: the peak-RSS
/// budget is 512 MiB at 10M events).
const BACK_LINKS_CAPACITY: usize = 100_000;

/// What one set of maps knows: the committed cache, or what the transaction in
/// progress set (it reaches the cache only once it commits).
#[derive(Debug, Default)]
struct Links {
    trace: HashMap<String, u64>,
    subject: HashMap<String, u64>,
    /// By [`IdKind`], id → number.
    numbers: [HashMap<String, i64>; 4],
}

impl BackLinks {
    /// Takes in what a committed transaction set; the tree is now `size`.
    fn committed(&mut self, pending: Links, size: u64) {
        fn merge<T>(into: &mut HashMap<String, T>, from: HashMap<String, T>) {
            if into.len() + from.len() > BACK_LINKS_CAPACITY {
                into.clear();
            }
            into.extend(from);
        }
        let Links {
            trace,
            subject,
            numbers,
        } = pending;
        merge(&mut self.committed.trace, trace);
        merge(&mut self.committed.subject, subject);
        for (into, from) in self.committed.numbers.iter_mut().zip(numbers) {
            merge(into, from);
        }
        self.valid_at = Some(size);
    }
}

/// `key`'s value as the transaction in progress sees it: what it set itself, else
/// what was committed.
fn seen<T: Copy>(
    pending: &HashMap<String, T>,
    committed: &HashMap<String, T>,
    key: &str,
) -> Option<T> {
    pending.get(key).or_else(|| committed.get(key)).copied()
}

/// The number of `value` (the `seq` of the first entry that named it), assigning
/// `seq` if it has none yet. Returns the number and whether it is new.
fn id_number(
    tx: &Transaction<'_>,
    links: &BackLinks,
    pending: &mut Links,
    kind: IdKind,
    value: &str,
    seq: u64,
) -> StoreResult<(i64, bool)> {
    let slot = kind as usize;
    if let Some(no) = seen(
        &pending.numbers[slot],
        &links.committed.numbers[slot],
        value,
    ) {
        return Ok((no, false));
    }
    let stored: Option<i64> = tx
        .prepare_cached("SELECT no FROM id_numbers WHERE kind = ?1 AND value = ?2")
        .and_then(|mut stmt| {
            stmt.query_row(params![kind as u8, value], |r| r.get(0))
                .optional()
        })
        .map_err(map_err)?;
    let (no, new) = match stored {
        Some(no) => (no, false),
        None => {
            tx.prepare_cached("INSERT INTO id_numbers(kind, value, no) VALUES (?1, ?2, ?3)")
                .and_then(|mut stmt| stmt.execute(params![kind as u8, value, sql_seq(seq)]))
                .map_err(map_err)?;
            (sql_seq(seq), true)
        }
    };
    pending.numbers[slot].insert(value.to_owned(), no);
    Ok((no, new))
}

/// [`id_number`] of an optional id.
fn optional_id_number(
    tx: &Transaction<'_>,
    links: &BackLinks,
    pending: &mut Links,
    kind: IdKind,
    value: Option<&str>,
    seq: u64,
) -> StoreResult<Option<i64>> {
    value
        .map(|v| id_number(tx, links, pending, kind, v, seq).map(|(no, _)| no))
        .transpose()
}

pub(super) fn append(
    conn: &mut Connection,
    links: &mut BackLinks,
    packer: &mut Packer,
    dictionaries: &Dictionaries,
    requests: &[AppendRequest],
) -> StoreResult<Vec<AppendOutcome>> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let head = read_tree_head(&tx).map_err(map_err)?;
    if links.valid_at != Some(head.size) {
        *links = BackLinks::default();
    }
    let mut pending = Links::default();
    let mut planner = GroupPlanner::new(head.size);
    let mut leaves: Vec<Hash> = Vec::new();
    let mut outcomes = Vec::with_capacity(requests.len());

    for request in requests {
        let stored = first_answers(&tx, dictionaries, &planner.ids_to_look_up(request))?;
        let plan = match planner.plan(request, &stored) {
            Ok(plan) => plan,
            Err(conflict) => {
                outcomes.push(conflict);
                continue;
            }
        };
        if let Err(refused) = apply_effects(&tx, &request.effects)? {
            outcomes.push(refused);
            continue;
        }
        let mut before = LinksBefore::new();
        for lookup in planner.links_to_look_up(request, &plan) {
            let previous = link_before(&tx, links, &mut pending, lookup)?;
            before.insert((lookup.kind, lookup.value.to_owned()), previous);
        }
        for entry in planner.accept(request, &plan, &before) {
            let event = &request.events[entry.index];
            leaves.push(insert_event(
                &tx,
                links,
                &mut pending,
                packer,
                entry,
                event,
            )?);
        }
        let first_seq = head.size;
        outcomes.push(AppendOutcome::Appended(answers(request, &plan, |seq| {
            leaves[usize::try_from(seq - first_seq).expect("a group fits in memory")]
        })));
    }

    if !leaves.is_empty() {
        integrate_leaves(&tx, head.size, &leaves)?;
    }
    // A request may be effects alone, or events that were all duplicates: committed
    // all the same.
    tx.commit().map_err(map_err)?;
    for (kind, value, seq) in planner.last_links() {
        let map = match kind {
            LinkKind::Trace => &mut pending.trace,
            LinkKind::Subject => &mut pending.subject,
        };
        map.insert(value.to_owned(), seq);
    }
    let size = planner.next_seq();
    links.committed(pending, size);
    packer.prepare(conn, size);
    Ok(outcomes)
}

/// Applies a request's effects, before its events (see `effect.rs`). A refusal rolls
/// back the request's effects alone, to a savepoint taken only when there are any (so
/// plain ingest pays nothing for it).
fn apply_effects(
    tx: &Transaction<'_>,
    effects: &[crate::Effect],
) -> StoreResult<Result<(), AppendOutcome>> {
    if effects.is_empty() {
        return Ok(Ok(()));
    }
    tx.execute_batch("SAVEPOINT effects").map_err(map_err)?;
    for (index, effect) in effects.iter().enumerate() {
        if let Err(error) = super::effects::apply(tx, effect)? {
            tx.execute_batch("ROLLBACK TO effects; RELEASE effects")
                .map_err(map_err)?;
            return Ok(Err(AppendOutcome::Refused { index, error }));
        }
    }
    tx.execute_batch("RELEASE effects").map_err(map_err)?;
    Ok(Ok(()))
}

/// The first answers of these `event_id`s, where the log already holds them.
fn first_answers(
    tx: &Transaction<'_>,
    dictionaries: &Dictionaries,
    event_ids: &[&str],
) -> StoreResult<HashMap<String, FirstAnswer>> {
    let mut lookup = tx
        .prepare_cached("SELECT seq, digest, entry FROM entries WHERE event_id = ?1")
        .map_err(map_err)?;
    let mut found = HashMap::new();
    for event_id in event_ids {
        let stored = lookup
            .query_row([event_id], |r| {
                let seq = r.get::<_, i64>(0)?;
                Ok((
                    seq,
                    r.get::<_, Vec<u8>>(1)?,
                    dictionaries.unpack(tx, seq, r.get(2)?)?,
                ))
            })
            .optional()
            .map_err(map_err)?;
        if let Some((seq, digest, entry)) = stored {
            let digest = digest.try_into().map_err(|_| {
                StoreError::Corrupt(format!("seq {seq}: the stored digest is not 32 bytes"))
            })?;
            found.insert(
                (*event_id).to_owned(),
                FirstAnswer {
                    seq: seq_of(seq),
                    digest,
                    leaf_hash: leaf_hash(&entry),
                },
            );
        }
    }
    Ok(found)
}

/// The newest `seq` before this group of a trace or subject: from the cache of
/// committed back-links, else from the index (a trace the log has never named, as its
/// new number says, has none).
fn link_before(
    tx: &Transaction<'_>,
    links: &BackLinks,
    pending: &mut Links,
    lookup: LinkLookup<'_>,
) -> StoreResult<Option<u64>> {
    match lookup.kind {
        LinkKind::Trace => {
            if let Some(previous) = links.committed.trace.get(lookup.value) {
                return Ok(Some(*previous));
            }
            let (trace_no, new) = id_number(
                tx,
                links,
                pending,
                IdKind::Trace,
                lookup.value,
                lookup.first_seq,
            )?;
            if new {
                Ok(None)
            } else {
                previous_seq(tx, PREVIOUS_IN_TRACE, trace_no)
            }
        }
        LinkKind::Subject => match links.committed.subject.get(lookup.value) {
            Some(previous) => Ok(Some(*previous)),
            None => previous_seq(tx, PREVIOUS_OF_SUBJECT, lookup.value),
        },
    }
}

/// Writes one new entry with its blobs and vault values; returns its leaf hash.
fn insert_event(
    tx: &Transaction<'_>,
    links: &BackLinks,
    pending: &mut Links,
    packer: &mut Packer,
    entry: NewEntry,
    appended: &EventToAppend,
) -> StoreResult<Hash> {
    let NewEntry {
        seq,
        trace_prev,
        subject_prev,
        ..
    } = entry;
    let event = &appended.event;
    let keys = &event.index;
    let (trace_no, _) = id_number(tx, links, pending, IdKind::Trace, &keys.trace_id, seq)?;
    let job_no = optional_id_number(tx, links, pending, IdKind::Job, keys.job_id.as_deref(), seq)?;
    let case_no = optional_id_number(
        tx,
        links,
        pending,
        IdKind::Case,
        keys.case_id.as_deref(),
        seq,
    )?;
    let run_no = optional_id_number(
        tx,
        links,
        pending,
        IdKind::WorkflowRun,
        keys.workflow_run_id.as_deref(),
        seq,
    )?;
    let bytes = event.members.with_position(seq, trace_prev, subject_prev);
    let leaf = leaf_hash(&bytes);
    tx.prepare_cached(
        "INSERT INTO entries(seq, event_id, digest, entry, trace_id, event_type, agent,
                             job_id, case_id, workflow_run_id, subject, ts,
                             trace_no, job_no, case_no, run_no)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            sql_seq(seq),
            keys.event_id,
            &event.submission_digest[..],
            packer.pack(&bytes),
            keys.trace_id,
            keys.event_type,
            keys.agent,
            keys.job_id,
            keys.case_id,
            keys.workflow_run_id,
            keys.subject,
            keys.timestamp_micros,
            trace_no,
            job_no,
            case_no,
            run_no,
        ])
    })
    .map_err(map_err)?;

    let mut insert_blob = tx
        .prepare_cached(
            "INSERT INTO blobs(ref, seq, uploaded, subject, media_type, size, key_id, sealed, created_at)
             VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(map_err)?;
    for blob in &appended.blobs {
        insert_blob
            .execute(params![
                &blob.reference.0[..],
                sql_seq(seq),
                keys.subject,
                blob.media_type,
                i64::try_from(blob.size).unwrap_or(i64::MAX),
                blob.key_id,
                blob.sealed,
                keys.timestamp_micros,
            ])
            .map_err(map_err)?;
    }
    let mut claim_upload = tx
        .prepare_cached(
            "UPDATE blobs SET seq = ?1, subject = ?2, key_id = ?3, sealed = ?4
             WHERE ref = ?5 AND uploaded = 1 AND seq IS NULL",
        )
        .map_err(map_err)?;
    for blob in &appended.claimed_uploads {
        claim_upload
            .execute(params![
                sql_seq(seq),
                keys.subject,
                blob.key_id,
                blob.sealed,
                &blob.reference.0[..]
            ])
            .map_err(map_err)?;
    }
    let mut insert_value = tx
        .prepare_cached(
            "INSERT INTO vault(token, key_id, kind, sealed) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(token, key_id) DO NOTHING",
        )
        .map_err(map_err)?;
    for value in &appended.vault {
        insert_value
            .execute(params![value.token, value.key_id, value.kind, value.sealed])
            .map_err(map_err)?;
    }
    // Values of an event without a subject are under the log's default key, shared by
    // every such event: which entries use them decides when retention purges them.
    if keys.subject.is_none() && !appended.vault.is_empty() {
        let mut insert_use = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO vault_uses(seq, key_id, token) VALUES (?1, ?2, ?3)",
            )
            .map_err(map_err)?;
        for value in &appended.vault {
            insert_use
                .execute(params![sql_seq(seq), value.key_id, value.token])
                .map_err(map_err)?;
        }
    }
    if !appended.remember.is_empty() {
        super::identifiers::remember(tx, &appended.remember)?;
    }
    Ok(leaf)
}

/// The newest `seq` of a trace (by number) and of a subject token, rows of this
/// transaction included: what [`previous_seq`] runs on a cache miss.
const PREVIOUS_IN_TRACE: &str = "SELECT max(seq) FROM entries WHERE trace_no = ?1";
const PREVIOUS_OF_SUBJECT: &str = "SELECT max(seq) FROM entries WHERE subject = ?1";

/// Runs one of the `PREVIOUS_*` queries.
fn previous_seq(
    tx: &Transaction<'_>,
    sql: &str,
    value: impl rusqlite::ToSql,
) -> StoreResult<Option<u64>> {
    let seq: Option<i64> = tx
        .prepare_cached(sql)
        .and_then(|mut stmt| stmt.query_row([value], |r| r.get(0)))
        .map_err(map_err)?;
    Ok(seq.map(seq_of))
}

/// Extends the tree from `old_size` by `leaves` and moves the head (compare-and-swap).
fn integrate_leaves(tx: &Transaction<'_>, old_size: u64, leaves: &[Hash]) -> StoreResult<()> {
    let mut edge = TileMap::new();
    {
        let mut read = tx
            .prepare_cached("SELECT data FROM tiles WHERE level = ?1 AND idx = ?2")
            .map_err(map_err)?;
        for id in right_edge_tiles(old_size) {
            let data: Option<Vec<u8>> = read
                .query_row(params![id.level, sql_seq(id.index)], |r| r.get(0))
                .optional()
                .map_err(map_err)?;
            let data = data.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "tile {}/{} missing at tree size {old_size}",
                    id.level, id.index
                ))
            })?;
            edge.insert(id, data);
        }
    }
    let integration = integrate(old_size, &edge, leaves)
        .map_err(|e| StoreError::Corrupt(format!("integrating at size {old_size}: {e}")))?;
    let mut write = tx
        .prepare_cached(
            "INSERT INTO tiles(level, idx, data) VALUES (?1, ?2, ?3)
             ON CONFLICT(level, idx) DO UPDATE SET data = excluded.data",
        )
        .map_err(map_err)?;
    for (id, data) in &integration.tiles {
        write
            .execute(params![id.level, sql_seq(id.index), data])
            .map_err(map_err)?;
    }
    let moved = tx
        .execute(
            "UPDATE tree_head SET size = ?1, root = ?2 WHERE id = 0 AND size = ?3",
            params![
                sql_seq(integration.tree_size),
                &integration.root.0[..],
                sql_seq(old_size)
            ],
        )
        .map_err(map_err)?;
    if moved != 1 {
        return Err(StoreError::Conflict(format!(
            "tree head moved from {old_size} during append"
        )));
    }
    Ok(())
}

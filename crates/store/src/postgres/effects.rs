//! The PostgreSQL side of [`crate::Effect`]: each change as statements inside the
//! append transaction (see `effect.rs` for the contract), and erasure.
//!
//! How no decryptable copy of an erased key survives: the subject's `data_keys` rows
//! are deleted in the transaction that appends the `subject_erasure` event. PostgreSQL
//! keeps the deleted (dead) tuples until VACUUM, and its WAL and backups keep old
//! pages, so what protects erased keys there is key epochs: every data key is wrapped
//! by the master key, which never enters the database, and rotating the master key
//! (`evident keys rotate-master`) after an erasure leaves old tuples, WAL segments and
//! backups holding only keys wrapped by a retired master key. After the commit the
//! store also runs `VACUUM data_keys` to drop the dead tuples promptly; that is not
//! part of the erasure's success (a failed VACUUM is logged, autovacuum follows).

use tokio_postgres::Transaction;

use super::{map_err, seq_of};
use crate::{Effect, ErasureReport, StoreError, StoreResult};

/// What erasing `subject` would destroy, as `client` sees it.
pub(super) async fn plan(
    client: &impl tokio_postgres::GenericClient,
    subject: &str,
) -> StoreResult<ErasureReport> {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM data_keys WHERE subject = $1),
                    (SELECT count(*) FROM blobs WHERE key_id IN
                        (SELECT key_id FROM data_keys WHERE subject = $1)),
                    (SELECT count(*) FROM vault WHERE key_id IN
                        (SELECT key_id FROM data_keys WHERE subject = $1)),
                    (SELECT count(*) FROM event_texts WHERE seq IN
                        (SELECT seq FROM entries WHERE subject = $1))",
            &[&subject],
        )
        .await
        .map_err(map_err)?;
    Ok(ErasureReport {
        keys: seq_of(row.get(0)),
        blobs: seq_of(row.get(1)),
        values: seq_of(row.get(2)),
        texts: seq_of(row.get(3)),
    })
}

/// Applies one effect in `tx`. `Ok(Err(_))` is a refusal of the domain (the request
/// is rolled back alone); `Err(_)` fails the whole transaction.
pub(super) async fn apply(
    tx: &Transaction<'_>,
    effect: &Effect,
) -> StoreResult<Result<(), StoreError>> {
    match effect {
        Effect::EraseSubject {
            subject,
            now_micros,
            expect,
        } => {
            // Serializes erasures of one subject with the appends that seal under its
            // key: both hold the tree head's row lock by now.
            let found = plan(tx, subject).await?;
            if found != *expect {
                return Ok(Err(StoreError::Conflict(format!(
                    "the subject's data changed since the erasure was planned (now {found:?})"
                ))));
            }
            tx.execute(
                "DELETE FROM event_texts WHERE seq IN (SELECT seq FROM entries WHERE subject = $1)",
                &[subject],
            )
            .await
            .map_err(map_err)?;
            tx.execute(
                "INSERT INTO destroyed_keys(key_id, subject, destroyed_at)
                 SELECT key_id, subject, $2 FROM data_keys WHERE subject = $1
                 ON CONFLICT DO NOTHING",
                &[subject, now_micros],
            )
            .await
            .map_err(map_err)?;
            tx.execute("DELETE FROM data_keys WHERE subject = $1", &[subject])
                .await
                .map_err(map_err)?;
            // Sealed under the keys just destroyed: unreadable already, deleted so
            // that nothing of the subject's identifiers remains.
            tx.execute(
                "DELETE FROM subject_identifiers WHERE subject = $1",
                &[subject],
            )
            .await
            .map_err(map_err)?;
            tx.execute(
                "INSERT INTO erasures(subject, erased_at) VALUES ($1, $2)
                 ON CONFLICT (subject) DO UPDATE SET erased_at = excluded.erased_at",
                &[subject, now_micros],
            )
            .await
            .map_err(map_err)?;
            Ok(Ok(()))
        }
        Effect::DestroyDataKeys { subject, .. } => {
            tx.execute(
                "DELETE FROM vault WHERE key_id IN (SELECT key_id FROM data_keys WHERE subject = $1)",
                &[subject],
            )
            .await
            .map_err(map_err)?;
            tx.execute("DELETE FROM data_keys WHERE subject = $1", &[subject])
                .await
                .map_err(map_err)?;
            Ok(Ok(()))
        }
        Effect::CreateApiKey(key) => insert_api_key(tx, key).await,
        Effect::RevokeApiKey { name, now_micros } => revoke_api_key(tx, name, *now_micros).await,
        Effect::RewrapDataKeys(keys) => {
            for key in keys {
                tx.execute(
                    "UPDATE data_keys SET wrapped = $2, master_epoch = $3 WHERE key_id = $1",
                    &[
                        &key.key_id,
                        &key.wrapped,
                        &i32::try_from(key.master_epoch).unwrap_or(i32::MAX),
                    ],
                )
                .await
                .map_err(map_err)?;
            }
            Ok(Ok(()))
        }
        Effect::SetMeta { key, value } => {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[key, value],
            )
            .await
            .map_err(map_err)?;
            Ok(Ok(()))
        }
        Effect::PublishArtifact(version) => super::artifacts::publish(tx, version).await,
        Effect::MoveLabel(change) => super::artifacts::move_label(tx, change).await,
        Effect::OpenApproval(request) => super::approvals::open(tx, request).await,
        Effect::ResolveApproval(resolution) => super::approvals::resolve(tx, resolution).await,
        Effect::PublishPolicy(version) => super::policies::publish(tx, version).await,
        Effect::RollbackPolicy(rollback) => super::policies::rollback(tx, rollback).await,
        Effect::RequirePolicyGeneration(expected) => {
            super::policies::require_generation(tx, *expected).await
        }
        Effect::IndexPolicyDecision(row) => super::policies::index_decision(tx, row).await,
        Effect::PlaceLegalHold(hold) => super::holds::place(tx, hold).await,
        Effect::LiftLegalHold {
            hold_id,
            now_micros,
            lifted_by,
        } => super::holds::lift(tx, hold_id, *now_micros, lifted_by).await,
        Effect::RefuseIfHeld {
            subject,
            now_micros,
        } => super::holds::refuse_if_held(tx, subject, *now_micros).await,
        Effect::PurgeRetention {
            run_id,
            now_micros,
            traces,
            expect,
        } => super::retention::purge(tx, run_id, *now_micros, traces, expect).await,
        Effect::AppendAccessRecords { from_seq, records } => {
            super::access::append(tx, *from_seq, records).await
        }
        Effect::InjectedFault => Err(StoreError::Unavailable("injected fault".into())),
    }
}

/// Adds an API key; a taken name is refused. Shared by the effect and by
/// [`crate::ApiKeyStore::create_api_key`] (which `init` uses before any event exists).
pub(super) async fn insert_api_key(
    tx: &Transaction<'_>,
    key: &crate::ApiKeyRecord,
) -> StoreResult<Result<(), StoreError>> {
    let agents = key.agents.to_stored()?;
    let inserted = tx
        .execute(
            "INSERT INTO api_keys(name, role, key_hash, agents, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[
                &key.name,
                &key.role,
                &key.key_hash.as_slice(),
                &agents,
                &key.created_micros,
            ],
        )
        .await
        .map_err(map_err)?;
    Ok(if inserted == 0 {
        Err(StoreError::Conflict(format!(
            "an API key named {:?} exists",
            key.name
        )))
    } else {
        Ok(())
    })
}

/// Revokes a key by name (the first revocation's time stays); an unknown name is
/// refused.
pub(super) async fn revoke_api_key(
    tx: &Transaction<'_>,
    name: &str,
    now_micros: i64,
) -> StoreResult<Result<(), StoreError>> {
    let n = tx
        .execute(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE name = $1",
            &[&name, &now_micros],
        )
        .await
        .map_err(map_err)?;
    Ok(if n == 0 {
        Err(StoreError::NotFound(format!("no API key named {name:?}")))
    } else {
        Ok(())
    })
}

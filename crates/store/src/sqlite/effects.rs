//! The embedded store's side of [`crate::Effect`]: each change as statements inside
//! the append transaction (see `effect.rs` for the contract).

use rusqlite::{params, Connection, Transaction};

use super::{erase, map_err};
use crate::{ApiKeyRecord, Effect, StoreError, StoreResult};

/// Applies one effect in `tx`. `Ok(Err(_))` is a refusal of the domain (the request
/// is rolled back alone); `Err(_)` fails the whole transaction.
pub(super) fn apply(tx: &Transaction<'_>, effect: &Effect) -> StoreResult<Result<(), StoreError>> {
    match effect {
        Effect::EraseSubject {
            subject,
            now_micros,
            expect,
        } => Ok(
            erase::erase_subject(tx, subject, *now_micros, expect)?.map_err(|found| {
                StoreError::Conflict(format!(
                    "the subject's data changed since the erasure was planned (now {found:?})"
                ))
            }),
        ),
        Effect::DestroyDataKeys { subject, .. } => {
            erase::destroy_data_keys(tx, subject)?;
            Ok(Ok(()))
        }
        Effect::CreateApiKey(key) => insert_api_key(tx, key),
        Effect::RevokeApiKey { name, now_micros } => revoke_api_key(tx, name, *now_micros),
        Effect::RewrapDataKeys(keys) => {
            let mut update = tx
                .prepare_cached(
                    "UPDATE data_keys SET wrapped = ?2, master_epoch = ?3 WHERE key_id = ?1",
                )
                .map_err(map_err)?;
            for key in keys {
                update
                    .execute(params![key.key_id, key.wrapped, key.master_epoch])
                    .map_err(map_err)?;
            }
            Ok(Ok(()))
        }
        Effect::SetMeta { key, value } => {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(map_err)?;
            Ok(Ok(()))
        }
        Effect::PublishArtifact(version) => super::artifacts::publish(tx, version),
        Effect::MoveLabel(change) => super::artifacts::move_label(tx, change),
        Effect::OpenApproval(request) => super::approvals::open(tx, request),
        Effect::ResolveApproval(resolution) => super::approvals::resolve(tx, resolution),
        Effect::PublishPolicy(version) => super::policies::publish(tx, version),
        Effect::RollbackPolicy(rollback) => super::policies::rollback(tx, rollback),
        Effect::RequirePolicyGeneration(expected) => {
            super::policies::require_generation(tx, *expected)
        }
        Effect::IndexPolicyDecision(row) => super::policies::index_decision(tx, row),
        Effect::PlaceLegalHold(hold) => super::holds::place(tx, hold),
        Effect::LiftLegalHold {
            hold_id,
            now_micros,
            lifted_by,
        } => super::holds::lift(tx, hold_id, *now_micros, lifted_by),
        Effect::RefuseIfHeld {
            subject,
            now_micros,
        } => super::holds::refuse_if_held(tx, subject, *now_micros),
        Effect::PurgeRetention {
            run_id,
            now_micros,
            traces,
            expect,
        } => super::retention::purge(tx, run_id, *now_micros, traces, expect),
        Effect::AppendAccessRecords { from_seq, records } => {
            super::access::append(tx, *from_seq, records)
        }
        Effect::InjectedFault => Err(StoreError::Unavailable("injected fault".into())),
    }
}

/// Adds an API key; a taken name is refused. Shared by the effect and by
/// [`crate::ApiKeyStore::create_api_key`] (which `init` uses before any event exists).
pub(super) fn insert_api_key(
    conn: &Connection,
    key: &ApiKeyRecord,
) -> StoreResult<Result<(), StoreError>> {
    let agents = key.agents.to_stored()?;
    let inserted = conn
        .execute(
            "INSERT INTO api_keys(name, role, key_hash, agents, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            params![
                key.name,
                key.role,
                &key.key_hash[..],
                agents,
                key.created_micros
            ],
        )
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
pub(super) fn revoke_api_key(
    conn: &Connection,
    name: &str,
    now_micros: i64,
) -> StoreResult<Result<(), StoreError>> {
    let n = conn
        .execute(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE name = ?1",
            params![name, now_micros],
        )
        .map_err(map_err)?;
    Ok(if n == 0 {
        Err(StoreError::NotFound(format!("no API key named {name:?}")))
    } else {
        Ok(())
    })
}

//! PostgreSQL's own structural check for `evident verify` (not `--quick`), with the
//! `amcheck` extension that ships with PostgreSQL (contrib):
//!
//! - `bt_index_check(index, heapallindexed => true)` on every B-tree index of the
//!   log's tables: the index's invariants hold and every row of its table is in it
//!   (a damaged index makes queries miss or misplace entries). Not
//!   `bt_index_parent_check`: it takes a `ShareLock` that would stop every server's
//!   ingest for the duration; `bt_index_check` takes the `AccessShareLock` a query does.
//! - `verify_heapam(table, check_toast => true)` on every table: every page and tuple
//!   (and its TOAST) readable and consistent.
//!
//! The full-text GIN index is not checked: amcheck has no GIN check before
//! PostgreSQL 18. PostgreSQL's page checksums (when the cluster has them) catch torn
//! or flipped pages as they are read, by these checks too.
//!
//! The extension needs privileges: `CREATE EXTENSION amcheck` needs a superuser (it is
//! not a trusted extension), and its functions are not executable by default except
//! by superusers. A role that may not is reported as [`IntegrityCheck::Skipped`] with
//! the reason, never as a check that found nothing.

use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use super::map_err;
use crate::{IntegrityCheck, StoreResult};

/// How to let a role run the check, for the messages.
const GRANT_HINT: &str = "a superuser can run `CREATE EXTENSION amcheck` and `GRANT EXECUTE ON FUNCTION bt_index_check(regclass, boolean), verify_heapam(regclass, boolean, boolean, text, bigint, bigint) TO <role>`";

/// Runs the check on `client`'s database.
///
/// # Errors
/// The database could not be queried (not: the check may not run, which is
/// [`IntegrityCheck::Skipped`]).
pub(super) async fn check(client: &Client) -> StoreResult<IntegrityCheck> {
    let schema = match amcheck_schema(client).await? {
        Some(schema) => schema,
        None => {
            if let Err(e) = client
                .batch_execute("CREATE EXTENSION IF NOT EXISTS amcheck")
                .await
            {
                return Ok(IntegrityCheck::Skipped {
                    why: format!(
                        "the `amcheck` extension is not installed in this database and this role may not install it ({}); {GRANT_HINT}",
                        reason(&e)
                    ),
                });
            }
            amcheck_schema(client)
                .await?
                .unwrap_or_else(|| "public".to_owned())
        }
    };
    let schema = quote_ident(&schema);
    // The log's tables: those in the schema of `entries`, with their B-tree indexes.
    let tables: Vec<String> = client
        .query(
            "SELECT c.oid::regclass::text FROM pg_class c
              WHERE c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'entries'::regclass)
                AND c.relkind = 'r'
              ORDER BY 1",
            &[],
        )
        .await
        .map_err(map_err)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let indexes: Vec<String> = client
        .query(
            "SELECT i.indexrelid::regclass::text FROM pg_index i
               JOIN pg_class t ON t.oid = i.indrelid
               JOIN pg_class ix ON ix.oid = i.indexrelid
               JOIN pg_am am ON am.oid = ix.relam
              WHERE t.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'entries'::regclass)
                AND t.relkind = 'r' AND am.amname = 'btree' AND i.indisvalid
              ORDER BY 1",
            &[],
        )
        .await
        .map_err(map_err)?
        .iter()
        .map(|r| r.get(0))
        .collect();

    let mut problems = Vec::new();
    for table in &tables {
        let sql = format!(
            "SELECT blkno, offnum, attnum, msg FROM {schema}.verify_heapam($1::text::regclass, check_toast => true)"
        );
        match client.query(&sql, &[table]).await {
            Ok(rows) => problems.extend(rows.iter().map(|r| {
                let (block, offset, attribute, msg): (i64, Option<i32>, Option<i32>, String) =
                    (r.get(0), r.get(1), r.get(2), r.get(3));
                let mut place = format!("table {table}, block {block}");
                if let Some(offset) = offset {
                    place.push_str(&format!(", tuple {offset}"));
                }
                if let Some(attribute) = attribute {
                    place.push_str(&format!(", column {attribute}"));
                }
                format!("{place}: {msg}")
            })),
            Err(e) if is_damage(&e) => problems.push(format!("table {table}: {}", reason(&e))),
            Err(e) if is_denied(&e) => return Ok(denied(&e)),
            Err(e) => return Err(map_err(e)),
        }
    }
    for index in &indexes {
        let sql = format!("SELECT {schema}.bt_index_check($1::text::regclass, true)");
        match client.query(&sql, &[index]).await {
            Ok(_) => {}
            Err(e) if is_damage(&e) => problems.push(format!("index {index}: {}", reason(&e))),
            Err(e) if is_denied(&e) => return Ok(denied(&e)),
            Err(e) => return Err(map_err(e)),
        }
    }
    Ok(IntegrityCheck::Ran {
        what: format!(
            "PostgreSQL amcheck: verify_heapam on {} tables, bt_index_check (every row in its index) on {} B-tree indexes; the GIN full-text index is not checked",
            tables.len(),
            indexes.len()
        ),
        problems,
    })
}

/// The schema `amcheck` is installed in, if it is.
async fn amcheck_schema(client: &Client) -> StoreResult<Option<String>> {
    let rows = client
        .query(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
              WHERE e.extname = 'amcheck'",
            &[],
        )
        .await
        .map_err(map_err)?;
    Ok(rows.first().map(|r| r.get(0)))
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// What amcheck raises when it finds damage.
fn is_damage(e: &tokio_postgres::Error) -> bool {
    e.code()
        .is_some_and(|c| *c == SqlState::INDEX_CORRUPTED || *c == SqlState::DATA_CORRUPTED)
}

fn is_denied(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE)
}

fn denied(e: &tokio_postgres::Error) -> IntegrityCheck {
    IntegrityCheck::Skipped {
        why: format!(
            "this role may not run amcheck's functions ({}); {GRANT_HINT}",
            reason(e)
        ),
    }
}

/// The server's message, without the driver's prefix.
fn reason(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map_or_else(|| e.to_string(), |db| db.message().to_owned())
}

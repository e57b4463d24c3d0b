//! `verify`'s check of the governance rows: every artifact version, label move,
//! policy version and policy activation the server answers "what was live at T"
//! from must be what a signed log entry states (CONTRACT section 6), and every such
//! entry must have its row. A row added, edited or deleted behind the server's back
//! is caught and named; so is a row whose time differs from its event's
//! `received_at` (time travel reads that time).
//!
//! The registry is small (thousands of rows, not millions): its rows are read a
//! page at a time and the event ids seen are kept in memory for the second half
//! of the check, which pages through the typed entries by the search index.

use std::collections::HashSet;

use evident_core::verify::Failure;
use evident_store::{SearchQuery, Store, StoreError};
use serde_json::Value;
use sha2::Digest;

const PAGE: usize = 256;

/// What the check covered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegistryChecked {
    pub artifact_versions: u64,
    pub label_moves: u64,
    pub policy_versions: u64,
    pub policy_activations: u64,
}

/// The entry an event id names, parsed, if it is in the tree; or why not.
async fn entry_of(
    store: &dyn Store,
    tree_size: u64,
    what: &str,
    event_id: &str,
    event_type: &str,
) -> Result<Result<(u64, Value), Failure>, StoreError> {
    let Some(stored) = store.entry_by_event_id(event_id).await? else {
        return Ok(Err(Failure::Registry(format!(
            "{what}: the {event_type} event {event_id} it names is not in the log"
        ))));
    };
    if stored.seq >= tree_size {
        return Ok(Err(Failure::Registry(format!(
            "{what}: its event {event_id} is beyond the tree head"
        ))));
    }
    let record: Value = serde_json::from_slice(&stored.entry)
        .map_err(|e| StoreError::Corrupt(format!("entry {} is not JSON: {e}", stored.seq)))?;
    if record["event_type"] != event_type {
        return Ok(Err(Failure::entry(
            stored.seq,
            format!("{what} names this entry, which is not a {event_type} event"),
        )));
    }
    Ok(Ok((stored.seq, record)))
}

/// `received_at` of a server event, µs.
fn received_micros(record: &Value) -> Option<i64> {
    let text = record["received_at"].as_str()?;
    evident_core::time::parse_rfc3339(text)
        .ok()
        .map(evident_core::time::unix_micros)
}

fn sha256_hex(bytes: &[u8]) -> String {
    evident_core::blob::hex(&sha2::Sha256::digest(bytes))
}

/// The first member of `stated` (the entry's object) that differs from `row`.
fn differing<'a>(stated: &Value, row: &[(&'a str, Value)]) -> Option<&'a str> {
    row.iter()
        .find(|(member, value)| &stated[*member] != value)
        .map(|(member, _)| *member)
}

/// What one row claims its entry states.
struct Claim<'a> {
    /// The row, in words ("artifact prompt/triage@1").
    what: String,
    event_id: &'a str,
    event_type: &'static str,
    /// The entry's member that states the row ("artifact", "policy", ...).
    member: &'static str,
    /// The members of that object the row must match.
    stated: Vec<(&'static str, Value)>,
    /// The row's time: its entry's `received_at`, µs.
    micros: i64,
    /// What is wrong with the row on its own (a content that does not hash to the
    /// hash it keeps), if anything.
    broken: Option<&'static str>,
}

/// Holds one row to its entry: the inner `Err` names what differs.
async fn check_claim(
    store: &dyn Store,
    tree_size: u64,
    claim: Claim<'_>,
) -> Result<Result<(), Failure>, StoreError> {
    let (seq, record) = match entry_of(
        store,
        tree_size,
        &claim.what,
        claim.event_id,
        claim.event_type,
    )
    .await?
    {
        Ok(found) => found,
        Err(failure) => return Ok(Err(failure)),
    };
    let why = if let Some(broken) = claim.broken {
        Some(broken.to_owned())
    } else if let Some(member) = differing(&record[claim.member], &claim.stated) {
        Some(format!("its {member} is not the one its entry states"))
    } else if received_micros(&record) != Some(claim.micros) {
        Some("its time is not its entry's received_at".to_owned())
    } else {
        None
    };
    Ok(match why {
        Some(why) => Err(Failure::entry(seq, format!("{}: {why}", claim.what))),
        None => Ok(()),
    })
}

/// Checks every governance row against the entries `0..tree_size`.
///
/// # Errors
/// The store could not be read (the outer `Err`); the first row or entry found
/// wrong (the inner `Err`).
pub async fn verify_registry(
    store: &dyn Store,
    tree_size: u64,
) -> Result<Result<RegistryChecked, Failure>, StoreError> {
    let mut checked = RegistryChecked::default();
    let mut rows_of = HashSet::new();

    let mut after = 0;
    loop {
        let page = store.artifact_version_rows(after, PAGE).await?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        for (_, v) in &page {
            let claim = Claim {
                what: format!("artifact {}/{}@{}", v.kind, v.name, v.version),
                event_id: &v.event_id,
                event_type: "artifact_publish",
                member: "artifact",
                stated: vec![
                    ("kind", v.kind.clone().into()),
                    ("name", v.name.clone().into()),
                    ("version", v.version.clone().into()),
                    ("content_hash", v.content_hash.clone().into()),
                ],
                micros: v.published_micros,
                broken: (sha256_hex(v.content.as_bytes()) != v.content_hash)
                    .then_some("its content does not hash to its content_hash"),
            };
            if let Err(failure) = check_claim(store, tree_size, claim).await? {
                return Ok(Err(failure));
            }
            rows_of.insert(v.event_id.clone());
            checked.artifact_versions += 1;
        }
    }

    let mut after = 0;
    loop {
        let page = store.label_move_rows(after, PAGE).await?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        for (_, m) in &page {
            let claim = Claim {
                what: format!("label {} of {}/{}", m.label, m.kind, m.name),
                event_id: &m.event_id,
                event_type: "label_move",
                member: "label_move",
                stated: vec![
                    ("kind", m.kind.clone().into()),
                    ("name", m.name.clone().into()),
                    ("label", m.label.clone().into()),
                    ("from_version", m.from_version.clone().into()),
                    ("to_version", m.to_version.clone().into()),
                ],
                micros: m.moved_micros,
                broken: None,
            };
            if let Err(failure) = check_claim(store, tree_size, claim).await? {
                return Ok(Err(failure));
            }
            rows_of.insert(m.event_id.clone());
            checked.label_moves += 1;
        }
    }

    let mut after = None;
    loop {
        let page = store.policy_version_rows(after.clone(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some((last.set_id.clone(), last.version));
        for v in &page {
            let claim = Claim {
                what: format!("policy {} version {}", v.set_id, v.version),
                event_id: &v.event_id,
                event_type: "policy_publish",
                member: "policy",
                stated: vec![
                    ("id", v.set_id.clone().into()),
                    ("version", v.version.into()),
                    ("sha256", v.text_sha256.clone().into()),
                    ("schema_sha256", sha256_hex(v.schema.as_bytes()).into()),
                    ("tests_sha256", sha256_hex(v.tests.as_bytes()).into()),
                ],
                micros: v.published_micros,
                broken: (sha256_hex(v.text.as_bytes()) != v.text_sha256)
                    .then_some("its text does not hash to its sha256"),
            };
            if let Err(failure) = check_claim(store, tree_size, claim).await? {
                return Ok(Err(failure));
            }
            rows_of.insert(v.event_id.clone());
            checked.policy_versions += 1;
        }
    }

    let mut publishes_activated = HashSet::new();
    for a in store.policy_activations().await? {
        let what = format!("activation {} of policy {}", a.generation, a.set_id);
        let event_type = match a.kind.as_str() {
            "publish" => "policy_publish",
            "rollback" => "policy_rollback",
            other => {
                return Ok(Err(Failure::Registry(format!(
                    "{what}: unknown kind {other:?}"
                ))))
            }
        };
        let repeated = a.kind == "publish" && !publishes_activated.insert(a.event_id.clone());
        let claim = Claim {
            what,
            event_id: &a.event_id,
            event_type,
            member: "policy",
            stated: vec![
                ("id", a.set_id.clone().into()),
                ("version", a.version.into()),
            ],
            micros: a.at_micros,
            broken: repeated.then_some("a second activation for one publish"),
        };
        if let Err(failure) = check_claim(store, tree_size, claim).await? {
            return Ok(Err(failure));
        }
        if a.kind == "rollback" {
            rows_of.insert(a.event_id.clone());
        }
        checked.policy_activations += 1;
    }

    // Every entry that records a governance row has it: a deleted row would change
    // what "live at T" answers without touching the log.
    for (event_type, has_row) in [
        ("artifact_publish", &rows_of),
        ("label_move", &rows_of),
        ("policy_publish", &publishes_activated),
        ("policy_rollback", &rows_of),
    ] {
        let mut after_seq = None;
        loop {
            let page = store
                .search(&SearchQuery {
                    event_type: Some(event_type.into()),
                    after_seq,
                    before_seq: Some(tree_size),
                    limit: PAGE,
                    ..SearchQuery::default()
                })
                .await?;
            let Some(last) = page.last() else { break };
            after_seq = Some(last.seq);
            for entry in &page {
                let record: Value = serde_json::from_slice(&entry.entry).map_err(|e| {
                    StoreError::Corrupt(format!("entry {} is not JSON: {e}", entry.seq))
                })?;
                let id = record["event_id"].as_str().unwrap_or_default();
                if !has_row.contains(id)
                    || (event_type == "policy_publish" && !rows_of.contains(id))
                {
                    return Ok(Err(Failure::entry(
                        entry.seq,
                        format!("this {event_type} event has no row in the registry"),
                    )));
                }
            }
        }
    }
    Ok(Ok(checked))
}

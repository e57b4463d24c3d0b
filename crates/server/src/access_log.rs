//! The read-access log (CONTRACT section 4, `GET /api/v1/access-log`): who read which
//! events, traces, subjects, blobs, entry bundles, evidence and reports, when, with
//! which key.
//!
//! **Off the request path.** A middleware ([`record_access`]) notes each request made
//! with a valid key (every path but ingest) in memory after the answer; a task flushes
//! the notes every [`FLUSH_INTERVAL`] as one batch. A crash loses at most the notes of
//! the last interval (one second). Reveals are not only noted: each is a `vault_access`
//! event of the main log, durable before its answer (`crate::privacy`).
//!
//! **Tamper-evident.** Each batch is appended with an `access_log_checkpoint` event of
//! the main log stating the batch's range and the RFC 6962 root of its records, in one
//! transaction ([`Effect::AppendAccessRecords`]). `verify` recomputes every batch's
//! root from the stored records ([`verify_access_log`]): an edited, deleted or added
//! record contradicts a signed entry of the main log.
//!
//! **No clear subject.** A `subject` query parameter is recorded as its token. A POST
//! that reads by what its body names (`POST /api/v1/events/search`, the erasure and
//! the reveal) leaves a [`BodyNote`] on its answer: the middleware, which does not read
//! bodies, adds it to the record as `body`, the subject again as its token.
//!
//! **Attempts made outside HTTP.** An erasure or a retention run started on the store
//! (`evident erase`, `evident retention run`) or by the server's own schedule is noted
//! too ([`note_attempt`]): `action` instead of method and path, and the status the same
//! attempt would get over HTTP.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use evident_core::record::ServerEvent;
use evident_core::token::is_subject_token;
use evident_store::{AccessQuery, AccessRecord, Effect, SearchQuery, Store, StoreError};
use evident_tlog::{integrate, leaf_hash, Hash, TileMap};
use serde_json::{json, Map, Value};

use crate::auth::Principal;
use crate::record::RecordError;
use crate::state::{App, AppState};

/// How often noted accesses are written: the most a crash can lose.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// Paths whose requests are writes of ingest, not reads: not noted.
const INGEST_PATHS: &[&str] = &["/api/v1/events", "/v1/traces", "/api/v1/blobs"];

/// Accesses noted and not yet written.
#[derive(Debug, Default)]
pub struct AccessBuffer {
    pending: Mutex<Vec<(String, i64, Vec<u8>)>>,
    /// Held by a flush, one at a time per app.
    flushing: tokio::sync::Mutex<()>,
}

impl AccessBuffer {
    fn push(&self, key: String, at_micros: i64, record: Vec<u8>) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.push((key, at_micros, record));
        }
    }

    fn take(&self) -> Vec<(String, i64, Vec<u8>)> {
        self.pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }

    fn put_back(&self, mut batch: Vec<(String, i64, Vec<u8>)>) {
        if let Ok(mut pending) = self.pending.lock() {
            batch.append(&mut pending);
            *pending = batch;
        }
    }
}

/// What a handler read from its request's body that belongs in its access record (the
/// middleware sees only method, path and query). Left on the answer as an extension.
#[derive(Debug, Clone, Default)]
pub struct BodyNote(pub Map<String, Value>);

impl BodyNote {
    /// A note of one member.
    pub fn of(name: &str, value: Value) -> Self {
        Self(Map::from_iter([(name.to_owned(), value)]))
    }

    /// Leaves the note on `answer`, whatever the answer is (a refusal is noted too).
    pub fn on(self, answer: impl IntoResponse) -> Response {
        let mut response = answer.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// A subject as the access log keeps it: its token, never the clear identifier.
pub fn subject_as_token(app: &App, subject: &str) -> String {
    let subject = subject.trim();
    if is_subject_token(subject) {
        subject.to_owned()
    } else {
        app.token_key.subject_token(subject)
    }
}

/// The middleware: after the answer, notes a request made with a valid key.
pub async fn record_access(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let is_ingest = method == axum::http::Method::POST && INGEST_PATHS.contains(&path.as_str());
    let secret = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(|s| s.trim().to_owned());
    let query = request.uri().query().map(str::to_owned);
    let mut response = next.run(request).await;
    let body = response.extensions_mut().remove::<BodyNote>();
    let (Some(secret), false) = (secret, is_ingest) else {
        return response;
    };
    let Ok(Some(principal)) = state.app.keys.resolve(&secret).await else {
        return response;
    };
    note(
        &state.app,
        &principal,
        method.as_str(),
        &path,
        query.as_deref(),
        body,
        response.status().as_u16(),
    );
    response
}

/// Notes one access (canonical JSON; a clear `subject` parameter becomes its token;
/// `body`, when given, is what the handler noted of the request's body).
pub fn note(
    app: &App,
    principal: &Principal,
    method: &str,
    path: &str,
    query: Option<&str>,
    body: Option<BodyNote>,
    status: u16,
) {
    let mut params = Map::new();
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let value = if name == "subject" {
            subject_as_token(app, &value)
        } else {
            value.into_owned()
        };
        params.insert(name.into_owned(), Value::from(value));
    }
    let (at, at_micros) = app.now();
    let mut record = json!({
        "at": at, "key": principal.name, "role": principal.role.as_str(),
        "method": method, "path": path, "query": params, "status": status,
    });
    if let Some(BodyNote(body)) = body {
        record["body"] = Value::Object(body);
    }
    push(app, principal, at_micros, &record);
}

/// Notes an attempt made outside HTTP: an erasure or a retention run started on the
/// store or by the server's schedule. `action` names it (`evident erase`,
/// `retention run`), `details` what it was about (a subject only as its token), and
/// `status` is what the same attempt gets over HTTP (200 done, 404 nothing to act
/// on, 409 held, ...). Written with the next flush, like every note.
pub fn note_attempt(
    app: &App,
    principal: &Principal,
    action: &str,
    details: Map<String, Value>,
    status: u16,
) {
    let (at, at_micros) = app.now();
    let record = json!({
        "at": at, "key": principal.name, "role": principal.role.as_str(),
        "action": action, "details": details, "status": status,
    });
    push(app, principal, at_micros, &record);
}

fn push(app: &App, principal: &Principal, at_micros: i64, record: &Value) {
    app.access.push(
        principal.name.clone(),
        at_micros,
        evident_core::json::canonical_bytes(record),
    );
}

/// The RFC 6962 root of a batch of records.
fn batch_root(records: &[Vec<u8>]) -> Hash {
    let leaves: Vec<Hash> = records.iter().map(|r| leaf_hash(r)).collect();
    integrate(0, &TileMap::new(), &leaves)
        .map(|i| i.root)
        .unwrap_or(evident_tlog::EMPTY_ROOT)
}

/// Writes the noted accesses as one batch with its `access_log_checkpoint` event;
/// returns how many. On failure they stay noted for the next flush.
///
/// # Errors
/// Store and sequencer errors.
pub async fn flush(app: &App) -> Result<usize, RecordError> {
    let _one = app.access.flushing.lock().await;
    let batch = app.access.take();
    if batch.is_empty() {
        return Ok(0);
    }
    for _ in 0..3 {
        let from_seq = match app.store.access_log_size().await {
            Ok(size) => size,
            Err(e) => {
                app.access.put_back(batch);
                return Err(RecordError::Submit(e.into()));
            }
        };
        let records: Vec<AccessRecord> = batch
            .iter()
            .enumerate()
            .map(|(i, (key, at, record))| AccessRecord {
                seq: from_seq + i as u64,
                key: key.clone(),
                at_micros: *at,
                record: record.clone(),
            })
            .collect();
        let bodies: Vec<Vec<u8>> = batch.iter().map(|(_, _, r)| r.clone()).collect();
        let root = batch_root(&bodies);
        let event = ServerEvent {
            event_type: "access_log_checkpoint",
            trace_id: None,
            parent_event_id: None,
            fields: Map::from_iter([(
                "access_log".to_owned(),
                json!({"from": from_seq, "to": from_seq + records.len() as u64, "root": root.to_base64()}),
            )]),
        };
        let effect = Effect::AppendAccessRecords { from_seq, records };
        let principal = crate::configuration::server_principal();
        match crate::record::record(app, &principal, event, vec![effect]).await {
            Ok(_) => return Ok(batch.len()),
            // Another server appended its batch first: number ours after it.
            Err(RecordError::Refused {
                error: StoreError::Conflict(_),
                ..
            }) => continue,
            Err(e) => {
                app.access.put_back(batch);
                return Err(e);
            }
        }
    }
    let count = batch.len();
    app.access.put_back(batch);
    Err(RecordError::Submit(crate::sequencer::SubmitError::Store(
        StoreError::Unavailable(format!(
            "{count} access records could not be numbered (the access log kept moving)"
        )),
    )))
}

/// Flushes every `every` for as long as the app lives.
pub async fn run(app: Arc<App>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(e) = flush(&app).await {
            tracing::warn!(error = %e, "access log: flush failed; kept for the next one");
        }
    }
}

/// Records matching `query`, each parsed, with its `seq`.
///
/// # Errors
/// Store errors; a stored record that is not JSON is [`StoreError::Corrupt`].
pub async fn search(app: &App, query: &AccessQuery) -> Result<Vec<Value>, StoreError> {
    let records = app.store.search_access(query).await?;
    records
        .into_iter()
        .map(|r| {
            let mut value: Value = serde_json::from_slice(&r.record).map_err(|e| {
                StoreError::Corrupt(format!("access record {} is not JSON: {e}", r.seq))
            })?;
            value["seq"] = Value::from(r.seq);
            Ok(value)
        })
        .collect()
}

/// Checks the access log against the `access_log_checkpoint` entries of the main log:
/// every batch's records are there, numbered without gap, with the stated root, and
/// no record lies beyond the last batch. Returns how many records it checked, or the
/// first problem with the main log's `seq` it concerns (the batch's checkpoint, or the
/// tree size for records no batch covers).
///
/// # Errors
/// Store errors.
pub async fn verify_access_log(
    store: &dyn Store,
    tree_size: u64,
) -> Result<Result<u64, (u64, String)>, StoreError> {
    let mut next = 0u64;
    let mut after = None;
    loop {
        let page = store
            .search(&SearchQuery {
                event_type: Some("access_log_checkpoint".into()),
                after_seq: after,
                limit: 256,
                ..SearchQuery::default()
            })
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.seq);
        for entry in &page {
            let record: Value = serde_json::from_slice(&entry.entry).map_err(|e| {
                StoreError::Corrupt(format!("entry {} is not JSON: {e}", entry.seq))
            })?;
            let batch = &record["access_log"];
            let (Some(from), Some(to), Some(root)) = (
                batch["from"].as_u64(),
                batch["to"].as_u64(),
                batch["root"].as_str(),
            ) else {
                return Ok(Err((
                    entry.seq,
                    "an access_log_checkpoint without its range and root".into(),
                )));
            };
            if from != next {
                return Ok(Err((
                    entry.seq,
                    format!("access records from {from}, but the batches before end at {next}"),
                )));
            }
            let stored = store.access_records(from, to).await?;
            let numbered = stored
                .iter()
                .enumerate()
                .all(|(i, r)| r.seq == from + i as u64);
            if stored.len() as u64 != to - from || !numbered {
                return Ok(Err((
                    entry.seq,
                    format!(
                        "access records {from}..{to}: {} stored, some missing",
                        stored.len()
                    ),
                )));
            }
            let bodies: Vec<Vec<u8>> = stored.into_iter().map(|r| r.record).collect();
            if batch_root(&bodies).to_base64() != root {
                return Ok(Err((
                    entry.seq,
                    format!(
                        "access records {from}..{to}: their root is not the one this entry states (a record was changed)"
                    ),
                )));
            }
            next = to;
        }
    }
    let size = store.access_log_size().await?;
    if size != next {
        return Ok(Err((
            tree_size,
            format!("the access log holds {size} records, but its batches in the log cover {next}"),
        )));
    }
    Ok(Ok(next))
}

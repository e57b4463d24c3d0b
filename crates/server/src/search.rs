//! Reading the trail: search, traces, jobs and run timelines (CONTRACT section 4).
//!
//! Filters are validated here (a bad one is a 400 naming the parameter), clear
//! subject identifiers become tokens before they reach the store, and results are
//! records with their payloads resolved.

use std::collections::{BTreeMap, HashMap, HashSet};

use base64::Engine;
use evident_core::event::{is_valid_id, CLIENT_EVENT_TYPES, SERVER_EVENT_TYPES};
use evident_core::query::parse_text_query;
use evident_core::token::is_subject_token;
use evident_store::{EntriesWithBlobs, SearchOrder, SearchQuery, Store};
use serde_json::{json, Map, Value};

use crate::answer::{records_len, JsonAnswer, ObjectWriter};
use crate::error::{ApiError, ApiResult};
use crate::reading::Record;
use crate::state::App;

/// Default page size of a search.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page size of a search or timeline; a larger `limit` is a 400 naming it.
pub const MAX_LIMIT: usize = 1_000;
// A page asks the store for one entry more than it shows (to know whether another
// page follows), so the store must answer at least that many.
const _: () = assert!(MAX_LIMIT < evident_store::MAX_SEARCH_LIMIT);
/// Most events a trace, job or timeline answer holds.
pub const MAX_GROUP_EVENTS: usize = 10_000;

/// The filters of `GET /api/v1/events` and `POST /api/v1/events/search`, as given.
#[derive(Debug, Default, Clone)]
pub struct SearchParams {
    pub agent: Option<String>,
    pub event_type: Option<String>,
    pub trace_id: Option<String>,
    pub job_id: Option<String>,
    pub case_id: Option<String>,
    pub subject: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

/// The parameter names, for refusing unknown ones.
pub const PARAMETERS: &[&str] = &[
    "agent", "type", "trace_id", "job_id", "case_id", "subject", "from", "to", "q", "cursor",
    "limit",
];

impl SearchParams {
    /// From name → value pairs; unknown names are a 400.
    ///
    /// # Errors
    /// 400 naming the first unknown parameter.
    pub fn from_pairs(pairs: &HashMap<String, String>) -> ApiResult<Self> {
        if let Some(unknown) = pairs.keys().find(|k| !PARAMETERS.contains(&k.as_str())) {
            return Err(ApiError::parameter(
                unknown,
                format!("unknown filter; known: {}", PARAMETERS.join(", ")),
            ));
        }
        let get = |name: &str| pairs.get(name).cloned();
        Ok(Self {
            agent: get("agent"),
            event_type: get("type"),
            trace_id: get("trace_id"),
            job_id: get("job_id"),
            case_id: get("case_id"),
            subject: get("subject"),
            from: get("from"),
            to: get("to"),
            q: get("q"),
            cursor: get("cursor"),
            limit: get("limit"),
        })
    }
}

/// Encodes a search cursor: the last `seq` a page returned.
pub fn encode_cursor(seq: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1:{seq}"))
}

fn decode_cursor(cursor: &str) -> ApiResult<u64> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("v1:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| ApiError::parameter("cursor", "not a cursor this server issued"))
}

fn id_filter(name: &str, value: Option<String>) -> ApiResult<Option<String>> {
    match value {
        Some(v) if !is_valid_id(&v) => Err(ApiError::parameter(
            name,
            "must be 1 to 128 printable ASCII characters",
        )),
        other => Ok(other),
    }
}

/// A `from`/`to` bound in microseconds since the epoch.
///
/// Time filters are exact at microsecond precision: the store keeps each event's
/// timestamp to the microsecond (digits past the sixth dropped), so a bound finer than
/// that could not be honoured exactly (an event 0.4 µs before a `from` would share its
/// stored microsecond) and is refused rather than rounded.
fn time_filter(name: &str, value: Option<&str>) -> ApiResult<Option<i64>> {
    let Some(text) = value else {
        return Ok(None);
    };
    let time = evident_core::time::parse_rfc3339(text)
        .map_err(|_| ApiError::parameter(name, "must be an RFC 3339 date-time with an offset"))?;
    if time.nanosecond() % 1_000 != 0 {
        return Err(ApiError::parameter(
            name,
            "has digits past the microsecond; time filters are exact to the microsecond, send at most six fractional digits",
        ));
    }
    Ok(Some(evident_core::time::unix_micros(time)))
}

/// The token a subject filter stands for: a `subj_` token as is, else the clear
/// identifier's token.
pub fn subject_filter(app: &App, subject: &str) -> ApiResult<String> {
    if subject.trim().is_empty() || subject.len() > 1024 {
        return Err(ApiError::parameter(
            "subject",
            "must be a non-empty identifier",
        ));
    }
    if is_subject_token(subject) {
        return Ok(subject.to_owned());
    }
    Ok(app.token_key.subject_token(subject))
}

/// Turns validated parameters into a store query.
///
/// # Errors
/// 400 naming the first bad parameter.
pub fn build_query(app: &App, params: SearchParams) -> ApiResult<SearchQuery> {
    let limit = match params.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::parameter("limit", format!("must be an integer from 1 to {MAX_LIMIT}"))
            })?,
    };
    if let Some(kind) = &params.event_type {
        if !CLIENT_EVENT_TYPES.contains(&kind.as_str())
            && !SERVER_EVENT_TYPES.contains(&kind.as_str())
        {
            return Err(ApiError::parameter("type", "not an event type"));
        }
    }
    let from_micros = time_filter("from", params.from.as_deref())?;
    let to_micros = time_filter("to", params.to.as_deref())?;
    if let (Some(from), Some(to)) = (from_micros, to_micros) {
        if from > to {
            return Err(ApiError::parameter("from", "is after `to`"));
        }
    }
    let text = match params.q.as_deref() {
        None => Vec::new(),
        Some(q) => parse_text_query(q).map_err(|e| ApiError::parameter("q", e))?,
    };
    Ok(SearchQuery {
        agent: id_filter("agent", params.agent)?,
        event_type: params.event_type,
        trace_id: id_filter("trace_id", params.trace_id)?,
        job_id: id_filter("job_id", params.job_id)?,
        case_id: id_filter("case_id", params.case_id)?,
        workflow_run_id: None,
        subject: params
            .subject
            .as_deref()
            .map(|s| subject_filter(app, s))
            .transpose()?,
        from_micros,
        to_micros,
        text,
        after_seq: params.cursor.as_deref().map(decode_cursor).transpose()?,
        before_seq: None,
        limit,
        order: SearchOrder::Seq,
    })
}

/// `indexed_through` of an answer: the highest `seq` every filter, `q` included,
/// already covers (`null` while nothing is indexed).
fn indexed_through_value(text_position: u64) -> Value {
    text_position
        .checked_sub(1)
        .map_or(Value::Null, Value::from)
}

/// A page of search results: `{events, next_cursor, indexed_through}`.
///
/// # Errors
/// Store errors.
pub async fn search(app: &App, mut query: SearchQuery) -> ApiResult<JsonAnswer> {
    let store = &*app.store;
    let text_position = store.text_indexed_through().await?;
    if !query.text.is_empty() {
        // Never page past what the text index covers, so a cursor cannot skip an
        // event indexed late.
        query.before_seq = Some(
            query
                .before_seq
                .map_or(text_position, |b| b.min(text_position)),
        );
    }
    // One more than asked tells whether another page exists, so the last page has
    // no cursor even when it is exactly full.
    let limit = query.limit;
    query.limit = limit + 1;
    let mut page = store.search_with_blobs(&query).await?;
    let more = page.entries.len() > limit;
    keep_first(&mut page, limit);
    let next_cursor = more
        .then(|| page.entries.last().map(|e| encode_cursor(e.seq)))
        .flatten();
    let events = crate::reading::records(app, page.entries, page.blobs).await?;
    let mut answer = ObjectWriter::with_capacity(records_len(&events) + 128);
    answer.records("events", &events)?;
    answer.member("next_cursor", &next_cursor)?;
    answer.member("indexed_through", &indexed_through_value(text_position))?;
    Ok(answer.finish())
}

/// Keeps the first `n` entries of a page and only their blobs.
fn keep_first(page: &mut EntriesWithBlobs, n: usize) {
    if page.entries.len() <= n {
        return;
    }
    page.entries.truncate(n);
    let kept: HashSet<u64> = page.entries.iter().map(|e| e.seq).collect();
    page.blobs
        .retain(|b| b.seq.is_some_and(|seq| kept.contains(&seq)));
}

/// Every entry matching `query` (paging through the store), up to
/// [`MAX_GROUP_EVENTS`], with their blobs if `with_blobs`; `true` if there were more.
async fn all_matching(
    store: &dyn Store,
    mut query: SearchQuery,
    with_blobs: bool,
) -> ApiResult<(EntriesWithBlobs, bool)> {
    let mut all = EntriesWithBlobs::default();
    query.limit = evident_store::MAX_SEARCH_LIMIT;
    loop {
        let page = if with_blobs {
            store.search_with_blobs(&query).await?
        } else {
            EntriesWithBlobs {
                entries: store.search(&query).await?,
                blobs: Vec::new(),
            }
        };
        let full = page.entries.len() == query.limit;
        query.after_seq = page.entries.last().map(|e| e.seq);
        all.entries.extend(page.entries);
        all.blobs.extend(page.blobs);
        if all.entries.len() >= MAX_GROUP_EVENTS {
            keep_first(&mut all, MAX_GROUP_EVENTS);
            return Ok((all, true));
        }
        if !full {
            return Ok((all, false));
        }
    }
}

fn micros_of(record: &Record) -> i64 {
    record
        .timestamp
        .as_deref()
        .and_then(|t| evident_core::time::parse_rfc3339(t).ok())
        .map_or(i64::MIN, evident_core::time::unix_micros)
}

fn seq_of(record: &Map<String, Value>) -> u64 {
    record
        .get("seq")
        .and_then(Value::as_u64)
        .unwrap_or_default()
}

fn text_of<'a>(record: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    record.get(field).and_then(Value::as_str)
}

/// `GET /api/v1/traces/{trace_id}`: events by timestamp then `seq`, and the causal tree.
///
/// # Errors
/// 404 if no event has this trace id.
pub async fn trace(app: &App, trace_id: &str) -> ApiResult<JsonAnswer> {
    let trace_id = id_filter("trace_id", Some(trace_id.to_owned()))?.unwrap_or_default();
    let query = SearchQuery {
        trace_id: Some(trace_id.clone()),
        ..SearchQuery::default()
    };
    let (page, truncated) = all_matching(&*app.store, query, true).await?;
    if page.entries.is_empty() {
        return Err(ApiError::not_found(format!(
            "no events in trace {trace_id:?}"
        )));
    }
    let mut events = crate::reading::records(app, page.entries, page.blobs).await?;
    events.sort_by_cached_key(|r| (micros_of(r), r.seq));
    // The tree takes about as much as the event ids and some punctuation.
    let mut answer = ObjectWriter::with_capacity(records_len(&events) + 64 * events.len() + 128);
    answer.member("trace_id", &trace_id)?;
    answer.records("events", &events)?;
    answer.member("tree", &causal_tree(&events))?;
    // The registry entries the events' snapshots name, by event id (CONTRACT section
    // 1, `snapshot`): one registry read per distinct `name@version`.
    let links = crate::artifacts::snapshot_links_of(app, &events).await?;
    let by_event: serde_json::Map<String, serde_json::Value> = events
        .iter()
        .zip(links)
        .filter(|(_, links)| !links.is_empty())
        .map(|(record, links)| {
            (
                record.event_id.clone().unwrap_or_default(),
                serde_json::Value::Object(links),
            )
        })
        .collect();
    if !by_event.is_empty() {
        answer.member("artifacts", &by_event)?;
    }
    answer.member("truncated", &truncated)?;
    Ok(answer.finish())
}

/// Deepest nesting of the causal tree; deeper events are listed at the root, marked
/// `detached`, so a long chain of parents cannot make an answer too deep to parse:
/// each level is two levels of JSON, and common parsers (serde_json among them) stop
/// at 128.
pub const MAX_TREE_DEPTH: usize = 60;

/// The tree of `parent_event_id` links among `events` (already in display order).
/// Events whose parent is not in the trace (or that sit on a cycle of parents) hang at
/// the root, marked `orphan: true`.
pub fn causal_tree(events: &[Record]) -> Vec<Value> {
    let ids: HashMap<&str, usize> = events
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.event_id.as_deref().map(|id| (id, i)))
        .collect();
    let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut roots: Vec<(usize, bool)> = Vec::new();
    for (i, record) in events.iter().enumerate() {
        match record.parent_event_id.as_deref().map(|p| ids.get(p)) {
            None => roots.push((i, false)),
            Some(Some(&p)) if p != i => children.entry(p).or_default().push(i),
            Some(_) => roots.push((i, true)),
        }
    }
    let mut visited = vec![false; events.len()];
    let mut tree = Vec::new();
    let mut pending: std::collections::VecDeque<(usize, &'static str)> = roots
        .into_iter()
        .map(|(i, orphan)| (i, if orphan { "orphan" } else { "" }))
        .collect();
    loop {
        while let Some((root, mark)) = pending.pop_front() {
            if visited[root] {
                continue;
            }
            tree.push(subtree(
                root,
                mark,
                events,
                &children,
                &mut visited,
                &mut pending,
            ));
        }
        // Whatever no root reaches sits on a cycle of parents.
        match visited.iter().position(|v| !v) {
            Some(i) => pending.push_back((i, "orphan")),
            None => return tree,
        }
    }
}

/// Builds one subtree without recursion; children past [`MAX_TREE_DEPTH`] are queued
/// as detached roots.
fn subtree(
    root: usize,
    mark: &'static str,
    events: &[Record],
    children: &BTreeMap<usize, Vec<usize>>,
    visited: &mut [bool],
    pending: &mut std::collections::VecDeque<(usize, &'static str)>,
) -> Value {
    let node = |i: usize, kids: Vec<Value>, mark: &str| {
        let mut n = json!({"event_id": events[i].event_id, "children": kids});
        if !mark.is_empty() {
            n[mark] = json!(true);
        }
        n
    };
    visited[root] = true;
    // Frames: (event, built children, next child to visit).
    let mut stack: Vec<(usize, Vec<Value>, usize)> = vec![(root, Vec::new(), 0)];
    loop {
        let depth = stack.len();
        let top = stack
            .last_mut()
            .expect("the stack holds the root until it returns");
        let next = children.get(&top.0).and_then(|c| c.get(top.2)).copied();
        if let Some(child) = next {
            top.2 += 1;
            if visited[child] {
                continue;
            }
            if depth >= MAX_TREE_DEPTH {
                pending.push_back((child, "detached"));
                continue;
            }
            visited[child] = true;
            stack.push((child, Vec::new(), 0));
            continue;
        }
        let (i, kids, _) = stack.pop().expect("not empty");
        match stack.last_mut() {
            Some(parent) => parent.1.push(node(i, kids, "")),
            None => return node(i, kids, mark),
        }
    }
}

fn map_micros_of(record: &Map<String, Value>) -> i64 {
    record
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(|t| evident_core::time::parse_rfc3339(t).ok())
        .map_or(i64::MIN, evident_core::time::unix_micros)
}

fn pointer(record: &Map<String, Value>) -> Value {
    json!({"event_id": text_of(record, "event_id"), "seq": seq_of(record)})
}

/// `GET /api/v1/jobs/{id}`: the job's state, derived from its events.
///
/// # Errors
/// 404 if no event has this job id.
pub async fn job(app: &App, job_id: &str) -> ApiResult<JsonAnswer> {
    let job_id = id_filter("job_id", Some(job_id.to_owned()))?.unwrap_or_default();
    let query = SearchQuery {
        job_id: Some(job_id.clone()),
        ..SearchQuery::default()
    };
    // The job's state lies outside its payloads: no blob is read.
    let (page, truncated) = all_matching(&*app.store, query, false).await?;
    let Some(first) = page.entries.first() else {
        return Err(ApiError::not_found(format!("no events for job {job_id:?}")));
    };
    let events = page
        .entries
        .iter()
        .map(crate::reading::parse_record)
        .collect::<ApiResult<Vec<_>>>()?;
    let kind = |r: &Map<String, Value>| text_of(r, "event_type").map(str::to_owned);
    let latest = |field: &str| {
        events
            .iter()
            .rev()
            .find_map(|r| r.get(field).filter(|v| !v.is_null()).cloned())
    };
    let approvals: Vec<Value> = events
        .iter()
        .filter(|r| {
            matches!(
                kind(r).as_deref(),
                Some("human_review" | "approval_request" | "approval_resolution")
            )
        })
        .map(|r| json!({"event_id": text_of(r, "event_id"), "seq": seq_of(r), "event_type": kind(r), "approval": r.get("approval")}))
        .collect();
    let result = events
        .iter()
        .rev()
        .find(|r| kind(r).as_deref() == Some("external_action"));
    let requests = app
        .store
        .approvals(&evident_store::approvals::ApprovalFilter {
            include_resolved: true,
            job_id: Some(job_id.clone()),
            limit: crate::approvals::MAX_LIST,
            ..Default::default()
        })
        .await?;
    let required = events
        .iter()
        .any(|r| kind(r).as_deref() == Some("policy_decision") && requires_approval(r));
    let check = approval_check(&requests, required, result);
    let mut answer = json!({
        "job_id": job_id,
        "outcome": latest("outcome"),
        "context_ptr": json!({"event_id": text_of(&events[0], "event_id"), "seq": first.seq}),
        "result_ptr": result.map(pointer),
        "output_safety": latest("output_safety"),
        "approvals": approvals,
        "events": events.len(),
        "truncated": truncated,
        "first_timestamp": events.iter().min_by_key(|r| map_micros_of(r)).and_then(|r| r.get("timestamp").cloned()),
        "last_timestamp": events.iter().max_by_key(|r| map_micros_of(r)).and_then(|r| r.get("timestamp").cloned()),
        "approval_requests": approval_views(app, &requests).await?,
    });
    for (name, value) in check {
        answer[name] = value;
    }
    Ok(JsonAnswer::from_value(&answer))
}

/// The job's approval requests as the API answers them, each with `payloads_erased:
/// true` when its subject was erased after it was opened: its draft, final and diff
/// can no longer be shown (their hashes, in the entries, still can).
async fn approval_views(
    app: &App,
    requests: &[evident_store::approvals::Approval],
) -> ApiResult<Vec<Value>> {
    let mut erased: HashMap<&str, Option<i64>> = HashMap::new();
    let mut views = Vec::with_capacity(requests.len());
    for approval in requests {
        let mut view = crate::approvals::approval_json(approval);
        if let Some(subject) = approval.request.subject.as_deref() {
            let at = match erased.get(subject) {
                Some(at) => *at,
                None => {
                    let at = app.store.erased_at(subject).await?;
                    erased.insert(subject, at);
                    at
                }
            };
            view["payloads_erased"] =
                Value::Bool(at.is_some_and(|at| at >= approval.request.opened_micros));
        }
        views.push(view);
    }
    Ok(views)
}

/// Whether a `policy_decision` record decided REQUIRE_APPROVAL (its `decision` as a
/// string, or an object's `decision`, `outcome` or `action`).
fn requires_approval(record: &Map<String, Value>) -> bool {
    const REQUIRE: &str = "REQUIRE_APPROVAL";
    match record.get("decision") {
        Some(Value::String(d)) => d == REQUIRE,
        Some(Value::Object(d)) => ["decision", "outcome", "action"]
            .iter()
            .any(|k| d.get(*k).and_then(Value::as_str) == Some(REQUIRE)),
        _ => false,
    }
}

/// Did the agent do what was approved (CONTRACT section 6)? `approved_job_hash` (the
/// last approval's: the draft's, or the edit's final), the `job_hash` of the job's
/// last `external_action`, `action_matches_approval` (null when the job needed no
/// approval, or nothing was done yet) and, when an action happened without a matching
/// approval, `approval_violation` saying why: `no_approval`, `pending`, `rejected`,
/// `expired`, `no_job_hash` or `hash_mismatch`.
fn approval_check(
    requests: &[evident_store::approvals::Approval],
    required: bool,
    action: Option<&Map<String, Value>>,
) -> Vec<(&'static str, Value)> {
    let approved: Vec<&str> = requests
        .iter()
        .filter_map(crate::approvals::approved_job_hash)
        .collect();
    let executed = action
        .and_then(|r| r.get("job_hash"))
        .and_then(Value::as_str);
    let needed = required || !requests.is_empty();
    let matches = match (needed, action) {
        (false, _) | (_, None) => Value::Null,
        (true, Some(_)) => Value::Bool(executed.is_some_and(|h| approved.contains(&h))),
    };
    let violation = if matches == Value::Bool(false) {
        let states: Vec<&str> = requests.iter().map(|a| a.state.as_str()).collect();
        let why = if requests.is_empty() {
            "no_approval"
        } else if approved.is_empty() && states.contains(&"open") {
            "pending"
        } else if approved.is_empty() && states.contains(&"rejected") {
            "rejected"
        } else if approved.is_empty() {
            "expired"
        } else if executed.is_none() {
            "no_job_hash"
        } else {
            "hash_mismatch"
        };
        json!({"reason": why, "action": action.map(pointer)})
    } else {
        Value::Null
    };
    vec![
        ("approved_job_hash", json!(approved.last())),
        ("job_hash", json!(executed)),
        ("action_matches_approval", matches),
        ("approval_violation", violation),
    ]
}

/// `GET /api/v1/jobs/{id}/decisions`: the job's `policy_decision` events.
///
/// # Errors
/// Store errors.
pub async fn job_decisions(app: &App, job_id: &str) -> ApiResult<JsonAnswer> {
    let job_id = id_filter("job_id", Some(job_id.to_owned()))?.unwrap_or_default();
    let query = SearchQuery {
        job_id: Some(job_id.clone()),
        event_type: Some("policy_decision".into()),
        ..SearchQuery::default()
    };
    let (page, truncated) = all_matching(&*app.store, query, true).await?;
    let decisions = crate::reading::records(app, page.entries, page.blobs).await?;
    let mut answer = ObjectWriter::with_capacity(records_len(&decisions) + 128);
    answer.member("job_id", &job_id)?;
    answer.records("decisions", &decisions)?;
    answer.member("truncated", &truncated)?;
    Ok(answer.finish())
}

/// `GET /api/v1/workflow-runs/{id}/timeline?limit=`: the run's first `limit` events
/// in time order (default and most: [`MAX_LIMIT`]); `truncated` says whether it has more.
///
/// # Errors
/// 400 for a bad limit; 404 if the run has no events.
pub async fn timeline(app: &App, run_id: &str, limit: Option<u64>) -> ApiResult<JsonAnswer> {
    let run_id = id_filter("workflow_run_id", Some(run_id.to_owned()))?.unwrap_or_default();
    let limit = match limit {
        None => MAX_LIMIT,
        Some(n) if (1..=MAX_LIMIT as u64).contains(&n) => usize::try_from(n).unwrap_or(MAX_LIMIT),
        Some(_) => {
            return Err(ApiError::parameter(
                "limit",
                format!("must be from 1 to {MAX_LIMIT}"),
            ))
        }
    };
    // One more than asked tells whether the run has more events than the answer.
    let query = SearchQuery {
        workflow_run_id: Some(run_id.clone()),
        order: SearchOrder::Time,
        limit: limit + 1,
        ..SearchQuery::default()
    };
    let mut page = app.store.search_with_blobs(&query).await?;
    let truncated = page.entries.len() > limit;
    keep_first(&mut page, limit);
    if page.entries.is_empty() {
        return Err(ApiError::not_found(format!(
            "no events in workflow run {run_id:?}"
        )));
    }
    let events = crate::reading::records(app, page.entries, page.blobs).await?;
    let mut answer = ObjectWriter::with_capacity(records_len(&events) + 128);
    answer.member("workflow_run_id", &run_id)?;
    answer.records("events", &events)?;
    answer.member("truncated", &truncated)?;
    Ok(answer.finish())
}

//! Search over entries: filters on indexed columns, full text through FTS5.
//!
//! The SQL is built from a fixed set of clauses; every value is a bound parameter.
//! Full-text terms are parsed by evident-core and each becomes a quoted FTS5 string,
//! so no user text ever acts as FTS5 or SQL syntax.

use evident_core::query::TextTerm;
use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;

use super::sql_seq;
use crate::{SearchOrder, SearchQuery, StoredEntry, MAX_SEARCH_LIMIT};

/// The SQL and parameters of a search. Traces, jobs, cases and runs are matched by
/// their number (schema migration 3); an id without a number matches nothing.
pub fn build(query: &SearchQuery) -> (String, Vec<SqlValue>) {
    let mut sql = String::from("SELECT seq, entry FROM entries WHERE 1 = 1");
    let mut params: Vec<SqlValue> = Vec::new();
    let numbered = [
        ("trace_no", IdKind::Trace, &query.trace_id),
        ("job_no", IdKind::Job, &query.job_id),
        ("case_no", IdKind::Case, &query.case_id),
        ("run_no", IdKind::WorkflowRun, &query.workflow_run_id),
    ];
    for (column, kind, value) in numbered {
        if let Some(v) = value {
            params.push(SqlValue::Text(v.clone()));
            sql.push_str(&format!(
                " AND {column} = (SELECT no FROM id_numbers WHERE kind = {} AND value = ?{})",
                kind as u8,
                params.len()
            ));
        }
    }
    let mut eq = |column: &str, value: &Option<String>, sql: &mut String| {
        if let Some(v) = value {
            params.push(SqlValue::Text(v.clone()));
            sql.push_str(&format!(" AND {column} = ?{}", params.len()));
        }
    };
    eq("subject", &query.subject, &mut sql);
    eq("agent", &query.agent, &mut sql);
    eq("event_type", &query.event_type, &mut sql);
    let mut bound = |clause: &str, value: SqlValue, sql: &mut String| {
        params.push(value);
        sql.push_str(&format!(" AND {clause} ?{}", params.len()));
    };
    if let Some(from) = query.from_micros {
        bound("ts >=", SqlValue::Integer(from), &mut sql);
    }
    if let Some(to) = query.to_micros {
        bound("ts <=", SqlValue::Integer(to), &mut sql);
    }
    if let Some(after) = query.after_seq {
        bound("seq >", SqlValue::Integer(sql_seq(after)), &mut sql);
    }
    if let Some(before) = query.before_seq {
        bound("seq <", SqlValue::Integer(sql_seq(before)), &mut sql);
    }
    if !query.text.is_empty() {
        params.push(SqlValue::Text(fts5_expression(&query.text)));
        sql.push_str(&format!(
            " AND seq IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?{})",
            params.len()
        ));
    }
    sql.push_str(match query.order {
        SearchOrder::Seq => " ORDER BY seq",
        SearchOrder::Time => " ORDER BY ts, seq",
    });
    params.push(SqlValue::Integer(
        i64::try_from(query.limit.clamp(1, MAX_SEARCH_LIMIT)).unwrap_or(1),
    ));
    sql.push_str(&format!(" LIMIT ?{}", params.len()));
    (sql, params)
}

/// Ids the embedded store indexes by number: an id's number is the `seq` of the first
/// entry that named it (table `id_numbers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum IdKind {
    Trace = 0,
    Job = 1,
    Case = 2,
    WorkflowRun = 3,
}

/// Runs a search.
pub(super) fn search(
    conn: &Connection,
    dictionaries: &super::compress::Dictionaries,
    query: &SearchQuery,
) -> rusqlite::Result<Vec<StoredEntry>> {
    let (sql, params) = sql_of(query);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
        super::stored_entry(dictionaries, conn, r)
    })?;
    rows.collect()
}

/// The FTS5 query for parsed terms: each word a quoted string, phrases quoted whole,
/// prefixes as `"stem"*`; terms side by side are ANDed.
pub fn fts5_expression(terms: &[TextTerm]) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    terms
        .iter()
        .map(|term| match term {
            TextTerm::Word(w) => quote(w),
            TextTerm::Phrase(words) => quote(&words.join(" ")),
            TextTerm::Prefix(stem) => format!("{}*", quote(stem)),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The query plan SQLite picks for a search, one line per step (for tests that
/// assert an index is used).
pub fn explain(conn: &Connection, query: &SearchQuery) -> rusqlite::Result<Vec<String>> {
    let (sql, params) = sql_of(query);
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
        r.get::<_, String>(3)
    })?;
    rows.collect()
}

/// The SQL a search runs: [`build`], or for text alone [`build_text_alone`].
fn sql_of(query: &SearchQuery) -> (String, Vec<SqlValue>) {
    if text_alone(query) {
        build_text_alone(query)
    } else {
        build(query)
    }
}

/// Full text and nothing else but the cursor's bounds, in `seq` order: the common
/// search, and the one whose match set grows with the log.
fn text_alone(query: &SearchQuery) -> bool {
    let SearchQuery {
        agent,
        event_type,
        trace_id,
        job_id,
        case_id,
        workflow_run_id,
        subject,
        from_micros,
        to_micros,
        text,
        after_seq: _,
        before_seq: _,
        limit: _,
        order,
    } = query;
    !text.is_empty()
        && *order == SearchOrder::Seq
        && [
            agent,
            event_type,
            trace_id,
            job_id,
            case_id,
            workflow_run_id,
            subject,
        ]
        .iter()
        .all(|filter| filter.is_none())
        && from_micros.is_none()
        && to_micros.is_none()
}

/// Text alone: FTS5 hands out matching rowids (= `seq`s) in order within the
/// cursor's bounds and the join stops at the page's end, so a page costs the same
/// whether two words match a hundred entries or half the log (building the whole
/// match set first, as `seq IN (...)` does, grows with the log).
fn build_text_alone(query: &SearchQuery) -> (String, Vec<SqlValue>) {
    let mut params = vec![SqlValue::Text(fts5_expression(&query.text))];
    let mut sql = String::from(
        "SELECT seq, entry FROM events_fts CROSS JOIN entries ON entries.seq = events_fts.rowid
         WHERE events_fts MATCH ?1",
    );
    if let Some(after) = query.after_seq {
        params.push(SqlValue::Integer(sql_seq(after)));
        sql.push_str(&format!(" AND events_fts.rowid > ?{}", params.len()));
    }
    if let Some(before) = query.before_seq {
        params.push(SqlValue::Integer(sql_seq(before)));
        sql.push_str(&format!(" AND events_fts.rowid < ?{}", params.len()));
    }
    params.push(SqlValue::Integer(
        i64::try_from(query.limit.clamp(1, MAX_SEARCH_LIMIT)).unwrap_or(1),
    ));
    sql.push_str(&format!(
        " ORDER BY events_fts.rowid LIMIT ?{}",
        params.len()
    ));
    (sql, params)
}

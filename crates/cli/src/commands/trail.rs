//! `evident trace TRACE_ID` and `evident search ...`: the read side in a terminal, on
//! the local store or a server.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};

use serde_json::{json, Value};

use crate::remote::{success, Remote};
use crate::Cli;

#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    /// The trace to show.
    pub trace_id: String,
    /// Print the API's JSON answer instead of a tree.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    #[arg(long)]
    pub agent: Option<String>,
    /// Event type, e.g. tool_call.
    #[arg(long = "type")]
    pub event_type: Option<String>,
    #[arg(long)]
    pub trace_id: Option<String>,
    #[arg(long)]
    pub job_id: Option<String>,
    #[arg(long)]
    pub case_id: Option<String>,
    /// A clear subject identifier or a `subj_` token.
    #[arg(long)]
    pub subject: Option<String>,
    /// Earliest event timestamp (RFC 3339).
    #[arg(long)]
    pub from: Option<String>,
    /// Latest event timestamp (RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
    /// Full text: words, "exact phrases", prefix*.
    #[arg(long)]
    pub q: Option<String>,
    #[arg(long)]
    pub limit: Option<u32>,
    #[arg(long)]
    pub cursor: Option<String>,
    /// Print the API's JSON answer instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl SearchArgs {
    fn filters(&self) -> HashMap<String, String> {
        [
            ("agent", self.agent.clone()),
            ("type", self.event_type.clone()),
            ("trace_id", self.trace_id.clone()),
            ("job_id", self.job_id.clone()),
            ("case_id", self.case_id.clone()),
            ("subject", self.subject.clone()),
            ("from", self.from.clone()),
            ("to", self.to.clone()),
            ("q", self.q.clone()),
            ("limit", self.limit.map(|l| l.to_string())),
            ("cursor", self.cursor.clone()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .collect()
    }
}

/// The application on the local store, read-only: a trace or a search starts no
/// background task, so it signs no checkpoint and writes nothing but the text index
/// it brings up to date.
async fn local_app(cli: &Cli) -> anyhow::Result<std::sync::Arc<evident_server::App>> {
    let config = super::store_config(cli)?;
    let store = crate::local::open_existing(&config).await?;
    crate::local::start_app(store, &config, crate::local::Tasks::ReadOnly).await
}

fn api_error(e: evident_server::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}", e.detail)
}

pub async fn trace(cli: &Cli, args: &TraceArgs) -> anyhow::Result<()> {
    let answer: Value = if let Some(server) = &cli.server {
        let remote = Remote::new(server, cli.api_key.as_deref())?;
        let path = format!("/api/v1/traces/{}", super::prove::urlencode(&args.trace_id));
        success(remote.get(&path).send().await?)
            .await?
            .json()
            .await?
    } else {
        let app = local_app(cli).await?;
        evident_server::search::trace(&app, &args.trace_id)
            .await
            .map_err(api_error)?
            .to_value()?
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&answer)?)?;
        return Ok(());
    }
    let style = Style::for_stdout();
    let events: HashMap<&str, &Value> = answer["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| Some((e.get("event_id")?.as_str()?, e)))
        .collect();
    writeln!(out, "{} {}", style.bold("trace"), args.trace_id)?;
    let roots = answer["tree"].as_array().cloned().unwrap_or_default();
    // (node, prefix for its children, is last sibling)
    let mut stack: Vec<(Value, String, bool)> = roots
        .iter()
        .enumerate()
        .rev()
        .map(|(i, n)| (n.clone(), String::new(), i + 1 == roots.len()))
        .collect();
    while let Some((node, prefix, last)) = stack.pop() {
        let id = node["event_id"].as_str().unwrap_or_default();
        let branch = if last { "└─ " } else { "├─ " };
        let line = events
            .get(id)
            .map_or_else(|| id.to_owned(), |e| describe(e, &style));
        let mark = if node["orphan"] == json!(true) {
            style.dim(" (parent not in trace)")
        } else {
            String::new()
        };
        writeln!(out, "{prefix}{branch}{line}{mark}")?;
        let children = node["children"].as_array().cloned().unwrap_or_default();
        let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
        for (i, child) in children.iter().enumerate().rev() {
            stack.push((child.clone(), child_prefix.clone(), i + 1 == children.len()));
        }
    }
    Ok(())
}

/// One line for an event: type, actor, tool or model, outcome, duration, seq.
fn describe(event: &Value, style: &Style) -> String {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let kind = text(&event["event_type"]).unwrap_or_default();
    let actor = text(&event["actor"]["id"]).unwrap_or_default();
    let what = text(&event["tool"]["name"])
        .or_else(|| text(&event["snapshot"]["model"]))
        .unwrap_or_default();
    let outcome = text(&event["outcome"]).unwrap_or_default();
    let outcome = match outcome.as_str() {
        "error" => style.red(&outcome),
        "success" => style.green(&outcome),
        _ => outcome,
    };
    let duration = event["metadata"]["latency_ms"]
        .as_f64()
        .map(|ms| format!("{ms} ms"))
        .unwrap_or_default();
    let seq = event["seq"].as_u64().unwrap_or_default();
    [
        style.bold(&kind),
        actor,
        what,
        outcome,
        duration,
        style.dim(&format!("seq {seq}")),
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join("  ")
}

pub async fn search(cli: &Cli, args: &SearchArgs) -> anyhow::Result<()> {
    let filters = args.filters();
    let answer: Value = if let Some(server) = &cli.server {
        let remote = Remote::new(server, cli.api_key.as_deref())?;
        let response = remote
            .post("/api/v1/events/search")
            .json(&filters)
            .send()
            .await?;
        success(response).await?.json().await?
    } else {
        let app = local_app(cli).await?;
        // No server keeps the text index current here: bring it up to date first.
        loop {
            match evident_server::indexer::index_step(&app).await {
                Ok(0) => break,
                Ok(_) => {}
                // The background indexer moved first: go on from where it is.
                Err(evident_store::StoreError::Conflict(_)) => tokio::task::yield_now().await,
                Err(e) => return Err(e.into()),
            }
        }
        let params =
            evident_server::search::SearchParams::from_pairs(&filters).map_err(api_error)?;
        let query = evident_server::search::build_query(&app, params).map_err(api_error)?;
        evident_server::search::search(&app, query)
            .await
            .map_err(api_error)?
            .to_value()?
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&answer)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:>8}  {:<27}  {:<15}  {:<20}  {:<24}  event_id",
        "seq", "timestamp", "type", "agent", "trace"
    )?;
    for event in answer["events"].as_array().into_iter().flatten() {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        writeln!(
            out,
            "{:>8}  {:<27}  {:<15}  {:<20}  {:<24}  {}",
            event["seq"].as_u64().unwrap_or_default(),
            text(&event["timestamp"]),
            text(&event["event_type"]),
            text(&event["actor"]["id"]),
            text(&event["trace_id"]),
            text(&event["event_id"]),
        )?;
    }
    if let Some(cursor) = answer["next_cursor"].as_str() {
        writeln!(out, "more: --cursor {cursor}")?;
    }
    Ok(())
}

/// ANSI styling on a terminal, plain text when piped.
struct Style {
    color: bool,
}

impl Style {
    fn for_stdout() -> Self {
        Self {
            color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color && !text.is_empty() {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
    fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }
    fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }
    fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }
}

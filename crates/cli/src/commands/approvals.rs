//! `evident approvals list|resolve`: the approval queue (CONTRACT sections 4 and 6)
//! from the terminal, on a server (`--server`, an approver's key to resolve) or on a
//! local store (the actions are recorded under the principal `cli`).

use std::path::PathBuf;

use anyhow::Context as _;
use serde_json::{json, Value};

use crate::remote::{success, Remote};
use crate::Cli;

#[derive(Debug, clap::Subcommand)]
pub enum ApprovalsCommand {
    /// The queue: open requests, oldest first (--all: resolved and expired too).
    List(ListArgs),
    /// Approve, reject, edit (--final FILE) or escalate a request, quoting its job hash.
    Resolve(ResolveArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Resolved and expired requests too.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, clap::Args)]
pub struct ResolveArgs {
    /// The request's id (`apr_…`).
    pub id: String,
    /// approved, rejected, edited or escalated.
    #[arg(long)]
    pub resolution: String,
    /// The request's job_hash (what `list` shows): proves you saw that draft.
    #[arg(long)]
    pub job_hash: String,
    #[arg(long, default_value = "")]
    pub comment: String,
    /// For `edited`: a JSON file (or `-`, stdin) with the action as approved.
    #[arg(long = "final", value_name = "FILE")]
    pub final_file: Option<PathBuf>,
    /// How you acted (recorded with the resolution).
    #[arg(long, default_value = "cli")]
    pub method: String,
}

pub async fn run(cli: &Cli, command: &ApprovalsCommand) -> anyhow::Result<()> {
    let answer = match command {
        ApprovalsCommand::List(args) => list(cli, args).await?,
        ApprovalsCommand::Resolve(args) => resolve(cli, args).await?,
    };
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

/// The principal a local command acts as.
fn local_principal() -> evident_server::auth::Principal {
    evident_server::auth::Principal {
        name: "cli".into(),
        role: evident_server::auth::Role::Admin,
        agents: evident_store::AgentBinding::Any,
    }
}

async fn list(cli: &Cli, args: &ListArgs) -> anyhow::Result<Value> {
    if let Some(server) = &cli.server {
        let remote = Remote::new(server, cli.api_key.as_deref())?;
        let mut approvals = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("include_resolved", args.all.to_string())];
            if let Some(cursor) = &cursor {
                query.push(("cursor", cursor.clone()));
            }
            let response = remote.get("/api/v1/approvals").query(&query).send().await?;
            let page: Value = success(response).await?.json().await?;
            approvals.extend(page["approvals"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        return Ok(json!({"approvals": approvals}));
    }
    let config = super::store_config(cli)?;
    let store = crate::local::open_existing(&config).await?;
    let app = crate::local::start_app(store, &config, crate::local::Tasks::ReadOnly).await?;
    let principal = local_principal();
    let mut approvals = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let (page, next) =
            evident_server::approvals::list(&app, &principal, args.all, cursor.as_deref(), None)
                .await?;
        approvals.extend(page.iter().map(evident_server::approvals::approval_json));
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(json!({"approvals": approvals}))
}

async fn resolve(cli: &Cli, args: &ResolveArgs) -> anyhow::Result<Value> {
    let final_payload = match &args.final_file {
        None => None,
        Some(file) => {
            let bytes = if file.as_os_str() == "-" {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)?;
                bytes
            } else {
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?
            };
            Some(
                evident_core::json::parse_value(&bytes)
                    .with_context(|| format!("{} is not JSON", file.display()))?,
            )
        }
    };
    if let Some(server) = &cli.server {
        let remote = Remote::new(server, cli.api_key.as_deref())?;
        let mut body = json!({
            "resolution": args.resolution, "job_hash": args.job_hash,
            "comment": args.comment, "method": args.method,
        });
        if let Some(final_payload) = final_payload {
            body["final"] = final_payload;
        }
        let path = format!("/api/v1/approvals/{}/resolve", args.id);
        let response = remote.post(&path).json(&body).send().await?;
        return Ok(success(response).await?.json().await?);
    }
    let config = super::store_config(cli)?;
    let store = crate::local::open_existing(&config).await?;
    let app = crate::local::start_app(store, &config, crate::local::Tasks::All).await?;
    let request = evident_server::approvals::ResolveRequest {
        resolution: args.resolution.clone(),
        job_hash: args.job_hash.clone(),
        comment: args.comment.clone(),
        final_payload,
        method: Some(args.method.clone()),
    };
    let (approval, appended) =
        evident_server::approvals::resolve(&app, &local_principal(), &args.id, request).await?;
    let mut answer = evident_server::approvals::approval_json(&approval);
    answer["event_id"] = json!(appended.event_id);
    answer["seq"] = json!(appended.seq);
    Ok(answer)
}

//! `evident artifacts publish|get`: the artifact registry (CONTRACT section 6) from the
//! terminal, on a local store or a server (`--server`, with an admin key to publish).

use std::path::PathBuf;

use anyhow::Context as _;
use evident_store::artifacts::ArtifactSelector;
use serde_json::{json, Value};

use crate::remote::{success, Remote};
use crate::Cli;

#[derive(Debug, clap::Subcommand)]
pub enum ArtifactsCommand {
    /// Publish an immutable version; FILE (or `-`, stdin) holds its content as JSON.
    Publish(PublishArgs),
    /// Print a version: KIND/NAME (latest), KIND/NAME@VERSION, or with --label.
    Get(GetArgs),
}

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// prompt, tool_schema, model, retrieval_index, workflow or eval_dataset.
    #[arg(long)]
    pub kind: String,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub version: String,
    /// A JSON file with the content, or `-` for stdin.
    pub file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    /// KIND/NAME or KIND/NAME@VERSION.
    pub artifact: String,
    /// The version that was latest (or under --label) at this RFC 3339 time.
    #[arg(long)]
    pub at: Option<String>,
    /// The version under this label.
    #[arg(long)]
    pub label: Option<String>,
}

pub async fn run(cli: &Cli, command: &ArtifactsCommand) -> anyhow::Result<()> {
    let answer = match command {
        ArtifactsCommand::Publish(args) => publish(cli, args).await?,
        ArtifactsCommand::Get(args) => get(cli, args).await?,
    };
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

async fn publish(cli: &Cli, args: &PublishArgs) -> anyhow::Result<Value> {
    let bytes = if args.file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)?;
        bytes
    } else {
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?
    };
    let content = evident_core::json::parse_value(&bytes)
        .with_context(|| format!("{} is not JSON", args.file.display()))?;
    if let Some(server) = &cli.server {
        let remote = Remote::new(server, cli.api_key.as_deref())?;
        let body = json!({
            "kind": args.kind, "name": args.name, "version": args.version, "content": content,
        });
        let response = remote.post("/api/v1/artifacts").json(&body).send().await?;
        return Ok(success(response).await?.json().await?);
    }
    let config = super::store_config(cli)?;
    let store = crate::local::open_existing(&config).await?;
    let app = crate::local::start_app(store, &config, crate::local::Tasks::All).await?;
    let principal = evident_server::auth::Principal {
        name: "cli".into(),
        role: evident_server::auth::Role::Admin,
        agents: evident_store::AgentBinding::Any,
    };
    let request = evident_server::artifacts::PublishRequest {
        kind: args.kind.clone(),
        name: args.name.clone(),
        version: args.version.clone(),
        content,
        metadata: None,
    };
    let published = evident_server::artifacts::publish(&app, &principal, request).await?;
    let mut answer = evident_server::artifacts::artifact_json(&published.artifact);
    answer["created"] = Value::Bool(published.created);
    Ok(answer)
}

async fn get(cli: &Cli, args: &GetArgs) -> anyhow::Result<Value> {
    let (kind, rest) = args
        .artifact
        .split_once('/')
        .context("name the artifact as KIND/NAME or KIND/NAME@VERSION")?;
    if let Some(server) = &cli.server {
        let remote = Remote::new(server, cli.api_key.as_deref())?;
        let mut query = Vec::new();
        if let Some(at) = &args.at {
            query.push(("at", at.as_str()));
        }
        if let Some(label) = &args.label {
            query.push(("label", label.as_str()));
        }
        let path = format!("/api/v1/artifacts/{}/{}", urlencode(kind), urlencode(rest));
        let response = remote.get(&path).query(&query).send().await?;
        return Ok(success(response).await?.json().await?);
    }
    let (name, version) = match rest.split_once('@') {
        Some((name, version)) => (name, Some(version)),
        None => (rest, None),
    };
    let selector = match (version, &args.label) {
        (Some(_), Some(_)) => anyhow::bail!("give either @VERSION or --label, not both"),
        (Some(version), None) => ArtifactSelector::Version(version.to_owned()),
        (None, Some(label)) => ArtifactSelector::Label(label.clone()),
        (None, None) => ArtifactSelector::Latest,
    };
    let at = args
        .at
        .as_deref()
        .map(|at| {
            evident_core::time::parse_rfc3339(at)
                .map(evident_core::time::unix_micros)
                .with_context(|| format!("--at {at:?} is not an RFC 3339 time"))
        })
        .transpose()?;
    let config = super::store_config(cli)?;
    let store = crate::local::open_existing(&config).await?;
    let app = crate::local::start_app(store, &config, crate::local::Tasks::ReadOnly).await?;
    let found = evident_server::artifacts::get(&app, kind, name, &selector, at).await?;
    Ok(evident_server::artifacts::artifact_json(&found))
}

/// Percent-encodes a path segment (keeping `@`, which separates a version).
fn urlencode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' | b'~' | b'@' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

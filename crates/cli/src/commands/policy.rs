//! `evident policy publish|rollback|list|test|replay`: policy sets on Cedar (CONTRACT
//! section 6) from the terminal, on a local store or a server (`--server`). `test`
//! needs neither: it evaluates a request against policy files.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::{json, Value};

use crate::remote::{success, Remote};
use crate::{CheckFailed, Cli};

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Publish the next version of set ID from a Cedar policy file; it becomes active.
    Publish(PublishArgs),
    /// Re-activate the version before the active one of set ID.
    Rollback(RollbackArgs),
    /// The active sets, their state and rules, and the policy snapshot.
    List,
    /// Evaluate a request against a local policy file (no server, no store).
    Test(TestArgs),
    /// Evaluate a logged policy_decision again against the versions it names.
    Replay(ReplayArgs),
}

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The set's id.
    pub id: String,
    /// The Cedar policy text; every rule has an @id.
    pub file: PathBuf,
    /// The Cedar schema (Cedar schema syntax) the text is validated against.
    #[arg(long)]
    pub schema: PathBuf,
    /// A JSON file with test cases: [{request, expect, now?}].
    #[arg(long)]
    pub tests: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    pub id: String,
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The Cedar policy text.
    pub file: PathBuf,
    /// The request, as JSON text or a file: {agent, action, resource, context}.
    #[arg(long)]
    pub request: String,
    /// The Cedar schema the text is validated against.
    #[arg(long)]
    pub schema: PathBuf,
    /// Test cases to run as well (a publish would).
    #[arg(long)]
    pub tests: Option<PathBuf>,
    /// `context.now` as JSON {hour, weekday, date}; the present UTC moment if absent.
    #[arg(long)]
    pub now: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The policy_decision event's id.
    pub event_id: String,
}

pub async fn run(cli: &Cli, command: &PolicyCommand) -> anyhow::Result<()> {
    let answer = match command {
        PolicyCommand::Publish(args) => publish(cli, args).await?,
        PolicyCommand::Rollback(args) => rollback(cli, args).await?,
        PolicyCommand::List => list(cli).await?,
        PolicyCommand::Test(args) => test(args)?,
        PolicyCommand::Replay(args) => {
            let answer = replay(cli, args).await?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
            return match answer["same"].as_bool() {
                Some(true) => Ok(()),
                Some(false) => Err(CheckFailed(format!(
                    "the decision replays differently: {}",
                    answer["notes"]
                ))
                .into()),
                None => Err(CheckFailed(format!(
                    "the decision cannot be replayed: {}",
                    answer["notes"]
                ))
                .into()),
            };
        }
    };
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn read_tests(path: Option<&Path>) -> anyhow::Result<Value> {
    let Some(path) = path else {
        return Ok(Value::Array(Vec::new()));
    };
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    evident_core::json::parse_value(&bytes)
        .with_context(|| format!("{} is not JSON", path.display()))
}

fn cli_principal() -> evident_server::auth::Principal {
    evident_server::auth::Principal {
        name: "cli".into(),
        role: evident_server::auth::Role::Admin,
        agents: evident_store::AgentBinding::Any,
    }
}

async fn publish(cli: &Cli, args: &PublishArgs) -> anyhow::Result<Value> {
    let text = read_text(&args.file)?;
    let schema = read_text(&args.schema)?;
    let tests = read_tests(args.tests.as_deref())?;
    if let Some(server) = &cli.server {
        let remote = Remote::new(server, cli.api_key.as_deref())?;
        let body = json!({"id": args.id, "text": text, "schema": schema, "tests": tests});
        let response = remote.post("/api/v1/policies").json(&body).send().await?;
        return Ok(success(response).await?.json().await?);
    }
    let config = super::store_config(cli)?;
    let store = crate::local::open_existing(&config).await?;
    let app = crate::local::start_app(store, &config, crate::local::Tasks::All).await?;
    let request = evident_server::policies::PublishRequest {
        id: args.id.clone(),
        text,
        schema,
        tests: evident_server::policies::parse_tests(Some(&tests))?,
    };
    let changed = evident_server::policies::publish(&app, &cli_principal(), request).await?;
    Ok(changed_json(&changed))
}

async fn rollback(cli: &Cli, args: &RollbackArgs) -> anyhow::Result<Value> {
    if let Some(server) = &cli.server {
        let remote = Remote::new(server, cli.api_key.as_deref())?;
        let path = format!("/api/v1/policies/{}/rollback", args.id);
        let response = remote.post(&path).json(&json!({})).send().await?;
        return Ok(success(response).await?.json().await?);
    }
    let config = super::store_config(cli)?;
    let store = crate::local::open_existing(&config).await?;
    let app = crate::local::start_app(store, &config, crate::local::Tasks::All).await?;
    let changed = evident_server::policies::rollback(&app, &cli_principal(), &args.id).await?;
    Ok(changed_json(&changed))
}

async fn list(cli: &Cli) -> anyhow::Result<Value> {
    if let Some(server) = &cli.server {
        let remote = Remote::new(server, cli.api_key.as_deref())?;
        let response = remote.get("/api/v1/policies").send().await?;
        return Ok(success(response).await?.json().await?);
    }
    let config = super::store_config(cli)?;
    let store = crate::local::open_existing(&config).await?;
    let app = crate::local::start_app(store, &config, crate::local::Tasks::ReadOnly).await?;
    Ok(evident_server::policies::list(&app).await?)
}

async fn replay(cli: &Cli, args: &ReplayArgs) -> anyhow::Result<Value> {
    if let Some(server) = &cli.server {
        let remote = Remote::new(server, cli.api_key.as_deref())?;
        let path = format!("/api/v1/policy/replay/{}", args.event_id);
        let response = remote.get(&path).send().await?;
        return Ok(success(response).await?.json().await?);
    }
    let config = super::store_config(cli)?;
    let store = crate::local::open_existing(&config).await?;
    let app = crate::local::start_app(store, &config, crate::local::Tasks::ReadOnly).await?;
    match evident_server::decide::replay(&app, &args.event_id).await? {
        Some(replayed) => Ok(evident_server::decide::replayed_json(&replayed)),
        None => anyhow::bail!("no event {:?} in the log", args.event_id),
    }
}

/// Compiles the file (with its tests) and decides the request: what a publish and a
/// decision would do, with nothing stored.
fn test(args: &TestArgs) -> anyhow::Result<Value> {
    let text = read_text(&args.file)?;
    let schema = read_text(&args.schema)?;
    let tests: Vec<evident_policy::TestCase> =
        serde_json::from_value(read_tests(args.tests.as_deref())?)
            .context("--tests: expected [{request, expect, now?}]")?;
    let request_text = if Path::new(&args.request).is_file() {
        read_text(Path::new(&args.request))?
    } else {
        args.request.clone()
    };
    let request: evident_policy::PolicyRequest = serde_json::from_value(
        evident_core::json::parse_value(request_text.as_bytes())
            .context("--request is not JSON")?,
    )
    .context("--request: expected {agent, action, resource, context}")?;
    let now = match &args.now {
        Some(now) => serde_json::from_str(now).context("--now: expected {hour, weekday, date}")?,
        None => evident_server::policies::now_at(
            evident_core::time::now_utc_micros().1,
            &jiff::tz::TimeZone::UTC,
        ),
    };
    let id = args
        .file
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| evident_policy::check_set_id(s).is_ok())
        .unwrap_or("local");
    let set = evident_policy::compile(id, 1, &text, &schema, tests, &now)
        .map_err(|e| anyhow::anyhow!("{}: {e}", e.field()))?;
    let active = evident_policy::ActiveSets::new(vec![std::sync::Arc::new(set)])?;
    let decision = active.decide(&request, &now);
    Ok(json!({
        "decision": decision.outcome.as_str(),
        "policy_rule_id": decision.policy_rule_id,
        "policy_reason": decision.reason,
        "determining": decision.determining,
        "now": now,
    }))
}

fn changed_json(c: &evident_server::policies::Changed) -> Value {
    json!({
        "id": c.set_id,
        "version": c.version,
        "from_version": c.from_version,
        "sha256": c.text_sha256,
        "policy_snapshot": c.snapshot,
        "event_id": c.event_id,
        "seq": c.seq,
    })
}

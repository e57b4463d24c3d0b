//! `evident retention run`: purge what expired under the configured `[retention]`
//! tiers, on the local store (one `retention_purge` event per run).

use serde_json::json;

use crate::Cli;

#[derive(Debug, clap::Subcommand)]
pub enum RetentionCommand {
    /// Purge now what expired (payloads, vault values, search text); entries stay.
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Print the run's report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(cli: &Cli, command: &RetentionCommand) -> anyhow::Result<()> {
    let RetentionCommand::Run(args) = command;
    let config = super::store_config(cli)?;
    let store = crate::local::open_existing(&config).await?;
    let app = crate::local::start_app(store, &config, crate::local::Tasks::All).await?;
    if config.retention.override_floors {
        let violations = evident_server::retention::floor_violations(&config.retention);
        evident_server::retention::record_floor_override(&app, &violations).await?;
    }
    let principal = evident_server::auth::Principal {
        name: "cli".into(),
        role: evident_server::auth::Role::Admin,
        agents: evident_store::AgentBinding::Any,
    };
    let report = evident_server::retention::run_and_note(
        &app,
        &principal,
        &config.retention,
        "evident retention run",
    )
    .await?;
    if args.json {
        let by_tier: serde_json::Map<String, serde_json::Value> = report
            .by_tier
            .iter()
            .map(|(name, (traces, blobs, texts))| {
                (
                    name.clone(),
                    json!({"traces": traces, "blobs": blobs, "search_texts": texts}),
                )
            })
            .collect();
        println!(
            "{}",
            json!({
                "run_id": report.run_id, "event_id": report.event_id, "seq": report.seq,
                "traces": report.traces, "blobs": report.counts.blobs,
                "values": report.counts.values, "search_texts": report.counts.texts,
                "by_tier": by_tier, "held": report.held,
                "archive": report.archive,
                "plan_seconds": report.planned_in.as_secs_f64(),
                "commit_seconds": report.committed_in.as_secs_f64(),
            })
        );
    } else {
        println!(
            "retention run {}: {} traces purged ({} blobs, {} vault values, {} search texts); \
             {} expired traces kept by legal holds (event {}, seq {})",
            report.run_id,
            report.traces,
            report.counts.blobs,
            report.counts.values,
            report.counts.texts,
            report.held.len(),
            report.event_id,
            report.seq
        );
        if let Some(archive) = &report.archive {
            println!("archived to {}", archive.display());
        }
    }
    Ok(())
}

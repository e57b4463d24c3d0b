//! `evident erase SUBJECT --reason R`: crypto-shred a subject, locally or on a server
//! (with a privacy key).

use serde_json::json;

use crate::remote::{success, Remote};
use crate::Cli;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The subject: its clear identifier or its `subj_` token.
    pub subject: String,
    /// Why (recorded in the log's `subject_erasure` event).
    #[arg(long)]
    pub reason: String,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<()> {
    let body = json!({"subject": args.subject, "reason": args.reason});
    let answer: serde_json::Value = if let Some(server) = &cli.server {
        let remote = Remote::new(server, cli.api_key.as_deref())?;
        success(
            remote
                .post("/api/v1/subjects/erase")
                .json(&body)
                .send()
                .await?,
        )
        .await?
        .json()
        .await?
    } else {
        let config = super::store_config(cli)?;
        let store = crate::local::open_existing(&config).await?;
        let app = crate::local::start_app(store, &config, crate::local::Tasks::All).await?;
        let principal = evident_server::auth::Principal {
            name: "cli".into(),
            role: evident_server::auth::Role::Privacy,
            agents: evident_store::AgentBinding::Any,
        };
        let request = evident_server::privacy::EraseRequest {
            subject: args.subject.clone(),
            reason: args.reason.clone(),
        };
        let receipt = evident_server::privacy::erase_and_note(&app, &principal, request).await?;
        evident_server::privacy::receipt_json(&receipt)
    };
    println!(
        "erased {}: {} keys destroyed, {} blobs and {} vault values now unreadable (event {})",
        answer["subject"].as_str().unwrap_or_default(),
        answer["keys_destroyed"],
        answer["blobs"],
        answer["values"],
        answer["event_id"].as_str().unwrap_or_default()
    );
    Ok(())
}

//! `evident prove EVENT_ID` and `evident checkpoint`.

use anyhow::Context;
use serde_json::json;

use crate::remote::{get_text, Remote};
use crate::Cli;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The event to prove.
    pub event_id: String,
}

pub async fn checkpoint(cli: &Cli) -> anyhow::Result<()> {
    if let Some(server) = &cli.server {
        let remote = Remote::new(server, cli.api_key.as_deref())?;
        print!("{}", get_text(&remote, "/checkpoint").await?);
        return Ok(());
    }
    let store = crate::local::open_existing(&super::store_config(cli)?).await?;
    let checkpoint = store
        .latest_checkpoint()
        .await?
        .context("no checkpoint has been signed yet")?;
    print!("{}", checkpoint.note);
    Ok(())
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<()> {
    if let Some(server) = &cli.server {
        let remote = Remote::new(server, cli.api_key.as_deref())?;
        let path = format!("/api/v1/events/{}?proof=true", urlencode(&args.event_id));
        let answer: serde_json::Value = serde_json::from_str(&get_text(&remote, &path).await?)?;
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "seq": answer["seq"], "leaf_hash": answer["leaf_hash"],
                "proof": answer["proof"], "checkpoint": answer["checkpoint"], "pending": answer["pending"],
            }))?
        );
        return Ok(());
    }
    let store = crate::local::open_existing(&super::store_config(cli)?).await?;
    let entry = store
        .entry_by_event_id(&args.event_id)
        .await?
        .with_context(|| format!("no event {:?}", args.event_id))?;
    let checkpoint = store
        .latest_checkpoint()
        .await?
        .filter(|c| c.size > entry.seq)
        .context("no checkpoint covers this event yet; retry in a second")?;
    let proof = evident_server::proofs::inclusion(&*store, entry.seq, Some(checkpoint.size))
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.detail))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "seq": entry.seq, "leaf_hash": proof.leaf_hash, "proof": proof, "checkpoint": checkpoint.note,
        }))?
    );
    Ok(())
}

/// Percent-encodes a path segment.
pub fn urlencode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

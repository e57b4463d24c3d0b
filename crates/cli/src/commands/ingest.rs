//! `evident ingest FILE|-`: NDJSON events into the local store or a server, in
//! batches, each acknowledged durable before the next is sent.

use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use anyhow::Context;
use evident_core::json::{parse_events_body, BodyFormat};
use evident_server::auth::{Principal, Role};
use evident_store::Store;

use crate::remote::{success, Remote};
use crate::Cli;

/// Events sent per request.
const BATCH: usize = 1_000;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An NDJSON file, or `-` for standard input.
    pub file: String,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<()> {
    let (reader, total): (Box<dyn Read + Send>, u64) = if args.file == "-" {
        (Box::new(std::io::stdin()), 0)
    } else {
        let file =
            std::fs::File::open(&args.file).with_context(|| format!("opening {}", args.file))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(file), len)
    };
    let bar = super::progress_bar(total, "ingesting");
    let mut sink = Sink::open(cli).await?;
    let mut lines = BufReader::new(reader).lines();
    let mut batch = String::new();
    let mut in_batch = 0usize;
    let mut first_line = 1u64;
    let mut line_no = 0u64;
    let mut ingested = 0u64;
    loop {
        let line = lines.next().transpose().context("reading events")?;
        if let Some(line) = &line {
            line_no += 1;
            bar.inc(line.len() as u64 + 1);
            if line.trim().is_empty() {
                continue;
            }
            if in_batch == 0 {
                first_line = line_no;
            }
            batch.push_str(line);
            batch.push('\n');
            in_batch += 1;
        }
        if in_batch > 0 && (in_batch == BATCH || line.is_none()) {
            ingested += sink
                .send(std::mem::take(&mut batch))
                .await
                .with_context(|| {
                    format!("events from line {first_line} (pointers count from that line)")
                })?;
            in_batch = 0;
        }
        if line.is_none() {
            break;
        }
    }
    sink.finish().await?;
    bar.finish_and_clear();
    println!("ingested {ingested} events");
    Ok(())
}

enum Sink {
    Local(Arc<evident_server::App>),
    Remote(Remote),
}

impl Sink {
    async fn open(cli: &Cli) -> anyhow::Result<Self> {
        if let Some(server) = &cli.server {
            return Ok(Self::Remote(Remote::new(server, cli.api_key.as_deref())?));
        }
        let config = super::store_config(cli)?;
        let store: Arc<dyn Store> = crate::local::open_existing(&config).await?;
        let app = crate::local::start_app(store, &config, crate::local::Tasks::All).await?;
        Ok(Self::Local(app))
    }

    /// Sends one NDJSON batch; returns how many events it held.
    async fn send(&mut self, ndjson: String) -> anyhow::Result<u64> {
        match self {
            Self::Local(app) => {
                let events = parse_events_body(ndjson.as_bytes(), BodyFormat::Ndjson)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let principal = Principal {
                    name: "cli".into(),
                    role: Role::Admin,
                    agents: evident_store::AgentBinding::Any,
                };
                let results = evident_server::ingest::ingest(app, &principal, events)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", e.detail))?;
                Ok(results.len() as u64)
            }
            Self::Remote(remote) => {
                let response = remote
                    .post("/api/v1/events")
                    .header("content-type", "application/x-ndjson")
                    .body(ndjson)
                    .send()
                    .await
                    .context("reaching the server")?;
                let results: Vec<serde_json::Value> = success(response).await?.json().await?;
                Ok(results.len() as u64)
            }
        }
    }

    /// Locally, signs a checkpoint covering what was ingested.
    async fn finish(self) -> anyhow::Result<()> {
        if let Self::Local(app) = self {
            if app.identity.signer.is_some() {
                evident_server::checkpointer::sign_if_grown(&app).await?;
            }
        }
        Ok(())
    }
}

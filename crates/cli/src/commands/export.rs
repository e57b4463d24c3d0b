//! `evident export --trace|--subject|--job|--case ID -o FILE`: an evidence bundle
//! (CONTRACT section 8) from the local store or a server, and
//! `evident verify-bundle FILE --key VKEY`: its offline check.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use evident_core::bundle::{verify_bundle, SelectionKind};

use crate::remote::{success, Remote};
use crate::{CheckFailed, Cli};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("selection").required(true).multiple(false)))]
pub struct Args {
    /// Every entry of this trace.
    #[arg(long, group = "selection")]
    pub trace: Option<String>,
    /// Every entry about this subject (a clear identifier or its `subj_` token).
    #[arg(long, group = "selection")]
    pub subject: Option<String>,
    /// Every entry of this job.
    #[arg(long, group = "selection")]
    pub job: Option<String>,
    /// Every entry of this case.
    #[arg(long, group = "selection")]
    pub case: Option<String>,
    /// Where to write the bundle (a .tar file); written whole or not at all.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

impl Args {
    fn selection(&self) -> (SelectionKind, &str) {
        match (&self.trace, &self.subject, &self.job, &self.case) {
            (Some(id), _, _, _) => (SelectionKind::Trace, id),
            (_, Some(id), _, _) => (SelectionKind::Subject, id),
            (_, _, Some(id), _) => (SelectionKind::Job, id),
            (_, _, _, Some(id)) => (SelectionKind::Case, id.as_str()),
            // clap requires one of them.
            (None, None, None, None) => (SelectionKind::Trace, ""),
        }
    }
}

/// A file beside `output` that becomes it only once complete.
fn partial_path(output: &Path) -> PathBuf {
    let mut name = output.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    output.with_file_name(name)
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<()> {
    let (kind, id) = args.selection();
    let partial = partial_path(&args.output);
    let result = if let Some(server) = &cli.server {
        export_remote(server, cli.api_key.as_deref(), kind, id, &partial).await
    } else {
        export_local(cli, kind, id, &partial).await
    };
    match result {
        Ok(entries) => {
            std::fs::rename(&partial, &args.output)
                .with_context(|| format!("writing {}", args.output.display()))?;
            println!(
                "exported {entries} entries of {} {id} to {}",
                kind.as_str(),
                args.output.display()
            );
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

async fn export_local(
    cli: &Cli,
    kind: SelectionKind,
    id: &str,
    partial: &Path,
) -> anyhow::Result<u64> {
    let config = super::store_config(cli)?;
    let store = crate::local::open_existing(&config).await?;
    let app = crate::local::start_app(store, &config, crate::local::Tasks::ReadOnly).await?;
    // A clear identifier becomes its token here, as at the API's boundary.
    let id = match kind {
        SelectionKind::Subject if !evident_core::token::is_subject_token(id) => {
            app.token_key.subject_token(id.trim())
        }
        _ => id.to_owned(),
    };
    let selection = evident_server::evidence::selection(kind, &id)?;
    let file = std::fs::File::create(partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let bar = counter("exporting", "entries");
    let bar_for_progress = bar.clone();
    let mut progress = move |done: u64| bar_for_progress.set_position(done);
    let summary =
        evident_server::evidence::export(&app, &selection, &mut out, &mut progress).await?;
    bar.finish_and_clear();
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(summary.entries)
}

async fn export_remote(
    server: &str,
    api_key: Option<&str>,
    kind: SelectionKind,
    id: &str,
    partial: &Path,
) -> anyhow::Result<u64> {
    let remote = Remote::new(server, api_key)?;
    let field = match kind {
        SelectionKind::Trace => "trace_id",
        SelectionKind::Subject => "subject",
        SelectionKind::Job => "job_id",
        SelectionKind::Case => "case_id",
    };
    // A clear subject never goes into a URL (CONTRACT section 4): it is posted.
    let request = if kind == SelectionKind::Subject {
        remote
            .post("/api/v1/evidence")
            .json(&serde_json::json!({ field: id }))
    } else {
        remote.get("/api/v1/evidence").query(&[(field, id)])
    };
    let mut response = success(request.send().await.context("reaching the server")?).await?;
    let entries = response
        .headers()
        .get("evident-entries")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut file = std::fs::File::create(partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    let bar = counter("downloading", "bytes");
    while let Some(chunk) = response.chunk().await? {
        file.write_all(&chunk)?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    file.sync_all()?;
    Ok(entries)
}

/// A count of work done whose total is not known ahead, on a terminal only.
fn counter(what: &str, unit: &str) -> indicatif::ProgressBar {
    if !super::interactive() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    let template = format!("{{spinner}} {{msg}} {{pos}} {unit} ({{per_sec}})");
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The bundle (.tar).
    pub file: PathBuf,
    /// The log's verifier key (`name+hex8+base64`), or a file holding it, obtained
    /// from the log's operator: the key inside the bundle is never trusted.
    #[arg(long, value_name = "VKEY")]
    pub key: Option<String>,
    /// Check against the key inside the bundle, for a quick look: proves nothing about
    /// which log the bundle came from, and says so.
    #[arg(long, conflicts_with = "key")]
    pub trust_bundled_key: bool,
    /// A witness policy (docs/witnessing.md): the checkpoint's witness cosignatures
    /// must meet its quorum.
    #[arg(long, value_name = "FILE")]
    pub witness_policy: Option<PathBuf>,
}

/// `evident verify-bundle`: no store, no server, no network.
pub fn verify(args: &VerifyArgs) -> anyhow::Result<()> {
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("opening {}", args.file.display()))?;
    let members = evident_server::evidence::read_bundle(std::io::BufReader::new(file))
        .map_err(|e| CheckFailed(format!("{}: {e}", args.file.display())))?;
    let key = match (&args.key, args.trust_bundled_key) {
        (Some(key), _) => {
            let path = Path::new(key);
            if path.is_file() {
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?
            } else {
                key.clone()
            }
        }
        (None, true) => {
            let bundled = members
                .get(evident_core::bundle::VKEY)
                .ok_or_else(|| CheckFailed("the bundle holds no log.vkey".into()))?;
            eprintln!(
                "WARNING: the verifier key is NOT pinned: checking against the bundle's own key, which proves nothing about which log it came from"
            );
            String::from_utf8_lossy(bundled).into_owned()
        }
        (None, false) => {
            return Err(CheckFailed(
                "the verifier key is not pinned: pass --key VKEY (the log's key, from its operator), or --trust-bundled-key for a quick look".into(),
            )
            .into())
        }
    };
    let key = key.trim();
    evident_tlog::verifier_key_name(key).context("--key: not an Ed25519 verifier key")?;
    let policy = match &args.witness_policy {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let policy = evident_tlog::witness::WitnessPolicy::parse(&text)
                .with_context(|| format!("--witness-policy {}", path.display()))?;
            Some(policy)
        }
        None => None,
    };
    let mut report = verify_bundle(&members, key);
    let mut cosigned = None;
    if let Some(policy) = &policy {
        match evident_core::bundle::check_witnesses(&members, key, policy) {
            Ok(names) => cosigned = Some(names),
            Err(finding) => report.failures.push(finding),
        }
    }
    let mut out = std::io::stdout().lock();
    if let Some(selection) = &report.selection {
        writeln!(
            out,
            "bundle of {} {}",
            selection.kind.as_str(),
            selection.id
        )?;
    }
    if let Some(size) = report.checkpoint_size {
        writeln!(out, "checkpoint of size {size} signed by {key}")?;
    }
    writeln!(
        out,
        "{} entries proven in it, {} payloads open their commitments",
        report.entries, report.blobs
    )?;
    if let Some(names) = &cosigned {
        writeln!(
            out,
            "witness quorum met: cosigned by {}",
            if names.is_empty() {
                "none needed".to_owned()
            } else {
                names.join(", ")
            }
        )?;
    }
    for line in &report.not_shipped {
        writeln!(out, "not shipped: {line}")?;
    }
    for note in &report.notes {
        writeln!(out, "note: {note}")?;
    }
    if report.holds() {
        writeln!(out, "OK: every check holds")?;
        return Ok(());
    }
    for finding in &report.failures {
        eprintln!("FAILED {finding}");
    }
    Err(CheckFailed(format!(
        "{} check(s) failed, the first: {}",
        report.failures.len(),
        report.failures[0]
    ))
    .into())
}

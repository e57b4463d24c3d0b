//! `evident keys`: API keys, stored hashed. Works on the store directly, so it works
//! while `serve` runs; the server sees changes within a second.

use clap::Subcommand;
use evident_server::auth::{generate_api_key, is_valid_key_name, Role};
use evident_store::{AgentBinding, Store};

use crate::Cli;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (once).
    Create {
        /// ingest, auditor, approver, privacy or admin.
        #[arg(long)]
        role: String,
        /// A unique name; it appears as `principal` on every event the key submits.
        #[arg(long)]
        name: String,
        /// Agent ids the key may claim in `actor.id` (comma-separated); default any.
        #[arg(long, value_delimiter = ',')]
        agents: Vec<String>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by name.
    Revoke { name: String },
    /// Replace the master key and re-wrap every data key under it.
    RotateMaster,
}

pub async fn run(cli: &Cli, command: &KeysCommand) -> anyhow::Result<()> {
    let store = crate::local::open_existing(cli).await?;
    let now = evident_core::time::now_utc_micros().1;
    match command {
        KeysCommand::Create { role, name, agents } => {
            let role = Role::parse(role).ok_or_else(|| {
                anyhow::anyhow!("--role must be one of ingest, auditor, approver, privacy, admin")
            })?;
            anyhow::ensure!(
                is_valid_key_name(name),
                "--name must be 1 to 64 of letters, digits, '.', '_' and '-'"
            );
            let agents: Vec<String> = agents.iter().filter(|a| !a.is_empty()).cloned().collect();
            let key = generate_api_key(name, role, agents, now);
            store.create_api_key(key.record).await?;
            println!("{}", key.secret);
        }
        KeysCommand::List => {
            println!("{:<24} {:<9} {:<10} agents", "name", "role", "state");
            for key in store.list_api_keys().await? {
                let state = if key.revoked_micros.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                let agents = match &key.agents {
                    AgentBinding::Any => "*".to_owned(),
                    AgentBinding::Only(agents) => agents.join(","),
                    // Such a key may claim no agent (see the server log).
                    AgentBinding::Unreadable(_) => "(unreadable: none)".to_owned(),
                };
                println!("{:<24} {:<9} {:<10} {agents}", key.name, key.role, state);
            }
        }
        KeysCommand::Revoke { name } => {
            store.revoke_api_key(name, now).await?;
            println!("revoked {name}");
        }
        KeysCommand::RotateMaster => {
            let paths = evident_server::datadir::SecretPaths::new(
                &cli.data,
                cli.signing_key_file.as_deref(),
            );
            let secrets = evident_server::datadir::load(&*store, &paths).await?;
            let shared: std::sync::Arc<dyn Store> = store.clone();
            let vault = evident_server::vault::Vault::new(shared, secrets.master, None);
            let (epoch, rewrapped) =
                evident_server::datadir::rotate_master(&*store, &paths, &vault).await?;
            println!("master key rotated to epoch {epoch}; {rewrapped} data keys re-wrapped");
        }
    }
    Ok(())
}

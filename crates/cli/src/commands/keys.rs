//! `evident keys`: API keys, stored hashed, and key rotation. Works on the store
//! directly, so it works while `serve` runs; the server sees changes within a second.
//! Every change commits with the `key_change` event that records it
//! (`evident_server::keys`).

use clap::Subcommand;
use evident_server::auth::{is_valid_key_name, Principal, Role};
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
    /// Replace the log's signing key: a new Ed25519 key with the same name, announced
    /// in the log and covered by a last checkpoint signed with the old key; from then
    /// on checkpoints are signed with the new key. Prints the new verifier key.
    RotateSigning {
        /// Seconds to wait for the old key's last checkpoint before leaving the new
        /// key in `FILE.next` for the checkpointer to move into place.
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        wait: u64,
    },
}

/// Who the log names as the acting key of a change made from the command line.
const CLI_PRINCIPAL: &str = "cli";

pub async fn run(cli: &Cli, command: &KeysCommand) -> anyhow::Result<()> {
    let config = super::store_config(cli)?;
    let store = crate::local::open_existing(&config).await?;
    if let KeysCommand::List = command {
        return list(&*store).await;
    }
    // Every change is recorded by a `key_change` event committed with it.
    let app = crate::local::start_app(store, &config, crate::local::Tasks::All).await?;
    let principal = Principal {
        name: CLI_PRINCIPAL.into(),
        role: Role::Admin,
        agents: AgentBinding::Any,
    };
    match command {
        KeysCommand::List => {}
        KeysCommand::Create { role, name, agents } => {
            let role = Role::parse(role).ok_or_else(|| {
                anyhow::anyhow!("--role must be one of ingest, auditor, approver, privacy, admin")
            })?;
            anyhow::ensure!(
                is_valid_key_name(name),
                "--name must be 1 to 64 of letters, digits, '.', '_' and '-'"
            );
            let agents: Vec<String> = agents.iter().filter(|a| !a.is_empty()).cloned().collect();
            let key = evident_server::keys::create(&app, &principal, name, role, agents).await?;
            println!("{}", key.secret);
        }
        KeysCommand::Revoke { name } => {
            evident_server::keys::revoke(&app, &principal, name).await?;
            println!("revoked {name}");
        }
        KeysCommand::RotateMaster => {
            let paths = config.secret_paths();
            let (epoch, rewrapped) =
                evident_server::datadir::rotate_master(&app, &principal, &paths).await?;
            println!("master key rotated to epoch {epoch}; {rewrapped} data keys re-wrapped");
        }
        KeysCommand::RotateSigning { wait } => {
            let paths = config.secret_paths();
            let rotation = evident_server::datadir::rotate_signing(
                &app,
                &principal,
                &paths,
                std::time::Duration::from_secs(*wait),
            )
            .await?;
            println!("verifier key: {}", rotation.verifier_key);
            println!(
                "announced at seq {}; checkpoints up to size {} are signed with {}, later ones with the new key",
                rotation.announced_at,
                rotation.announced_at + 1,
                rotation.previous_verifier_key
            );
            if !rotation.took_over {
                eprintln!(
                    "note: no checkpoint covers the announcement yet; the new key waits in {} and takes over once a running server signs it",
                    evident_server::signing::next_key_file(&paths.signing_key).display()
                );
            }
        }
    }
    Ok(())
}

async fn list(store: &dyn Store) -> anyhow::Result<()> {
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
    Ok(())
}

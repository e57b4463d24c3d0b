//! Which global flags each command can honour, and the refusal of the others.
//!
//! A flag a command cannot act on is a usage error (exit 2), never silently dropped:
//! `evident keys revoke NAME --server https://prod` must not revoke a key in a local
//! `./evident-data` while its user believes it went to the server.

use crate::config::GlobalSources;
use crate::{Cli, Command};

/// A global setting, by its clap id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Global {
    Data,
    DatabaseUrl,
    SigningKeyFile,
    Config,
    Server,
    ApiKey,
}

use Global::{ApiKey, Config, Data, DatabaseUrl, Server, SigningKeyFile};

/// What names a local store and its secrets.
const LOCAL: &[Global] = &[Data, DatabaseUrl, SigningKeyFile, Config];
/// A local store, or a server instead.
const LOCAL_OR_SERVER: &[Global] = &[Data, DatabaseUrl, SigningKeyFile, Config, Server, ApiKey];

/// The command's name as typed, and the globals it honours.
fn honoured(command: &Command) -> (&'static str, &'static [Global]) {
    match command {
        Command::Serve(_) => ("serve", LOCAL),
        Command::Init(_) => ("init", LOCAL),
        Command::Keys(_) => ("keys", LOCAL),
        Command::Migrate(_) => ("migrate", LOCAL),
        // The source is `--from`, the destination `--to`; the secrets are the source's,
        // wherever the key files (or the config file) put them.
        Command::Copy(_) => ("copy", &[SigningKeyFile, Config]),
        // A fresh store of its own (temporary or `--keep-data`), embedded or PostgreSQL.
        Command::Bench(_) => ("bench", &[DatabaseUrl]),
        Command::Ingest(_) => ("ingest", LOCAL_OR_SERVER),
        Command::Verify(_) => ("verify", LOCAL_OR_SERVER),
        Command::Checkpoint => ("checkpoint", LOCAL_OR_SERVER),
        Command::Prove(_) => ("prove", LOCAL_OR_SERVER),
        Command::Erase(_) => ("erase", LOCAL_OR_SERVER),
        Command::Trace(_) => ("trace", LOCAL_OR_SERVER),
        Command::Search(_) => ("search", LOCAL_OR_SERVER),
        Command::Artifacts(_) => ("artifacts", LOCAL_OR_SERVER),
        Command::Approvals(_) => ("approvals", LOCAL_OR_SERVER),
        Command::Policy(_) => ("policy", LOCAL_OR_SERVER),
        // The purge runs where the store is (the API has no endpoint for it).
        Command::Retention(_) => ("retention", LOCAL),
        Command::Export(_) => ("export", LOCAL_OR_SERVER),
        // Offline by design: nothing but the file and the pinned key.
        Command::VerifyBundle(_) => ("verify-bundle", &[]),
        // A witness has no store of the log's: its own key and state directory.
        Command::Witness(_) => ("witness", &[]),
    }
}

/// The globals given, each with the name it was given under (`--server` or
/// `EVIDENT_SERVER`). An API key counts only as a flag: `EVIDENT_API_KEY` is a
/// credential kept in the environment for whenever a server is used.
fn given(sources: &GlobalSources) -> Vec<(Global, &'static str)> {
    let api_key = sources.api_key.filter(|name| name.starts_with("--"));
    [
        (Data, sources.data),
        (DatabaseUrl, sources.database_url),
        (SigningKeyFile, sources.signing_key_file),
        (Config, sources.config),
        (Server, sources.server),
        (ApiKey, api_key),
    ]
    .into_iter()
    .filter_map(|(global, name)| Some((global, name?)))
    .collect()
}

/// Refuses the globals the command cannot honour.
///
/// # Errors
/// The first such flag (or variable), named, and why.
pub fn check(cli: &Cli) -> anyhow::Result<()> {
    let (command, accepted) = honoured(&cli.command);
    let given = given(&cli.sources);
    for &(global, name) in &given {
        // A local setting from the environment is the machine's default, not a
        // request to this command (`evident bench` uses a fresh store whatever
        // EVIDENT_DATA says); a server from the environment is refused like the flag,
        // since whoever set it expects the command to go there.
        if accepted.contains(&global) || (global != Server && !name.starts_with("--")) {
            continue;
        }
        let why = match global {
            Server | ApiKey => format!(
                "`evident {command}` works on a local store only; run it where the store is, \
                 without {name}"
            ),
            _ => format!("`evident {command}` does not use a local store named by {name}"),
        };
        anyhow::bail!("{name} cannot be used with `evident {command}`: {why}");
    }
    let server = given.iter().find(|(global, _)| *global == Server);
    if let Some((_, server)) = server {
        // With a server the command reads no local store: a local setting given on
        // the command line would be silently ignored. (Set in the environment, it is
        // the machine's default store, not a request for this command.)
        if let Some((_, local)) = given
            .iter()
            .find(|(global, name)| LOCAL.contains(global) && name.starts_with("--"))
        {
            anyhow::bail!(
                "{local} cannot be used with {server}: `evident {command}` either works on a \
                 local store or asks a server; give one or the other"
            );
        }
    } else if let Some((_, api_key)) = given.iter().find(|(global, _)| *global == ApiKey) {
        if accepted.contains(&Server) {
            anyhow::bail!(
                "{api_key} is for --server; `evident {command}` without --server works on a \
                 local store"
            );
        }
    }
    Ok(())
}

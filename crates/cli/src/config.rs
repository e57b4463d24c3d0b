//! The settings of `evident serve` and of every command that opens a store: one typed
//! struct from flags, the environment and a TOML file, in that order of precedence,
//! over the defaults. `serve` uses all of it ([`ServeConfig`]); `init`, `keys`,
//! `ingest`, `verify`, `erase`, `trace`, `search`, ... use the part that says where the
//! store and the log's secrets are and which personal data to detect
//! ([`StoreConfig`]), read from the same file, so a store set up by a config file is
//! the same store, with the same keys and detectors, for every command.
//!
//! - Flags: `--listen`, `--data`, `--tls-cert`, ... (see `evident serve --help`).
//! - Environment: `EVIDENT_<KEY>` (`EVIDENT_LISTEN`, `EVIDENT_TLS_CERT`, ...); an empty
//!   variable counts as unset.
//! - File: the global `--config FILE` (or `EVIDENT_CONFIG`), TOML, every key optional; relative
//!   paths in it are relative to the file's directory. The reference is in
//!   `docs/deployment.md`.
//!
//! Everything is checked before the server opens its store: addresses parse, numbers
//! are in range, both TLS files are given and load as a matching pair, every custom PII
//! pattern compiles and cannot match the empty string. An error names the key the way
//! the user wrote it (`--listen`, `EVIDENT_LISTEN`, `pii.detectors[2].pattern`); unknown
//! keys in the file are refused. Secrets never reach the output: the only secret a
//! config may hold is the database URL's password, which `Debug`, `Display` and every
//! error redact; keys themselves are only ever named by file path.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use evident_core::pii::{
    Checksum, CustomDetector, DeclaredIdentifiers, FieldRule, FieldTarget, PhoneRegion,
};
use evident_server::datadir::SecretPaths;
use evident_server::otlp::grpc::GrpcListen;
use evident_server::serve::{TlsError, TlsFiles};
use evident_server::state::{Settings, DEFAULT_MAX_BODY_BYTES};
use evident_store::sqlite::SqliteOptions;
use serde::Deserialize;

/// Where the API listens unless told otherwise (CONTRACT section 4).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8081";
/// The embedded store's default data dir (CONTRACT section 7).
pub const DEFAULT_DATA_DIR: &str = "./evident-data";
/// Default pause between two checkpoints, in milliseconds.
pub const DEFAULT_CHECKPOINT_INTERVAL_MS: u64 = 200;
/// Checkpoints more often than every 10 ms only burn CPU on signatures; less often
/// than every 1000 ms breaks the contract's "a checkpoint within 1 s".
const CHECKPOINT_INTERVAL_RANGE_MS: std::ops::RangeInclusive<u64> = 10..=1000;
/// A body limit below 1 KiB would refuse ordinary single events.
const MIN_MAX_BODY_BYTES: u64 = 1024;
/// Token types are short upper-case words: `<EMPLOYEE_ID_...>`.
const MAX_TOKEN_TYPE_LEN: usize = 32;

/// A configuration that cannot be used: the key as the user wrote it, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// `--listen`, `EVIDENT_LISTEN`, `pii.detectors[2].pattern`, `tls`, ...
    pub key: String,
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config error: {}: {}", self.key, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// A PostgreSQL connection URL. Its password never leaves through `Debug` or
/// `Display`; [`DatabaseUrl::expose`] is for the driver only.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Checks the scheme; the driver checks the rest when it connects.
    ///
    /// # Errors
    /// Not a `postgres://` or `postgresql://` URL (the error never echoes the URL).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let has_scheme = ["postgres://", "postgresql://"].iter().any(|scheme| {
            raw.len() > scheme.len() && raw[..scheme.len()].eq_ignore_ascii_case(scheme)
        });
        if !has_scheme {
            return Err("expected a postgres:// or postgresql:// URL".into());
        }
        Ok(Self(raw.to_owned()))
    }

    /// The URL with its password, for the database driver.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password (in the user info or a `password=` parameter)
    /// replaced by `***`.
    pub fn redacted(&self) -> String {
        let Some((scheme, rest)) = self.0.split_once("://") else {
            return "***".into();
        };
        let (without_query, query) = match rest.split_once('?') {
            Some((before, after)) => (before, Some(after)),
            None => (rest, None),
        };
        let mut out = format!("{scheme}://");
        match without_query.rsplit_once('@') {
            Some((userinfo, host)) => {
                match userinfo.split_once(':') {
                    Some((user, _password)) => out.push_str(&format!("{user}:***@")),
                    None => out.push_str(&format!("{userinfo}@")),
                }
                out.push_str(host);
            }
            None => out.push_str(without_query),
        }
        if let Some(query) = query {
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((name, _)) if name.eq_ignore_ascii_case("password") => {
                        format!("{name}=***")
                    }
                    _ => param.to_owned(),
                })
                .collect();
            out.push('?');
            out.push_str(&params.join("&"));
        }
        out
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({:?})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Everything `evident serve` runs with, checked.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<DatabaseUrl>,
    /// The origin of a new log; an existing log's origin must match it.
    pub origin: Option<String>,
    pub signing_key_file: Option<PathBuf>,
    pub master_key_file: Option<PathBuf>,
    pub max_body_bytes: usize,
    pub checkpoint_interval: Duration,
    pub max_db_bytes: Option<u64>,
    pub otlp_grpc_listen: GrpcListen,
    /// HTTPS when set.
    pub tls: Option<TlsFiles>,
    pub detectors: Vec<CustomDetector>,
    /// Regions whose national phone formats are found; `None`: the built-in default
    /// (`evident_core::pii::DEFAULT_PHONE_REGIONS`).
    pub phone_regions: Option<Vec<PhoneRegion>>,
    pub field_rules: Vec<FieldRule>,
    /// The values of the configured dictionaries, and the files they came from.
    pub dictionary: Option<std::sync::Arc<DeclaredIdentifiers>>,
    pub dictionary_files: Vec<(PathBuf, String, usize)>,
    /// `[policy] time_zone`: the zone of the policies' `context.now` (UTC if unset).
    pub policy_time_zone: Option<(String, jiff::tz::TimeZone)>,
    /// `[retention]`: tiers, floors (checked), archive, background runs.
    pub retention: evident_server::retention::RetentionPolicy,
    /// `[[witness]]` and `witness_quorum`, checked.
    pub witnessing: evident_server::cosigning::Witnessing,
    /// For each file key that is not at its default, the name it was set under
    /// (`--listen`, `EVIDENT_LISTEN` or `listen`).
    sources: BTreeMap<&'static str, String>,
}

/// Where a command's store is and what it needs to read and write it: the part of
/// the configuration every command that touches a store shares with `serve`.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    pub database_url: Option<DatabaseUrl>,
    /// The origin of a new log (`init`).
    pub origin: Option<String>,
    pub signing_key_file: Option<PathBuf>,
    pub master_key_file: Option<PathBuf>,
    pub max_db_bytes: Option<u64>,
    /// The configured personal-data detectors (beside the built-in ones).
    pub detectors: Vec<CustomDetector>,
    /// The policies' time zone (`[policy] time_zone`), for the commands that decide
    /// or replay locally.
    pub policy_time_zone: Option<jiff::tz::TimeZone>,
    /// `[retention]` (`evident retention run`).
    pub retention: evident_server::retention::RetentionPolicy,
}

impl StoreConfig {
    /// Resolves the global flags (and `origin`, for `init`), the environment and the
    /// `--config` file. TLS and listen settings in the file are parsed but the TLS
    /// files are not opened: only `serve` uses them.
    ///
    /// # Errors
    /// The first problem found, naming its key.
    pub fn load(
        cli: &crate::Cli,
        origin: Option<String>,
        env: EnvLookup<'_>,
    ) -> Result<Self, ConfigError> {
        let flags = Flags {
            origin,
            ..Flags::globals(cli)
        };
        ServeConfig::load_as(flags, env, Purpose::Store).map(|config| config.store())
    }

    /// Where the log's secrets are: the data dir's `secrets/`, unless configured
    /// elsewhere.
    pub fn secret_paths(&self) -> SecretPaths {
        let mut paths = SecretPaths::new(&self.data_dir, self.signing_key_file.as_deref());
        if let Some(master_key_file) = &self.master_key_file {
            paths.master_key.clone_from(master_key_file);
        }
        paths
    }

    /// The embedded store's options.
    pub fn sqlite_options(&self) -> SqliteOptions {
        SqliteOptions {
            max_size_bytes: self.max_db_bytes,
            ..SqliteOptions::default()
        }
    }

    /// The server crate's settings with the configured detectors (the rest at their
    /// defaults; `crate::local` adds the data dir's files).
    pub fn settings(&self) -> Settings {
        let mut settings = Settings::default();
        settings.detectors.custom.clone_from(&self.detectors);
        if let Some(zone) = &self.policy_time_zone {
            settings.policy_time_zone = zone.clone();
        }
        settings
    }
}

/// What a configuration is loaded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// `evident serve`: everything is checked, TLS files loaded.
    Serve,
    /// Any other command on a store: what it does not use is parsed, not opened.
    Store,
}

/// Where the global `--data`, `--database-url`, `--signing-key-file`, `--config`,
/// `--server` and `--api-key` came from: the flag, its environment variable (clap
/// reads both), or `None` for not given.
#[derive(Debug, Default, Clone, Copy)]
pub struct GlobalSources {
    pub data: Option<&'static str>,
    pub database_url: Option<&'static str>,
    pub signing_key_file: Option<&'static str>,
    pub config: Option<&'static str>,
    pub server: Option<&'static str>,
    pub api_key: Option<&'static str>,
}

impl GlobalSources {
    /// Reads the sources off the parsed command line.
    pub fn of(matches: &clap::ArgMatches) -> Self {
        use clap::parser::ValueSource;
        let name = |id: &str, flag: &'static str, env: &'static str| match matches.value_source(id)
        {
            Some(ValueSource::CommandLine) => Some(flag),
            Some(ValueSource::EnvVariable) => Some(env),
            _ => None,
        };
        Self {
            data: name("data", "--data", "EVIDENT_DATA"),
            database_url: name("database_url", "--database-url", "EVIDENT_DATABASE_URL"),
            signing_key_file: name(
                "signing_key_file",
                "--signing-key-file",
                "EVIDENT_SIGNING_KEY_FILE",
            ),
            config: name("config", "--config", "EVIDENT_CONFIG"),
            server: name("server", "--server", "EVIDENT_SERVER"),
            api_key: name("api_key", "--api-key", "EVIDENT_API_KEY"),
        }
    }

    /// The local-store settings that were given (flag or environment), by name.
    pub fn local_store(&self) -> Vec<&'static str> {
        [
            self.data,
            self.database_url,
            self.signing_key_file,
            self.config,
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

impl Flags {
    /// The global flags' layer (`--config`, `--data`, `--database-url`,
    /// `--signing-key-file`, each with the name it came under).
    pub fn globals(cli: &crate::Cli) -> Self {
        Self {
            config: cli.config.clone(),
            data_dir: cli.sources.data.map(|name| (cli.data.clone(), name)),
            database_url: cli.database_url.clone().zip(cli.sources.database_url),
            signing_key_file: cli
                .signing_key_file
                .clone()
                .zip(cli.sources.signing_key_file),
            ..Self::default()
        }
    }
}

/// What the command line gave, before the environment and the file.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub config: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    /// `--data` (or `EVIDENT_DATA`, which clap reads) with the name it came under.
    pub data_dir: Option<(PathBuf, &'static str)>,
    /// `--database-url` (or `EVIDENT_DATABASE_URL`) with its name.
    pub database_url: Option<(String, &'static str)>,
    pub origin: Option<String>,
    /// `--signing-key-file` (or `EVIDENT_SIGNING_KEY_FILE`) with its name.
    pub signing_key_file: Option<(PathBuf, &'static str)>,
    pub max_body_bytes: Option<u64>,
    pub checkpoint_interval_ms: Option<u64>,
    pub max_db_bytes: Option<u64>,
    pub otlp_grpc_listen: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

/// The file as written. Every key is optional; unknown keys are refused.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    origin: Option<String>,
    signing_key_file: Option<PathBuf>,
    master_key_file: Option<PathBuf>,
    max_body_bytes: Option<u64>,
    checkpoint_interval_ms: Option<u64>,
    max_db_bytes: Option<u64>,
    otlp_grpc_listen: Option<String>,
    #[serde(default)]
    tls: TlsSection,
    #[serde(default)]
    pii: PiiSection,
    #[serde(default)]
    policy: PolicySection,
    #[serde(default)]
    retention: RetentionSection,
    /// `[[witness]]`: where checkpoints are sent for cosigning.
    #[serde(default)]
    witness: Vec<WitnessEntry>,
    /// How many of the `[[witness]]` entries must cosign (default: all).
    witness_quorum: Option<u64>,
}

/// One `[[witness]]`: a C2SP tlog-witness the server sends its checkpoints to.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WitnessEntry {
    name: String,
    /// The submission prefix (`<url>/add-checkpoint`).
    url: String,
    /// The witness's cosigner verifier key (`<name>+<hex>+<base64>`, type 0x04).
    vkey: String,
}

/// `[policy]`: how policies see the request's moment.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySection {
    /// The IANA time zone of `context.now` (default UTC).
    time_zone: Option<String>,
}

/// `[retention]`: durations are `90d`, `12h`, `30m`, `45s`; `"forever"` keeps a part.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionSection {
    #[serde(default)]
    tiers: Vec<TierEntry>,
    #[serde(default)]
    floors: FloorsEntry,
    #[serde(default)]
    override_floors: bool,
    archive_dir: Option<PathBuf>,
    /// How often `serve` purges; `"off"` never. Default: daily when tiers exist.
    run_every: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TierEntry {
    name: String,
    payload: Option<String>,
    search_text: Option<String>,
    #[serde(default)]
    event_types: Vec<String>,
    #[serde(default)]
    agents: Vec<String>,
    #[serde(default)]
    cases: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FloorsEntry {
    payload: Option<String>,
    search_text: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSection {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PiiSection {
    #[serde(default)]
    detectors: Vec<DetectorEntry>,
    /// ISO 3166-1 alpha-2 codes; `[]` finds only internationally written numbers.
    phone_regions: Option<Vec<String>>,
    #[serde(default)]
    field_rules: Vec<FieldRuleEntry>,
    #[serde(default)]
    dictionaries: Vec<DictionaryEntry>,
}

/// `{ pointer = "/input/customer/name", kind = "NAME" }` or `{ key = "date_of_birth",
/// kind = "DOB" }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldRuleEntry {
    pointer: Option<String>,
    key: Option<String>,
    kind: String,
}

/// `{ file = "customers.txt", kind = "NAME" }`: one value a line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DictionaryEntry {
    file: PathBuf,
    kind: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DetectorEntry {
    name: String,
    pattern: String,
    #[serde(default)]
    checksum: ChecksumName,
    token_type: String,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ChecksumName {
    #[default]
    None,
    Luhn,
    Mod97,
}

/// One setting's names: its file key, environment variable and flag.
struct Key {
    file: &'static str,
    env: &'static str,
    flag: &'static str,
}

const LISTEN: Key = Key {
    file: "listen",
    env: "EVIDENT_LISTEN",
    flag: "--listen",
};
const DATABASE_URL: Key = Key {
    file: "database_url",
    env: "EVIDENT_DATABASE_URL",
    flag: "--database-url",
};
const ORIGIN: Key = Key {
    file: "origin",
    env: "EVIDENT_ORIGIN",
    flag: "--origin",
};
/// No flag: like every other command, `serve` reads `EVIDENT_MASTER_KEY_FILE`.
const MASTER_KEY_FILE: Key = Key {
    file: "master_key_file",
    env: "EVIDENT_MASTER_KEY_FILE",
    flag: "EVIDENT_MASTER_KEY_FILE",
};
const MAX_BODY_BYTES: Key = Key {
    file: "max_body_bytes",
    env: "EVIDENT_MAX_BODY_BYTES",
    flag: "--max-body-bytes",
};
const CHECKPOINT_INTERVAL_MS: Key = Key {
    file: "checkpoint_interval_ms",
    env: "EVIDENT_CHECKPOINT_INTERVAL_MS",
    flag: "--checkpoint-interval-ms",
};
const MAX_DB_BYTES: Key = Key {
    file: "max_db_bytes",
    env: "EVIDENT_MAX_DB_BYTES",
    flag: "--max-db-bytes",
};
const OTLP_GRPC_LISTEN: Key = Key {
    file: "otlp_grpc_listen",
    env: "EVIDENT_OTLP_GRPC_LISTEN",
    flag: "--otlp-grpc-listen",
};
const TLS_CERT: Key = Key {
    file: "tls.cert_file",
    env: "EVIDENT_TLS_CERT",
    flag: "--tls-cert",
};
const TLS_KEY: Key = Key {
    file: "tls.key_file",
    env: "EVIDENT_TLS_KEY",
    flag: "--tls-key",
};

/// Reads one environment variable (`None` when unset).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// The process environment.
pub fn process_env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

impl ServeConfig {
    /// Merges flags, environment and file (if `flags.config` names one) over the
    /// defaults, and checks the result.
    ///
    /// # Errors
    /// The first problem found, naming its key.
    pub fn load(flags: Flags, env: EnvLookup<'_>) -> Result<Self, ConfigError> {
        Self::load_as(flags, env, Purpose::Serve)
    }

    fn load_as(flags: Flags, env: EnvLookup<'_>, purpose: Purpose) -> Result<Self, ConfigError> {
        let (file, file_dir) = match &flags.config {
            Some(path) => (read_file(path)?, path.parent().map(Path::to_path_buf)),
            None => (FileConfig::default(), None),
        };
        let mut merge = Merge {
            env,
            file_dir,
            sources: BTreeMap::new(),
            purpose,
        };
        merge.resolve(flags, file)
    }

    /// The name `file_key` was set under (`--listen`, `EVIDENT_LISTEN`, `listen`),
    /// or the file key itself when it is at its default: for errors found later.
    pub fn key(&self, file_key: &'static str) -> &str {
        self.sources.get(file_key).map_or(file_key, String::as_str)
    }

    /// The name `file_key` was set under, or `None` when it is at its default.
    pub fn set_by(&self, file_key: &str) -> Option<&str> {
        self.sources.get(file_key).map(String::as_str)
    }

    /// The store's part: where it is, its secrets, its detectors.
    pub fn store(&self) -> StoreConfig {
        StoreConfig {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            origin: self.origin.clone(),
            signing_key_file: self.signing_key_file.clone(),
            master_key_file: self.master_key_file.clone(),
            max_db_bytes: self.max_db_bytes,
            detectors: self.detectors.clone(),
            policy_time_zone: self.policy_time_zone.as_ref().map(|(_, zone)| zone.clone()),
            retention: self.retention.clone(),
        }
    }

    /// The server crate's settings (the CLI adds the data dir's files).
    pub fn server_settings(&self) -> Settings {
        let mut settings = Settings {
            max_body_bytes: self.max_body_bytes,
            checkpoint_interval: self.checkpoint_interval,
            access_flush_interval: Some(evident_server::access_log::FLUSH_INTERVAL),
            ..Settings::default()
        };
        settings.detectors.custom.clone_from(&self.detectors);
        if let Some(regions) = &self.phone_regions {
            settings.detectors.phone_regions.clone_from(regions);
        }
        settings.detectors.field_rules.clone_from(&self.field_rules);
        settings.detectors.dictionary.clone_from(&self.dictionary);
        if let Some((_, zone)) = &self.policy_time_zone {
            settings.policy_time_zone = zone.clone();
        }
        settings.witnessing.clone_from(&self.witnessing);
        settings
    }
}

/// The effective configuration as TOML-like lines, each with where it came from;
/// what `evident serve --check-config` prints. Secrets are redacted.
impl fmt::Display for ServeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = |key: &'static str, value: String| -> fmt::Result {
            let from = self
                .sources
                .get(key)
                .map_or_else(|| "default".to_owned(), |name| format!("from {name}"));
            writeln!(f, "{key} = {value}  # {from}")
        };
        let quoted = |path: &Path| format!("{:?}", path.display().to_string());
        let unset = || "(unset)".to_owned();
        line("listen", format!("\"{}\"", self.listen))?;
        line("data_dir", quoted(&self.data_dir))?;
        line(
            "database_url",
            self.database_url
                .as_ref()
                .map_or_else(unset, |url| format!("{:?}", url.redacted())),
        )?;
        line(
            "origin",
            self.origin
                .as_ref()
                .map_or_else(|| "(from the signing key)".to_owned(), |o| format!("{o:?}")),
        )?;
        line(
            "signing_key_file",
            self.signing_key_file.as_deref().map_or_else(
                || quoted(&self.data_dir.join("secrets").join("signing.key")),
                quoted,
            ),
        )?;
        line(
            "master_key_file",
            self.master_key_file.as_deref().map_or_else(
                || quoted(&self.data_dir.join("secrets").join("master.key")),
                quoted,
            ),
        )?;
        line("max_body_bytes", self.max_body_bytes.to_string())?;
        line(
            "checkpoint_interval_ms",
            self.checkpoint_interval.as_millis().to_string(),
        )?;
        line(
            "max_db_bytes",
            self.max_db_bytes.map_or_else(unset, |n| n.to_string()),
        )?;
        line(
            "otlp_grpc_listen",
            match self.otlp_grpc_listen {
                GrpcListen::Default => format!(
                    "\"{}\" (skipped if taken)",
                    evident_server::otlp::grpc::DEFAULT_LISTEN
                ),
                GrpcListen::At(addr) => format!("\"{addr}\""),
                GrpcListen::Off => "\"off\"".to_owned(),
            },
        )?;
        line(
            "tls.cert_file",
            self.tls
                .as_ref()
                .map_or_else(unset, |tls| quoted(&tls.cert_file)),
        )?;
        line(
            "tls.key_file",
            self.tls
                .as_ref()
                .map_or_else(unset, |tls| quoted(&tls.key_file)),
        )?;
        for (i, d) in self.detectors.iter().enumerate() {
            let checksum = match d.checksum {
                Checksum::None => "none",
                Checksum::Luhn => "luhn",
                Checksum::Mod97 => "mod97",
            };
            writeln!(
                f,
                "pii.detectors[{i}] = {{ name = {:?}, pattern = {:?}, checksum = \"{checksum}\", token_type = {:?} }}",
                d.name,
                d.pattern.as_str(),
                d.token_type
            )?;
        }
        if let Some(regions) = &self.phone_regions {
            let codes: Vec<&str> = regions.iter().map(PhoneRegion::code).collect();
            writeln!(f, "pii.phone_regions = {codes:?}")?;
        }
        if let Some((name, _)) = &self.policy_time_zone {
            writeln!(f, "policy.time_zone = {name:?}")?;
        }
        for (i, rule) in self.field_rules.iter().enumerate() {
            let (name, target) = match &rule.target {
                FieldTarget::Pointer(p) => ("pointer", p),
                FieldTarget::Key(k) => ("key", k),
            };
            writeln!(
                f,
                "pii.field_rules[{i}] = {{ {name} = {target:?}, kind = {:?} }}",
                rule.kind
            )?;
        }
        for (i, (file, kind, values)) in self.dictionary_files.iter().enumerate() {
            // The values are personal data: only their number is shown.
            writeln!(
                f,
                "pii.dictionaries[{i}] = {{ file = {:?}, kind = {kind:?} }} # {values} values",
                file.display().to_string()
            )?;
        }
        for (i, w) in self.witnessing.witnesses.iter().enumerate() {
            writeln!(
                f,
                "witness[{i}] = {{ name = {:?}, url = {:?}, vkey = {:?} }}",
                w.name, w.url, w.verifier_key
            )?;
        }
        if !self.witnessing.witnesses.is_empty() {
            writeln!(f, "witness_quorum = {}", self.witnessing.quorum)?;
        }
        Ok(())
    }
}

/// `[[witness]]` and `witness_quorum`, checked: names unique, URLs http(s), keys
/// cosigner verifier keys, the quorum between 1 and the number of witnesses.
fn resolve_witnessing(
    entries: Vec<WitnessEntry>,
    quorum: Option<u64>,
) -> Result<evident_server::cosigning::Witnessing, ConfigError> {
    use evident_server::cosigning::{WitnessEndpoint, Witnessing};
    let mut witnesses: Vec<WitnessEndpoint> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        let key = |part: &str| format!("witness[{i}].{part}");
        let name = entry.name.trim().to_owned();
        if name.is_empty() || name.len() > 128 || witnesses.iter().any(|w| w.name == name) {
            return Err(ConfigError::new(
                key("name"),
                "a non-empty name (at most 128 bytes), unique among the witnesses",
            ));
        }
        let url = entry.url.trim().trim_end_matches('/').to_owned();
        let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
        if !scheme_ok || reqwest::Url::parse(&url).is_err() {
            return Err(ConfigError::new(
                key("url"),
                "the witness's submission prefix, an http:// or https:// URL",
            ));
        }
        let verifier = evident_tlog::witness::CosignatureVerifier::new(&entry.vkey)
            .map_err(|e| ConfigError::new(key("vkey"), e.to_string()))?;
        witnesses.push(WitnessEndpoint {
            name,
            url,
            verifier,
            verifier_key: entry.vkey.trim().to_owned(),
        });
    }
    let count = witnesses.len();
    let quorum = match quorum {
        None => count,
        Some(q) => usize::try_from(q)
            .ok()
            .filter(|q| (1..=count).contains(q))
            .ok_or_else(|| {
                ConfigError::new(
                    "witness_quorum",
                    format!("between 1 and the number of [[witness]] entries ({count})"),
                )
            })?,
    };
    Ok(Witnessing { witnesses, quorum })
}

/// Reads and parses the file; syntax and type errors name the key (by the path serde
/// was at) and the line, never quoting the file's text (it may hold a password).
fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(format!("--config {}", path.display()), e.to_string()))?;
    let at = |span: Option<std::ops::Range<usize>>| {
        span.map_or_else(String::new, |span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!(" (line {line}, column {column})")
        })
    };
    let deserializer = toml::de::Deserializer::parse(&text).map_err(|e| {
        ConfigError::new(
            path.display().to_string(),
            format!("not valid TOML: {}{}", e.message(), at(e.span())),
        )
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let key = if key == "." {
            path.display().to_string()
        } else {
            key
        };
        ConfigError::new(key, format!("{}{}", inner.message(), at(inner.span())))
    })
}

/// The merge in progress: the environment, where file paths are relative to, and
/// which name each set key came under.
struct Merge<'a> {
    env: EnvLookup<'a>,
    file_dir: Option<PathBuf>,
    sources: BTreeMap<&'static str, String>,
    purpose: Purpose,
}

impl Merge<'_> {
    fn resolve(&mut self, flags: Flags, file: FileConfig) -> Result<ServeConfig, ConfigError> {
        // File values are parsed up front so the whole file is checked, whichever
        // layer wins.
        let file_listen = parse_in_file(LISTEN.file, file.listen.as_deref(), parse_addr)?;
        let file_database_url = parse_in_file(
            DATABASE_URL.file,
            file.database_url.as_deref(),
            parse_database_url,
        )?;
        let file_otlp = parse_in_file(
            OTLP_GRPC_LISTEN.file,
            file.otlp_grpc_listen.as_deref(),
            parse_grpc_listen,
        )?;
        let detectors = file
            .pii
            .detectors
            .into_iter()
            .enumerate()
            .map(|(i, entry)| build_detector(i, entry))
            .collect::<Result<Vec<_>, _>>()?;
        check_unique_names(&detectors)?;
        if !detectors.is_empty() {
            self.sources.insert("pii.detectors", "pii.detectors".into());
        }
        let field_rules = file
            .pii
            .field_rules
            .into_iter()
            .enumerate()
            .map(|(i, entry)| build_field_rule(i, entry))
            .collect::<Result<Vec<_>, _>>()?;
        let (dictionary, dictionary_files) = load_dictionaries(file.pii.dictionaries)?;
        let policy_time_zone = file
            .policy
            .time_zone
            .map(|name| {
                jiff::tz::TimeZone::get(&name)
                    .map(|zone| (name.clone(), zone))
                    .map_err(|e| {
                        ConfigError::new(
                            "policy.time_zone".to_owned(),
                            format!("{name:?} is not an IANA time zone ({e})"),
                        )
                    })
            })
            .transpose()?;
        let phone_regions = file
            .pii
            .phone_regions
            .map(|codes| {
                codes
                    .iter()
                    .enumerate()
                    .map(|(i, code)| {
                        code.parse::<PhoneRegion>().map_err(|e| {
                            ConfigError::new(format!("pii.phone_regions[{i}]"), e.to_string())
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;

        let listen = self
            .pick(&LISTEN, flags.listen, file_listen, parse_addr)?
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("a valid default"));
        let data_dir = match flags.data_dir {
            Some((dir, name)) => {
                self.sources.insert("data_dir", name.into());
                dir
            }
            None => match file.data_dir {
                Some(dir) => {
                    self.sources.insert("data_dir", "data_dir".into());
                    self.in_file_dir(dir)
                }
                None => DEFAULT_DATA_DIR.into(),
            },
        };
        let database_url = match flags.database_url {
            Some((raw, name)) => {
                self.sources.insert(DATABASE_URL.file, name.into());
                Some(parse_database_url(name, &raw)?)
            }
            None => self.pick(&DATABASE_URL, None, file_database_url, parse_database_url)?,
        };
        let origin = self.pick(&ORIGIN, flags.origin, file.origin, parse_text)?;
        if let Some(origin) = &origin {
            check_origin(self.name(&ORIGIN), origin)?;
        }
        let signing_key_file = match flags.signing_key_file {
            Some((path, name)) => {
                self.sources.insert("signing_key_file", name.into());
                Some(path)
            }
            None => file.signing_key_file.map(|path| {
                self.sources
                    .insert("signing_key_file", "signing_key_file".into());
                self.in_file_dir(path)
            }),
        };
        let master_key_file = self.pick_path(&MASTER_KEY_FILE, None, file.master_key_file);
        let max_body_bytes = self
            .pick(
                &MAX_BODY_BYTES,
                flags.max_body_bytes,
                file.max_body_bytes,
                parse_u64,
            )?
            .unwrap_or(DEFAULT_MAX_BODY_BYTES as u64);
        if max_body_bytes < MIN_MAX_BODY_BYTES {
            return Err(ConfigError::new(
                self.name(&MAX_BODY_BYTES),
                format!("{max_body_bytes} is too small (at least {MIN_MAX_BODY_BYTES})"),
            ));
        }
        let max_body_bytes = usize::try_from(max_body_bytes)
            .map_err(|_| ConfigError::new(self.name(&MAX_BODY_BYTES), "too large"))?;
        let checkpoint_interval_ms = self
            .pick(
                &CHECKPOINT_INTERVAL_MS,
                flags.checkpoint_interval_ms,
                file.checkpoint_interval_ms,
                parse_u64,
            )?
            .unwrap_or(DEFAULT_CHECKPOINT_INTERVAL_MS);
        if !CHECKPOINT_INTERVAL_RANGE_MS.contains(&checkpoint_interval_ms) {
            return Err(ConfigError::new(
                self.name(&CHECKPOINT_INTERVAL_MS),
                format!(
                    "{checkpoint_interval_ms} is out of range: between {} and {} ms (a signed \
                     checkpoint must follow an append within 1 s)",
                    CHECKPOINT_INTERVAL_RANGE_MS.start(),
                    CHECKPOINT_INTERVAL_RANGE_MS.end()
                ),
            ));
        }
        let max_db_bytes = self.pick(
            &MAX_DB_BYTES,
            flags.max_db_bytes,
            file.max_db_bytes,
            parse_u64,
        )?;
        if max_db_bytes == Some(0) {
            return Err(ConfigError::new(
                self.name(&MAX_DB_BYTES),
                "must be more than 0 (leave it unset for no limit)",
            ));
        }
        if max_db_bytes.is_some() && database_url.is_some() {
            return Err(ConfigError::new(
                self.name(&MAX_DB_BYTES),
                format!(
                    "limits the embedded store only; with {} use PostgreSQL's own quotas",
                    self.name(&DATABASE_URL)
                ),
            ));
        }
        let otlp_grpc_listen = self
            .pick(
                &OTLP_GRPC_LISTEN,
                flags
                    .otlp_grpc_listen
                    .map(|raw| parse_grpc_listen(OTLP_GRPC_LISTEN.flag, &raw))
                    .transpose()?,
                file_otlp,
                parse_grpc_listen,
            )?
            .unwrap_or(GrpcListen::Default);
        if let GrpcListen::At(addr) = otlp_grpc_listen {
            if addr == listen && addr.port() != 0 {
                return Err(ConfigError::new(
                    self.name(&OTLP_GRPC_LISTEN),
                    format!(
                        "{addr} is also the HTTP API's address ({})",
                        self.name(&LISTEN)
                    ),
                ));
            }
        }
        let tls = self.resolve_tls(flags.tls_cert, flags.tls_key, file.tls)?;
        let retention = self.resolve_retention(file.retention)?;
        let witnessing = resolve_witnessing(file.witness, file.witness_quorum)?;
        Ok(ServeConfig {
            listen,
            data_dir,
            database_url,
            origin,
            signing_key_file,
            master_key_file,
            max_body_bytes,
            checkpoint_interval: Duration::from_millis(checkpoint_interval_ms),
            max_db_bytes,
            otlp_grpc_listen,
            tls,
            detectors,
            phone_regions,
            field_rules,
            dictionary,
            dictionary_files,
            policy_time_zone,
            retention,
            witnessing,
            sources: std::mem::take(&mut self.sources),
        })
    }

    /// `[retention]`, checked: durations parse, tier names are unique, and no tier is
    /// below its legal floor unless `override_floors` says so.
    fn resolve_retention(
        &mut self,
        section: RetentionSection,
    ) -> Result<evident_server::retention::RetentionPolicy, ConfigError> {
        use evident_server::retention::{floor_violations, parse_duration, RetentionPolicy, Tier};
        fn keeps(key: String, raw: Option<String>) -> Result<Option<Duration>, ConfigError> {
            match raw.as_deref() {
                None | Some("forever") => Ok(None),
                Some(text) => parse_duration(text)
                    .filter(|d| !d.is_zero())
                    .map(Some)
                    .ok_or_else(|| {
                        ConfigError::new(
                            key,
                            "a duration such as 90d, 12h, 30m or 45s, or \"forever\"",
                        )
                    }),
            }
        }
        let mut tiers = Vec::with_capacity(section.tiers.len());
        for (i, entry) in section.tiers.into_iter().enumerate() {
            let key = |part: &str| format!("retention.tiers[{i}].{part}");
            if entry.name.trim().is_empty() {
                return Err(ConfigError::new(key("name"), "must not be empty"));
            }
            if tiers.iter().any(|t: &Tier| t.name == entry.name) {
                return Err(ConfigError::new(
                    key("name"),
                    format!("{:?} names another tier too", entry.name),
                ));
            }
            tiers.push(Tier {
                name: entry.name,
                payload: keeps(key("payload"), entry.payload)?,
                search_text: keeps(key("search_text"), entry.search_text)?,
                event_types: entry.event_types,
                agents: entry.agents,
                cases: entry.cases,
            });
        }
        let run_every =
            match section.run_every.as_deref() {
                Some("off") => None,
                Some(text) => Some(parse_duration(text).filter(|d| !d.is_zero()).ok_or_else(
                    || {
                        ConfigError::new(
                            "retention.run_every",
                            "a duration such as 24h, or \"off\"",
                        )
                    },
                )?),
                None => Some(Duration::from_secs(24 * 3600)),
            };
        let policy = RetentionPolicy {
            tiers,
            payload_floor: keeps("retention.floors.payload".into(), section.floors.payload)?,
            search_text_floor: keeps(
                "retention.floors.search_text".into(),
                section.floors.search_text,
            )?,
            override_floors: section.override_floors,
            archive_dir: section.archive_dir.map(|dir| self.in_file_dir(dir)),
            run_every,
        };
        if !policy.override_floors {
            if let Some(violation) = floor_violations(&policy).into_iter().next() {
                return Err(ConfigError::new(
                    format!(
                        "retention.tiers[{}].{}",
                        violation.tier_index,
                        violation.part.key()
                    ),
                    violation.to_string(),
                ));
            }
        }
        if !policy.tiers.is_empty() {
            self.sources.insert("retention", "retention".into());
        }
        Ok(policy)
    }

    /// Both TLS files or neither; when both, they must load as a matching pair.
    fn resolve_tls(
        &mut self,
        flag_cert: Option<PathBuf>,
        flag_key: Option<PathBuf>,
        file: TlsSection,
    ) -> Result<Option<TlsFiles>, ConfigError> {
        let cert_file = self.pick_path(&TLS_CERT, flag_cert, file.cert_file);
        let key_file = self.pick_path(&TLS_KEY, flag_key, file.key_file);
        let (cert_file, key_file) = match (cert_file, key_file) {
            (None, None) => return Ok(None),
            (Some(cert), Some(key)) => (cert, key),
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "tls",
                    format!(
                        "{} set without {}",
                        self.tls_name(&TLS_CERT),
                        self.unset_name(&TLS_KEY)
                    ),
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "tls",
                    format!(
                        "{} set without {}",
                        self.tls_name(&TLS_KEY),
                        self.unset_name(&TLS_CERT)
                    ),
                ))
            }
        };
        let files = TlsFiles {
            cert_file,
            key_file,
        };
        if self.purpose == Purpose::Store {
            // Only `serve` opens them (they may be readable by its user alone).
            return Ok(Some(files));
        }
        files.load().map_err(|e| match e {
            TlsError::Cert { .. } => ConfigError::new(self.name(&TLS_CERT), e.to_string()),
            TlsError::Key { .. } => ConfigError::new(self.name(&TLS_KEY), e.to_string()),
            TlsError::Pair(_) => ConfigError::new("tls", e.to_string()),
        })?;
        Ok(Some(files))
    }

    /// The winning value of a setting: the flag, else the environment variable, else
    /// the file; records the name it was set under.
    fn pick<T>(
        &mut self,
        key: &Key,
        flag: Option<T>,
        file: Option<T>,
        parse_env: fn(&str, &str) -> Result<T, ConfigError>,
    ) -> Result<Option<T>, ConfigError> {
        if let Some(value) = flag {
            self.sources.insert(key.file, key.flag.into());
            return Ok(Some(value));
        }
        if let Some(raw) = self.env_text(key.env)? {
            let value = parse_env(key.env, &raw)?;
            self.sources.insert(key.file, key.env.into());
            return Ok(Some(value));
        }
        if let Some(value) = file {
            self.sources.insert(key.file, key.file.into());
            return Ok(Some(value));
        }
        Ok(None)
    }

    /// [`Merge::pick`] for a path: any bytes, and relative to the file's directory
    /// when it comes from the file.
    fn pick_path(
        &mut self,
        key: &Key,
        flag: Option<PathBuf>,
        file: Option<PathBuf>,
    ) -> Option<PathBuf> {
        if let Some(path) = flag {
            self.sources.insert(key.file, key.flag.into());
            return Some(path);
        }
        if let Some(raw) = (self.env)(key.env).filter(|raw| !raw.is_empty()) {
            self.sources.insert(key.file, key.env.into());
            return Some(PathBuf::from(raw));
        }
        let path = file?;
        self.sources.insert(key.file, key.file.into());
        Some(self.in_file_dir(path))
    }

    fn env_text(&self, name: &str) -> Result<Option<String>, ConfigError> {
        match (self.env)(name) {
            None => Ok(None),
            Some(raw) if raw.is_empty() => Ok(None),
            Some(raw) => raw
                .into_string()
                .map(Some)
                .map_err(|_| ConfigError::new(name, "not valid UTF-8")),
        }
    }

    /// The name a set key came under.
    fn name(&self, key: &Key) -> String {
        self.sources
            .get(key.file)
            .cloned()
            .unwrap_or_else(|| key.file.to_owned())
    }

    /// A set TLS key's name inside the `tls` error: `cert_file` for the file's
    /// `tls.cert_file`, else the flag or variable.
    fn tls_name(&self, key: &Key) -> String {
        self.name(key).trim_start_matches("tls.").to_owned()
    }

    /// How to name a key that was not set, in the style of the layer its partner came
    /// from (`--tls-key` next to `--tls-cert`, `key_file` next to `cert_file`).
    fn unset_name(&self, missing: &Key) -> String {
        let partner = if missing.file == TLS_KEY.file {
            &TLS_CERT
        } else {
            &TLS_KEY
        };
        match self.sources.get(partner.file).map(String::as_str) {
            Some(name) if name == partner.flag => missing.flag.to_owned(),
            Some(name) if name == partner.env => missing.env.to_owned(),
            _ => missing.file.trim_start_matches("tls.").to_owned(),
        }
    }

    fn in_file_dir(&self, path: PathBuf) -> PathBuf {
        match &self.file_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path,
        }
    }
}

fn parse_in_file<T>(
    key: &str,
    raw: Option<&str>,
    parse: fn(&str, &str) -> Result<T, ConfigError>,
) -> Result<Option<T>, ConfigError> {
    raw.map(|raw| parse(key, raw)).transpose()
}

fn parse_addr(key: &str, raw: &str) -> Result<SocketAddr, ConfigError> {
    raw.trim().parse().map_err(|_| {
        ConfigError::new(
            key,
            format!("{raw:?} is not an address: expected IP:PORT, e.g. 0.0.0.0:8443 or [::1]:8081"),
        )
    })
}

fn parse_grpc_listen(key: &str, raw: &str) -> Result<GrpcListen, ConfigError> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("off") {
        return Ok(GrpcListen::Off);
    }
    raw.parse().map(GrpcListen::At).map_err(|_| {
        ConfigError::new(
            key,
            format!("{raw:?} is not an address: expected IP:PORT or \"off\""),
        )
    })
}

fn parse_database_url(key: &str, raw: &str) -> Result<DatabaseUrl, ConfigError> {
    DatabaseUrl::parse(raw).map_err(|reason| ConfigError::new(key, reason))
}

fn parse_u64(key: &str, raw: &str) -> Result<u64, ConfigError> {
    raw.trim()
        .replace('_', "")
        .parse()
        .map_err(|_| ConfigError::new(key, format!("{raw:?} is not a non-negative whole number")))
}

fn parse_text(_key: &str, raw: &str) -> Result<String, ConfigError> {
    Ok(raw.to_owned())
}

/// The origin line is also the signing key's name (C2SP signed-note): non-empty, no
/// spaces or control characters, no `+`.
fn check_origin(key: String, origin: &str) -> Result<(), ConfigError> {
    if origin.is_empty()
        || origin.chars().any(|c| c.is_whitespace() || c.is_control())
        || origin.contains('+')
    {
        return Err(ConfigError::new(
            key,
            format!(
                "{origin:?} cannot be an origin: non-empty, without spaces, control characters or '+' \
                 (e.g. \"audit.example.com/log\")"
            ),
        ));
    }
    Ok(())
}

/// One `[[pii.detectors]]` entry, checked: a name, a pattern that compiles and cannot
/// match the empty string (it would put a token between every two characters), and
/// a token type of upper-case letters, digits and `_`.
/// A token type: an upper-case letter, then upper-case letters, digits and `_`.
fn valid_token_type(kind: &str) -> bool {
    kind.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        && kind
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && kind.len() <= MAX_TOKEN_TYPE_LEN
}

/// One `pii.field_rules` entry: exactly one of `pointer` (into `input`, `output` or
/// `attributes`) and `key`, and a token type.
fn build_field_rule(index: usize, entry: FieldRuleEntry) -> Result<FieldRule, ConfigError> {
    let field = |name: &str| format!("pii.field_rules[{index}].{name}");
    if !valid_token_type(&entry.kind) {
        return Err(ConfigError::new(
            field("kind"),
            format!(
                "{:?} is not a token type (e.g. \"NAME\", \"DOB\")",
                entry.kind
            ),
        ));
    }
    let target = match (entry.pointer, entry.key) {
        (Some(pointer), None) => {
            let payload = pointer.split('/').nth(1).unwrap_or_default();
            if !pointer.starts_with('/') || !["input", "output", "attributes"].contains(&payload) {
                return Err(ConfigError::new(
                    field("pointer"),
                    format!(
                        "{pointer:?} must be a JSON pointer into /input, /output or /attributes"
                    ),
                ));
            }
            FieldTarget::Pointer(pointer)
        }
        (None, Some(key)) if !key.is_empty() => FieldTarget::Key(key),
        (None, Some(_)) => return Err(ConfigError::new(field("key"), "must not be empty")),
        _ => {
            return Err(ConfigError::new(
                format!("pii.field_rules[{index}]"),
                "needs exactly one of `pointer` and `key`",
            ))
        }
    };
    Ok(FieldRule {
        target,
        kind: entry.kind,
    })
}

/// Reads the dictionary files (one value a line, blank lines and `#` comments
/// skipped) into one matcher. The files stay where they are: they are never copied
/// into the store.
#[allow(clippy::type_complexity)]
fn load_dictionaries(
    entries: Vec<DictionaryEntry>,
) -> Result<
    (
        Option<std::sync::Arc<DeclaredIdentifiers>>,
        Vec<(PathBuf, String, usize)>,
    ),
    ConfigError,
> {
    let mut values: Vec<(String, String)> = Vec::new();
    let mut files = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        if !valid_token_type(&entry.kind) {
            return Err(ConfigError::new(
                format!("pii.dictionaries[{i}].kind"),
                format!("{:?} is not a token type (e.g. \"NAME\")", entry.kind),
            ));
        }
        let text = std::fs::read_to_string(&entry.file).map_err(|e| {
            ConfigError::new(
                format!("pii.dictionaries[{i}].file"),
                format!("cannot read {}: {e}", entry.file.display()),
            )
        })?;
        let before = values.len();
        values.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| (entry.kind.clone(), l.to_owned())),
        );
        files.push((entry.file, entry.kind, values.len() - before));
    }
    let dictionary = DeclaredIdentifiers::new(values.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map(std::sync::Arc::new);
    Ok((dictionary, files))
}

fn build_detector(index: usize, entry: DetectorEntry) -> Result<CustomDetector, ConfigError> {
    let key = |field: &str| format!("pii.detectors[{index}].{field}");
    let name = entry.name.trim();
    if name.is_empty() {
        return Err(ConfigError::new(key("name"), "must not be empty"));
    }
    let pattern = regex::Regex::new(&entry.pattern)
        .map_err(|e| ConfigError::new(key("pattern"), format!("invalid regex: {e}")))?;
    if pattern.is_match("") || can_match_empty(&entry.pattern) {
        return Err(ConfigError::new(
            key("pattern"),
            format!("{:?} can match the empty string", entry.pattern),
        ));
    }
    let token_type = entry.token_type.as_str();
    let well_formed = token_type
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_uppercase())
        && token_type
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && token_type.len() <= MAX_TOKEN_TYPE_LEN;
    if !well_formed {
        return Err(ConfigError::new(
            key("token_type"),
            format!(
                "{token_type:?} is not a token type: an upper-case letter, then up to {} upper-case \
                 letters, digits and '_' (e.g. \"EMPLOYEE_ID\")",
                MAX_TOKEN_TYPE_LEN - 1
            ),
        ));
    }
    Ok(CustomDetector {
        name: name.to_owned(),
        pattern,
        checksum: match entry.checksum {
            ChecksumName::None => Checksum::None,
            ChecksumName::Luhn => Checksum::Luhn,
            ChecksumName::Mod97 => Checksum::Mod97,
        },
        token_type: token_type.to_owned(),
    })
}

/// Whether a (compiling) pattern can match zero characters somewhere, e.g. `\b` or
/// `x*`: the regex's shortest match length is 0.
fn can_match_empty(pattern: &str) -> bool {
    regex_syntax::Parser::new()
        .parse(pattern)
        .map_or(true, |hir| hir.properties().minimum_len() == Some(0))
}

fn check_unique_names(detectors: &[CustomDetector]) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for (i, d) in detectors.iter().enumerate() {
        if !seen.insert(d.name.as_str()) {
            return Err(ConfigError::new(
                format!("pii.detectors[{i}].name"),
                format!("{:?} is used by an earlier detector", d.name),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            vars.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    fn load_text(
        text: &str,
        flags: Flags,
        env: &[(&str, &str)],
    ) -> Result<ServeConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("evident.toml");
        std::fs::write(&path, text).unwrap();
        let env = env_of(env);
        ServeConfig::load(
            Flags {
                config: Some(path),
                ..flags
            },
            &env,
        )
    }

    #[test]
    fn defaults_without_any_layer() {
        let env = env_of(&[]);
        let config = ServeConfig::load(Flags::default(), &env).unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(config.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(config.checkpoint_interval, Duration::from_millis(200));
        assert_eq!(config.otlp_grpc_listen, GrpcListen::Default);
        assert!(config.tls.is_none() && config.database_url.is_none());
    }

    #[test]
    fn flags_beat_environment_beat_file() {
        let text =
            "listen = \"127.0.0.1:1001\"\nmax_body_bytes = 4096\norigin = \"file.example/log\"\n";
        let flags = Flags {
            listen: Some("127.0.0.1:1003".parse().unwrap()),
            ..Flags::default()
        };
        let env = [
            ("EVIDENT_LISTEN", "127.0.0.1:1002"),
            ("EVIDENT_MAX_BODY_BYTES", "8192"),
        ];
        let config = load_text(text, flags, &env).unwrap();
        assert_eq!(config.listen.port(), 1003);
        assert_eq!(config.key("listen"), "--listen");
        assert_eq!(config.max_body_bytes, 8192);
        assert_eq!(config.key("max_body_bytes"), "EVIDENT_MAX_BODY_BYTES");
        assert_eq!(config.origin.as_deref(), Some("file.example/log"));
        assert_eq!(config.key("origin"), "origin");
        assert_eq!(config.key("max_db_bytes"), "max_db_bytes");
    }

    #[test]
    fn witnesses_reach_the_settings_and_bad_entries_are_named() {
        let (_, vkey1) = evident_tlog::witness::CosignatureSigner::generate("w1.test").unwrap();
        let (_, vkey2) = evident_tlog::witness::CosignatureSigner::generate("w2.test").unwrap();
        let entry = |name: &str, url: &str, vkey: &str| {
            format!("[[witness]]\nname = \"{name}\"\nurl = \"{url}\"\nvkey = \"{vkey}\"\n")
        };
        let two = format!(
            "{}{}",
            entry("one", "http://127.0.0.1:9001/", &vkey1),
            entry("two", "https://w2.example/w", &vkey2)
        );
        let config = load_text(&two, Flags::default(), &[]).unwrap();
        let witnessing = config.server_settings().witnessing;
        assert_eq!(witnessing.quorum, 2, "all of them by default");
        assert_eq!(witnessing.witnesses[0].url, "http://127.0.0.1:9001");
        assert_eq!(witnessing.witnesses[1].verifier.name(), "w2.test");
        assert!(config.to_string().contains("witness_quorum = 2"));
        assert!(config.to_string().contains("witness[1] = { name = \"two\""));
        let one = load_text(&format!("witness_quorum = 1\n{two}"), Flags::default(), &[]).unwrap();
        assert_eq!(one.witnessing.quorum, 1);

        let key_of = |text: String| load_text(&text, Flags::default(), &[]).unwrap_err().key;
        assert_eq!(
            key_of(format!("witness_quorum = 3\n{two}")),
            "witness_quorum"
        );
        assert_eq!(
            key_of(format!("witness_quorum = 0\n{two}")),
            "witness_quorum"
        );
        assert_eq!(key_of("witness_quorum = 1\n".into()), "witness_quorum");
        assert_eq!(
            key_of(format!("{two}{}", entry("one", "http://x", &vkey2))),
            "witness[2].name"
        );
        assert_eq!(key_of(entry("w", "ftp://x", &vkey1)), "witness[0].url");
        assert_eq!(
            key_of(entry("w", "http://x", "w1.test+00000000+AAAA")),
            "witness[0].vkey"
        );
        // A log's key (type 0x01) is not a witness's.
        let (_, log_vkey) = evident_tlog::LogSigner::generate("log.test").unwrap();
        assert_eq!(key_of(entry("w", "http://x", &log_vkey)), "witness[0].vkey");
        assert_eq!(
            key_of("[[witness]]\nname = \"w\"\nurl = \"http://x\"\n".into()),
            "witness[0]"
        );
    }

    #[test]
    fn policy_time_zone_reaches_the_settings_and_a_bad_one_is_named() {
        let config = load_text(
            "[policy]\ntime_zone = \"Europe/Berlin\"",
            Flags::default(),
            &[],
        )
        .unwrap();
        let zone = config.server_settings().policy_time_zone;
        assert_eq!(zone.iana_name(), Some("Europe/Berlin"));
        assert!(config
            .to_string()
            .contains("policy.time_zone = \"Europe/Berlin\""));
        let default = load_text("", Flags::default(), &[]).unwrap();
        assert_eq!(
            default.server_settings().policy_time_zone,
            jiff::tz::TimeZone::UTC
        );
        let error = load_text(
            "[policy]\ntime_zone = \"Mars/Olympus\"",
            Flags::default(),
            &[],
        )
        .err()
        .unwrap();
        assert!(error.to_string().contains("policy.time_zone"), "{error}");
    }

    #[test]
    fn phone_regions_reach_the_detectors() {
        let config = load_text(
            "[pii]\nphone_regions = [\"de\", \"FR\"]",
            Flags::default(),
            &[],
        )
        .unwrap();
        let settings = config.server_settings();
        let codes: Vec<&str> = settings
            .detectors
            .phone_regions
            .iter()
            .map(PhoneRegion::code)
            .collect();
        assert_eq!(codes, ["DE", "FR"]);
        let default = load_text("", Flags::default(), &[]).unwrap();
        assert_eq!(
            default.server_settings().detectors.phone_regions.len(),
            evident_core::pii::DEFAULT_PHONE_REGIONS.len()
        );
    }

    #[test]
    fn field_rules_and_dictionaries_reach_the_detectors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("customers.txt");
        std::fs::write(&file, "# exported 2026-11-01\nAmara Okafor\n\nLiu Yang\n").unwrap();
        let text = format!(
            "[[pii.field_rules]]\nkey = \"date_of_birth\"\nkind = \"DOB\"\n\
             [[pii.dictionaries]]\nfile = {:?}\nkind = \"NAME\"",
            file.display().to_string()
        );
        let config = load_text(&text, Flags::default(), &[]).unwrap();
        let detectors = config.server_settings().detectors;
        assert_eq!(
            detectors.field_rules,
            [FieldRule {
                target: FieldTarget::Key("date_of_birth".into()),
                kind: "DOB".into()
            }]
        );
        let key = evident_core::token::TokenKey::from_bytes([1; 32]);
        let mut found = Vec::new();
        let out = detectors
            .tokenize(&key, "call from liu  yang today", &mut found)
            .unwrap();
        assert!(out.starts_with("call from <NAME_"), "{out}");
        // The effective configuration names the file and counts values, never shows them.
        let shown = config.to_string();
        assert!(
            shown.contains("customers.txt") && shown.contains("2 values"),
            "{shown}"
        );
        assert!(!shown.contains("Okafor") && !format!("{config:?}").contains("Okafor"));
    }

    #[test]
    fn an_empty_variable_counts_as_unset() {
        let config = load_text(
            "listen = \"127.0.0.1:1001\"",
            Flags::default(),
            &[("EVIDENT_LISTEN", "")],
        )
        .unwrap();
        assert_eq!(config.listen.port(), 1001);
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("bogus = 1", "bogus"),
            ("[tls]\ncert = \"x\"", "tls"),
            ("listen = \"nowhere\"", "listen"),
            ("max_body_bytes = \"big\"", "max_body_bytes"),
            ("checkpoint_interval_ms = 5000", "checkpoint_interval_ms"),
            ("otlp_grpc_listen = \"on\"", "otlp_grpc_listen"),
            ("origin = \"has space\"", "origin"),
            ("database_url = \"mysql://x\"", "database_url"),
            (
                "database_url = \"postgres://h/db\"\nmax_db_bytes = 1000000",
                "max_db_bytes",
            ),
            ("[tls]\ncert_file = \"cert.pem\"", "tls"),
            (
                "[[pii.detectors]]\nname = \"a\"\npattern = \"A\\\\d+\"\ntoken_type = \"A\"\n\
                 [[pii.detectors]]\nname = \"b\"\npattern = \"B(\"\ntoken_type = \"B\"",
                "pii.detectors[1].pattern",
            ),
            (
                "[[pii.detectors]]\nname = \"a\"\npattern = \"x*\"\ntoken_type = \"A\"",
                "pii.detectors[0].pattern",
            ),
            ("[pii]\nphone_regions = [\"DE\", \"XX\"]", "pii.phone_regions[1]"),
            (
                "[[pii.field_rules]]\npointer = \"/input/a\"\nkey = \"a\"\nkind = \"NAME\"",
                "pii.field_rules[0]",
            ),
            (
                "[[pii.field_rules]]\npointer = \"/context/case_id\"\nkind = \"NAME\"",
                "pii.field_rules[0].pointer",
            ),
            (
                "[[pii.field_rules]]\nkey = \"dob\"\nkind = \"dob\"",
                "pii.field_rules[0].kind",
            ),
            (
                "[[pii.dictionaries]]\nfile = \"/nonexistent/customers.txt\"\nkind = \"NAME\"",
                "pii.dictionaries[0].file",
            ),
            (
                "[[pii.detectors]]\nname = \"a\"\npattern = \"\\\\bx?\\\\b\"\ntoken_type = \"A\"",
                "pii.detectors[0].pattern",
            ),
            (
                "[[pii.detectors]]\nname = \"a\"\npattern = \"x+\"\ntoken_type = \"lower\"",
                "pii.detectors[0].token_type",
            ),
            (
                "[[pii.detectors]]\nname = \"a\"\npattern = \"x+\"\ntoken_type = \"A\"\nchecksum = \"crc\"",
                "pii.detectors[0].checksum",
            ),
            (
                "[[pii.detectors]]\nname = \"a\"\npattern = \"x+\"\ntoken_type = \"A\"\n\
                 [[pii.detectors]]\nname = \"a\"\npattern = \"y+\"\ntoken_type = \"B\"",
                "pii.detectors[1].name",
            ),
            (
                "[[pii.detectors]]\nname = \"a\"\npattern = \"x+\"\ntoken_type = \"A\"\ncolour = 1",
                "pii.detectors[0]",
            ),
        ];
        for (text, key) in cases {
            let error = load_text(text, Flags::default(), &[]).unwrap_err();
            assert!(
                error.key.starts_with(key),
                "{text:?}: expected the key {key:?}, got {error}"
            );
        }
    }

    #[test]
    fn environment_errors_name_the_variable() {
        let env = env_of(&[("EVIDENT_CHECKPOINT_INTERVAL_MS", "soon")]);
        let error = ServeConfig::load(Flags::default(), &env).unwrap_err();
        assert_eq!(error.key, "EVIDENT_CHECKPOINT_INTERVAL_MS");
    }

    #[test]
    fn tls_halves_are_named_as_written() {
        let flags = Flags {
            tls_cert: Some("cert.pem".into()),
            ..Flags::default()
        };
        let env = env_of(&[]);
        let error = ServeConfig::load(flags, &env).unwrap_err();
        assert_eq!(
            error.to_string(),
            "config error: tls: --tls-cert set without --tls-key"
        );
        let error = load_text("[tls]\ncert_file = \"c.pem\"", Flags::default(), &[]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "config error: tls: cert_file set without key_file"
        );
    }

    #[test]
    fn detectors_become_custom_detectors() {
        let text = "[[pii.detectors]]\nname = \"employee\"\npattern = 'EMP-\\d{6}'\ntoken_type = \"EMPLOYEE_ID\"\n\
                    [[pii.detectors]]\nname = \"card\"\npattern = '\\d{16}'\nchecksum = \"luhn\"\ntoken_type = \"CARD\"\n";
        let config = load_text(text, Flags::default(), &[]).unwrap();
        let settings = config.server_settings();
        assert_eq!(settings.detectors.custom.len(), 2);
        assert_eq!(settings.detectors.custom[0].token_type, "EMPLOYEE_ID");
        assert!(settings.detectors.custom[0].pattern.is_match("EMP-123456"));
        assert_eq!(settings.detectors.custom[1].checksum, Checksum::Luhn);
    }

    #[test]
    fn file_paths_are_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("evident.toml");
        std::fs::write(
            &path,
            "data_dir = \"data\"\nmaster_key_file = \"/abs/master.key\"\n",
        )
        .unwrap();
        let env = env_of(&[]);
        let config = ServeConfig::load(
            Flags {
                config: Some(path),
                ..Flags::default()
            },
            &env,
        )
        .unwrap();
        assert_eq!(config.data_dir, dir.path().join("data"));
        assert_eq!(
            config.master_key_file,
            Some(PathBuf::from("/abs/master.key"))
        );
    }

    #[test]
    fn the_database_password_is_redacted() {
        let secret = "hunter2-secret";
        for raw in [
            format!("postgres://evident:{secret}@db.internal:5432/evident"),
            format!("postgresql://db.internal/evident?user=evident&password={secret}"),
        ] {
            let config =
                load_text(&format!("database_url = {raw:?}"), Flags::default(), &[]).unwrap();
            let url = config.database_url.as_ref().unwrap();
            assert_eq!(url.expose(), raw);
            for shown in [format!("{config:?}"), config.to_string(), url.to_string()] {
                assert!(!shown.contains(secret), "{shown}");
                assert!(shown.contains("***"), "{shown}");
            }
        }
        let error = load_text(
            &format!("database_url = \"mysql://u:{secret}@h/db\""),
            Flags::default(),
            &[],
        )
        .unwrap_err();
        assert!(!error.to_string().contains(secret));
        let error = load_text(
            &format!("database_url = \"postgres://u:{secret}@h/db"),
            Flags::default(),
            &[],
        )
        .unwrap_err();
        assert!(!error.to_string().contains(secret), "{error}");
    }
}

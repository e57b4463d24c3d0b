//! The application: the services every HTTP handler and CLI command share.

use std::sync::Arc;
use std::time::Duration;

use evident_core::token::TokenKey;
use evident_store::Store;
use tokio::sync::Notify;

use crate::auth::KeyResolver;
use crate::datadir::Secrets;
use crate::metrics::Metrics;
use crate::sequencer::Sequencer;
use crate::signing::Signers;
use crate::vault::Vault;

/// Default largest request body (CONTRACT section 4).
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Default pause between two checkpoints; well inside the contract's 1 s.
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_millis(200);

/// Who this log is: its origin line, the verifier key in force when this process
/// started (a rotation may replace it: [`crate::signing::history`] is the current
/// list), and (on a signing server) its signing keys.
pub struct LogIdentity {
    pub origin: String,
    pub verifier_key: String,
    pub signer: Option<Signers>,
}

impl LogIdentity {
    /// The signing keys.
    ///
    /// # Errors
    /// This process was started without one.
    pub fn signer(&self) -> anyhow::Result<&Signers> {
        self.signer
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("this process has no signing key"))
    }
}

/// Settings a deployment may tune.
#[derive(Debug, Clone)]
pub struct Settings {
    pub max_body_bytes: usize,
    pub checkpoint_interval: Duration,
    /// The master key's file, re-read when a data key does not unwrap (rotation).
    pub master_key_file: Option<std::path::PathBuf>,
    /// The personal-data detectors (built-in plus configured).
    pub detectors: evident_core::pii::Detectors,
    /// A file the latest signed checkpoint is also written to (atomically, fsynced).
    /// Outside the database, it lets `verify` notice a database that lost committed
    /// entries (a damaged write-ahead log is silently cut short by SQLite).
    pub checkpoint_file: Option<std::path::PathBuf>,
    /// Where the server reads "now" (see [`crate::clock`]); the system clock but in
    /// tests.
    pub clock: Arc<dyn crate::clock::Clock>,
    /// How often open approval requests past their deadline are expired
    /// ([`crate::approvals::DEFAULT_EXPIRY_EVERY`]); tests that sweep by hand
    /// (`approvals::expire_due`) set it long.
    pub approval_expiry_every: Duration,
    /// The time zone of the policies' `context.now` (`[policy] time_zone`); UTC by
    /// default.
    pub policy_time_zone: jiff::tz::TimeZone,
    /// How often noted read accesses are written (`access_log`); `None`: only when
    /// [`crate::access_log::flush`] is called. `serve` sets
    /// [`crate::access_log::FLUSH_INTERVAL`]; tests flush when they choose.
    pub access_flush_interval: Option<Duration>,
    /// The witnesses checkpoints are sent to and their quorum (`[[witness]]`,
    /// `witness_quorum`); none by default.
    pub witnessing: crate::cosigning::Witnessing,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            checkpoint_interval: DEFAULT_CHECKPOINT_INTERVAL,
            checkpoint_file: None,
            master_key_file: None,
            detectors: evident_core::pii::Detectors::default(),
            clock: Arc::new(crate::clock::SystemClock),
            approval_expiry_every: crate::approvals::DEFAULT_EXPIRY_EVERY,
            policy_time_zone: jiff::tz::TimeZone::UTC,
            access_flush_interval: None,
            witnessing: crate::cosigning::Witnessing::default(),
        }
    }
}

/// Everything a request handler needs.
pub struct App {
    pub store: Arc<dyn Store>,
    pub identity: LogIdentity,
    pub token_key: TokenKey,
    pub vault: Vault,
    pub keys: KeyResolver,
    pub sequencer: Sequencer,
    pub metrics: Arc<Metrics>,
    pub settings: Settings,
    /// Texts of appended events waiting for the text indexer.
    pub texts: crate::indexer::TextBuffer,
    /// Held by an indexer step (`indexer::index_step`), one at a time per app.
    pub(crate) indexing: tokio::sync::Mutex<()>,
    /// The active policy sets, compiled, per policy generation.
    pub policies: crate::policies::PolicyCache,
    /// Read accesses noted and not yet written (`access_log`).
    pub access: crate::access_log::AccessBuffer,
    /// Notified when the checkpointer stores a checkpoint (wakes `cosigning`).
    pub checkpointed: Arc<Notify>,
}

impl App {
    /// Builds the application and starts its background tasks (sequencer,
    /// checkpointer when it can sign, text indexer, upload sweeper, approval expiry). Needs a tokio runtime.
    pub fn start(store: Arc<dyn Store>, secrets: Secrets, settings: Settings) -> Arc<Self> {
        let metrics = Arc::new(Metrics::default());
        let appended = Arc::new(Notify::new());
        let sequencer = Sequencer::start(store.clone(), appended.clone(), metrics.clone());
        let interval = settings.checkpoint_interval;
        let app = Self::build(store, secrets, settings, sequencer, metrics);
        if app.identity.signer.is_some() {
            tokio::spawn(crate::checkpointer::run(app.clone(), appended, interval));
        }
        tokio::spawn(crate::uploads::sweep(
            app.store.clone(),
            app.settings.clock.clone(),
        ));
        tokio::spawn(crate::indexer::run(app.clone()));
        tokio::spawn(crate::approvals::run_expiry(app.clone()));
        if let Some(every) = app.settings.access_flush_interval {
            tokio::spawn(crate::access_log::run(app.clone(), every));
        }
        if app.identity.signer.is_some() && !app.settings.witnessing.witnesses.is_empty() {
            tokio::spawn(crate::cosigning::run(app.clone(), app.checkpointed.clone()));
        }
        app
    }

    /// The application for a process that only reads the log (the CLI's local
    /// `trace` and `search`): no background task runs, so nothing is sequenced,
    /// signed or swept behind the caller's back; the signing key is dropped, and
    /// ingest answers that the sequencer has stopped. A caller that wants the text
    /// index current runs [`crate::indexer::index_step`] itself.
    pub fn read_only(store: Arc<dyn Store>, secrets: Secrets, settings: Settings) -> Arc<Self> {
        let Secrets {
            identity,
            token_key,
            master,
        } = secrets;
        let identity = LogIdentity {
            signer: None,
            ..identity
        };
        let secrets = Secrets {
            identity,
            token_key,
            master,
        };
        let metrics = Arc::new(Metrics::default());
        Self::build(store, secrets, settings, Sequencer::closed(), metrics)
    }

    fn build(
        store: Arc<dyn Store>,
        secrets: Secrets,
        settings: Settings,
        sequencer: Sequencer,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let Secrets {
            identity,
            token_key,
            master,
        } = secrets;
        Arc::new(Self {
            keys: KeyResolver::new(store.clone()),
            vault: Vault::new(store.clone(), master, settings.master_key_file.clone()),
            store,
            identity,
            token_key,
            sequencer,
            metrics,
            settings,
            texts: crate::indexer::TextBuffer::default(),
            indexing: tokio::sync::Mutex::new(()),
            policies: crate::policies::PolicyCache::default(),
            access: crate::access_log::AccessBuffer::default(),
            checkpointed: Arc::new(Notify::new()),
        })
    }
}

/// The axum state: a cheap handle on the application.
#[derive(Clone)]
pub struct AppState {
    pub app: Arc<App>,
}

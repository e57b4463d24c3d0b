//! evident-store: where the log, its tree, its checkpoints, its blobs, its keys and its
//! vault live.
//!
//! [`Store`] is the one interface the server holds: the sum of small traits by domain
//! ([`LogStore`], [`BlobStore`], [`ApiKeyStore`], [`MetaStore`], [`SearchStore`],
//! [`VaultStore`], [`ArtifactStore`], [`IdentifierStore`], [`ApprovalStore`],
//! [`PolicyStore`], [`LegalHoldStore`], [`RetentionStore`], [`AccessLogStore`],
//! [`WitnessStore`]). Their
//! doc comments are the durability contract every backend
//! keeps; the [`conformance`] suite checks it against every backend (the embedded
//! [`sqlite`] store and [`postgres`]). What both backends decide before they write is
//! one pure function ([`plan`]); state changes commit with the server events that
//! record them ([`effect`]). The server never writes SQL: it calls these methods.
//!
//! Out of scope: validation and entry formats (evident-core), tree math
//! (evident-tlog), HTTP (evident-server).

pub mod access;
pub mod approvals;
pub mod artifacts;
pub mod conformance;
pub mod copy;
pub mod effect;
pub mod error;
pub mod faulty;
pub mod holds;
pub mod identifiers;
pub mod plan;
pub mod policies;
pub mod postgres;
pub mod registry_rows;
pub mod retention;
pub mod sqlite;
pub mod stats;
pub mod witnesses;

use std::collections::HashMap;

use async_trait::async_trait;
use evident_core::blob::BlobRef;
use evident_core::record::{IndexKeys, UnsequencedEntry, UploadedBlob};
use evident_tlog::{Hash, TileId, TileMap};

pub use access::{AccessLogStore, AccessQuery, AccessRecord};
pub use approvals::ApprovalStore;
pub use artifacts::ArtifactStore;
pub use effect::Effect;
pub use error::{StoreError, StoreResult};
pub use holds::{HoldScope, LegalHold, LegalHoldStore};
pub use identifiers::{IdentifierStore, SealedIdentifier};
pub use policies::PolicyStore;
pub use registry_rows::RegistryRows;
pub use retention::{
    ExpiryBounds, PurgeCounts, PurgedBlob, RetentionStore, RetentionTrace, TracePurge,
};
pub use stats::StatsStore;
pub use witnesses::{StoredCosignature, WitnessStatus, WitnessStore};

/// One request's events and the state changes they record, appended all or nothing
/// (see [`effect`]).
#[derive(Debug, Clone, Default)]
pub struct AppendRequest {
    pub events: Vec<EventToAppend>,
    /// Applied in the same transaction as `events`, before them, in order.
    pub effects: Vec<Effect>,
}

impl AppendRequest {
    /// A request that only appends events.
    pub fn events(events: Vec<EventToAppend>) -> Self {
        Self {
            events,
            effects: Vec::new(),
        }
    }
}

/// An event with its payloads and personal data sealed (encrypted) for storage.
/// Plaintext never reaches the store.
#[derive(Debug, Clone)]
pub struct EventToAppend {
    pub event: UnsequencedEntry,
    pub blobs: Vec<SealedBlob>,
    pub vault: Vec<SealedValue>,
    /// Uploads this event claims, re-sealed under the event's subject key.
    pub claimed_uploads: Vec<SealedBlob>,
    /// Declared identifiers to remember for the event's subject (see [`identifiers`]),
    /// written in the same transaction; ones already remembered are skipped.
    pub remember: Vec<SealedIdentifier>,
}

/// A blob encrypted under a data key: `sealed` opens to `salt ‖ bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBlob {
    pub reference: BlobRef,
    pub key_id: String,
    pub media_type: String,
    /// Bytes of the payload (not of the sealed form).
    pub size: u64,
    pub sealed: Vec<u8>,
}

/// A clear personal-data value encrypted under a data key, filed under its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedValue {
    pub token: String,
    pub kind: String,
    pub key_id: String,
    pub sealed: Vec<u8>,
}

/// A data key, wrapped by the master key of `master_epoch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKey {
    pub key_id: String,
    /// The subject token it belongs to; empty for the log's default key.
    pub subject: String,
    pub wrapped: Vec<u8>,
    pub master_epoch: u32,
    pub created_micros: i64,
}

/// What erasing a subject did (or, planned, will do).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErasureReport {
    /// Data keys destroyed.
    pub keys: u64,
    /// Blobs and vault values left unreadable by it.
    pub blobs: u64,
    pub values: u64,
    /// Entries whose search text was deleted.
    pub texts: u64,
}

/// Where one event of an accepted request sits in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub event_id: String,
    pub seq: u64,
    pub leaf_hash: Hash,
    /// The event was already in the log with the same submission: this is the first answer.
    pub is_dup: bool,
}

/// The answer to one [`AppendRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Every event is in the log, in request order.
    Appended(Vec<Appended>),
    /// The event at `index` reuses an `event_id` with different content; nothing of
    /// the request was stored.
    Conflict { index: usize, event_id: String },
    /// The effect at `index` was refused (`NotFound` or `Conflict`, see [`effect`]);
    /// nothing of the request was stored.
    Refused { index: usize, error: StoreError },
}

/// The size and root of the tree the store has integrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    pub size: u64,
    pub root: Hash,
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: Hash,
    /// The full signed note text (C2SP signed-note).
    pub note: String,
    /// When it was signed, µs since the epoch.
    pub created_micros: i64,
}

/// An entry with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub seq: u64,
    pub entry: Vec<u8>,
}

/// Entries with the blobs they were the first to reference (their payloads), read
/// together so an answer needs one trip to the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntriesWithBlobs {
    pub entries: Vec<StoredEntry>,
    /// Every blob whose `seq` is one of the entries': an entry's inline payloads and
    /// the uploads it claimed first. An upload that a later entry references again
    /// sits with the first entry only; readers fetch such a blob with [`BlobStore::blob`].
    pub blobs: Vec<StoredBlob>,
}

/// What the backend's own structural check ([`LogStore::integrity_check`]) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntegrityCheck {
    /// It ran: what it covered (e.g. "SQLite `PRAGMA integrity_check`"), and the
    /// problems it found, empty when sound.
    Ran { what: String, problems: Vec<String> },
    /// It could not run here, and why (e.g. a PostgreSQL role that may not use
    /// `amcheck`). Never to be reported as a check that found nothing.
    Skipped { why: String },
}

/// An entry with the index columns the store derived from it, for `verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedEntry {
    pub seq: u64,
    /// The entry's bytes; if `unreadable`, the bytes as stored.
    pub entry: Vec<u8>,
    /// `None` if the store has no index row for it.
    pub index: Option<IndexKeys>,
    /// Why the stored form could not be read back as an entry (the embedded store: a
    /// compressed entry that does not decompress), so `verify` reports it at its `seq`
    /// instead of failing the whole read.
    pub unreadable: Option<String>,
}

/// A blob as stored, still sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub reference: BlobRef,
    pub media_type: String,
    pub size: u64,
    pub key_id: String,
    pub sealed: Vec<u8>,
    /// The first entry that references it; `None` for an upload not yet referenced.
    pub seq: Option<u64>,
}

/// An API key as stored: never the key itself, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub name: String,
    pub role: String,
    pub key_hash: [u8; 32],
    /// Agent ids the key may claim in `actor.id`.
    pub agents: AgentBinding,
    pub created_micros: i64,
    pub revoked_micros: Option<i64>,
}

/// The subject name of an upload's own data key: its blob and the values found in it
/// are sealed under it until an event claims it.
pub fn upload_key_subject(reference: &BlobRef) -> String {
    format!("upload:{reference}")
}

/// The agent ids a key may claim in `actor.id` (CONTRACT section 1, `keys create
/// --agents`). Stored as a JSON array of strings, `[]` meaning any agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentBinding {
    /// Not bound: any agent.
    Any,
    /// Only these agent ids (never empty).
    Only(Vec<String>),
    /// The stored value could not be read (damage, a hand edit): no agent at all, so
    /// that a damaged binding fails closed. Holds why it could not be read.
    Unreadable(String),
}

impl AgentBinding {
    /// A binding to `agents`; an empty list is [`AgentBinding::Any`].
    pub fn of(agents: Vec<String>) -> Self {
        if agents.is_empty() {
            Self::Any
        } else {
            Self::Only(agents)
        }
    }

    /// `true` if a key with this binding may claim `agent_id`.
    pub fn may_claim(&self, agent_id: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Only(agents) => agents.iter().any(|a| a == agent_id),
            Self::Unreadable(_) => false,
        }
    }

    /// Reads the stored column; anything but a JSON array of strings is
    /// [`AgentBinding::Unreadable`], never "any".
    pub fn from_stored(text: &str) -> Self {
        match serde_json::from_str::<Vec<String>>(text) {
            Ok(agents) => Self::of(agents),
            Err(e) => Self::Unreadable(format!(
                "stored agents {text:?} are not a JSON array of strings: {e}"
            )),
        }
    }

    /// The column to store.
    ///
    /// # Errors
    /// [`StoreError::Internal`] for [`AgentBinding::Unreadable`], which is never written
    /// (writing `[]` in its place would widen the key to any agent).
    pub fn to_stored(&self) -> StoreResult<String> {
        let agents: &[String] = match self {
            Self::Any => &[],
            Self::Only(agents) => agents,
            Self::Unreadable(why) => {
                return Err(StoreError::Internal(format!(
                    "an unreadable agent binding cannot be stored: {why}"
                )))
            }
        };
        serde_json::to_string(agents).map_err(|e| StoreError::Internal(e.to_string()))
    }
}

/// Largest page [`SearchStore::search`] returns; a larger `limit` is clamped to it.
///
/// Above the API's largest page (1,000) on purpose: a reader asks for one entry more
/// than its page to learn whether another page follows, and a clamp at the page size
/// itself would hide every page after a full one.
pub const MAX_SEARCH_LIMIT: usize = 1_024;

/// The order search results come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchOrder {
    /// By `seq` (log order); the default, and what cursors page through.
    #[default]
    Seq,
    /// By the event's `timestamp`, then `seq` (timelines).
    Time,
}

/// A search over entries. Every filter set must match. Backends must answer each
/// single filter (and `agent` with a time range) from an index, never a scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    pub agent: Option<String>,
    pub event_type: Option<String>,
    pub trace_id: Option<String>,
    pub job_id: Option<String>,
    pub case_id: Option<String>,
    pub workflow_run_id: Option<String>,
    /// A subject token (never a clear identifier).
    pub subject: Option<String>,
    /// Inclusive bounds on the event's `timestamp`, µs since the epoch.
    pub from_micros: Option<i64>,
    pub to_micros: Option<i64>,
    /// Full-text terms, all of which must match.
    pub text: Vec<evident_core::query::TextTerm>,
    /// Only entries with `seq > after_seq` (the cursor).
    pub after_seq: Option<u64>,
    /// Only entries with `seq < before_seq` (e.g. what the text index covers).
    pub before_seq: Option<u64>,
    pub limit: usize,
    pub order: SearchOrder,
}

/// The log: entries, the hash tiles of their tree, its head and its checkpoints.
///
/// # Durability contract
/// - `append` returns `Ok` only once every appended entry, its blobs and the new tree
///   head are durable (fsynced, or committed with `synchronous_commit=on`). A caller
///   may acknowledge them to clients.
/// - A request that is not appended (conflict, or any `Err`) stores nothing: no entry,
///   no blob, no tree change. An `Err` may still hide a commit that did reach the disk
///   ("failed but persisted"); a retried request with the same `event_id`s then gets
///   the first answer with `is_dup`, never a second copy.
/// - Sequencing and integration are one atomic step: the tree head always covers
///   exactly the entries `0..size`, with no gap. Advancing it is a compare-and-swap on
///   the size, so two writers (two processes on one database) cannot fork the log.
/// - Checkpoints never shrink: `put_checkpoint` refuses a size below the latest.
#[async_trait]
pub trait LogStore: Send + Sync + 'static {
    /// Appends requests, sharing one durable commit (group commit). See the contract.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the disk is full or failing; nothing appended.
    async fn append(&self, requests: Vec<AppendRequest>) -> StoreResult<Vec<AppendOutcome>>;

    /// The integrated tree's size and root.
    async fn tree_head(&self) -> StoreResult<TreeHead>;

    /// Hash tiles by id, with their latest (widest) data; missing ids are absent.
    async fn read_tiles(&self, ids: &[TileId]) -> StoreResult<TileMap>;

    /// Entries `start..end` in order (fewer if the log is shorter).
    async fn read_entries(&self, start: u64, end: u64) -> StoreResult<Vec<StoredEntry>>;

    /// The entry of an event, by its `event_id`.
    async fn entry_by_event_id(&self, event_id: &str) -> StoreResult<Option<StoredEntry>>;

    /// The index columns stored for entries `start..end`, for `verify` to compare with
    /// what the entries say.
    async fn index_rows(&self, start: u64, end: u64) -> StoreResult<Vec<(u64, IndexKeys)>>;

    /// Entries `start..end` in order, each with its index columns: what `verify`
    /// checks, in one read where the backend can. The default pairs
    /// [`LogStore::read_entries`] with [`LogStore::index_rows`] by `seq`.
    async fn read_indexed_entries(&self, start: u64, end: u64) -> StoreResult<Vec<IndexedEntry>> {
        let entries = self.read_entries(start, end).await?;
        let mut rows = self.index_rows(start, end).await?.into_iter().peekable();
        Ok(entries
            .into_iter()
            .map(|stored| {
                while rows.next_if(|(seq, _)| *seq < stored.seq).is_some() {}
                IndexedEntry {
                    seq: stored.seq,
                    entry: stored.entry,
                    index: rows
                        .next_if(|(seq, _)| *seq == stored.seq)
                        .map(|(_, keys)| keys),
                    unreadable: None,
                }
            })
            .collect())
    }

    /// Stores a signed checkpoint.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if `size` is below the latest stored checkpoint's, or
    /// above the tree head.
    async fn put_checkpoint(&self, checkpoint: StoredCheckpoint) -> StoreResult<()>;

    /// The newest checkpoint, if any.
    async fn latest_checkpoint(&self) -> StoreResult<Option<StoredCheckpoint>>;

    /// Every checkpoint with `size >= from_size`, oldest first, at most `limit`.
    async fn checkpoints(&self, from_size: u64, limit: usize)
        -> StoreResult<Vec<StoredCheckpoint>>;

    /// `true` if this process should do the log's single-writer chores (signing
    /// checkpoints, feeding the text index). Backends shared by several processes
    /// elect one; the embedded store has one process, which always leads.
    async fn try_lead(&self) -> StoreResult<bool> {
        Ok(true)
    }

    /// The backend's own structural check (pages, indexes equal to their tables): what
    /// it checked and the problems it found (none when sound), or, when it cannot run
    /// here, why. Part of `evident verify` (not `--quick`).
    async fn integrity_check(&self) -> StoreResult<IntegrityCheck>;
}

/// Payload blobs: uploads waiting for an event, and the sealed payloads entries commit to.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores an uploaded blob not yet referenced by any entry (`POST /api/v1/blobs`).
    async fn put_upload(&self, blob: SealedBlob, now_micros: i64) -> StoreResult<()>;

    /// Files clear personal-data values found in an upload, sealed, in the vault.
    async fn put_vault_values(&self, values: Vec<SealedValue>) -> StoreResult<()>;

    /// Uploaded blobs among `refs` (referenced or not), with their size and media type.
    /// Blobs made from an event's inline payload are not uploads and never returned.
    async fn uploads(&self, refs: &[BlobRef]) -> StoreResult<HashMap<BlobRef, UploadedBlob>>;

    /// A blob by its reference.
    async fn blob(&self, reference: &BlobRef) -> StoreResult<Option<StoredBlob>>;

    /// Blobs referenced by entries `start..end`, for `verify`.
    async fn blobs_in_range(&self, start: u64, end: u64) -> StoreResult<Vec<StoredBlob>>;

    /// Drops uploads that no entry referenced and that are older than `cutoff_micros`,
    /// with the data key of each (subject [`upload_key_subject`]) and the vault values
    /// sealed under it: personal data found in an upload expires with it.
    async fn drop_stale_uploads(&self, cutoff_micros: i64) -> StoreResult<u64>;
}

/// API keys, stored hashed.
#[async_trait]
pub trait ApiKeyStore: Send + Sync + 'static {
    /// Adds an API key.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the name is taken.
    async fn create_api_key(&self, key: ApiKeyRecord) -> StoreResult<()>;

    /// The key with this SHA-256, revoked or not.
    async fn api_key_by_hash(&self, key_hash: &[u8; 32]) -> StoreResult<Option<ApiKeyRecord>>;

    /// Every key, by name.
    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;

    /// Revokes a key by name.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if no such key exists.
    async fn revoke_api_key(&self, name: &str, now_micros: i64) -> StoreResult<()>;
}

/// Configuration values kept with the log (origin, verifier key, key history).
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// A configuration value kept with the log (origin, verifier key).
    async fn get_meta(&self, key: &str) -> StoreResult<Option<String>>;

    /// Sets a configuration value kept with the log.
    async fn set_meta(&self, key: &str, value: &str) -> StoreResult<()>;
}

/// The derived indexes the read API answers from: search filters and full text.
/// Backends answer each single filter (and `agent` with a time range) from an index,
/// never a scan.
#[async_trait]
pub trait SearchStore: Send + Sync + 'static {
    /// Entries matching `query`, in its order, at most `query.limit`.
    async fn search(&self, query: &SearchQuery) -> StoreResult<Vec<StoredEntry>>;

    /// [`SearchStore::search`] with the blobs of the entries found (see [`EntriesWithBlobs`]),
    /// read in one trip from one snapshot.
    async fn search_with_blobs(&self, query: &SearchQuery) -> StoreResult<EntriesWithBlobs>;

    /// How many entries (from seq 0) the full-text index covers.
    async fn text_indexed_through(&self) -> StoreResult<u64>;

    /// Adds the text of entries `from..from + docs.len()` to the full-text index, except
    /// the text of entries whose subject was erased, which is left out: a text prepared
    /// before an erasure never reaches the index after it.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] unless the index covers exactly `from` entries (another
    /// indexer got there first).
    async fn index_text(&self, from: u64, docs: Vec<String>) -> StoreResult<()>;
}

/// Data keys (one per subject, wrapped by the master key) and the personal-data values
/// sealed under them; erasing a subject destroys its keys (see [`effect`]).
#[async_trait]
pub trait VaultStore: Send + Sync + 'static {
    /// The active (not destroyed) data key of each subject asked for (`""` = default).
    async fn active_data_keys(&self, subjects: &[String]) -> StoreResult<HashMap<String, DataKey>>;

    /// Adds data keys; a subject that got an active key meanwhile keeps that one.
    async fn insert_data_keys(&self, keys: Vec<DataKey>) -> StoreResult<()>;

    /// Data keys by id; destroyed ones are absent.
    async fn data_keys(&self, key_ids: &[String]) -> StoreResult<HashMap<String, DataKey>>;

    /// Which of these key ids were destroyed by an erasure (a missing key that is not
    /// listed here is damage, not erasure).
    async fn destroyed_keys(
        &self,
        key_ids: &[String],
    ) -> StoreResult<std::collections::HashSet<String>>;

    /// Every live data key (for re-wrapping under a new master key).
    async fn all_data_keys(&self) -> StoreResult<Vec<DataKey>>;

    /// Replaces the wrapped form and master epoch of live keys, all or nothing.
    async fn rewrap_data_keys(&self, keys: Vec<DataKey>) -> StoreResult<()>;

    /// Vault values filed under these tokens, under any key.
    async fn vault_values(&self, tokens: &[String]) -> StoreResult<Vec<SealedValue>>;

    /// What erasing the subject now would destroy: the counts an
    /// [`Effect::EraseSubject`] expects (the erasure itself is that effect, appended
    /// with its `subject_erasure` event).
    async fn erasure_plan(&self, subject: &str) -> StoreResult<ErasureReport>;

    /// Vault values sealed under this data key (an upload's values, moved under the
    /// key of the subject whose event claims it).
    async fn vault_values_under(&self, key_id: &str) -> StoreResult<Vec<SealedValue>>;

    /// When the subject was last erased, if ever.
    async fn erased_at(&self, subject: &str) -> StoreResult<Option<i64>>;
}

/// The storage interface of Evident: every domain trait, so the server holds one
/// `Arc<dyn Store>`. A backend implements each small trait; a feature that needs
/// storage adds a trait of its own here instead of growing one large interface.
pub trait Store:
    LogStore
    + BlobStore
    + ApiKeyStore
    + MetaStore
    + SearchStore
    + VaultStore
    + ArtifactStore
    + IdentifierStore
    + ApprovalStore
    + PolicyStore
    + LegalHoldStore
    + RetentionStore
    + AccessLogStore
    + RegistryRows
    + WitnessStore
    + StatsStore
{
}

impl<T> Store for T where
    T: LogStore
        + BlobStore
        + ApiKeyStore
        + MetaStore
        + SearchStore
        + VaultStore
        + ArtifactStore
        + IdentifierStore
        + ApprovalStore
        + PolicyStore
        + LegalHoldStore
        + RetentionStore
        + AccessLogStore
        + RegistryRows
        + WitnessStore
        + StatsStore
        + ?Sized
{
}

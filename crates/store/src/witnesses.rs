//! Witness cosignatures and witness status (CONTRACT section 3, "Witnessing"; C2SP
//! tlog-witness and tlog-cosignature).
//!
//! Cosignatures are kept beside the checkpoints they sign, never as log entries: a
//! cosignature is a statement by someone else about a checkpoint, not a step of an
//! agent, and it arrives after the checkpoint is stored. One row per (checkpoint
//! size, witness); the first one kept is kept (a witness that cosigns the same
//! checkpoint twice adds nothing). The status rows say, per configured witness, what
//! the server last learned from it: the size the witness holds (also learned from its
//! 409 answers), its last cosignature, its last error. Neither is recorded by a
//! server event; both are written by the server's witnessing task only.
//!
//! Out of scope: checking cosignatures (the server checks each one against the
//! witness's key before storing it, `evident_tlog::witness`), talking to witnesses.

use async_trait::async_trait;

use crate::StoreResult;

/// One witness's cosignature of the checkpoint of `size`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCosignature {
    /// The size of the checkpoint it cosigns.
    pub size: u64,
    /// The witness's name in the server's configuration.
    pub witness: String,
    /// The note signature line (`— <key name> <base64>`), without its newline.
    pub line: String,
    /// The cosignature's own timestamp (POSIX seconds).
    pub timestamp: u64,
    /// When the server received it, µs since the epoch.
    pub received_micros: i64,
}

/// What the server last learned from one witness.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WitnessStatus {
    /// The witness's name in the server's configuration.
    pub witness: String,
    /// The tree size the witness holds for this log, as far as the server knows
    /// (from a cosignature or a 409 answer).
    pub known_size: Option<u64>,
    /// The size of the last checkpoint it cosigned, and when that arrived (µs).
    pub cosigned_size: Option<u64>,
    pub cosigned_micros: Option<i64>,
    /// The last failure (unreachable, refused, a bad cosignature), and when (µs);
    /// cleared by the next cosignature.
    pub error: Option<String>,
    pub error_micros: Option<i64>,
}

/// Cosignatures and witness status (module docs).
#[async_trait]
pub trait WitnessStore: Send + Sync {
    /// Files a cosignature; if the witness already has one for that size, the
    /// first is kept and this is a no-op.
    ///
    /// # Errors
    /// [`crate::StoreError::NotFound`] if no checkpoint of that size is stored.
    async fn put_cosignature(&self, cosignature: StoredCosignature) -> StoreResult<()>;

    /// The cosignatures of the checkpoint of `size`, by witness name.
    async fn cosignatures(&self, size: u64) -> StoreResult<Vec<StoredCosignature>>;

    /// The largest checkpoint size cosigned by at least `quorum` of `witnesses`
    /// (names), if any.
    async fn newest_cosigned_size(
        &self,
        witnesses: &[String],
        quorum: usize,
    ) -> StoreResult<Option<u64>>;

    /// Replaces the status of `status.witness`.
    async fn put_witness_status(&self, status: WitnessStatus) -> StoreResult<()>;

    /// Every witness's status, by name.
    async fn witness_statuses(&self) -> StoreResult<Vec<WitnessStatus>>;
}

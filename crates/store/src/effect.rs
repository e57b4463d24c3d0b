//! State changes that commit together with the server event recording them
//! (CONTRACT sections 2, 4, 6 and 7: erasure, artifacts and labels, API keys, key
//! rotation).
//!
//! A server event and the change it records are one [`crate::AppendRequest`]: its
//! `events` and its `effects` commit in the same transaction, or neither does. Never
//! "commit the change, then log it": a crash or a failed append in between would leave
//! a change the log does not mention.
//!
//! Inside the transaction a backend applies a request's effects first, in order, then
//! appends its events. An effect refused for a reason of the domain (a key name taken,
//! a key that does not exist, an erasure whose plan no longer holds) rolls back that
//! request alone ([`crate::AppendOutcome::Refused`]); the other requests of the group
//! commit. Any other error fails the whole group, as an append error does.
//!
//! **Effects whose outcome the event reports.** The event's bytes are fixed (and
//! hashed) before the transaction starts, so it cannot quote numbers the transaction
//! computes. An effect whose outcome the event states carries that outcome as a
//! precondition instead: [`Effect::EraseSubject`] holds the counts the service read
//! and wrote into the event, the backend recounts inside the transaction and refuses
//! if they differ (the caller plans again). The log never states a count that is not
//! what was done.
//!
//! **Adding a kind of change** (a policy published, an approval resolved, a legal
//! hold, a purge, an agent suspended): add a variant here, apply it in each backend's
//! `effects::apply` (its table and statements), and add its all-or-nothing case to the
//! conformance suite. The append path, the sequencer and the fault wrapper stay as
//! they are.

use crate::{ApiKeyRecord, DataKey, ErasureReport};

/// One state change, applied in the transaction that appends its server event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Crypto-shreds a subject: destroys its data keys (no decryptable copy survives,
    /// see each backend's `erase` module), deletes its search text, records when.
    /// Refused with [`crate::StoreError::Conflict`] unless what it destroys is exactly
    /// `expect` (see the module docs).
    EraseSubject {
        subject: String,
        now_micros: i64,
        expect: ErasureReport,
    },
    /// Destroys the data keys of `subject` without recording an erasure: the private
    /// key of an upload once its values have moved under the key of the subject that
    /// claimed it. Destroying nothing is not an error.
    DestroyDataKeys { subject: String, now_micros: i64 },
    /// Adds an API key; refused with `Conflict` if the name is taken.
    CreateApiKey(ApiKeyRecord),
    /// Revokes an API key; refused with `NotFound` if no key has this name.
    RevokeApiKey { name: String, now_micros: i64 },
    /// Replaces the wrapped form and master epoch of live data keys (master-key
    /// rotation); keys destroyed meanwhile stay destroyed.
    RewrapDataKeys(Vec<DataKey>),
    /// Sets a configuration value kept with the log (signing-key history, the digest
    /// of the configuration last recorded).
    SetMeta { key: String, value: String },
    /// Adds an immutable artifact version (CONTRACT section 6); refused with
    /// `Conflict` if (kind, name, version) exists, whatever its content (the service
    /// tells a repeated publish from a clash by reading the stored one).
    PublishArtifact(crate::artifacts::ArtifactVersion),
    /// Moves a label to a version; refused with `NotFound` if the version was never
    /// published, and with `Conflict` unless the label still names `from_version`
    /// (the event states it, so it is a precondition, see the module docs).
    MoveLabel(crate::artifacts::LabelMove),
    /// Opens a human approval request (CONTRACT section 6); refused with `Conflict` if
    /// the id exists.
    OpenApproval(crate::approvals::NewApproval),
    /// Resolves, escalates or expires an approval request; refused with `NotFound` for
    /// an unknown id and with `Conflict` unless, at the resolution's instant, the
    /// request is open, has the quoted `job_hash`, and is before its `expires_at` (an
    /// approver) or at or after it (an expiry). One conditional change, so of two
    /// racing resolutions exactly one commits. `escalated` keeps the request open.
    ResolveApproval(crate::approvals::ApprovalResolution),
    /// Adds the next version of a policy set and makes it active (CONTRACT section
    /// 6); refused with `Conflict` unless its version is the set's last + 1 (another
    /// publish of the set committed first).
    PublishPolicy(crate::policies::PolicyVersion),
    /// Re-activates an older version of a set; refused with `Conflict` unless
    /// `from_version` is still the active one, `NotFound` if `to_version` was never
    /// published.
    RollbackPolicy(crate::policies::PolicyRollback),
    /// Refused with `Conflict` unless the policy generation is still this one: a
    /// decision commits only under the active sets it was made with (see
    /// `crate::policies`).
    RequirePolicyGeneration(i64),
    /// Adds a decision to the index `GET /api/v1/policy/audit` filters.
    IndexPolicyDecision(crate::policies::PolicyDecisionRow),
    /// Places a legal hold (see [`crate::holds`]); refused with `Conflict` if its id
    /// exists.
    PlaceLegalHold(crate::holds::LegalHold),
    /// Lifts a hold; refused with `NotFound` if no hold has this id, and with
    /// `Conflict` if it was lifted already.
    LiftLegalHold {
        hold_id: String,
        now_micros: i64,
        lifted_by: String,
    },
    /// Changes nothing; refused with `Conflict` naming the hold if a hold in force at
    /// `now_micros` covers any event about `subject`. Put before
    /// [`Effect::EraseSubject`], it makes the erasure fail closed against a hold
    /// committed after the service looked.
    RefuseIfHeld { subject: String, now_micros: i64 },
    /// A retention purge (see [`crate::retention`]): deletes the payload blobs and/or
    /// search text of whole traces, recording each purged blob under `run_id`.
    /// Refused with `Conflict` if a trace has an entry newer than its plan saw, a hold
    /// in force at `now_micros` covers one, or what it deletes is not `expect`.
    PurgeRetention {
        run_id: String,
        now_micros: i64,
        traces: Vec<crate::retention::TracePurge>,
        expect: crate::retention::PurgeCounts,
    },
    /// Appends a batch of access records at `from_seq` (see [`crate::access`]);
    /// refused with `Conflict` unless the access log holds exactly `from_seq` records
    /// (another server appended first). Records carry their own `seq`s.
    AppendAccessRecords {
        from_seq: u64,
        records: Vec<crate::access::AccessRecord>,
    },
    /// Fails with [`crate::StoreError::Unavailable`] after the effects before it were
    /// applied and before the events are appended: how
    /// [`crate::faulty::FaultyStore`] proves a failure between a change and its event
    /// leaves neither. Never built outside fault tests.
    #[doc(hidden)]
    InjectedFault,
}

impl Effect {
    /// Whether applying it leaves secrets the store must scrub from its logs and free
    /// pages after the commit (the embedded store truncates its WAL, PostgreSQL
    /// vacuums `data_keys`). Not [`Effect::DestroyDataKeys`]: an upload's key guards
    /// copies of what the claiming subject's key guards, and that subject's erasure
    /// scrubs everything older than itself.
    pub fn destroys_secrets(&self) -> bool {
        matches!(self, Self::EraseSubject { .. } | Self::RewrapDataKeys(_))
    }
}

//! Legal holds (CONTRACT sections 2 and 4): what litigation or an investigation
//! freezes. Retention and erasure skip what an active hold covers.
//!
//! A hold names one scope: a subject (its token, never a clear identifier), a trace, a
//! job, a case, or a range of event times (the events' `timestamp`, as search's
//! `from`/`to` filter them). It is placed and lifted only with
//! its `legal_hold` server event ([`crate::Effect::PlaceLegalHold`],
//! [`crate::Effect::LiftLegalHold`]); a lifted hold stays stored, with who lifted it
//! and when, so the list answers what was held at any time.
//!
//! **Erasure against a hold.** The check that no hold covers a subject is itself an
//! effect ([`crate::Effect::RefuseIfHeld`]), applied in the erasure's transaction
//! before the keys are destroyed: a hold committed by another server just before
//! cannot be skipped.
//!
//! Out of scope: who may place holds, and the event's fields (the server).

use async_trait::async_trait;

use crate::StoreResult;

/// What a hold covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldScope {
    /// Every event about a subject (a `subj_` token).
    Subject(String),
    /// Every event of a trace.
    Trace(String),
    /// Every event of a job.
    Job(String),
    /// Every event of a case.
    Case(String),
    /// Every event whose `timestamp` is in `[from_micros, to_micros]` (µs since the
    /// epoch).
    Time { from_micros: i64, to_micros: i64 },
}

impl HoldScope {
    /// The stored kind: `subject`, `trace`, `job`, `case` or `time`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Subject(_) => "subject",
            Self::Trace(_) => "trace",
            Self::Job(_) => "job",
            Self::Case(_) => "case",
            Self::Time { .. } => "time",
        }
    }

    /// The id the scope names; `None` for a time range.
    pub fn value(&self) -> Option<&str> {
        match self {
            Self::Subject(v) | Self::Trace(v) | Self::Job(v) | Self::Case(v) => Some(v),
            Self::Time { .. } => None,
        }
    }

    /// The time range, `(0, 0)` for scopes by id.
    pub fn range(&self) -> (i64, i64) {
        match self {
            Self::Time {
                from_micros,
                to_micros,
            } => (*from_micros, *to_micros),
            _ => (0, 0),
        }
    }

    /// The scope from its stored columns; `None` for a kind this program does not know.
    pub fn from_stored(kind: &str, value: Option<String>, from: i64, to: i64) -> Option<Self> {
        let value = || value.clone();
        Some(match kind {
            "subject" => Self::Subject(value()?),
            "trace" => Self::Trace(value()?),
            "job" => Self::Job(value()?),
            "case" => Self::Case(value()?),
            "time" => Self::Time {
                from_micros: from,
                to_micros: to,
            },
            _ => return None,
        })
    }
}

/// A legal hold as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHold {
    /// `hold_<ULID>`.
    pub hold_id: String,
    pub scope: HoldScope,
    /// Why (personal data in it tokenized by the server).
    pub reason: String,
    /// The API key that placed it.
    pub placed_by: String,
    pub placed_micros: i64,
    /// When it ends by itself; `None` = until lifted.
    pub until_micros: Option<i64>,
    /// The `legal_hold` event that placed it.
    pub event_id: String,
    pub lifted_micros: Option<i64>,
    pub lifted_by: Option<String>,
}

impl LegalHold {
    /// Whether it is in force at `now_micros`: not lifted, not past its `until`.
    pub fn active_at(&self, now_micros: i64) -> bool {
        self.lifted_micros.is_none() && self.until_micros.is_none_or(|until| until > now_micros)
    }
}

/// Reads of legal holds. Writes go with their `legal_hold` events (module docs).
#[async_trait]
pub trait LegalHoldStore: Send + Sync {
    /// Every hold ever placed, lifted or not, oldest first.
    async fn legal_holds(&self) -> StoreResult<Vec<LegalHold>>;

    /// One hold by id.
    async fn legal_hold(&self, hold_id: &str) -> StoreResult<Option<LegalHold>>;

    /// The holds in force at `now_micros` that cover any event about `subject` (a hold
    /// on the subject itself, or on a trace, job, case or time range holding one of
    /// its events), oldest first: what blocks its erasure.
    async fn holds_covering_subject(
        &self,
        subject: &str,
        now_micros: i64,
    ) -> StoreResult<Vec<LegalHold>>;
}

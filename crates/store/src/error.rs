//! Backend-neutral storage errors. Each backend maps its own errors into these inside
//! the backend, so nothing above the store knows which database it talks to.

/// What went wrong in a store, in terms the layers above can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The write contradicts what is stored (a name taken, a checkpoint that would shrink).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store is temporarily unable to write: disk full, I/O error, locked. Nothing
    /// was written; the same request may be retried later (HTTP 503 with Retry-After).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Stored data is not what it must be (a tree head that does not match its tiles,
    /// unparseable rows). Never retried; `evident verify` says more.
    #[error("storage corrupt: {0}")]
    Corrupt(String),
    /// Anything else: a bug or an unexpected backend failure.
    #[error("storage error: {0}")]
    Internal(String),
}

impl StoreError {
    /// `true` when a retry later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

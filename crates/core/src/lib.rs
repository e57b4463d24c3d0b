//! evident-core: the event model (CONTRACT section 1), strict I-JSON parsing, RFC 8785
//! canonical entry bytes, subject tokens and payload commitments (section 2).
//!
//! Pure: no I/O, no async, no database. Everything here is deterministic given its
//! inputs (randomness is passed in), so the server, the CLI and offline verifiers
//! share one definition of what an entry is.

pub mod blob;
pub mod bundle;
pub mod crypto;
pub mod entry;
pub mod event;
pub mod governance;
pub mod json;
pub mod pii;
pub mod query;
pub mod record;
pub mod text;
pub mod time;
pub mod token;
pub mod verify;

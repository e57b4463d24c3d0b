//! evident-server: Evident's services, background tasks and HTTP API.
//!
//! - Services: [`ingest`] (validation → sequencer), [`record`] (server events with
//!   the state changes they record), [`privacy`] (reveal, erasure), [`proofs`], [`reading`],
//!   [`verifier`], [`uploads`], [`artifacts`] (the registry), [`clock`] ("now"),
//!   [`auth`] (API keys and roles), [`datadir`] (secrets and the log's identity),
//!   [`signing`] (signing keys over time).
//! - Background tasks: the [`sequencer`] (group commit) and the [`checkpointer`].
//! - HTTP: [`routes::router`], one router per resource area; [`serve`] binds it.
//!
//! The server never writes SQL: all storage goes through `evident_store::Store`.

pub mod access_log;
pub mod answer;
pub mod approvals;
pub mod artifacts;
pub mod auth;
pub mod checkpointer;
pub mod clock;
pub mod configuration;
pub mod cosigning;
pub mod datadir;
pub mod decide;
pub mod error;
pub mod evidence;
pub mod holds;
pub mod indexer;
pub mod ingest;
pub mod keys;
pub mod metrics;
pub mod otlp;
pub mod policies;
pub mod privacy;
pub mod proofs;
pub mod reading;
pub mod record;
pub mod retention;
pub mod routes;
pub mod search;
pub mod sequencer;
pub mod serve;
pub mod signing;
pub mod state;
pub mod uploads;
pub mod vault;
pub mod verifier;
pub mod witness;

pub use routes::router;
pub use state::{App, AppState};

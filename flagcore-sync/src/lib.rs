//! # flagcore-sync
//!
//! Keeps a [`flagcore::Store`] fresh, so that a gate flipped at the source is seen by every
//! service within one poll interval, and a source that is down, slow or returns garbage never
//! takes the service down with it: the last good ruleset keeps serving.
//!
//! - [`StatsigPoller`] polls Statsig's `download_config_specs` endpoint the way the official
//!   server SDKs do (`sinceTime` cursor, `has_updates: false` answers, the server-secret key
//!   header), retries failures with capped exponential backoff and jitter, and honours
//!   `Retry-After`.
//! - [`FileWatcher`] loads a payload from a file and reloads it when it changes, so a
//!   self-hosted team can flip a gate by editing a file; a half-written file is never
//!   installed.
//! - [`IdListSync`] keeps the store's ID lists (members of large segments) in sync,
//!   downloading only what was appended since the last sync.
//! - Each reports a [`Status`]: last success, last error, ruleset time, consecutive failures.
//! - [`ExposureLogger`] is the store's exposure sink: it copies each exposure into a Statsig
//!   event, queues it without waiting (a full queue drops and counts), deduplicates, batches
//!   and posts to Statsig's `log_event` endpoint (or appends JSON lines to a file), retrying
//!   with backoff, and flushes on shutdown.
//!
//! ```text
//!  Statsig API ──► StatsigPoller ─┐
//!                                  ├─► Ruleset::from_json ──► Store::install ──► evaluations
//!  a file ───────► FileWatcher ───┘     (Err: keep the last good ruleset, record the error)
//! ```
//!
//! ## What it does not do (yet)
//!
//! Layer exposures are logged per parameter read through
//! [`ExposureLogger::log_layer_parameter`] (the core evaluates a layer as a whole); event
//! batches are sent without gzip, and sampling (`sdk_configs.sampling_mode`) is not applied.
//! The tasks run on the caller's tokio runtime, or on a [`BlockingRuntime`] in programs that
//! are not async.
//!
//! ## Getting started
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use flagcore::{Store, User};
//! use flagcore_sync::{StatsigOptions, StatsigPoller};
//!
//! # async fn run() {
//! let store = Arc::new(Store::new());
//! let poller = StatsigPoller::start(store.clone(), StatsigOptions::new("secret-…"))
//!     .expect("an HTTP client");
//! poller.wait_for_first_sync(Duration::from_secs(3)).await;
//! let on = store.check_gate(&User::with_user_id("u1"), "new_checkout");
//! poller.shutdown().await;
//! # }
//! ```

mod blocking;
mod exposures;
mod file;
mod id_lists;
mod statsig;
mod status;
mod task;

pub use blocking::BlockingRuntime;
pub use exposures::{Destination, ExposureLogger, LoggerOptions, LoggerStats};
pub use file::FileWatcher;
pub use id_lists::{IdListOptions, IdListSync};
pub use statsig::{initialize, InitReport, InitSource, StatsigOptions, StatsigPoller};
pub use status::Status;

/// Why a sync attempt failed. The store keeps its current ruleset in every case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The request failed (connection refused, timeout, truncated body…); it is retried.
    #[error("request to the config source failed")]
    Request(#[source] reqwest::Error),
    /// The source answered with an HTTP error status; it is retried (after `Retry-After` when
    /// the server sent one).
    #[error("the config source answered HTTP {status}")]
    Status {
        /// The HTTP status code.
        status: u16,
    },
    /// The payload was rejected by the loader (malformed, truncated, HTML…).
    #[error("the payload was rejected")]
    Load(#[source] flagcore::LoadError),
    /// The payload has no specs while the current ruleset has some: refused as a likely
    /// source-side fault.
    #[error("the payload is empty while the current ruleset is not; keeping the current one")]
    EmptyPayload,
    /// An ID-list file did not start with `+` or `-` (an error page?); the list is kept as
    /// it was and retried at the next sync.
    #[error("the ID-list file at {url} is not an ID-list file")]
    IdListFile {
        /// The file's URL.
        url: String,
    },
    /// Reading the file failed.
    #[error("reading the payload file failed")]
    Io(#[source] std::io::Error),
    /// The HTTP client could not be built (TLS set-up).
    #[error("building the HTTP client failed")]
    Client(#[source] reqwest::Error),
}

/// Whether a ruleset has no specs at all.
fn is_empty(rs: &flagcore::Ruleset) -> bool {
    rs.gate_names().next().is_none()
        && rs.config_names().next().is_none()
        && rs.layer_names().next().is_none()
}

/// Installs `rs` unless it would replace a non-empty ruleset by an empty one.
fn install(store: &flagcore::Store, rs: flagcore::Ruleset) -> Result<u64, SyncError> {
    let current_has_specs = store.ruleset().is_some_and(|c| !is_empty(&c));
    if current_has_specs && is_empty(&rs) {
        return Err(SyncError::EmptyPayload);
    }
    let time = rs.time();
    store.install(rs);
    Ok(time)
}

//! # flagcore-sync
//!
//! Keeps a [`flagcore::Store`] fresh and ships exposures back. A gate flipped at the source
//! is seen by every service within one poll interval; a source that is down, slow or answers
//! garbage never takes the service with it: the last good ruleset keeps serving, the error
//! is recorded, and polling goes on. All of the project's network and file IO lives here, so
//! the core stays pure.
//!
//! - [`StatsigPoller`] polls Statsig's `download_config_specs` endpoint the way the official
//!   server SDKs do (the server-secret key header, `sinceTime` and `checksum` cursors,
//!   `has_updates: false` answers), retries failures with capped exponential backoff and
//!   jitter, honours `Retry-After`, and can fall back to a second URL.
//!   [`initialize`] starts from a bootstrap payload and waits a bounded time for the network.
//! - [`FileWatcher`] loads a payload from a file and reloads it when it changes, so a
//!   self-hosted team can flip a gate by editing a file; a half-written file is never
//!   installed.
//! - [`IdListSync`] keeps the store's ID lists (members of large segments) in sync,
//!   downloading only what was appended since the last sync.
//! - [`DataStoreSync`] lets a fleet share one ruleset through a [`DataStore`] (Statsig's
//!   data-store interface; `RedisStore` with the feature `redis`): one instance, elected
//!   by a fenced lease, polls Statsig and writes each new payload to the store; every other
//!   instance follows the store, reading a small version marker at each tick and the
//!   payload only when it changed (or at once, with change notices: Redis pub/sub). ID
//!   lists go the same way, as the official core's snapshot (a manifest and one key per
//!   list). Keys are the official core's, and values are laid out as Statsig's forward
//!   proxy or Statsig's Redis data adapter lays them out (`RedisLayout`), so official SDKs
//!   and flagcore services share one Redis: what either writes, the other loads and
//!   answers the same from (checked against the official core in
//!   `tests/data/redis_interop/`).
//! - Any source can keep the last good payload in a file (`last_good_file`, written
//!   atomically), and initialisation starts from it when the network and the store are
//!   down.
//! - Each source reports a [`Status`]: last success, last error, ruleset time and age,
//!   consecutive failures, and the specs the payload lost (Statsig drops a malformed spec
//!   silently; [`Status::dropped_specs`] names them and says why).
//! - [`EventLogger`] is the store's [`flagcore::ExposureSink`]: it copies each exposure
//!   into a Statsig event and queues it without waiting (a full queue drops and counts),
//!   deduplicates, batches, and posts gzipped batches to Statsig's `log_event` endpoint (or
//!   appends JSON lines to a file), retrying with backoff; it flushes on shutdown.
//! - The same logger takes custom events ([`EventLogger::log_event`]: the metric events
//!   experiments are scored on, never deduplicated) and manual exposures
//!   ([`EventLogger::log_manual_exposure`]) for results evaluated without logging.
//! - [`sticky`] keeps sticky assignments (Statsig's persistent storage): a
//!   [`sticky::PersistentStorage`] in memory or in files, and the load–evaluate–save loop
//!   around the core's sticky evaluation.
//! - [`BlockingRuntime`] runs all of it for programs that have no tokio runtime.
//!
//! ```text
//!  Statsig API ──► StatsigPoller ─┐  Ruleset::from_json (bounded size, all or nothing)
//!  a file ───────► FileWatcher ───┤
//!  Redis ◄──────► DataStoreSync ──┼─► Err: keep the last good ruleset, record the error
//!  (writer: Statsig → Redis;      │
//!   followers: Redis only)        │
//!  bootstrap bytes ► initialize ──┘   Ok:  Store::install ─────────────┐
//!  last good file ◄── saved after each install (atomic rename) ◄───────┤
//!  ID lists ─────► IdListSync ──────────► Store::update_id_lists ──────┤
//!                                                                      ▼
//!                                     evaluations (lock-free, on your threads)
//!                                                                      │ ExposureSink::log
//!                                                                      ▼ (copy + try_send)
//!  Statsig log_event / JSON lines ◄── flusher task ◄── bounded queue ◄─┘
//!                     (batch, gzip, retry)   (dedupe)     (full: drop and count)
//! ```
//!
//! The sources are tasks on the caller's tokio runtime (or on a [`BlockingRuntime`]). They
//! only ever swap the store's ruleset pointer: evaluation never waits for them, and the
//! exposure sink never waits for the network. Work that takes milliseconds (gzipping a
//! batch, reading a file) runs on tokio's blocking pool, not on the runtime's workers.
//!
//! Untrusted input is bounded: response bodies and payload files larger than the loader's
//! [`flagcore::Limits::max_payload_bytes`] are not read; `Retry-After` is honoured up to a
//! cap; redirects are followed only within the same origin (the server secret travels in a
//! header); errors and `Debug` output never show the secret (Statsig's URLs carry it).
//!
//! ## What it does not do (yet)
//!
//! - The protobuf form of `download_config_specs` (`supports_proto`) and delta updates: the
//!   poller asks for JSON and always replaces the whole ruleset.
//! - Diagnostics events (`statsig::diagnostics`, the official SDK's telemetry about
//!   itself). Exposure sampling and `statsig::non_exposed_checks` are applied as the
//!   official core applies them.
//! - Through a data store: Redis Cluster (a write touches the data key and the lease key);
//!   the `statsig-br` (protobuf) key, which the official core reads before the plain-text
//!   one when its store has byte methods (flagcore reads and writes the plain-text key
//!   only).
//! - Exposure events give `Network` as the source in their `reason`, whatever installed the
//!   ruleset (a file, a bootstrap), and omit `receivedAt`.
//!
//! ## Getting started
//!
//! Poll Statsig and log exposures inside an async program:
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use flagcore::{Options, Store, User};
//! use flagcore_sync::{Destination, EventLogger, LoggerOptions, StatsigOptions};
//!
//! # async fn run() -> Result<(), flagcore_sync::SyncError> {
//! let secret = std::env::var("STATSIG_SERVER_SECRET").unwrap_or_default();
//! let logger = Arc::new(EventLogger::start(LoggerOptions::new(Destination::statsig(&secret)))?);
//! let store = Arc::new(Store::with_options(Options {
//!     exposure_sink: Some(logger.clone()),
//!     ..Options::default()
//! }));
//! let bootstrap = std::fs::read("last-good-flags.json").ok();
//! let (poller, report) = flagcore_sync::initialize(
//!     store.clone(),
//!     bootstrap.as_deref(),
//!     StatsigOptions::new(secret),
//!     Duration::from_secs(3),
//! )
//! .await?;
//! println!("serving from {:?} after {:?}", report.source, report.duration);
//!
//! let on = store.check_gate(&User::with_user_id("u1"), "new_checkout");
//!
//! poller.shutdown().await;
//! logger.shutdown(Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```
//!
//! Logging a custom event takes three lines:
//!
//! ```no_run
//! # use std::time::Duration;
//! # use flagcore::User;
//! # use flagcore_sync::{Destination, EventLogger, LoggerOptions};
//! # async fn run(secret: &str) -> Result<(), flagcore_sync::SyncError> {
//! let logger = EventLogger::start(LoggerOptions::new(Destination::statsig(secret)))?;
//! logger.log_event(&User::with_user_id("u1"), "purchase", 9.99, &[("sku", "A-1")]);
//! logger.shutdown(Duration::from_secs(5)).await;
//! # Ok(()) }
//! ```
//!
//! A program without an async runtime uses [`BlockingRuntime`]; a self-hosted team points a
//! [`FileWatcher`] at a file. The crate's examples (`poll_statsig`, `file_kill_switch`) run
//! both. A fleet on Redis: see [`DataStoreSync`] (and `RedisStore`'s example, feature
//! `redis`).
//!
//! ## Features
//!
//! HTTPS uses rustls (no OpenSSL) with the webpki roots, and responses may be gzipped.
//!
//! - `redis`: `RedisStore`, a [`DataStore`] on Redis (the `redis` crate on tokio, with a
//!   reconnecting connection manager). Off by default: services that do not share a Redis
//!   do not compile it. Its tests need a `redis-server` (they start one).
//! - `redis-tls`: `rediss://` URLs (rustls, webpki roots).

mod blocking;
mod data_store;
mod events;
mod exposures;
mod file;
mod http;
mod id_lists;
mod last_good;
mod network;
#[cfg(feature = "redis")]
mod redis_store;
mod statsig;
mod status;
pub mod sticky;
mod task;
mod updates;

use std::time::Duration;

pub use blocking::BlockingRuntime;
pub use data_store::{
    store_key, DataStore, DataStoreOptions, DataStoreSync, Fence, KeySchema, Lease, Mode, Role,
    StoreFuture, StorePath, StoreStatus, StoreValue, WriteMeta, Written,
};
pub use events::{EventValue, LoggerStatus};
#[allow(deprecated)] // The former name stays exported for existing callers.
pub use exposures::ExposureLogger;
pub use exposures::{Destination, EventLogger, LoggerOptions, LoggerStats};
pub use file::{FileOptions, FileWatcher};
pub use id_lists::{IdListOptions, IdListSync};
pub use network::Network;
#[cfg(feature = "redis")]
pub use redis_store::{RedisLayout, RedisOptions, RedisStore};
pub use statsig::{initialize, InitReport, InitSource, StatsigOptions, StatsigPoller};
pub use status::Status;
pub use updates::RulesetUpdates;

/// Why a sync attempt failed. The store keeps its current ruleset in every case, and the
/// source tries again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The request failed (connection refused, timeout, truncated body…); it is retried.
    #[error("request to the config source failed")]
    Request(#[source] reqwest::Error),
    /// The source answered with an HTTP error status; it is retried, after `Retry-After`
    /// when the server sent one.
    #[error("the config source answered HTTP {status}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The delay the server asked for.
        retry_after: Option<Duration>,
    },
    /// The source refused the server secret (HTTP 401 or 403): the key is wrong, revoked,
    /// not a server secret (`secret-…`; a client key is refused), or lacks permission for
    /// this endpoint. Check the key given to the source (and the proxy's, if there is one):
    /// nothing will work until it is fixed. Sources keep trying, but only after a long delay
    /// ([`StatsigOptions::unauthorized_retry`]); the exposure logger drops such batches
    /// ([`LoggerStats::dropped_unauthorized`]).
    #[error("the server secret was refused (HTTP {status}): it is wrong, revoked or lacks permission; check the key")]
    Unauthorized {
        /// 401 or 403.
        status: u16,
    },
    /// The body was larger than the loader's `max_payload_bytes`; it was not read further.
    /// Raise the limit in the source's options if the payload really is that large.
    #[error("the payload is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The payload was rejected by the loader (malformed, truncated, HTML, wrong types…).
    #[error("the payload was rejected")]
    Load(#[source] flagcore::LoadError),
    /// The loader panicked on this payload (a bug in flagcore: please report it with the
    /// payload); the current ruleset keeps serving.
    #[error("the loader panicked on the payload")]
    LoaderPanicked,
    /// The payload has no specs while the current ruleset has some: refused as a likely
    /// fault at the source. Install it yourself ([`flagcore::Store::install`]) if you mean it.
    #[error("the payload is empty while the current ruleset is not; keeping the current one")]
    EmptyPayload,
    /// An ID-list file did not start with `+` or `-` (an error page?); the list is kept as
    /// it was and retried at the next sync.
    #[error("the ID-list file at {url} is not an ID-list file")]
    IdListFile {
        /// The file's URL.
        url: String,
    },
    /// The ID-list manifest was not a JSON object of lists.
    #[error("the ID-list manifest was rejected")]
    IdListManifest(#[source] serde_json::Error),
    /// Reading the payload file failed (it may be missing); retried at the next poll.
    #[error("reading the payload file failed")]
    Io(#[source] std::io::Error),
    /// The HTTP client could not be built: TLS set-up, a CA certificate that is not valid
    /// PEM, or a proxy URL that does not parse (see [`Network`]).
    #[error("building the HTTP client failed")]
    Client(#[source] reqwest::Error),
    /// A PEM text given as CA certificates holds no certificate (see [`Network`]).
    #[error("the CA certificate text holds no certificate")]
    NoCertificate,
    /// No answer came within the time given (see [`initialize`]).
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The data store failed (down, unreachable, timed out, refused the command); retried
    /// at the next tick.
    #[error("the data store failed")]
    DataStore(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The data store holds something under the payload's key that is not a payload
    /// (another type, an encoding flagcore cannot read); the last good ruleset keeps
    /// serving.
    #[error("the data store's value is unusable: {reason}")]
    StoreValue {
        /// What is wrong with it.
        reason: String,
    },
    /// The write was refused: the writer lease is no longer this instance's (it paused
    /// past the lease time, and another took over), or the store holds a payload written
    /// under a newer lease. The instance follows the new writer.
    #[error("not written: the writer lease has passed on{}", by.as_ref().map_or(String::new(), |b| format!(" (to {b})")))]
    Fenced {
        /// Who holds the lease now, or the newer token, when known.
        by: Option<String>,
    },
    /// A file of a [`sticky::FileStorage`] could not be read or written (permissions, a
    /// full disk): a load gives no sticky evaluation, a save or delete was not made. Check
    /// the directory, then evaluate again.
    #[error("the sticky-assignment file {} could not be read or written", path.display())]
    StickyFile {
        /// The file.
        path: std::path::PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// A file of a [`sticky::FileStorage`] does not hold a user's persisted values in the
    /// official JSON shape (an object of `StickyValues`); it is left as it is. Fix or delete
    /// it: until then that user's sticky evaluations fail.
    #[error("the sticky-assignment file {} does not hold persisted values", path.display())]
    StickyValues {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with its JSON.
        #[source]
        source: serde_json::Error,
    },
}

/// `error: cause: cause…`, for status reports.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    message
}

/// Parses a payload; a panic in the loader is an error, not the end of the source's task.
pub(crate) fn parse(
    bytes: &[u8],
    limits: &flagcore::Limits,
) -> Result<flagcore::Ruleset, SyncError> {
    std::panic::catch_unwind(|| flagcore::Ruleset::from_json_with_limits(bytes, limits))
        .map_err(|_| SyncError::LoaderPanicked)?
        .map_err(SyncError::Load)
}

/// Whether a ruleset has no specs at all.
fn is_empty(rs: &flagcore::Ruleset) -> bool {
    rs.gate_names().next().is_none()
        && rs.config_names().next().is_none()
        && rs.layer_names().next().is_none()
}

/// Installs `rs` unless it would replace a non-empty ruleset by an empty one; returns its
/// time and the specs it dropped.
pub(crate) fn install(
    store: &flagcore::Store,
    rs: flagcore::Ruleset,
) -> Result<status::Installed, SyncError> {
    let current_has_specs = store.ruleset().is_some_and(|c| !is_empty(&c));
    if current_has_specs && is_empty(&rs) {
        return Err(SyncError::EmptyPayload);
    }
    let installed = status::Installed::Ruleset {
        time: rs.time(),
        dropped: rs.dropped_specs().to_vec(),
    };
    store.install(rs);
    Ok(installed)
}

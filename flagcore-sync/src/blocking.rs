//! Running the sources from programs that have no tokio runtime.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use flagcore::Store;

use crate::{
    EventLogger, FileWatcher, IdListOptions, IdListSync, LoggerOptions, StatsigOptions,
    StatsigPoller, SyncError,
};

/// A small tokio runtime of its own (one worker thread) for programs that are not async:
/// start sources on it, and shut it down to stop every task and thread it started.
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let runtime = flagcore_sync::BlockingRuntime::new().expect("a runtime");
/// let store = Arc::new(flagcore::Store::new());
/// let watcher = runtime.start_file_watcher(store.clone(), "flags.json", Duration::from_secs(1));
/// // … serve requests, evaluating with `store` …
/// runtime.block_on(watcher.shutdown());
/// runtime.shutdown(Duration::from_secs(5));
/// ```
#[derive(Debug)]
pub struct BlockingRuntime {
    runtime: tokio::runtime::Runtime,
}

impl BlockingRuntime {
    /// Starts the runtime (one worker thread, named `flagcore-sync`).
    pub fn new() -> Result<BlockingRuntime, SyncError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("flagcore-sync")
            .enable_all()
            .build()
            .map_err(SyncError::Io)?;
        Ok(BlockingRuntime { runtime })
    }

    /// Starts a [`StatsigPoller`] on this runtime.
    pub fn start_statsig_poller(
        &self,
        store: Arc<Store>,
        options: StatsigOptions,
    ) -> Result<StatsigPoller, SyncError> {
        let _guard = self.runtime.enter();
        StatsigPoller::start(store, options)
    }

    /// Starts a [`FileWatcher`] on this runtime.
    pub fn start_file_watcher(
        &self,
        store: Arc<Store>,
        path: impl Into<PathBuf>,
        interval: Duration,
    ) -> FileWatcher {
        let _guard = self.runtime.enter();
        FileWatcher::start(store, path, interval)
    }

    /// Starts an [`IdListSync`] on this runtime.
    pub fn start_id_list_sync(
        &self,
        store: Arc<Store>,
        options: IdListOptions,
    ) -> Result<IdListSync, SyncError> {
        let _guard = self.runtime.enter();
        IdListSync::start(store, options)
    }

    /// Starts an [`EventLogger`] on this runtime.
    pub fn start_event_logger(&self, options: LoggerOptions) -> Result<EventLogger, SyncError> {
        let _guard = self.runtime.enter();
        EventLogger::start(options)
    }

    /// The former name of [`BlockingRuntime::start_event_logger`].
    #[deprecated(note = "renamed `start_event_logger`")]
    pub fn start_exposure_logger(&self, options: LoggerOptions) -> Result<EventLogger, SyncError> {
        self.start_event_logger(options)
    }

    /// Runs `start` inside this runtime's context: for the `start` functions this type has
    /// no shortcut for.
    ///
    /// ```no_run
    /// # let runtime = flagcore_sync::BlockingRuntime::new().unwrap();
    /// # let store = std::sync::Arc::new(flagcore::Store::new());
    /// use flagcore_sync::{FileOptions, FileWatcher};
    /// let watcher = runtime.start(|| FileWatcher::with_options(store, FileOptions::new("flags.json")));
    /// ```
    pub fn start<T>(&self, start: impl FnOnce() -> T) -> T {
        let _guard = self.runtime.enter();
        start()
    }

    /// Runs a future to completion on this runtime (for example a source's `shutdown`, or
    /// [`crate::initialize`]). Do not call it from inside an async context.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Stops every task still running and joins the runtime's threads, waiting at most
    /// `deadline`. Shut sources (and flush the exposure logger) down first.
    pub fn shutdown(self, deadline: Duration) {
        self.runtime.shutdown_timeout(deadline);
    }
}

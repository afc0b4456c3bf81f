//! Starting and stopping config sources from C (feature `sync`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use flagcore::Store;
use flagcore_sync::{BlockingRuntime, FileWatcher, StatsigOptions, StatsigPoller, Status};

use crate::flagcore_result::{self, *};
use crate::ptr::Handle;
use crate::{boundary, free_handle, handle, handle_mut, put, put_handle, text};

/// A running config source (a Statsig poller or a file watcher) feeding a store, on a thread
/// of its own. Free it with `flagcore_source_free`, which stops it. May be shared across
/// threads for `flagcore_source_status`.
///
/// After `fork()` the child has none of the parent's threads, so the source does not run
/// there: in the child `flagcore_source_status` returns `FLAGCORE_RESULT_FORKED` (the store
/// keeps its last ruleset, frozen), `flagcore_source_restart` starts it anew in the child,
/// and `flagcore_source_free` frees it without touching the parent's threads.
pub struct flagcore_source {
    _opaque: [u8; 0],
}

impl Handle for flagcore_source {
    type Data = SourceData;
    const TAG: u64 = u64::from_le_bytes(*b"fcSOURCE");
}

/// What a `flagcore_source` holds: how to start the source, and the running one.
pub(crate) struct SourceData {
    store: Arc<Store>,
    recipe: Recipe,
    /// The process that started `running` (another one after a `fork()`).
    pid: u32,
    running: Option<Running>,
}

/// How a source is started (again, by `flagcore_source_restart`).
enum Recipe {
    File { path: PathBuf, interval: Duration },
    Statsig(Box<StatsigOptions>),
}

/// A source and the runtime (one thread) it runs on.
struct Running {
    runtime: BlockingRuntime,
    source: Source,
}

enum Source {
    File(FileWatcher),
    Statsig(StatsigPoller),
}

/// Sources a forked child inherited from its parent. Their threads do not exist in the
/// child, so stopping them would wait forever (or for locks the parent's threads held at the
/// fork): they are never touched again, only kept reachable (a leak checker would otherwise
/// report them).
static ABANDONED: Mutex<Vec<Running>> = Mutex::new(Vec::new());

impl Running {
    fn start(store: &Arc<Store>, recipe: &Recipe) -> Result<Running, flagcore_result> {
        let runtime = BlockingRuntime::new().map_err(|_| FLAGCORE_RESULT_INVALID_ARGUMENT)?;
        let source = match recipe {
            Recipe::File { path, interval } => {
                Source::File(runtime.start_file_watcher(store.clone(), path.clone(), *interval))
            }
            Recipe::Statsig(options) => Source::Statsig(
                runtime
                    .start_statsig_poller(store.clone(), (**options).clone())
                    .map_err(|_| FLAGCORE_RESULT_INVALID_ARGUMENT)?,
            ),
        };
        Ok(Running { runtime, source })
    }

    fn status(&self) -> Status {
        match &self.source {
            Source::File(w) => w.status(),
            Source::Statsig(p) => p.status(),
        }
    }

    /// Stops the source and its runtime (in the process that started them).
    fn stop(self) {
        match self.source {
            Source::File(w) => self.runtime.block_on(w.shutdown()),
            Source::Statsig(p) => self.runtime.block_on(p.shutdown()),
        }
        self.runtime.shutdown(Duration::from_secs(5));
    }
}

impl SourceData {
    fn new(store: Arc<Store>, recipe: Recipe) -> Result<SourceData, flagcore_result> {
        let running = Running::start(&store, &recipe)?;
        Ok(SourceData {
            store,
            recipe,
            pid: std::process::id(),
            running: Some(running),
        })
    }

    /// Whether `running` was started by another process (this one is a forked child).
    fn forked(&self) -> bool {
        self.pid != std::process::id()
    }

    /// Ends `old`: stopped in the process that started it, abandoned in a forked child.
    fn retire(&self, old: Option<Running>) {
        let Some(old) = old else { return };
        if self.forked() {
            ABANDONED
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(old);
        } else {
            old.stop();
        }
    }
}

impl Drop for SourceData {
    fn drop(&mut self) {
        let running = self.running.take();
        self.retire(running);
    }
}

/// The state of a source, as of its last attempt.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct flagcore_source_state {
    /// Attempts made.
    pub attempts: u64,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// Whether any attempt succeeded.
    pub ever_succeeded: bool,
    /// Milliseconds since the last success (0 when none).
    pub ms_since_success: u64,
    /// The `time` of the ruleset this source installed last (0 when none).
    pub ruleset_time: u64,
}

/// Starts a source of `store` from `recipe` into `*out`.
///
/// # Safety
/// `store` valid; `out` NULL or writable.
unsafe fn start(
    store: *const crate::flagcore_store,
    recipe: impl FnOnce() -> Result<Recipe, flagcore_result>,
    out: *mut *mut flagcore_source,
) -> flagcore_result {
    // SAFETY: the caller's promise.
    let store = try_ffi!(unsafe { handle(store) }).clone();
    let recipe = try_ffi!(recipe());
    if out.is_null() {
        return FLAGCORE_RESULT_NULL_PARAMETER;
    }
    let source = try_ffi!(SourceData::new(store, recipe));
    // SAFETY: the caller's promise.
    try_ffi!(unsafe { put_handle(out, source) });
    FLAGCORE_RESULT_OK
}

/// Watches a payload file and installs it into `store` whenever it changes (checked every
/// `interval_ms`); a file that does not load is not installed. The source keeps its own
/// reference to the store.
///
/// Results: `OK`; `NULL_PARAMETER`; `INVALID_HANDLE`; `INVALID_UTF8`; `INVALID_ARGUMENT` (a
/// length above `PTRDIFF_MAX`, or the source's thread could not start); `PANIC`.
///
/// # Safety
/// `store` valid; `path` points to `path_len` bytes; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_source_start_file(
    store: *const crate::flagcore_store,
    path: *const u8,
    path_len: usize,
    interval_ms: u64,
    out: *mut *mut flagcore_source,
) -> flagcore_result {
    boundary(|| {
        let recipe = || {
            // SAFETY: the caller's promise.
            let path = unsafe { text(path, path_len) }?;
            Ok(Recipe::File {
                path: PathBuf::from(path),
                interval: Duration::from_millis(interval_ms.max(1)),
            })
        };
        // SAFETY: the caller's promises.
        unsafe { start(store, recipe, out) }
    })
}

/// Polls Statsig's `download_config_specs` with `server_secret` every `interval_ms` and
/// installs what it gets into `store`. `specs_url` (NULL with length 0: Statsig's CDN) points
/// at a proxy.
///
/// Results: `OK`; `NULL_PARAMETER`; `INVALID_HANDLE`; `INVALID_UTF8`; `INVALID_ARGUMENT` (a
/// length above `PTRDIFF_MAX`, options the poller rejects, or its thread could not start);
/// `PANIC`.
///
/// # Safety
/// `store` valid; string arguments point to their lengths (or NULL with 0 for `specs_url`);
/// `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_source_start_statsig(
    store: *const crate::flagcore_store,
    server_secret: *const u8,
    server_secret_len: usize,
    specs_url: *const u8,
    specs_url_len: usize,
    interval_ms: u64,
    out: *mut *mut flagcore_source,
) -> flagcore_result {
    boundary(|| {
        let recipe = || {
            // SAFETY: the caller's promise.
            let secret = unsafe { text(server_secret, server_secret_len) }?;
            // SAFETY: the caller's promise.
            let url = unsafe { text(specs_url, specs_url_len) }?;
            let mut options =
                StatsigOptions::new(secret).interval(Duration::from_millis(interval_ms.max(1000)));
            if !specs_url.is_null() {
                options = options.specs_url(url);
            }
            Ok(Recipe::Statsig(Box::new(options)))
        };
        // SAFETY: the caller's promises.
        unsafe { start(store, recipe, out) }
    })
}

/// The source's status.
///
/// Results: `OK`; `FORKED` (this process is a child forked after the source started: it
/// does not run here, nothing is written; see `flagcore_source_restart`); `NULL_PARAMETER`;
/// `INVALID_HANDLE`; `PANIC`.
///
/// # Safety
/// `source` valid; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_source_status(
    source: *const flagcore_source,
    out: *mut flagcore_source_state,
) -> flagcore_result {
    boundary(|| {
        // SAFETY: the caller's promise.
        let source = try_ffi!(unsafe { handle(source) });
        if source.forked() {
            return FLAGCORE_RESULT_FORKED;
        }
        let s = source
            .running
            .as_ref()
            .map(Running::status)
            .unwrap_or_default();
        let status = flagcore_source_state {
            attempts: s.attempts,
            consecutive_failures: s.consecutive_failures,
            ever_succeeded: s.last_success.is_some(),
            ms_since_success: s
                .since_last_success()
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            ruleset_time: s.ruleset_time.unwrap_or(0),
        };
        // SAFETY: the caller's promise.
        try_ffi!(unsafe { put(out, status) });
        FLAGCORE_RESULT_OK
    })
}

/// Starts the source again, with the arguments it was started with, in this process: in a
/// child forked after the source started (where `flagcore_source_status` says `FORKED`)
/// this is how the store gets updates again; the parent's copy is left alone. In the process
/// that started it, the source is stopped and started afresh. On error the source is
/// unchanged.
///
/// Results: `OK`; `NULL_PARAMETER`; `INVALID_HANDLE`; `INVALID_ARGUMENT` (the source's
/// thread could not start); `PANIC`.
///
/// # Safety
/// `source` valid, and no other thread may use it during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_source_restart(source: *mut flagcore_source) -> flagcore_result {
    boundary(|| {
        // SAFETY: the caller's promises.
        let source = try_ffi!(unsafe { handle_mut(source) });
        let running = try_ffi!(Running::start(&source.store, &source.recipe));
        let old = source.running.replace(running);
        source.retire(old);
        source.pid = std::process::id();
        FLAGCORE_RESULT_OK
    })
}

/// Stops a source (waiting for its thread to end) and frees it. NULL is a no-op, and so is a
/// pointer that is not a live source (best effort, see `FLAGCORE_RESULT_INVALID_HANDLE`). In
/// a forked child (see `flagcore_source`) the parent's thread is not waited for.
///
/// # Safety
/// `source` NULL or from a `flagcore_source_start_*` function, not used by anyone else.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_source_free(source: *mut flagcore_source) {
    let _ = boundary(|| {
        // SAFETY: the caller's promise.
        unsafe { free_handle(source) };
        FLAGCORE_RESULT_OK
    });
}

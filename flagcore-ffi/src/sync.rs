//! Starting and stopping config sources from C (feature `sync`).

use std::time::Duration;

use flagcore_sync::{BlockingRuntime, FileWatcher, StatsigOptions, StatsigPoller, Status};

use crate::flagcore_result::{self, *};
use crate::{boundary, put, put_box, reference, text};

/// A running config source (a Statsig poller or a file watcher) feeding a store, on a thread
/// of its own. Free it with `flagcore_source_free`, which stops it. May be shared across
/// threads for `flagcore_source_status`; does not survive `fork` (the child has no such
/// thread: free it there and start a new one).
pub struct flagcore_source {
    runtime: Option<BlockingRuntime>,
    source: Option<Source>,
}

enum Source {
    File(FileWatcher),
    Statsig(StatsigPoller),
}

impl flagcore_source {
    fn status(&self) -> Status {
        match &self.source {
            Some(Source::File(w)) => w.status(),
            Some(Source::Statsig(p)) => p.status(),
            None => Status::default(),
        }
    }
}

impl Drop for flagcore_source {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            match self.source.take() {
                Some(Source::File(w)) => runtime.block_on(w.shutdown()),
                Some(Source::Statsig(p)) => runtime.block_on(p.shutdown()),
                None => {}
            }
            runtime.shutdown(Duration::from_secs(5));
        }
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

fn started(
    source: impl FnOnce(&BlockingRuntime) -> Result<Source, flagcore_result>,
) -> Result<flagcore_source, flagcore_result> {
    let runtime = BlockingRuntime::new().map_err(|_| FLAGCORE_RESULT_INVALID_ARGUMENT)?;
    let source = source(&runtime)?;
    Ok(flagcore_source {
        runtime: Some(runtime),
        source: Some(source),
    })
}

/// Watches a payload file and installs it into `store` whenever it changes (checked every
/// `interval_ms`); a file that does not load is not installed.
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
        // SAFETY: the caller's promise.
        let store = try_ffi!(unsafe { reference(store) }).store.clone();
        // SAFETY: the caller's promise.
        let path = try_ffi!(unsafe { text(path, path_len) }).to_owned();
        if out.is_null() {
            return FLAGCORE_RESULT_NULL_PARAMETER;
        }
        let interval = Duration::from_millis(interval_ms.max(1));
        let source = try_ffi!(started(|rt| Ok(Source::File(
            rt.start_file_watcher(store, path, interval)
        ))));
        // SAFETY: the caller's promise.
        try_ffi!(unsafe { put_box(out, source) });
        FLAGCORE_RESULT_OK
    })
}

/// Polls Statsig's `download_config_specs` with `server_secret` every `interval_ms` and
/// installs what it gets into `store`. `specs_url` (NULL with length 0: Statsig's CDN) points
/// at a proxy.
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
        // SAFETY: the caller's promise.
        let store = try_ffi!(unsafe { reference(store) }).store.clone();
        // SAFETY: the caller's promise.
        let secret = try_ffi!(unsafe { text(server_secret, server_secret_len) });
        // SAFETY: the caller's promise.
        let url = try_ffi!(unsafe { text(specs_url, specs_url_len) });
        if out.is_null() {
            return FLAGCORE_RESULT_NULL_PARAMETER;
        }
        let mut options =
            StatsigOptions::new(secret).interval(Duration::from_millis(interval_ms.max(1000)));
        if !specs_url.is_null() {
            options = options.specs_url(url);
        }
        let source = try_ffi!(started(|rt| rt
            .start_statsig_poller(store, options)
            .map(Source::Statsig)
            .map_err(|_| FLAGCORE_RESULT_INVALID_ARGUMENT)));
        // SAFETY: the caller's promise.
        try_ffi!(unsafe { put_box(out, source) });
        FLAGCORE_RESULT_OK
    })
}

/// The source's status.
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
        let source = try_ffi!(unsafe { reference(source) });
        let s = source.status();
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

/// Stops a source (waiting for its thread to end) and frees it. NULL is a no-op.
///
/// # Safety
/// `source` NULL or from a `flagcore_source_start_*` function, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_source_free(source: *mut flagcore_source) {
    let _ = boundary(|| {
        if !source.is_null() {
            // SAFETY: created by `Box::into_raw` in `put_box`, freed once.
            drop(unsafe { Box::from_raw(source) });
        }
        FLAGCORE_RESULT_OK
    });
}

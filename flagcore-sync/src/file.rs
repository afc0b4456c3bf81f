//! Loading a payload from a file and reloading it when it changes.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use flagcore::{Limits, Store};

use crate::status::{Installed, StatusCell};
use crate::task::{Stopped, Task};
use crate::{Status, SyncError};

/// How a [`FileWatcher`] watches its file.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FileOptions {
    /// The payload file.
    pub path: PathBuf,
    /// Time between checks of the file's metadata (1 s).
    pub interval: Duration,
    /// Limits on the payload; a larger file is not read.
    pub limits: Limits,
}

impl FileOptions {
    /// Defaults for `path`.
    pub fn new(path: impl Into<PathBuf>) -> FileOptions {
        FileOptions {
            path: path.into(),
            interval: Duration::from_secs(1),
            limits: Limits::default(),
        }
    }

    /// Sets the interval.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets the payload limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// Watches a payload file: loads it at start and whenever it changes.
///
/// Every `interval` the watcher compares the file's metadata (size, modification and
/// change times, inode) with the version it read last; when they differ it reads the file
/// and, if the content differs too (a hash), loads it. A version whose timestamps are too
/// recent to be trusted (a second write in the same clock tick would not change them) is
/// read again at the next check. A read during which the metadata changed is discarded.
///
/// A file that does not load (half written, malformed, larger than the limits, empty while
/// the current ruleset is not) is not installed: the last good ruleset keeps serving, the
/// error is recorded in the [`Status`], and the file is tried again when it changes.
///
/// Every check is an attempt in the [`Status`] (and wakes its `watch()` receivers). A
/// check that finds the version that loaded unchanged is a success, so `last_success`
/// says the file is being watched and still good; one that finds a version that failed
/// unchanged leaves that failure standing, without counting it again. A file
/// that disappears keeps the last ruleset too. A spec the loader drops (Statsig's semantics
/// drop a malformed spec silently) is named in [`Status::dropped_specs`]. Write files atomically (write a temporary
/// file, then rename it) to spare the watcher the half-written versions.
///
/// ```no_run
/// # async fn run() {
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let store = Arc::new(flagcore::Store::new());
/// let watcher = flagcore_sync::FileWatcher::start(store.clone(), "flags.json", Duration::from_secs(1));
/// let first = watcher.wait_for_first_sync(Duration::from_secs(1)).await;
/// assert!(first.last_install.is_some(), "flags.json: {:?}", first.last_error);
/// // … edit flags.json: the store follows within a second.
/// watcher.shutdown().await;
/// # }
/// ```
#[derive(Debug)]
pub struct FileWatcher {
    task: Task,
}

impl FileWatcher {
    /// Starts watching `path` every `interval` on the current tokio runtime; the first load
    /// starts at once.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does); see [`crate::BlockingRuntime`].
    pub fn start(store: Arc<Store>, path: impl Into<PathBuf>, interval: Duration) -> FileWatcher {
        FileWatcher::with_options(store, FileOptions::new(path).interval(interval))
    }

    /// Starts watching with `options` (see [`FileWatcher::start`]).
    pub fn with_options(store: Arc<Store>, options: FileOptions) -> FileWatcher {
        let task = Task::spawn(|status, stopped| run(store, options, status, stopped));
        FileWatcher { task }
    }

    /// The source's status.
    pub fn status(&self) -> Status {
        self.task.status()
    }

    /// Follows the status: the receiver is notified after every attempt.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<Status> {
        self.task.watch()
    }

    /// Waits until the first load attempt has ended or `timeout` passed.
    pub async fn wait_for_first_sync(&self, timeout: Duration) -> Status {
        self.task.first_attempt(timeout).await
    }

    /// Stops watching and waits for the task to end.
    pub async fn shutdown(self) {
        self.task.shutdown().await;
    }
}

/// What identifies a version of the file without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Version {
    len: u64,
    modified: Option<SystemTime>,
    /// Change time and inode, where the platform has them.
    changed: Option<(i64, i64, u64)>,
}

impl Version {
    fn of(m: &std::fs::Metadata) -> Version {
        #[cfg(unix)]
        let changed = {
            use std::os::unix::fs::MetadataExt;
            Some((m.ctime(), m.ctime_nsec(), m.ino()))
        };
        #[cfg(not(unix))]
        let changed = None;
        Version {
            len: m.len(),
            modified: m.modified().ok(),
            changed,
        }
    }

    /// Whether a later write could leave the metadata as it is: its timestamps are within
    /// the coarsest file-system clock tick (2 s, FAT) of `read_at`.
    fn is_racy(&self, read_at: SystemTime) -> bool {
        const TICK: Duration = Duration::from_secs(2);
        let recent = |t: SystemTime| read_at.duration_since(t).map_or(true, |d| d < TICK);
        let ctime_recent = self.changed.is_some_and(|(s, ns, _)| {
            let t = u64::try_from(s)
                .ok()
                .map(|s| SystemTime::UNIX_EPOCH + Duration::new(s, u32::try_from(ns).unwrap_or(0)));
            t.is_none_or(recent)
        });
        self.modified.is_none_or(recent) || ctime_recent
    }
}

/// The version last read, its content hash, whether its metadata can be trusted, and
/// whether it loaded.
struct Seen {
    version: Version,
    hash: u64,
    racy: bool,
    loaded: bool,
}

async fn run(
    store: Arc<Store>,
    options: FileOptions,
    status: Arc<StatusCell>,
    mut stopped: Stopped,
) {
    let hasher = RandomState::new();
    let mut seen: Option<Seen> = None;
    let mut first = true;
    loop {
        if !first && !stopped.sleep(options.interval).await {
            return;
        }
        first = false;
        let Some(result) = stopped
            .or(check(&store, &options, &hasher, &mut seen))
            .await
        else {
            return;
        };
        match result {
            Ok(None) => status.unchanged(seen.as_ref().is_some_and(|s| s.loaded)),
            Ok(Some(installed)) => status.success(Some(installed)),
            Err(e) => status.failure(&e),
        }
    }
}

/// One check: `Ok(None)` when nothing changed, what was installed otherwise.
async fn check(
    store: &Store,
    options: &FileOptions,
    hasher: &RandomState,
    seen: &mut Option<Seen>,
) -> Result<Option<Installed>, SyncError> {
    let path = &options.path;
    let before = tokio::fs::metadata(path).await.map_err(SyncError::Io)?;
    let version = Version::of(&before);
    if seen
        .as_ref()
        .is_some_and(|s| s.version == version && !s.racy)
    {
        return Ok(None);
    }
    let limit = options.limits.max_payload_bytes;
    if before.len() > limit as u64 {
        // Not read; tried again when it changes.
        let hash = 0;
        *seen = Some(Seen {
            version,
            hash,
            racy: false,
            loaded: false,
        });
        return Err(SyncError::TooLarge { limit });
    }
    let read_at = SystemTime::now();
    let bytes = tokio::fs::read(path).await.map_err(SyncError::Io)?;
    let after = tokio::fs::metadata(path).await.map_err(SyncError::Io)?;
    if Version::of(&after) != version {
        // Written while we read: take the next version at the next check.
        return Ok(None);
    }
    let hash = hasher.hash_one(&bytes);
    let racy = version.is_racy(read_at);
    let unchanged = seen.as_ref().filter(|s| s.hash == hash).map(|s| s.loaded);
    let seen = seen.insert(Seen {
        version,
        hash,
        racy,
        loaded: unchanged.unwrap_or(false),
    });
    if unchanged.is_some() {
        return Ok(None);
    }
    let installed = crate::parse(&bytes, &options.limits).and_then(|rs| crate::install(store, rs));
    seen.loaded = installed.is_ok();
    installed.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_timestamps_are_racy() {
        let now = SystemTime::now();
        let v = |modified: SystemTime| Version {
            len: 1,
            modified: Some(modified),
            changed: None,
        };
        assert!(v(now).is_racy(now));
        assert!(v(now - Duration::from_millis(1500)).is_racy(now));
        assert!(!v(now - Duration::from_secs(3)).is_racy(now));
        // A timestamp in the future (clock skew) cannot be trusted either.
        assert!(v(now + Duration::from_secs(60)).is_racy(now));
    }
}

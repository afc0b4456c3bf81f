//! Loading a payload from a file and reloading it when it changes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use flagcore::{Ruleset, Store};
use tokio::sync::watch;

use crate::status::Shared;
use crate::task::Task;
use crate::{Status, SyncError};

/// Watches a payload file: loads it at start and whenever its size or modification time
/// changes. A file that does not load (half written, malformed, empty while the current
/// ruleset is not) is not installed; it is retried when it changes again.
///
/// ```no_run
/// # async fn run() {
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let store = Arc::new(flagcore::Store::new());
/// let watcher = flagcore_sync::FileWatcher::start(store.clone(), "flags.json", Duration::from_secs(1));
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
    /// Outside a tokio runtime (as `tokio::spawn` does).
    pub fn start(store: Arc<Store>, path: impl Into<PathBuf>, interval: Duration) -> FileWatcher {
        let path = path.into();
        let task = Task::spawn(|status, stopped| run(store, path, interval, status, stopped));
        FileWatcher { task }
    }

    /// The source's status.
    pub fn status(&self) -> Status {
        self.task.status()
    }

    /// Stops watching and waits for the task to end.
    pub async fn shutdown(self) {
        self.task.shutdown().await;
    }
}

async fn run(
    store: Arc<Store>,
    path: PathBuf,
    interval: Duration,
    status: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    // (length, modification time) of the file version last tried.
    let mut seen: Option<(u64, Option<SystemTime>)> = None;
    let mut first = true;
    loop {
        if !first {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stopped.changed() => return,
            }
        }
        first = false;
        let version = match tokio::fs::metadata(&path).await {
            Ok(m) => (m.len(), m.modified().ok()),
            Err(e) => {
                status.failure(&SyncError::Io(e));
                continue;
            }
        };
        if seen == Some(version) {
            continue;
        }
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) => {
                status.failure(&SyncError::Io(e));
                continue;
            }
        };
        seen = Some(version);
        match Ruleset::from_json(&bytes)
            .map_err(SyncError::Load)
            .and_then(|rs| crate::install(&store, rs))
        {
            Ok(time) => status.success(Some(time)),
            Err(e) => status.failure(&e),
        }
    }
}

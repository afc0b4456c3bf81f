//! A background task with a status and a stop signal, shared by the sources.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::status::Shared;
use crate::Status;

/// Owns a spawned source loop: dropping it stops the loop.
#[derive(Debug)]
pub(crate) struct Task {
    status: Arc<Shared>,
    stop: watch::Sender<bool>,
    handle: Option<JoinHandle<()>>,
}

impl Task {
    /// Spawns `body(status, stopped)` on the current tokio runtime.
    pub(crate) fn spawn<F>(body: impl FnOnce(Arc<Shared>, watch::Receiver<bool>) -> F) -> Task
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let status = Arc::new(Shared::default());
        let (stop, stopped) = watch::channel(false);
        let handle = tokio::spawn(body(status.clone(), stopped));
        Task {
            status,
            stop,
            handle: Some(handle),
        }
    }

    pub(crate) fn status(&self) -> Status {
        self.status.get()
    }

    /// Signals the loop to stop and waits until it has.
    pub(crate) async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(handle) = self.handle.take() {
            let _ = handle.await;
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

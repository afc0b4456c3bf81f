//! A background task with a status and a stop signal, shared by the sources.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::status::StatusCell;
use crate::Status;

/// Owns a spawned source loop: dropping it stops the loop.
#[derive(Debug)]
pub(crate) struct Task {
    status: Arc<StatusCell>,
    stop: watch::Sender<bool>,
    handle: Option<JoinHandle<()>>,
}

/// The loop's side of the stop signal.
#[derive(Debug)]
pub(crate) struct Stopped(watch::Receiver<bool>);

impl Stopped {
    /// Resolves when the loop should stop (the handle asked, or was dropped).
    pub(crate) async fn wait(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// Runs `f` unless asked to stop first (`None`). An abandoned request is dropped, which
    /// closes its connection.
    pub(crate) async fn or<T>(&mut self, f: impl Future<Output = T>) -> Option<T> {
        tokio::select! {
            r = f => Some(r),
            _ = self.wait() => None,
        }
    }

    /// Sleeps `d`; `false` when asked to stop meanwhile.
    pub(crate) async fn sleep(&mut self, d: Duration) -> bool {
        self.or(tokio::time::sleep(d)).await.is_some()
    }
}

impl Task {
    /// Spawns `body(status, stopped)` on the current tokio runtime.
    ///
    /// Panics outside a tokio runtime (as `tokio::spawn` does).
    pub(crate) fn spawn<F>(body: impl FnOnce(Arc<StatusCell>, Stopped) -> F) -> Task
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let status = Arc::new(StatusCell::default());
        let (stop, stopped) = watch::channel(false);
        let handle = tokio::spawn(body(status.clone(), Stopped(stopped)));
        Task {
            status,
            stop,
            handle: Some(handle),
        }
    }

    pub(crate) fn status(&self) -> Status {
        self.status.get()
    }

    pub(crate) fn watch(&self) -> watch::Receiver<Status> {
        self.status.watch()
    }

    /// Waits until the first attempt has ended or `timeout` passed.
    pub(crate) async fn first_attempt(&self, timeout: Duration) -> Status {
        let mut status = self.status.watch();
        let _ = tokio::time::timeout(timeout, status.wait_for(|s| s.attempts > 0)).await;
        self.status()
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

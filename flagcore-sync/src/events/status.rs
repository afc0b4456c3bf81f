//! What the event logger has been doing, in the style of the sources' [`crate::Status`].

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::watch;

use crate::exposures::{EventLogger, LoggerStats};

/// The state of an [`EventLogger`]: what happened to its events (sent, and dropped by
/// reason, in [`LoggerStatus::stats`]), what waits, and how delivery has been going.
///
/// Read it with [`EventLogger::status`], or follow it with [`EventLogger::watch`] (a
/// [`tokio::sync::watch::Receiver`] notified after every delivery attempt and whenever
/// batches are dropped).
///
/// ```
/// # fn check(status: flagcore_sync::LoggerStatus) {
/// // Alert when events are being lost, and say why.
/// let s = status.stats;
/// if status.dropped() > 0 {
///     eprintln!("events dropped: queue full {}, backlog full {}, failed {}, key refused {} \
///         (last error: {:?})", s.dropped_queue_full, s.dropped_overflow, s.dropped_failed,
///         s.dropped_unauthorized, status.last_error);
/// }
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoggerStatus {
    /// The counters: received, sent, deduplicated, and dropped by reason.
    pub stats: LoggerStats,
    /// Events in the queue between the evaluating threads and the flusher.
    pub queued: usize,
    /// Sealed batches waiting to be sent (retries included): the retry backlog.
    pub retry_backlog: usize,
    /// Events in those batches.
    pub retry_backlog_events: u64,
    /// When a batch was last delivered.
    pub last_success: Option<SystemTime>,
    /// The last delivery error, with its causes, and when it happened. Kept after a
    /// later success.
    pub last_error: Option<(SystemTime, String)>,
    /// Failed delivery attempts since the last success.
    pub consecutive_failures: u32,
}

impl LoggerStatus {
    /// Events dropped for any reason (duplicates are not counted: they are not lost).
    pub fn dropped(&self) -> u64 {
        let s = &self.stats;
        s.dropped_queue_full
            + s.dropped_overflow
            + s.dropped_failed
            + s.dropped_shut_down
            + s.dropped_unauthorized
    }
}

/// The status shared by the flusher (its only writer) and the logger's handle.
#[derive(Debug)]
pub(crate) struct StatusBoard {
    status: watch::Sender<LoggerStatus>,
    /// The error of the delivery attempt under way, noted by `send`.
    error: Mutex<Option<String>>,
}

impl Default for StatusBoard {
    fn default() -> Self {
        StatusBoard {
            status: watch::Sender::new(LoggerStatus::default()),
            error: Mutex::new(None),
        }
    }
}

impl StatusBoard {
    /// Notes why the attempt under way failed.
    pub(crate) fn note_error(&self, error: &(dyn std::error::Error + 'static)) {
        self.note(crate::error_chain(error));
    }

    pub(crate) fn note(&self, message: String) {
        if let Ok(mut slot) = self.error.lock() {
            *slot = Some(message);
        }
    }

    /// Publishes the flusher's view: counters, backlog, and the outcome of an attempt
    /// (`Some(true)` delivered, `Some(false)` failed) if one just ended.
    pub(crate) fn publish(
        &self,
        stats: LoggerStats,
        queued: usize,
        backlog: (usize, u64),
        attempt: Option<bool>,
    ) {
        let error = match attempt {
            Some(false) => self.error.lock().ok().and_then(|mut e| e.take()),
            _ => None,
        };
        self.status.send_modify(|s| {
            let now = SystemTime::now();
            s.stats = stats;
            s.queued = queued;
            (s.retry_backlog, s.retry_backlog_events) = backlog;
            match attempt {
                Some(true) => {
                    s.last_success = Some(now);
                    s.consecutive_failures = 0;
                }
                Some(false) => {
                    s.consecutive_failures = s.consecutive_failures.saturating_add(1);
                    let message = error.unwrap_or_else(|| "delivery failed".into());
                    s.last_error = Some((now, message));
                }
                None => {}
            }
        });
    }

    fn get(&self) -> LoggerStatus {
        self.status.borrow().clone()
    }

    fn subscribe(&self) -> watch::Receiver<LoggerStatus> {
        self.status.subscribe()
    }
}

impl EventLogger {
    /// The logger's status now: the counters and queue as of this call, the backlog and
    /// delivery outcomes as of the flusher's last step.
    pub fn status(&self) -> LoggerStatus {
        let mut status = self.board().get();
        status.stats = self.stats();
        status.queued = self.queue_len();
        status
    }

    /// Follows the status: the receiver is notified after every delivery attempt and
    /// whenever events are dropped by the flusher.
    pub fn watch(&self) -> watch::Receiver<LoggerStatus> {
        self.board().subscribe()
    }
}

/// Shared between the flusher and the handle.
pub(crate) type Board = Arc<StatusBoard>;

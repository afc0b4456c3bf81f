//! What a source has been doing, for dashboards and health checks.

use std::sync::Mutex;
use std::time::SystemTime;

/// The state of a source, as of the last attempt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// Attempts made (successful or not).
    pub attempts: u64,
    /// When the last attempt succeeded (a new ruleset or a "no updates" answer).
    pub last_success: Option<SystemTime>,
    /// When the last ruleset was installed.
    pub last_install: Option<SystemTime>,
    /// The last error, with its causes, and when it happened.
    pub last_error: Option<(SystemTime, String)>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// The `time` of the ruleset this source installed last.
    pub ruleset_time: Option<u64>,
}

impl Status {
    /// How long ago the last success was (`None` before the first one).
    pub fn since_last_success(&self) -> Option<std::time::Duration> {
        self.last_success.and_then(|t| t.elapsed().ok())
    }
}

/// A `Status` shared between a source's task and its handle. Only the source writes, rarely;
/// evaluation never touches it.
#[derive(Debug, Default)]
pub(crate) struct Shared(Mutex<Status>);

impl Shared {
    pub(crate) fn get(&self) -> Status {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn update(&self, f: impl FnOnce(&mut Status)) {
        if let Ok(mut s) = self.0.lock() {
            s.attempts += 1;
            f(&mut s);
        }
    }

    pub(crate) fn success(&self, installed: Option<u64>) {
        self.update(|s| {
            let now = SystemTime::now();
            s.last_success = Some(now);
            s.consecutive_failures = 0;
            if let Some(time) = installed {
                s.last_install = Some(now);
                s.ruleset_time = Some(time);
            }
        });
    }

    pub(crate) fn failure(&self, error: &crate::SyncError) {
        let mut message = error.to_string();
        let mut cause = std::error::Error::source(error);
        while let Some(c) = cause {
            message.push_str(": ");
            message.push_str(&c.to_string());
            cause = c.source();
        }
        self.update(|s| {
            s.consecutive_failures = s.consecutive_failures.saturating_add(1);
            s.last_error = Some((SystemTime::now(), message));
        });
    }
}

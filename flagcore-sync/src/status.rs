//! What a source has been doing, for dashboards and health checks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// The state of a source, as of its last attempt.
///
/// Read it with the source's `status()`, or follow it with its `watch()` (a
/// [`tokio::sync::watch::Receiver`] that is notified after every attempt).
///
/// ```
/// use std::time::Duration;
/// # fn check(status: flagcore_sync::Status) {
/// // A health check: the last success is recent, or the ruleset is young enough.
/// let healthy = status.since_last_success().is_some_and(|d| d < Duration::from_secs(60))
///     || status.ruleset_age().is_some_and(|d| d < Duration::from_secs(3600));
/// # }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// Attempts made (successful or not).
    pub attempts: u64,
    /// When the last attempt ended.
    pub last_attempt: Option<SystemTime>,
    /// When the last attempt succeeded (a new ruleset, or an answer that nothing changed).
    pub last_success: Option<SystemTime>,
    /// When this source last installed a ruleset (or, for ID lists, changed a list).
    pub last_install: Option<SystemTime>,
    /// The last error, with its causes, and when it happened. Kept after a later success.
    pub last_error: Option<(SystemTime, String)>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// The `time` (ms since the Unix epoch) of the ruleset this source installed last.
    pub ruleset_time: Option<u64>,
    /// The specs that the ruleset this source installed last dropped, with why
    /// ([`flagcore::Ruleset::dropped_specs`]). Statsig's semantics drop a malformed spec (a
    /// `"passPercentage": "50%"`, a missing field…) without failing the payload, and its
    /// name then evaluates as unrecognized: a gate is `false`, a config gives its default.
    /// flagcore keeps that behaviour; this list makes it visible. Empty when nothing was
    /// dropped: alert when it is not.
    pub dropped_specs: Vec<flagcore::DroppedSpec>,
}

impl Status {
    /// How long ago the last success was (`None` before the first one).
    pub fn since_last_success(&self) -> Option<Duration> {
        self.last_success.and_then(|t| t.elapsed().ok())
    }

    /// How old the configuration this source installed last is: now minus its `time`, the
    /// moment it was last changed at the source (`None` before the first install).
    pub fn ruleset_age(&self) -> Option<Duration> {
        let changed = UNIX_EPOCH.checked_add(Duration::from_millis(self.ruleset_time?));
        // A time in the future (clock skew, or absurd) is no age at all.
        Some(changed.map_or(Duration::ZERO, |t| t.elapsed().unwrap_or_default()))
    }
}

/// What a successful attempt installed.
#[derive(Debug)]
pub(crate) enum Installed {
    /// A ruleset: its time, and the specs it dropped.
    Ruleset {
        time: u64,
        dropped: Vec<flagcore::DroppedSpec>,
    },
    /// ID lists changed.
    IdLists,
}

/// A `Status` shared between a source's task (the only writer, once per attempt) and its
/// handle. Evaluation never touches it.
#[derive(Debug)]
pub(crate) struct StatusCell(watch::Sender<Status>);

impl Default for StatusCell {
    fn default() -> Self {
        StatusCell(watch::Sender::new(Status::default()))
    }
}

impl StatusCell {
    pub(crate) fn get(&self) -> Status {
        self.0.borrow().clone()
    }

    pub(crate) fn watch(&self) -> watch::Receiver<Status> {
        self.0.subscribe()
    }

    fn attempt(&self, f: impl FnOnce(&mut Status, SystemTime)) {
        self.0.send_modify(|s| {
            let now = SystemTime::now();
            s.attempts += 1;
            s.last_attempt = Some(now);
            f(s, now);
        });
    }

    /// A successful attempt; `installed` is what it installed, if anything
    /// ([`Installed::IdLists`]: something other than a ruleset, ID lists).
    pub(crate) fn success(&self, installed: Option<Installed>) {
        self.attempt(|s, now| {
            s.last_success = Some(now);
            s.consecutive_failures = 0;
            if let Some(installed) = installed {
                s.last_install = Some(now);
                if let Installed::Ruleset { time, dropped } = installed {
                    s.ruleset_time = Some(time);
                    s.dropped_specs = dropped;
                }
            }
        });
    }

    /// An attempt that found nothing new: a success when what the source holds is its
    /// last good version (`good`); otherwise the failure it had stands (and is not counted
    /// again).
    pub(crate) fn unchanged(&self, good: bool) {
        if good {
            self.success(None);
        } else {
            self.attempt(|_, _| {});
        }
    }

    pub(crate) fn failure(&self, error: &crate::SyncError) {
        let message = crate::error_chain(error);
        self.attempt(|s, now| {
            s.consecutive_failures = s.consecutive_failures.saturating_add(1);
            s.last_error = Some((now, message));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_is_measured_from_the_ruleset_time() {
        let mut status = Status::default();
        assert_eq!(status.ruleset_age(), None);
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        status.ruleset_time = Some(hour_ago.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64);
        let age = status.ruleset_age().unwrap();
        assert!(age >= Duration::from_secs(3600) && age < Duration::from_secs(3700));
        // A ruleset stamped in the future (clock skew) is not negative.
        status.ruleset_time = Some(u64::MAX / 2);
        assert_eq!(status.ruleset_age(), Some(Duration::ZERO));
    }

    #[test]
    fn failures_count_until_a_success() {
        let cell = StatusCell::default();
        let e = crate::SyncError::Status {
            status: 503,
            retry_after: None,
        };
        cell.failure(&e);
        cell.failure(&e);
        assert_eq!(cell.get().consecutive_failures, 2);
        cell.success(None);
        let s = cell.get();
        assert_eq!((s.attempts, s.consecutive_failures), (3, 0));
        assert!(s.last_error.is_some() && s.last_install.is_none());
        let dropped = flagcore::DroppedSpec {
            section: "feature_gates",
            name: "g".into(),
            entity: Some("feature_gate".into()),
            reason: "bad".into(),
        };
        cell.success(Some(Installed::Ruleset {
            time: 7,
            dropped: vec![dropped.clone()],
        }));
        assert_eq!(cell.get().ruleset_time, Some(7));
        assert_eq!(cell.get().dropped_specs, [dropped]);
        // ID lists leave the ruleset's fields alone.
        cell.success(Some(Installed::IdLists));
        assert_eq!(cell.get().ruleset_time, Some(7));
        assert_eq!(cell.get().dropped_specs.len(), 1);
        // Nothing new: a success when the source holds a good version, else the failure
        // stands, counted once.
        cell.failure(&e);
        cell.unchanged(false);
        let s = cell.get();
        assert_eq!((s.attempts, s.consecutive_failures), (7, 1));
        cell.unchanged(true);
        let s = cell.get();
        assert_eq!((s.attempts, s.consecutive_failures), (8, 0));
    }
}

//! The Prometheus metrics.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flagcore_sync::{LoggerStats, Status};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

type Labels = [(&'static str, &'static str); 2];

pub(crate) struct Metrics {
    registry: Registry,
    evaluations: Family<Labels, Counter>,
    ruleset_age: Gauge<f64, AtomicU64>,
    sync_errors: Counter,
    consecutive_failures: Gauge,
    dropped: Family<[(&'static str, &'static str); 1], Counter>,
    sent: Counter,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::default();
        let evaluations = Family::<Labels, Counter>::default();
        registry.register(
            "flagcore_evaluations",
            "Flag evaluations answered, by entity kind and outcome (an OpenFeature reason or error code)",
            evaluations.clone(),
        );
        let ruleset_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "flagcore_ruleset_age_seconds",
            "Age of the installed ruleset: now minus its time at the source (-1 before the first)",
            ruleset_age.clone(),
        );
        let sync_errors = Counter::default();
        registry.register(
            "flagcore_sync_errors",
            "Failed attempts of the ruleset source",
            sync_errors.clone(),
        );
        let consecutive_failures = Gauge::default();
        registry.register(
            "flagcore_sync_consecutive_failures",
            "Failed attempts of the ruleset source since its last success",
            consecutive_failures.clone(),
        );
        let dropped = Family::default();
        registry.register(
            "flagcore_exposures_dropped",
            "Exposure events dropped by the logger, by reason",
            dropped.clone(),
        );
        let sent = Counter::default();
        registry.register(
            "flagcore_exposures_sent",
            "Exposure events delivered",
            sent.clone(),
        );
        Metrics {
            registry,
            evaluations,
            ruleset_age,
            sync_errors,
            consecutive_failures,
            dropped,
            sent,
        }
    }

    /// Counts one evaluation.
    pub(crate) fn evaluated(&self, kind: &'static str, outcome: &'static str) {
        self.evaluations
            .get_or_create(&[("kind", kind), ("outcome", outcome)])
            .inc();
    }

    /// Counts the source's failed attempts, following its status.
    pub(crate) async fn count_sync_errors(&self, mut rx: watch::Receiver<Status>) {
        let mut seen = rx.borrow_and_update().last_error.as_ref().map(|e| e.0);
        if seen.is_some() {
            self.sync_errors.inc();
        }
        while rx.changed().await.is_ok() {
            let status = rx.borrow_and_update();
            let last = status.last_error.as_ref().map(|e| e.0);
            if last.is_some() && last != seen {
                self.sync_errors.inc();
            }
            seen = last;
            self.consecutive_failures
                .set(i64::from(status.consecutive_failures));
        }
    }

    /// The text exposition, with the gauges read now.
    pub(crate) fn render(&self, ruleset_time: Option<u64>, stats: Option<LoggerStats>) -> String {
        let age = ruleset_time.map_or(-1.0, |t| {
            let at = UNIX_EPOCH + Duration::from_millis(t);
            SystemTime::now()
                .duration_since(at)
                .unwrap_or_default()
                .as_secs_f64()
        });
        self.ruleset_age.set(age);
        if let Some(s) = stats {
            for (reason, n) in [
                ("queue_full", s.dropped_queue_full),
                ("overflow", s.dropped_overflow),
                ("failed", s.dropped_failed),
                ("shut_down", s.dropped_shut_down),
                ("unauthorized", s.dropped_unauthorized),
            ] {
                advance(&self.dropped.get_or_create(&[("reason", reason)]), n);
            }
            advance(&self.sent, s.sent);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Brings a counter mirrored from the logger's own (monotonic) count up to `to`.
fn advance(c: &Counter, to: u64) {
    let now = c.get();
    if to > now {
        c.inc_by(to - now);
    }
}

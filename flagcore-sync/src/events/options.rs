//! Builder setters of [`LoggerOptions`], in the style of the sources' options, and
//! [`Destination::base_url`].

use std::time::Duration;

use crate::exposures::{Destination, LoggerOptions};

impl Destination {
    /// Statsig's event endpoint under another base URL (a proxy, a relay, a test server):
    /// batches go to `{base}/log_event`, as the official SDK's `api` option makes them
    /// (`https://events.example.com/v1` ⇒ `https://events.example.com/v1/log_event`).
    ///
    /// ```
    /// use flagcore_sync::Destination;
    /// let d = Destination::base_url("http://127.0.0.1:8080/v1/", "secret-…");
    /// assert!(format!("{d:?}").contains("\"http://127.0.0.1:8080/v1/log_event\""));
    /// ```
    pub fn base_url(base: &str, server_secret: impl Into<String>) -> Destination {
        Destination::Statsig {
            url: format!("{}/log_event", base.trim_end_matches('/')),
            server_secret: server_secret.into(),
        }
    }
}

impl LoggerOptions {
    /// Sets where batches go.
    pub fn destination(mut self, destination: Destination) -> Self {
        self.destination = destination;
        self
    }

    /// Sets the capacity of the queue between the evaluating threads and the flusher.
    pub fn queue_capacity(mut self, events: usize) -> Self {
        self.queue_capacity = events;
        self
    }

    /// Sets the number of events per batch.
    pub fn batch_size(mut self, events: usize) -> Self {
        self.batch_size = events;
        self
    }

    /// Sets how long a partial batch waits before it is sent.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// Sets the number of distinct exposures remembered for deduplication.
    pub fn dedupe_max_keys(mut self, keys: usize) -> Self {
        self.dedupe_max_keys = keys;
        self
    }

    /// Sets how often the dedupe set is cleared (unless the payload sets
    /// `exposure_dedupe_ttl_ms`).
    pub fn dedupe_window(mut self, window: Duration) -> Self {
        self.dedupe_window = window;
        self
    }

    /// Sets the number of batches that may wait while the destination is slow or down.
    pub fn max_pending_batches(mut self, batches: usize) -> Self {
        self.max_pending_batches = batches;
        self
    }

    /// Sets the attempts per batch before it is dropped.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets the timeout of one request.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets whether batches sent to Statsig are gzipped.
    pub fn compress(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    /// Sets the CA certificates and proxy of the requests.
    pub fn network(mut self, network: crate::Network) -> Self {
        self.network = network;
        self
    }

    /// Sets the environment tier reported for users without environment attributes.
    pub fn environment(mut self, tier: impl Into<String>) -> Self {
        self.environment = Some(tier.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_set_and_the_base_url_takes_the_endpoint() {
        let o = LoggerOptions::new(Destination::JsonLines("x".into()))
            .destination(Destination::base_url("http://h:1/v1//", "k"))
            .queue_capacity(7)
            .batch_size(3)
            .flush_interval(Duration::from_secs(2))
            .dedupe_max_keys(9)
            .dedupe_window(Duration::from_secs(4))
            .max_pending_batches(5)
            .max_attempts(2)
            .timeout(Duration::from_secs(1))
            .compress(false)
            .environment("staging");
        match &o.destination {
            Destination::Statsig { url, server_secret } => {
                assert_eq!(
                    (url.as_str(), server_secret.as_str()),
                    ("http://h:1/v1/log_event", "k")
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            (
                o.queue_capacity,
                o.batch_size,
                o.dedupe_max_keys,
                o.max_pending_batches,
                o.max_attempts
            ),
            (7, 3, 9, 5, 2)
        );
        assert_eq!(
            (o.flush_interval, o.dedupe_window, o.timeout),
            (
                Duration::from_secs(2),
                Duration::from_secs(4),
                Duration::from_secs(1)
            )
        );
        assert!(!o.compress);
        assert_eq!(o.environment.as_deref(), Some("staging"));
    }
}

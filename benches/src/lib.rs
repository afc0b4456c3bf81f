//! Benchmarks of flagcore live in `benches/`; run them with `cargo bench -p flagcore-benches`.
//!
//! This library holds what several benchmarks share: the [`service`] workload (small
//! payloads and many distinct users, built outside the timed loops).

pub mod service;

use std::time::Duration;

use criterion::Criterion;

/// Criterion settings for the benches: 1 s warm-up, 3 s of 50 samples.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

//! Benchmarks of flagcore live in `benches/`; run them with `cargo bench -p flagcore-benches`.
//!
//! This library holds what several benchmarks share: the [`service`] workload (small
//! payloads and many distinct users, built outside the timed loops), the [`client_init`]
//! payloads and the benchmark [`user`].

pub mod client_init;
pub mod service;

use std::time::Duration;

use criterion::Criterion;
use flagcore::{Attributes, User, Value};

const CUSTOM: &[(&str, Value<'static>)] =
    &[("level", Value::Int(7)), ("plan", Value::Str("enterprise"))];

/// The benchmark user: a browser on a Mac in the US, with two custom fields.
pub fn user(id: &str) -> User<'_> {
    User::with_user_id(id)
        .email("jkw@statsig.com")
        .country("US")
        .app_version("1.2.3")
        .user_agent(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 \
             (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        )
        .custom(Attributes::Pairs(CUSTOM))
}

/// Criterion settings for the benches: 1 s warm-up, 3 s of 50 samples.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

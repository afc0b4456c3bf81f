//! Soak: evaluations over many distinct users with an exposure sink attached; resident
//! memory after warm-up must stay flat (the core keeps nothing per user).
//!
//! CI runs 100,000 users; `FLAGCORE_SOAK_USERS=10000000 cargo test --release -p flagcore
//! --test soak -- --nocapture` runs the full soak of the hardening issue.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flagcore::{Exposure, ExposureSink, Options, Store, User};

#[derive(Default)]
struct CountingSink(AtomicU64);

impl ExposureSink for CountingSink {
    fn log(&self, exposure: &Exposure<'_>) {
        let n = exposure.evaluation.secondary_exposures().len() as u64;
        self.0.fetch_add(1 + n, Ordering::Relaxed);
    }
}

/// Resident set size in bytes (Linux), if known.
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[test]
fn memory_stays_flat_over_many_distinct_users() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/fixtures/eval_proj/dcs.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let users: u64 = std::env::var("FLAGCORE_SOAK_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let sink = Arc::new(CountingSink::default());
    let store = Store::with_options(Options {
        exposure_sink: Some(sink.clone()),
        ..Options::default()
    });
    store.load_json(&bytes).expect("eval_proj loads");
    let mut id = String::with_capacity(32);
    let mut email = String::with_capacity(48);
    let mut run = |from: u64, to: u64| {
        let snapshot = store.snapshot();
        for u in from..to {
            use std::fmt::Write;
            id.clear();
            email.clear();
            let _ = write!(id, "user-{u}");
            let _ = write!(email, "person{u}@example.com");
            let user = User::with_user_id(&id).email(email.as_str());
            std::hint::black_box(snapshot.check_gate(&user, "test_50_50"));
            std::hint::black_box(snapshot.check_gate(&user, "test_many_rules"));
            std::hint::black_box(snapshot.experiment(&user, "test_exp_random_id").value());
            std::hint::black_box(snapshot.layer(&user, "test_layer_with_holdout").value());
            std::hint::black_box(
                snapshot
                    .dynamic_config(&user, "operating_system_config")
                    .value(),
            );
        }
    };
    let warm = (users / 10).max(1000);
    run(0, warm);
    let before = rss();
    run(warm, users);
    let after = rss();
    let logged = sink.0.load(Ordering::Relaxed);
    println!(
        "{users} distinct users, {} evaluations, {logged} exposure records; RSS after warm-up {:?} MiB, at the end {:?} MiB",
        users * 5,
        before.map(|b| b >> 20),
        after.map(|a| a >> 20)
    );
    assert!(logged >= users * 5, "the sink missed exposures");
    if let (Some(before), Some(after)) = (before, after) {
        let growth = after.saturating_sub(before);
        assert!(
            growth <= 32 << 20,
            "resident memory grew by {} MiB",
            growth >> 20
        );
    }
}

//! What a service pays per check: a snapshot (or `Store::check_gate`) per call, for
//! 100,000 distinct users built outside the timed loop and cycled through, beside the
//! SHA-256 floor in the same shape. The synthetic payload and users are
//! `flagcore_benches::service`; `test_50_50` is the real gate of
//! `conformance/fixtures/eval_proj` (a holdout gate, then 50%). The C ABI in the same shape
//! is the `ffi` bench's `service_c_abi` group.
//!
//! ```text
//! cargo bench -p flagcore-benches --bench service
//! ```
#![allow(missing_docs)] // `criterion_group!` generates undocumented functions.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use flagcore::hash::{sha256_u64, Prefix};
use flagcore_benches::service::{self, Cycle, Users, USERS};

fn service(c: &mut Criterion) {
    let (synthetic, eval_proj) = service::stores();
    let users = Users::new(USERS);
    let views = users.views();
    let ids: Vec<&str> = users.ids().collect();

    let mut g = c.benchmark_group("service");
    for (label, store, gate) in [
        ("rollout_50", &synthetic, service::ROLLOUT_50),
        ("targeting_30", &synthetic, service::TARGETING_30),
        ("unknown", &synthetic, "no_such_gate"),
        ("test_50_50", &eval_proj, "test_50_50"),
    ] {
        let mut next = Cycle::new(USERS);
        g.bench_function(label, |b| {
            b.iter(|| store.check_gate(&views[next.next()], black_box(gate)))
        });
    }
    let mut next = Cycle::new(USERS);
    g.bench_function("experiment_3way_param", |b| {
        b.iter(|| {
            synthetic
                .snapshot()
                .experiment(&views[next.next()], black_box(service::EXPERIMENT_3WAY))
                .get_str(black_box(service::PARAMETER), "none")
                .len()
        })
    });
    // The same rollout through one snapshot held across the loop: the difference to
    // `rollout_50` is what the per-call snapshot costs.
    let held = synthetic.snapshot();
    let mut next = Cycle::new(USERS);
    g.bench_function("rollout_50/held_snapshot", |b| {
        b.iter(|| held.check_gate(&views[next.next()], black_box(service::ROLLOUT_50)))
    });
    drop(held);

    // The floor: Statsig's bucketing input for each user, built and hashed with nothing
    // else (no midstate: the whole `"{gate salt}.{rule salt}.{userID}"`, two blocks) …
    let (gate_salt, rule_salt) = service::ROLLOUT_SALTS;
    let prefix = format!("{gate_salt}.{rule_salt}.");
    let mut next = Cycle::new(USERS);
    g.bench_function("floor/sha256", |b| {
        b.iter(|| {
            let id = ids[next.next()].as_bytes();
            let mut input = [0u8; 128];
            input[..prefix.len()].copy_from_slice(prefix.as_bytes());
            input[prefix.len()..prefix.len() + id.len()].copy_from_slice(id);
            sha256_u64(black_box(&input[..prefix.len() + id.len()])) % 10_000 < 5_000
        })
    });
    // … and with the salts' block absorbed once (what flagcore's `Prefix` does at load
    // time, `baseline/sha256_one_block` of the `evaluate` bench over many users).
    let midstate = Prefix::new(prefix.as_bytes());
    let mut next = Cycle::new(USERS);
    g.bench_function("floor/sha256_midstate", |b| {
        b.iter(|| midstate.hash_u64(black_box(ids[next.next()].as_bytes())) % 10_000 < 5_000)
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = flagcore_benches::config();
    targets = service
}
criterion_main!(benches);

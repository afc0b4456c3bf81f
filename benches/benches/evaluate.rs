//! Evaluation benchmarks on the conformance fixtures (`conformance/fixtures`).
//!
//! ```text
//! cargo bench -p flagcore-benches
//! ```
#![allow(missing_docs)] // `criterion_group!` generates undocumented functions.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use flagcore::{Exposures, Kind, Ruleset, Scratch, Store, User};
use flagcore_benches::user;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../conformance/fixtures")
        .join(name)
        .join("dcs.json")
}

fn load(name: &str) -> (Vec<u8>, Store) {
    let bytes = std::fs::read(fixture(name))
        .unwrap_or_else(|e| panic!("{name}: {e} (conformance/ is part of the repository)"));
    let store = Store::new();
    store.load_json(&bytes).expect("fixture loads");
    (bytes, store)
}

fn checks(c: &mut Criterion) {
    let (_, eval) = load("eval_proj");
    let (_, demo) = load("demo_proj");
    let u = user("user-8152");

    let mut g = c.benchmark_group("check_gate");
    for (label, store, gate) in [
        ("public", &eval, "test_public"),
        ("rollout_50", &demo, "partial_gate"),
        ("targeting", &eval, "test_stable_id"),
        ("nested", &eval, "test_nested_gate_condition"),
        ("unknown", &eval, "no_such_gate"),
    ] {
        let snapshot = store.snapshot();
        g.bench_function(label, |b| {
            b.iter(|| snapshot.check_gate(black_box(&u), black_box(gate)))
        });
    }
    // The same public gate through the full result record (`gate()`), which does not use
    // the load-time constant that `check_gate` answers it from.
    let snapshot = eval.snapshot();
    g.bench_function("public_full_record", |b| {
        b.iter(|| {
            snapshot
                .gate(black_box(&u), black_box("test_public"))
                .value()
        })
    });
    // What a service calls without holding a snapshot: one atomic load per check.
    g.bench_function("public_via_store", |b| {
        b.iter(|| eval.check_gate(black_box(&u), black_box("test_public")))
    });
    // Many users: the bucketing hash is computed afresh for every id.
    let ids: Vec<String> = (0..1024).map(|i| format!("user-{i}")).collect();
    let snapshot = demo.snapshot();
    let mut i = 0;
    g.bench_function("rollout_50_many_users", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            snapshot.check_gate(&User::with_user_id(&ids[i]), black_box("partial_gate"))
        })
    });
    g.finish();

    let snapshot = eval.snapshot();
    let mut g = c.benchmark_group("get_experiment");
    for (label, experiment) in [
        // An A/B test in a layer: the layer-allocation hash, then the group hash.
        ("ab_test", "test_exp_random_id"),
        // The same behind a layer holdout gate: one more hash and a nested gate.
        ("with_holdout", "test_exp_with_layers_and_holdout"),
    ] {
        g.bench_function(label, |b| {
            b.iter(|| {
                snapshot
                    .experiment(black_box(&u), black_box(experiment))
                    .value()
            })
        });
    }
    g.finish();
    c.bench_function("get_layer", |b| {
        b.iter(|| {
            snapshot
                .layer(black_box(&u), black_box("test_layer_with_holdout"))
                .value()
        })
    });
    let mut scratch = Scratch::new();
    c.bench_function("evaluate_with_exposures/layer", |b| {
        b.iter(|| {
            snapshot
                .evaluate(
                    &mut scratch,
                    black_box(&u),
                    Kind::Layer,
                    black_box("test_layer_with_holdout"),
                    Exposures::Suppress,
                )
                .secondary_exposures()
                .len()
        })
    });
}

/// Typed parameter reads on a result already evaluated (an experiment in a layer with
/// every kind of parameter), and a layer parameter read end to end (evaluate the layer,
/// read one parameter) without an exposure sink; with the event logger on, see
/// `sync_exposures`.
fn reads(c: &mut Criterion) {
    let (_, eval) = load("eval_proj");
    let u = user("user-8152");
    let snapshot = eval.snapshot();
    let mut scratch = Scratch::new();
    let e = snapshot.evaluate(
        &mut scratch,
        &u,
        Kind::Layer,
        "layer_with_many_params",
        Exposures::Suppress,
    );
    assert!(e.get("a_string").is_some() && e.get("a_number").is_some());
    let mut g = c.benchmark_group("typed_read");
    g.bench_function("get_str", |b| {
        b.iter(|| e.get_str(black_box("a_string"), "fallback").len())
    });
    g.bench_function("get_f64", |b| {
        b.iter(|| e.get_f64(black_box("a_number"), -1.0))
    });
    g.bench_function("get_i64", |b| {
        b.iter(|| e.get_i64(black_box("a_number"), -1))
    });
    g.bench_function("get_bool", |b| {
        b.iter(|| e.get_bool(black_box("a_bool"), false))
    });
    g.bench_function("fallback_wrong_type", |b| {
        b.iter(|| e.get_i64(black_box("a_string"), -1))
    });
    g.finish();
    c.bench_function("layer_read/no_sink", |b| {
        b.iter(|| {
            snapshot
                .layer(black_box(&u), black_box("layer_with_many_params"))
                .get_str("a_string", "fallback")
                .len()
        })
    });
}

/// The floor under every bucketing check: one SHA-256 of a salted unit id that fits one
/// block after the salt prefix is absorbed (what a 50% rollout hashes).
fn hash_baseline(c: &mut Criterion) {
    let prefix = flagcore::hash::Prefix::new(
        b"62afcf6d-2879-4a0b-8ffd-7b482d7da05d.235f34bc-3067-4947-a617-29bbbb1c5f62.",
    );
    c.bench_function("baseline/sha256_one_block", |b| {
        b.iter(|| prefix.hash_u64(black_box(b"user-8152")))
    });
}

fn loading(c: &mut Criterion) {
    let (bytes, _) = load("eval_proj");
    c.bench_function("load/eval_proj", |b| {
        // Dropping the result is not part of loading (an old ruleset is dropped elsewhere).
        b.iter_with_large_drop(|| Ruleset::from_json(black_box(&bytes)).expect("loads"))
    });
}

/// `per_thread` gate checks on each of `threads` readers while a writer installs a ruleset
/// every millisecond; returns the wall time.
fn contended(
    store: &Store,
    rulesets: &[Arc<Ruleset>; 2],
    threads: u64,
    per_thread: u64,
) -> Duration {
    let done = AtomicBool::new(false);
    let ids: Vec<String> = (0..256).map(|i| format!("user-{i}")).collect();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut n = 0;
            while !done.load(Ordering::Relaxed) {
                store.install(rulesets[n % 2].clone());
                n += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let start = Instant::now();
        let readers: Vec<_> = (0..threads)
            .map(|_| {
                let ids = &ids;
                s.spawn(move || {
                    let mut passed = 0u64;
                    let mut snapshot = store.snapshot();
                    for i in 0..per_thread {
                        // A fresh snapshot every 64 checks, like a request handler would.
                        if i % 64 == 0 {
                            snapshot = store.snapshot();
                        }
                        let u = User::with_user_id(&ids[(i % 256) as usize]);
                        passed += u64::from(snapshot.check_gate(&u, "test_50_50"));
                    }
                    black_box(passed)
                })
            })
            .collect();
        for r in readers {
            r.join().expect("reader");
        }
        let elapsed = start.elapsed();
        done.store(true, Ordering::Relaxed);
        elapsed
    })
}

fn throughput(c: &mut Criterion) {
    let (bytes, store) = load("eval_proj");
    let rulesets = [
        Arc::new(Ruleset::from_json(&bytes).expect("loads")),
        Arc::new(Ruleset::from_json(&bytes).expect("loads")),
    ];
    let mut g = c.benchmark_group("throughput");
    for threads in [1, 2] {
        g.bench_function(format!("{threads}_threads"), |b| {
            // Time per check over all threads: two threads that scale halve it.
            b.iter_custom(|iters| {
                let per_thread = iters.max(20_000).div_ceil(threads);
                let total = per_thread * threads;
                let wall = contended(&store, &rulesets, threads, per_thread);
                wall.mul_f64(iters as f64 / total as f64)
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = hash_baseline, checks, reads, loading, throughput
}
criterion_main!(benches);

//! Evaluation while flagcore-sync works beside it: a file watcher polling every 10 ms and an
//! exposure logger flushing events, against the same checks on a quiet machine; and the cost
//! of a check with exposures on (the event is built on the evaluating thread).
//!
//! ```text
//! cargo bench -p flagcore-benches --bench sync
//! ```
#![allow(missing_docs)] // `criterion_group!` generates undocumented functions.

use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use flagcore::{Options, Store, User};
use flagcore_sync::{BlockingRuntime, Destination, LoggerOptions};

fn sync(c: &mut Criterion) {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/fixtures/demo_proj/dcs.json");
    let bytes = std::fs::read(&fixture).expect("demo_proj payload");
    let user = User::with_user_id("user-8152");

    let store = Arc::new(Store::new());
    store.load_json(&bytes).expect("loads");
    let mut g = c.benchmark_group("with_sync_beside");
    g.bench_function("rollout_50/quiet", |b| {
        b.iter(|| store.check_gate(black_box(&user), black_box("partial_gate")))
    });

    // Background work: a watcher re-reading a payload file every 10 ms (rewritten by a
    // thread every 20 ms so it really reloads), and a logger fed by another thread.
    let runtime = BlockingRuntime::new().expect("runtime");
    let path = std::env::temp_dir().join(format!("flagcore-bench-{}.json", std::process::id()));
    std::fs::write(&path, &bytes).expect("payload file");
    let watcher = runtime.start_file_watcher(store.clone(), &path, Duration::from_millis(10));
    let mut options = LoggerOptions::new(Destination::JsonLines(
        std::env::temp_dir().join(format!("flagcore-bench-{}.jsonl", std::process::id())),
    ));
    options.flush_interval = Duration::from_millis(50);
    let logger = Arc::new(runtime.start_exposure_logger(options).expect("logger"));
    let logged = Arc::new(Store::with_options(Options {
        exposure_sink: Some(logger.clone()),
        ..Options::default()
    }));
    logged.load_json(&bytes).expect("loads");
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let (logged, stop, path, bytes) = (logged.clone(), stop.clone(), path.clone(), bytes);
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("user-{i}");
                logged.check_gate(&User::with_user_id(&id), "partial_gate");
                i += 1;
                if i % 2_000 == 0 {
                    let _ = std::fs::write(&path, &bytes);
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        })
    };
    g.bench_function("rollout_50/watcher_and_logger_busy", |b| {
        b.iter(|| store.check_gate(black_box(&user), black_box("partial_gate")))
    });
    g.bench_function("rollout_50/exposures_on", |b| {
        b.iter(|| logged.check_gate(black_box(&user), black_box("partial_gate")))
    });
    g.finish();
    stop.store(true, Ordering::Relaxed);
    let _ = feeder.join();
    runtime.block_on(watcher.shutdown());
    runtime.block_on(logger.shutdown(Duration::from_secs(5)));
    runtime.shutdown(Duration::from_secs(5));
    let _ = std::fs::remove_file(&path);
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
    targets = sync
}
criterion_main!(benches);

//! What flagcore-sync costs the evaluating threads.
//!
//! - `beside/*`: a gate check on a quiet process, then with a Statsig poller reinstalling
//!   the ruleset every 10 ms from a loopback server and an exposure logger busy shipping
//!   another thread's exposures: the check's latency should not move.
//! - `exposures_on/*`: a check whose exposure goes to the logger (writing JSON lines to
//!   `/dev/null`): a repeat (dropped by the evaluating thread's duplicate filter), and a new
//!   exposure each time (the event is written and queued); timed in rounds of 10,000
//!   checks, letting the flusher drain in between, so the queue never fills.
//!
//! ```text
//! cargo bench -p flagcore-benches --bench sync_exposures
//! ```
#![allow(missing_docs)] // `criterion_group!` generates undocumented functions.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use flagcore::{Options, Store, User};
use flagcore_sync::{BlockingRuntime, Destination, EventLogger, LoggerOptions, StatsigOptions};

#[allow(dead_code, unreachable_pub)] // Shared with the tests, which use more of it.
#[path = "../../flagcore-sync/tests/api/server.rs"]
mod server;

/// The payload and a gate that rolls out to half of the users.
fn payload() -> (Vec<u8>, &'static str) {
    (
        server::conformance("fixtures/demo_proj/dcs.json"),
        "partial_gate",
    )
}

fn logger_options(server: &server::Server) -> LoggerOptions {
    let mut options = LoggerOptions::new(Destination::Statsig {
        url: server.log_url(),
        server_secret: "secret-bench".into(),
    });
    options.flush_interval = Duration::from_millis(50);
    options.queue_capacity = 20_000;
    options
}

fn beside(c: &mut Criterion) {
    let (bytes, gate) = payload();
    let user = User::with_user_id("user-8152");
    let store = Arc::new(Store::new());
    store.load_json(&bytes).expect("loads");
    let mut g = c.benchmark_group("beside");
    g.bench_function("quiet", |b| {
        b.iter(|| store.check_gate(black_box(&user), black_box(gate)))
    });

    let server = server::Server::start();
    server.set_specs(server::Reply::Serve(bytes.clone()));
    let runtime = BlockingRuntime::new().expect("runtime");
    let options = StatsigOptions::new("secret-bench")
        .specs_url(server.specs_url())
        .interval(Duration::from_millis(10));
    let poller = runtime
        .start_statsig_poller(store.clone(), options)
        .expect("poller");
    let logger = Arc::new(
        runtime
            .start_event_logger(logger_options(&server))
            .expect("logger"),
    );
    let logged = Arc::new(Store::with_options(Options {
        exposure_sink: Some(logger.clone()),
        ..Options::default()
    }));
    logged.load_json(&bytes).expect("loads");
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("user-{i}");
                logged.check_gate(&User::with_user_id(&id), gate);
                i += 1;
                // About 20,000 exposures a second: busy, and leaving the bench a core.
                if i % 20 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        })
    };
    g.bench_function("poller_and_logger_busy", |b| {
        b.iter(|| store.check_gate(black_box(&user), black_box(gate)))
    });
    g.finish();
    stop.store(true, Ordering::Relaxed);
    let _ = feeder.join();
    let installs = poller.status().attempts;
    runtime.block_on(poller.shutdown());
    runtime.block_on(logger.shutdown(Duration::from_secs(5)));
    runtime.shutdown(Duration::from_secs(5));
    eprintln!("beside: {installs} polls; logger {:?}", logger.stats());
}

/// New users for timing new exposures: 10,000 ids, and a round number in a custom id that
/// makes every round's exposures new.
struct Rounds {
    ids: Vec<String>,
    round: u64,
}

impl Rounds {
    fn new() -> Rounds {
        Rounds {
            ids: (0..10_000).map(|i| format!("user-{i:08}")).collect(),
            round: 0,
        }
    }

    /// Times `iters` calls of `f`, each for a new user, in rounds of at most 10,000; between
    /// rounds (untimed) the flusher drains the queue, so it never fills.
    fn time(&mut self, iters: u64, logger: &EventLogger, mut f: impl FnMut(&User<'_>)) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let n = left.min(self.ids.len() as u64) as usize;
            self.round += 1;
            let tag = self.round.to_string();
            let custom_ids = [("round", flagcore::Value::Str(&tag))];
            let started = Instant::now();
            for id in &self.ids[..n] {
                f(&User::with_user_id(id).custom_ids(flagcore::Attributes::Pairs(&custom_ids)));
            }
            total += started.elapsed();
            left -= n as u64;
            while logger.queue_len() > 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        total
    }
}

/// A store whose exposures go to an event logger writing to `/dev/null`: a destination that
/// costs nothing, so that the flusher competes as little as possible with the evaluating
/// thread for the two cores of a small machine.
fn logged_store(bytes: &[u8]) -> (BlockingRuntime, Arc<EventLogger>, Store) {
    let runtime = BlockingRuntime::new().expect("runtime");
    let mut options = LoggerOptions::new(Destination::JsonLines("/dev/null".into()));
    options.flush_interval = Duration::from_millis(50);
    let logger = Arc::new(runtime.start_event_logger(options).expect("logger"));
    let store = Store::with_options(Options {
        exposure_sink: Some(logger.clone()),
        ..Options::default()
    });
    store.load_json(bytes).expect("loads");
    (runtime, logger, store)
}

/// Shuts the logger down and checks that the figures are not of drops.
fn finish(runtime: BlockingRuntime, logger: &EventLogger, group: &str) {
    runtime.block_on(logger.shutdown(Duration::from_secs(5)));
    runtime.shutdown(Duration::from_secs(5));
    let stats = logger.stats();
    eprintln!("{group}: {stats:?}");
    assert_eq!(
        stats.dropped_queue_full, 0,
        "the queue filled: the figures are of drops"
    );
}

fn exposures_on(c: &mut Criterion) {
    let (bytes, gate) = payload();
    let (runtime, logger, store) = logged_store(&bytes);
    let mut g = c.benchmark_group("exposures_on");
    let user = User::with_user_id("user-8152");
    g.bench_function("repeat", |b| {
        b.iter(|| store.check_gate(black_box(&user), black_box(gate)))
    });
    let mut rounds = Rounds::new();
    g.bench_function("new_user", |b| {
        b.iter_custom(|iters| {
            rounds.time(iters, &logger, |user| {
                store.check_gate(black_box(user), black_box(gate));
            })
        })
    });
    g.finish();
    finish(runtime, &logger, "exposures_on");
}

/// A layer parameter read with the event logger on: the layer is evaluated, the parameter
/// read and its layer exposure handed to the logger (a repeat: dropped by the duplicate
/// filter; a new user: written and queued, in rounds as in `exposures_on/new_user`).
fn layer_reads(c: &mut Criterion) {
    let bytes = server::conformance("fixtures/eval_proj/dcs.json");
    let (runtime, logger, store) = logged_store(&bytes);
    let layer = "layer_with_many_params";
    let mut g = c.benchmark_group("layer_read_logged");
    let user = User::with_user_id("user-8152");
    let snapshot = store.snapshot();
    g.bench_function("repeat", |b| {
        b.iter(|| {
            snapshot
                .layer(black_box(&user), black_box(layer))
                .get_str("a_string", "fallback")
                .len()
        })
    });
    let mut rounds = Rounds::new();
    g.bench_function("new_user", |b| {
        b.iter_custom(|iters| {
            rounds.time(iters, &logger, |user| {
                black_box(
                    snapshot
                        .layer(black_box(user), black_box(layer))
                        .get_str("a_string", "fallback")
                        .len(),
                );
            })
        })
    });
    g.finish();
    drop(snapshot);
    finish(runtime, &logger, "layer_read_logged");
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = beside, exposures_on, layer_reads
}
criterion_main!(benches);

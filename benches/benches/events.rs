//! What logging a custom event costs the calling threads.
//!
//! - `custom_events/two_threads`: two threads log custom events at once (a user id, a
//!   numeric value, one metadata pair), each event written to JSON and queued; timed in
//!   rounds of 100,000 events with a queue large enough for a round, letting the flusher
//!   drain in between (untimed), so nothing is dropped. Criterion's throughput is events
//!   per second across both threads.
//!
//! ```text
//! cargo bench -p flagcore-benches --bench events
//! ```
#![allow(missing_docs)] // `criterion_group!` generates undocumented functions.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flagcore::User;
use flagcore_sync::{BlockingRuntime, Destination, LoggerOptions};

const ROUND: u64 = 100_000;

fn custom_events(c: &mut Criterion) {
    let runtime = BlockingRuntime::new().expect("runtime");
    let options = LoggerOptions::new(Destination::JsonLines("/dev/null".into()))
        .queue_capacity(2 * ROUND as usize)
        .flush_interval(Duration::from_millis(50));
    let logger = Arc::new(runtime.start_event_logger(options).expect("logger"));
    let ids: Vec<String> = (0..ROUND / 2).map(|i| format!("user-{i:08}")).collect();
    let mut g = c.benchmark_group("custom_events");
    g.throughput(Throughput::Elements(1));
    g.bench_function("two_threads", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(ROUND);
                let barrier = Barrier::new(3);
                let started = std::thread::scope(|s| {
                    for half in [n / 2, n - n / 2] {
                        let (logger, ids, barrier) = (&logger, &ids, &barrier);
                        s.spawn(move || {
                            barrier.wait();
                            for id in ids.iter().cycle().take(half as usize) {
                                logger.log_event(
                                    black_box(&User::with_user_id(id)),
                                    black_box("purchase"),
                                    black_box(9.5),
                                    black_box(&[("sku", "A-1")]),
                                );
                            }
                        });
                    }
                    barrier.wait();
                    Instant::now()
                });
                total += started.elapsed();
                left -= n;
                // Let the flusher drain the queue (untimed), so it never fills.
                while logger.queue_len() > 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            total
        })
    });
    g.finish();
    runtime.block_on(logger.shutdown(Duration::from_secs(5)));
    runtime.shutdown(Duration::from_secs(5));
    let stats = logger.stats();
    eprintln!("custom_events: {stats:?}");
    assert_eq!(
        stats.dropped_queue_full, 0,
        "the queue filled: the figures are of drops"
    );
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = custom_events
}
criterion_main!(benches);

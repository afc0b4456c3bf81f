//! Client initialize responses: one user's whole response, written into a reused buffer.
//!
//! ```text
//! cargo bench -p flagcore-benches --bench client_init
//! ```
//!
//! `eval_proj` is a conformance fixture; `perf_proj` is the official core's performance
//! payload (9 MB, 87 configs and experiments), kept xz-compressed in
//! `conformance/payloads/perf_proj_dcs.json.xz` and decompressed with `xz` when the bench
//! starts.
#![allow(missing_docs)] // `criterion_group!` generates undocumented functions.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use flagcore::{ClientInitOptions, HashAlgorithm};
use flagcore_benches::client_init::{eval_proj, perf_proj, user};

fn responses(c: &mut Criterion) {
    let user = user();
    let mut g = c.benchmark_group("client_init");
    for (name, store) in [("eval_proj", eval_proj()), ("perf_proj", perf_proj())] {
        let snapshot = store.snapshot();
        for (label, hash) in [
            ("djb2", HashAlgorithm::Djb2),
            ("sha256", HashAlgorithm::Sha256),
        ] {
            let options = ClientInitOptions::default().hash(hash);
            let mut body = Vec::new();
            snapshot.client_initialize_response(&user, &options, &mut body);
            eprintln!("client_init/{name}_{label}: {} bytes", body.len());
            g.bench_function(format!("{name}_{label}"), |b| {
                b.iter(|| {
                    body.clear();
                    snapshot.client_initialize_response(black_box(&user), &options, &mut body);
                    black_box(body.len())
                })
            });
        }
    }
    g.finish();
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
    targets = responses
}
criterion_main!(benches);

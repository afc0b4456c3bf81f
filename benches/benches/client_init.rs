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
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use flagcore::{Attributes, ClientInitOptions, HashAlgorithm, Store, User, Value};

fn conformance() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance"))
}

fn store_of(bytes: &[u8]) -> Store {
    let store = Store::new();
    store.load_json(bytes).expect("payload loads");
    store
}

fn eval_proj() -> Store {
    let path = conformance().join("fixtures/eval_proj/dcs.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    store_of(&bytes)
}

fn perf_proj() -> Store {
    let path = conformance().join("payloads/perf_proj_dcs.json.xz");
    let out = Command::new("xz")
        .arg("-dc")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("xz -dc {}: {e} (install xz)", path.display()));
    assert!(out.status.success(), "xz -dc {} failed", path.display());
    store_of(&out.stdout)
}

const CUSTOM: &[(&str, Value<'static>)] =
    &[("level", Value::Int(7)), ("plan", Value::Str("enterprise"))];
const IDS: &[(&str, Value<'static>)] = &[("stableID", Value::Str("stable-1234"))];

/// The benchmark user (the official core is timed with the same one, as JSON).
fn user() -> User<'static> {
    User::with_user_id("user-42")
        .email("jkw@statsig.com")
        .country("US")
        .app_version("1.2.3")
        .user_agent(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 \
             (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        )
        .custom(Attributes::Pairs(CUSTOM))
        .custom_ids(Attributes::Pairs(IDS))
}

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

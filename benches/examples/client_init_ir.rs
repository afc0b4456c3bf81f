//! The `client_init` bench's responses as a plain loop, for instruction counts and profiles:
//! run it under callgrind (`--dump-instr=no`) and read the profile with `callgrind_annotate`.
//!
//! ```text
//! cargo build --release -p flagcore-benches --example client_init_ir
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/ci.out \
//!   target/release/examples/client_init_ir eval_proj djb2 200
//! callgrind_annotate /tmp/ci.out | head -40
//! ```

use std::hint::black_box;

use flagcore::{ClientInitOptions, HashAlgorithm};
use flagcore_benches::client_init::{eval_proj, perf_proj, user};

fn main() {
    let mut args = std::env::args().skip(1);
    let store = match args.next().as_deref() {
        Some("perf_proj") => perf_proj(),
        None | Some("eval_proj") => eval_proj(),
        Some(other) => panic!("payload {other}: eval_proj or perf_proj"),
    };
    let hash = match args.next().as_deref() {
        Some("sha256") => HashAlgorithm::Sha256,
        Some("none") => HashAlgorithm::None,
        _ => HashAlgorithm::Djb2,
    };
    let calls: usize = args
        .next()
        .map_or(200, |n| n.parse().expect("a call count"));
    let user = user();
    let options = ClientInitOptions::default().hash(hash);
    let snapshot = store.snapshot();
    let mut body = Vec::new();
    for _ in 0..calls {
        body.clear();
        snapshot.client_initialize_response(black_box(&user), &options, &mut body);
        black_box(body.len());
    }
    println!("{} bytes", body.len());
}

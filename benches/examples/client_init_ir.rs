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
use std::path::Path;

use flagcore::{Attributes, ClientInitOptions, HashAlgorithm, Store, User, Value};

const CUSTOM: &[(&str, Value<'static>)] =
    &[("level", Value::Int(7)), ("plan", Value::Str("enterprise"))];
const IDS: &[(&str, Value<'static>)] = &[("stableID", Value::Str("stable-1234"))];

fn main() {
    let mut args = std::env::args().skip(1);
    let payload = args.next().unwrap_or_else(|| "eval_proj".into());
    let hash = match args.next().as_deref() {
        Some("sha256") => HashAlgorithm::Sha256,
        Some("none") => HashAlgorithm::None,
        _ => HashAlgorithm::Djb2,
    };
    let calls: usize = args
        .next()
        .map_or(200, |n| n.parse().expect("a call count"));
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance"));
    let bytes = if payload == "perf_proj" {
        let out = std::process::Command::new("xz")
            .arg("-dc")
            .arg(dir.join("payloads/perf_proj_dcs.json.xz"))
            .output()
            .expect("xz runs");
        out.stdout
    } else {
        std::fs::read(dir.join(format!("fixtures/{payload}/dcs.json"))).expect("the payload")
    };
    let store = Store::new();
    store.load_json(&bytes).expect("payload loads");
    let user = User::with_user_id("user-42")
        .email("jkw@statsig.com")
        .country("US")
        .app_version("1.2.3")
        .user_agent(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 \
             (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        )
        .custom(Attributes::Pairs(CUSTOM))
        .custom_ids(Attributes::Pairs(IDS));
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

//! What the client initialize benchmarks share (the `client_init` bench and the
//! `client_init_ir` example): the payloads and the user the official core is timed with.

use std::path::Path;
use std::process::Command;

use flagcore::{Attributes, Store, User, Value};

const IDS: &[(&str, Value<'static>)] = &[("stableID", Value::Str("stable-1234"))];

fn conformance() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../conformance"))
}

fn store_of(bytes: &[u8]) -> Store {
    let store = Store::new();
    store.load_json(bytes).expect("payload loads");
    store
}

/// A store holding the `eval_proj` conformance fixture.
pub fn eval_proj() -> Store {
    let path = conformance().join("fixtures/eval_proj/dcs.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    store_of(&bytes)
}

/// A store holding the official core's performance payload (9 MB, 87 configs and
/// experiments), kept xz-compressed in `conformance/payloads/perf_proj_dcs.json.xz` and
/// decompressed with `xz`.
pub fn perf_proj() -> Store {
    let path = conformance().join("payloads/perf_proj_dcs.json.xz");
    let out = Command::new("xz")
        .arg("-dc")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("xz -dc {}: {e} (install xz)", path.display()));
    assert!(out.status.success(), "xz -dc {} failed", path.display());
    store_of(&out.stdout)
}

/// The benchmark user with a stable ID (the official core is timed with the same one, as
/// JSON).
pub fn user() -> User<'static> {
    crate::user("user-42").custom_ids(Attributes::Pairs(IDS))
}

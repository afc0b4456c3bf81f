//! `check_gate` through the C ABI (`libflagcore.so`, loaded with `dlopen` as a C or Python
//! program would) against the same check on the Rust path.
//!
//! ```text
//! cargo bench -p flagcore-benches --bench ffi
//! ```
#![allow(missing_docs)] // `criterion_group!` generates undocumented functions.
#![allow(unsafe_code)] // Calling C functions is `unsafe`.

use std::ffi::{c_char, c_int, c_void, CString};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use flagcore::{Store, UserData};
use flagcore_benches::service::{self, Cycle, USERS};

extern "C" {
    fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}
const RTLD_NOW: c_int = 2;

type StoreNew = unsafe extern "C" fn(*const u8, usize, *mut *mut c_void) -> c_int;
type LoadJson =
    unsafe extern "C" fn(*const c_void, *const u8, usize, *mut u8, usize, *mut usize) -> c_int;
type UserFromJson = unsafe extern "C" fn(*const u8, usize, *mut *mut c_void) -> c_int;
type CheckGate =
    unsafe extern "C" fn(*const c_void, *const c_void, *const u8, usize, *mut bool) -> c_int;

/// Builds the release shared library and returns its path.
fn shared_library() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "--release", "-p", "flagcore-ffi"])
        .status()
        .expect("cargo build");
    assert!(status.success(), "building flagcore-ffi failed");
    let exe = std::env::current_exe().expect("bench executable");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("libflagcore.so")
}

fn symbol<T: Copy>(lib: *mut c_void, name: &str) -> T {
    let name = CString::new(name).expect("symbol name");
    // SAFETY: `lib` is a handle from `dlopen`; `name` is NUL-terminated.
    let f = unsafe { dlsym(lib, name.as_ptr()) };
    assert!(!f.is_null(), "{name:?} not found");
    assert_eq!(size_of::<T>(), size_of::<*mut c_void>());
    // SAFETY: `T` is the function-pointer type of the symbol, declared in flagcore.h.
    unsafe { std::mem::transmute_copy(&f) }
}

fn ffi(c: &mut Criterion) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/fixtures");
    let demo = std::fs::read(fixtures.join("demo_proj/dcs.json")).expect("demo_proj payload");
    let eval = std::fs::read(fixtures.join("eval_proj/dcs.json")).expect("eval_proj payload");
    let user_json = br#"{"userID": "user-8152", "email": "jkw@statsig.com"}"#;

    let path = CString::new(shared_library().to_string_lossy().as_bytes()).expect("path");
    // SAFETY: loading our own library, which has no initialisers with preconditions.
    let lib = unsafe { dlopen(path.as_ptr(), RTLD_NOW) };
    assert!(!lib.is_null(), "dlopen failed");
    let store_new: StoreNew = symbol(lib, "flagcore_store_new");
    let load_json: LoadJson = symbol(lib, "flagcore_store_load_json");
    let user_from_json: UserFromJson = symbol(lib, "flagcore_user_from_json");
    let check_gate: CheckGate = symbol(lib, "flagcore_store_check_gate");

    let mut g = c.benchmark_group("check_gate_c_abi");
    for (label, payload, gate) in [
        ("public", &eval, "test_public"),
        ("rollout_50", &demo, "partial_gate"),
    ] {
        let (mut c_store, mut c_user) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: the arguments follow flagcore.h: valid buffers and out-pointers.
        unsafe {
            assert_eq!(store_new(std::ptr::null(), 0, &mut c_store), 0);
            let n = std::ptr::null_mut();
            assert_eq!(
                load_json(c_store, payload.as_ptr(), payload.len(), n, 0, n.cast()),
                0
            );
            assert_eq!(
                user_from_json(user_json.as_ptr(), user_json.len(), &mut c_user),
                0
            );
        }
        g.bench_function(format!("{label}/c_abi"), |b| {
            b.iter(|| {
                let mut out = false;
                // SAFETY: live handles from above, a valid name and out-pointer.
                let rc =
                    unsafe { check_gate(c_store, c_user, gate.as_ptr(), gate.len(), &mut out) };
                black_box((rc, out))
            })
        });
        let store = Store::new();
        store.load_json(payload).expect("payload loads");
        let data = UserData::from_json(user_json).expect("user");
        g.bench_function(format!("{label}/rust"), |b| {
            b.iter(|| store.check_gate(black_box(&data.view()), black_box(gate)))
        });
    }
    g.finish();

    // The service shape (see the `service` bench): a check per call for 100,000 distinct
    // users, handles built outside the timed loop, through the C ABI and the same users'
    // `UserData` views on the Rust path.
    let mut g = c.benchmark_group("service_c_abi");
    let payload = service::PAYLOAD.as_bytes();
    let mut c_store = std::ptr::null_mut();
    let n = std::ptr::null_mut();
    // SAFETY: the arguments follow flagcore.h: valid buffers and out-pointers.
    unsafe {
        assert_eq!(store_new(std::ptr::null(), 0, &mut c_store), 0);
        assert_eq!(
            load_json(c_store, payload.as_ptr(), payload.len(), n, 0, n.cast()),
            0
        );
    }
    let jsons: Vec<String> = (0..USERS).map(service::user_json).collect();
    let c_users: Vec<*mut c_void> = jsons
        .iter()
        .map(|json| {
            let mut c_user = std::ptr::null_mut();
            // SAFETY: a valid buffer and out-pointer.
            let rc = unsafe { user_from_json(json.as_ptr(), json.len(), &mut c_user) };
            assert_eq!(rc, 0);
            c_user
        })
        .collect();
    let gate = service::ROLLOUT_50;
    let mut next = Cycle::new(USERS);
    g.bench_function("rollout_50/c_abi", |b| {
        b.iter(|| {
            let mut out = false;
            let user = c_users[next.next()];
            // SAFETY: live handles from above, a valid name and out-pointer.
            let rc = unsafe { check_gate(c_store, user, gate.as_ptr(), gate.len(), &mut out) };
            black_box((rc, out))
        })
    });
    let store = Store::new();
    store.load_json(payload).expect("payload loads");
    let datas: Vec<UserData> = jsons
        .iter()
        .map(|json| UserData::from_json(json.as_bytes()).expect("user"))
        .collect();
    let views: Vec<_> = datas.iter().map(UserData::view).collect();
    let mut next = Cycle::new(USERS);
    g.bench_function("rollout_50/rust", |b| {
        b.iter(|| store.check_gate(&views[next.next()], black_box(gate)))
    });
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
    targets = ffi
}
criterion_main!(benches);

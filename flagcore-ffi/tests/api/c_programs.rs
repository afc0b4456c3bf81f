//! C programs in `tests/c/`, compiled with `-Wall -Wextra -Werror
//! -fsanitize=address,undefined` against the static library and run: the API end to end
//! and under misuse, a multi-threaded stress run with a forked child, a source across a
//! fork, and conformance through the C ABI on the `demo_proj` fixture.
//!
//! They need gcc with its sanitizer runtimes (libasan, libubsan) and python3: a test fails,
//! saying so, when one is missing; none is skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the static library (same profile as this test) and returns its path.
fn static_library() -> PathBuf {
    let mut cmd = Command::new(env!("CARGO"));
    // With the `sync` feature: the library is a superset, so every C program links it.
    cmd.args(["build", "-q", "-p", "flagcore-ffi", "--features", "sync"]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    assert!(
        cmd.status().expect("cargo build").success(),
        "building flagcore-ffi failed"
    );
    // target/<profile>/deps/c_programs-<hash> → target/<profile>/libflagcore.a
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let lib = dir.join("libflagcore.a");
    assert!(lib.is_file(), "{} not built", lib.display());
    lib
}

/// A file of the repository's conformance corpus (`conformance/`); a test fails when it is
/// missing.
fn conformance(path: &str) -> PathBuf {
    let full = manifest().join("../conformance").join(path);
    assert!(
        full.exists(),
        "{} is missing: the conformance corpus is part of the repository",
        full.display()
    );
    full
}

/// Compiles `tests/c/<name>.c` with the sanitizers.
fn compile(name: &str) -> PathBuf {
    compile_with(
        name,
        &[
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=undefined",
        ],
    )
}

/// Compiles `tests/c/<name>.c` with `flags`; fails the test when gcc is missing or the
/// program does not compile (with the sanitizers: when their runtimes are not installed).
fn compile_with(name: &str, flags: &[&str]) -> PathBuf {
    if let Err(e) = Command::new("gcc").arg("--version").output() {
        panic!("the C tests need gcc, which did not run ({e}): install it (apt-get install gcc)");
    }
    let lib = static_library();
    let out = std::env::temp_dir().join(format!("flagcore-c-{name}-{}", std::process::id()));
    let status = Command::new("gcc")
        .args(["-std=c11", "-D_DEFAULT_SOURCE", "-g", "-O1"])
        .args(["-Wall", "-Wextra", "-Werror"])
        .args(flags)
        .arg("-I")
        .arg(manifest().join("include"))
        .arg(manifest().join(format!("tests/c/{name}.c")))
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&out)
        .status()
        .expect("run gcc");
    assert!(
        status.success(),
        "compiling {name}.c with {flags:?} failed (gcc's output above; for -fsanitize, the \
         runtimes libasan and libubsan must be installed)"
    );
    out
}

fn run(exe: &Path, args: &[&Path]) -> Output {
    let out = Command::new(exe)
        .args(args)
        .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        .output()
        .expect("run C program");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Runs the compiled `tests/c/<name>.c` on `examples/data/demo.json` (and then deletes
/// it); the test fails unless the program succeeds.
fn passes_on_demo(name: &str, exe: PathBuf) {
    let demo = manifest().join("../examples/data/demo.json");
    let out = run(&exe, &[&demo]);
    println!("{}", String::from_utf8_lossy(&out.stdout));
    let _ = std::fs::remove_file(exe);
    assert!(out.status.success(), "{name}.c failed");
}

#[test]
fn api_end_to_end_and_misuse() {
    passes_on_demo("api", compile("api"));
}

#[test]
fn eight_threads_a_thousand_reloads_and_a_fork() {
    let exe = compile("stress");
    let out = run(&exe, &[]);
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "stress.c failed");
    let _ = std::fs::remove_file(exe);
}

#[test]
fn conformance_through_the_c_abi() {
    let fixture = conformance("fixtures/demo_proj");
    let exe = compile("conformance");
    let dcs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture.join("dcs.json")).expect("dcs.json"))
            .expect("JSON");
    let mut names = String::new();
    for (section, code) in [
        ("feature_gates", 0),
        ("dynamic_configs", 1),
        ("layer_configs", 3),
    ] {
        for (name, spec) in dcs[section].as_object().expect("object of specs") {
            let code = if code == 1 && spec["entity"] == "experiment" {
                2
            } else {
                code
            };
            names.push_str(&format!("{code}\t{name}\n"));
        }
    }
    let tmp = std::env::temp_dir().join(format!("flagcore-c-conf-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let names_path = tmp.join("names.tsv");
    std::fs::write(&names_path, names).expect("names");
    let out = run(
        &exe,
        &[
            &fixture.join("dcs.json"),
            &names_path,
            &fixture.join("users.jsonl"),
        ],
    );
    assert!(out.status.success(), "conformance.c failed");
    let actual = tmp.join("actual.jsonl");
    std::fs::write(&actual, &out.stdout).expect("results");
    let cmp = Command::new("python3")
        .arg(conformance("compare.py"))
        .arg(fixture.join("expected.jsonl.xz"))
        .arg(&actual)
        .output()
        .expect("run compare.py");
    let report = String::from_utf8_lossy(&cmp.stdout);
    println!("{report}");
    let _ = std::fs::remove_dir_all(&tmp);
    let _ = std::fs::remove_file(exe);
    assert!(
        cmp.status.success(),
        "C ABI disagrees with the official core:\n{report}"
    );
}

/// The Python ctypes example in `examples/python` runs against the shared library and
/// prints the official core's answers for its users (see examples/tests/data/demo).
#[test]
fn python_ctypes_example() {
    if let Err(e) = Command::new("python3").arg("--version").output() {
        panic!("this test needs python3, which did not run ({e}): install it");
    }
    let lib = static_library().with_file_name("libflagcore.so");
    assert!(lib.is_file(), "{} not built", lib.display());
    let out = Command::new("python3")
        .arg(manifest().join("../examples/python/flagcore_example.py"))
        .env("FLAGCORE_LIB", &lib)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the Python example failed:\n{stdout}");
    for line in [
        "ana team_dogfood: True",
        "ana checkout_button: Control blue",
        "bo checkout_button: Test green",
        "bo pricing: {'currency': 'NZD', 'discount': 5} by rule rule_nz",
        "rejected a bad payload: payload is not valid JSON",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

#[test]
fn exposures_reach_a_c_callback() {
    passes_on_demo("exposures", compile("exposures"));
}

/// Zero heap allocations per `flagcore_store_check_gate` after warm-up, on every gate of
/// `eval_proj` for every user: the allocator is wrapped at link time (no sanitizer here, as
/// ASan replaces the allocator itself).
#[test]
fn zero_allocations_per_check_through_the_c_abi() {
    let fixture = conformance("fixtures/eval_proj");
    let wrap =
        "-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign,--wrap=aligned_alloc";
    let exe = compile_with("zero_alloc", &[wrap]);
    let dcs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture.join("dcs.json")).expect("dcs.json"))
            .expect("JSON");
    let gates: String = dcs["feature_gates"]
        .as_object()
        .expect("gates")
        .keys()
        .map(|g| format!("{g}\n"))
        .collect();
    let list = std::env::temp_dir().join(format!("flagcore-gates-{}", std::process::id()));
    std::fs::write(&list, gates).expect("gate list");
    let out = run(
        &exe,
        &[
            &fixture.join("dcs.json"),
            &list,
            &fixture.join("users.jsonl"),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    let _ = std::fs::remove_file(&list);
    let _ = std::fs::remove_file(exe);
    assert!(
        out.status.success(),
        "allocations during check_gate: {stdout}"
    );
}

/// A file source started from C (feature `sync`) flips a gate when the file changes; across
/// a real `fork()` the child's status says FORKED, and a restart makes the child's store
/// follow the file again (statsig-server-core#52).
#[test]
fn a_file_source_started_from_c() {
    let exe = compile("source");
    let path = std::env::temp_dir().join(format!("flagcore-c-source-{}.json", std::process::id()));
    let out = run(&exe, &[&path]);
    println!("{}", String::from_utf8_lossy(&out.stdout));
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(exe);
    assert!(out.status.success(), "source.c failed");
}

/// Freed handles are refused and double frees ignored (while the allocator has not reused
/// the memory). Without AddressSanitizer, which reports these reads of freed memory; with
/// UBSan.
#[test]
fn freed_handles_are_refused() {
    let exe = compile_with(
        "handles",
        &["-fsanitize=undefined", "-fno-sanitize-recover=undefined"],
    );
    let out = run(&exe, &[]);
    println!("{}", String::from_utf8_lossy(&out.stdout));
    let _ = std::fs::remove_file(exe);
    assert!(out.status.success(), "handles.c failed");
}

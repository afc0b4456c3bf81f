//! C programs in `tests/c/`, compiled with `-Wall -Wextra -Werror
//! -fsanitize=address,undefined` against the static library and run: the API end to end
//! and under misuse, a multi-threaded stress run with a forked child, and conformance
//! through the C ABI on `conformance/fixtures/demo_proj`.

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

/// Compiles `tests/c/<name>.c` with the sanitizers; `None` (with a notice) when there is
/// no C compiler.
fn compile(name: &str) -> Option<PathBuf> {
    compile_with(
        name,
        &[
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=undefined",
        ],
    )
}

fn compile_with(name: &str, flags: &[&str]) -> Option<PathBuf> {
    if Command::new("gcc").arg("--version").output().is_err() {
        eprintln!("NOTICE: gcc not found; C tests skipped");
        return None;
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
    assert!(status.success(), "compiling {name}.c failed");
    Some(out)
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

#[test]
fn api_end_to_end_and_misuse() {
    let Some(exe) = compile("api") else { return };
    let demo = manifest().join("../examples/data/demo.json");
    let out = run(&exe, &[&demo]);
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "api.c failed");
    let _ = std::fs::remove_file(exe);
}

#[test]
fn eight_threads_a_thousand_reloads_and_a_fork() {
    let Some(exe) = compile("stress") else { return };
    let out = run(&exe, &[]);
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "stress.c failed");
    let _ = std::fs::remove_file(exe);
}

#[test]
fn conformance_through_the_c_abi() {
    let fixture = manifest().join("../conformance/fixtures/demo_proj");
    if !fixture.is_dir() {
        eprintln!("NOTICE: {} is absent; test skipped", fixture.display());
        return;
    }
    let Some(exe) = compile("conformance") else {
        return;
    };
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
        .arg(manifest().join("../conformance/compare.py"))
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
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("NOTICE: python3 not found; test skipped");
        return;
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
    let Some(exe) = compile("exposures") else {
        return;
    };
    let demo = manifest().join("../examples/data/demo.json");
    let out = run(&exe, &[&demo]);
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "exposures.c failed");
    let _ = std::fs::remove_file(exe);
}

/// Zero heap allocations per `flagcore_store_check_gate` after warm-up, on every gate of
/// `eval_proj` for every user: the allocator is wrapped at link time (no sanitizer here, as
/// ASan replaces the allocator itself).
#[test]
fn zero_allocations_per_check_through_the_c_abi() {
    let fixture = manifest().join("../conformance/fixtures/eval_proj");
    if !fixture.is_dir() {
        eprintln!("NOTICE: {} is absent; test skipped", fixture.display());
        return;
    }
    let wrap =
        "-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign,--wrap=aligned_alloc";
    let Some(exe) = compile_with("zero_alloc", &[wrap]) else {
        return;
    };
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

/// A file source started from C (feature `sync`) flips a gate when the file changes.
#[test]
fn a_file_source_started_from_c() {
    let Some(exe) = compile("source") else { return };
    let path = std::env::temp_dir().join(format!("flagcore-c-source-{}.json", std::process::id()));
    let out = run(&exe, &[&path]);
    println!("{}", String::from_utf8_lossy(&out.stdout));
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(exe);
    assert!(out.status.success(), "source.c failed");
}

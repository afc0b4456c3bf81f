//! C programs in `tests/c/`, compiled with `-Wall -Wextra -Werror
//! -fsanitize=address,undefined` against the static library and run: the API end to end
//! and under misuse, a multi-threaded stress run with a forked child, and conformance
//! through the C ABI on `../shared/conformance/fixtures/demo_proj`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the static library (same profile as this test) and returns its path.
fn static_library() -> PathBuf {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "-q", "-p", "flagcore-ffi"]);
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

/// Compiles `tests/c/<name>.c`; `None` (with a notice) when there is no C compiler.
fn compile(name: &str) -> Option<PathBuf> {
    if Command::new("gcc").arg("--version").output().is_err() {
        eprintln!("NOTICE: gcc not found; C tests skipped");
        return None;
    }
    let lib = static_library();
    let out = std::env::temp_dir().join(format!("flagcore-c-{name}-{}", std::process::id()));
    let status = Command::new("gcc")
        .args(["-std=c11", "-D_DEFAULT_SOURCE", "-g", "-O1"])
        .args([
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsanitize=address,undefined",
        ])
        .arg("-fno-sanitize-recover=undefined")
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
    let fixture = manifest().join("../../shared/conformance/fixtures/demo_proj");
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
        .arg(manifest().join("../../shared/conformance/compare.py"))
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

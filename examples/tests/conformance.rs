//! Conformance with Statsig's official core: runs the `evaluate` example over
//! `../shared/conformance` (every fixture, and the user-agent corpus) and over this
//! project's own cases in `tests/data/`, and requires 100% agreement.
//!
//! The shared material sits beside the checkout; when it is absent these tests print a
//! notice and pass without checking anything.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn shared() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance");
    if dir.join("run.sh").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "NOTICE: {} is absent; conformance not checked",
            dir.display()
        );
        None
    }
}

/// Builds the `evaluate` example (same profile as this test) and returns its path.
fn driver() -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "-q",
            "-p",
            "flagcore-examples",
            "--example",
            "evaluate",
        ])
        .args(if cfg!(debug_assertions) {
            &[][..]
        } else {
            &["--release"][..]
        })
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building the evaluate example failed");
    // target/<profile>/deps/conformance-<hash> → target/<profile>/examples/evaluate
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = profile_dir
        .join("examples")
        .join(format!("evaluate{}", std::env::consts::EXE_SUFFIX));
    assert!(path.is_file(), "{} not built", path.display());
    path
}

#[test]
fn shared_fixtures_agree_fully() {
    let Some(dir) = shared() else { return };
    let out = Command::new("bash")
        .arg(dir.join("run.sh"))
        .arg(driver())
        .output()
        .expect("run run.sh");
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "conformance below 100%:\n{report}");
    assert!(
        report.contains("= 100.000%"),
        "no overall agreement line:\n{report}"
    );
}

/// Runs `evaluate --ua` over `input` and compares line by line with `expected`.
fn check_user_agents(input: &Path, expected: &str) -> usize {
    let out = Command::new(driver())
        .arg("--ua")
        .stdin(Stdio::from(
            std::fs::File::open(input).expect("user agents"),
        ))
        .output()
        .expect("run evaluate --ua");
    assert!(out.status.success(), "evaluate --ua failed");
    let parse = |text: &str| -> Vec<serde_json::Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    };
    let (want, got) = (
        parse(expected),
        parse(&String::from_utf8_lossy(&out.stdout)),
    );
    assert_eq!(want.len(), got.len(), "line count of {}", input.display());
    let mismatches: Vec<_> = want.iter().zip(&got).filter(|(w, g)| w != g).collect();
    for (w, g) in mismatches.iter().take(5) {
        eprintln!("expected {w}\n     got {g}");
    }
    println!(
        "{}: {}/{} user agents agree",
        input.display(),
        want.len() - mismatches.len(),
        want.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} user agents disagree",
        mismatches.len()
    );
    want.len()
}

#[test]
fn user_agents_agree_fully() {
    // Edge cases of our own, with the reference evaluator's answers (`statsig-oracle --ua`).
    let own = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data_ua");
    let expected = std::fs::read_to_string(own.join("expected.jsonl")).expect("expected.jsonl");
    check_user_agents(&own.join("user_agents.txt"), &expected);
    let Some(dir) = shared() else { return };
    let expected = Command::new("xz")
        .arg("-dc")
        .arg(dir.join("user_agents/expected.jsonl.xz"))
        .output()
        .expect("run xz -dc");
    assert!(expected.status.success(), "xz -dc failed");
    let n = check_user_agents(
        &dir.join("user_agents/user_agents.txt"),
        &String::from_utf8_lossy(&expected.stdout),
    );
    assert!(n > 5000, "the shared corpus has only {n} user agents");
}

/// Our own payloads in `tests/data/<case>/`: `dcs.json` (or a file `payload` holding the
/// path of the payload, relative to the case), `users.jsonl`, optional
/// `environment`, and `expected.jsonl` produced by the reference evaluator
/// (`../shared/oracle`). A case may instead name the expected answers of another case in a
/// file `same_as` (a v1 payload must answer exactly like its v2 equivalent).
#[test]
fn own_cases_agree_fully() {
    let Some(dir) = shared() else { return };
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&data)
        .expect("tests/data")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.join("dcs.json").is_file() || p.join("payload").is_file())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases in {}", data.display());
    let driver = driver();
    let tmp = std::env::temp_dir().join(format!("flagcore-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let mut failed = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let expected = match std::fs::read_to_string(case.join("same_as")) {
            Ok(other) => data.join(other.trim()).join("expected.jsonl"),
            Err(_) => case.join("expected.jsonl"),
        };
        let users_dir = if case.join("users.jsonl").is_file() {
            case.clone()
        } else {
            expected.parent().unwrap().to_path_buf()
        };
        let dcs = match std::fs::read_to_string(case.join("payload")) {
            Ok(path) => case.join(path.trim()),
            Err(_) => case.join("dcs.json"),
        };
        let mut cmd = Command::new(&driver);
        cmd.arg(dcs);
        if let Ok(tier) = std::fs::read_to_string(case.join("environment")) {
            cmd.arg(tier.trim());
        }
        let users = std::fs::File::open(users_dir.join("users.jsonl")).expect("users.jsonl");
        let out = cmd
            .stdin(Stdio::from(users))
            .output()
            .expect("run evaluate");
        assert!(
            out.status.success(),
            "{name}: evaluate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let actual = tmp.join(format!("{name}.jsonl"));
        std::fs::write(&actual, &out.stdout).expect("write results");
        let cmp = Command::new("python3")
            .arg(dir.join("compare.py"))
            .arg(&expected)
            .arg(&actual)
            .args(["--show", "3"])
            .output()
            .expect("run compare.py");
        let report = String::from_utf8_lossy(&cmp.stdout);
        println!("== {name}\n{report}");
        if !cmp.status.success() {
            failed.push(name);
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(
        failed.is_empty(),
        "cases disagreeing with the official core: {failed:?}"
    );
}

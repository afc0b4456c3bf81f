//! Conformance with Statsig's official core: runs the `evaluate` example over the
//! repository's `conformance/` corpus (every fixture, and the user-agent corpus) and over this
//! project's own cases in `tests/data/`, and requires 100% agreement.
//!
//! The corpus is part of the repository; a missing file fails the test. Each test writes a
//! one-line summary (lines compared, agreement) straight to the terminal, so that it shows
//! in a normal `cargo test` run without `--nocapture`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The repository's conformance corpus (`conformance/` at the top of the checkout).
fn corpus() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance");
    assert!(
        dir.join("run.sh").is_file(),
        "{} is missing: the conformance corpus is part of the repository",
        dir.display()
    );
    dir
}

/// Writes `line` to the terminal past the test harness's output capture (which only takes
/// `print!`/`eprint!`), so the figures show in every run.
fn summary(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
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
    let dir = corpus();
    let out = Command::new("bash")
        .arg(dir.join("run.sh"))
        .arg(driver())
        .output()
        .expect("run run.sh");
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "conformance below 100%:\n{report}");
    let overall = report
        .lines()
        .find_map(|l| l.strip_prefix("overall agreement: "))
        .unwrap_or_else(|| panic!("no overall agreement line:\n{report}"));
    summary(&format!(
        "conformance fixtures: {overall} result lines agree"
    ));
    let (agree, total) = overall
        .split_once(" = ")
        .and_then(|(n, _)| n.split_once('/'))
        .and_then(|(a, t)| Some((a.parse::<u64>().ok()?, t.parse::<u64>().ok()?)))
        .unwrap_or_else(|| panic!("unparsable agreement line: {overall}"));
    assert_eq!(agree, total, "conformance below 100%:\n{report}");
    assert!(
        total >= 75_000,
        "only {total} result lines compared: is the corpus complete?"
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
    summary(&format!(
        "conformance user agents ({}): {}/{} agree",
        input.display(),
        want.len() - mismatches.len(),
        want.len()
    ));
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
    let dir = corpus();
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
    assert!(n > 5000, "the corpus has only {n} user agents");
}

/// Our own payloads in `tests/data/<case>/`: `dcs.json` (or a file `payload` holding the
/// path of the payload, relative to the case), `users.jsonl`, optional
/// `environment`, and `expected.jsonl` produced by the reference evaluator
/// (a program over Statsig's official core, see `conformance/README.md`). A case may instead name the expected answers of another case in a
/// file `same_as` (a v1 payload must answer exactly like its v2 equivalent).
#[test]
fn own_cases_agree_fully() {
    let dir = corpus();
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
    let mut lines = 0u64;
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
        let counted = report
            .lines()
            .find_map(|l| l.strip_prefix("agreement: "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|l| l.split_once('/'))
            .and_then(|(a, t)| Some((a.parse::<u64>().ok()?, t.parse::<u64>().ok()?)));
        match counted {
            Some((a, t)) if cmp.status.success() && a == t && t > 0 => {
                lines += t;
            }
            _ => failed.push(name),
        }
    }
    summary(&format!(
        "conformance own cases: {} cases, {lines} result lines, {} disagreeing",
        cases.len(),
        failed.len()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(
        failed.is_empty(),
        "cases disagreeing with the official core: {failed:?}"
    );
}

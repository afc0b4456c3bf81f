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

/// Runs `evaluate MODE_ARGS DCS [TIER]` over the first `n` users of `fixture` and compares
/// its output with `expected` by `compare_client_init.py` (only `response/sdkInfo`, which
/// names the SDK, is ignored). Returns the comparer's report; panics on disagreement.
fn check_client_lines(
    driver: &Path,
    fixture: &Path,
    args: &[String],
    expected: &Path,
    tmp: &Path,
) -> String {
    let name = format!(
        "{}-{}",
        fixture.file_name().unwrap().to_string_lossy(),
        expected.file_name().unwrap().to_string_lossy()
    );
    let want = Command::new("xz")
        .arg("-dc")
        .arg(expected)
        .output()
        .expect("run xz -dc");
    assert!(
        want.status.success(),
        "xz -dc {} failed",
        expected.display()
    );
    // The answers cover the first `n` users (several lines a user for parameter stores).
    let n = String::from_utf8_lossy(&want.stdout)
        .lines()
        .map(|l| {
            let row: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            row["u"].as_u64().expect("a user number") as usize + 1
        })
        .max()
        .expect("answers present");
    let users = std::fs::read_to_string(fixture.join("users.jsonl")).expect("users.jsonl");
    let users: String = users.lines().take(n).map(|l| format!("{l}\n")).collect();
    let mut cmd = Command::new(driver);
    cmd.args(args).arg(fixture.join("dcs.json"));
    if let Ok(tier) = std::fs::read_to_string(fixture.join("environment")) {
        cmd.arg(tier.trim());
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run evaluate");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        use std::io::Write as _;
        stdin.write_all(users.as_bytes()).expect("write users");
    });
    let out = child.wait_with_output().expect("evaluate output");
    writer.join().expect("writer thread");
    assert!(out.status.success(), "{name}: evaluate {args:?} failed");
    let actual = tmp.join(format!("{name}.jsonl"));
    std::fs::write(&actual, &out.stdout).expect("write results");
    let cmp = Command::new("python3")
        .arg(corpus().join("compare_client_init.py"))
        .args(["--ignore", "response/sdkInfo"])
        .arg(expected)
        .arg(&actual)
        .output()
        .expect("run compare_client_init.py");
    let report = String::from_utf8_lossy(&cmp.stdout).trim().to_owned();
    assert!(
        cmp.status.success(),
        "{name} disagrees with the official core:\n{report}"
    );
    format!("{name}: {report}")
}

/// Every fixture's client initialize responses (`client_init*.jsonl.xz`: djb2, and where
/// present sha256, none and filtered by the fixture's `client_key`) agree fully.
#[test]
fn client_init_responses_agree_fully() {
    let fixtures = corpus().join("fixtures");
    let driver = driver();
    let tmp = std::env::temp_dir().join(format!("flagcore-client-init-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .expect("fixtures")
        .map(|e| e.expect("dir entry").path())
        .collect();
    dirs.sort();
    let mut files = 0;
    for dir in &dirs {
        let mut expected: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("fixture dir")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy();
                n.starts_with("client_init") && n.ends_with(".jsonl.xz")
            })
            .collect();
        expected.sort();
        for file in expected {
            let stem = file.file_name().unwrap().to_string_lossy().into_owned();
            let mut args = vec!["--client-init".to_owned()];
            match stem.trim_end_matches(".jsonl.xz") {
                "client_init" => {}
                "client_init_sha256" => args.extend(["--hash".into(), "sha256".into()]),
                "client_init_none" => args.extend(["--hash".into(), "none".into()]),
                "client_init_clientkey" => {
                    let key = std::fs::read_to_string(dir.join("client_key")).expect("client_key");
                    args.extend(["--client-key".into(), key.trim().to_owned()]);
                }
                other => panic!("{}: unknown answer file {other}", dir.display()),
            }
            summary(&check_client_lines(&driver, dir, &args, &file, &tmp));
            files += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(
        files >= 10,
        "only {files} client-init answer files in the corpus"
    );
}

/// Every fixture's parameter-store values (`param_stores.jsonl.xz`) agree fully.
#[test]
fn parameter_stores_agree_fully() {
    let fixtures = corpus().join("fixtures");
    let driver = driver();
    let tmp = std::env::temp_dir().join(format!("flagcore-param-stores-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .expect("fixtures")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.join("param_stores.jsonl.xz").is_file())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 3,
        "only {} fixtures with parameter stores",
        dirs.len()
    );
    for dir in &dirs {
        let args = ["--param-stores".to_owned()];
        let expected = dir.join("param_stores.jsonl.xz");
        summary(&check_client_lines(&driver, dir, &args, &expected, &tmp));
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Runs `evaluate ARGS` with `stdin` (a file, or nothing) and compares its output with the
/// official answers `expected` by `compare_client_init.py` (only `response/sdkInfo`, which
/// names the SDK, is ignored). Returns the number of lines that agree; panics on disagreement.
fn check_result_lines(
    driver: &Path,
    args: &[String],
    stdin: Option<&Path>,
    expected: &Path,
    actual: &Path,
) -> usize {
    let mut cmd = Command::new(driver);
    cmd.args(args);
    match stdin {
        Some(path) => cmd.stdin(Stdio::from(std::fs::File::open(path).expect("users"))),
        None => cmd.stdin(Stdio::null()),
    };
    let out = cmd.output().expect("run evaluate");
    assert!(
        out.status.success(),
        "evaluate {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(actual, &out.stdout).expect("write results");
    let cmp = Command::new("python3")
        .arg(corpus().join("compare_client_init.py"))
        .args(["--ignore", "response/sdkInfo"])
        .arg(expected)
        .arg(actual)
        .output()
        .expect("run compare_client_init.py");
    let report = String::from_utf8_lossy(&cmp.stdout).trim().to_owned();
    assert!(
        cmp.status.success(),
        "evaluate {args:?} disagrees with the official core ({}):\n{report}",
        expected.display()
    );
    report
        .strip_prefix("OK: ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("an OK line count")
}

/// Local overrides (`tests/data/overrides/*`): after each case's override operations, every
/// entity's result (value, rule id, group, unit type, reason, exposures), every parameter-store
/// parameter and the client initialize response with the overrides applied agree fully with the
/// official core; so do each config's experiment groups and the results by group name and id.
#[test]
fn overrides_agree_fully() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/overrides");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&data)
        .expect("tests/data/overrides")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.join("ops.json").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 5, "only {} override cases", cases.len());
    let driver = driver();
    let tmp = std::env::temp_dir().join(format!("flagcore-overrides-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let (mut results, mut groups) = (0, 0);
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let payload = std::fs::read_to_string(case.join("payload")).expect("payload");
        let dcs = case.join(payload.trim()).to_string_lossy().into_owned();
        let tier: Vec<String> = std::fs::read_to_string(case.join("environment"))
            .map(|t| vec![t.trim().to_owned()])
            .unwrap_or_default();
        let ops = case.join("ops.json").to_string_lossy().into_owned();
        let mut args = vec!["--overrides".to_owned(), ops, dcs.clone()];
        args.extend(tier.iter().cloned());
        results += check_result_lines(
            &driver,
            &args,
            Some(&case.join("users.jsonl")),
            &case.join("expected.jsonl.xz"),
            &tmp.join(format!("{name}.jsonl")),
        );
        let mut args = vec!["--experiment-groups".to_owned(), dcs];
        args.extend(tier);
        args.push("--".into());
        let extra = std::fs::read_to_string(case.join("group_extra_names")).unwrap_or_default();
        args.extend(extra.lines().map(String::from));
        groups += check_result_lines(
            &driver,
            &args,
            None,
            &case.join("groups.jsonl.xz"),
            &tmp.join(format!("{name}-groups.jsonl")),
        );
    }
    summary(&format!(
        "conformance overrides: {} cases, {results} result/response lines and {groups} \
         experiment-group lines, all agreeing",
        cases.len()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Sticky assignments (`tests/data/sticky/`): every step of `script.jsonl` (a user, an
/// experiment or layer, a payload among `a.json`, `b.json`, `c.json` whose allocations
/// differ, the persisted values passed, the enforce flags) evaluated with
/// `experiment_sticky` / `layer_sticky`, given the persisted values the official core was
/// given (`persisted_in`, as its storage wrote them), against the official answer in
/// `expected.jsonl` (made by `gen_sticky.py` and the reference program's `--sticky` mode):
/// value, rule id, group, reason, lcut, active state, exposure lists, allocated experiment,
/// and the save or delete the official core made, the saved values compared as JSON.
#[test]
fn sticky_assignments_agree_fully() {
    use flagcore::sticky::{StickyOptions, UserPersistedValues};
    use flagcore::{Exposures, Scratch, Store, UserData};
    use serde_json::Value;
    use std::collections::HashMap;

    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sticky");
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let script: Vec<Value> = read("script.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("script line"))
        .collect();
    let expected: Vec<Value> = read("expected.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("expected line"))
        .collect();
    assert_eq!(script.len(), expected.len(), "one answer per step");
    let mut stores: HashMap<String, Store> = HashMap::new();
    let mut scratch = Scratch::new();
    let (mut agree, mut persisted, mut saves, mut deletes) = (0usize, 0usize, 0usize, 0usize);
    let mut shown = 0;
    for (step, want) in script.iter().zip(&expected) {
        let payload = step["payload"].as_str().expect("payload");
        let store = stores.entry(payload.to_owned()).or_insert_with(|| {
            let store = Store::new();
            store
                .load_json(read(payload).as_bytes())
                .expect("payload loads");
            store
        });
        let snapshot = store.snapshot();
        let data = UserData::from_json(step["user"].to_string().as_bytes()).expect("user");
        let user = data.view();
        let values: Option<UserPersistedValues> = match &want["persisted_in"] {
            Value::Null => None,
            v => Some(serde_json::from_value(v.clone()).expect("official values load")),
        };
        let options = StickyOptions {
            persisted: values.as_ref(),
            enforce_overrides: step["enforce_overrides"].as_bool().unwrap_or(false),
            enforce_targeting: step["enforce_targeting"].as_bool().unwrap_or(false),
            exposures: Exposures::Suppress,
        };
        let name = step["name"].as_str().expect("name");
        let got = if step["kind"] == "layer" {
            let (layer, change) = snapshot.layer_sticky(&user, name, options);
            flagcore_examples::sticky_line(&layer.evaluation(), &change, values.as_ref())
        } else {
            let (e, change) = snapshot.experiment_sticky(&mut scratch, &user, name, options);
            flagcore_examples::sticky_line(&e, &change, values.as_ref())
        };
        let same = got["result"] == want["result"] && got["ops"] == want["ops"];
        if same {
            agree += 1;
        } else if shown < 3 {
            shown += 1;
            println!(
                "step {}: {step}\n  official {}\n  flagcore {got}",
                want["step"],
                serde_json::json!({"result": want["result"], "ops": want["ops"]})
            );
        }
        persisted += usize::from(want["result"]["reason"] == "Persisted");
        saves += usize::from(want["ops"][0]["op"] == "save");
        deletes += usize::from(want["ops"][0]["op"] == "delete");
    }
    summary(&format!(
        "conformance sticky assignments: {agree}/{} steps agree ({persisted} persisted results, \
         {saves} saves, {deletes} deletes in the official answers)",
        expected.len()
    ));
    assert_eq!(
        agree,
        expected.len(),
        "sticky steps disagreeing with the official core"
    );
    assert!(
        persisted > 100 && saves > 100,
        "the cases exercise stickiness"
    );
}

//! The `flagcore` binary, run as a real process: exit codes, golden text output on a small
//! hand-written payload (`tests/data`, see its README), `eval --explain` agreeing with
//! `eval` over the conformance corpus, and `diff` measuring a rollout change.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `flagcore args…` in `tests/data`.
fn flagcore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flagcore"))
        .args(args)
        .current_dir(data())
        .output()
        .expect("flagcore runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

/// Runs and requires exit code 0; the standard output.
fn ok(args: &[&str]) -> String {
    let out = flagcore(args);
    assert!(
        out.status.success(),
        "flagcore {args:?}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

fn golden(name: &str) -> String {
    std::fs::read_to_string(data().join(name)).expect("golden file")
}

#[test]
fn validate_exit_codes() {
    assert_eq!(flagcore(&["validate", "small.json"]).status.code(), Some(0));
    assert_eq!(
        flagcore(&["validate", "small.json", "--strict"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        flagcore(&["validate", "dropped.json"]).status.code(),
        Some(0)
    );
    assert_eq!(
        flagcore(&["validate", "dropped.json", "--strict"])
            .status
            .code(),
        Some(1)
    );

    let garbage =
        std::env::temp_dir().join(format!("flagcore-cli-garbage-{}.json", std::process::id()));
    std::fs::write(&garbage, b"{\"feature_gates\": [").expect("temp file");
    let out = flagcore(&["validate", garbage.to_str().expect("UTF-8 path")]);
    std::fs::remove_file(&garbage).ok();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("payload rejected: payload is not valid JSON"),
        "{err}"
    );

    let out = flagcore(&["validate", "no-such-file.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-file.json"));
}

#[test]
fn validate_lists_dropped_specs() {
    let text = ok(&["validate", "dropped.json"]);
    assert!(text.contains("3 feature gates"), "{text}");
    assert!(text.contains("1 dropped specs"), "{text}");
    assert!(
        text.contains(
            "  feature_gates/broken (feature_gate): invalid type: string \"not a list\", \
             expected a sequence"
        ),
        "{text}"
    );
    let json: Value = serde_json::from_str(&ok(&["validate", "dropped.json", "--format", "json"]))
        .expect("JSON report");
    assert_eq!(json["counts"]["feature gates"], 3);
    assert_eq!(json["dropped_specs"][0]["name"], "broken");
    assert_eq!(json["dropped_specs"][0]["section"], "feature_gates");
}

#[test]
fn golden_text_of_validate_eval_and_explain() {
    assert_eq!(
        ok(&["validate", "small.json"]),
        golden("validate_small.txt")
    );
    let ana = r#"{"userID": "ana", "email": "ana@example.com"}"#;
    assert_eq!(
        ok(&["eval", "small.json", "--user", ana]),
        golden("eval_ana.txt")
    );
    let cy = r#"{"userID": "cy", "custom": {"plan": "pro"}}"#;
    assert_eq!(
        ok(&["eval", "small.json", "--user", cy, "beta", "--explain"]),
        golden("explain_cy.txt")
    );
}

#[test]
fn eval_names_kinds_and_errors() {
    let u = r#"{"userID": "bob", "country": "NZ"}"#;
    let one = ok(&["eval", "small.json", "--user", u, "pricing"]);
    assert_eq!(
        one,
        "config `pricing`: {\"currency\":\"NZD\"} (rule `nz`, Recognized)\n"
    );
    let out = flagcore(&["eval", "small.json", "--user", u, "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no entity named `nope`"));
    let unknown = ok(&["eval", "small.json", "--user", u, "nope", "--kind", "gate"]);
    assert_eq!(unknown, "gate `nope`: false (rule ``, Unrecognized)\n");
    let out = flagcore(&["eval", "small.json", "--user", "not json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a user JSON object"));
}

/// The entries of `eval --explain --format json` without their steps equal those of
/// `eval --format json`, for the first users of every shared conformance fixture.
#[test]
fn explain_json_agrees_with_eval_json_over_the_corpus() {
    const USERS_PER_FIXTURE: usize = 8;
    let dir = repo().join("conformance/fixtures");
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("conformance/fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("dcs.json").is_file())
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 5, "too few fixtures in {}", dir.display());
    let mut answers = 0;
    for fixture in &fixtures {
        let dcs = fixture.join("dcs.json");
        let dcs = dcs.to_str().expect("UTF-8 path");
        let env = std::fs::read_to_string(fixture.join("environment")).ok();
        let users = std::fs::read_to_string(fixture.join("users.jsonl")).expect("users");
        for user in users.lines().take(USERS_PER_FIXTURE) {
            let mut args = vec!["eval", dcs, "--user", user, "--format", "json"];
            if let Some(env) = &env {
                args.extend(["--environment", env.trim()]);
            }
            let plain: Value = serde_json::from_str(&ok(&args)).expect("JSON");
            args.push("--explain");
            let mut explained: Value = serde_json::from_str(&ok(&args)).expect("JSON");
            for trace in explained.as_array_mut().expect("an array") {
                let steps = trace
                    .as_object_mut()
                    .expect("a trace object")
                    .remove("steps");
                assert!(steps.is_some_and(|s| s.is_array()), "a trace without steps");
            }
            assert_eq!(plain, explained, "{} user {user}", fixture.display());
            answers += plain.as_array().map_or(0, Vec::len);
        }
    }
    println!("cli explain: {answers} answers of `eval --explain` equal `eval`'s");
    assert!(answers > 500, "too few answers compared: {answers}");
}

/// `new_checkout` of the bundled demo payload lets 10% of users in by its `rule_rollout`
/// (after `rule_dogfood`, which lets in `@acme.com` emails). Raising it to 50% moves 40% of
/// the users who reach that rule from `false` to `true`, with the same rule id; nothing else
/// changes.
#[test]
fn diff_measures_a_rollout_change() {
    const USERS: usize = 3000;
    let old_path = repo().join("examples/data/demo.json");
    let mut payload: Value =
        serde_json::from_slice(&std::fs::read(&old_path).expect("demo.json")).expect("JSON");
    let rule = payload["feature_gates"]["new_checkout"]["rules"]
        .as_array_mut()
        .expect("rules")
        .iter_mut()
        .find(|r| r["id"] == "rule_rollout")
        .expect("rule_rollout");
    assert_eq!(rule["passPercentage"], 10);
    rule["passPercentage"] = 50.into();

    let tmp = std::env::temp_dir().join(format!("flagcore-cli-diff-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let new_path = tmp.join("new.json");
    std::fs::write(&new_path, serde_json::to_vec(&payload).expect("JSON")).expect("write");
    // Every tenth user is on the dogfood team (answered by rule_dogfood either way).
    let mut users = String::new();
    let mut reaching = 0;
    for i in 0..USERS {
        let email = if i % 10 == 0 {
            "acme.com"
        } else {
            "example.org"
        };
        let country = if i % 7 == 0 { "NZ" } else { "US" };
        users.push_str(&format!(
            "{{\"userID\": \"diff-{i}\", \"email\": \"u{i}@{email}\", \"country\": \"{country}\"}}\n"
        ));
        reaching += usize::from(i % 10 != 0);
    }
    let users_path = tmp.join("users.jsonl");
    std::fs::write(&users_path, users).expect("write");

    let out = ok(&[
        "diff",
        old_path.to_str().expect("UTF-8"),
        new_path.to_str().expect("UTF-8"),
        "--users",
        users_path.to_str().expect("UTF-8"),
        "--format",
        "json",
    ]);
    std::fs::remove_dir_all(&tmp).ok();
    let report: Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(report["users"], USERS);
    let entities = report["entities"].as_array().expect("entities");
    assert_eq!(entities.len(), 5, "{report:#}");
    for e in entities {
        let changed = e["changed"].as_u64().expect("count") as usize;
        if e["name"] != "new_checkout" {
            assert_eq!(changed, 0, "{} changed", e["name"]);
            continue;
        }
        let share = changed as f64 / reaching as f64;
        let (p, n) = (0.4, reaching as f64);
        let tolerance = 4.0 * (p * (1.0 - p) / n).sqrt();
        assert!(
            (share - p).abs() < tolerance,
            "changed share {share:.4} of {reaching} users, expected {p} ± {tolerance:.4}"
        );
        assert_eq!(e["value_changed"], changed);
        assert_eq!(e["rule_changed"], 0);
        assert_eq!(e["group_changed"], 0);
        for x in e["examples"].as_array().expect("examples") {
            assert_eq!(x["old"]["value"], false);
            assert_eq!(x["new"]["value"], true);
            assert_eq!(x["old"]["rule_id"], "rule_rollout");
        }
        println!("diff: new_checkout 10% -> 50% changed {share:.4} of {reaching} users (expected 0.4 ± {tolerance:.4})");
    }
}

#[test]
fn init_response_is_the_client_initialize_response() {
    let u = r#"{"userID": "ana", "email": "ana@example.com"}"#;
    let text = ok(&["init-response", "small.json", "--user", u, "--hash", "none"]);
    let body: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(body["feature_gates"]["employees"]["value"], true);
    assert_eq!(body["feature_gates"]["employees"]["rule_id"], "staff");
    assert_eq!(
        body["dynamic_configs"]["pricing"]["value"]["currency"],
        "USD"
    );
    // djb2 (the default) hashes the names.
    let hashed: Value =
        serde_json::from_str(&ok(&["init-response", "small.json", "--user", u])).expect("JSON");
    assert!(hashed["feature_gates"].get("employees").is_none());
    assert_eq!(
        hashed["feature_gates"].as_object().map(|m| m.len()),
        Some(3)
    );
}

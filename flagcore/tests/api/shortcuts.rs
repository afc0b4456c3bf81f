//! The fast paths give the general evaluation's answers.
//!
//! `check_gate` skips the result record (and answers from load-time constants where a
//! gate's value is the same for everyone); `gate`, `dynamic_config`, `experiment` and
//! `layer` collect no secondary exposures when no exposure sink is installed. Each is
//! compared here, on every entity of every conformance fixture and of this project's own
//! cases, with `Snapshot::evaluate` (the conformance driver's path), with and without a
//! sink.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flagcore::{
    Evaluation, Exposure, ExposureSink, Exposures, Kind, Options, Ruleset, Scratch, Store, UserData,
};

#[derive(Default)]
struct CountingSink(AtomicU64);

impl ExposureSink for CountingSink {
    fn log(&self, _: &Exposure<'_>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every field of a result except the exposure lists (which only `evaluate` returns).
fn fields(e: &Evaluation<'_>) -> String {
    format!(
        "{:?} {} {} {} {:?} {} {:?} {} {} {} {:?} {:?} {:?} {} {} {:?} {:?}",
        e.kind(),
        e.name(),
        e.value(),
        serde_json::to_string(&e.json()).unwrap_or_default(),
        e.rule_id(),
        e.id_type(),
        e.group_name(),
        e.is_user_in_experiment(),
        e.is_experiment_active(),
        e.is_in_layer(),
        e.explicit_parameters().collect::<Vec<_>>(),
        e.allocated_experiment(),
        e.reason(),
        e.used_id_list(),
        e.ruleset_time(),
        e.override_config_name(),
        e.json()
            .keys()
            .map(|k| (k, e.parameter_rule_id(k)))
            .collect::<Vec<_>>(),
    )
}

/// `(payload, users)` of every case there is: the conformance fixtures and the project's own.
fn cases() -> Vec<(String, Vec<u8>, Vec<UserData>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = Vec::new();
    for base in [
        root.join("../conformance/fixtures"),
        root.join("../examples/tests/data"),
    ] {
        let entries =
            std::fs::read_dir(&base).unwrap_or_else(|e| panic!("{}: {e}", base.display()));
        dirs.extend(entries.flatten().map(|e| e.path()));
    }
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        let (Ok(dcs), Ok(users)) = (
            std::fs::read(dir.join("dcs.json")),
            std::fs::read_to_string(dir.join("users.jsonl")),
        ) else {
            continue;
        };
        let users = users
            .lines()
            .take(60)
            .map(|l| UserData::from_json(l.as_bytes()).expect("user JSON"))
            .collect();
        out.push((dir.display().to_string(), dcs, users));
    }
    out
}

#[test]
fn fast_paths_agree_with_the_general_evaluation() {
    let cases = cases();
    let mut compared = 0u64;
    for (name, dcs, users) in &cases {
        let ruleset = Arc::new(Ruleset::from_json(dcs).expect("case loads"));
        let plain = Store::new();
        plain.install(ruleset.clone());
        let sink = Arc::new(CountingSink::default());
        let logged = Store::with_options(Options {
            exposure_sink: Some(sink.clone()),
            ..Options::default()
        });
        logged.install(ruleset.clone());
        let mut scratch = Scratch::new();
        for data in users {
            let user = data.view();
            for store in [&plain, &logged] {
                let snapshot = store.snapshot();
                for gate in ruleset.gate_names().chain(["no_such_gate"]) {
                    let full = snapshot.evaluate(
                        &mut scratch,
                        &user,
                        Kind::Gate,
                        gate,
                        Exposures::Suppress,
                    );
                    let want = fields(&full);
                    let full_value = full.value();
                    assert_eq!(
                        snapshot.check_gate(&user, gate),
                        full_value,
                        "{name}: check_gate {gate} for {data:?}"
                    );
                    assert_eq!(
                        ruleset.check_gate(&user, gate),
                        full_value,
                        "{name}: {gate}"
                    );
                    assert_eq!(fields(&snapshot.gate(&user, gate)), want, "{name}: {gate}");
                    compared += 3;
                }
                for (config, entity) in ruleset.config_names() {
                    let kind = if entity == "experiment" {
                        Kind::Experiment
                    } else {
                        Kind::DynamicConfig
                    };
                    let want = fields(&snapshot.evaluate(
                        &mut scratch,
                        &user,
                        kind,
                        config,
                        Exposures::Suppress,
                    ));
                    let got = match kind {
                        Kind::Experiment => snapshot.experiment(&user, config),
                        _ => snapshot.dynamic_config(&user, config),
                    };
                    assert_eq!(fields(&got), want, "{name}: {config} for {data:?}");
                    compared += 1;
                }
                for layer in ruleset.layer_names() {
                    let want = fields(&snapshot.evaluate(
                        &mut scratch,
                        &user,
                        Kind::Layer,
                        layer,
                        Exposures::Suppress,
                    ));
                    assert_eq!(
                        fields(&snapshot.layer(&user, layer)),
                        want,
                        "{name}: {layer} for {data:?}"
                    );
                    compared += 1;
                }
            }
        }
    }
    assert!(
        cases.iter().any(|(n, _, _)| n.contains("examples")),
        "the project's own cases are always there"
    );
    assert!(compared > 1000, "only {compared} comparisons");
    eprintln!("{compared} results compared over {} cases", cases.len());
}

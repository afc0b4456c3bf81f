//! `View::explain` over the conformance corpus: for every user and entity of the shared
//! fixtures and of this project's own cases (`examples/tests/data/*` with a `dcs.json` and
//! `users.jsonl`), the trace's answer equals the normal evaluation's (value, rule id,
//! group, reason, allocated experiment), and the trace agrees with itself: the spec it
//! records ends on the answer's rule, the deciding rule's conditions passed, each rule's
//! recorded AND is the AND of its recorded conditions, and each bucket lies on the side of
//! the threshold its outcome says.
//!
//! Every (user, entity) of the corpus is checked (92,126 traces, about 5 s in debug); the
//! counts are printed.

use std::path::{Path, PathBuf};

use flagcore::{
    Answer, Exposures, Kind, Options, Scratch, SpecTrace, Store, Trace, TraceStep, UserData,
};

use super::common::{shared_fixtures, users_from};

fn own_cases() -> Vec<PathBuf> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/tests/data");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&data)
        .expect("examples/tests/data")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.join("dcs.json").is_file() && p.join("users.jsonl").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "too few own cases in {}", data.display());
    cases
}

/// Checks the trace's own record against its answer; returns the number of facts checked.
fn check_consistent(trace: &Trace, kind: Kind, at: &str) -> usize {
    let mut facts = 0;
    let answer = &trace.answer;
    // Every rule anywhere: its AND and its bucket.
    facts += check_steps(&trace.steps, at);
    if !matches!(
        answer.reason.as_str(),
        "Recognized" | "Unsupported" | "CountryLookupNotLoaded"
    ) {
        return facts;
    }
    // The spec that answered is the last spec at the top level (after any config-mapping
    // rules, whose mapped spec sits in the rule that matched).
    let Some(spec) = answering_spec(&trace.steps) else {
        // A local override answered (not in these cases) or nothing was evaluated.
        panic!("{at}: no spec in the trace of a {} answer", answer.reason);
    };
    assert_eq!(
        spec.rule_id, answer.rule_id,
        "{at}: the spec's recorded rule"
    );
    facts += 1;
    if kind == Kind::Gate {
        assert_eq!(
            serde_json::Value::Bool(spec.value),
            answer.value,
            "{at}: the gate's recorded value"
        );
        facts += 1;
    }
    if matches!(kind, Kind::Experiment | Kind::Layer) {
        assert_eq!(spec.group_name, answer.group_name, "{at}: recorded group");
        facts += 1;
    }
    let decided = kind != Kind::Layer && answer.reason != "Unsupported";
    if decided && !matches!(answer.rule_id.as_str(), "default" | "disabled" | "") {
        // The deciding rule is the last rule the spec visited, and its conditions passed;
        // where it delegates (a rule with a config delegate), the delegate's rule decides.
        let mut spec = spec;
        loop {
            let last = spec.steps.iter().rev().find_map(|s| match s {
                TraceStep::Rule(r) => Some(r),
                _ => None,
            });
            let rule = last.unwrap_or_else(|| panic!("{at}: no rule visited"));
            assert!(
                rule.public_only || rule.conditions_pass == Some(true),
                "{at}: the deciding rule's conditions did not pass"
            );
            facts += 1;
            match rule.then.iter().find_map(|s| match s {
                TraceStep::Spec(d) => Some(d),
                _ => None,
            }) {
                Some(delegate) => spec = delegate,
                None => {
                    assert_eq!(rule.id, answer.rule_id, "{at}: the last rule visited");
                    facts += 1;
                    break;
                }
            }
        }
    }
    facts
}

fn answering_spec(steps: &[TraceStep]) -> Option<&SpecTrace> {
    match steps.last()? {
        TraceStep::Spec(s) => Some(s),
        TraceStep::Rule(r) => answering_spec(&r.then),
        TraceStep::Mapping(m) => answering_spec(&m.steps),
        _ => None,
    }
}

fn check_steps(steps: &[TraceStep], at: &str) -> usize {
    let mut facts = 0;
    for step in steps {
        match step {
            TraceStep::Spec(s) => facts += check_steps(&s.steps, at),
            TraceStep::Mapping(m) => facts += check_steps(&m.steps, at),
            TraceStep::Rule(r) => {
                let unsupported = r.conditions.iter().any(|c| c.unsupported);
                if let (Some(all), false) = (r.conditions_pass, unsupported) {
                    let and = r.conditions.iter().all(|c| c.pass);
                    assert_eq!(all, and, "{at}: rule `{}`'s AND of its conditions", r.id);
                    facts += 1;
                }
                if let Some(p) = &r.percentage {
                    if let Some(b) = p.bucket {
                        assert!(b < 10_000, "{at}: bucket {b}");
                        assert_eq!(
                            (b as f64) < p.pass_percentage * 100.0,
                            p.pass,
                            "{at}: bucket {b} against {}%",
                            p.pass_percentage
                        );
                        facts += 1;
                    }
                }
                for c in &r.conditions {
                    facts += check_steps(&c.nested, at);
                }
                facts += check_steps(&r.then, at);
            }
            _ => {}
        }
    }
    facts
}

/// Explains every (user, entity) of the case at `dir`; returns (checks, facts).
fn check_case(dir: &Path) -> (usize, usize) {
    let payload = std::fs::read(dir.join("dcs.json")).expect("dcs.json");
    let environment = std::fs::read_to_string(dir.join("environment"))
        .ok()
        .map(|s| s.trim().to_owned());
    let store = Store::with_options(Options {
        environment,
        ..Options::default()
    });
    store.load_json(&payload).expect("the case loads");
    let users: Vec<UserData> = users_from(&dir.join("users.jsonl"));
    let snapshot = store.snapshot();
    let entities = snapshot.ruleset().expect("loaded").entities();
    let mut scratch = Scratch::new();
    let (mut checks, mut facts) = (0, 0);
    for (u, data) in users.iter().enumerate() {
        let user = data.view();
        for (kind, name) in &entities {
            let at = format!("{}: user #{u}, {kind:?} `{name}`", dir.display());
            let normal = Answer::new(&snapshot.evaluate(
                &mut scratch,
                &user,
                *kind,
                name,
                Exposures::Suppress,
            ));
            let trace = snapshot.explain(&user, *kind, name);
            assert_eq!(trace.answer, normal, "{at}");
            facts += check_consistent(&trace, *kind, &at);
            checks += 1;
        }
    }
    (checks, facts)
}

#[test]
fn traces_answer_as_the_normal_evaluation_over_the_corpus() {
    let cases: Vec<PathBuf> = shared_fixtures().into_iter().chain(own_cases()).collect();
    let (mut checks, mut facts) = (0, 0);
    for case in &cases {
        let (c, f) = check_case(case);
        checks += c;
        facts += f;
    }
    println!(
        "explain: {checks} (user, entity) traces over {} cases equal the normal evaluation; \
         {facts} facts of the traces agree with their answers",
        cases.len()
    );
    assert!(checks > 90_000, "too few checks: {checks}");
}

/// A layer's trace holds the experiment it delegated to under the delegating rule, and
/// the experiment named by the answer is that one.
#[test]
fn a_layer_trace_holds_its_delegate_under_the_rule() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/tests/data/experiments_layers");
    let store = Store::new();
    store
        .load_json(&std::fs::read(dir.join("dcs.json")).expect("dcs.json"))
        .expect("loads");
    let snapshot = store.snapshot();
    let mut delegated = 0;
    for data in users_from(&dir.join("users.jsonl")) {
        let trace = snapshot.explain_layer(&data.view(), "layer_main");
        let Some(experiment) = &trace.answer.allocated_experiment else {
            continue;
        };
        let [TraceStep::Spec(layer)] = trace.steps.as_slice() else {
            panic!("not one spec: {trace}");
        };
        assert_eq!((layer.name.as_str(), layer.kind), ("layer_main", "layer"));
        let rule = layer
            .steps
            .iter()
            .rev()
            .find_map(|s| match s {
                TraceStep::Rule(r) => Some(r),
                _ => None,
            })
            .expect("a rule");
        let [TraceStep::Spec(delegate)] = rule.then.as_slice() else {
            panic!("no delegate under rule `{}`: {trace}", rule.id);
        };
        assert_eq!(&delegate.name, experiment);
        assert_eq!(delegate.kind, "experiment");
        assert_eq!(delegate.group_name, trace.answer.group_name);
        assert!(trace
            .to_string()
            .contains(&format!("experiment `{experiment}`")));
        delegated += 1;
    }
    assert!(delegated > 0, "no user delegated");
}

/// A local override answers without evaluating the spec, and the trace says so.
#[test]
fn a_local_override_is_a_step() {
    use super::common::{payload, public_condition, rule, spec};
    use serde_json::json;
    let store = Store::new();
    store
        .load_json(&payload(
            1,
            json!({"g": spec("feature_gate", "s", json!(false),
                json!([rule("r", 0.0, &["public"], json!(true))]))}),
            json!({}),
            json!({}),
            public_condition(),
        ))
        .expect("loads");
    let user = flagcore::User::with_user_id("u1");
    let before = store.snapshot().explain_gate(&user, "g");
    assert_eq!(before.answer.value, false);
    let [TraceStep::Spec(g)] = before.steps.as_slice() else {
        panic!("{before}");
    };
    let [TraceStep::Rule(r)] = g.steps.as_slice() else {
        panic!("{before}");
    };
    let p = r.percentage.as_ref().expect("the 0% check");
    assert_eq!((p.pass_percentage, p.bucket, p.pass), (0.0, None, false));

    store.override_gate("g", true, None);
    let after = store.snapshot().explain_gate(&user, "g");
    assert_eq!(after.answer.value, true);
    assert_eq!(after.answer.reason, "LocalOverride");
    assert!(
        matches!(after.steps.as_slice(), [TraceStep::Override { name, kind: "gate" }] if name == "g"),
        "{after}"
    );
    let json = serde_json::to_value(&after).expect("serialises");
    assert_eq!(json["steps"][0]["step"], "override");
}

//! Stress: many threads evaluate while a writer installs rulesets as fast as it can; every
//! result is checked against a single-threaded evaluation of the same ruleset made before.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use flagcore::{Exposures, Kind, Ruleset, Scratch, Store, UserData};

/// What a result must say: value, rule id, JSON value, secondary exposures.
type Answer = (bool, String, String, Vec<(String, bool, String)>);

fn answer(e: &flagcore::Evaluation<'_>) -> Answer {
    (
        e.value(),
        e.rule_id().to_owned(),
        serde_json::to_string(&e.json()).unwrap_or_default(),
        e.secondary_exposures()
            .iter()
            .map(|s| (s.gate.to_owned(), s.gate_value, s.rule_id.to_owned()))
            .collect(),
    )
}

fn entities(rs: &Ruleset) -> Vec<(Kind, String)> {
    let mut out: Vec<_> = rs
        .gate_names()
        .map(|n| (Kind::Gate, n.to_owned()))
        .collect();
    out.extend(
        rs.config_names()
            .map(|(n, _)| (Kind::Experiment, n.to_owned())),
    );
    out.extend(rs.layer_names().map(|n| (Kind::Layer, n.to_owned())));
    out
}

#[test]
fn every_concurrent_result_matches_a_single_threaded_evaluation() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/fixtures");
    let load = |name: &str| -> (Arc<Ruleset>, Vec<UserData>) {
        let read = |file: &str| {
            let path = dir.join(name).join(file);
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        };
        let (dcs, users) = (
            read("dcs.json"),
            String::from_utf8(read("users.jsonl")).expect("UTF-8"),
        );
        let users = users
            .lines()
            .take(40)
            .map(|l| UserData::from_json(l.as_bytes()).expect("user"))
            .collect();
        (Arc::new(Ruleset::from_json(&dcs).expect("loads")), users)
    };
    let ((a, users), (b, _)) = (load("eval_proj"), load("demo_proj"));
    assert_ne!(
        a.time(),
        b.time(),
        "the two rulesets must be told apart by time"
    );
    // Single-threaded answers for both rulesets, keyed by ruleset time.
    let mut expected: HashMap<(u64, usize, Kind, String), Answer> = HashMap::new();
    let mut scratch = Scratch::new();
    for rs in [&a, &b] {
        let store = Store::new();
        store.install(rs.clone());
        let snapshot = store.snapshot();
        for (u, data) in users.iter().enumerate() {
            for (kind, name) in entities(rs) {
                let view = data.view();
                let e = snapshot.evaluate(&mut scratch, &view, kind, &name, Exposures::Suppress);
                let got = answer(&e);
                expected.insert((rs.time(), u, kind, name), got);
            }
        }
    }

    let store = Store::new();
    store.install(a.clone());
    let done = AtomicBool::new(false);
    let checked = AtomicU64::new(0);
    let installs = AtomicU64::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0u64;
            while !done.load(Ordering::Relaxed) {
                store.install(if i % 2 == 0 { b.clone() } else { a.clone() });
                i += 1;
            }
            installs.store(i, Ordering::Relaxed);
        });
        let readers: Vec<_> = (0..6)
            .map(|t| {
                let (store, users, expected, checked) = (&store, &users, &expected, &checked);
                s.spawn(move || {
                    let mut scratch = Scratch::new();
                    for round in 0..30 {
                        let snapshot = store.snapshot();
                        let rs = snapshot.ruleset().expect("a ruleset");
                        let u = (t * 7 + round) % users.len();
                        let view = users[u].view();
                        for (kind, name) in entities(rs) {
                            let e = snapshot.evaluate(
                                &mut scratch,
                                &view,
                                kind,
                                &name,
                                Exposures::Suppress,
                            );
                            let want = &expected[&(rs.time(), u, kind, name.clone())];
                            assert_eq!(&answer(&e), want, "{kind:?} {name} for user {u}");
                            checked.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for r in readers {
            r.join().expect("reader");
        }
        done.store(true, Ordering::Relaxed);
    });
    println!(
        "{} results checked while {} rulesets were installed",
        checked.load(Ordering::Relaxed),
        installs.load(Ordering::Relaxed)
    );
    assert!(installs.load(Ordering::Relaxed) > 0);
}

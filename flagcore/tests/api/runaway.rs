//! Evaluation work is bounded even where errors are caught and retried.
//!
//! Config mapping skips an entry whose rule fails with an error, and abandons a mapping
//! whose target fails (as Statsig's core does), so on a payload with mapping and gate
//! cycles the work can branch at every nesting level before the depth limit ends each
//! branch. `tests/data/runaway_mapping.json` is such a payload, found by the differential
//! tests (`examples/tests/data/gen_random.py 217`): Statsig's core ran for more than ten
//! minutes on it, and flagcore did too before the evaluation budget. Now each evaluation
//! stops after a fixed number of spec evaluations and reports `DepthExceeded`.

use flagcore::{Kind, Reason, Ruleset, Scratch, User};

#[test]
fn a_payload_whose_evaluation_branches_without_end_is_cut_off() {
    let bytes = include_bytes!("../data/runaway_mapping.json");
    let rs = Ruleset::from_json(bytes).expect("loads");
    let mut scratch = Scratch::new();
    let user = User::with_user_id("u1").email("a@b.com");
    let mut cut_off = Vec::new();
    let mut entities: Vec<(Kind, String)> = rs
        .gate_names()
        .map(|n| (Kind::Gate, n.to_owned()))
        .collect();
    entities.extend(
        rs.config_names()
            .map(|(n, _)| (Kind::Experiment, n.to_owned())),
    );
    entities.extend(rs.layer_names().map(|n| (Kind::Layer, n.to_owned())));
    for (kind, name) in &entities {
        let e = rs.evaluate(&mut scratch, &user, *kind, name);
        if e.reason() == Reason::DepthExceeded {
            assert!(!e.value(), "{name}");
            cut_off.push(name.clone());
        }
        if *kind == Kind::Gate {
            assert_eq!(rs.check_gate(&user, name), e.value(), "{name}");
        }
    }
    assert!(!cut_off.is_empty(), "nothing was cut off");
    assert!(cut_off.len() < entities.len(), "everything was cut off");
}

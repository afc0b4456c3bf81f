//! Loading arbitrary bytes returns a ruleset or an error, never panics; whatever loads
//! evaluates without panicking, and its canonical form (`to_json`) loads and is a fixed point.
#![no_main]

use flagcore::{Exposures, Kind, Ruleset, Scratch, Store, User};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(rs) = Ruleset::from_json(data) else {
        return;
    };
    let canonical = rs.to_json();
    let reloaded = Ruleset::from_json(&canonical).expect("to_json output loads");
    assert!(
        reloaded.to_json() == canonical,
        "to_json is not a fixed point"
    );
    let store = Store::new();
    store.install(rs);
    let snapshot = store.snapshot();
    let Some(rs) = snapshot.ruleset() else { return };
    let user = User::with_user_id("fuzz-user")
        .email("a@b.c")
        .app_version("1.2.3");
    let mut scratch = Scratch::new();
    let names: Vec<(Kind, String)> = rs
        .gate_names()
        .map(|n| (Kind::Gate, n.to_owned()))
        .chain(
            rs.config_names()
                .map(|(n, _)| (Kind::Experiment, n.to_owned())),
        )
        .chain(rs.layer_names().map(|n| (Kind::Layer, n.to_owned())))
        .collect();
    for (kind, name) in &names {
        let e = snapshot.evaluate(&mut scratch, &user, *kind, name, Exposures::Suppress);
        let _ = (e.value(), e.rule_id(), e.secondary_exposures().len());
    }
});

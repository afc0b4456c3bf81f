//! Arbitrary users (Statsig user JSON) and names against fixed rulesets: parsing the user
//! and evaluating every kind never panics. The input is `name \n user-json`.
#![no_main]

use std::sync::OnceLock;

use flagcore::{Exposures, Kind, Scratch, Store, UserData};
use libfuzzer_sys::fuzz_target;

fn store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(|| {
        let store = Store::new();
        store
            .load_json(include_bytes!("../../examples/data/demo.json"))
            .expect("the demo ruleset loads");
        store
    })
}

fuzz_target!(|data: &[u8]| {
    let (name, user) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b""[..], data),
    };
    let name = String::from_utf8_lossy(name);
    let Ok(user) = UserData::from_json(user) else {
        return;
    };
    let view = user.view();
    let snapshot = store().snapshot();
    let mut scratch = Scratch::new();
    let names = [
        name.as_ref(),
        "new_checkout",
        "team_dogfood",
        "checkout_button",
        "pricing",
    ];
    for name in names {
        for kind in [
            Kind::Gate,
            Kind::DynamicConfig,
            Kind::Experiment,
            Kind::Layer,
        ] {
            let e = snapshot.evaluate(&mut scratch, &view, kind, name, Exposures::Suppress);
            let _ = (e.value(), e.json().len(), e.rule_id());
        }
    }
});

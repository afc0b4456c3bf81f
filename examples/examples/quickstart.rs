//! The main example: load a bundled ruleset, then check a team gate, a 10% rollout, a kill
//! switch, an experiment and a dynamic config for a few users.
//!
//! ```text
//! cargo run -p flagcore-examples --example quickstart
//! ```

use flagcore::{Attributes, Exposures, Kind, Scratch, Store, User, Value};

/// A small `download_config_specs` payload, as Statsig's servers send it.
const RULESET: &[u8] = include_bytes!("../data/demo.json");

fn main() -> Result<(), flagcore::LoadError> {
    let store = Store::new();
    let ruleset = store.load_json(RULESET)?;
    println!(
        "loaded ruleset of time {} ({} gates)\n",
        ruleset.time(),
        ruleset.gate_names().count()
    );

    let users = [
        ("ana", User::with_user_id("ana").email("ana@acme.com")),
        (
            "bo",
            User::with_user_id("bo")
                .email("bo@example.org")
                .country("NZ"),
        ),
        (
            "carmen",
            User::with_user_id("carmen").email("carmen@example.com"),
        ),
        (
            "dev-7",
            User::with_user_id("dev-7")
                .custom(Attributes::Pairs(&[("plan", Value::Str("pro"))]))
                .country("US"),
        ),
    ];

    // A snapshot is one consistent view of the store: hold it for the length of a request.
    let snapshot = store.snapshot();
    for (id, user) in &users {
        println!("user {id}");
        for gate in ["team_dogfood", "new_checkout", "payments_enabled"] {
            let result = snapshot.gate(user, gate);
            println!(
                "  gate {gate:<18} {:<5} (rule {})",
                result.value(),
                result.rule_id()
            );
        }
        let experiment = snapshot.experiment(user, "checkout_button");
        println!(
            "  experiment checkout_button: group {:?}, color {}",
            experiment.group_name().unwrap_or("-"),
            experiment
                .get("color")
                .map_or("?".into(), |c| c.to_string())
        );
        let pricing = snapshot.dynamic_config(user, "pricing");
        println!(
            "  config pricing: {}",
            serde_json::Value::Object(pricing.json().to_map())
        );
    }

    // Secondary exposures (gates checked on the way) come with a reusable scratch buffer.
    let mut scratch = Scratch::new();
    let result = snapshot.evaluate(
        &mut scratch,
        &users[0].1,
        Kind::Gate,
        "new_checkout",
        Exposures::Suppress,
    );
    println!("\nnew_checkout for ana was decided after checking:");
    for e in result.secondary_exposures().iter() {
        println!("  {} = {} (rule {})", e.gate, e.gate_value, e.rule_id);
    }

    // Kill switch: an override flips a gate for everyone at once, no deploy needed.
    drop(snapshot);
    store.override_gate("payments_enabled", false, None);
    println!(
        "\nafter the kill switch, payments_enabled for ana: {}",
        store.check_gate(&users[0].1, "payments_enabled")
    );
    Ok(())
}

//! Structurally valid but hostile payloads: the input drives a small program that builds
//! gates with nested gate chains and cycles, long lists, enormous numbers, odd versions and
//! regexes taken from the input; loading must answer (Ok or a LoadError) and evaluation must
//! never panic or recurse without bound.
#![no_main]

use flagcore::{Kind, Ruleset, Scratch, User};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

const OPS: [&str; 12] = [
    "gt",
    "lte",
    "version_gt",
    "any",
    "none",
    "str_matches",
    "eq",
    "before",
    "array_contains_all",
    "str_contains_any",
    "in_segment_list",
    "bogus",
];
const TYPES: [&str; 8] = [
    "user_field",
    "pass_gate",
    "fail_gate",
    "unit_id",
    "user_bucket",
    "current_time",
    "ua_based",
    "environment_field",
];

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.iter().copied();
    let mut next = move || bytes.next().unwrap_or(0);
    let text = String::from_utf8_lossy(data).into_owned();
    let n_gates = usize::from(next() % 24) + 1;
    let mut gates = Map::new();
    let mut conditions = Map::new();
    for g in 0..n_gates {
        let mut rules = Vec::new();
        for r in 0..usize::from(next() % 4) {
            let mut ids = Vec::new();
            for c in 0..usize::from(next() % 4) {
                let id = format!("c{g}_{r}_{c}");
                let kind = TYPES[usize::from(next()) % TYPES.len()];
                let op = OPS[usize::from(next()) % OPS.len()];
                let target = match next() % 8 {
                    // Nested gates: chains, self references and cycles.
                    0 => json!(format!("g{}", next() % 24)),
                    1 => json!(1e308),
                    2 => json!(-9_223_372_036_854_775_808i64),
                    3 => Value::Array((0..usize::from(next()) * 8).map(|i| json!(i)).collect()),
                    4 => json!(text.clone()),
                    5 => json!([text.clone(), "1.2.3-beta", "", "(?=a)a"]),
                    6 => json!({"500": true, "x": null}),
                    _ => Value::Null,
                };
                let field = ["email", "appVersion", "custom_x", "os_name"][usize::from(next() % 4)];
                let id_type = ["userID", "stableID"][usize::from(next() % 2)];
                conditions.insert(
                    id.clone(),
                    json!({"type": kind, "operator": op, "targetValue": target,
                           "field": field, "idType": id_type}),
                );
                ids.push(id);
            }
            rules.push(json!({"id": format!("r{r}"), "name": "r", "passPercentage": f64::from(next()) / 2.55,
                              "conditions": ids, "returnValue": true, "idType": "userID"}));
        }
        gates.insert(
            format!("g{g}"),
            json!({"type": "feature_gate", "entity": "feature_gate", "salt": text.clone(),
                   "enabled": next() % 2 == 0, "defaultValue": false, "idType": "userID", "rules": rules}),
        );
    }
    let payload = json!({"feature_gates": gates, "dynamic_configs": {}, "layer_configs": {},
        "condition_map": conditions, "experiment_to_layer": {}, "has_updates": true, "time": 1});
    let Ok(rs) = Ruleset::from_json(&serde_json::to_vec(&payload).unwrap_or_default()) else {
        return;
    };
    let user = User::with_user_id(&text)
        .email(text.as_str())
        .app_version(text.as_str());
    let mut scratch = Scratch::new();
    for g in 0..n_gates {
        let name = format!("g{g}");
        let _ = rs.evaluate(&mut scratch, &user, Kind::Gate, &name).value();
    }
});

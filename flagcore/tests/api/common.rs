//! Helpers shared by the integration tests: small payloads built in code.
#![allow(dead_code)] // Each test module uses a different subset.

use std::path::{Path, PathBuf};

use flagcore::UserData;
use serde_json::{json, Value};

/// The users of a `users.jsonl` file (one Statsig user JSON object a line).
pub(crate) fn users_from(path: &Path) -> Vec<UserData> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| UserData::from_json(l.as_bytes()).expect("user JSON"))
        .collect()
}

/// The shared conformance fixtures (`conformance/fixtures/*` with a `dcs.json`), sorted;
/// panics when there are none.
pub(crate) fn shared_fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/fixtures");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut fixtures: Vec<PathBuf> = entries
        .map(|e| e.expect("dir entry").path())
        .filter(|f| f.join("dcs.json").is_file())
        .collect();
    fixtures.sort();
    assert!(!fixtures.is_empty(), "no fixtures in {}", dir.display());
    fixtures
}

/// A `dcs-v2` payload from its parts.
pub(crate) fn payload(
    time: u64,
    gates: Value,
    configs: Value,
    layers: Value,
    conditions: Value,
) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "feature_gates": gates,
        "dynamic_configs": configs,
        "layer_configs": layers,
        "condition_map": conditions,
        "experiment_to_layer": {},
        "has_updates": true,
        "time": time,
    }))
    .expect("serialises")
}

/// A spec with the given rules.
pub(crate) fn spec(entity: &str, salt: &str, default: Value, rules: Value) -> Value {
    json!({
        "type": if entity == "feature_gate" { "feature_gate" } else { "dynamic_config" },
        "entity": entity, "salt": salt, "enabled": true, "defaultValue": default,
        "idType": "userID", "rules": rules,
    })
}

/// A rule.
pub(crate) fn rule(id: &str, pass_percentage: f64, conditions: &[&str], value: Value) -> Value {
    json!({
        "id": id, "name": id, "passPercentage": pass_percentage, "conditions": conditions,
        "returnValue": value, "idType": "userID",
    })
}

/// The `public` condition under id `public`.
pub(crate) fn public_condition() -> Value {
    json!({"public": {"type": "public", "idType": "userID"}})
}

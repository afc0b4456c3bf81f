//! Helpers shared by the integration tests: small payloads built in code.
#![allow(dead_code)] // Each test module uses a different subset.

use serde_json::{json, Value};

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

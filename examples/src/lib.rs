//! Helpers shared by the flagcore examples: the conformance result format.
//!
//! The examples themselves live in `examples/`; run them with
//! `cargo run -p flagcore-examples --example <name>`.

use flagcore::{Evaluation, Kind, Ruleset, SecondaryExposures};
use serde_json::{json, Value};

/// The label of a kind in the conformance result format.
pub fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Gate => "gate",
        Kind::DynamicConfig => "config",
        Kind::Experiment => "experiment",
        Kind::Layer => "layer",
    }
}

/// Secondary exposures as Statsig reports them: `{"gate", "gateValue": "true"|"false", "ruleID"}`.
pub fn exposures_json(list: SecondaryExposures<'_>) -> Value {
    list.iter()
        .map(
            |e| json!({"gate": e.gate, "gateValue": e.gate_value.to_string(), "ruleID": e.rule_id}),
        )
        .collect()
}

/// One line of the conformance result format for user number `u`.
pub fn result_line(u: usize, e: &Evaluation<'_>) -> Value {
    let value = match e.kind() {
        Kind::Gate => Value::Bool(e.value()),
        _ => Value::Object(e.json().to_map()),
    };
    json!({
        "u": u,
        "kind": kind_label(e.kind()),
        "name": e.name(),
        "value": value,
        "rule_id": e.rule_id(),
        "group_name": e.group_name(),
        "secondary_exposures": exposures_json(e.secondary_exposures()),
        "undelegated_secondary_exposures": e.undelegated_secondary_exposures().map(exposures_json),
        "allocated_experiment": e.allocated_experiment(),
    })
}

/// Every entity of a ruleset with the kind it is evaluated as, including specs the
/// loader dropped (they evaluate as unrecognized, as in Statsig's core).
pub fn all_entities(rs: &Ruleset) -> Vec<(Kind, String)> {
    let mut out: Vec<(Kind, String)> = rs
        .gate_names()
        .map(|n| (Kind::Gate, n.to_owned()))
        .collect();
    for (name, entity) in rs.config_names() {
        let kind = if entity == "experiment" {
            Kind::Experiment
        } else {
            Kind::DynamicConfig
        };
        out.push((kind, name.to_owned()));
    }
    out.extend(rs.layer_names().map(|n| (Kind::Layer, n.to_owned())));
    for d in rs.dropped_specs().iter().filter(|d| !d.name.is_empty()) {
        let kind = match d.section {
            "feature_gates" => Kind::Gate,
            "layer_configs" => Kind::Layer,
            _ if d.entity.as_deref() == Some("experiment") => Kind::Experiment,
            _ => Kind::DynamicConfig,
        };
        out.push((kind, d.name.clone()));
    }
    out
}

/// `v` with the keys of every object sorted (how the reference program prints).
pub fn sorted(v: Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut items: Vec<(String, Value)> = o.into_iter().collect();
            items.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(items.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        v => v,
    }
}

//! Helpers shared by the flagcore examples: the conformance result format.
//!
//! The examples themselves live in `examples/`; run them with
//! `cargo run -p flagcore-examples --example <name>`.

use flagcore::{Evaluation, Kind, Ruleset, SecondaryExposures};
use serde_json::{json, Value};

/// The label of a kind in the conformance result format.
pub fn kind_label(kind: Kind) -> &'static str {
    kind.label()
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
/// loader dropped (they evaluate as unrecognized, as in Statsig's core): [`Ruleset::entities`].
pub fn all_entities(rs: &Ruleset) -> Vec<(Kind, String)> {
    rs.entities()
        .into_iter()
        .map(|(k, n)| (k, n.to_owned()))
        .collect()
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

/// A sticky evaluation in the format of the reference program's `--sticky` mode: the
/// result (`value`, `rule_id`, `group_name`, `reason`, `lcut`, `is_experiment_active`,
/// exposure lists, and for layers `allocated_experiment`) and the storage operations
/// (`ops`: `[]`, or one `save` with the values' JSON, or one `delete`). The reason is
/// written as the official core writes it with a bootstrap payload (`Bootstrap:Recognized`,
/// `Persisted`). `version` is the official `details.version`: the spec's version, and for a
/// persisted result the stored `config_version` (pass `persisted`, the values evaluated
/// with), while [`Evaluation::version`] stays the spec's, as the official exposure reports it.
pub fn sticky_line(
    e: &Evaluation<'_>,
    change: &flagcore::sticky::Change,
    persisted: Option<&flagcore::sticky::UserPersistedValues>,
) -> Value {
    use flagcore::sticky::Change;
    let reason = match e.reason() {
        flagcore::Reason::Persisted => "Persisted".to_owned(),
        r => format!("Bootstrap:{}", r.label()),
    };
    let layer = e.kind() == Kind::Layer;
    let persisted_result = e.reason() == flagcore::Reason::Persisted;
    // The official live layer reports "active" only through its allocated experiment; a
    // persisted result is always active.
    let active = e.is_experiment_active()
        && (!layer || persisted_result || e.allocated_experiment().is_some());
    let mut result = json!({
        "value": Value::Object(e.json().to_map()),
        "rule_id": e.rule_id(),
        "group_name": e.group_name(),
        "reason": reason,
        "lcut": Some(e.ruleset_time()).filter(|t| *t > 0),
        "version": if persisted_result {
            persisted
                .and_then(|p| p.get(e.name()))
                .and_then(|v| v.config_version)
        } else {
            e.version()
        },
        "is_experiment_active": active,
        "secondary_exposures": exposures_json(e.secondary_exposures()),
        "undelegated_secondary_exposures": e.undelegated_secondary_exposures().map(exposures_json),
    });
    if layer {
        result["allocated_experiment"] = json!(e.allocated_experiment());
    }
    let ops = match change {
        Change::None => json!([]),
        Change::Save {
            key,
            config,
            values,
        } => json!([{"op": "save", "key": key, "config": config, "values": values}]),
        Change::Delete { key, config } => json!([{"op": "delete", "key": key, "config": config}]),
    };
    json!({"result": result, "ops": ops})
}

//! Multi-rule layers (`useNewLayerEval`, spec 4.7) and config mapping (`overrides`, spec
//! 4.10): the parts the official core's answers in the conformance cases do not show
//! (per-parameter rule ids, `override_config_name`, clocks, load errors). Expected values
//! are worked out by hand from the spec.

use std::sync::Arc;

use flagcore::{
    Exposures, FixedClock, Kind, Limits, LoadError, Options, Reason, Ruleset, Scratch, Store, User,
};
use serde_json::{json, Value};

use super::common::{payload, public_condition, rule, spec};

fn with_fields(bytes: Vec<u8>, fields: Value) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&bytes).expect("payload");
    for (k, f) in fields.as_object().expect("object") {
        v[k] = f.clone();
    }
    serde_json::to_vec(&v).expect("serialises")
}

fn multi_rule_layer(rules: Value, default: Value) -> Value {
    let mut layer = spec("layer", "ls", default, rules);
    layer["useNewLayerEval"] = json!(true);
    layer
}

/// A ruleset of these configs and layers, with the `public` condition.
fn configs_and_layers(configs: Value, layers: Value) -> Ruleset {
    let bytes = payload(1, json!({}), configs, layers, public_condition());
    Ruleset::from_json(&bytes).expect("loads")
}

#[test]
fn multi_rule_layers_report_the_rule_of_each_parameter() {
    let layer = multi_rule_layer(
        json!([
            rule("r1", 100.0, &["public"], json!({"a": 1, "b": 1})),
            rule("r2", 100.0, &["public"], json!({"b": 2, "c": 2})),
            rule("never", 0.0, &["public"], json!({"d": 3})),
        ]),
        json!({"a": 0, "e": 0}),
    );
    let config = spec(
        "dynamic_config",
        "cs",
        json!({}),
        json!([rule("cr", 100.0, &["public"], json!({"a": 1}))]),
    );
    let rs = configs_and_layers(json!({"cfg": config}), json!({"multi": layer}));
    let mut scratch = Scratch::new();
    let user = User::with_user_id("u1");
    let e = rs.evaluate(&mut scratch, &user, Kind::Layer, "multi");
    assert_eq!(e.reason(), Reason::Recognized);
    assert_eq!(
        e.rule_id(),
        "default",
        "no delegate: the layer reports `default`"
    );
    assert!(e.value());
    assert_eq!(
        Value::Object(e.json().to_map()),
        json!({"a": 1, "b": 1, "c": 2, "e": 0})
    );
    assert_eq!(e.json().len(), 4);
    assert_eq!(e.json().keys().collect::<Vec<_>>(), ["a", "b", "c", "e"]);
    assert_eq!(
        serde_json::to_string(&e.json()).unwrap(),
        r#"{"a":1,"b":1,"c":2,"e":0}"#
    );
    assert_eq!(e.get("b"), Some(&json!(1)));
    assert!(e.json().as_map().is_none());
    for (param, rule_id) in [("a", "r1"), ("b", "r1"), ("c", "r2"), ("e", "default")] {
        assert_eq!(e.parameter_rule_id(param), Some(rule_id), "{param}");
        assert_eq!(e.exposure_rule_id(param), rule_id, "{param}");
    }
    assert_eq!(e.parameter_rule_id("d"), None);
    // Other results have no per-parameter rule ids.
    let c = rs.evaluate(&mut scratch, &user, Kind::DynamicConfig, "cfg");
    assert_eq!(c.parameter_rule_id("a"), None);
    assert_eq!(c.exposure_rule_id("a"), "cr");
    assert!(c.json().as_map().is_some());
}

#[test]
fn a_multi_rule_layer_takes_its_first_delegate_and_later_rules() {
    let mut exp = spec(
        "experiment",
        "es",
        json!({"p": "exp-default"}),
        json!([{
        "id": "g1", "name": "g1", "passPercentage": 100, "conditions": ["public"],
        "returnValue": {"p": "exp", "k": 1}, "idType": "userID", "groupName": "Test",
        "isExperimentGroup": true}]),
    );
    exp["isActive"] = json!(true);
    exp["explicitParameters"] = json!(["p"]);
    let mut delegating = rule("assign", 100.0, &["public"], json!({}));
    delegating["configDelegate"] = json!("exp");
    let mut second = rule("assign2", 100.0, &["public"], json!({}));
    second["configDelegate"] = json!("exp");
    let layer = multi_rule_layer(
        json!([
            delegating,
            second,
            rule("extra", 100.0, &["public"], json!({"p": "layer", "q": 2}))
        ]),
        json!({"r": 3}),
    );
    let rs = configs_and_layers(json!({"exp": exp}), json!({"l": layer}));
    let mut scratch = Scratch::new();
    let e = rs.evaluate(&mut scratch, &User::with_user_id("u1"), Kind::Layer, "l");
    assert_eq!(
        e.rule_id(),
        "assign",
        "the delegating layer rule, not the experiment's"
    );
    assert_eq!(e.group_name(), Some("Test"));
    assert_eq!(e.allocated_experiment(), Some("exp"));
    assert_eq!(e.explicit_parameters().collect::<Vec<_>>(), ["p"]);
    assert_eq!(
        Value::Object(e.json().to_map()),
        json!({"p": "exp", "k": 1, "q": 2, "r": 3})
    );
    for (param, rule_id) in [
        ("p", "assign"),
        ("k", "assign"),
        ("q", "extra"),
        ("r", "default"),
    ] {
        assert_eq!(e.parameter_rule_id(param), Some(rule_id), "{param}");
    }
}

#[test]
fn a_multi_rule_layer_with_more_than_128_rules_is_refused() {
    let rules: Vec<Value> = (0..129)
        .map(|i| rule(&format!("r{i}"), 100.0, &["public"], json!({})))
        .collect();
    let layer = multi_rule_layer(json!(rules), json!({}));
    let bytes = payload(
        1,
        json!({}),
        json!({}),
        json!({"big": layer}),
        public_condition(),
    );
    let err = Ruleset::from_json(&bytes).unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::Limit {
                limit: 128,
                found: 129,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("`big`"), "{err}");
}

/// `orig` (a config and a gate) maps to `target` from time 2000 on.
fn mapped_payload(start_time: Value) -> Vec<u8> {
    let configs = json!({
        "orig": spec("dynamic_config", "os", json!({"v": "orig"}), json!([])),
        "target": spec("dynamic_config", "ts", json!({}), json!([rule("t", 100.0, &["public"], json!({"v": "target"}))])),
    });
    let gates = json!({
        "orig": spec("feature_gate", "og", json!(false), json!([])),
        "target": spec("feature_gate", "tg", json!(false), json!([rule("tg", 100.0, &["public"], json!(true))])),
        "parent": spec("feature_gate", "pg", json!(false), json!([rule("pr", 100.0, &["nested"], json!(true))])),
    });
    let mut conditions = public_condition();
    conditions["nested"] = json!({"type": "pass_gate", "targetValue": "orig", "idType": "userID"});
    with_fields(
        payload(1, gates, configs, json!({}), conditions),
        json!({
            "override_rules": {"everyone": rule("everyone_override", 100.0, &["public"], json!(true))},
            "overrides": {"orig": [{"new_config_name": "target",
                                    "rules": [{"rule_name": "everyone", "start_time": start_time}]}]},
        }),
    )
}

fn store_at(now_ms: i64, bytes: &[u8]) -> Store {
    let store = Store::with_options(Options {
        clock: Some(Arc::new(FixedClock(now_ms))),
        ..Options::default()
    });
    store.load_json(bytes).expect("loads");
    store
}

#[test]
fn config_mapping_starts_at_its_start_time() {
    let user = User::with_user_id("u1");
    let mut scratch = Scratch::new();
    let cases = [
        (1000, "default", None, "orig"),
        (3000, "t", Some("target"), "target"),
    ];
    for (now, rule_id, mapped, value) in cases {
        let store = store_at(now, &mapped_payload(json!(2000)));
        let snapshot = store.snapshot();
        let e = snapshot.evaluate(
            &mut scratch,
            &user,
            Kind::DynamicConfig,
            "orig",
            Exposures::Suppress,
        );
        assert_eq!(e.name(), "orig");
        assert_eq!(e.get("v"), Some(&json!(value)), "at {now}");
        assert_eq!(
            (e.rule_id(), e.override_config_name()),
            (rule_id, mapped),
            "at {now}"
        );
        assert_eq!(
            store.check_gate(&user, "orig"),
            mapped.is_some(),
            "at {now}"
        );
    }
    let after = store_at(3000, &mapped_payload(json!(2000)));
    let snapshot = after.snapshot();
    // Gates too, on every path: the value-only fast path, results, nested gates.
    assert!(snapshot.gate(&user, "orig").value());
    let parent = snapshot.evaluate(
        &mut scratch,
        &user,
        Kind::Gate,
        "parent",
        Exposures::Suppress,
    );
    assert!(parent.value());
    assert_eq!(
        parent.override_config_name(),
        Some("target"),
        "copied from the nested gate"
    );
    let exposures: Vec<_> = parent
        .secondary_exposures()
        .iter()
        .map(|s| (s.gate, s.rule_id))
        .collect();
    assert_eq!(exposures, [("orig", "tg")]);
    // No `start_time` means "since always".
    let always = store_at(0, &mapped_payload(Value::Null));
    assert!(always.check_gate(&user, "orig"));
}

#[test]
fn a_mapping_cycle_ends_the_evaluation() {
    let configs = json!({
        "a": spec("dynamic_config", "as", json!({}), json!([])),
        "b": spec("dynamic_config", "bs", json!({}), json!([])),
    });
    let bytes = with_fields(
        payload(1, json!({}), configs, json!({}), public_condition()),
        json!({
            "override_rules": {"all": rule("all", 100.0, &["public"], json!(true))},
            "overrides": {
                "a": [{"new_config_name": "b", "rules": [{"rule_name": "all"}]}],
                "b": [{"new_config_name": "a", "rules": [{"rule_name": "all"}]}],
            },
        }),
    );
    let rs = Ruleset::from_json(&bytes).expect("loads");
    let mut scratch = Scratch::new();
    let e = rs.evaluate(
        &mut scratch,
        &User::with_user_id("u1"),
        Kind::DynamicConfig,
        "a",
    );
    assert_eq!(e.reason(), Reason::DepthExceeded);
    assert_eq!(e.rule_id(), "default");
}

#[test]
fn malformed_config_mapping_is_a_load_error() {
    let base = payload(1, json!({}), json!({}), json!({}), public_condition());
    let cases = [
        (
            json!({"overrides": {"x": 5}, "override_rules": {}}),
            "overrides",
            "x",
        ),
        (
            json!({"overrides": {"x": [{"new_config_name": "y", "rules": [{"rule_name": "r", "start_time": 1.5}]}]}}),
            "overrides",
            "x",
        ),
        (
            json!({"overrides": {}, "override_rules": {"r": {"id": "r"}}}),
            "override_rules",
            "r",
        ),
    ];
    for (fields, field, name) in cases {
        let err = Ruleset::from_json(&with_fields(base.clone(), fields)).unwrap_err();
        match &err {
            LoadError::Mapping {
                field: f, name: n, ..
            } => assert_eq!((*f, n.as_str()), (field, name)),
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains(name), "{err}");
    }
    let err = Ruleset::from_json(&with_fields(base.clone(), json!({"overrides": []}))).unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::TopLevel {
                field: "overrides",
                ..
            }
        ),
        "{err}"
    );
    // `null` is absent; a limit bounds the number of override rules.
    Ruleset::from_json(&with_fields(
        base.clone(),
        json!({"overrides": null, "override_rules": null}),
    ))
    .expect("loads");
    let mut limits = Limits::default();
    limits.max_specs = 1;
    let rules = json!({"override_rules": {
        "r1": rule("r1", 100.0, &["public"], json!(true)),
        "r2": rule("r2", 100.0, &["public"], json!(true))}});
    let err = Ruleset::from_json_with_limits(&with_fields(base, rules), &limits).unwrap_err();
    assert!(err.to_string().contains("override rules"), "{err}");
}

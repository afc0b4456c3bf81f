//! `Ruleset::to_json` round trips: for every payload at hand (the shared conformance
//! fixtures, this project's own cases in v2 and v1 shape, generated payloads) the output
//! (a) loads, (b) serialises again to the same bytes, and (c) evaluates exactly like the
//! original for every entity and user; (d) a v1 payload and its v2 twin give the same bytes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use flagcore::{
    CountryLookup, Evaluation, Exposures, FixedClock, Kind, Options, Ruleset, Scratch, Store,
    UserData,
};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::common::{shared_fixtures, users_from};

/// A fixed "now" (2025-06-01), so `current_time` conditions agree across both loads.
const NOW_MS: i64 = 1_748_736_000_000;

struct Countries;

impl CountryLookup for Countries {
    fn country(&self, ipv4: u32) -> Option<&str> {
        match ipv4 >> 24 {
            1..=63 => Some("US"),
            64..=127 => Some("NZ"),
            _ => None,
        }
    }
}

fn store(rs: Ruleset) -> Store {
    let store = Store::with_options(Options {
        clock: Some(Arc::new(FixedClock(NOW_MS))),
        country_lookup: Some(Arc::new(Countries)),
        ..Options::default()
    });
    store.install(rs);
    store
}

/// Everything a result reports, as comparable JSON.
fn summary(e: &Evaluation<'_>) -> Value {
    let exposures = |list: flagcore::SecondaryExposures<'_>| -> Value {
        list.iter()
            .map(|x| json!([x.gate, x.gate_value, x.rule_id]))
            .collect()
    };
    json!({
        "kind": format!("{:?}", e.kind()), "name": e.name(), "value": e.value(),
        "json": e.json(), "rule_id": e.rule_id(), "group_name": e.group_name(),
        "id_type": e.id_type(), "version": e.version(),
        "in_experiment": e.is_user_in_experiment(), "active": e.is_experiment_active(),
        "in_layer": e.is_in_layer(),
        "explicit_parameters": e.explicit_parameters().collect::<Vec<_>>(),
        "allocated_experiment": e.allocated_experiment(),
        "secondary_exposures": exposures(e.secondary_exposures()),
        "undelegated": e.undelegated_secondary_exposures().map(exposures),
        "reason": format!("{:?}", e.reason()), "id_list": e.used_id_list(),
        "time": e.ruleset_time(),
        "override_config_name": e.override_config_name(),
        "parameter_rule_ids": e.json().keys().map(|k| (k, e.parameter_rule_id(k))).collect::<Vec<_>>(),
    })
}

/// Every name of the ruleset (dropped specs included: they are unrecognized on both sides)
/// with each kind it can be asked as.
fn entities(rs: &Ruleset) -> Vec<(Kind, String)> {
    let mut out: Vec<(Kind, String)> = rs
        .gate_names()
        .map(|n| (Kind::Gate, n.to_owned()))
        .collect();
    for (name, _) in rs.config_names() {
        out.push((Kind::DynamicConfig, name.to_owned()));
        out.push((Kind::Experiment, name.to_owned()));
    }
    out.extend(rs.layer_names().map(|n| (Kind::Layer, n.to_owned())));
    for d in rs.dropped_specs() {
        for kind in [Kind::Gate, Kind::DynamicConfig, Kind::Layer] {
            out.push((kind, d.name.clone()));
        }
    }
    out
}

/// Checks properties (a)–(c) for one payload; returns the canonical bytes.
fn check_round_trip(label: &str, payload: &[u8], users: &[UserData]) -> Vec<u8> {
    let original = Ruleset::from_json(payload).unwrap_or_else(|e| panic!("{label}: loads: {e}"));
    let names = entities(&original);
    let bytes = original.to_json();
    let reloaded = Ruleset::from_json(&bytes).unwrap_or_else(|e| {
        panic!(
            "{label}: to_json output does not load: {e}\n{}",
            String::from_utf8_lossy(&bytes)
        )
    });
    assert_eq!(reloaded.format(), flagcore::Format::V2, "{label}");
    assert_eq!(
        reloaded.sdk_configs(),
        original.sdk_configs(),
        "{label}: the event-logging settings"
    );
    assert!(
        reloaded.dropped_specs().is_empty(),
        "{label}: the output has dropped specs"
    );
    let again = reloaded.to_json();
    assert!(
        again == bytes,
        "{label}: not a fixed point:\n{}\n{}",
        String::from_utf8_lossy(&bytes),
        String::from_utf8_lossy(&again)
    );
    let (a, b) = (store(original), store(reloaded));
    let (sa, sb) = (a.snapshot(), b.snapshot());
    let (mut xa, mut xb) = (Scratch::new(), Scratch::new());
    for (u, user) in users.iter().enumerate() {
        let user = user.view();
        for (kind, name) in &names {
            let want = summary(&sa.evaluate(&mut xa, &user, *kind, name, Exposures::Suppress));
            let got = summary(&sb.evaluate(&mut xb, &user, *kind, name, Exposures::Suppress));
            assert_eq!(want, got, "{label}: user #{u}, {kind:?} {name}");
        }
    }
    bytes
}

#[test]
fn shared_fixtures_round_trip() {
    for fixture in shared_fixtures() {
        let payload = std::fs::read(fixture.join("dcs.json")).expect("dcs.json");
        let users = users_from(&fixture.join("users.jsonl"));
        check_round_trip(&fixture.display().to_string(), &payload, &users);
    }
}

/// This project's own cases (`examples/tests/data`, see `examples/tests/conformance.rs`):
/// each round-trips, and each `*_v1` case serialises exactly like the v2 case it names.
#[test]
fn own_cases_round_trip_and_v1_twins_match() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/tests/data");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&data)
        .expect("examples/tests/data")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.join("dcs.json").is_file() || p.join("payload").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() >= 5, "too few cases in {}", data.display());
    let mut canonical = std::collections::HashMap::new();
    let mut twins = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let dcs = match std::fs::read_to_string(case.join("payload")) {
            Ok(path) => case.join(path.trim()),
            Err(_) => case.join("dcs.json"),
        };
        let twin = std::fs::read_to_string(case.join("same_as"))
            .ok()
            .map(|s| s.trim().to_owned());
        let users_case = match &twin {
            Some(other) if !case.join("users.jsonl").is_file() => data.join(other),
            _ => case.clone(),
        };
        let payload = std::fs::read(&dcs).unwrap_or_else(|e| panic!("{dcs:?}: {e}"));
        let users = users_from(&users_case.join("users.jsonl"));
        let bytes = check_round_trip(&name, &payload, &users);
        if let Some(other) = twin {
            twins.push((name.clone(), other));
        }
        canonical.insert(name, bytes);
    }
    assert!(!twins.is_empty(), "no v1 twins");
    for (v1, v2) in twins {
        assert!(
            canonical[&v1] == canonical[&v2],
            "{v1} and {v2} serialise differently"
        );
    }
}

/// The v1 `layers` map becomes `experiment_to_layer`; a v2 one is kept; informational
/// fields the engine does not read are dropped (also an unknown key given twice), and of
/// `sdk_configs` only the event-logging settings it reads are kept, in canonical form.
#[test]
fn layer_membership_and_dropped_fields() {
    let v1 = br#"{"feature_gates": [], "dynamic_configs": [], "layer_configs": [],
        "layers": {"l1": ["e1", "e2"], "l2": ["e3", 4]}, "has_updates": true, "time": 3,
        "company_id": "x", "sdk_configs": {"sampling_mode": "on", "event_queue_size": 1800,
        "special_case_sampling_rate": "101.5"}}"#;
    let out: Value = serde_json::from_slice(&Ruleset::from_json(v1).unwrap().to_json()).unwrap();
    assert_eq!(
        out,
        json!({"feature_gates": {}, "dynamic_configs": {}, "layer_configs": {},
               "condition_map": {}, "experiment_to_layer": {"e1": "l1", "e2": "l1", "e3": "l2"},
               "has_updates": true, "time": 3, "response_format": "dcs-v2",
               "sdk_configs": {"sampling_mode": "on", "special_case_sampling_rate": 101}})
    );
    let v2 = br#"{"feature_gates": {}, "dynamic_configs": {}, "layer_configs": {},
        "condition_map": {}, "experiment_to_layer": {"b": "l", "a": "m"},
        "has_updates": false, "time": 4, "checksum": "c", "app_id": {"id": 1},
        "default_environment": "staging", "layers": 1, "layers": 2}"#;
    let out = Ruleset::from_json(v2).unwrap().to_json();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"feature_gates":{},"dynamic_configs":{},"layer_configs":{},"condition_map":{},"experiment_to_layer":{"b":"l","a":"m"},"has_updates":false,"time":4,"checksum":"c","response_format":"dcs-v2","app_id":{"id":1},"default_environment":"staging"}"#
    );
}

/// Identical conditions under different ids are written once; a reference to a missing
/// condition stays missing.
#[test]
fn conditions_are_keyed_by_content() {
    let payload = br#"{"feature_gates": {"g": {"type": "feature_gate", "entity": "feature_gate",
        "salt": "s", "enabled": true, "defaultValue": false, "idType": "userID", "rules": [
          {"id": "r1", "name": "r1", "passPercentage": 100, "conditions": ["a", "b"],
           "returnValue": true, "idType": "userID"},
          {"id": "r2", "name": "r2", "passPercentage": 50.0, "conditions": ["nope"],
           "returnValue": true, "idType": "userID"}]}},
        "dynamic_configs": {}, "layer_configs": {},
        "condition_map": {"a": {"type": "public", "idType": "userID"},
                          "b": {"idType": "userID", "type": "public", "targetValue": null},
                          "unused": {"type": "public", "idType": "stableID"}},
        "experiment_to_layer": {}, "has_updates": true, "time": 1}"#;
    let out: Value =
        serde_json::from_slice(&Ruleset::from_json(payload).unwrap().to_json()).expect("JSON");
    let map = out["condition_map"].as_object().expect("condition_map");
    assert_eq!(map.len(), 1, "{map:?}");
    let (id, condition) = map.iter().next().unwrap();
    assert_eq!(condition, &json!({"type": "public", "idType": "userID"}));
    let rules = out["feature_gates"]["g"]["rules"].as_array().unwrap();
    assert_eq!(rules[0]["conditions"], json!([id, id]));
    assert_eq!(rules[0]["passPercentage"], json!(100));
    assert_eq!(rules[1]["passPercentage"], json!(50));
    assert_eq!(rules[1]["conditions"], json!(["missing"]));
}

// ---------------------------------------------------------------------------------------------
// Generated payloads

/// Users covering the fields conditions read.
fn generated_users() -> Vec<UserData> {
    [
        json!({}),
        json!({"userID": "u1", "email": "ana@example.com", "appVersion": "1.2.3",
               "country": "NZ", "ip": "70.1.2.3", "locale": "en_NZ",
               "custom": {"level": 7, "tags": ["a", "B"], "plan": "Gold"},
               "customIDs": {"companyID": "acme", "stableID": "s-1"}}),
        json!({"userID": "u2", "email": "BOB@corp.io", "appVersion": "2.0",
               "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
               "ip": "10.0.0.1", "custom": {"level": "12.5", "tags": ["b"], "signup": 1700000000000i64},
               "statsigEnvironment": {"tier": "staging"}}),
        json!({"userID": 42, "custom": {"level": null, "plan": ["Gold"]},
               "privateAttributes": {"plan": "silver", "age": 30},
               "customIDs": {"companyID": "other"}}),
        json!({"userID": "u-three", "email": "x@y.z", "appVersion": "1.10.0-beta",
               "custom": {"tags": ["a", "b", "c"], "signup": "2024-01-01T00:00:00Z"}}),
    ]
    .iter()
    .map(|u| UserData::from_json(u.to_string().as_bytes()).expect("user"))
    .collect()
}

const FIELDS: &[&str] = &[
    "userID",
    "email",
    "level",
    "tags",
    "plan",
    "appVersion",
    "country",
    "locale",
    "signup",
    "age",
    "browser_name",
    "os_version",
    "tier",
];
const OPERATORS: &[&str] = &[
    "gt",
    "gte",
    "lt",
    "lte",
    "version_gt",
    "version_lte",
    "version_eq",
    "any",
    "none",
    "str_starts_with_any",
    "str_contains_none",
    "any_case_sensitive",
    "none_case_sensitive",
    "before",
    "after",
    "on",
    "eq",
    "neq",
    "str_matches",
    "array_contains_any",
    "array_contains_all",
    "not_array_contains_all",
    "in_segment_list",
    "bogus_op",
];
const TYPES: &[&str] = &[
    "public",
    "user_field",
    "unit_id",
    "user_bucket",
    "pass_gate",
    "fail_gate",
    "current_time",
    "environment_field",
    "ua_based",
    "ip_based",
    "target_app",
    "experiment_group",
    "unknown_type",
];
const ID_TYPES: &[&str] = &["userID", "stableID", "companyID", "userid"];

/// Sets `key` of the object `v` when `value` is given.
fn set(v: &mut Value, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        v[key] = value;
    }
}

fn target_value() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(Value::from),
        (-5i64..2000).prop_map(Value::from),
        prop_oneof![Just(1.5), Just(5.0), Just(1e16), Just(-0.0), Just(1e-7)].prop_map(Value::from),
        "[a-cA-C0-9.@:-]{0,6}".prop_map(Value::from),
        Just(json!("2024-01-01T00:00:00Z")),
        Just(json!("1.2.3")),
        Just(json!("^[ab].*")),
        Just(json!("a{2,")),
        Just(json!("g0")),
        Just(json!("segment:g1")),
    ];
    prop_oneof![
        4 => scalar.clone(),
        2 => proptest::collection::vec(scalar.clone(), 0..5).prop_map(Value::from),
        1 => proptest::collection::btree_map("[0-9a-c]{1,3}", scalar, 0..5)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
    ]
}

fn condition() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(TYPES),
        proptest::sample::select(ID_TYPES),
        proptest::option::of(target_value()),
        proptest::option::of(proptest::sample::select(OPERATORS)),
        proptest::option::of(proptest::sample::select(FIELDS)),
        proptest::option::of("[a-c]{0,3}"),
    )
        .prop_map(|(kind, id_type, target, op, field, salt)| {
            let mut c = json!({"type": kind, "idType": id_type});
            set(&mut c, "targetValue", target);
            set(&mut c, "operator", op.map(Value::from));
            set(&mut c, "field", field.map(Value::from));
            let extra = salt.map(|s| json!({"salt": s, "custom_field": "x"}));
            set(&mut c, "additionalValues", extra);
            c
        })
}

fn return_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::from),
        Just(json!(null)),
        Just(json!({})),
        (0i64..5).prop_map(|n| json!({"n": n, "f": 1.0, "s": "x"})),
        Just(json!([1, 2])),
        Just(json!("text")),
    ]
}

/// A rule: its conditions are indexes into the condition pool (or a missing id).
fn rule() -> impl Strategy<Value = (Value, Vec<Option<usize>>)> {
    (
        "[a-z]{1,4}",
        prop_oneof![
            Just(100.0),
            Just(0.0),
            Just(50.0),
            Just(33.33),
            0.0..=100.0f64
        ],
        proptest::collection::vec(proptest::option::weighted(0.95, 0usize..12), 0..4),
        return_value(),
        proptest::sample::select(ID_TYPES),
        proptest::option::of(prop_oneof![Just(String::new()), "[a-z]{1,3}"]),
        proptest::option::of(prop_oneof![Just("control"), Just("test")]),
        proptest::option::of(any::<bool>()),
        proptest::option::of(prop_oneof![Just("c0"), Just("c1"), Just("nope")]),
        proptest::option::of(0u64..3),
    )
        .prop_map(
            |(id, pct, conds, ret, id_type, salt, group, is_group, delegate, sampling)| {
                let mut r = json!({"id": id, "name": format!("{id}-n"), "passPercentage": pct,
                    "returnValue": ret, "idType": id_type});
                set(&mut r, "salt", salt.map(Value::from));
                set(&mut r, "groupName", group.map(Value::from));
                set(&mut r, "isExperimentGroup", is_group.map(Value::from));
                set(&mut r, "configDelegate", delegate.map(Value::from));
                set(&mut r, "samplingRate", sampling.map(Value::from));
                (r, conds)
            },
        )
}

fn spec_strategy() -> impl Strategy<Value = (Value, Vec<Vec<Option<usize>>>)> {
    (
        prop_oneof![
            Just("feature_gate"),
            Just("segment"),
            Just("dynamic_config"),
            Just("experiment"),
            Just("layer"),
        ],
        "[a-c]{0,3}",
        any::<bool>(),
        return_value(),
        proptest::collection::vec(rule(), 0..4),
        proptest::option::of(0u32..4),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(Just(json!(["p", "n"]))),
        proptest::option::of(any::<bool>()),
        // Occasionally malformed, so that the spec is dropped.
        proptest::option::weighted(0.1, Just(json!("not a bool"))),
    )
        .prop_map(
            |(entity, salt, enabled, default, rules, version, active, shared, params, fwd, bad)| {
                let (rules, conds): (Vec<Value>, Vec<_>) = rules.into_iter().unzip();
                let mut s = json!({"type": "feature_gate", "entity": entity, "salt": salt,
                    "enabled": enabled, "defaultValue": default, "rules": rules,
                    "idType": "userID", "targetAppIDs": ["app"], "fieldsUsed": []});
                set(&mut s, "version", version.map(Value::from));
                set(&mut s, "isActive", active.map(Value::from));
                set(&mut s, "hasSharedParams", shared.map(Value::from));
                set(&mut s, "explicitParameters", params);
                set(&mut s, "forwardAllExposures", fwd.map(Value::from));
                set(&mut s, "enabled", bad);
                (s, conds)
            },
        )
}

/// A whole payload: gates `g0…`, configs `c0…`, layers `l0…`, a pool of conditions (some
/// duplicated under two ids), in v2 or v1 shape.
fn payload_strategy() -> impl Strategy<Value = Value> {
    (
        proptest::collection::vec(spec_strategy(), 0..5),
        proptest::collection::vec(spec_strategy(), 0..4),
        proptest::collection::vec(spec_strategy(), 0..3),
        proptest::collection::vec(condition(), 12),
        any::<bool>(),
        proptest::option::of(prop_oneof![Just(json!("app-1")), Just(json!(7))]),
        proptest::option::of(Just("staging")),
    )
        .prop_map(|(gates, configs, layers, pool, v1, app_id, env)| {
            // Condition ids: the pool's last entry duplicates the first under another id.
            let id = |i: usize| format!("cond{i}");
            let mut pool = pool;
            pool[11] = pool[0].clone();
            let section = |prefix: &str, specs: Vec<(Value, Vec<Vec<Option<usize>>>)>| {
                specs
                    .into_iter()
                    .enumerate()
                    .map(|(n, (mut spec, conds))| {
                        for (r, conds) in conds.iter().enumerate() {
                            let list: Vec<Value> = conds
                                .iter()
                                .map(|c| match (c, v1) {
                                    (Some(i), false) => json!(id(*i)),
                                    (Some(i), true) => pool[*i].clone(),
                                    (None, _) => json!("absent-condition"),
                                })
                                .collect();
                            spec["rules"][r]["conditions"] = Value::from(list);
                        }
                        (format!("{prefix}{n}"), spec)
                    })
                    .collect::<Vec<_>>()
            };
            let sections = [
                ("feature_gates", section("g", gates)),
                ("dynamic_configs", section("c", configs)),
                ("layer_configs", section("l", layers)),
            ];
            let mut p = json!({"has_updates": true, "time": 1_700_000_000_000u64});
            for (key, specs) in sections {
                p[key] = if v1 {
                    specs
                        .into_iter()
                        .map(|(name, mut s)| {
                            s["name"] = json!(name);
                            s
                        })
                        .collect()
                } else {
                    Value::Object(specs.into_iter().collect())
                };
            }
            if v1 {
                p["layers"] = json!({"l0": ["c0", "c1"]});
            } else {
                p["condition_map"] = pool
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (id(i), c.clone()))
                    .collect();
                p["experiment_to_layer"] = json!({"c0": "l0"});
            }
            set(&mut p, "app_id", app_id);
            set(&mut p, "default_environment", env.map(Value::from));
            p
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn generated_payloads_round_trip(payload in payload_strategy()) {
        // Every generated payload loads (malformed specs are dropped, not fatal).
        let bytes = serde_json::to_vec(&payload).expect("serialises");
        check_round_trip("generated", &bytes, &generated_users());
    }
}

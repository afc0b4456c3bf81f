//! Property tests: monotone rollouts, determinism, uniform buckets, and loading that never
//! panics.

use super::common::{payload, public_condition, rule, spec};
use flagcore::{Kind, Ruleset, Scratch, User};
use proptest::prelude::*;
use serde_json::json;

fn rollout(pass_percentage: f64) -> Ruleset {
    let bytes = payload(
        1,
        json!({"g": spec("feature_gate", "salt-1", json!(false),
                         json!([rule("rollout", pass_percentage, &["public"], json!(true))]))}),
        json!({}),
        json!({}),
        public_condition(),
    );
    Ruleset::from_json(&bytes).expect("loads")
}

fn user_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_-]{0,24}",
        any::<u64>().prop_map(|n| n.to_string()),
        ".{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Raising a rule's pass percentage never removes a user from it.
    #[test]
    fn raising_the_pass_percentage_keeps_everyone_in(
        p1 in prop_oneof![0.0..=100.0f64, Just(33.33), Just(0.5), Just(50.0)],
        extra in 0.0..=100.0f64,
        ids in proptest::collection::vec(user_id(), 1..40),
    ) {
        let p2 = (p1 + extra).min(100.0);
        let (low, high) = (rollout(p1), rollout(p2));
        for id in &ids {
            let user = User::with_user_id(id);
            if low.check_gate(&user, "g") {
                prop_assert!(high.check_gate(&user, "g"), "{id:?} in at {p1}% but out at {p2}%");
            }
        }
    }

    /// The same user and payload give the same result, also across separately loaded copies.
    #[test]
    fn evaluation_is_deterministic(id in user_id(), email in ".{0,20}", pct in 0.0..=100.0f64) {
        let bytes = payload(
            1,
            json!({
                "parent": spec("feature_gate", "p", json!(false),
                               json!([rule("p1", pct, &["public"], json!(true))])),
                "child": spec("feature_gate", "c", json!(false),
                              json!([rule("c1", 100.0, &["pass_parent", "email"], json!(true))])),
            }),
            json!({}),
            json!({}),
            json!({
                "public": {"type": "public", "idType": "userID"},
                "pass_parent": {"type": "pass_gate", "targetValue": "parent", "idType": "userID"},
                "email": {"type": "user_field", "field": "email", "operator": "str_contains_any",
                          "targetValue": ["a", "@"], "idType": "userID"},
            }),
        );
        let (r1, r2) = (Ruleset::from_json(&bytes).unwrap(), Ruleset::from_json(&bytes).unwrap());
        let user = User::with_user_id(&id).email(email.as_str());
        let (mut s1, mut s2, mut s3) = (Scratch::new(), Scratch::new(), Scratch::new());
        let a = r1.evaluate(&mut s1, &user, Kind::Gate, "child");
        let b = r1.evaluate(&mut s2, &user, Kind::Gate, "child");
        let c = r2.evaluate(&mut s3, &user, Kind::Gate, "child");
        for other in [&b, &c] {
            prop_assert_eq!(a.value(), other.value());
            prop_assert_eq!(a.rule_id(), other.rule_id());
            let (x, y): (Vec<_>, Vec<_>) = (
                a.secondary_exposures().iter().collect(),
                other.secondary_exposures().iter().collect(),
            );
            prop_assert_eq!(x, y);
        }
        prop_assert_eq!(a.secondary_exposures().len(), 1);
    }

    /// Loading arbitrary bytes returns a result or an error; it never panics.
    #[test]
    fn loading_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Ruleset::from_json(&bytes);
    }

    /// Mutating a valid payload (values swapped for other JSON) never panics, and
    /// evaluating whatever loads never panics either.
    #[test]
    fn hostile_payloads_never_panic(
        path in 0usize..12,
        replacement in prop_oneof![
            Just(json!(null)), Just(json!(-1)), Just(json!(1e308)), Just(json!("x")),
            Just(json!([])), Just(json!({})), Just(json!(["(", "a{99999}"])),
            Just(json!(true)), Just(json!(18446744073709551615u64)),
        ],
        id in user_id(),
    ) {
        let mut v = json!({
            "feature_gates": {"g": spec("feature_gate", "s", json!(false), json!([
                rule("r", 50.0, &["public", "regex", "version", "time"], json!(true))]))},
            "dynamic_configs": {}, "layer_configs": {},
            "condition_map": {
                "public": {"type": "public", "idType": "userID"},
                "regex": {"type": "user_field", "field": "email", "operator": "str_matches",
                          "targetValue": "^a.*", "idType": "userID"},
                "version": {"type": "user_field", "field": "appVersion", "operator": "version_gt",
                            "targetValue": "1.2.3", "idType": "userID"},
                "time": {"type": "current_time", "operator": "after", "targetValue": 0,
                         "idType": "userID"},
            },
            "experiment_to_layer": {}, "has_updates": true, "time": 1,
        });
        let targets = [
            "/feature_gates/g/rules/0/passPercentage", "/feature_gates/g/rules/0/conditions",
            "/feature_gates/g/salt", "/feature_gates/g/rules", "/condition_map/regex/targetValue",
            "/condition_map/version/targetValue", "/condition_map/time/targetValue",
            "/condition_map/regex/operator", "/condition_map/public/type", "/time",
            "/feature_gates/g/defaultValue", "/condition_map/version/field",
        ];
        if let Some(slot) = v.pointer_mut(targets[path]) {
            *slot = replacement;
        }
        if let Ok(rs) = Ruleset::from_json(&serde_json::to_vec(&v).unwrap()) {
            let user = User::with_user_id(&id).email(id.as_str()).app_version(id.as_str());
            let mut scratch = Scratch::new();
            let _ = rs.evaluate(&mut scratch, &user, Kind::Gate, "g").value();
        }
    }
}

/// Buckets are uniform: 20,000 ids spread over ten `user_bucket` ranges pass a chi-square
/// test at p = 0.001 (9 degrees of freedom: 27.88).
#[test]
fn buckets_are_uniform() {
    let mut gates = serde_json::Map::new();
    let mut conditions = serde_json::Map::new();
    for i in 0..10 {
        let (lo, hi) = (format!("ge{i}"), format!("lt{i}"));
        conditions.insert(lo.clone(), json!({"type": "user_bucket", "operator": "gte",
            "targetValue": i * 100, "additionalValues": {"salt": "bucket-salt"}, "idType": "userID"}));
        conditions.insert(hi.clone(), json!({"type": "user_bucket", "operator": "lt",
            "targetValue": (i + 1) * 100, "additionalValues": {"salt": "bucket-salt"}, "idType": "userID"}));
        gates.insert(
            format!("bin{i}"),
            spec(
                "feature_gate",
                "s",
                json!(false),
                json!([rule("in", 100.0, &[lo.as_str(), hi.as_str()], json!(true))]),
            ),
        );
    }
    let bytes = payload(1, gates.into(), json!({}), json!({}), conditions.into());
    let rs = Ruleset::from_json(&bytes).expect("loads");
    let n = 20_000;
    let mut counts = [0u32; 10];
    let mut scratch = Scratch::new();
    for u in 0..n {
        let id = format!("user-{u}");
        let user = User::with_user_id(&id);
        let bins: Vec<usize> = (0..10)
            .filter(|i| {
                rs.evaluate(&mut scratch, &user, Kind::Gate, &format!("bin{i}"))
                    .value()
            })
            .collect();
        assert_eq!(bins.len(), 1, "{id} is in bins {bins:?}");
        counts[bins[0]] += 1;
    }
    let expected = f64::from(n) / 10.0;
    let chi2: f64 = counts
        .iter()
        .map(|&c| (f64::from(c) - expected).powi(2) / expected)
        .sum();
    println!("bins {counts:?}, chi-square {chi2:.2}");
    assert!(chi2 < 27.88, "chi-square {chi2:.2} over bins {counts:?}");
}

/// A 50% rollout lets about half of many users in.
#[test]
fn a_half_rollout_admits_half() {
    let rs = rollout(50.0);
    let n = 20_000;
    let admitted = (0..n)
        .filter(|u| rs.check_gate(&User::with_user_id(&format!("id{u}")), "g"))
        .count();
    let share = admitted as f64 / f64::from(n);
    assert!((share - 0.5).abs() < 0.015, "{admitted} of {n} admitted");
}

//! The provider over the whole conformance corpus, through the SDK's client: every entity
//! for every user, as `kind:name` keys, against the official core's answers (value, rule
//! id, group name, allocated experiment).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use flagcore::{Options, Store};
use flagcore_openfeature::{struct_to_json, FlagcoreProvider};
use open_feature::{
    EvaluationContext, EvaluationContextFieldValue, FlagMetadataValue, OpenFeature, StructValue,
};
use serde_json::Value as Json;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../conformance/fixtures")
}

fn lines(path: &Path) -> Vec<Json> {
    let text = if path.extension().is_some_and(|e| e == "xz") {
        let out = Command::new("xz")
            .arg("-dc")
            .arg(path)
            .output()
            .expect("run xz -dc (xz is needed by the conformance tests)");
        assert!(out.status.success(), "xz -dc {} failed", path.display());
        String::from_utf8(out.stdout).expect("UTF-8")
    } else {
        std::fs::read_to_string(path).expect("read")
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// A corpus user as an OpenFeature context: `userID` as the targeting key, strings as
/// strings, objects as `serde_json::Value` structs.
fn context(user: &Json) -> EvaluationContext {
    let mut c = EvaluationContext::default();
    for (k, v) in user.as_object().expect("a user object") {
        match (k.as_str(), v) {
            ("userID", Json::String(s)) => c = c.with_targeting_key(s.clone()),
            (_, Json::String(s)) => c = c.with_custom_field(k.clone(), s.clone()),
            _ => {
                c = c.with_custom_field(
                    k.clone(),
                    EvaluationContextFieldValue::new_struct(v.clone()),
                )
            }
        }
    }
    c
}

/// Numbers by value, `null` object fields left out (OpenFeature values have no null).
fn norm(v: &Json) -> Json {
    match v {
        Json::Number(n) => Json::from(n.as_f64().expect("a number")),
        Json::Array(a) => Json::Array(a.iter().map(norm).collect()),
        Json::Object(o) => Json::Object(
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), norm(v)))
                .collect(),
        ),
        v => v.clone(),
    }
}

fn meta(m: &open_feature::FlagMetadata, key: &str) -> Json {
    match m.values.get(key) {
        Some(FlagMetadataValue::String(s)) => Json::String(s.clone()),
        _ => Json::Null,
    }
}

#[tokio::test]
async fn the_provider_agrees_with_the_official_core_on_the_corpus() {
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("conformance/fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("expected.jsonl.xz").exists())
        .collect();
    fixtures.sort();
    assert!(!fixtures.is_empty());
    let (mut total, mut failed, mut bad) = (0, 0, Vec::new());
    for dir in &fixtures {
        let tier = std::fs::read_to_string(dir.join("environment"))
            .ok()
            .map(|t| t.trim().to_owned());
        let store = Store::with_options(Options {
            environment: tier,
            ..Options::default()
        });
        store
            .load_json(&std::fs::read(dir.join("dcs.json")).expect("dcs.json"))
            .expect("loads");
        let mut api = OpenFeature::default();
        api.set_provider(FlagcoreProvider::new(Arc::new(store)).log_exposures(false))
            .await;
        let client = api.create_client();
        let users: Vec<EvaluationContext> = lines(&dir.join("users.jsonl"))
            .iter()
            .map(context)
            .collect();
        for exp in lines(&dir.join("expected.jsonl.xz")) {
            total += 1;
            let u = exp["u"].as_u64().expect("u") as usize;
            let kind = exp["kind"].as_str().expect("kind");
            let key = format!("{kind}:{}", exp["name"].as_str().expect("name"));
            let ctx = Some(&users[u]);
            let got = if kind == "gate" {
                client
                    .get_bool_details(&key, ctx, None)
                    .await
                    .map(|d| (Json::Bool(d.value), d.flag_metadata))
            } else {
                client
                    .get_struct_details::<StructValue>(&key, ctx, None)
                    .await
                    .map(|d| (struct_to_json(&d.value), d.flag_metadata))
            };
            let ok = got.as_ref().is_ok_and(|(value, m)| {
                norm(value) == norm(&exp["value"])
                    && meta(m, "ruleId") == exp["rule_id"]
                    && meta(m, "groupName") == exp["group_name"]
                    && meta(m, "allocatedExperiment") == exp["allocated_experiment"]
            });
            if !ok {
                failed += 1;
                if bad.len() < 5 {
                    bad.push((dir.file_name(), u, key, got.map(|g| g.0)));
                }
            }
        }
    }
    println!("provider over the corpus: {}/{total} agree", total - failed);
    assert_eq!(failed, 0, "{failed} disagree, e.g. {bad:?}");
}

//! Every result names a rule of the payload, or one of the documented special rule ids:
//! `default` (no rule matched, or an evaluation error), `disabled` (a disabled spec), `""`
//! (unrecognized name, or an unsupported condition before any rule decided) and `override`.

use std::collections::HashSet;
use std::path::Path;

use flagcore::{Exposures, Kind, Ruleset, Scratch, UserData};

#[test]
fn results_name_existing_rules() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/fixtures");
    let fixtures = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut checked = 0;
    for fixture in fixtures {
        let path = fixture.expect("dir entry").path();
        let dcs = std::fs::read(path.join("dcs.json")).expect("dcs.json");
        let json: serde_json::Value = serde_json::from_slice(&dcs).expect("JSON");
        let mut ids: HashSet<String> = ["default", "disabled", "", "override"]
            .map(String::from)
            .into();
        for section in ["feature_gates", "dynamic_configs", "layer_configs"] {
            for spec in json[section]
                .as_object()
                .into_iter()
                .flat_map(|m| m.values())
            {
                for rule in spec["rules"].as_array().into_iter().flatten() {
                    if let Some(id) = rule["id"].as_str() {
                        ids.insert(id.to_owned());
                    }
                }
            }
        }
        let rs = Ruleset::from_json(&dcs).expect("fixture loads");
        let users = std::fs::read_to_string(path.join("users.jsonl")).expect("users");
        let mut scratch = Scratch::new();
        let store = flagcore::Store::new();
        store.install(rs);
        let snapshot = store.snapshot();
        let rs = snapshot.ruleset().expect("ruleset");
        let mut names: Vec<(Kind, &str)> = rs.gate_names().map(|n| (Kind::Gate, n)).collect();
        names.extend(rs.config_names().map(|(n, _)| (Kind::Experiment, n)));
        names.extend(rs.layer_names().map(|n| (Kind::Layer, n)));
        for line in users.lines().take(60) {
            let user = UserData::from_json(line.as_bytes()).expect("user");
            for &(kind, name) in &names {
                let e =
                    snapshot.evaluate(&mut scratch, &user.view(), kind, name, Exposures::Suppress);
                assert!(
                    ids.contains(e.rule_id()),
                    "{}: {kind:?} {name} reports rule {:?}, which the payload does not have",
                    path.display(),
                    e.rule_id()
                );
                for s in e.secondary_exposures().iter() {
                    assert!(
                        ids.contains(s.rule_id),
                        "secondary exposure rule {:?}",
                        s.rule_id
                    );
                }
                checked += 1;
            }
        }
    }
    println!("{checked} results name existing rules");
    assert!(checked > 0);
}

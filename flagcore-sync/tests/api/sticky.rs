//! Sticky-assignment storage: the memory and file storages keep what they are given, read
//! values the official core wrote, and drive the official script of
//! `examples/tests/data/sticky` to the official core's storage contents.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use flagcore::sticky::{StickyOptions, StickyValues, UserPersistedValues};
use flagcore::{Exposures, Scratch, Store, UserData};
use flagcore_sync::sticky::{self, FileStorage, MemoryStorage, PersistentStorage};
use flagcore_sync::SyncError;
use serde_json::{json, Value};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flagcore-sticky-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/tests/data/sticky")
}

fn lines(name: &str) -> Vec<Value> {
    let path = data().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// Values the official core saved (from the official answers of the sticky cases).
fn official_values() -> Vec<(String, String, Value)> {
    lines("expected.jsonl")
        .into_iter()
        .flat_map(|row| row["ops"].as_array().cloned().unwrap_or_default())
        .filter(|op| op["op"] == "save")
        .map(|op| {
            let s = |k: &str| op[k].as_str().expect("string").to_owned();
            (s("key"), s("config"), op["values"].clone())
        })
        .collect()
}

fn round_trip(storage: &dyn PersistentStorage) {
    let saved = official_values();
    assert!(saved.len() > 100, "the official answers save values");
    let mut want: HashMap<String, UserPersistedValues> = HashMap::new();
    for (key, config, values) in &saved {
        let v: StickyValues = serde_json::from_value(values.clone()).expect("official values");
        // Written back, the values are the official JSON.
        assert_eq!(&serde_json::to_value(&v).unwrap(), values);
        storage.save(key, config, &v).unwrap();
        want.entry(key.clone())
            .or_default()
            .insert(config.clone(), v);
    }
    let odd = "wei:rd/../id%:userID";
    let v: StickyValues = serde_json::from_value(saved[0].2.clone()).unwrap();
    storage.save(odd, "exp", &v).unwrap();
    want.entry(odd.into()).or_default().insert("exp".into(), v);
    for (key, values) in &want {
        assert_eq!(storage.load(key).unwrap().as_ref(), Some(values), "{key}");
    }
    // Delete one name of a key; the others stay. Deleting what is not there is no error.
    let (key, values) = want
        .iter()
        .find(|(_, v)| v.len() > 1)
        .expect("a key with two names");
    let gone = values.keys().next().unwrap().clone();
    storage.delete(key, &gone).unwrap();
    let left = storage.load(key).unwrap().unwrap();
    assert_eq!(left.len(), values.len() - 1);
    assert!(!left.contains_key(&gone));
    storage.delete(key, &gone).unwrap();
    storage.delete("nobody:userID", "exp").unwrap();
    assert_eq!(storage.load("nobody:userID").unwrap(), None);
    storage.delete(odd, "exp").unwrap();
    assert!(storage.load(odd).unwrap().is_none_or(|v| v.is_empty()));
}

#[test]
fn memory_storage_round_trips_official_values() {
    round_trip(&MemoryStorage::new());
}

#[test]
fn file_storage_round_trips_official_values_and_persists() {
    let dir = temp_dir("files");
    round_trip(&FileStorage::open(&dir).unwrap());
    // A second storage over the directory (a restart) reads what the first wrote.
    let again = FileStorage::open(&dir).unwrap();
    let (key, config, values) = official_values().remove(0);
    let loaded = again
        .load(&key)
        .unwrap()
        .expect("persisted across instances");
    assert_eq!(serde_json::to_value(&loaded[&config]).unwrap(), values);
    // A deleted key's last name removes its file; no temporary file is left.
    let odd = again.path_of("wei:rd/../id%:userID");
    assert!(!odd.exists(), "{}", odd.display());
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(name.ends_with(".json") && !name.starts_with('.'), "{name}");
    }
    // A file the official SDK's storage wrote (its `UserPersistedValues` JSON) loads.
    let official = json!({ config: values });
    std::fs::write(again.path_of("official:userID"), official.to_string()).unwrap();
    let loaded = again.load("official:userID").unwrap().unwrap();
    assert_eq!(serde_json::to_value(&loaded).unwrap(), official);
    // A broken file is an error naming it, and is left alone.
    let broken = again.path_of("broken:userID");
    std::fs::write(&broken, b"{not json").unwrap();
    match again.load("broken:userID") {
        Err(SyncError::StickyValues { path, .. }) => assert_eq!(path, broken),
        other => panic!("expected StickyValues, got {other:?}"),
    }
    assert!(again
        .save("broken:userID", "exp", &StickyValues::default())
        .is_err());
    assert_eq!(std::fs::read(&broken).unwrap(), b"{not json");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The official script run through a storage: steps with `"persisted": "stored"` go
/// through [`sticky::experiment`] / [`sticky::layer`] (load, evaluate, save or delete);
/// the others give the core the script's values (none, or written by hand) and apply the
/// change. Before each stored step the storage must hold exactly what the official
/// storage held (`persisted_in`), and every result must be the official one.
fn replay(storage: &dyn PersistentStorage) -> usize {
    let script = lines("script.jsonl");
    let expected = lines("expected.jsonl");
    assert_eq!(script.len(), expected.len());
    let mut stores: HashMap<String, Store> = HashMap::new();
    let (mut scratch, mut slot) = (Scratch::new(), UserPersistedValues::new());
    let mut stored_steps = 0;
    for (i, (step, want)) in script.iter().zip(&expected).enumerate() {
        let payload = step["payload"].as_str().unwrap();
        let store = stores.entry(payload.to_owned()).or_insert_with(|| {
            let store = Store::new();
            store
                .load_json(&std::fs::read(data().join(payload)).unwrap())
                .expect("payload");
            store
        });
        let snapshot = store.snapshot();
        let user_data = UserData::from_json(step["user"].to_string().as_bytes()).unwrap();
        let user = user_data.view();
        let name = step["name"].as_str().unwrap();
        let flags = StickyOptions {
            persisted: None,
            enforce_overrides: step["enforce_overrides"].as_bool().unwrap_or(false),
            enforce_targeting: step["enforce_targeting"].as_bool().unwrap_or(false),
            exposures: Exposures::Suppress,
        };
        let layer = step["kind"] == "layer";
        let got = if step["persisted"] == "stored" {
            stored_steps += 1;
            if let Some(key) = want["key"].as_str() {
                let held = storage.load(key).unwrap().unwrap_or_default();
                assert_eq!(
                    serde_json::to_value(&held).unwrap(),
                    want["persisted_in"],
                    "step {i}: the storage holds what the official storage held"
                );
            }
            if layer {
                let l = sticky::layer(storage, &snapshot, &mut slot, &user, name, flags).unwrap();
                let e = l.evaluation();
                (
                    e.rule_id().to_owned(),
                    e.group_name().map(str::to_owned),
                    e.reason(),
                )
            } else {
                let e = sticky::experiment(
                    storage,
                    &snapshot,
                    &mut scratch,
                    &mut slot,
                    &user,
                    name,
                    flags,
                )
                .unwrap();
                (
                    e.rule_id().to_owned(),
                    e.group_name().map(str::to_owned),
                    e.reason(),
                )
            }
        } else {
            let values: Option<UserPersistedValues> = match &step["persisted"] {
                Value::Object(_) => {
                    Some(serde_json::from_value(step["persisted"].clone()).unwrap())
                }
                _ => None,
            };
            let options = StickyOptions {
                persisted: values.as_ref(),
                ..flags
            };
            let (e, change) = if layer {
                let (l, change) = snapshot.layer_sticky(&user, name, options);
                let e = l.evaluation();
                (
                    (
                        e.rule_id().to_owned(),
                        e.group_name().map(str::to_owned),
                        e.reason(),
                    ),
                    change,
                )
            } else {
                let (e, change) = snapshot.experiment_sticky(&mut scratch, &user, name, options);
                (
                    (
                        e.rule_id().to_owned(),
                        e.group_name().map(str::to_owned),
                        e.reason(),
                    ),
                    change,
                )
            };
            storage.apply(&change).unwrap();
            e
        };
        let r = &want["result"];
        assert_eq!(got.0, r["rule_id"], "step {i}: rule id");
        assert_eq!(
            got.1.as_deref(),
            r["group_name"].as_str(),
            "step {i}: group"
        );
        assert_eq!(
            got.2 == flagcore::Reason::Persisted,
            r["reason"] == "Persisted",
            "step {i}: reason"
        );
    }
    stored_steps
}

#[test]
fn memory_storage_replays_the_official_script() {
    assert!(replay(&MemoryStorage::new()) > 1000);
}

#[test]
fn file_storage_replays_the_official_script() {
    let dir = temp_dir("replay");
    assert!(replay(&FileStorage::open(&dir).unwrap()) > 1000);
    let _ = std::fs::remove_dir_all(&dir);
}

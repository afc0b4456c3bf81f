//! ID-list sync against a loopback server: additions, incremental appends with byte ranges,
//! removals, resets and deletions reach evaluation.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use flagcore::{Store, User};
use flagcore_sync::{IdListOptions, IdListSync};
use serde_json::json;

use super::server::{eventually, Mode, Server};

/// A payload whose gate `vip` passes users in ID list `vips`.
fn payload() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "feature_gates": {"vip": {"type": "feature_gate", "entity": "feature_gate", "salt": "s",
            "enabled": true, "defaultValue": false, "idType": "userID",
            "rules": [{"id": "in_list", "name": "r", "passPercentage": 100, "conditions": ["c"],
                       "returnValue": true, "idType": "userID"}]}},
        "dynamic_configs": {}, "layer_configs": {},
        "condition_map": {"c": {"type": "unit_id", "operator": "in_segment_list",
                                "targetValue": "vips", "idType": "userID"}},
        "experiment_to_layer": {}, "has_updates": true, "time": 1,
    }))
    .unwrap()
}

fn files(base: &str, manifest: serde_json::Value, lists: &[(&str, &[u8])]) -> Mode {
    let mut files: HashMap<String, Vec<u8>> = lists
        .iter()
        .map(|(path, body)| ((*path).to_owned(), body.to_vec()))
        .collect();
    let manifest = manifest.to_string().replace("BASE", base);
    files.insert("/v1/get_id_lists".into(), manifest.into_bytes());
    Mode::Files(files)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_sync_incrementally_and_reach_evaluation() {
    let server = Server::start(Mode::Html).await;
    let base = server.base();
    // "123" hashes to pmWkWSBC, "456" to its own 8 characters (see flagcore's IdLists).
    let v1: &[u8] = b"+pmWkWSBC\n+zzzzzzzz\n";
    let manifest = |size: usize, file: &str, created: i64| {
        json!({"vips": {"name": "vips", "url": "BASE/lists/vips", "size": size,
                        "creationTime": created, "fileID": file}})
    };
    server.set(files(
        &base,
        manifest(v1.len(), "f1", 1),
        &[("/lists/vips", v1)],
    ));
    let store = Arc::new(Store::new());
    store.load_json(&payload()).unwrap();
    let options = IdListOptions::new("secret-test")
        .manifest_url(format!("{base}/v1/get_id_lists"))
        .interval(Duration::from_millis(50));
    let sync = IdListSync::start(store.clone(), options).expect("client");
    let (u123, u456) = (User::with_user_id("123"), User::with_user_id("456"));
    assert!(eventually(Duration::from_secs(5), || store.check_gate(&u123, "vip")).await);
    assert!(store.id_lists().contains_hashed("vips", "zzzzzzzz"));
    assert!(!store.check_gate(&u456, "vip"));

    // An append: only the new bytes are fetched (Range), and the removal applies.
    let mut v2 = v1.to_vec();
    v2.extend_from_slice(b"-pmWkWSBC\n");
    server.set(files(
        &base,
        manifest(v2.len(), "f1", 1),
        &[("/lists/vips", &v2)],
    ));
    assert!(eventually(Duration::from_secs(5), || !store.check_gate(&u123, "vip")).await);
    assert!(store.id_lists().contains_hashed("vips", "zzzzzzzz"));
    assert!(
        server.saw(&format!("bytes={}-", v1.len())),
        "the append was not fetched by range"
    );
    assert!(
        server.saw("POST /v1/get_id_lists"),
        "a custom manifest URL is requested by POST"
    );

    // A new file (newer creation time) resets the list.
    let v3: &[u8] = b"+pmWkWSBC\n";
    server.set(files(
        &base,
        manifest(v3.len(), "f2", 2),
        &[("/lists/vips", v3)],
    ));
    assert!(eventually(Duration::from_secs(5), || store.check_gate(&u123, "vip")).await);
    assert!(
        eventually(Duration::from_secs(5), || !store
            .id_lists()
            .contains_hashed("vips", "zzzzzzzz"))
        .await
    );

    // A file that is not an ID-list file (an error page) leaves the list alone.
    let mut v4 = v3.to_vec();
    v4.extend_from_slice(b"+yyyyyyyy\n");
    server.set(files(
        &base,
        manifest(v4.len(), "f3", 3),
        &[("/lists/vips", b"<html>oops</html>")],
    ));
    assert!(
        eventually(Duration::from_secs(5), || sync
            .status()
            .consecutive_failures
            >= 2)
        .await
    );
    assert!(store.check_gate(&u123, "vip"));

    // A list gone from the manifest is deleted.
    server.set(files(&base, json!({}), &[]));
    assert!(
        eventually(Duration::from_secs(5), || store
            .id_lists()
            .list_names()
            .next()
            .is_none())
        .await
    );
    assert!(!store.check_gate(&u123, "vip"));
    sync.shutdown().await;
}

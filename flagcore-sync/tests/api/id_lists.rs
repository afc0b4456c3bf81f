//! ID-list sync against the fake Statsig, in paused time: additions, appends fetched by
//! byte range, removals, resets, deletions, and servers that ignore ranges.

use std::sync::Arc;
use std::time::Duration;

use flagcore::{Store, User};
use flagcore_sync::{IdListOptions, IdListSync};
use serde_json::json;

use super::server::{advance, freeze, until, Reply, Server, MANIFEST};

const INTERVAL: Duration = Duration::from_secs(60);

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

#[tokio::test(start_paused = true)]
async fn lists_sync_incrementally_and_reach_evaluation() {
    let _clock = freeze();
    let server = Server::start();
    let list_url = format!("{}/lists/vips", server.base());
    let manifest = |size: usize, file: &str, created: i64| {
        let m = json!({"vips": {"name": "vips", "url": list_url, "size": size,
                                "creationTime": created, "fileID": file}});
        Reply::Serve(m.to_string().into_bytes())
    };
    // "123" hashes to pmWkWSBC (see flagcore's IdLists).
    let v1: &[u8] = b"+pmWkWSBC\n+zzzzzzzz\n";
    server.set_file("/lists/vips", v1);
    server.set_manifest(manifest(v1.len(), "f1", 1));
    let store = Arc::new(Store::new());
    store.load_json(&payload()).unwrap();
    let options = IdListOptions::new("secret-test")
        .manifest_url(server.manifest_url())
        .interval(INTERVAL);
    let sync = IdListSync::start(store.clone(), options).expect("client");
    let first = sync.wait_for_first_sync(Duration::from_secs(5)).await;
    assert!(first.last_install.is_some(), "{first:?}");
    let (u123, u456) = (User::with_user_id("123"), User::with_user_id("456"));
    assert!(store.check_gate(&u123, "vip"));
    assert!(store.id_lists().contains_hashed("vips", "zzzzzzzz"));
    assert!(!store.check_gate(&u456, "vip"));
    let m = &server.requests(MANIFEST)[0];
    assert_eq!(
        m.method, "POST",
        "a custom manifest URL is requested by POST"
    );
    assert_eq!(m.header("statsig-api-key"), Some("secret-test"));

    let sync_once = || async {
        let attempts = sync.status().attempts;
        advance(INTERVAL).await;
        until("a sync", || sync.status().attempts > attempts).await;
    };

    // An append: only the new bytes are fetched (a byte range), and the removal applies.
    let mut v2 = v1.to_vec();
    v2.extend_from_slice(b"-pmWkWSBC\n");
    server.set_file("/lists/vips", &v2);
    server.set_manifest(manifest(v2.len(), "f1", 1));
    sync_once().await;
    assert!(!store.check_gate(&u123, "vip"));
    assert!(store.id_lists().contains_hashed("vips", "zzzzzzzz"));
    let ranged = server.requests("/lists/vips");
    assert_eq!(ranged.last().unwrap().header("range"), Some("bytes=20-"));
    assert_eq!(
        ranged.last().unwrap().header("statsig-id-list-file-size"),
        Some("30")
    );

    // Nothing new: nothing downloaded.
    let downloads = server.count("/lists/");
    sync_once().await;
    assert_eq!(server.count("/lists/"), downloads);

    // A server that ignores the range sends the whole file: applied from the start.
    server.ignore_ranges(true);
    let mut v3 = v2.clone();
    v3.extend_from_slice(b"+yyyyyyyy\n");
    server.set_file("/lists/vips", &v3);
    server.set_manifest(manifest(v3.len(), "f1", 1));
    sync_once().await;
    let lists = store.id_lists();
    assert!(lists.contains_hashed("vips", "yyyyyyyy") && lists.contains_hashed("vips", "zzzzzzzz"));
    assert!(!lists.contains_hashed("vips", "pmWkWSBC"));
    assert_eq!(lists.len("vips"), 2);
    server.ignore_ranges(false);

    // A new file (a newer creation time) resets the list.
    let v4: &[u8] = b"+pmWkWSBC\n";
    server.set_file("/lists/vips", v4);
    server.set_manifest(manifest(v4.len(), "f2", 2));
    sync_once().await;
    assert!(store.check_gate(&u123, "vip"));
    assert_eq!(store.id_lists().len("vips"), 1);

    // A file that is not an ID-list file (an error page) leaves the list alone.
    server.set_file("/lists/vips", b"<html>oops</html>");
    server.set_manifest(manifest(17, "f3", 3));
    sync_once().await;
    let status = sync.status();
    assert!(
        status
            .last_error
            .as_ref()
            .is_some_and(|(_, e)| e.contains("not an ID-list file")),
        "{status:?}"
    );
    assert!(store.check_gate(&u123, "vip"));

    // A manifest that is not one changes nothing either.
    server.set_manifest(Reply::Html);
    sync_once().await;
    assert_eq!(sync.status().consecutive_failures, 2);
    assert!(store.check_gate(&u123, "vip"));

    // A list gone from the manifest is deleted.
    server.set_manifest(Reply::Serve(b"{}".to_vec()));
    sync_once().await;
    assert_eq!(store.id_lists().list_names().count(), 0);
    assert!(!store.check_gate(&u123, "vip"));
    sync.shutdown().await;
}

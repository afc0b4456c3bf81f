//! The file watcher against real files, in paused time: edits flip gates within one
//! interval; half-written, empty, oversized and deleted files keep the last good ruleset.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use flagcore::{Limits, Store, User};
use flagcore_sync::{FileOptions, FileWatcher};

use super::server::{
    advance, assert_broken_is_named, empty_payload, freeze, payload, payload_with_a_dropped_spec,
    until,
};

/// The example `file_kill_switch`, whose kill switch the tests run.
#[path = "../../examples/file_kill_switch.rs"]
// Its `main` runs only as the example.
#[allow(dead_code)]
mod example;

const INTERVAL: Duration = Duration::from_secs(1);

fn temp_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flagcore-sync-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("flags.json")
}

fn time(store: &Store) -> Option<u64> {
    store.ruleset().map(|r| r.time())
}

/// Moves the clock one interval and waits until the watcher has checked the file. Every
/// check is an attempt in the status, so the watcher is asleep again when this returns: a
/// test's next edit is read by the next check, never by one already under way.
async fn tick(watcher: &FileWatcher) {
    let before = watcher.status().attempts;
    advance(INTERVAL).await;
    until("a check of the file", || watcher.status().attempts > before).await;
}

/// `bytes` padded with spaces to `len` (JSON allows trailing whitespace).
fn padded(mut bytes: Vec<u8>, len: usize) -> Vec<u8> {
    bytes.resize(len, b' ');
    bytes
}

#[tokio::test(start_paused = true)]
async fn edits_flip_gates_and_broken_files_keep_the_last_good_ruleset() {
    let _clock = freeze();
    let path = temp_file("edits");
    std::fs::write(&path, payload(1, true)).unwrap();
    let store = Arc::new(Store::new());
    let watcher = FileWatcher::start(store.clone(), &path, INTERVAL);
    let first = watcher.wait_for_first_sync(INTERVAL).await;
    assert_eq!(first.ruleset_time, Some(1), "{first:?}");
    let user = User::with_user_id("u");
    assert!(store.check_gate(&user, "g"));

    // An unchanged file is checked every interval, and each check is a success.
    tick(&watcher).await;
    let status = watcher.status();
    assert_eq!((status.attempts, status.consecutive_failures), (2, 0));
    assert_eq!(status.last_success, status.last_attempt, "{status:?}");

    // A kill switch flipped in the file is seen within one interval.
    std::fs::write(&path, payload(2, false)).unwrap();
    tick(&watcher).await;
    assert!(!store.check_gate(&user, "g"));

    // A half-written file (an editor or deploy tool mid-write) is not installed…
    let full = payload(3, true);
    std::fs::write(&path, &full[..full.len() / 2]).unwrap();
    tick(&watcher).await;
    let status = watcher.status();
    assert!(
        status
            .last_error
            .as_ref()
            .is_some_and(|(_, e)| e.contains("rejected")),
        "{status:?}"
    );
    assert_eq!(time(&store), Some(2));
    assert!(!store.check_gate(&user, "g"));
    // …nor retried until it changes (the failure stands, counted once)…
    for _ in 0..3 {
        tick(&watcher).await;
    }
    assert_eq!(watcher.status().consecutive_failures, 1);
    assert_eq!(time(&store), Some(2));
    // …and the completed file is.
    std::fs::write(&path, &full).unwrap();
    tick(&watcher).await;
    assert_eq!(time(&store), Some(3));
    assert_eq!(watcher.status().consecutive_failures, 0);

    // A rewrite of the same size with the same modification time is still seen.
    std::fs::write(&path, padded(payload(4, true), 1000)).unwrap();
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    tick(&watcher).await;
    assert_eq!(time(&store), Some(4));
    std::fs::write(&path, padded(payload(5, false), 1000)).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    tick(&watcher).await;
    assert_eq!(time(&store), Some(5));

    // An empty ruleset does not replace a non-empty one.
    std::fs::write(&path, empty_payload(6)).unwrap();
    tick(&watcher).await;
    let status = watcher.status();
    assert!(
        status
            .last_error
            .as_ref()
            .is_some_and(|(_, e)| e.contains("empty")),
        "{status:?}"
    );
    assert_eq!(time(&store), Some(5));

    // A deleted file keeps the last ruleset; the watcher goes on.
    std::fs::remove_file(&path).unwrap();
    tick(&watcher).await;
    assert_eq!(time(&store), Some(5));
    assert!(watcher.status().last_error.is_some());
    std::fs::write(&path, payload(7, true)).unwrap();
    tick(&watcher).await;
    assert_eq!(time(&store), Some(7));
    watcher.shutdown().await;
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test(start_paused = true)]
async fn an_oversized_file_is_not_read() {
    let _clock = freeze();
    let path = temp_file("oversized");
    std::fs::write(&path, padded(payload(1, true), 10_000)).unwrap();
    let store = Arc::new(Store::new());
    let mut limits = Limits::default();
    limits.max_payload_bytes = 4_096;
    let watcher = FileWatcher::with_options(store.clone(), FileOptions::new(&path).limits(limits));
    let status = watcher.wait_for_first_sync(INTERVAL).await;
    assert!(
        status
            .last_error
            .as_ref()
            .is_some_and(|(_, e)| e.contains("larger than 4096 bytes")),
        "{status:?}"
    );
    assert!(store.ruleset().is_none());
    watcher.shutdown().await;
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test(start_paused = true)]
async fn specs_the_payload_lost_are_named_in_the_status() {
    let _clock = freeze();
    let path = temp_file("dropped");
    std::fs::write(&path, payload_with_a_dropped_spec(1)).unwrap();
    let store = Arc::new(Store::new());
    let watcher = FileWatcher::start(store.clone(), &path, INTERVAL);
    let first = watcher.wait_for_first_sync(INTERVAL).await;
    assert_eq!(first.ruleset_time, Some(1), "{first:?}");
    // The Statsig behaviour is kept: the rest serves, the dropped gate is unrecognized…
    let user = User::with_user_id("u");
    assert!(store.check_gate(&user, "g"));
    assert!(!store.check_gate(&user, "broken"));
    assert_eq!(
        store.snapshot().gate(&user, "broken").reason(),
        flagcore::Reason::Unrecognized
    );
    // …and the status says which spec was lost and why.
    assert_broken_is_named(&first.dropped_specs);
    // A fixed file clears it.
    std::fs::write(&path, payload(2, true)).unwrap();
    tick(&watcher).await;
    assert_eq!(time(&store), Some(2));
    assert_eq!(watcher.status().dropped_specs, []);
    watcher.shutdown().await;
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

/// What the example tells users turns a gate off really does, and `"enabled": false` alone
/// does not (in Statsig neither: only the rule id of a no-match answer changes).
#[tokio::test(start_paused = true)]
async fn the_example_kill_switch_turns_a_gate_off_and_enabled_false_alone_does_not() {
    let _clock = freeze();
    let demo = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/data/demo.json"
    ))
    .expect("examples/data/demo.json");
    let path = temp_file("kill-switch");
    std::fs::write(&path, &demo).unwrap();
    let store = Arc::new(Store::new());
    let watcher = FileWatcher::start(store.clone(), &path, INTERVAL);
    let first = watcher.wait_for_first_sync(INTERVAL).await;
    let demo_time = first.ruleset_time.expect("demo.json loads");
    let ids = ["ana", "bob", "user-1", "user-2", ""];
    let answers = |store: &Store| -> Vec<(bool, String)> {
        let snapshot = store.snapshot();
        ids.iter()
            .map(|id| {
                let e = snapshot.gate(&User::with_user_id(id), "payments_enabled");
                (e.value(), e.rule_id().to_owned())
            })
            .collect()
    };
    let on = answers(&store);
    assert!(on.iter().all(|(value, _)| *value), "{on:?}");

    // `"enabled": false` alone: the rule still matches, the gate stays on.
    let mut disabled: serde_json::Value = serde_json::from_slice(&demo).unwrap();
    disabled["feature_gates"]["payments_enabled"]["enabled"] = false.into();
    disabled["time"] = (demo_time + 1).into();
    std::fs::write(&path, serde_json::to_vec(&disabled).unwrap()).unwrap();
    tick(&watcher).await;
    assert_eq!(time(&store), Some(demo_time + 1));
    assert_eq!(answers(&store), on);

    // The example's kill switch: off for everyone, as a gate disabled in Statsig.
    example::kill_in_file(&path, "payments_enabled").expect("the kill switch");
    tick(&watcher).await;
    assert_eq!(time(&store), Some(demo_time + 2));
    let off = answers(&store);
    assert!(
        off.iter().all(|(value, rule)| !value && rule == "disabled"),
        "{off:?}"
    );
    // The rest of the payload is untouched.
    assert!(store.check_gate(
        &User::with_user_id("ana").email("ana@acme.com"),
        "team_dogfood"
    ));
    assert!(example::kill(&demo, "no_such_gate").is_err());
    watcher.shutdown().await;
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

//! Readers evaluating while a writer installs rulesets over and over never see a torn or
//! mixed state: everything read through one snapshot comes from one ruleset.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::common::{payload, public_condition, rule, spec};
use flagcore::{Ruleset, Store, User};
use serde_json::json;

/// Ruleset `tag` (A = time 1, gate on; B = time 2, gate off); config `c` names its ruleset.
fn ruleset(time: u64, gate_on: bool, tag: &str) -> Arc<Ruleset> {
    let bytes = payload(
        time,
        json!({"g": spec("feature_gate", "s", json!(false),
                         json!([rule("r", 100.0, &["public"], json!(gate_on))]))}),
        json!({"c": spec("dynamic_config", "s", json!({}),
                         json!([rule("r", 100.0, &["public"], json!({"version": tag}))]))}),
        json!({}),
        public_condition(),
    );
    Arc::new(Ruleset::from_json(&bytes).expect("loads"))
}

#[test]
fn readers_never_see_a_mixed_state() {
    let (a, b) = (ruleset(1, true, "A"), ruleset(2, false, "B"));
    let store = Store::new();
    store.install(a.clone());
    let done = AtomicBool::new(false);
    let seen = [AtomicU64::new(0), AtomicU64::new(0)];
    std::thread::scope(|s| {
        for t in 0..4 {
            let (store, done, seen) = (&store, &done, &seen);
            s.spawn(move || {
                let id = format!("user-{t}");
                let user = User::with_user_id(&id);
                let mut checks = 0u64;
                while !done.load(Ordering::Acquire) || checks < 1000 {
                    let snapshot = store.snapshot();
                    let gate = snapshot.gate(&user, "g");
                    let config = snapshot.dynamic_config(&user, "c");
                    let version = config.get("version").and_then(|v| v.as_str());
                    let time = gate.ruleset_time();
                    assert_eq!(config.ruleset_time(), time, "two rulesets in one snapshot");
                    match (time, gate.value(), version) {
                        (1, true, Some("A")) => seen[0].fetch_add(1, Ordering::Relaxed),
                        (2, false, Some("B")) => seen[1].fetch_add(1, Ordering::Relaxed),
                        other => panic!("torn or mixed result: {other:?}"),
                    };
                    checks += 1;
                }
            });
        }
        // At least 2,000 installs, and on until the readers have seen both rulesets: on a
        // loaded machine the readers may start only after the first thousands (the test
        // takes longer then, its outcome is the same).
        let both_seen = || seen.iter().all(|n| n.load(Ordering::Relaxed) > 0);
        let mut i = 0u64;
        while i < 2000 || !both_seen() {
            store.install(if i % 2 == 0 { b.clone() } else { a.clone() });
            if i % 64 == 0 {
                std::thread::yield_now();
            }
            i += 1;
        }
        done.store(true, Ordering::Release);
    });
    let (sa, sb) = (
        seen[0].load(Ordering::Relaxed),
        seen[1].load(Ordering::Relaxed),
    );
    println!("evaluations of A: {sa}, of B: {sb}");
    assert!(
        sa > 0 && sb > 0,
        "readers saw only one ruleset (A: {sa}, B: {sb})"
    );
}

#[test]
fn a_snapshot_keeps_its_ruleset_after_the_store_moves_on() {
    let store = Store::new();
    store.install(ruleset(1, true, "A"));
    let user = User::with_user_id("u");
    let snapshot = store.snapshot();
    store.install(ruleset(2, false, "B"));
    assert!(snapshot.check_gate(&user, "g"));
    assert_eq!(snapshot.ruleset().map(Ruleset::time), Some(1));
    assert!(!store.check_gate(&user, "g"));
    drop(snapshot);
    assert_eq!(store.ruleset().map(|r| r.time()), Some(2));
}

#[test]
fn an_owned_snapshot_moves_across_threads_and_keeps_its_state() {
    fn send_sync_static<T: Send + Sync + 'static>(t: T) -> T {
        t
    }
    let store = Store::new();
    store.install(ruleset(1, true, "A"));
    store.override_gate("forced", true, Some("u"));
    let owned = send_sync_static(store.snapshot_owned());
    store.install(ruleset(2, false, "B"));
    store.clear_overrides();
    let user = User::with_user_id("u");
    // The store moved on; the owned snapshot did not, even on another thread.
    let copy = owned.clone();
    let (gate, forced, time) = std::thread::spawn(move || {
        let user = User::with_user_id("u");
        (
            copy.check_gate(&user, "g"),
            copy.check_gate(&user, "forced"),
            copy.ruleset().map(Ruleset::time),
        )
    })
    .join()
    .expect("thread");
    assert!(gate && forced);
    assert_eq!(time, Some(1));
    // Both kinds of snapshot evaluate through the same `View`.
    let borrowed = store.snapshot();
    let views: [&flagcore::View; 2] = [&owned, &borrowed];
    assert_eq!(views.map(|v| v.check_gate(&user, "g")), [true, false]);
    assert_eq!(
        views.map(|v| v.dynamic_config(&user, "c").get("version").cloned()),
        [Some(json!("A")), Some(json!("B"))]
    );
}

#[test]
fn a_bad_payload_leaves_the_last_good_ruleset_serving() {
    let store = Store::new();
    store.install(ruleset(1, true, "A"));
    let user = User::with_user_id("u");
    for bad in [
        &b"{"[..],
        b"<html>oops</html>",
        b"{}",
        b"{\"feature_gates\": []}",
    ] {
        assert!(store.load_json(bad).is_err());
        assert!(store.check_gate(&user, "g"));
        assert_eq!(store.ruleset().map(|r| r.time()), Some(1));
    }
}

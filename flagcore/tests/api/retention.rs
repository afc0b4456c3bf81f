//! How long a replaced ruleset stays in memory with snapshots cached per thread: until
//! every snapshot of it is dropped and every thread that cached it has taken another
//! snapshot (of any store) or exited. An idle thread pins at most one state.

use std::sync::mpsc;
use std::sync::{Arc, Weak};

use super::common::{payload, public_condition, rule, spec};
use flagcore::{Ruleset, Store, User};
use serde_json::json;

/// A ruleset of time `time` whose gate `g` is `on`, and a weak reference to it (so the test
/// holds no strong one).
fn ruleset(time: u64, on: bool) -> (Arc<Ruleset>, Weak<Ruleset>) {
    let bytes = payload(
        time,
        json!({"g": spec("feature_gate", "s", json!(false),
                         json!([rule("r", 100.0, &["public"], json!(on))]))}),
        json!({}),
        json!({}),
        public_condition(),
    );
    let rs = Arc::new(Ruleset::from_json(&bytes).expect("loads"));
    let weak = Arc::downgrade(&rs);
    (rs, weak)
}

fn alive(weak: &Weak<Ruleset>) -> bool {
    weak.strong_count() > 0
}

fn time(store: &Store) -> Option<u64> {
    store.snapshot().ruleset().map(Ruleset::time)
}

#[test]
fn the_next_snapshot_after_an_install_releases_the_old_ruleset() {
    let store = Store::new();
    let (r1, w1) = ruleset(1, true);
    store.install(r1);
    assert_eq!(time(&store), Some(1));
    let (r2, w2) = ruleset(2, false);
    store.install(r2);
    // The thread's cache holds the old state until its next snapshot …
    assert!(alive(&w1));
    // … which sees the new ruleset and drops the old one.
    let snapshot = store.snapshot();
    assert_eq!(snapshot.ruleset().map(Ruleset::time), Some(2));
    assert!(!snapshot.check_gate(&User::with_user_id("u"), "g"));
    assert!(!alive(&w1));
    drop(snapshot);
    assert!(alive(&w2));
    drop(store);
    // Dropping the store releases this thread's entry at once.
    assert!(!alive(&w2));
}

#[test]
fn a_live_snapshot_keeps_its_ruleset_until_dropped() {
    let store = Store::new();
    let (r1, w1) = ruleset(1, true);
    store.install(r1);
    let old = store.snapshot();
    let (r2, _w2) = ruleset(2, false);
    store.install(r2);
    let new = store.snapshot();
    let user = User::with_user_id("u");
    assert!(old.check_gate(&user, "g"));
    assert!(!new.check_gate(&user, "g"));
    assert!(alive(&w1));
    drop(old);
    assert!(!alive(&w1));
    drop(new);
}

#[test]
fn an_idle_thread_pins_at_most_one_state() {
    let store = Store::new();
    let (r0, w0) = ruleset(0, true);
    store.install(r0);
    let (go, wait) = mpsc::channel::<()>();
    let (seen, saw) = mpsc::channel::<Option<u64>>();
    let weaks = std::thread::scope(|s| {
        let store = &store;
        let idle = s.spawn(move || {
            seen.send(time(store)).expect("send");
            // Idle, holding no snapshot, while rulesets are installed.
            wait.recv().expect("go");
            seen.send(time(store)).expect("send");
            wait.recv().expect("go");
        });
        assert_eq!(saw.recv().expect("first"), Some(0));
        let weaks: Vec<_> = (1..=20)
            .map(|t| {
                let (rs, weak) = ruleset(t, t % 2 == 0);
                store.install(rs);
                assert_eq!(time(store), Some(t));
                weak
            })
            .collect();
        // The idle thread still pins the one state it saw; this thread's cache holds the
        // current one; every ruleset in between is gone.
        assert!(alive(&w0));
        assert!(weaks[..19].iter().all(|w| !alive(w)));
        assert!(alive(&weaks[19]));
        // Its next snapshot releases the old state.
        go.send(()).expect("go");
        assert_eq!(saw.recv().expect("second"), Some(20));
        assert!(!alive(&w0));
        // It holds the current state now; installing another and taking a snapshot here
        // leaves the previous one pinned by the idle thread alone …
        let (r21, _w21) = ruleset(21, true);
        store.install(r21);
        assert_eq!(time(store), Some(21));
        assert!(alive(&weaks[19]));
        // … until it exits (`join` returns after the thread's destructors have run).
        go.send(()).expect("go");
        idle.join().expect("idle thread");
        weaks
    });
    assert!(!alive(&weaks[19]));
    assert_eq!(time(&store), Some(21));
}

#[test]
fn a_thread_that_exits_releases_its_state() {
    let store = Store::new();
    let (r1, w1) = ruleset(1, true);
    store.install(r1);
    std::thread::scope(|s| {
        let t = s.spawn(|| assert_eq!(time(&store), Some(1)));
        t.join().expect("thread");
    });
    let (r2, _w2) = ruleset(2, false);
    store.install(r2);
    assert!(!alive(&w1), "only the exited thread had cached ruleset 1");
}

#[test]
fn one_thread_serves_several_stores() {
    let (a, b) = (Store::new(), Store::new());
    let (ra, wa) = ruleset(1, true);
    let (rb, wb) = ruleset(2, false);
    a.install(ra);
    b.install(rb);
    let user = User::with_user_id("u");
    for _ in 0..3 {
        assert!(a.check_gate(&user, "g"));
        assert!(!b.check_gate(&user, "g"));
        assert_eq!((time(&a), time(&b)), (Some(1), Some(2)));
    }
    // Snapshots of both stores at once, each with its own ruleset.
    let (sa, sb) = (a.snapshot(), b.snapshot());
    assert!(sa.check_gate(&user, "g") && !sb.check_gate(&user, "g"));
    drop((sa, sb));
    let (ra2, wa2) = ruleset(3, false);
    a.install(ra2);
    assert!(!a.check_gate(&user, "g"));
    assert!(!alive(&wa));
    // This thread's entry is `a`'s: dropping `a` frees its ruleset at once.
    drop(a);
    assert!(!alive(&wa2));
    assert!(alive(&wb));
    drop(b);
    assert!(!alive(&wb));
}

//! The Statsig poller against the fake Statsig, in paused time: every wait below is virtual,
//! every request real.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use flagcore::{Store, User, UserData};
use flagcore_sync::{initialize, InitSource, StatsigOptions, StatsigPoller};
use serde_json::Value as Json;

use super::server::{
    advance, assert_broken_is_named, conformance, empty_payload, freeze, payload,
    payload_with_a_dropped_spec, settle, until, Reply, Server, SPECS,
};

const INTERVAL: Duration = Duration::from_secs(10);
const TIMEOUT: Duration = Duration::from_secs(3);

fn options(server: &Server) -> StatsigOptions {
    StatsigOptions::new("secret-test")
        .specs_url(server.specs_url())
        .interval(INTERVAL)
        .timeout(TIMEOUT)
        .retry_base(Duration::from_millis(500))
}

fn time(store: &Store) -> Option<u64> {
    store.ruleset().map(|r| r.time())
}

/// The payload that serves before the faults, users to evaluate, and the payload of the
/// recovery, which turns off a gate that was on for some of them (a kill switch).
struct Scenario {
    good: Vec<u8>,
    users: Vec<UserData>,
    recovered: Vec<u8>,
    killed: String,
}

fn scenario() -> Scenario {
    let good = conformance("fixtures/demo_proj/dcs.json");
    let users = conformance("fixtures/demo_proj/users.jsonl");
    let users: Vec<UserData> = users
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .take(150)
        .map(|l| UserData::from_json(l).expect("a user"))
        .collect();
    let store = Store::new();
    let rs = store.load_json(&good).expect("demo_proj loads");
    let killed = rs
        .gate_names()
        .find(|g| {
            let snapshot = store.snapshot();
            users.iter().any(|u| snapshot.gate(&u.view(), g).value())
        })
        .expect("a gate that is on for someone")
        .to_owned();
    let mut v: Json = serde_json::from_slice(&good).unwrap();
    v["time"] = Json::from(rs.time() + 1);
    v["checksum"] = Json::from("recovered");
    v["feature_gates"][&killed]["rules"] = Json::Array(Vec::new());
    v["feature_gates"][&killed]["defaultValue"] = Json::Bool(false);
    Scenario {
        good,
        users,
        recovered: serde_json::to_vec(&v).unwrap(),
        killed,
    }
}

/// Every gate's value and rule, and every config's rule and value, for every user.
fn answers(store: &Store, users: &[UserData]) -> Vec<String> {
    let snapshot = store.snapshot();
    let Some(rs) = snapshot.ruleset() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for user in users {
        let user = user.view();
        for g in rs.gate_names() {
            let e = snapshot.gate(&user, g);
            out.push(format!("{g} {} {}", e.value(), e.rule_id()));
        }
        for (c, _) in rs.config_names() {
            let e = snapshot.dynamic_config(&user, c);
            out.push(format!("{c} {} {:?}", e.rule_id(), e.json()));
        }
    }
    out
}

#[tokio::test(start_paused = true)]
async fn faults_never_change_answers_and_a_recovery_is_seen_within_one_interval() {
    let _clock = freeze();
    let s = scenario();
    let server = Server::start();
    server.set_specs(Reply::Serve(s.good.clone()));
    let store = Arc::new(Store::new());
    let poller = StatsigPoller::start(store.clone(), options(&server)).expect("client");
    let first = poller.wait_for_first_sync(TIMEOUT).await;
    assert!(first.last_install.is_some(), "first sync failed: {first:?}");
    let good_time = time(&store);
    let before = answers(&store, &s.users);
    assert!(!before.is_empty());

    let wrong_types = br#"{"feature_gates": [], "dynamic_configs": {}, "layer_configs": {},
        "condition_map": {}, "experiment_to_layer": {}, "has_updates": true, "time": "now"}"#;
    let faults: Vec<(&str, Reply, &str)> = vec![
        ("HTTP 500", Reply::Status(500, None), "HTTP 500"),
        ("HTTP 503", Reply::Status(503, None), "HTTP 503"),
        (
            "a hang past the timeout",
            Reply::Hang,
            "request to the config source failed",
        ),
        (
            "a truncated body",
            Reply::Truncated(s.recovered.clone()),
            "request to the config source failed",
        ),
        ("an HTML page", Reply::Html, "rejected"),
        ("{}", Reply::Serve(b"{}".to_vec()), "rejected"),
        (
            "an empty spec list",
            Reply::Serve(empty_payload(u64::MAX / 2)),
            "empty",
        ),
        (
            "wrong types",
            Reply::Serve(wrong_types.to_vec()),
            "rejected",
        ),
        (
            "not JSON",
            Reply::Serve(b"\x00\xff garbage".to_vec()),
            "rejected",
        ),
        ("an empty body", Reply::Serve(Vec::new()), "rejected"),
    ];
    for (what, reply, error) in faults {
        server.set_specs(reply.clone());
        // Two attempts per fault; each is due within one interval of the previous one.
        for _ in 0..2 {
            let attempts = poller.status().attempts;
            let requests = server.count(SPECS);
            advance(INTERVAL).await;
            if matches!(reply, Reply::Hang) {
                until("the hanging request", || server.count(SPECS) > requests).await;
                advance(TIMEOUT).await;
            }
            until(what, || poller.status().attempts > attempts).await;
            let status = poller.status();
            assert_eq!(status.attempts, attempts + 1, "{what}: {status:?}");
            assert!(status.consecutive_failures >= 1, "{what}: {status:?}");
            let message = &status.last_error.as_ref().expect("an error").1;
            assert!(message.contains(error), "{what}: {message}");
            assert!(
                !message.contains("secret-test"),
                "{what}: the key leaked: {message}"
            );
            assert_eq!(time(&store), good_time, "{what} replaced the ruleset");
            assert_eq!(
                answers(&store, &s.users),
                before,
                "{what} changed an answer"
            );
        }
    }

    // The poller never stops: 30 more failures, each retry still within one interval.
    server.set_specs(Reply::Status(500, None));
    for _ in 0..30 {
        let attempts = poller.status().attempts;
        advance(INTERVAL).await;
        until("a retry", || poller.status().attempts > attempts).await;
    }
    assert_eq!(poller.status().consecutive_failures, 50);

    // Recovery, with a kill switch: seen one interval later at the latest.
    server.set_specs(Reply::Serve(s.recovered.clone()));
    advance(INTERVAL).await;
    until("the recovered payload", || time(&store) != good_time).await;
    let snapshot = store.snapshot();
    assert!(s
        .users
        .iter()
        .all(|u| !snapshot.gate(&u.view(), &s.killed).value()));
    let status = poller.status();
    assert_eq!(status.consecutive_failures, 0, "{status:?}");
    assert_eq!(status.ruleset_time, time(&store));
    assert!(status.ruleset_age().is_some());
    poller.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn requests_carry_the_key_and_the_cursor_and_unchanged_answers_keep_the_ruleset() {
    let _clock = freeze();
    let server = Server::start();
    let mut v: Json = serde_json::from_slice(&payload(5, true)).unwrap();
    v["checksum"] = Json::from("c5");
    server.set_specs(Reply::Serve(serde_json::to_vec(&v).unwrap()));
    let store = Arc::new(Store::new());
    let options = options(&server);
    assert!(
        !format!("{options:?}").contains("secret-test"),
        "Debug shows the key"
    );
    let poller = StatsigPoller::start(store.clone(), options).expect("client");
    poller.wait_for_first_sync(TIMEOUT).await;
    assert_eq!(time(&store), Some(5));
    let first = &server.requests(SPECS)[0];
    assert_eq!(first.method, "GET");
    assert_eq!(first.path, "/v2/download_config_specs/secret-test.json");
    assert_eq!(first.header("statsig-api-key"), Some("secret-test"));
    assert!(first.header("statsig-sdk-type").is_some());
    assert!(first
        .header("statsig-server-session-id")
        .is_some_and(|id| id.len() == 36));
    assert!(first.header("statsig-client-time").is_some());
    assert!(first
        .header("accept-encoding")
        .is_some_and(|e| e.contains("gzip")));
    assert_eq!(
        first.param("sinceTime"),
        None,
        "no cursor without a ruleset"
    );

    // "Nothing changed" answers keep the ruleset and count as successes.
    server.set_specs(Reply::Serve(br#"{"has_updates": false}"#.to_vec()));
    advance(INTERVAL).await;
    until("a second request", || poller.status().attempts == 2).await;
    let second = server.requests(SPECS)[1].clone();
    assert_eq!(second.param("sinceTime"), Some("5"));
    assert_eq!(second.param("checksum"), Some("c5"));
    assert_eq!(time(&store), Some(5));
    let status = poller.status();
    assert_eq!(status.consecutive_failures, 0, "{status:?}");

    // An older payload, and one with the same checksum, are ignored.
    for (time_, checksum) in [(3, "c3"), (6, "c5")] {
        let mut v: Json = serde_json::from_slice(&payload(time_, false)).unwrap();
        v["checksum"] = Json::from(checksum);
        server.set_specs(Reply::Serve(serde_json::to_vec(&v).unwrap()));
        let attempts = poller.status().attempts;
        advance(INTERVAL).await;
        until("a request", || poller.status().attempts > attempts).await;
        assert_eq!(time(&store), Some(5));
        assert!(store.check_gate(&User::with_user_id("u"), "g"));
    }
    // A payload with `has_updates: false` and specs is not installed either.
    let mut v: Json = serde_json::from_slice(&payload(9, false)).unwrap();
    v["has_updates"] = Json::Bool(false);
    server.set_specs(Reply::Serve(serde_json::to_vec(&v).unwrap()));
    let attempts = poller.status().attempts;
    advance(INTERVAL).await;
    until("a request", || poller.status().attempts > attempts).await;
    assert_eq!(time(&store), Some(5));
    assert_eq!(poller.status().consecutive_failures, 0);
    poller.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_exponentially_up_to_the_interval() {
    let _clock = freeze();
    let server = Server::start();
    server.set_specs(Reply::Status(500, None));
    let store = Arc::new(Store::new());
    let poller = StatsigPoller::start(store.clone(), options(&server)).expect("client");
    poller.wait_for_first_sync(TIMEOUT).await;
    // After the n-th failure the retry comes between half and all of 500 ms · 2^(n-1),
    // capped at the interval (the draw itself is tested in the unit tests).
    for failures in 1..=8u32 {
        let full = (Duration::from_millis(500) * 2u32.pow(failures - 1)).min(INTERVAL);
        let attempts = poller.status().attempts;
        advance(full / 2 - Duration::from_millis(1)).await;
        settle().await;
        assert_eq!(
            poller.status().attempts,
            attempts,
            "retried too early after {failures}"
        );
        advance(full / 2 + Duration::from_millis(1)).await;
        until("the retry", || poller.status().attempts > attempts).await;
        assert_eq!(poller.status().consecutive_failures, failures + 1);
    }
    poller.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_in_seconds_or_as_a_date_and_capped() {
    let _clock = freeze();
    let server = Server::start();
    server.set_specs(Reply::Status(503, Some("120".into())));
    let store = Arc::new(Store::new());
    let options = options(&server).max_retry_after(Duration::from_secs(300));
    let poller = StatsigPoller::start(store.clone(), options).expect("client");
    poller.wait_for_first_sync(TIMEOUT).await;

    // 120 s, although the backoff would be 500 ms and the interval 10 s.
    let attempts = poller.status().attempts;
    advance(Duration::from_secs(119)).await;
    settle().await;
    assert_eq!(
        poller.status().attempts,
        attempts,
        "retried before Retry-After"
    );
    server.set_specs(Reply::StatusRetryAfterAtAnswer(429, || {
        httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(61))
    }));
    advance(Duration::from_secs(1)).await;
    until("the retry", || poller.status().attempts > attempts).await;

    // An HTTP date a minute away. A date is wall-clock time with whole seconds: the delay
    // it gives is between 60 s and 61 s, less the (real) time from the server's answer to
    // the poller's reading of it; 55 s leaves five seconds of that to a slow machine.
    let attempts = poller.status().attempts;
    advance(Duration::from_secs(55)).await;
    settle().await;
    assert_eq!(
        poller.status().attempts,
        attempts,
        "retried before the date"
    );
    server.set_specs(Reply::Status(503, Some("999999999".into())));
    advance(Duration::from_secs(6)).await;
    until("the retry", || poller.status().attempts > attempts).await;

    // An absurd one is cut to `max_retry_after`.
    let attempts = poller.status().attempts;
    advance(Duration::from_secs(299)).await;
    settle().await;
    assert_eq!(poller.status().attempts, attempts);
    server.set_specs(Reply::Serve(payload(1, true)));
    advance(Duration::from_secs(1)).await;
    until("the capped retry", || time(&store) == Some(1)).await;
    poller.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_does_not_wait_for_a_hanging_request() {
    let _clock = freeze();
    let server = Server::start();
    server.set_specs(Reply::Hang);
    let store = Arc::new(Store::new());
    let poller = StatsigPoller::start(store.clone(), options(&server)).expect("client");
    until("the request", || server.count(SPECS) == 1).await;
    // The clock is frozen: the request's timeout cannot fire, so only abandoning it ends
    // the shutdown.
    poller.shutdown().await;
    assert!(store.ruleset().is_none());
}

#[tokio::test(start_paused = true)]
async fn a_fallback_url_serves_when_the_endpoint_fails() {
    let _clock = freeze();
    let (primary, fallback) = (Server::start(), Server::start());
    primary.set_specs(Reply::Status(500, None));
    fallback.set_specs(Reply::Serve(payload(1, true)));
    let store = Arc::new(Store::new());
    let options = options(&primary).fallback_url(fallback.specs_url());
    let poller = StatsigPoller::start(store.clone(), options).expect("client");
    // The first attempt falls back at once.
    let first = poller.wait_for_first_sync(TIMEOUT).await;
    assert_eq!(time(&store), Some(1), "{first:?}");
    assert_eq!(fallback.count(SPECS), 1);
    // Later, on every fifth consecutive failure.
    fallback.set_specs(Reply::Serve(payload(2, false)));
    for n in 1..=5 {
        let attempts = poller.status().attempts;
        advance(INTERVAL).await;
        until("a retry", || poller.status().attempts > attempts).await;
        let expected = if n == 5 { Some(2) } else { Some(1) };
        assert_eq!(time(&store), expected, "after {n} failures");
    }
    assert_eq!(fallback.count(SPECS), 2);
    assert_eq!(primary.count(SPECS), 6);
    poller.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn initialisation_reports_its_source_error_and_time() {
    let _clock = freeze();
    // The network is down: the bootstrap serves.
    let server = Server::start();
    server.set_specs(Reply::Status(500, None));
    let store = Arc::new(Store::new());
    let (poller, report) = initialize(
        store.clone(),
        Some(&payload(1, true)),
        options(&server),
        TIMEOUT,
    )
    .await
    .expect("client");
    assert_eq!(report.source, InitSource::Bootstrap, "{report:?}");
    assert!(report.is_ready() && !report.network_ok);
    assert!(
        report
            .network_error
            .as_deref()
            .is_some_and(|e| e.contains("500")),
        "{report:?}"
    );
    assert_eq!(report.ruleset_time, Some(1));
    assert!(store.check_gate(&User::with_user_id("u"), "g"));
    // The network takes over when it recovers.
    server.set_specs(Reply::Serve(payload(2, false)));
    advance(INTERVAL).await;
    until("the network's ruleset", || time(&store) == Some(2)).await;
    poller.shutdown().await;

    // The network hangs: initialisation ends at its timeout, with a bad bootstrap.
    server.set_specs(Reply::Hang);
    let store = Arc::new(Store::new());
    let seen = server.count(SPECS);
    let init = initialize(
        store.clone(),
        Some(b"<html>"),
        options(&server),
        Duration::from_secs(2),
    );
    let (result, ()) = tokio::join!(init, async {
        until("the request", || server.count(SPECS) > seen).await;
        advance(Duration::from_secs(2)).await;
    });
    let (poller, report) = result.expect("client");
    assert_eq!(report.source, InitSource::None, "{report:?}");
    assert!(!report.is_ready());
    assert_eq!(report.duration, Duration::from_secs(2));
    assert!(
        report
            .bootstrap_error
            .as_deref()
            .is_some_and(|e| e.contains("rejected")),
        "{report:?}"
    );
    assert!(
        report
            .network_error
            .as_deref()
            .is_some_and(|e| e.contains("no answer")),
        "{report:?}"
    );
    poller.shutdown().await;

    // The network answers: it is the source.
    server.set_specs(Reply::Serve(payload(3, true)));
    let store = Arc::new(Store::new());
    let (poller, report) = initialize(
        store.clone(),
        Some(&payload(1, false)),
        options(&server),
        TIMEOUT,
    )
    .await
    .expect("client");
    assert_eq!(report.source, InitSource::Network, "{report:?}");
    assert!(report.network_ok && report.network_error.is_none());
    assert_eq!(report.ruleset_time, Some(3));
    assert_eq!(report.duration, Duration::ZERO, "no virtual time passed");
    poller.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_refused_secret_says_so_and_waits_long_before_trying_again() {
    let _clock = freeze();
    let server = Server::start();
    server.set_specs(Reply::Status(401, None));
    let store = Arc::new(Store::new());
    let options = options(&server);
    assert_eq!(options.unauthorized_retry, Duration::from_secs(300));
    let poller = StatsigPoller::start(store.clone(), options).expect("client");
    let first = poller.wait_for_first_sync(TIMEOUT).await;
    let message = first.last_error.as_ref().expect("an error").1.clone();
    assert!(
        message.contains("server secret was refused (HTTP 401)")
            && message.contains("lacks permission"),
        "{message}"
    );
    assert!(
        !message.contains("secret-test"),
        "the key leaked: {message}"
    );

    // Not the short backoff (500 ms, doubling up to the interval): five minutes, each time.
    for status in [403, 401] {
        server.set_specs(Reply::Status(status, None));
        let attempts = poller.status().attempts;
        advance(Duration::from_secs(300) - Duration::from_millis(1)).await;
        settle().await;
        assert_eq!(
            poller.status().attempts,
            attempts,
            "retried before unauthorized_retry"
        );
        advance(Duration::from_millis(1)).await;
        until("the retry", || poller.status().attempts > attempts).await;
        let status_now = poller.status();
        let message = &status_now.last_error.as_ref().expect("an error").1;
        assert!(
            message.contains(&format!("server secret was refused (HTTP {status})")),
            "{message}"
        );
    }
    assert_eq!(server.count(SPECS), 3);

    // A key whose permission comes back is picked up at the next try.
    server.set_specs(Reply::Serve(payload(1, true)));
    advance(Duration::from_secs(300)).await;
    until("the ruleset", || time(&store) == Some(1)).await;
    assert_eq!(poller.status().consecutive_failures, 0);
    poller.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn specs_the_payload_lost_are_named_in_the_status_and_the_report() {
    let _clock = freeze();
    let server = Server::start();
    // From the bootstrap…
    server.set_specs(Reply::Status(500, None));
    let store = Arc::new(Store::new());
    let bootstrap = payload_with_a_dropped_spec(1);
    let (poller, report) = initialize(store.clone(), Some(&bootstrap), options(&server), TIMEOUT)
        .await
        .expect("client");
    assert_eq!(report.source, InitSource::Bootstrap, "{report:?}");
    assert_broken_is_named(&report.dropped_specs);
    assert!(!store.check_gate(&User::with_user_id("u"), "broken"));
    // …then from the network: the poller's status names them too.
    server.set_specs(Reply::Serve(payload_with_a_dropped_spec(2)));
    advance(INTERVAL).await;
    until("the network's ruleset", || time(&store) == Some(2)).await;
    assert_broken_is_named(&poller.status().dropped_specs);
    // A fixed payload clears the list.
    server.set_specs(Reply::Serve(payload(3, true)));
    advance(INTERVAL).await;
    until("the fixed ruleset", || time(&store) == Some(3)).await;
    assert_eq!(poller.status().dropped_specs, []);
    poller.shutdown().await;

    // From the network at once.
    server.set_specs(Reply::Serve(payload_with_a_dropped_spec(4)));
    let store = Arc::new(Store::new());
    let (poller, report) = initialize(store.clone(), None, options(&server), TIMEOUT)
        .await
        .expect("client");
    assert_eq!(report.source, InitSource::Network, "{report:?}");
    assert_broken_is_named(&report.dropped_specs);
    assert_broken_is_named(&poller.status().dropped_specs);
    poller.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_last_good_payload_is_saved_and_serves_a_restart_while_statsig_is_down() {
    let _clock = freeze();
    let dir = std::env::temp_dir().join(format!("flagcore-sync-last-good-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join("flags.json");
    let _ = std::fs::remove_file(&path);
    let server = Server::start();
    server.set_specs(Reply::Serve(payload(1, true)));
    let store = Arc::new(Store::new());
    let with_file = || options(&server).last_good_file(&path);
    let poller = StatsigPoller::start(store.clone(), with_file()).expect("client");
    let first = poller.wait_for_first_sync(TIMEOUT).await;
    assert!(first.last_install.is_some(), "{first:?}");
    assert_eq!(
        std::fs::read(&path).expect("the saved payload"),
        payload(1, true)
    );
    // A new payload replaces the file; a rejected one does not.
    server.set_specs(Reply::Serve(payload(2, false)));
    advance(INTERVAL).await;
    // (The status is updated once the payload is saved, before the next sleep starts.)
    until("the new payload", || {
        poller.status().ruleset_time == Some(2)
    })
    .await;
    server.set_specs(Reply::Serve(b"{\"feature_gates\": 3".to_vec()));
    advance(INTERVAL).await;
    until("the rejected payload", || {
        poller.status().consecutive_failures == 1
    })
    .await;
    poller.shutdown().await;
    assert_eq!(
        std::fs::read(&path).expect("the saved payload"),
        payload(2, false)
    );

    // Restart with Statsig down and no bootstrap: the file serves.
    server.set_specs(Reply::Status(503, None));
    let store = Arc::new(Store::new());
    let (poller, report) = initialize(store.clone(), None, with_file(), TIMEOUT)
        .await
        .expect("client");
    assert_eq!(report.source, InitSource::LastGood, "{report:?}");
    assert_eq!(report.ruleset_time, Some(2));
    assert!(!store.check_gate(&User::with_user_id("u"), "g"));
    poller.shutdown().await;
    std::fs::remove_dir_all(&dir).expect("cleaned up");
}

/// The host hears of every install the poller makes, with the old and the new ruleset
/// time, and of nothing else (an unchanged answer installs nothing).
#[tokio::test(start_paused = true)]
async fn the_host_is_told_of_each_ruleset_update() {
    let _clock = freeze();
    let server = Server::start();
    server.set_specs(Reply::Serve(payload(5, true)));
    let updates = flagcore_sync::RulesetUpdates::new();
    let mut changed = updates.subscribe();
    let store = Arc::new(Store::with_options(flagcore::Options {
        install_listener: Some(updates.clone()),
        ..flagcore::Options::default()
    }));
    let poller = StatsigPoller::start(store.clone(), options(&server)).expect("client");
    poller.wait_for_first_sync(TIMEOUT).await;
    assert!(changed.has_changed().expect("open"));
    let first = changed.borrow_and_update().expect("an update");
    assert_eq!((first.previous_time, first.time), (None, 5));

    server.set_specs(Reply::Serve(br#"{"has_updates": false}"#.to_vec()));
    advance(INTERVAL).await;
    until("a second request", || poller.status().attempts == 2).await;
    assert!(
        !changed.has_changed().expect("open"),
        "nothing was installed"
    );

    server.set_specs(Reply::Serve(payload(9, false)));
    advance(INTERVAL).await;
    until("the new ruleset", || time(&store) == Some(9)).await;
    assert!(changed.has_changed().expect("open"));
    let second = changed.borrow_and_update().expect("an update");
    assert_eq!((second.previous_time, second.time), (Some(5), 9));
    assert_eq!(updates.latest(), Some(second));
    poller.shutdown().await;
}

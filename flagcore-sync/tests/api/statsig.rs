//! The Statsig poller against a real HTTP server on loopback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flagcore::{Store, User};
use flagcore_sync::{StatsigOptions, StatsigPoller};

use super::server::{empty_payload, eventually, payload, Mode, Server};

const INTERVAL_MS: u64 = 200;

fn options(server: &Server) -> StatsigOptions {
    StatsigOptions::new("secret-test")
        .specs_url(&server.url)
        .interval(Duration::from_millis(INTERVAL_MS))
        .timeout(Duration::from_millis(300))
        .retry_base(Duration::from_millis(20))
}

fn time(store: &Store) -> Option<u64> {
    store.ruleset().map(|r| r.time())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_never_change_answers_and_recovery_is_seen_within_an_interval() {
    let server = Server::start(Mode::Serve(payload(1, true))).await;
    let store = Arc::new(Store::new());
    let poller = StatsigPoller::start(store.clone(), options(&server)).expect("client");
    let first = poller.wait_for_first_sync(Duration::from_secs(5)).await;
    assert!(first.last_success.is_some(), "first sync failed: {first:?}");
    let user = User::with_user_id("u");
    assert!(store.check_gate(&user, "g"));

    let faults = [
        ("HTTP 500", Mode::Status(500, None)),
        ("HTTP 503", Mode::Status(503, None)),
        ("a hang past the timeout", Mode::Hang),
        ("a truncated body", Mode::Truncated(payload(7, false))),
        ("an HTML page", Mode::Html),
        ("{}", Mode::Serve(b"{}".to_vec())),
        ("an empty spec list", Mode::Serve(empty_payload(9))),
        ("not JSON at all", Mode::Serve(b"\x00\xff garbage".to_vec())),
    ];
    for (what, mode) in faults {
        let before = poller.status().attempts;
        server.set(mode);
        let failed = eventually(Duration::from_secs(5), || {
            let s = poller.status();
            s.attempts >= before + 2 && s.consecutive_failures >= 2
        })
        .await;
        let status = poller.status();
        assert!(failed, "{what}: no failures recorded: {status:?}");
        assert!(store.check_gate(&user, "g"), "{what} changed an answer");
        assert_eq!(time(&store), Some(1), "{what} replaced the ruleset");
        assert!(status.last_error.is_some(), "{what}: no error recorded");
    }

    // Recovery: a new ruleset is seen within one interval (retries are capped at it).
    server.set(Mode::Serve(payload(2, false)));
    let recovered_at = Instant::now();
    assert!(eventually(Duration::from_secs(2), || time(&store) == Some(2)).await);
    let took = recovered_at.elapsed();
    // One interval (plus its 25% jitter) and scheduling slack on a busy machine.
    let bound = Duration::from_millis(INTERVAL_MS * 5 / 4 + 300);
    assert!(
        took <= bound,
        "recovery took {took:?}, more than one interval"
    );
    assert!(!store.check_gate(&user, "g"));
    assert!(
        eventually(Duration::from_secs(1), || poller
            .status()
            .consecutive_failures
            == 0)
        .await
    );
    assert_eq!(poller.status().ruleset_time, Some(2));
    poller.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_carry_the_key_and_the_since_time_cursor() {
    let server = Server::start(Mode::Serve(payload(5, true))).await;
    let store = Arc::new(Store::new());
    let poller = StatsigPoller::start(store.clone(), options(&server)).expect("client");
    assert!(eventually(Duration::from_secs(5), || time(&store) == Some(5)).await);
    let head = server.last_head();
    assert!(
        head.starts_with("GET /v2/download_config_specs/secret-test.json"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("statsig-api-key: secret-test"),
        "{head}"
    );

    // "Nothing changed" answers keep the ruleset and count as successes.
    server.set(Mode::Serve(br#"{"has_updates": false}"#.to_vec()));
    let before = server.requests();
    assert!(eventually(Duration::from_secs(5), || server.requests() >= before + 2).await);
    let head = server.last_head();
    assert!(head.contains("sinceTime=5"), "no sinceTime cursor: {head}");
    assert_eq!(time(&store), Some(5));
    let status = poller.status();
    assert_eq!(status.consecutive_failures, 0, "{status:?}");

    // An older payload than the current one is ignored.
    server.set(Mode::Serve(payload(3, false)));
    let before = server.requests();
    assert!(eventually(Duration::from_secs(5), || server.requests() >= before + 2).await);
    assert_eq!(time(&store), Some(5));
    poller.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_and_shutdown_does_not_wait_for_a_hang() {
    let server = Server::start(Mode::Status(503, Some(1))).await;
    let store = Arc::new(Store::new());
    let poller = StatsigPoller::start(store.clone(), options(&server)).expect("client");
    assert!(eventually(Duration::from_secs(5), || server.requests() >= 1).await);
    let first = server.requests();
    // Retry-After: 1 s, although the retry delay would be 20 ms and the interval 200 ms.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(server.requests(), first, "retried before Retry-After");
    assert!(eventually(Duration::from_secs(3), || server.requests() > first).await);

    server.set(Mode::Hang);
    let before = server.requests();
    assert!(eventually(Duration::from_secs(5), || server.requests() > before).await);
    let started = Instant::now();
    poller.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "shutdown waited for the request"
    );
    assert!(store.ruleset().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initialisation_reports_where_the_ruleset_came_from() {
    use flagcore_sync::{initialize, InitSource};
    // The network is down: the bootstrap payload serves at once, within the timeout.
    let server = Server::start(Mode::Status(500, None)).await;
    let store = Arc::new(Store::new());
    let (poller, report) = initialize(
        store.clone(),
        Some(&payload(1, true)),
        options(&server),
        Duration::from_millis(500),
    )
    .await
    .expect("client");
    assert_eq!(report.source, InitSource::Bootstrap, "{report:?}");
    assert!(
        report.error.as_deref().is_some_and(|e| e.contains("500")),
        "{report:?}"
    );
    assert!(report.duration < Duration::from_secs(2));
    assert_eq!(report.ruleset_time, Some(1));
    assert!(store.check_gate(&User::with_user_id("u"), "g"));
    // The network source takes over when it recovers.
    server.set(Mode::Serve(payload(2, false)));
    assert!(eventually(Duration::from_secs(5), || time(&store) == Some(2)).await);
    poller.shutdown().await;

    // The network answers: it is the source.
    let server = Server::start(Mode::Serve(payload(3, true))).await;
    let store = Arc::new(Store::new());
    let (poller, report) = initialize(
        store.clone(),
        None,
        options(&server),
        Duration::from_secs(5),
    )
    .await
    .expect("client");
    assert_eq!(report.source, InitSource::Network, "{report:?}");
    assert_eq!(report.ruleset_time, Some(3));
    assert!(report.error.is_none());
    poller.shutdown().await;
}

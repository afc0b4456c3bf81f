//! Custom events through the event logger, against the loopback Statsig (paused time).

use std::sync::Arc;
use std::time::Duration;

use flagcore::{Attributes, Options, Store, User, Value};
use flagcore_sync::{Destination, EventLogger, LoggerOptions};
use serde_json::{json, Value as Json};

use super::server::{advance, freeze, payload, settle, until, Reply, Server, LOG};

fn logger(server: &Server, configure: impl FnOnce(&mut LoggerOptions)) -> Arc<EventLogger> {
    let mut options = LoggerOptions::new(Destination::Statsig {
        url: server.log_url(),
        server_secret: "secret-test".into(),
    });
    configure(&mut options);
    Arc::new(EventLogger::start(options).expect("client"))
}

#[tokio::test(start_paused = true)]
async fn custom_events_share_the_batches_of_exposures_and_are_never_deduplicated() {
    let _clock = freeze();
    let server = Server::start();
    let logger = logger(&server, |o| o.environment = Some("staging".into()));
    let store = Store::with_options(Options {
        exposure_sink: Some(logger.clone()),
        ..Options::default()
    });
    store.load_json(&payload(3, true)).expect("payload");
    let secret = [("ssn", Value::Str("123-45-6789"))];
    let ana = User::with_user_id("ana").private_attributes(Attributes::Pairs(&secret));
    for _ in 0..3 {
        store.check_gate(&ana, "g");
        logger.log_event(&ana, "purchase", 9.5, &[("sku", "A-1")]);
    }
    let typed = [("items", Value::Int(2)), ("gift", Value::Bool(true))];
    logger.log_event_with_metadata(&ana, "checkout", "cart-7", Attributes::Pairs(&typed));
    logger.log_event(&ana, "login", None::<&str>, &[]);
    logger.shutdown(Duration::from_secs(5)).await;

    let posts = server.requests(LOG);
    assert_eq!(posts.len(), 1, "one batch");
    assert_eq!(posts[0].header("statsig-event-count"), Some("6"));
    assert!(!String::from_utf8_lossy(&posts[0].body).contains("123-45"));
    let events = server.events();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "statsig::gate_exposure",
            "purchase",
            "purchase",
            "purchase",
            "checkout",
            "login"
        ]
    );
    let purchase = &events[1];
    assert!(purchase["time"]
        .as_u64()
        .is_some_and(|t| t > 1_600_000_000_000));
    let mut without_time = purchase.clone();
    without_time.as_object_mut().unwrap().remove("time");
    assert_eq!(
        without_time,
        json!({"eventName": "purchase", "value": 9.5, "metadata": {"sku": "A-1"},
               "statsigMetadata": null, "secondaryExposures": null,
               "user": {"userID": "ana", "statsigEnvironment": {"tier": "staging"}}})
    );
    assert_eq!(events[4]["value"], "cart-7");
    assert_eq!(events[4]["metadata"], json!({"items": 2, "gift": true}));
    assert_eq!(
        (events[5]["value"].clone(), events[5]["metadata"].clone()),
        (Json::Null, Json::Null)
    );
    let stats = logger.stats();
    assert_eq!(
        (stats.received, stats.deduplicated, stats.sent),
        (8, 2, 6),
        "{stats:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_ten_second_outage_loses_nothing_that_fits_the_queue() {
    let _clock = freeze();
    let server = Server::start();
    server.set_log(Reply::Status(503, None));
    let logger = logger(&server, |o| {
        o.queue_capacity = 200;
        o.batch_size = 100;
        o.compress = false;
    });
    // A current-thread runtime: the flusher runs only when this test waits, so the queue
    // takes exactly its capacity and the rest is dropped and counted.
    let ids: Vec<String> = (0..300).map(|i| format!("user-{i}")).collect();
    for id in &ids {
        logger.log_event(&User::with_user_id(id), "tick", 1, &[]);
    }
    assert_eq!(logger.stats().dropped_queue_full, 100);
    until("the first failed attempt", || {
        logger.stats().failed_attempts == 1
    })
    .await;
    // Ten seconds of 503s (attempts at 0, 1, 3 and 7 s)…
    for _ in 0..10 {
        advance(Duration::from_secs(1)).await;
        settle().await;
    }
    let during = logger.stats();
    assert_eq!(during.sent, 0, "{during:?}");
    assert!(during.failed_attempts >= 4, "{during:?}");
    // The status says why, and what waits.
    let status = logger.status();
    let (_, error) = status.last_error.clone().expect("an error");
    assert!(error.contains("503"), "{error}");
    assert_eq!(status.consecutive_failures as u64, during.failed_attempts);
    assert_eq!(
        (status.retry_backlog, status.retry_backlog_events),
        (2, 200)
    );
    assert_eq!((status.last_success, status.dropped()), (None, 100));
    let mut watch = logger.watch();
    watch.mark_unchanged();
    // …then the endpoint is back: everything queued arrives, in order.
    let refused = server.count(LOG);
    server.set_log(Reply::Serve(br#"{"success": true}"#.to_vec()));
    for _ in 0..60 {
        if logger.stats().sent == 200 {
            break;
        }
        advance(Duration::from_secs(1)).await;
        settle().await;
    }
    assert!(watch.has_changed().expect("the flusher runs"));
    let status = logger.status();
    assert_eq!(
        (
            status.consecutive_failures,
            status.retry_backlog,
            status.queued
        ),
        (0, 0, 0)
    );
    assert!(status.last_success.is_some() && status.last_error.is_some());
    let stats = logger.stats();
    assert_eq!(
        (
            stats.sent,
            stats.dropped_queue_full,
            stats.dropped_failed,
            stats.dropped_overflow
        ),
        (200, 100, 0, 0),
        "{stats:?}"
    );
    let users: Vec<String> = server.requests(LOG)[refused..]
        .iter()
        .flat_map(|r| r.json()["events"].as_array().cloned().unwrap_or_default())
        .map(|e| e["user"]["userID"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(users, ids[..200]);
    logger.shutdown(Duration::from_secs(1)).await;
    assert_eq!(logger.stats().received, 300);
}

#[tokio::test(start_paused = true)]
async fn manual_exposures_log_a_result_evaluated_without_logging() {
    use flagcore::{Exposure, Exposures, Kind, Scratch};
    let _clock = freeze();
    let server = Server::start();
    let logger = logger(&server, |_| {});
    let store = Store::with_options(Options {
        exposure_sink: Some(logger.clone()),
        ..Options::default()
    });
    store.load_json(&payload(3, true)).expect("payload");
    let user = User::with_user_id("u1");
    let snapshot = store.snapshot();
    let mut scratch = Scratch::new();
    let result = snapshot.evaluate(&mut scratch, &user, Kind::Gate, "g", Exposures::Suppress);
    assert!(result.value());
    assert_eq!(logger.stats().received, 0, "suppressed");
    logger.log_manual_exposure(&Exposure::new(&user, &result));
    // A repeat within the dedupe window is dropped, manual or not.
    logger.log_manual_exposure(&Exposure::new(&user, &result));
    drop(snapshot);
    logger.shutdown(Duration::from_secs(5)).await;
    let events = server.events();
    // The exposure, then (as the official core sends it at each flush) the count of
    // evaluations that did not log: the suppressed one.
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(
        events[0]["metadata"],
        json!({"gate": "g", "gateValue": "true", "ruleID": "r", "reason": "Network:Recognized",
               "lcut": "3", "isManualExposure": "true"})
    );
    assert_eq!(events[1]["eventName"], "statsig::non_exposed_checks");
    assert_eq!(events[1]["metadata"], json!({"checks": r#"{"g":1}"#}));
    assert_eq!(logger.stats().deduplicated, 1);
}

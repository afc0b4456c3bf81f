//! The exposure logger against a loopback HTTP server and a real file.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flagcore::{Attributes, Options, Store, User, Value};
use flagcore_sync::{Destination, ExposureLogger, LoggerOptions};
use serde_json::Value as Json;

use super::server::{eventually, payload, Mode, Server};

fn logger(url: &str, configure: impl FnOnce(&mut LoggerOptions)) -> Arc<ExposureLogger> {
    let mut options = LoggerOptions::new(Destination::Statsig {
        url: url.replace("/v2/download_config_specs", "/v1/log_event"),
        server_secret: "secret-test".into(),
    });
    options.flush_interval = Duration::from_secs(30);
    configure(&mut options);
    Arc::new(ExposureLogger::start(options).expect("client"))
}

fn store_with(logger: &Arc<ExposureLogger>) -> Store {
    let store = Store::with_options(Options {
        exposure_sink: Some(logger.clone()),
        ..Options::default()
    });
    store.load_json(&payload(1, true)).expect("payload");
    store
}

fn events(posts: &[String]) -> Vec<Json> {
    posts
        .iter()
        .flat_map(|p| {
            let v: Json = serde_json::from_str(p).expect("JSON batch");
            v["events"].as_array().cloned().unwrap_or_default()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exposures_arrive_batched_deduplicated_complete_and_survive_shutdown() {
    let server = Server::start(Mode::Serve(br#"{"success": true}"#.to_vec())).await;
    let logger = logger(&server.url, |_| {});
    let store = store_with(&logger);
    let secret: &[(&str, Value<'_>)] = &[("ssn", Value::Str("123"))];
    let custom: &[(&str, Value<'_>)] = &[("plan", Value::Str("pro"))];
    let ana = User::with_user_id("ana")
        .email("ana@example.com")
        .custom(Attributes::Pairs(custom))
        .private_attributes(Attributes::Pairs(secret));
    for _ in 0..100 {
        assert!(store.check_gate(&ana, "g"));
    }
    let ids: Vec<String> = (0..50).map(|i| format!("user-{i}")).collect();
    for id in &ids {
        store.check_gate(&User::with_user_id(id), "g");
    }
    // Nothing is sent before the flush interval…
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(server.posts().is_empty());
    // …and nothing is lost on a graceful shutdown.
    logger.shutdown(Duration::from_secs(5)).await;
    let posts = server.posts();
    assert_eq!(posts.len(), 1, "expected one batch");
    let events = events(&posts);
    assert_eq!(
        events.len(),
        51,
        "100 identical exposures and 50 distinct ones"
    );
    let first = &events[0];
    assert_eq!(first["eventName"], "statsig::gate_exposure");
    assert_eq!(first["metadata"]["gate"], "g");
    assert_eq!(first["metadata"]["gateValue"], "true");
    assert_eq!(first["metadata"]["ruleID"], "r");
    assert_eq!(first["metadata"]["reason"], "Network:Recognized");
    assert_eq!(first["metadata"]["lcut"], "1");
    assert_eq!(first["user"]["userID"], "ana");
    assert_eq!(first["user"]["email"], "ana@example.com");
    assert_eq!(first["user"]["custom"]["plan"], "pro");
    assert!(!posts[0].contains("ssn"), "a private attribute was logged");
    assert!(first["time"].as_u64().is_some_and(|t| t > 0));
    let head = server.last_head().to_ascii_lowercase();
    assert!(head.starts_with("post /v1/log_event"), "{head}");
    assert!(head.contains("statsig-api-key: secret-test"), "{head}");
    assert!(head.contains("statsig-event-count: 51"), "{head}");
    let stats = logger.stats();
    assert_eq!(
        (stats.received, stats.deduplicated, stats.sent),
        (150, 99, 51),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_batch_is_sent_at_once() {
    let server = Server::start(Mode::Serve(br#"{"success": true}"#.to_vec())).await;
    let logger = logger(&server.url, |o| o.batch_size = 10);
    let store = store_with(&logger);
    let ids: Vec<String> = (0..25).map(|i| format!("user-{i}")).collect();
    for id in &ids {
        store.check_gate(&User::with_user_id(id), "g");
    }
    assert!(eventually(Duration::from_secs(3), || server.posts().len() >= 2).await);
    assert_eq!(events(&server.posts()[..2]).len(), 20);
    logger.shutdown(Duration::from_secs(5)).await;
    assert_eq!(events(&server.posts()).len(), 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_never_blocks_evaluation() {
    let server = Server::start(Mode::Hang).await;
    let logger = logger(&server.url, |o| {
        o.queue_capacity = 16;
        o.batch_size = 4;
        o.flush_interval = Duration::from_millis(20);
        o.timeout = Duration::from_secs(5);
    });
    let store = store_with(&logger);
    let ids: Vec<String> = (0..20_000).map(|i| format!("user-{i}")).collect();
    let started = Instant::now();
    for id in &ids {
        assert!(store.check_gate(&User::with_user_id(id), "g"));
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "20,000 checks took {took:?}");
    let stats = logger.stats();
    assert!(stats.dropped_queue_full > 0, "nothing dropped: {stats:?}");
    assert_eq!(stats.received, 20_000);
    let started = Instant::now();
    logger.shutdown(Duration::from_millis(300)).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "shutdown overran its deadline"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exposures_can_go_to_a_json_lines_file() {
    let path =
        std::env::temp_dir().join(format!("flagcore-exposures-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut options = LoggerOptions::new(Destination::JsonLines(path.clone()));
    options.flush_interval = Duration::from_secs(30);
    let logger = Arc::new(ExposureLogger::start(options).expect("logger"));
    let store = store_with(&logger);
    for id in ["a", "b", "c"] {
        store.check_gate(&User::with_user_id(id), "g");
    }
    logger.shutdown(Duration::from_secs(5)).await;
    let text = std::fs::read_to_string(&path).expect("the events file");
    let lines: Vec<Json> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["user"]["userID"], "c");
    let _ = std::fs::remove_file(&path);
}

/// Resident set size in bytes (Linux), if known.
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Memory stays bounded with exposures on for many distinct users: the queue, the dedupe set
/// and the pending batches are all capped. CI runs 50,000 users;
/// `FLAGCORE_SYNC_USERS=1000000 cargo test --release -p flagcore-sync --test api memory
/// -- --nocapture` runs a million.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_stays_bounded_with_exposures_on() {
    let users: u64 = std::env::var("FLAGCORE_SYNC_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let path = std::env::temp_dir().join(format!("flagcore-soak-{}.jsonl", std::process::id()));
    let mut options = LoggerOptions::new(Destination::JsonLines(path.clone()));
    options.flush_interval = Duration::from_millis(100);
    let logger = Arc::new(ExposureLogger::start(options).expect("logger"));
    let store = store_with(&logger);
    let mut id = String::new();
    let mut peak = 0;
    let start = rss();
    for u in 0..users {
        use std::fmt::Write;
        id.clear();
        let _ = write!(id, "user-{u}");
        store.check_gate(&User::with_user_id(&id), "g");
        if u % 10_000 == 0 {
            peak = peak.max(rss().unwrap_or(0));
            tokio::task::yield_now().await;
        }
    }
    logger.shutdown(Duration::from_secs(30)).await;
    let end = rss();
    let stats = logger.stats();
    println!(
        "{users} distinct users with exposures on: RSS at start {:?} MiB, peak {} MiB, end {:?} MiB; {stats:?}",
        start.map(|s| s >> 20),
        peak >> 20,
        end.map(|e| e >> 20)
    );
    let _ = std::fs::remove_file(&path);
    assert_eq!(stats.received, users);
    assert_eq!(
        stats.sent + stats.dropped_queue_full + stats.dropped_failed,
        users
    );
    if let Some(start) = start {
        assert!(
            peak.saturating_sub(start) < 96 << 20,
            "memory grew by {} MiB",
            (peak - start) >> 20
        );
    }
}

/// Layer exposures are logged per parameter read: explicit parameters of the allocated
/// experiment name it; other parameters report the undelegated exposures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer_parameters_are_logged_when_read() {
    use flagcore::{Exposures, Kind, Scratch};
    let server = Server::start(Mode::Serve(br#"{"success": true}"#.to_vec())).await;
    let logger = logger(&server.url, |_| {});
    let store = Store::new();
    let payload = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/tests/data/experiments_layers/dcs.json"),
    )
    .expect("payload");
    store.load_json(&payload).expect("loads");
    let snapshot = store.snapshot();
    let mut scratch = Scratch::new();
    let (mut explicit, mut implicit) = (0, 0);
    let ids: Vec<String> = (0..80).map(|i| format!("user-{}", i * 7919)).collect();
    for id in &ids {
        let user = User::with_user_id(id);
        let layer = snapshot.evaluate(
            &mut scratch,
            &user,
            Kind::Layer,
            "layer_main",
            Exposures::Suppress,
        );
        logger.log_layer_parameter(&user, &layer, "no_such_parameter");
        match layer.allocated_experiment() {
            Some(_) if layer.get("p").is_some() => {
                logger.log_layer_parameter(&user, &layer, "p");
                explicit += 1;
            }
            None if layer.get("q").is_some() => {
                logger.log_layer_parameter(&user, &layer, "q");
                implicit += 1;
            }
            _ => {}
        }
    }
    assert!(
        explicit > 0 && implicit > 0,
        "{explicit} allocated, {implicit} not"
    );
    logger.shutdown(Duration::from_secs(5)).await;
    let events = events(&server.posts());
    assert_eq!(events.len(), explicit + implicit);
    for e in &events {
        assert_eq!(e["eventName"], "statsig::layer_exposure");
        assert_eq!(e["metadata"]["config"], "layer_main");
        match e["metadata"]["parameterName"].as_str() {
            Some("p") => {
                assert_eq!(e["metadata"]["isExplicitParameter"], "true");
                assert_ne!(e["metadata"]["allocatedExperiment"], "");
            }
            Some("q") => {
                assert_eq!(e["metadata"]["isExplicitParameter"], "false");
                assert_eq!(e["metadata"]["allocatedExperiment"], "");
            }
            other => panic!("unexpected parameter {other:?}"),
        }
    }
}

/// A failed delivery is retried with backoff until the server takes the batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_batches_are_retried() {
    let server = Server::start(Mode::Status(500, None)).await;
    let logger = logger(&server.url, |o| {
        o.flush_interval = Duration::from_millis(50)
    });
    let store = store_with(&logger);
    for id in ["a", "b", "c"] {
        store.check_gate(&User::with_user_id(id), "g");
    }
    assert!(
        eventually(Duration::from_secs(3), || server.posts().len() >= 2).await,
        "no retry"
    );
    assert_eq!(logger.stats().sent, 0);
    server.set(Mode::Serve(br#"{"success": true}"#.to_vec()));
    assert!(eventually(Duration::from_secs(10), || logger.stats().sent == 3).await);
    let delivered = server.posts().last().cloned().unwrap_or_default();
    assert_eq!(events(&[delivered]).len(), 3);
    logger.shutdown(Duration::from_secs(1)).await;
    assert_eq!(logger.stats().dropped_failed, 0);
}

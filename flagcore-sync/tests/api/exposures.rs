//! The exposure logger against the fake Statsig (paused time) and a real file.

use std::sync::Arc;
use std::time::Duration;

use flagcore::{Attributes, Exposures, Kind, Options, Scratch, Store, User, Value};
use flagcore_sync::{Destination, EventLogger, EventValue, LoggerOptions};
use serde_json::{json, Value as Json};

use super::server::{advance, freeze, settle, until, Reply, Server, LOG};

fn logger(server: &Server, configure: impl FnOnce(&mut LoggerOptions)) -> Arc<EventLogger> {
    let mut options = LoggerOptions::new(Destination::Statsig {
        url: server.log_url(),
        server_secret: "secret-test".into(),
    });
    configure(&mut options);
    Arc::new(EventLogger::start(options).expect("client"))
}

/// Gates `g` (on for everyone) and `outer` (passes when `g` does), config `cfg`, experiment
/// `exp` (everyone in group `Test`) and layer `lay` (delegating to `exp`).
fn payload() -> Vec<u8> {
    let spec = |kind: &str, entity: &str, default: Json, rules: Json| {
        json!({"type": kind, "entity": entity, "salt": "s", "enabled": true,
               "defaultValue": default, "idType": "userID", "rules": rules})
    };
    let rule = |id: &str, condition: &str, value: Json| {
        json!({"id": id, "name": id, "passPercentage": 100, "conditions": [condition],
               "returnValue": value, "idType": "userID"})
    };
    let mut exp = spec(
        "dynamic_config",
        "experiment",
        json!({"p": "d", "q": 1}),
        json!([{"id": "exp-Test", "name": "exp-Test", "passPercentage": 100,
                "conditions": ["pass_outer"], "returnValue": {"p": "t", "q": 2},
                "idType": "userID", "groupName": "Test", "isExperimentGroup": true}]),
    );
    exp["isActive"] = json!(true);
    exp["explicitParameters"] = json!(["p"]);
    let mut lay_rule = rule("alloc", "pass_g", json!({}));
    lay_rule["configDelegate"] = json!("exp");
    serde_json::to_vec(&json!({
        "feature_gates": {
            "g": spec("feature_gate", "feature_gate", json!(false), json!([rule("r", "public", json!(true))])),
            "outer": spec("feature_gate", "feature_gate", json!(false), json!([rule("o", "pass_g", json!(true))])),
        },
        "dynamic_configs": {
            "cfg": spec("dynamic_config", "dynamic_config", json!({}), json!([rule("cr", "public", json!({"color": "red"}))])),
            "exp": exp,
        },
        "layer_configs": {
            "lay": spec("dynamic_config", "layer", json!({"p": "ld", "q": 0}), json!([lay_rule])),
        },
        "condition_map": {
            "public": {"type": "public", "idType": "userID"},
            "pass_g": {"type": "pass_gate", "targetValue": "g", "idType": "userID"},
            "pass_outer": {"type": "pass_gate", "targetValue": "outer", "idType": "userID"},
        },
        "experiment_to_layer": {"exp": "lay"}, "has_updates": true, "time": 7,
    }))
    .unwrap()
}

fn store_with(logger: &Arc<EventLogger>) -> Store {
    let store = Store::with_options(Options {
        exposure_sink: Some(logger.clone()),
        ..Options::default()
    });
    store.load_json(&payload()).expect("payload");
    store
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("user-{i}")).collect()
}

#[tokio::test(start_paused = true)]
async fn exposures_arrive_batched_deduplicated_complete_and_survive_shutdown() {
    let _clock = freeze();
    let server = Server::start();
    let logger = logger(&server, |_| {});
    let store = store_with(&logger);
    let secret = [("ssn", Value::Str("123-45-6789"))];
    let custom = [("plan", Value::Str("pro")), ("seats", Value::Int(12))];
    let custom_ids = [("companyID", Value::Str("acme"))];
    let ana = User::with_user_id("ana")
        .email("ana@example.com")
        .custom(Attributes::Pairs(&custom))
        .custom_ids(Attributes::Pairs(&custom_ids))
        .private_attributes(Attributes::Pairs(&secret));
    for _ in 0..100 {
        assert!(store.check_gate(&ana, "g"));
    }
    assert!(store.check_gate(&ana, "outer"));
    let snapshot = store.snapshot();
    assert_eq!(snapshot.dynamic_config(&ana, "cfg").rule_id(), "cr");
    assert_eq!(snapshot.experiment(&ana, "exp").group_name(), Some("Test"));
    drop(snapshot);
    for id in &ids(50) {
        store.check_gate(&User::with_user_id(id), "g");
    }
    // Nothing is sent before the flush interval…
    advance(Duration::from_secs(59)).await;
    settle().await;
    assert_eq!(server.count(LOG), 0);
    // …and nothing is lost on a graceful shutdown.
    logger.shutdown(Duration::from_secs(5)).await;
    let posts = server.requests(LOG);
    assert_eq!(posts.len(), 1, "one batch");
    let post = &posts[0];
    assert_eq!(post.method, "POST");
    assert_eq!(post.header("statsig-api-key"), Some("secret-test"));
    assert_eq!(post.header("content-encoding"), Some("gzip"));
    assert_eq!(post.header("statsig-event-count"), Some("54"));
    assert_eq!(post.header("statsig-retry-count"), Some("0"));
    let body = post.json();
    assert_eq!(body["statsigMetadata"]["flushType"], "shutdown");
    assert!(body["statsigMetadata"]["sessionID"]
        .as_str()
        .is_some_and(|s| s.len() == 36));
    let events = body["events"].as_array().unwrap();
    assert_eq!(
        events.len(),
        54,
        "100 identical exposures, 3 others, 50 distinct users"
    );
    assert!(
        !String::from_utf8_lossy(&post.body).contains("123-45"),
        "a private attribute was logged"
    );

    let gate = &events[0];
    assert_eq!(gate["eventName"], "statsig::gate_exposure");
    assert_eq!(
        gate["metadata"],
        json!({"gate": "g", "gateValue": "true", "ruleID": "r", "reason": "Network:Recognized", "lcut": "7"})
    );
    assert_eq!(
        gate["user"],
        json!({"userID": "ana", "email": "ana@example.com", "customIDs": {"companyID": "acme"},
               "custom": {"plan": "pro", "seats": 12}})
    );
    assert_eq!(gate["value"], Json::Null);
    assert_eq!(gate["statsigMetadata"], json!({}));
    assert!(gate["time"].as_u64().is_some_and(|t| t > 1_600_000_000_000));
    assert_eq!(gate["secondaryExposures"], json!([]));
    let outer = &events[1];
    assert_eq!(outer["metadata"]["gate"], "outer");
    assert_eq!(
        outer["secondaryExposures"],
        json!([{"gate": "g", "gateValue": "true", "ruleID": "r"}])
    );
    let config = &events[2];
    assert_eq!(config["eventName"], "statsig::config_exposure");
    assert_eq!(config["metadata"]["config"], "cfg");
    assert_eq!(config["metadata"]["rulePassed"], "true");
    assert_eq!(config["metadata"]["ruleID"], "cr");
    let experiment = &events[3];
    assert_eq!(experiment["eventName"], "statsig::config_exposure");
    assert_eq!(experiment["metadata"]["config"], "exp");
    assert_eq!(experiment["metadata"]["ruleID"], "exp-Test");
    assert!(experiment["metadata"].get("rulePassed").is_none());
    assert_eq!(
        experiment["secondaryExposures"].as_array().map(Vec::len),
        Some(2)
    );
    let users: Vec<&str> = events[4..]
        .iter()
        .map(|e| e["user"]["userID"].as_str().unwrap())
        .collect();
    assert_eq!(users, ids(50));

    let stats = logger.stats();
    assert_eq!(
        (
            stats.received,
            stats.deduplicated,
            stats.sent,
            stats.batches_sent
        ),
        (153, 99, 54, 1),
        "{stats:?}"
    );
    // After shutdown, exposures are dropped and counted.
    store.check_gate(&User::with_user_id("late"), "g");
    assert_eq!(logger.stats().dropped_shut_down, 1);
}

#[tokio::test(start_paused = true)]
async fn batches_flush_when_full_and_on_the_interval() {
    let _clock = freeze();
    let server = Server::start();
    let logger = logger(&server, |o| {
        o.batch_size = 10;
        o.flush_interval = Duration::from_secs(30);
        o.compress = false;
    });
    let store = store_with(&logger);
    for id in &ids(25) {
        store.check_gate(&User::with_user_id(id), "g");
    }
    // Two full batches go at once, without any time passing. (Wait for the deliveries to
    // end, not just for the server to see them: the clock must not pass the timeout of a
    // request still in flight.)
    until("two full batches", || logger.stats().batches_sent == 2).await;
    assert_eq!(server.count(LOG), 2);
    let posts = server.requests(LOG);
    assert!(posts.iter().all(|p| p.header("content-encoding").is_none()));
    assert!(posts
        .iter()
        .all(|p| p.json()["statsigMetadata"]["flushType"] == "limit"));
    assert_eq!(server.events().len(), 20);
    // The rest when the interval has passed.
    advance(Duration::from_secs(29)).await;
    settle().await;
    assert_eq!(server.count(LOG), 2);
    advance(Duration::from_secs(1)).await;
    until("the partial batch", || server.count(LOG) == 3).await;
    assert_eq!(
        server.requests(LOG)[2].json()["statsigMetadata"]["flushType"],
        "scheduled:max_time"
    );
    assert_eq!(server.events().len(), 25);
    logger.shutdown(Duration::from_secs(5)).await;
    assert_eq!(server.count(LOG), 3, "nothing left to send");
}

#[tokio::test(start_paused = true)]
async fn duplicates_are_dropped_within_the_window_and_the_set_is_bounded() {
    let _clock = freeze();
    let server = Server::start();
    let logger = logger(&server, |o| {
        o.flush_interval = Duration::from_secs(1);
        o.dedupe_window = Duration::from_secs(60);
        o.dedupe_max_keys = 100;
    });
    let store = store_with(&logger);
    let ana = User::with_user_id("ana");
    let check = |n: usize| {
        for _ in 0..n {
            store.check_gate(&ana, "g");
        }
    };
    check(10);
    // Another email is the same exposure; another id or another result is not.
    store.check_gate(&User::with_user_id("ana").email("a@b.c"), "g");
    store.check_gate(&User::with_user_id("bob"), "g");
    store.check_gate(&ana, "outer");
    advance(Duration::from_secs(1)).await;
    // Delivered, not just seen by the server: the clock must not pass the timeout of a
    // request still in flight (its retry would send the events twice).
    until("a batch", || logger.stats().sent == 3).await;
    assert_eq!(server.events().len(), 3);
    // Within the window: still a duplicate.
    advance(Duration::from_secs(58)).await;
    check(5);
    settle().await;
    // After the window: logged again.
    advance(Duration::from_secs(2)).await;
    settle().await;
    check(5);
    advance(Duration::from_secs(1)).await;
    until("the exposure after the window", || logger.stats().sent == 4).await;
    assert_eq!(server.events().len(), 4);
    // A full set is cleared: 100 other users push ana out, and she is logged again.
    for id in &ids(100) {
        store.check_gate(&User::with_user_id(id), "g");
    }
    advance(Duration::from_secs(1)).await;
    until("the other users", || logger.stats().sent == 104).await;
    assert_eq!(server.events().len(), 104);
    check(1);
    logger.shutdown(Duration::from_secs(5)).await;
    let events = server.events();
    assert_eq!(events.len(), 4 + 100 + 1, "{:?}", logger.stats());
    assert_eq!(events.last().unwrap()["user"]["userID"], "ana");
    let stats = logger.stats();
    assert_eq!(stats.received, stats.sent + stats.deduplicated, "{stats:?}");
}

/// The payload's `sdk_configs.exposure_dedupe_ttl_ms` sets the dedupe window, as it does in
/// the official core (spec 11.4).
#[tokio::test(start_paused = true)]
async fn the_payload_sets_the_dedupe_window() {
    let _clock = freeze();
    let server = Server::start();
    let logger = logger(&server, |o| o.flush_interval = Duration::from_secs(1));
    let store = Store::with_options(Options {
        exposure_sink: Some(logger.clone()),
        ..Options::default()
    });
    let mut p: Json = serde_json::from_slice(&payload()).unwrap();
    p["sdk_configs"] = json!({"exposure_dedupe_ttl_ms": 5000});
    store.load_json(p.to_string().as_bytes()).expect("payload");
    let ana = User::with_user_id("ana");
    store.check_gate(&ana, "g");
    advance(Duration::from_secs(4)).await;
    until("the first exposure", || logger.stats().sent == 1).await;
    store.check_gate(&ana, "g");
    settle().await;
    assert_eq!(logger.stats().deduplicated, 1, "within 5 s");
    advance(Duration::from_secs(2)).await;
    settle().await;
    store.check_gate(&ana, "g");
    logger.shutdown(Duration::from_secs(5)).await;
    assert_eq!(server.events().len(), 2, "{:?}", logger.stats());
}

#[tokio::test(start_paused = true)]
async fn failed_batches_are_retried_with_backoff_and_refused_ones_dropped() {
    let _clock = freeze();
    let server = Server::start();
    server.set_log(Reply::Status(500, None));
    let logger = logger(&server, |o| {
        o.batch_size = 5;
        o.max_attempts = 4;
    });
    let store = store_with(&logger);
    for id in &ids(5) {
        store.check_gate(&User::with_user_id(id), "g");
    }
    let failed = |n: u64| {
        let logger = logger.clone();
        move || logger.stats().failed_attempts == n
    };
    until("the first attempt", failed(1)).await;
    // Retries after 1 s, then 2 s.
    for (n, wait) in [(2, 1), (3, 2)] {
        advance(Duration::from_secs(wait) - Duration::from_millis(1)).await;
        settle().await;
        assert_eq!(server.count(LOG), n as usize - 1, "retried too early");
        advance(Duration::from_millis(1)).await;
        until("a retry", failed(n)).await;
    }
    // Recovery: the fourth attempt (after 4 s) delivers it.
    server.set_log(Reply::Serve(br#"{"success": true}"#.to_vec()));
    advance(Duration::from_secs(4)).await;
    until("the delivery", || logger.stats().sent == 5).await;
    let retries: Vec<String> = server
        .requests(LOG)
        .iter()
        .map(|r| r.header("statsig-retry-count").unwrap_or("").to_owned())
        .collect();
    assert_eq!(retries, ["0", "1", "2", "3"]);

    // `{"success": false}` is a failure too; a 400 drops the batch at once.
    server.set_log(Reply::Serve(br#"{"success": false}"#.to_vec()));
    for id in &ids(10)[5..] {
        store.check_gate(&User::with_user_id(id), "g");
    }
    // After a success the delay halves (4 s to 2 s) rather than vanishing.
    advance(Duration::from_secs(2)).await;
    until("an attempt", failed(4)).await;
    server.set_log(Reply::Status(400, None));
    advance(Duration::from_secs(60)).await;
    until("the refusal", || logger.stats().dropped_failed == 5).await;
    logger.shutdown(Duration::from_secs(1)).await;
    let stats = logger.stats();
    assert_eq!(
        (stats.sent, stats.dropped_failed, stats.received),
        (5, 5, 10),
        "{stats:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn batches_refused_for_the_secret_are_dropped_not_retried() {
    let _clock = freeze();
    let server = Server::start();
    let logger = logger(&server, |o| o.batch_size = 5);
    let store = store_with(&logger);
    let mut users = ids(11).into_iter();
    for (n, status) in [(1, 401), (2, 403)] {
        server.set_log(Reply::Status(status, None));
        for id in users.by_ref().take(5) {
            store.check_gate(&User::with_user_id(&id), "g");
        }
        until("the refusal", || {
            logger.stats().dropped_unauthorized == 5 * n
        })
        .await;
        // No retry, however long we wait.
        advance(Duration::from_secs(600)).await;
        settle().await;
        assert_eq!(server.count(LOG), n as usize, "a refused batch was retried");
    }
    // The flush at shutdown counts a refusal the same way.
    for id in users {
        store.check_gate(&User::with_user_id(&id), "g");
    }
    logger.shutdown(Duration::from_secs(1)).await;
    assert_eq!(server.count(LOG), 3);
    let stats = logger.stats();
    assert_eq!(
        (
            stats.received,
            stats.dropped_unauthorized,
            stats.dropped_failed,
            stats.failed_attempts,
            stats.sent
        ),
        (11, 11, 0, 3, 0),
        "{stats:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stalled_server_never_blocks_evaluation() {
    let _clock = freeze();
    let server = Server::start();
    server.set_log(Reply::Hang);
    let logger = logger(&server, |o| {
        o.queue_capacity = 1_000;
        o.batch_size = 100;
        o.max_pending_batches = 3;
    });
    let store = store_with(&logger);
    // The flusher shares this thread, so it cannot drain the queue during the loop: the
    // queue fills, and the rest is dropped and counted, without waiting.
    let users = ids(20_000);
    for id in &users {
        assert!(store.check_gate(&User::with_user_id(id), "g"));
    }
    let stats = logger.stats();
    assert_eq!(
        (stats.received, stats.dropped_queue_full),
        (20_000, 19_000),
        "{stats:?}"
    );
    // The flusher drains the queue into batches; one is stuck in a request to the stalled
    // server, three wait, the oldest others are dropped.
    until("a stuck request", || server.count(LOG) == 1).await;
    // Batches are sealed on the blocking pool, in real time: wait until the queue is empty.
    until("the queue drained", || logger.queue_len() == 0).await;
    // Evaluation goes on meanwhile, and the queue takes events again.
    for id in &users[..500] {
        store.check_gate(&User::with_user_id(&format!("{id}-again")), "g");
    }
    assert_eq!(logger.stats().dropped_queue_full, 19_000);
    // Shutdown gives up at its deadline: everything not delivered is dropped and counted.
    let (done, ()) = tokio::join!(logger.shutdown(Duration::from_secs(2)), async {
        settle().await;
        advance(Duration::from_secs(2)).await;
    });
    let () = done;
    let stats = logger.stats();
    assert_eq!(stats.sent, 0);
    assert_eq!(
        stats.dropped_queue_full + stats.dropped_overflow + stats.dropped_failed,
        20_500,
        "{stats:?}"
    );
    assert!(
        stats.dropped_overflow > 0 && stats.dropped_failed > 0,
        "{stats:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn exposures_can_go_to_a_json_lines_file() {
    let _clock = freeze();
    let path =
        std::env::temp_dir().join(format!("flagcore-exposures-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut options = LoggerOptions::new(Destination::JsonLines(path.clone()));
    options.flush_interval = Duration::from_secs(10);
    options.environment = Some("staging".into());
    let logger = Arc::new(EventLogger::start(options).expect("logger"));
    let store = store_with(&logger);
    for id in ["a", "b", "c"] {
        store.check_gate(&User::with_user_id(id), "g");
    }
    advance(Duration::from_secs(10)).await;
    until("the first lines", || logger.stats().sent == 3).await;
    store.check_gate(&User::with_user_id("d"), "outer");
    logger.shutdown(Duration::from_secs(5)).await;
    let text = std::fs::read_to_string(&path).expect("the events file");
    let lines: Vec<Json> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[2]["user"]["userID"], "c");
    assert_eq!(
        lines[2]["user"]["statsigEnvironment"],
        json!({"tier": "staging"})
    );
    assert_eq!(lines[3]["metadata"]["gate"], "outer");
    let _ = std::fs::remove_file(&path);
}

/// Layer exposures are logged per parameter read: explicit parameters of the allocated
/// experiment name it and carry the full exposures; others report the undelegated ones.
#[tokio::test(start_paused = true)]
async fn layer_parameters_are_logged_when_read() {
    let _clock = freeze();
    let server = Server::start();
    let logger = logger(&server, |_| {});
    let store = store_with(&logger);
    let user = User::with_user_id("ana");
    let snapshot = store.snapshot();
    let mut scratch = Scratch::new();
    // Evaluating a layer logs nothing by itself.
    let _ = snapshot.layer(&user, "lay");
    let layer = snapshot.evaluate(&mut scratch, &user, Kind::Layer, "lay", Exposures::Suppress);
    assert_eq!(layer.allocated_experiment(), Some("exp"));
    let full: Vec<Json> = layer
        .secondary_exposures()
        .iter()
        .map(
            |s| json!({"gate": s.gate, "gateValue": s.gate_value.to_string(), "ruleID": s.rule_id}),
        )
        .collect();
    let undelegated: Vec<Json> = layer
        .undelegated_secondary_exposures()
        .expect("a delegated layer has undelegated exposures")
        .iter()
        .map(
            |s| json!({"gate": s.gate, "gateValue": s.gate_value.to_string(), "ruleID": s.rule_id}),
        )
        .collect();
    assert_ne!(full, undelegated);
    let rule_id = layer.rule_id().to_owned();
    // Reads through the convenience API log; the repeat is deduplicated, a missing
    // parameter logs nothing.
    let read = snapshot.layer(&user, "lay");
    assert!(read.get("p").is_some());
    assert!(read.get("p").is_some());
    assert!(read.get("q").is_some());
    assert!(read.get("no_such_parameter").is_none());
    drop(read);
    drop(snapshot);
    logger.shutdown(Duration::from_secs(5)).await;
    let events = server.events();
    assert_eq!(events.len(), 2, "{events:?}");
    let (p, q) = (&events[0], &events[1]);
    assert_eq!(p["eventName"], "statsig::layer_exposure");
    assert_eq!(p["metadata"]["config"], "lay");
    assert_eq!(p["metadata"]["ruleID"], rule_id.as_str());
    assert_eq!(p["metadata"]["parameterName"], "p");
    assert_eq!(p["metadata"]["isExplicitParameter"], "true");
    assert_eq!(p["metadata"]["allocatedExperiment"], "exp");
    assert_eq!(p["secondaryExposures"], Json::Array(full));
    assert_eq!(q["metadata"]["parameterName"], "q");
    assert_eq!(q["metadata"]["isExplicitParameter"], "false");
    assert_eq!(q["metadata"]["allocatedExperiment"], "");
    assert_eq!(q["secondaryExposures"], Json::Array(undelegated));
}

/// Resident set size in bytes (Linux), if known.
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Set in the child process that [`memory_stays_bounded_with_exposures_on`] measures.
const MEMORY_CHILD: &str = "FLAGCORE_SYNC_MEMORY_CHILD";

/// Memory stays bounded with exposures on for many distinct users, in the worst case: the
/// destination fails every batch, so the queue, the dedupe set and the pending batches all
/// fill to their caps. CI runs 200,000 users; `FLAGCORE_SYNC_USERS=1000000 cargo test
/// --release -p flagcore-sync --test api memory -- --nocapture` runs a million.
///
/// The resident set is the process's, and the other tests of this binary run beside this one
/// on threads of the same process: the test runs itself again in a child process of its own
/// (this binary, this test alone) and measures there.
#[test]
fn memory_stays_bounded_with_exposures_on() {
    const NAME: &str = "api::exposures::memory_stays_bounded_with_exposures_on";
    if std::env::var_os(MEMORY_CHILD).is_some() {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(memory_with_exposures_on());
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let out = std::process::Command::new(exe)
        .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(MEMORY_CHILD, "1")
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the measuring child failed: {}",
        out.status
    );
    // The child ran the test, not an empty selection.
    assert!(stdout.contains("1 passed"), "the child did not run {NAME}");
}

async fn memory_with_exposures_on() {
    let users: u64 = std::env::var("FLAGCORE_SYNC_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let server = Server::start();
    server.set_log(Reply::Status(500, None));
    // The server shares this process: the bodies it would keep (more, the slower the
    // machine, as failed batches are retried) are not the logger's memory.
    server.record_requests(false);
    let logger = logger(&server, |o| o.flush_interval = Duration::from_millis(50));
    let store = store_with(&logger);
    let custom = [
        ("plan", Value::Str("enterprise")),
        ("region", Value::Str("eu-west-1")),
    ];
    let start = rss();
    let mut peak = 0;
    let mut id = String::new();
    for u in 0..users {
        use std::fmt::Write;
        id.clear();
        let _ = write!(id, "user-{u:012}");
        let user = User::with_user_id(&id)
            .email("someone@example.com")
            .custom(Attributes::Pairs(&custom));
        store.check_gate(&user, "outer");
        if u % 10_000 == 0 {
            peak = peak.max(rss().unwrap_or(0));
            tokio::task::yield_now().await;
        }
    }
    peak = peak.max(rss().unwrap_or(0));
    // A deadline that only a hang reaches: the server answers at once, so the shutdown ends
    // when each batch has had its last try, and every exposure is counted (a shutdown cut
    // short by its deadline on a slow machine would abort the flusher with some uncounted).
    logger.shutdown(Duration::from_secs(60)).await;
    let stats = logger.stats();
    println!(
        "{users} distinct users with exposures on, destination failing: RSS at start {} MiB, \
         peak {} MiB (+{} MiB); {stats:?}",
        start.unwrap_or(0) >> 20,
        peak >> 20,
        peak.saturating_sub(start.unwrap_or(0)) >> 20,
    );
    assert_eq!(stats.received, users);
    let dropped = stats.dropped_queue_full + stats.dropped_overflow + stats.dropped_failed;
    assert_eq!(
        stats.sent + stats.deduplicated + dropped + stats.dropped_shut_down,
        users
    );
    if let Some(start) = start {
        let grew = peak.saturating_sub(start);
        assert!(grew < 64 << 20, "memory grew by {} MiB", grew >> 20);
    }
}

/// An event without what differs between two runs, or `None` for an event flagcore never
/// sends.
///
/// Removed: the time it was logged, and when the official core received its payload
/// (`receivedAt`, which flagcore does not report). `statsig::diagnostics` events are the
/// official SDK's telemetry about its own initialisation (timestamps of its network
/// request and of processing the payload): not experiment data, nothing a host logs, and
/// different on every run. The `checks` of `statsig::non_exposed_checks` are JSON text of
/// a map the official core serialises from a `HashMap` (its key order differs from run to
/// run): compared as the map they encode.
fn comparable(mut event: Json) -> Option<Json> {
    if event["eventName"] == "statsig::diagnostics" {
        return None;
    }
    if let Some(e) = event.as_object_mut() {
        e.remove("time");
    }
    if let Some(m) = event["metadata"].as_object_mut() {
        m.remove("receivedAt");
        if let Some(Json::String(checks)) = m.get("checks") {
            let checks: Json = serde_json::from_str(checks).expect("checks are JSON text");
            m.insert("checks".into(), checks);
        }
    }
    Some(event)
}

/// The official core's exposure events for a script of evaluations and parameter reads
/// (`tests/data/exposures/script.jsonl`, made by `gen_script.py`): `expected.jsonl` holds
/// the values it read, then every event it sent, from a copy of the oracle run with
/// `--events ../conformance/fixtures/eval_proj/dcs.json < script.jsonl` (the mode's source
/// is `oracle_events.rs` there; `README.md` says how to rebuild it). The same
/// script through flagcore's convenience API (layer parameters read through `View::layer`,
/// manual exposures through `View::log_exposure` and `Layer::log_exposure`, custom events
/// through `EventLogger::log_event`, no exposure logged by hand) must give the same values
/// and the same events, in the same order.
#[tokio::test(start_paused = true)]
async fn parameter_reads_log_the_official_events() {
    let n = replay(
        "../conformance/fixtures/eval_proj/dcs.json",
        "tests/data/exposures",
        "expected.jsonl",
    )
    .await;
    assert!(n > 100, "only {n} events");
}

/// The official core's events for the script `tests/data/sampling/script.jsonl` (made by
/// `gen.py` there, with the payload) on a payload whose `sdk_configs.sampling_mode` is
/// `"on"`: the same events after deduplication and sampling, with the same sampling
/// metadata, as flagcore's logger sends them to a server on loopback.
#[tokio::test(start_paused = true)]
async fn sampling_on_sends_the_official_events() {
    let n = replay(
        "tests/data/sampling/dcs_on.json",
        "tests/data/sampling",
        "expected_on.jsonl",
    )
    .await;
    assert!(n > 500, "only {n} events");
}

/// As [`sampling_on_sends_the_official_events`], in shadow mode (everything is sent, each
/// saying whether the sample would keep it).
#[tokio::test(start_paused = true)]
async fn sampling_in_shadow_mode_sends_the_official_events() {
    let n = replay(
        "tests/data/sampling/dcs_shadow.json",
        "tests/data/sampling",
        "expected_shadow.jsonl",
    )
    .await;
    assert!(n > 1000, "only {n} events");
}

/// Replays `script.jsonl` of `dir` through a store loaded with `dcs` (paths from the
/// crate's root) and an event logger sending to a server on loopback, and asserts the
/// values read and the events received equal those of the official core in `expected`
/// (see [`parameter_reads_log_the_official_events`]); returns the number of events.
async fn replay(dcs: &str, dir: &str, expected: &str) -> usize {
    let _clock = freeze();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = root.join(dir);
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    let script: Vec<Json> = read(&data.join("script.jsonl"))
        .lines()
        .map(|l| serde_json::from_str(l).expect("script line"))
        .collect();
    let (mut want_values, mut want_events) = (vec![], vec![]);
    for line in read(&data.join(expected)).lines() {
        let v: Json = serde_json::from_str(line).expect("expected line");
        match v.get("event") {
            Some(e) => want_events.extend(comparable(e.clone())),
            None => want_values.push(v),
        }
    }
    assert_eq!(
        want_values.len(),
        script.len(),
        "one answer per script line"
    );

    let server = Server::start();
    let logger = logger(&server, |_| {});
    let store = Store::with_options(Options {
        exposure_sink: Some(logger.clone()),
        ..Options::default()
    });
    let dcs = read(&root.join(dcs));
    store.load_json(dcs.as_bytes()).expect("the payload loads");
    let snapshot = store.snapshot();
    let mut scratch = Scratch::new();
    let mut got_values = vec![];
    for (i, step) in script.iter().enumerate() {
        let data = flagcore::UserData::from_json(step["user"].to_string().as_bytes()).unwrap();
        let user = data.view();
        let name = step["name"].as_str().unwrap();
        let log = step["log"].as_str().unwrap();
        let reads: Vec<(&str, &str, &Json)> = step["reads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r[0].as_str().unwrap(), r[1].as_str().unwrap(), &r[2]))
            .collect();
        let typed = |e: &flagcore::Evaluation<'_>, t: &str, p: &str, fb: &Json| match t {
            "bool" => json!(e.get_bool(p, fb.as_bool().unwrap())),
            "f64" => json!(e.get_f64(p, fb.as_f64().unwrap())),
            "i64" => json!(e.get_i64(p, fb.as_i64().unwrap())),
            "str" => json!(e.get_str(p, fb.as_str().unwrap())),
            _ => e.get(p).cloned().unwrap_or(Json::Null),
        };
        let mut values = vec![];
        let value = match step["kind"].as_str().unwrap() {
            "event" => {
                let metadata: Vec<(&str, &str)> = step["metadata"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
                    .collect();
                let value = match &step["value"] {
                    Json::Number(n) => EventValue::Number(n.as_f64().unwrap()),
                    Json::String(s) => EventValue::Str(s),
                    _ => EventValue::None,
                };
                logger.log_event(&user, name, value, &metadata);
                Json::Null
            }
            "layer" => {
                let exposures = if log == "auto" {
                    Exposures::Log
                } else {
                    Exposures::Suppress
                };
                let layer = snapshot.layer_with(&user, name, exposures);
                for (t, p, fb) in &reads {
                    values.push(match *t {
                        "bool" => json!(layer.get_bool(p, fb.as_bool().unwrap())),
                        "f64" => json!(layer.get_f64(p, fb.as_f64().unwrap())),
                        "i64" => json!(layer.get_i64(p, fb.as_i64().unwrap())),
                        "str" => json!(layer.get_str(p, fb.as_str().unwrap())),
                        _ => layer.get(p).cloned().unwrap_or(Json::Null),
                    });
                    if log == "manual" {
                        layer.log_exposure(p);
                    }
                }
                json!(layer.rule_id())
            }
            kind => {
                let kind = match kind {
                    "gate" => Kind::Gate,
                    "config" => Kind::DynamicConfig,
                    _ => Kind::Experiment,
                };
                let e = if log == "auto" {
                    match kind {
                        Kind::Gate => snapshot.gate(&user, name),
                        Kind::DynamicConfig => snapshot.dynamic_config(&user, name),
                        _ => snapshot.experiment(&user, name),
                    }
                } else {
                    let e = snapshot.evaluate(&mut scratch, &user, kind, name, Exposures::Suppress);
                    if log == "manual" {
                        snapshot.log_exposure(&user, &e);
                    }
                    e
                };
                values.extend(reads.iter().map(|(t, p, fb)| typed(&e, t, p, fb)));
                match kind {
                    Kind::Gate => json!(e.value()),
                    _ => json!(e.rule_id()),
                }
            }
        };
        got_values.push(json!({"line": i, "value": value, "reads": values}));
    }
    drop(snapshot);
    logger.shutdown(Duration::from_secs(5)).await;
    assert_eq!(got_values, want_values);
    let got_events: Vec<Json> = server.events().into_iter().filter_map(comparable).collect();
    for (i, (got, want)) in got_events.iter().zip(&want_events).enumerate() {
        assert_eq!(got, want, "event {i}");
    }
    assert_eq!(got_events.len(), want_events.len());
    got_events.len()
}

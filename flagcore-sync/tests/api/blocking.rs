//! Programs without a tokio runtime: the blocking runtime runs a source and leaves no thread
//! behind when shut down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flagcore::{Options, Store, User};
use flagcore_sync::{BlockingRuntime, Destination, LoggerOptions, StatsigOptions};

use super::server::{payload, Reply, Server};

/// How long a wait may take before the test fails as hung.
const HANG: Duration = Duration::from_secs(60);

/// How many threads of this process carry the runtime's thread name (Linux; `None`
/// elsewhere).
fn runtime_threads() -> Option<usize> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    Some(
        tasks
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|name| name.trim() == "flagcore-sync")
            .count(),
    )
}

/// Waits until `cond` holds, for at most `timeout` (of real time: the blocking runtime has
/// no paused clock). The timeouts below only turn a hang into a failure: what they wait for
/// takes milliseconds.
fn wait_until(timeout: Duration, cond: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

#[test]
fn a_non_async_program_syncs_from_a_file_and_shuts_down_cleanly() {
    let path = std::env::temp_dir().join(format!("flagcore-blocking-{}.json", std::process::id()));
    std::fs::write(&path, payload(1, true)).unwrap();
    let runtime = BlockingRuntime::new().expect("runtime");
    let store = Arc::new(Store::new());
    let watcher = runtime.start_file_watcher(store.clone(), &path, Duration::from_millis(20));
    let user = User::with_user_id("u");
    assert!(wait_until(HANG, || store.check_gate(&user, "g")));
    assert_ne!(
        runtime_threads(),
        Some(0),
        "the runtime's worker thread is not named"
    );
    std::fs::write(&path, payload(2, false)).unwrap();
    assert!(wait_until(HANG, || !store.check_gate(&user, "g")));
    runtime.block_on(watcher.shutdown());

    // A Statsig poller and an exposure logger, from plain threads.
    let server = Server::start();
    server.set_specs(Reply::Serve(payload(3, true)));
    let mut logger_options = LoggerOptions::new(Destination::Statsig {
        url: server.log_url(),
        server_secret: "secret-test".into(),
    });
    // Real time passes here: a test slower than the default minute must not see a repeated
    // exposure logged again.
    logger_options.dedupe_window = Duration::from_secs(3600);
    let logger = Arc::new(runtime.start_event_logger(logger_options).expect("logger"));
    let store = Arc::new(Store::with_options(Options {
        exposure_sink: Some(logger.clone()),
        ..Options::default()
    }));
    let options = StatsigOptions::new("secret-test")
        .specs_url(server.specs_url())
        .interval(Duration::from_millis(50));
    let poller = runtime
        .start_statsig_poller(store.clone(), options)
        .expect("poller");
    assert!(wait_until(HANG, || store.check_gate(&user, "g")));
    server.set_specs(Reply::Serve(payload(4, false)));
    assert!(wait_until(HANG, || !store.check_gate(&user, "g")));
    runtime.block_on(poller.shutdown());
    runtime.block_on(logger.shutdown(HANG));
    // One exposure per answer: on, then off (and, if the check came first, one without a
    // ruleset).
    let values: Vec<String> = server
        .events()
        .iter()
        .filter(|e| e["metadata"]["reason"] != "NoValues")
        .map(|e| e["metadata"]["gateValue"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(values, ["true", "false"], "{:?}", logger.stats());

    runtime.shutdown(HANG);
    let _ = std::fs::remove_file(&path);
    // No thread of the runtime is left behind.
    assert!(wait_until(HANG, || runtime_threads().unwrap_or(0) == 0));
}

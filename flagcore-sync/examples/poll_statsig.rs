//! Polls Statsig (or a proxy) and reports what it got, then follows the source's status.
//!
//! ```text
//! STATSIG_SERVER_SECRET=secret-… \
//!   [STATSIG_SPECS_URL=https://…/v2/download_config_specs] \
//!   [STATSIG_BOOTSTRAP=last-good.json] [STATSIG_INTERVAL_MS=10000] [RUN_SECONDS=0] \
//!   cargo run -p flagcore-sync --example poll_statsig
//! ```

use std::sync::Arc;
use std::time::Duration;

use flagcore::Store;
use flagcore_sync::{initialize, StatsigOptions};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Some(secret) = env("STATSIG_SERVER_SECRET") else {
        eprintln!("set STATSIG_SERVER_SECRET (and optionally STATSIG_SPECS_URL, STATSIG_BOOTSTRAP, STATSIG_INTERVAL_MS, RUN_SECONDS)");
        std::process::exit(2);
    };
    let mut options = StatsigOptions::new(secret);
    if let Some(url) = env("STATSIG_SPECS_URL") {
        options = options.specs_url(url);
    }
    if let Some(ms) = env("STATSIG_INTERVAL_MS").and_then(|v| v.parse().ok()) {
        options = options.interval(Duration::from_millis(ms));
    }
    let run_for = Duration::from_secs(env("RUN_SECONDS").and_then(|v| v.parse().ok()).unwrap_or(0));
    let bootstrap =
        env("STATSIG_BOOTSTRAP").map(|path| std::fs::read(path).expect("the bootstrap file"));

    let store = Arc::new(Store::new());
    let (poller, report) = initialize(
        store.clone(),
        bootstrap.as_deref(),
        options,
        Duration::from_secs(5),
    )
    .await
    .expect("an HTTP client");
    println!(
        "initialised in {:?}: source {:?}, network ok: {}",
        report.duration, report.source, report.network_ok
    );
    for (what, error) in [
        ("network", &report.network_error),
        ("bootstrap", &report.bootstrap_error),
    ] {
        if let Some(e) = error {
            println!("  {what} error: {e}");
        }
    }
    for dropped in &report.dropped_specs {
        println!(
            "  dropped {} {:?} (it evaluates as unrecognized): {}",
            dropped.section, dropped.name, dropped.reason
        );
    }
    if let Some(rs) = store.ruleset() {
        println!(
            "ruleset time {}: {} gates, {} configs, {} layers",
            rs.time(),
            rs.gate_names().count(),
            rs.config_names().count(),
            rs.layer_names().count()
        );
    }

    // Follow the status: one line per attempt that changed something.
    let mut status = poller.watch();
    let deadline = tokio::time::Instant::now() + run_for;
    let mut last = status.borrow().clone();
    while tokio::time::timeout_at(deadline, status.changed())
        .await
        .is_ok_and(|r| r.is_ok())
    {
        let now = status.borrow().clone();
        if now.ruleset_time != last.ruleset_time {
            println!(
                "new ruleset: time {:?} (age {:?}), {} specs dropped",
                now.ruleset_time,
                now.ruleset_age(),
                now.dropped_specs.len()
            );
            for dropped in &now.dropped_specs {
                println!(
                    "  dropped {} {:?}: {}",
                    dropped.section, dropped.name, dropped.reason
                );
            }
        }
        if now.last_error != last.last_error {
            if let Some((_, e)) = &now.last_error {
                println!("error ({} in a row): {e}", now.consecutive_failures);
            }
        }
        last = now;
    }
    poller.shutdown().await;
}

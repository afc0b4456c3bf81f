//! Polls Statsig (or a proxy) and reports what it got.
//!
//! ```text
//! STATSIG_SERVER_SECRET=secret-… [STATSIG_SPECS_URL=https://…/v2/download_config_specs] \
//!   cargo run -p flagcore-sync --example poll_statsig
//! ```

use std::sync::Arc;
use std::time::Duration;

use flagcore::Store;
use flagcore_sync::{StatsigOptions, StatsigPoller};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Ok(secret) = std::env::var("STATSIG_SERVER_SECRET") else {
        eprintln!("set STATSIG_SERVER_SECRET (and optionally STATSIG_SPECS_URL)");
        std::process::exit(2);
    };
    let mut options = StatsigOptions::new(secret);
    if let Ok(url) = std::env::var("STATSIG_SPECS_URL") {
        options = options.specs_url(url);
    }
    let store = Arc::new(Store::new());
    let poller = StatsigPoller::start(store.clone(), options).expect("an HTTP client");
    let status = poller.wait_for_first_sync(Duration::from_secs(5)).await;
    match (&status.last_success, &status.last_error) {
        (Some(_), _) => {
            let rs = store.ruleset().expect("a ruleset after a successful sync");
            println!(
                "ruleset time {}: {} gates, {} configs, {} layers",
                rs.time(),
                rs.gate_names().count(),
                rs.config_names().count(),
                rs.layer_names().count()
            );
        }
        (None, Some((_, error))) => println!("first sync failed: {error}"),
        (None, None) => println!("no answer within 5 s"),
    }
    poller.shutdown().await;
}

//! Edits to a file flip a gate live: watches a payload file and prints the gate's value for a
//! user whenever it changes.
//!
//! ```text
//! cargo run -p flagcore-sync --example file_kill_switch -- flags.json payments_enabled [SECONDS]
//! ```
//! (Try it with a copy of `examples/data/demo.json`, then flip a rule's `returnValue`.)

use std::sync::Arc;
use std::time::Duration;

use flagcore::{Store, User};
use flagcore_sync::FileWatcher;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(gate)) = (args.next(), args.next()) else {
        eprintln!("usage: file_kill_switch FILE GATE [SECONDS]");
        std::process::exit(2);
    };
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let store = Arc::new(Store::new());
    let watcher = FileWatcher::start(store.clone(), &path, Duration::from_millis(250));
    let user = User::with_user_id("user-1");
    let mut last = None;
    for _ in 0..seconds * 4 {
        let now = (
            store.ruleset().map(|r| r.time()),
            store.check_gate(&user, &gate),
        );
        if last != Some(now) {
            println!("ruleset time {:?}: {gate} = {}", now.0, now.1);
            last = Some(now);
        }
        if let Some((_, error)) = watcher.status().last_error {
            eprintln!("last error: {error}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    watcher.shutdown().await;
}

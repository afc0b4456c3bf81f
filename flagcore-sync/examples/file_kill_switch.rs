//! Edits to a file flip a gate live: watches a payload file and prints the gate's value for a
//! user whenever it changes (and why a version was refused, when one is).
//!
//! ```text
//! cargo run -p flagcore-sync --example file_kill_switch -- flags.json GATE [SECONDS]
//! ```
//! Try it with a copy of `examples/data/demo.json` and one of its gates, then edit the copy:
//! flip a rule's `returnValue`, set `"enabled": false`, or save it half-written.

use std::sync::Arc;
use std::time::Duration;

use flagcore::{Store, User};
use flagcore_sync::{FileOptions, FileWatcher};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(gate)) = (args.next(), args.next()) else {
        eprintln!("usage: file_kill_switch FILE GATE [SECONDS]");
        std::process::exit(2);
    };
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let store = Arc::new(Store::new());
    let options = FileOptions::new(&path).interval(Duration::from_millis(250));
    let watcher = FileWatcher::with_options(store.clone(), options);
    let user = User::with_user_id("user-1");
    let mut status = watcher.watch();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let mut shown = None;
    let mut last_error = None;
    loop {
        let now = (
            store.ruleset().map(|r| r.time()),
            store.check_gate(&user, &gate),
        );
        if shown != Some(now) {
            println!("ruleset time {:?}: {gate} = {}", now.0, now.1);
            shown = Some(now);
        }
        let error = status.borrow().last_error.clone();
        if error != last_error {
            if let Some((_, e)) = &error {
                eprintln!("kept the last good ruleset: {e}");
            }
            last_error = error;
        }
        // Wake on the watcher's next attempt.
        match tokio::time::timeout_at(deadline, status.changed()).await {
            Ok(Ok(())) => {}
            _ => break,
        }
    }
    watcher.shutdown().await;
}

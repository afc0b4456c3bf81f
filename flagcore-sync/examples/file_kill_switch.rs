//! Edits to a file flip a gate live: watches a payload file and prints the gate's value for a
//! user whenever it changes (and why a version was refused, or which specs it dropped); the
//! `--kill` form turns a gate off in the file.
//!
//! ```text
//! cargo run -p flagcore-sync --example file_kill_switch -- flags.json GATE [SECONDS]
//! cargo run -p flagcore-sync --example file_kill_switch -- --kill flags.json GATE
//! ```
//! Try it with a copy of `examples/data/demo.json` and its gate `payments_enabled` (on for
//! everyone): watch the copy, and run the `--kill` form on it from another terminal, or edit
//! it by hand, or save it half-written (the watcher keeps the last good version).
//!
//! What turns a gate off. flagcore answers as Statsig does, and in Statsig:
//! - `"enabled": false` alone does **not**. A disabled gate's rules are still evaluated and
//!   a matching rule still passes; `enabled` only chooses the rule id reported when no rule
//!   matches (`"disabled"` instead of `"default"`). Statsig's server removes the rules of a
//!   gate disabled in its console before it sends the payload; a hand-edited file has to do
//!   that itself.
//! - Removing the gate's rules, with `"defaultValue": false`, does: everyone gets `false`.
//!   `--kill` writes exactly what Statsig sends for a disabled gate (`"enabled": false`, no
//!   rules, `"defaultValue": false`), so the rule id is `"disabled"`.
//! - A rule's `"passPercentage": 0` turns the rule off: the users it matches get the
//!   default value (`false`, under the rule's id); a later rule may still pass them.
//! - A rule's `"returnValue": false` gives its users `false`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use flagcore::{Store, User};
use flagcore_sync::{FileOptions, FileWatcher};
use serde_json::Value as Json;

/// Turns gate `gate` off in the payload `bytes`, as Statsig's server sends a gate disabled in
/// its console: `"enabled": false`, no rules, `"defaultValue": false`. The payload's `time`
/// goes up by one, as at the source. Works on dcs-v2 payloads (specs keyed by name) and v1
/// ones (arrays of specs).
pub(crate) fn kill(bytes: &[u8], gate: &str) -> Result<Vec<u8>, String> {
    let mut payload: Json =
        serde_json::from_slice(bytes).map_err(|e| format!("not a JSON payload: {e}"))?;
    let spec = match &mut payload["feature_gates"] {
        Json::Object(gates) => gates.get_mut(gate),
        Json::Array(gates) => gates.iter_mut().find(|g| g["name"] == gate),
        _ => None,
    }
    .ok_or_else(|| format!("the payload has no feature gate {gate:?}"))?;
    spec["enabled"] = Json::Bool(false);
    spec["rules"] = Json::Array(Vec::new());
    spec["defaultValue"] = Json::Bool(false);
    if let Some(time) = payload["time"].as_u64() {
        payload["time"] = Json::from(time + 1);
    }
    serde_json::to_vec_pretty(&payload).map_err(|e| e.to_string())
}

/// [`kill`] on the file at `path`, replacing it atomically (a temporary file renamed over
/// it), so that a watcher never reads it half written.
pub(crate) fn kill_in_file(path: &Path, gate: &str) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let killed = kill(&bytes, gate)?;
    let temporary = path.with_extension("kill-switch.tmp");
    std::fs::write(&temporary, killed)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn usage() -> ! {
    eprintln!("usage: file_kill_switch FILE GATE [SECONDS] | file_kill_switch --kill FILE GATE");
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("--kill") {
        let (Some(path), Some(gate)) = (args.nth(1), args.next()) else {
            usage()
        };
        if let Err(e) = kill_in_file(Path::new(&path), &gate) {
            eprintln!("{e}");
            std::process::exit(1);
        }
        println!("{gate} is off in {path}");
        return;
    }
    let (Some(path), Some(gate)) = (args.next(), args.next()) else {
        usage()
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
        let snapshot = store.snapshot();
        let evaluation = snapshot.gate(&user, &gate);
        let now = (
            snapshot.ruleset().map(|r| r.time()),
            evaluation.value(),
            evaluation.rule_id().to_owned(),
        );
        drop(snapshot);
        if shown.as_ref() != Some(&now) {
            println!(
                "ruleset time {:?}: {gate} = {} (rule {:?})",
                now.0, now.1, now.2
            );
            for dropped in &status.borrow().dropped_specs {
                eprintln!(
                    "the loader dropped {} {:?} (it evaluates as unrecognized): {}",
                    dropped.section, dropped.name, dropped.reason
                );
            }
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

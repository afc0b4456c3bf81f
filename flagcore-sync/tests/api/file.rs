//! The file watcher against real files: edits flip gates, half-written files are not installed.

use std::sync::Arc;
use std::time::Duration;

use flagcore::{Store, User};
use flagcore_sync::FileWatcher;

use super::server::{empty_payload, eventually, payload};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_flip_gates_and_broken_files_keep_the_last_good_ruleset() {
    let dir = std::env::temp_dir().join(format!("flagcore-sync-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("flags.json");
    std::fs::write(&path, payload(1, true)).unwrap();
    let store = Arc::new(Store::new());
    let watcher = FileWatcher::start(store.clone(), &path, Duration::from_millis(20));
    let user = User::with_user_id("u");
    let time = |s: &Store| s.ruleset().map(|r| r.time());
    assert!(eventually(Duration::from_secs(5), || time(&store) == Some(1)).await);
    assert!(store.check_gate(&user, "g"));

    // A half-written file (the editor or deploy tool is mid-write) is not installed.
    let full = payload(2, false);
    std::fs::write(&path, &full[..full.len() / 2]).unwrap();
    assert!(
        eventually(Duration::from_secs(5), || watcher
            .status()
            .consecutive_failures
            >= 1)
        .await
    );
    assert!(store.check_gate(&user, "g"));
    assert_eq!(time(&store), Some(1));

    // The completed file is.
    std::fs::write(&path, &full).unwrap();
    assert!(eventually(Duration::from_secs(5), || time(&store) == Some(2)).await);
    assert!(
        !store.check_gate(&user, "g"),
        "the kill switch in the file was not seen"
    );

    // An empty ruleset does not replace a non-empty one; a deleted file keeps the last one.
    let before = watcher.status().attempts;
    std::fs::write(&path, empty_payload(3)).unwrap();
    assert!(
        eventually(Duration::from_secs(5), || watcher.status().attempts
            > before)
        .await
    );
    let status = watcher.status();
    assert_eq!(status.consecutive_failures, 1, "{status:?}");
    assert!(
        status
            .last_error
            .as_ref()
            .is_some_and(|(_, e)| e.contains("empty")),
        "{status:?}"
    );
    assert_eq!(time(&store), Some(2));
    std::fs::remove_file(&path).unwrap();
    let before = watcher.status().attempts;
    assert!(
        eventually(Duration::from_secs(5), || watcher.status().attempts
            > before + 1)
        .await
    );
    assert_eq!(time(&store), Some(2));
    assert!(watcher.status().last_error.is_some());
    watcher.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

//! The last good payload on disk, so that a restart with the network (and the data store)
//! down still serves the rules of the last run.

use std::path::{Path, PathBuf};

use crate::SyncError;

/// Writes `bytes` to `path` atomically: a temporary file in the same directory is written,
/// flushed to disk and renamed over `path`, so a reader (or a crash) sees the old file or
/// the new one, never half of one.
pub(crate) async fn save(path: &Path, bytes: &[u8]) -> Result<(), SyncError> {
    let path = path.to_owned();
    let bytes = bytes.to_vec();
    // Writing megabytes and fsync take milliseconds: the blocking pool, not a worker.
    tokio::task::spawn_blocking(move || save_blocking(&path, &bytes))
        .await
        .map_err(|e| SyncError::Io(std::io::Error::other(e)))?
        .map_err(SyncError::Io)
}

/// [`save`] on the calling thread.
pub(crate) fn save_blocking(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let tmp = temporary(path);
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    // The rename is durable once the directory is (best effort: not every platform can
    // open a directory).
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// `dir/.name.tmp-<pid>`: beside the file (a rename does not cross file systems), and
/// per process, so that two processes saving to one path do not write into one
/// temporary file.
fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "last-good".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Reads the saved payload; `None` when there is none.
pub(crate) async fn load(path: &Path) -> Result<Option<Vec<u8>>, SyncError> {
    match tokio::fs::read(path).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SyncError::Io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn save_replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("flagcore-last-good-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("flags.json");
        assert_eq!(load(&path).await.unwrap(), None);
        save(&path, b"one").await.unwrap();
        save(&path, b"two").await.unwrap();
        assert_eq!(load(&path).await.unwrap().as_deref(), Some(&b"two"[..]));
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("flags.json")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

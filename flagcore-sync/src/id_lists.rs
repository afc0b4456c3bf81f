//! Syncing ID lists (the members of large segments) incrementally (spec 10.4).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use flagcore::Store;
use serde::Deserialize;

use crate::http;
use crate::status::StatusCell;
use crate::task::{Stopped, Task};
use crate::{Status, SyncError};

const CDN_MANIFEST: &str = "https://api.statsigcdn.com/v1/get_id_lists";

/// Where and how often to sync ID lists.
///
/// ```
/// use std::time::Duration;
/// let options = flagcore_sync::IdListOptions::new("secret-…").interval(Duration::from_secs(30));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct IdListOptions {
    /// The server secret key (never printed by `Debug`).
    pub server_secret: String,
    /// The manifest endpoint, without the key (`https://api.statsigcdn.com/v1/get_id_lists`,
    /// requested as `GET {manifest_url}/{key}.json`). Another URL is requested with an empty
    /// `POST`, as Statsig's SDKs do.
    pub manifest_url: String,
    /// Time between syncs (60 s).
    pub interval: Duration,
    /// Timeout of one request (10 s).
    pub timeout: Duration,
    /// The largest manifest or list download accepted, in bytes (256 MiB).
    pub max_download_bytes: usize,
    /// Extra CA certificates and a proxy for the requests.
    pub network: crate::Network,
}

impl core::fmt::Debug for IdListOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IdListOptions")
            .field("server_secret", &"<redacted>")
            .field("manifest_url", &self.manifest_url)
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .field("max_download_bytes", &self.max_download_bytes)
            .field("network", &self.network)
            .finish()
    }
}

impl IdListOptions {
    /// Defaults for `server_secret`.
    pub fn new(server_secret: impl Into<String>) -> IdListOptions {
        IdListOptions {
            server_secret: server_secret.into(),
            manifest_url: CDN_MANIFEST.into(),
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            max_download_bytes: 256 << 20,
            network: crate::Network::default(),
        }
    }

    /// Sets the manifest endpoint.
    pub fn manifest_url(mut self, url: impl Into<String>) -> Self {
        self.manifest_url = url.into();
        self
    }

    /// Sets the sync interval.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets the request timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the largest manifest or list download accepted, in bytes.
    pub fn max_download_bytes(mut self, bytes: usize) -> Self {
        self.max_download_bytes = bytes;
        self
    }

    /// Sets the CA certificates and proxy of the requests.
    pub fn network(mut self, network: crate::Network) -> Self {
        self.network = network;
        self
    }
}

/// One list in the manifest.
#[derive(Debug, Deserialize)]
struct Entry {
    url: String,
    size: u64,
    #[serde(rename = "creationTime")]
    creation_time: i64,
    #[serde(rename = "fileID", default)]
    file_id: Option<String>,
}

/// What we hold of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Local {
    size: u64,
    creation_time: i64,
    file_id: Option<String>,
    url: String,
}

/// A background task keeping the store's ID lists in sync: new lists are downloaded, grown
/// lists are fetched from where they left off (byte ranges), replaced lists are reset, and
/// lists gone from the manifest are deleted. A failed download leaves its list unchanged.
#[derive(Debug)]
pub struct IdListSync {
    task: Task,
}

impl IdListSync {
    /// Starts syncing on the current tokio runtime; the first sync starts at once.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does).
    pub fn start(store: Arc<Store>, options: IdListOptions) -> Result<IdListSync, SyncError> {
        let client = http::client(options.timeout, &options.network)?;
        let task = Task::spawn(|status, stopped| run(client, store, options, status, stopped));
        Ok(IdListSync { task })
    }

    /// The source's status (`ruleset_time` stays `None`: lists have no time).
    pub fn status(&self) -> Status {
        self.task.status()
    }

    /// Follows the status: the receiver is notified after every attempt.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<Status> {
        self.task.watch()
    }

    /// Waits until the first sync attempt has ended or `timeout` passed.
    pub async fn wait_for_first_sync(&self, timeout: Duration) -> Status {
        self.task.first_attempt(timeout).await
    }

    /// Stops syncing and waits for the task to end.
    pub async fn shutdown(self) {
        self.task.shutdown().await;
    }
}

async fn run(
    client: reqwest::Client,
    store: Arc<Store>,
    options: IdListOptions,
    status: Arc<StatusCell>,
    mut stopped: Stopped,
) {
    let mut local: HashMap<String, Local> = HashMap::new();
    let mut first = true;
    loop {
        if !first && !stopped.sleep(options.interval).await {
            return;
        }
        first = false;
        let Some(result) = stopped
            .or(sync_once(&client, &store, &options, &mut local))
            .await
        else {
            return;
        };
        match result {
            Ok(false) => status.success(None),
            Ok(true) => status.success(Some(crate::status::Installed::IdLists)),
            Err(e) => status.failure(&e),
        }
    }
}

/// A change to apply to one list.
enum Change {
    Delete,
    Reset,
    Lines(Vec<u8>),
}

/// One sync; `Ok(true)` when a list changed.
pub(crate) async fn sync_once(
    client: &reqwest::Client,
    store: &Store,
    options: &IdListOptions,
    local: &mut HashMap<String, Local>,
) -> Result<bool, SyncError> {
    let key = &options.server_secret;
    let request = if options.manifest_url.starts_with(CDN_MANIFEST) {
        let url = format!("{}/{key}.json", options.manifest_url.trim_end_matches('/'));
        client.get(url)
    } else {
        client.post(&options.manifest_url).body("")
    };
    let body = http::fetch(
        http::statsig_headers(request, key),
        options.max_download_bytes,
    )
    .await?;
    let manifest: HashMap<String, Entry> =
        serde_json::from_slice(&body).map_err(SyncError::IdListManifest)?;

    let mut changes: Vec<(String, Change)> = Vec::new();
    let gone: Vec<String> = local
        .keys()
        .filter(|name| !manifest.contains_key(*name))
        .cloned()
        .collect();
    for name in gone {
        local.remove(&name);
        changes.push((name, Change::Delete));
    }
    let mut failed = None;
    for (name, entry) in &manifest {
        let (start, reset) = match local.get(name) {
            None => (0, true),
            Some(l) if l.file_id != entry.file_id => {
                if entry.creation_time < l.creation_time {
                    continue; // an older file than ours: keep ours
                }
                (0, true)
            }
            Some(l) if entry.size > l.size => (l.size, false),
            Some(_) => continue,
        };
        let mut held = Local {
            size: start,
            creation_time: entry.creation_time,
            file_id: entry.file_id.clone(),
            url: entry.url.clone(),
        };
        if entry.size <= start {
            // A new, empty list.
            changes.push((name.clone(), Change::Reset));
            local.insert(name.clone(), held);
            continue;
        }
        match download(
            client,
            &entry.url,
            start,
            entry.size,
            options.max_download_bytes,
        )
        .await
        {
            Ok((body, whole)) => {
                // A server that ignored the range sent the whole file: start over.
                let start = if whole { 0 } else { start };
                if reset || whole {
                    changes.push((name.clone(), Change::Reset));
                }
                held.size = start + body.len() as u64;
                local.insert(name.clone(), held);
                changes.push((name.clone(), Change::Lines(body)));
            }
            // This list stays as it is; the others are applied.
            Err(e) => failed = Some(e),
        }
    }
    let changed = !changes.is_empty();
    if changed {
        store.update_id_lists(|lists| {
            for (name, change) in &changes {
                match change {
                    Change::Delete => {
                        lists.remove_list(name);
                    }
                    Change::Reset => {
                        lists.remove_list(name);
                        lists.ensure_list(name);
                    }
                    Change::Lines(body) => apply_lines(lists, name, body),
                }
            }
        });
    }
    failed.map_or(Ok(changed), Err)
}

async fn download(
    client: &reqwest::Client,
    url: &str,
    start: u64,
    size: u64,
    limit: usize,
) -> Result<(Vec<u8>, bool), SyncError> {
    let mut request = client.get(url);
    let by_header = !url.starts_with("https://api.statsigcdn.com");
    if !by_header {
        if start > 0 {
            request = request.query(&[("range", format!("{start}-"))]);
        }
    } else {
        request = request
            .header("Range", format!("bytes={start}-"))
            .header("statsig-id-list-file-size", size.to_string());
    }
    let (status, body) = http::fetch_with_status(request, limit).await?;
    // 206 answers a range; 200 to a range request is the whole file.
    let whole = by_header && start > 0 && status == 200;
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if !matches!(first, Some(b'+' | b'-')) {
        return Err(SyncError::IdListFile {
            url: url.to_owned(),
        });
    }
    Ok((body, whole))
}

/// `+id` adds, `-id` removes; other lines are ignored.
fn apply_lines(lists: &mut flagcore::IdLists, name: &str, body: &[u8]) {
    for line in body.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.trim_ascii().len() <= 1 {
            continue;
        }
        let Ok(text) = std::str::from_utf8(&line[1..]) else {
            continue;
        };
        match line[0] {
            b'+' => {
                lists.insert_hashed(name, text);
            }
            b'-' => {
                lists.remove_hashed(name, text);
            }
            _ => {}
        }
    }
}

/// A complete snapshot of the ID lists as the official core keeps it in a data store: the
/// manifest (`{name: {name, url, fileID, size, creationTime}}`, `size` being the remote
/// file's length, as the sync's cursor) and, per list, its members as sorted `+hash` lines.
pub(crate) struct Snapshot {
    pub(crate) manifest: Vec<u8>,
    pub(crate) children: Vec<(String, Vec<u8>)>,
}

/// The snapshot of `local`'s lists as held in `lists`.
pub(crate) fn snapshot(lists: &flagcore::IdLists, local: &HashMap<String, Local>) -> Snapshot {
    let mut names: Vec<&String> = local.keys().collect();
    names.sort_unstable();
    let mut manifest = serde_json::Map::new();
    let mut children = Vec::with_capacity(names.len());
    for name in names {
        let l = &local[name];
        manifest.insert(
            name.clone(),
            serde_json::json!({
                "name": name,
                "url": l.url,
                "fileID": l.file_id,
                "size": l.size,
                "creationTime": l.creation_time,
            }),
        );
        let mut members: Vec<&str> = lists.members(name).collect();
        members.sort_unstable();
        let mut child = Vec::with_capacity(members.len() * 10);
        for m in members {
            child.push(b'+');
            child.extend_from_slice(m.as_bytes());
            child.push(b'\n');
        }
        children.push((name.clone(), child));
    }
    Snapshot {
        manifest: serde_json::Value::Object(manifest).to_string().into_bytes(),
        children,
    }
}

fn unusable(reason: String) -> SyncError {
    SyncError::StoreValue { reason }
}

/// One manifest entry of a snapshot: an object (`{name?, url?, fileID?, size?,
/// creationTime?}`, as the official core writes it) or, in an array manifest, a bare name.
#[derive(Deserialize)]
struct SnapshotEntry {
    name: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(rename = "fileID", default)]
    file_id: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(rename = "creationTime", default)]
    creation_time: Option<i64>,
}

/// The names of a snapshot's manifest, with what is known of each list, and whether an
/// empty child is allowed (only with object metadata, as in the official core).
pub(crate) fn snapshot_manifest(manifest: &[u8]) -> Result<Vec<(String, Local, bool)>, SyncError> {
    let value: serde_json::Value = serde_json::from_slice(manifest)
        .map_err(|e| unusable(format!("the ID-list manifest is not JSON: {e}")))?;
    let mut out: Vec<(String, Local, bool)> = Vec::new();
    let empty = || Local {
        size: 0,
        creation_time: 0,
        file_id: None,
        url: String::new(),
    };
    match value {
        serde_json::Value::Array(names) => {
            for n in names {
                let Some(name) = n.as_str().filter(|n| !n.is_empty()) else {
                    return Err(unusable(
                        "an ID-list manifest name is not a non-empty string".into(),
                    ));
                };
                out.push((name.to_owned(), empty(), false));
            }
        }
        serde_json::Value::Object(entries) => {
            for (name, v) in entries {
                let e: SnapshotEntry = serde_json::from_value(v)
                    .map_err(|e| unusable(format!("ID-list manifest entry {name:?}: {e}")))?;
                if name.is_empty() || e.name.as_ref().is_some_and(|n| *n != name) {
                    return Err(unusable(format!(
                        "ID-list manifest entry {name:?} is misnamed"
                    )));
                }
                let local = Local {
                    size: e.size.unwrap_or(0),
                    creation_time: e.creation_time.unwrap_or(0),
                    file_id: e.file_id,
                    url: e.url.unwrap_or_default(),
                };
                out.push((name, local, true));
            }
        }
        _ => {
            return Err(unusable(
                "the ID-list manifest is neither an array nor an object".into(),
            ))
        }
    }
    let mut seen = std::collections::HashSet::new();
    if let Some((dup, _, _)) = out.iter().find(|(n, _, _)| !seen.insert(n.clone())) {
        return Err(unusable(format!(
            "the ID-list manifest names {dup:?} twice"
        )));
    }
    Ok(out)
}

/// Reads a complete child (`+hash` lines) into `lists` as `name`: as strict as the official
/// core, so that a truncated or foreign value is refused rather than half installed.
pub(crate) fn read_child(
    lists: &mut flagcore::IdLists,
    name: &str,
    child: &[u8],
    empty_allowed: bool,
) -> Result<(), SyncError> {
    let bad = |what: &str| unusable(format!("ID list {name:?}: {what}"));
    lists.remove_list(name);
    lists.ensure_list(name);
    let body = child.strip_suffix(b"\n").unwrap_or(child);
    if body.is_empty() {
        return if empty_allowed {
            Ok(())
        } else {
            Err(bad("empty, with no manifest metadata"))
        };
    }
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(hash) = line.strip_prefix(b"+") else {
            return Err(bad(&format!("line {} is not a `+` member", i + 1)));
        };
        let valid = hash.len() == 8
            && hash
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/'));
        let Ok(text) = std::str::from_utf8(hash) else {
            return Err(bad(&format!("line {} has an invalid hash", i + 1)));
        };
        if !valid {
            return Err(bad(&format!("line {} has an invalid hash", i + 1)));
        }
        if lists.contains_hashed(name, text) {
            return Err(bad("a member is listed twice"));
        }
        lists.insert_hashed(name, text);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_add_and_remove_and_others_are_skipped() {
        let mut lists = flagcore::IdLists::default();
        apply_lines(
            &mut lists,
            "l",
            b"+aaaaaaaa\r\n+bbbbbbbb\n\n+\n  \n*cccccccc\n-aaaaaaaa\n+dddddddd",
        );
        assert!(!lists.contains_hashed("l", "aaaaaaaa"));
        assert!(lists.contains_hashed("l", "bbbbbbbb"));
        assert!(!lists.contains_hashed("l", "cccccccc"));
        assert!(
            lists.contains_hashed("l", "dddddddd"),
            "a last line without a newline"
        );
        assert_eq!(lists.len("l"), 2);
    }
}

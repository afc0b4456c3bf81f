//! Syncing ID lists (the members of large segments) incrementally (spec 10.4).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use flagcore::Store;
use serde::Deserialize;
use tokio::sync::watch;

use crate::status::Shared;
use crate::task::Task;
use crate::{Status, SyncError};

const CDN_MANIFEST: &str = "https://api.statsigcdn.com/v1/get_id_lists";

/// Where and how often to sync ID lists.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct IdListOptions {
    /// The server secret key.
    pub server_secret: String,
    /// The manifest endpoint, without the key (`https://api.statsigcdn.com/v1/get_id_lists`).
    /// Another URL is requested with `POST`, as Statsig's SDKs do.
    pub manifest_url: String,
    /// Time between syncs (60 s).
    pub interval: Duration,
    /// Timeout of one request (10 s).
    pub timeout: Duration,
}

impl IdListOptions {
    /// Defaults for `server_secret`.
    pub fn new(server_secret: impl Into<String>) -> IdListOptions {
        IdListOptions {
            server_secret: server_secret.into(),
            manifest_url: CDN_MANIFEST.into(),
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
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
#[derive(Clone, Debug)]
struct Local {
    size: u64,
    creation_time: i64,
    file_id: Option<String>,
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
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .build()
            .map_err(SyncError::Client)?;
        let task = Task::spawn(|status, stopped| run(client, store, options, status, stopped));
        Ok(IdListSync { task })
    }

    /// The source's status (`ruleset_time` stays `None`: lists have no time).
    pub fn status(&self) -> Status {
        self.task.status()
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
    status: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut local: HashMap<String, Local> = HashMap::new();
    let mut first = true;
    loop {
        if !first {
            tokio::select! {
                _ = tokio::time::sleep(options.interval) => {}
                _ = stopped.changed() => return,
            }
        }
        first = false;
        let result = tokio::select! {
            r = sync_once(&client, &store, &options, &mut local) => r,
            _ = stopped.changed() => return,
        };
        match result {
            Ok(()) => status.success(None),
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

async fn sync_once(
    client: &reqwest::Client,
    store: &Store,
    options: &IdListOptions,
    local: &mut HashMap<String, Local>,
) -> Result<(), SyncError> {
    let key = &options.server_secret;
    let manifest: HashMap<String, Entry> = if options.manifest_url.starts_with(CDN_MANIFEST) {
        let url = format!("{}/{key}.json", options.manifest_url.trim_end_matches('/'));
        client.get(url)
    } else {
        client.post(&options.manifest_url).body("")
    }
    .header("STATSIG-API-KEY", key)
    .header("STATSIG-SDK-TYPE", "flagcore")
    .header("STATSIG-SDK-VERSION", env!("CARGO_PKG_VERSION"))
    .send()
    .await
    .and_then(reqwest::Response::error_for_status)
    .map_err(SyncError::Request)?
    .json()
    .await
    .map_err(SyncError::Request)?;

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
        };
        if entry.size <= start {
            // A new, empty list.
            changes.push((name.clone(), Change::Reset));
            local.insert(name.clone(), held);
            continue;
        }
        match download(client, &entry.url, start, entry.size).await {
            Ok(body) => {
                if reset {
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
    if !changes.is_empty() {
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
    failed.map_or(Ok(()), Err)
}

async fn download(
    client: &reqwest::Client,
    url: &str,
    start: u64,
    size: u64,
) -> Result<Vec<u8>, SyncError> {
    let mut request = client.get(url);
    if url.starts_with("https://api.statsigcdn.com") {
        if start > 0 {
            request = request.query(&[("range", format!("{start}-"))]);
        }
    } else {
        request = request
            .header("Range", format!("bytes={start}-"))
            .header("statsig-id-list-file-size", size.to_string());
    }
    let body = request
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(SyncError::Request)?
        .bytes()
        .await
        .map_err(SyncError::Request)?;
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if !matches!(first, Some(b'+' | b'-')) {
        return Err(SyncError::IdListFile {
            url: url.to_owned(),
        });
    }
    Ok(body.to_vec())
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

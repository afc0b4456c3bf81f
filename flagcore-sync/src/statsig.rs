//! Polling Statsig's `download_config_specs` endpoint.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flagcore::{Ruleset, Store};
use tokio::sync::watch;

use crate::status::Shared;
use crate::task::Task;
use crate::{Status, SyncError};

/// Where and how often to poll.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StatsigOptions {
    /// The server secret key (`secret-…`), sent in the `STATSIG-API-KEY` header.
    pub server_secret: String,
    /// The endpoint, without the key: `https://api.statsigcdn.com/v2/download_config_specs` by
    /// default; point it at a proxy (or a test server).
    pub specs_url: String,
    /// Time between syncs, measured from the end of the previous one (10 s by default).
    pub interval: Duration,
    /// Timeout of one request (10 s by default).
    pub timeout: Duration,
    /// First retry delay after a failure; doubles per consecutive failure (with ±25% jitter)
    /// up to `interval`, so a recovered source is seen within one interval.
    pub retry_base: Duration,
}

impl StatsigOptions {
    /// Defaults for `server_secret`.
    pub fn new(server_secret: impl Into<String>) -> StatsigOptions {
        StatsigOptions {
            server_secret: server_secret.into(),
            specs_url: "https://api.statsigcdn.com/v2/download_config_specs".into(),
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_millis(200),
        }
    }

    /// Sets the endpoint.
    pub fn specs_url(mut self, url: impl Into<String>) -> Self {
        self.specs_url = url.into();
        self
    }

    /// Sets the poll interval.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets the request timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the first retry delay.
    pub fn retry_base(mut self, delay: Duration) -> Self {
        self.retry_base = delay;
        self
    }
}

/// A background task keeping a store in sync with Statsig. Dropping the handle stops it;
/// [`StatsigPoller::shutdown`] stops it and waits until it has.
#[derive(Debug)]
pub struct StatsigPoller {
    task: Task,
}

/// What one successful sync did.
enum Synced {
    Installed(u64),
    NoUpdates,
}

/// A failure and how long the server asked us to wait.
struct Failure {
    error: SyncError,
    retry_after: Option<Duration>,
}

impl From<SyncError> for Failure {
    fn from(error: SyncError) -> Self {
        Failure {
            error,
            retry_after: None,
        }
    }
}

impl StatsigPoller {
    /// Starts polling on the current tokio runtime; the first sync starts at once.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does).
    pub fn start(store: Arc<Store>, options: StatsigOptions) -> Result<StatsigPoller, SyncError> {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .build()
            .map_err(SyncError::Client)?;
        let task = Task::spawn(|status, stopped| run(client, store, options, status, stopped));
        Ok(StatsigPoller { task })
    }

    /// The source's status.
    pub fn status(&self) -> Status {
        self.task.status()
    }

    /// Waits until the first sync attempt has finished or `timeout` passed, and reports the
    /// status then (see [`Status::last_success`] and [`Status::last_error`]).
    pub async fn wait_for_first_sync(&self, timeout: Duration) -> Status {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.status().attempts == 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.status()
    }

    /// Stops polling and waits for the task to end (an in-flight request is abandoned).
    pub async fn shutdown(self) {
        self.task.shutdown().await;
    }
}

async fn run(
    client: reqwest::Client,
    store: Arc<Store>,
    options: StatsigOptions,
    status: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let jitter = RandomState::new();
    let mut delay = Duration::ZERO;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stopped.changed() => return,
        }
        let attempt = tokio::select! {
            r = sync_once(&client, &store, &options) => r,
            _ = stopped.changed() => return,
        };
        delay = match attempt {
            Ok(Synced::Installed(time)) => {
                status.success(Some(time));
                options.interval
            }
            Ok(Synced::NoUpdates) => {
                status.success(None);
                options.interval
            }
            Err(failure) => {
                status.failure(&failure.error);
                let failures = status.get().consecutive_failures;
                let backoff = retry_delay(&options, failures, &jitter);
                failure.retry_after.map_or(backoff, |r| r.max(backoff))
            }
        };
    }
}

/// `retry_base · 2^(failures-1)`, ±25% jitter, at most `interval`.
fn retry_delay(options: &StatsigOptions, failures: u32, jitter: &RandomState) -> Duration {
    let exp = options
        .retry_base
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let capped = exp.min(options.interval);
    let r = jitter.hash_one(SystemTime::now()) % 1000; // 0..1000
    capped.mul_f64(0.75 + (r as f64) / 2000.0)
}

async fn sync_once(
    client: &reqwest::Client,
    store: &Store,
    options: &StatsigOptions,
) -> Result<Synced, Failure> {
    let key = &options.server_secret;
    let url = format!("{}/{key}.json", options.specs_url.trim_end_matches('/'));
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut request = client
        .get(url)
        .header("STATSIG-API-KEY", key)
        .header("STATSIG-SDK-TYPE", "flagcore")
        .header("STATSIG-SDK-VERSION", env!("CARGO_PKG_VERSION"))
        .header("STATSIG-CLIENT-TIME", now_ms.to_string());
    let current = store.ruleset();
    if let Some(rs) = current.as_deref().filter(|rs| rs.time() > 0) {
        request = request.query(&[("sinceTime", rs.time().to_string())]);
        if let Some(checksum) = rs.checksum() {
            request = request.query(&[("checksum", checksum)]);
        }
    }
    let response = request.send().await.map_err(SyncError::Request)?;
    if !response.status().is_success() {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        return Err(Failure {
            error: SyncError::Status {
                status: response.status().as_u16(),
            },
            retry_after,
        });
    }
    let body = response.bytes().await.map_err(SyncError::Request)?;
    apply(store, current.as_deref(), &body).map_err(Failure::from)
}

/// Applies a response body (spec 10.1, "Applying JSON").
fn apply(store: &Store, current: Option<&Ruleset>, body: &[u8]) -> Result<Synced, SyncError> {
    let rs = match Ruleset::from_json(body) {
        Ok(rs) => rs,
        Err(e) => {
            // The usual answer to a `sinceTime` request when nothing changed.
            #[derive(serde::Deserialize)]
            struct HasUpdates {
                has_updates: bool,
            }
            return match serde_json::from_slice::<HasUpdates>(body) {
                Ok(HasUpdates { has_updates: false }) => Ok(Synced::NoUpdates),
                _ => Err(SyncError::Load(e)),
            };
        }
    };
    if let Some(current) = current {
        let older = current.time() > 0 && current.time() > rs.time();
        let same = current.checksum().is_some() && current.checksum() == rs.checksum();
        if older || same {
            return Ok(Synced::NoUpdates);
        }
    }
    if !rs.has_updates() {
        return Ok(Synced::NoUpdates);
    }
    crate::install(store, rs).map(Synced::Installed)
}

/// Where the store's ruleset came from when initialisation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitSource {
    /// The network answered in time.
    Network,
    /// The network did not (yet): the bootstrap payload serves.
    Bootstrap,
    /// Neither: evaluations give defaults (`Reason::NoRuleset`) until a sync succeeds.
    None,
}

/// What [`initialize`] did.
#[derive(Clone, Debug)]
pub struct InitReport {
    /// Where the ruleset came from.
    pub source: InitSource,
    /// The error of the bootstrap payload or of the first network sync, if any.
    pub error: Option<String>,
    /// How long initialisation took.
    pub duration: Duration,
    /// The `time` of the ruleset serving afterwards.
    pub ruleset_time: Option<u64>,
}

/// Starts from `bootstrap` (a saved payload) at once when given, then starts polling and
/// waits at most `timeout` for the first network sync. The poller keeps running either way.
pub async fn initialize(
    store: Arc<Store>,
    bootstrap: Option<&[u8]>,
    options: StatsigOptions,
    timeout: Duration,
) -> Result<(StatsigPoller, InitReport), SyncError> {
    let started = tokio::time::Instant::now();
    let mut error = None;
    let mut source = InitSource::None;
    if let Some(bytes) = bootstrap {
        match store.load_json(bytes) {
            Ok(_) => source = InitSource::Bootstrap,
            Err(e) => error = Some(format!("bootstrap: {e}")),
        }
    }
    let poller = StatsigPoller::start(store.clone(), options)?;
    let status = poller.wait_for_first_sync(timeout).await;
    if status.last_install.is_some()
        || (status.last_success.is_some() && source == InitSource::None)
    {
        source = InitSource::Network;
    }
    if let Some((_, e)) = status.last_error {
        error = Some(e);
    }
    let report = InitReport {
        source,
        error,
        duration: started.elapsed(),
        ruleset_time: store.ruleset().map(|r| r.time()),
    };
    Ok((poller, report))
}

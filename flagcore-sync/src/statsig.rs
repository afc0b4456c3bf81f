//! Polling Statsig's `download_config_specs` endpoint (spec 10.1), and initialisation.

use std::sync::Arc;
use std::time::Duration;

use flagcore::{Limits, Ruleset, Store};

use crate::http::{self, Backoff};
use crate::status::{Installed, StatusCell};
use crate::task::{Stopped, Task};
use crate::{Status, SyncError};

/// Statsig's CDN endpoint for `download_config_specs`, without the key.
pub(crate) const STATSIG_SPECS_URL: &str = "https://api.statsigcdn.com/v2/download_config_specs";

/// Where and how often to poll. Build it with [`StatsigOptions::new`] and the setters.
///
/// ```
/// use std::time::Duration;
/// use flagcore_sync::StatsigOptions;
///
/// let options = StatsigOptions::new("secret-…")
///     .specs_url("https://statsig-proxy.internal/v2/download_config_specs")
///     .fallback_url("https://api.statsigcdn.com/v2/download_config_specs")
///     .interval(Duration::from_secs(30));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct StatsigOptions {
    /// The server secret key (`secret-…`), sent in the `STATSIG-API-KEY` header and as the
    /// last path segment. Never printed by `Debug`.
    pub server_secret: String,
    /// The endpoint, without the key: `https://api.statsigcdn.com/v2/download_config_specs`
    /// by default; point it at a proxy (or a test server). Requests go to
    /// `{specs_url}/{server_secret}.json`.
    pub specs_url: String,
    /// A second endpoint, tried when the first attempt fails and then on every fifth
    /// consecutive failure (Statsig's `fallback_to_statsig_api`); none by default.
    pub fallback_url: Option<String>,
    /// Time between syncs, measured from the end of the previous one (10 s by default).
    pub interval: Duration,
    /// Timeout of one request, connection and body included (10 s by default).
    pub timeout: Duration,
    /// First retry delay after a failure: it doubles per consecutive failure (with jitter)
    /// up to `interval`, so a recovered source is seen within one interval (200 ms).
    pub retry_base: Duration,
    /// The longest `Retry-After` honoured (10 minutes): a larger one is cut to this, so a
    /// broken proxy cannot stop polling for days.
    pub max_retry_after: Duration,
    /// The wait after the server secret was refused (HTTP 401/403,
    /// [`SyncError::Unauthorized`]) before trying again (5 minutes), instead of the short
    /// backoff: a wrong key does not fix itself within seconds, and hammering the endpoint
    /// with it helps no one. Tries go on, so a key whose permission is restored at the
    /// source is picked up without a restart.
    pub unauthorized_retry: Duration,
    /// Limits on the payload (size, counts); a larger body is not even read.
    pub limits: Limits,
    /// Extra CA certificates and a proxy for the requests.
    pub network: crate::Network,
}

impl core::fmt::Debug for StatsigOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StatsigOptions")
            .field("server_secret", &"<redacted>")
            .field("specs_url", &self.specs_url)
            .field("fallback_url", &self.fallback_url)
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .field("retry_base", &self.retry_base)
            .field("max_retry_after", &self.max_retry_after)
            .field("unauthorized_retry", &self.unauthorized_retry)
            .field("limits", &self.limits)
            .field("network", &self.network)
            .finish()
    }
}

impl StatsigOptions {
    /// Defaults for `server_secret`.
    pub fn new(server_secret: impl Into<String>) -> StatsigOptions {
        StatsigOptions {
            server_secret: server_secret.into(),
            specs_url: STATSIG_SPECS_URL.into(),
            fallback_url: None,
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(600),
            unauthorized_retry: Duration::from_secs(300),
            limits: Limits::default(),
            network: crate::Network::default(),
        }
    }

    /// Sets the endpoint.
    pub fn specs_url(mut self, url: impl Into<String>) -> Self {
        self.specs_url = url.into();
        self
    }

    /// Sets the fallback endpoint.
    pub fn fallback_url(mut self, url: impl Into<String>) -> Self {
        self.fallback_url = Some(url.into());
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

    /// Sets the longest `Retry-After` honoured.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Sets the wait after a refused server secret.
    pub fn unauthorized_retry(mut self, delay: Duration) -> Self {
        self.unauthorized_retry = delay;
        self
    }

    /// Sets the payload limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the CA certificates and proxy of the requests.
    pub fn network(mut self, network: crate::Network) -> Self {
        self.network = network;
        self
    }
}

/// A background task keeping a store in sync with Statsig.
///
/// The first sync starts at once; then one every `interval`. A failure (HTTP error,
/// timeout, a payload the loader rejects, an empty payload replacing a non-empty one) keeps
/// the current ruleset, is recorded in the [`Status`], and is retried after a capped,
/// jittered backoff (or the server's `Retry-After`); a refused server secret (HTTP 401/403)
/// is retried only after [`StatsigOptions::unauthorized_retry`]. The loop never ends on its own.
/// Dropping the handle stops it; [`StatsigPoller::shutdown`] stops it and waits until it
/// has.
#[derive(Debug)]
pub struct StatsigPoller {
    task: Task,
}

/// What one successful sync did.
enum Synced {
    Installed(Installed),
    NoUpdates,
}

impl StatsigPoller {
    /// Starts polling on the current tokio runtime; the first sync starts at once.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does); see [`crate::BlockingRuntime`].
    pub fn start(store: Arc<Store>, options: StatsigOptions) -> Result<StatsigPoller, SyncError> {
        let client = http::client(options.timeout, &options.network)?;
        let task = Task::spawn(|status, stopped| run(client, store, options, status, stopped));
        Ok(StatsigPoller { task })
    }

    /// The source's status.
    pub fn status(&self) -> Status {
        self.task.status()
    }

    /// Follows the status: the receiver is notified after every attempt.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<Status> {
        self.task.watch()
    }

    /// Waits until the first sync attempt has ended or `timeout` passed, and reports the
    /// status then (see [`Status::last_success`] and [`Status::last_error`]).
    pub async fn wait_for_first_sync(&self, timeout: Duration) -> Status {
        self.task.first_attempt(timeout).await
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
    status: Arc<StatusCell>,
    mut stopped: Stopped,
) {
    let backoff = Backoff {
        base: options.retry_base,
        cap: options.interval,
    };
    let mut delay = Duration::ZERO;
    loop {
        if !stopped.sleep(delay).await {
            return;
        }
        let Some(result) = stopped
            .or(attempt(&client, &store, &options, &status))
            .await
        else {
            return;
        };
        delay = match result {
            Ok(synced) => {
                let installed = match synced {
                    Synced::Installed(installed) => Some(installed),
                    Synced::NoUpdates => None,
                };
                status.success(installed);
                options.interval
            }
            Err(error) => {
                status.failure(&error);
                let delay = backoff.delay(status.get().consecutive_failures);
                match error {
                    SyncError::Status {
                        retry_after: Some(asked),
                        ..
                    } => delay.max(asked.min(options.max_retry_after)),
                    SyncError::Unauthorized { .. } => options.unauthorized_retry,
                    _ => delay,
                }
            }
        };
    }
}

/// One sync: the endpoint, then the fallback when it is due.
async fn attempt(
    client: &reqwest::Client,
    store: &Store,
    options: &StatsigOptions,
    status: &StatusCell,
) -> Result<Synced, SyncError> {
    let primary = sync_once(client, store, options, &options.specs_url).await;
    let Some(fallback) = &options.fallback_url else {
        return primary;
    };
    let s = status.get();
    let due = s.attempts == 0 || (s.consecutive_failures + 1) % 5 == 0;
    match primary {
        Err(error) if due => sync_once(client, store, options, fallback)
            .await
            .or(Err(error)),
        r => r,
    }
}

async fn sync_once(
    client: &reqwest::Client,
    store: &Store,
    options: &StatsigOptions,
    specs_url: &str,
) -> Result<Synced, SyncError> {
    let key = &options.server_secret;
    let url = format!("{}/{key}.json", specs_url.trim_end_matches('/'));
    let mut request = http::statsig_headers(client.get(url), key);
    let current = store.ruleset();
    if let Some(rs) = current.as_deref().filter(|rs| rs.time() > 0) {
        request = request.query(&[("sinceTime", rs.time().to_string())]);
        if let Some(checksum) = rs.checksum() {
            request = request.query(&[("checksum", checksum)]);
        }
    }
    let body = http::fetch(request, options.limits.max_payload_bytes).await?;
    apply(store, current.as_deref(), &body, &options.limits)
}

/// Applies a response body (spec 10.1, "Applying JSON").
fn apply(
    store: &Store,
    current: Option<&Ruleset>,
    body: &[u8],
    limits: &Limits,
) -> Result<Synced, SyncError> {
    let rs = match crate::parse(body, limits) {
        Ok(rs) => rs,
        Err(e) => {
            // The usual answer to a `sinceTime` request when nothing changed.
            #[derive(serde::Deserialize)]
            struct HasUpdates {
                has_updates: bool,
            }
            return match serde_json::from_slice::<HasUpdates>(body) {
                Ok(HasUpdates { has_updates: false }) => Ok(Synced::NoUpdates),
                _ => Err(e),
            };
        }
    };
    if let Some(current) = current {
        let older = current.time() > 0 && current.time() > rs.time();
        let same = current.checksum().is_some_and(|c| !c.is_empty())
            && current.checksum() == rs.checksum();
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
    /// The network answered in time with a ruleset.
    Network,
    /// The bootstrap payload serves (the network did not answer in time, failed, or
    /// answered that the bootstrap is current).
    Bootstrap,
    /// Neither: evaluations give defaults ([`flagcore::Reason::NoRuleset`]) until a sync
    /// succeeds.
    None,
}

/// What [`initialize`] did.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct InitReport {
    /// Where the serving ruleset came from.
    pub source: InitSource,
    /// Whether the first network sync succeeded within the timeout.
    pub network_ok: bool,
    /// Why the first network sync failed, or that it did not end within the timeout.
    pub network_error: Option<String>,
    /// Why the bootstrap payload was not installed.
    pub bootstrap_error: Option<String>,
    /// How long initialisation took.
    pub duration: Duration,
    /// The `time` of the ruleset serving afterwards.
    pub ruleset_time: Option<u64>,
    /// The specs that the ruleset serving afterwards dropped, with why (see
    /// [`Status::dropped_specs`]): names that evaluate as unrecognized although the payload
    /// has them. Empty when nothing was dropped.
    pub dropped_specs: Vec<flagcore::DroppedSpec>,
}

impl InitReport {
    /// Whether a ruleset serves (from the network or the bootstrap).
    pub fn is_ready(&self) -> bool {
        self.source != InitSource::None
    }
}

/// Starts from `bootstrap` (a saved payload) at once when given, then starts polling and
/// waits at most `timeout` for the first network sync. The poller keeps running whatever
/// happened; the report says what did.
///
/// ```no_run
/// # async fn run() -> Result<(), flagcore_sync::SyncError> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use flagcore_sync::{initialize, InitSource, StatsigOptions};
///
/// let store = Arc::new(flagcore::Store::new());
/// let saved = std::fs::read("flags-backup.json").ok();
/// let (poller, report) = initialize(store, saved.as_deref(), StatsigOptions::new("secret-…"),
///     Duration::from_secs(3)).await?;
/// if report.source != InitSource::Network {
///     eprintln!("flags: serving {:?}; network: {:?}", report.source, report.network_error);
/// }
/// # Ok(()) }
/// ```
///
/// # Errors
/// Only when the HTTP client cannot be built; sync failures are in the report.
pub async fn initialize(
    store: Arc<Store>,
    bootstrap: Option<&[u8]>,
    options: StatsigOptions,
    timeout: Duration,
) -> Result<(StatsigPoller, InitReport), SyncError> {
    let started = tokio::time::Instant::now();
    let mut source = InitSource::None;
    let mut bootstrap_error = None;
    if let Some(bytes) = bootstrap {
        match crate::parse(bytes, &options.limits).and_then(|rs| crate::install(&store, rs)) {
            Ok(_) => source = InitSource::Bootstrap,
            Err(e) => bootstrap_error = Some(crate::error_chain(&e)),
        }
    }
    let poller = StatsigPoller::start(store.clone(), options)?;
    let status = poller.wait_for_first_sync(timeout).await;
    let network_ok = status.last_success.is_some();
    if status.last_install.is_some() {
        source = InitSource::Network;
    }
    let network_error = match status.last_error {
        Some((_, e)) => Some(e),
        None if status.attempts == 0 => Some(crate::error_chain(&SyncError::Timeout(timeout))),
        None => None,
    };
    let report = InitReport {
        source,
        network_ok,
        network_error,
        bootstrap_error,
        duration: started.elapsed(),
        ruleset_time: store.ruleset().map(|r| r.time()),
        dropped_specs: store
            .ruleset()
            .map_or_else(Vec::new, |r| r.dropped_specs().to_vec()),
    };
    Ok((poller, report))
}

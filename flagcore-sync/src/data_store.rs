//! A fleet shares one ruleset through a data store (Statsig's `DataStore`, usually Redis):
//! one writer polls Statsig and writes what it got; every other instance follows the store.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use flagcore::{Limits, Store};
use sha2::Digest as _;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::http::{self, Backoff};
use crate::id_lists::{self, IdListOptions};
use crate::statsig::{self, InitReport, InitSource, StatsigOptions, Synced};
use crate::status::{Installed, StatusCell};
use crate::task::{Stopped, Task};
use crate::{Status, SyncError};

/// What a data store call returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SyncError>> + Send + 'a>>;

/// What is kept in a data store, in the official core's terms (`RequestPath`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorePath<'a> {
    /// The `download_config_specs` v2 payload.
    Rulesets,
    /// The ID-list manifest (`get_id_lists`).
    IdLists,
    /// One ID list, by name: its members as `+hash` lines.
    IdList(&'a str),
}

impl StorePath<'_> {
    /// The path part of the key, as the official core writes it.
    fn as_key_path(&self) -> String {
        match self {
            StorePath::Rulesets => "/v2/download_config_specs".into(),
            StorePath::IdLists => "/v1/get_id_lists".into(),
            StorePath::IdList(name) => format!("id_list::{name}"),
        }
    }
}

/// How the server secret appears in a key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySchema {
    /// Base64 of the secret's SHA-256: the official core's default (`V2Hashed`), and the
    /// forward proxy's "legacy" key.
    #[default]
    Hashed,
    /// The secret's first 20 characters: the official core's `V3HumanReadable`, and the
    /// key the forward proxy writes by default.
    Prefix,
}

/// The key under which `path` is kept for `server_secret`, as the official core (and
/// Statsig's forward proxy) name it: `statsig|<path>|plain_text|<key>`.
///
/// ```
/// use flagcore_sync::{store_key, KeySchema, StorePath};
/// assert_eq!(
///     store_key(StorePath::IdLists, "secret-key", KeySchema::Hashed),
///     "statsig|/v1/get_id_lists|plain_text|hdvhXXXvkwjHrg8zx6MkzG9L9Rmi7S8wJ70zwUCk+ao=",
/// );
/// ```
pub fn store_key(path: StorePath<'_>, server_secret: &str, schema: KeySchema) -> String {
    format!(
        "statsig|{}|plain_text|{}",
        path.as_key_path(),
        key_part(server_secret, schema)
    )
}

fn key_part(server_secret: &str, schema: KeySchema) -> String {
    match schema {
        KeySchema::Hashed => {
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(server_secret))
        }
        KeySchema::Prefix => server_secret.chars().take(20).collect(),
    }
}

/// A value read from the store.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreValue {
    /// The payload (for [`StorePath::Rulesets`], a `download_config_specs` JSON body).
    pub data: Vec<u8>,
    /// The time the writer gave with it, if any (ms since the Unix epoch).
    pub time: Option<u64>,
}

impl StoreValue {
    /// A value.
    pub fn new(data: Vec<u8>, time: Option<u64>) -> StoreValue {
        StoreValue { data, time }
    }
}

/// The right to write granted by a lease: a writer proves it with its holder name and
/// fencing token, and the store refuses a write whose lease has passed to someone else or
/// whose token is older than the one of the value stored.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fence {
    /// The lease's key.
    pub lease_key: String,
    /// Who holds it.
    pub holder: String,
    /// The token the store gave when the lease was taken; it grows with every new holder.
    pub token: u64,
}

impl Fence {
    /// The fence of `holder`'s lease `lease_key`, taken with `token`.
    pub fn new(lease_key: impl Into<String>, holder: impl Into<String>, token: u64) -> Fence {
        Fence {
            lease_key: lease_key.into(),
            holder: holder.into(),
            token,
        }
    }
}

/// What a write carries besides the value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteMeta {
    /// The payload's time (its `time`, Statsig's `lcut`); a store keeps a newer payload
    /// rather than overwrite it with an older one.
    pub time: u64,
    /// The payload's checksum, when it has one.
    pub checksum: Option<String>,
    /// The writer's lease; `None` writes unconditionally (as the official core does).
    pub fence: Option<Fence>,
}

/// What a write did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Written {
    /// The value is stored; its version (as [`DataStore::version`] reports it) follows.
    Stored(String),
    /// The store holds a newer payload (a larger time), which was kept; its version.
    KeptNewer(String),
}

/// Who holds a lease, after an attempt to take or renew it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lease {
    /// The holder, if anyone holds it.
    pub holder: Option<String>,
    /// The fencing token, when the caller holds the lease.
    pub token: Option<u64>,
}

impl Lease {
    /// A lease held by `holder`; `token` when that is the caller.
    pub fn new(holder: Option<String>, token: Option<u64>) -> Lease {
        Lease { holder, token }
    }
}

/// A data store shared by a fleet: the interface of Statsig's `DataStore`
/// (`get` / `set` / `support_polling_updates_for`), plus what lets a fleet elect one
/// writer and follow changes cheaply (a small version marker, a fenced lease).
///
/// `RedisStore` implements it (feature `redis`); implement it for
/// another store the same way. Every call may fail with [`SyncError::DataStore`]; the
/// sources keep the last good ruleset serving when it does.
pub trait DataStore: Send + Sync + fmt::Debug {
    /// The value under `key`, or `None` when there is none.
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<StoreValue>>;

    /// Writes `value` under `key`. With a fence, refuses ([`SyncError::Fenced`]) when the
    /// fence's lease is held by someone else, or the stored value carries a newer token;
    /// keeps a stored payload whose time is larger than `meta.time`.
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        meta: &'a WriteMeta,
    ) -> StoreFuture<'a, Written>;

    /// A short marker that changes whenever the value under `key` changes (`None`: no
    /// value). Followers poll it instead of the value.
    fn version<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>>;

    /// Takes the lease `key` for `holder` for `ttl` when nobody holds it, or renews it when
    /// `holder` does.
    fn acquire_lease<'a>(
        &'a self,
        key: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> StoreFuture<'a, Lease>;

    /// Gives the lease up, if `holder` holds it.
    fn release_lease<'a>(&'a self, key: &'a str, holder: &'a str) -> StoreFuture<'a, ()>;

    /// Tells the followers that subscribed with [`DataStore::subscribe_changes`] that `key`
    /// changed (Redis: `PUBLISH`). The writer calls it after each write; a store without
    /// notices does nothing (the default), and followers notice at their next poll.
    fn notify_changed<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        let _ = key;
        Box::pin(async { Ok(()) })
    }

    /// Subscribes to the notices of `key`: the receiver's value grows at each notice, and
    /// after a lost subscription is back (a notice may have been missed meanwhile). `None`
    /// when the store has no notices (the default): followers poll only.
    fn subscribe_changes<'a>(
        &'a self,
        key: &'a str,
    ) -> StoreFuture<'a, Option<watch::Receiver<u64>>> {
        let _ = key;
        Box::pin(async { Ok(None) })
    }

    /// Whether a follower may poll this store for `path` (the official core's
    /// `support_polling_updates_for`); a follower of a store that says no reads it once.
    fn supports_polling_for(&self, path: StorePath<'_>) -> bool {
        let _ = path;
        true
    }
}

/// What an instance does with the store.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Mode {
    /// Reads the ruleset from the store only; never calls Statsig.
    Follower,
    /// May write: contends for the writer lease; while it holds it, it polls Statsig
    /// (with these options) and writes each new payload to the store; otherwise it
    /// follows.
    Writer(Box<StatsigOptions>),
}

/// How a [`DataStoreSync`] uses its store. Build it with [`DataStoreOptions::follower`] or
/// [`DataStoreOptions::writer`] and the setters.
///
/// ```
/// use std::time::Duration;
/// use flagcore_sync::{DataStoreOptions, KeySchema, StatsigOptions};
///
/// let follower = DataStoreOptions::follower("secret-…").interval(Duration::from_millis(500));
/// let writer = DataStoreOptions::writer(StatsigOptions::new("secret-…"))
///     .lease_ttl(Duration::from_secs(10))
///     .last_good_file("/var/lib/app/flags.json");
/// // A Redis written by Statsig's forward proxy (its default keys).
/// let behind_proxy = DataStoreOptions::follower("secret-…").key_schema(KeySchema::Prefix);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct DataStoreOptions {
    /// The server secret: it names the keys (never printed by `Debug`).
    pub server_secret: String,
    /// How the secret appears in the keys ([`KeySchema::Hashed`], the official core's
    /// default).
    pub key_schema: KeySchema,
    /// Follower or writer.
    pub mode: Mode,
    /// Time between two reads of the version marker (1 s): a change written to the store
    /// is served within this plus the download.
    pub interval: Duration,
    /// How long the writer lease lasts without renewal (10 s): another instance takes over
    /// this long after the writer died. The writer renews it every third of it.
    pub lease_ttl: Duration,
    /// The lease's key: `statsig|flagcore::writer|<hashed secret>` by default. Give
    /// `statsig_forward_proxy::leader` to share the election with Statsig's forward proxy
    /// (while a proxy leads, flagcore writers follow).
    pub lease_key: Option<String>,
    /// This instance's name in the lease (a random one by default).
    pub holder: String,
    /// Where to keep the last good payload (none by default): every payload installed is
    /// saved there atomically, and [`DataStoreSync::initialize`] starts from it.
    pub last_good_file: Option<PathBuf>,
    /// Limits on the payload.
    pub limits: Limits,
    /// ID lists through the store (none by default): followers read the snapshot the
    /// official core keeps there (the manifest under [`StorePath::IdLists`], each list under
    /// [`StorePath::IdList`]) whenever the manifest changed; the writer also syncs the lists
    /// from Statsig with these options (every `interval`) and writes the snapshot, children
    /// first, the manifest last, as the official core does.
    pub id_lists: Option<IdListOptions>,
    /// Whether to subscribe to the store's change notices (off by default): a follower then
    /// reads a change as soon as the writer announces it, and still polls every
    /// `interval` (a lost notice, a store without notices). Writers always announce.
    pub notices: bool,
}

impl fmt::Debug for DataStoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataStoreOptions")
            .field("server_secret", &"<redacted>")
            .field("key_schema", &self.key_schema)
            .field("mode", &self.mode)
            .field("interval", &self.interval)
            .field("lease_ttl", &self.lease_ttl)
            .field("lease_key", &self.lease_key)
            .field("holder", &self.holder)
            .field("last_good_file", &self.last_good_file)
            .field("limits", &self.limits)
            .field("id_lists", &self.id_lists)
            .field("notices", &self.notices)
            .finish()
    }
}

impl DataStoreOptions {
    /// A follower of the keys of `server_secret`.
    pub fn follower(server_secret: impl Into<String>) -> DataStoreOptions {
        DataStoreOptions {
            server_secret: server_secret.into(),
            key_schema: KeySchema::Hashed,
            mode: Mode::Follower,
            interval: Duration::from_secs(1),
            lease_ttl: Duration::from_secs(10),
            lease_key: None,
            holder: format!("flagcore-{:016x}", http::random_u64()),
            last_good_file: None,
            limits: Limits::default(),
            id_lists: None,
            notices: false,
        }
    }

    /// An instance that may write, polling Statsig with `statsig` while it holds the lease
    /// (the keys are those of `statsig.server_secret`; the limits are taken from it).
    pub fn writer(statsig: StatsigOptions) -> DataStoreOptions {
        let mut options = DataStoreOptions::follower(statsig.server_secret.clone());
        options.limits = statsig.limits.clone();
        options.mode = Mode::Writer(Box::new(statsig));
        options
    }

    /// Sets the key schema.
    pub fn key_schema(mut self, schema: KeySchema) -> Self {
        self.key_schema = schema;
        self
    }

    /// Sets the follower interval.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets the lease time.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Sets the lease key.
    pub fn lease_key(mut self, key: impl Into<String>) -> Self {
        self.lease_key = Some(key.into());
        self
    }

    /// Sets this instance's name in the lease.
    pub fn holder(mut self, holder: impl Into<String>) -> Self {
        self.holder = holder.into();
        self
    }

    /// Keeps the last good payload in `path`.
    pub fn last_good_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.last_good_file = Some(path.into());
        self
    }

    /// Sets the payload limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Subscribes to change notices (Redis pub/sub with `RedisStore`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use flagcore_sync::DataStoreOptions;
    /// // Changes arrive at once; the poll is a safety net.
    /// let follower = DataStoreOptions::follower("secret-…").notices(true).interval(Duration::from_secs(10));
    /// ```
    pub fn notices(mut self, on: bool) -> Self {
        self.notices = on;
        self
    }

    /// Syncs ID lists through the store (see [`DataStoreOptions::id_lists`](Self#structfield.id_lists)).
    ///
    /// ```
    /// use flagcore_sync::{DataStoreOptions, IdListOptions};
    /// let follower = DataStoreOptions::follower("secret-…").id_lists(IdListOptions::new("secret-…"));
    /// ```
    pub fn id_lists(mut self, options: IdListOptions) -> Self {
        self.id_lists = Some(options);
        self
    }

    fn data_key(&self) -> String {
        store_key(StorePath::Rulesets, &self.server_secret, self.key_schema)
    }

    fn lease_key_or_default(&self) -> String {
        self.lease_key.clone().unwrap_or_else(|| {
            format!(
                "statsig|flagcore::writer|{}",
                key_part(&self.server_secret, KeySchema::Hashed)
            )
        })
    }
}

/// What an instance is doing in its fleet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Role {
    /// Following the store ([`Mode::Follower`]).
    #[default]
    Follower,
    /// May write, but another instance holds the lease (or the store is unreachable):
    /// following.
    Standby,
    /// Holds the lease: polls Statsig and writes to the store.
    Writer,
}

/// The state of a [`DataStoreSync`], beyond its [`Status`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreStatus {
    /// What the instance is doing.
    pub role: Role,
    /// Who held the lease at the last look (writers only).
    pub lease_holder: Option<String>,
    /// This instance's fencing token while it writes.
    pub fence: Option<u64>,
    /// Store calls that failed, in all.
    pub store_errors: u64,
    /// The last failed store call, with its causes.
    pub last_store_error: Option<(SystemTime, String)>,
    /// Payloads this instance wrote to the store (new ones and write-backs).
    pub writes: u64,
    /// When the last write ended.
    pub last_write: Option<SystemTime>,
    /// Payload downloads from the store (version reads excluded).
    pub payload_reads: u64,
    /// Bytes of values read from the store: version markers and payloads.
    pub bytes_read: u64,
    /// The writer's Statsig polls (all zero for a follower).
    pub statsig: Status,
}

/// A background task keeping a store in sync with a data store shared by a fleet.
///
/// Every `interval` it reads the store's version marker; when it changed, it downloads
/// the payload and installs it if it is newer than the ruleset serving (by `time` and
/// checksum). A [`Mode::Writer`] instance also takes or renews the writer lease at each
/// tick; while it holds it, it polls Statsig every `StatsigOptions::interval` and writes
/// each new payload to the store, fenced by the lease, and writes the ruleset back when the
/// store lost it. Nothing the store does makes the ruleset go: an empty store, a
/// corrupt or truncated value, a store that is down all keep the last good ruleset
/// serving, are recorded in the [`Status`] and [`StoreStatus`], and are tried again.
///
/// Dropping the handle stops the task; [`DataStoreSync::shutdown`] also gives the lease
/// up, so that another instance takes over at its next tick.
#[derive(Debug)]
pub struct DataStoreSync {
    task: Task,
    extra: Arc<watch::Sender<StoreStatus>>,
}

impl DataStoreSync {
    /// Starts syncing on the current tokio runtime; the first read starts at once.
    ///
    /// # Errors
    /// Only when the HTTP client of a writer cannot be built.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does).
    pub fn start(
        store: Arc<Store>,
        data_store: Arc<dyn DataStore>,
        options: DataStoreOptions,
    ) -> Result<DataStoreSync, SyncError> {
        let client = match &options.mode {
            Mode::Writer(statsig) => Some(http::client(statsig.timeout, &statsig.network)?),
            Mode::Follower => None,
        };
        let extra = Arc::new(watch::Sender::new(StoreStatus::default()));
        let shared = extra.clone();
        let task = Task::spawn(|status, stopped| async move {
            let mut sync = Syncer::new(store, data_store, options, client, status, shared);
            sync.run(stopped).await;
        });
        Ok(DataStoreSync { task, extra })
    }

    /// Starts from the last good payload on disk (when `options.last_good_file` is given
    /// and holds one), then starts syncing and waits at most `timeout` for the first read
    /// of the store (and, for the writer, its first Statsig poll). The task keeps running
    /// whatever happened; the report says what serves.
    ///
    /// # Errors
    /// Only when the HTTP client of a writer cannot be built.
    pub async fn initialize(
        store: Arc<Store>,
        data_store: Arc<dyn DataStore>,
        options: DataStoreOptions,
        timeout: Duration,
    ) -> Result<(DataStoreSync, InitReport), SyncError> {
        let started = Instant::now();
        let (mut source, bootstrap_error) = statsig::start_from(
            &store,
            None,
            options.last_good_file.as_deref(),
            &options.limits,
        )
        .await;
        let sync = DataStoreSync::start(store.clone(), data_store, options)?;
        let status = sync.wait_for_first_sync(timeout).await;
        let extra = sync.store_status();
        if status.last_install.is_some() {
            source = if extra.statsig.last_install.is_some() {
                InitSource::Network
            } else {
                InitSource::DataStore
            };
        }
        let network_error = match status.last_error {
            Some((_, e)) => Some(e),
            None if status.attempts == 0 => Some(crate::error_chain(&SyncError::Timeout(timeout))),
            None => None,
        };
        let report = InitReport {
            source,
            network_ok: status.last_success.is_some(),
            network_error,
            bootstrap_error,
            duration: started.elapsed(),
            ruleset_time: store.ruleset().map(|r| r.time()),
            dropped_specs: store
                .ruleset()
                .map(|r| r.dropped_specs().to_vec())
                .unwrap_or_default(),
        };
        Ok((sync, report))
    }

    /// The store reads' status: an attempt per tick, a success when the store answered.
    pub fn status(&self) -> Status {
        self.task.status()
    }

    /// Follows the status: the receiver is notified after every attempt.
    pub fn watch(&self) -> watch::Receiver<Status> {
        self.task.watch()
    }

    /// Role, lease, store errors, writes and the writer's Statsig polls.
    pub fn store_status(&self) -> StoreStatus {
        self.extra.borrow().clone()
    }

    /// Follows the store status (notified after every attempt).
    pub fn watch_store(&self) -> watch::Receiver<StoreStatus> {
        self.extra.subscribe()
    }

    /// Waits until the first attempt has ended or `timeout` passed.
    pub async fn wait_for_first_sync(&self, timeout: Duration) -> Status {
        self.task.first_attempt(timeout).await
    }

    /// Stops, gives the lease up if this instance holds it, and waits for the task to end.
    pub async fn shutdown(self) {
        self.task.shutdown().await;
    }
}

/// The task's state.
struct Syncer {
    store: Arc<Store>,
    data_store: Arc<dyn DataStore>,
    options: DataStoreOptions,
    client: Option<reqwest::Client>,
    status: Arc<StatusCell>,
    extra: Arc<watch::Sender<StoreStatus>>,
    statsig_status: StatusCell,
    key: String,
    lease_key: String,
    /// The version read last (`Some(None)`: the store was empty).
    seen: Option<Option<String>>,
    /// The payload installed last (what a write-back writes).
    payload: Option<Arc<Vec<u8>>>,
    /// Our token while we hold the lease.
    token: Option<u64>,
    next_poll: Instant,
    /// The ID-list manifest's key.
    lists_key: String,
    /// The manifest version read last (as `seen`).
    lists_seen: Option<Option<String>>,
    /// The writer's ID-list sync state (what it holds of each list).
    lists_local: std::collections::HashMap<String, id_lists::Local>,
    /// Whether the writer has synced the lists from Statsig at least once under its lease.
    lists_synced: bool,
    /// The lease token `lists_local` was synced under.
    lists_token: Option<u64>,
    next_lists_poll: Instant,
    /// Change notices, once subscribed.
    notices: Option<watch::Receiver<u64>>,
    /// No new attempt to subscribe before this.
    next_subscribe: Instant,
}

/// The least time between two attempts to subscribe to notices.
const RESUBSCRIBE: Duration = Duration::from_secs(10);

/// Whether `version` is the one read last.
fn seen_already(seen: &Option<Option<String>>, version: &str) -> bool {
    seen.as_ref().is_some_and(|v| v.as_deref() == Some(version))
}

/// What woke the task up.
enum Wake {
    /// Time to read the store (and renew the lease).
    Tick,
    /// Time for the writer's Statsig poll.
    Poll,
    /// The store announced a change.
    Notice,
}

/// Waits for the next notice, or forever without a subscription; a subscription that
/// ended is dropped (and made again at a tick).
async fn next_notice(notices: &mut Option<watch::Receiver<u64>>) {
    let Some(rx) = notices.as_mut() else {
        return std::future::pending().await;
    };
    if rx.changed().await.is_err() {
        *notices = None;
    }
}

/// Sleeps until `at`, or forever.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What went wrong in one tick (the first error of each kind).
#[derive(Default)]
struct Tick {
    installed: Option<Installed>,
    error: Option<SyncError>,
}

impl Tick {
    fn fail(&mut self, e: SyncError) {
        self.error.get_or_insert(e);
    }
}

impl Syncer {
    fn new(
        store: Arc<Store>,
        data_store: Arc<dyn DataStore>,
        options: DataStoreOptions,
        client: Option<reqwest::Client>,
        status: Arc<StatusCell>,
        extra: Arc<watch::Sender<StoreStatus>>,
    ) -> Syncer {
        let key = options.data_key();
        let lease_key = options.lease_key_or_default();
        let lists_key = store_key(
            StorePath::IdLists,
            &options.server_secret,
            options.key_schema,
        );
        Syncer {
            store,
            data_store,
            options,
            client,
            status,
            extra,
            statsig_status: StatusCell::default(),
            key,
            lease_key,
            seen: None,
            payload: None,
            token: None,
            next_poll: Instant::now(),
            lists_key,
            lists_seen: None,
            lists_local: std::collections::HashMap::new(),
            lists_synced: false,
            lists_token: None,
            next_lists_poll: Instant::now(),
            notices: None,
            next_subscribe: Instant::now(),
        }
    }

    fn writer_options(&self) -> Option<&StatsigOptions> {
        match &self.options.mode {
            Mode::Writer(s) => Some(s),
            Mode::Follower => None,
        }
    }

    async fn run(&mut self, mut stopped: Stopped) {
        let mut period = self.options.interval;
        if self.writer_options().is_some() {
            period = period.min(self.options.lease_ttl / 3);
        }
        let period = period.max(Duration::from_millis(1));
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let polls = self.data_store.supports_polling_for(StorePath::Rulesets);
        let mut first = true;
        loop {
            // The writer's Statsig polls keep their own interval, between the ticks.
            let poll_at = self.token.map(|_| self.next_poll);
            let notices = &mut self.notices;
            let wake = stopped
                .or(async {
                    tokio::select! {
                        _ = ticks.tick() => Wake::Tick,
                        () = sleep_until(poll_at) => Wake::Poll,
                        () = next_notice(notices) => Wake::Notice,
                    }
                })
                .await;
            let tick = match wake {
                None => break,
                Some(Wake::Tick) => {
                    if !first && !polls && self.writer_options().is_none() {
                        // A store that cannot be polled is read once.
                        continue;
                    }
                    if first {
                        // The first read is at once; then a random phase, so that a fleet
                        // started together does not read (and download) in one herd.
                        let nanos = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX).max(1);
                        ticks.reset_after(Duration::from_nanos(http::random_u64() % nanos));
                    }
                    first = false;
                    stopped.or(self.tick()).await
                }
                Some(Wake::Notice) => {
                    stopped
                        .or(async {
                            let mut tick = Tick::default();
                            self.follow(&mut tick).await;
                            if self.options.id_lists.is_some() {
                                self.follow_id_lists(&mut tick).await;
                            }
                            tick
                        })
                        .await
                }
                Some(Wake::Poll) => {
                    stopped
                        .or(async {
                            let mut tick = Tick::default();
                            self.poll_statsig(&mut tick).await;
                            tick
                        })
                        .await
                }
            };
            let Some(tick) = tick else {
                break;
            };
            match tick.error {
                Some(e) => self.status.failure(&e),
                None => self.status.success(tick.installed),
            }
            self.publish();
        }
        if self.token.is_some() {
            let release = self
                .data_store
                .release_lease(&self.lease_key, &self.options.holder);
            let _ = tokio::time::timeout(Duration::from_secs(2), release).await;
        }
    }

    fn publish(&self) {
        let statsig = self.statsig_status.get();
        self.extra.send_modify(|s| s.statsig = statsig);
    }

    fn store_error(&self, tick: &mut Tick, e: SyncError) {
        self.note_store_error(&e);
        tick.fail(e);
    }

    /// Records a failed store call in the store status only.
    fn note_store_error(&self, e: &SyncError) {
        let message = crate::error_chain(e);
        self.extra.send_modify(|s| {
            s.store_errors += 1;
            s.last_store_error = Some((SystemTime::now(), message));
        });
    }

    /// Subscribes to change notices when asked and not yet subscribed. A failure (Redis
    /// down, or too old for RESP3 push messages) is recorded in the store status but fails
    /// no tick: polling serves meanwhile, and the subscription is tried again later.
    async fn subscribe(&mut self) {
        if !self.options.notices || self.notices.is_some() || Instant::now() < self.next_subscribe {
            return;
        }
        match self.data_store.subscribe_changes(&self.key).await {
            Ok(Some(notices)) => self.notices = Some(notices),
            // The store has no notices: poll only.
            Ok(None) => self.options.notices = false,
            Err(e) => {
                self.note_store_error(&e);
                self.next_subscribe = Instant::now() + RESUBSCRIBE.max(self.options.interval);
            }
        }
    }

    async fn tick(&mut self) -> Tick {
        let mut tick = Tick::default();
        self.subscribe().await;
        if self.writer_options().is_some() {
            self.renew_lease(&mut tick).await;
        }
        self.follow(&mut tick).await;
        if self.token.is_some() && Instant::now() >= self.next_poll {
            self.poll_statsig(&mut tick).await;
        }
        if self.options.id_lists.is_some() {
            self.follow_id_lists(&mut tick).await;
            if self.token.is_some() && Instant::now() >= self.next_lists_poll {
                self.poll_id_lists(&mut tick).await;
            }
        }
        tick
    }

    /// Reads the ID-list manifest's version and, when it changed, the whole snapshot; a
    /// snapshot that does not read completely changes nothing.
    async fn follow_id_lists(&mut self, tick: &mut Tick) {
        let Some(version) = self.read_version(&self.lists_key, tick).await else {
            return;
        };
        let Some(version) = version else {
            self.lists_seen = Some(None);
            if self.token.is_some() && self.lists_synced {
                // The store lost the lists: write ours back.
                self.write_id_lists(tick).await;
            }
            return;
        };
        if seen_already(&self.lists_seen, &version) {
            return;
        }
        self.lists_seen = Some(Some(version));
        match self.read_id_lists().await {
            Ok(lists) => {
                if *self.store.id_lists() != lists {
                    self.store.set_id_lists(lists);
                    tick.installed.get_or_insert(Installed::IdLists);
                }
            }
            Err(e @ SyncError::DataStore(_)) => {
                // Read again at the next tick.
                self.lists_seen = None;
                self.store_error(tick, e);
            }
            Err(e) => tick.fail(e),
        }
    }

    async fn read_id_lists(&mut self) -> Result<flagcore::IdLists, SyncError> {
        let Some(manifest) = self.data_store.get(&self.lists_key).await? else {
            return Err(SyncError::StoreValue {
                reason: "the ID-list manifest went while it was read".into(),
            });
        };
        let mut bytes = manifest.data.len() as u64;
        let entries = id_lists::snapshot_manifest(&manifest.data)?;
        let mut lists = flagcore::IdLists::default();
        for (name, _, empty_allowed) in &entries {
            let key = store_key(
                StorePath::IdList(name),
                &self.options.server_secret,
                self.options.key_schema,
            );
            let Some(child) = self.data_store.get(&key).await? else {
                return Err(SyncError::StoreValue {
                    reason: format!("ID list {name:?} is in the manifest but not in the store"),
                });
            };
            bytes += child.data.len() as u64;
            id_lists::read_child(&mut lists, name, &child.data, *empty_allowed)?;
        }
        self.extra.send_modify(|s| {
            s.payload_reads += 1;
            s.bytes_read += bytes;
        });
        Ok(lists)
    }

    /// The writer's ID-list sync from Statsig; a change is written to the store.
    async fn poll_id_lists(&mut self, tick: &mut Tick) {
        let (Some(client), Some(options)) = (self.client.clone(), self.options.id_lists.clone())
        else {
            return;
        };
        self.next_lists_poll = Instant::now() + options.interval;
        if self.lists_token != self.token {
            // A new lease: what this instance held from an earlier one is stale; start over
            // from what Statsig has.
            self.lists_token = self.token;
            self.lists_local.clear();
            self.lists_synced = false;
        }
        let before = self.lists_local.clone();
        let result =
            id_lists::sync_once(&client, &self.store, &options, &mut self.lists_local).await;
        if result.is_ok() && !self.lists_synced {
            // Lists read from the store that Statsig no longer has.
            let local = &self.lists_local;
            self.store.update_id_lists(|lists| {
                let stale: Vec<String> = lists
                    .list_names()
                    .filter(|n| !local.contains_key(*n))
                    .map(str::to_owned)
                    .collect();
                for name in stale {
                    lists.remove_list(&name);
                }
            });
        }
        let (changed, first) = match result {
            Ok(changed) => {
                let first = !self.lists_synced;
                self.lists_synced = true;
                (changed, first)
            }
            Err(e) => {
                tick.fail(e);
                // Some lists may have arrived (held consistently with their cursors: they
                // are shared once a sync under this lease has completed); when nothing did
                // (Statsig down), the store keeps the snapshot it has.
                (self.lists_local != before, false)
            }
        };
        if changed {
            tick.installed.get_or_insert(Installed::IdLists);
        }
        if (changed && self.lists_synced) || first {
            self.write_id_lists(tick).await;
        }
    }

    /// Writes the snapshot of the lists held, fenced by our lease: children, then the manifest.
    async fn write_id_lists(&mut self, tick: &mut Tick) {
        let Some(fence) = self.fence() else {
            return;
        };
        let snapshot = id_lists::snapshot(&self.store.id_lists(), &self.lists_local);
        let meta = WriteMeta {
            // Lists carry no payload time: the time of the write.
            time: http::now_ms(),
            checksum: None,
            fence: Some(fence),
        };
        for (name, child) in &snapshot.children {
            let key = store_key(
                StorePath::IdList(name),
                &self.options.server_secret,
                self.options.key_schema,
            );
            if let Err(e) = self.data_store.set(&key, child, &meta).await {
                return self.write_failed(tick, e);
            }
        }
        let result = self
            .data_store
            .set(&self.lists_key, &snapshot.manifest, &meta)
            .await;
        if let Some(version) = self.record_write(tick, result) {
            self.lists_seen = Some(Some(version));
            self.announce().await;
        }
    }

    /// Tells subscribed followers about a write. A lost notice costs them one interval, so a
    /// failure here is not an error of the tick.
    async fn announce(&self) {
        let _ = self.data_store.notify_changed(&self.key).await;
    }

    /// Records a write's outcome; the version stored, if it was.
    fn record_write(
        &mut self,
        tick: &mut Tick,
        result: Result<Written, SyncError>,
    ) -> Option<String> {
        match result {
            Ok(Written::Stored(version)) => {
                self.extra.send_modify(|s| {
                    s.writes += 1;
                    s.last_write = Some(SystemTime::now());
                });
                Some(version)
            }
            // Followed at the next tick.
            Ok(Written::KeptNewer(_)) => None,
            Err(e) => {
                self.write_failed(tick, e);
                None
            }
        }
    }

    fn fence(&self) -> Option<Fence> {
        self.token.map(|token| Fence {
            lease_key: self.lease_key.clone(),
            holder: self.options.holder.clone(),
            token,
        })
    }

    /// A write failed: a fenced one makes this instance a follower.
    fn write_failed(&mut self, tick: &mut Tick, e: SyncError) {
        if matches!(e, SyncError::Fenced { .. }) {
            self.token = None;
            self.extra.send_modify(|s| {
                s.role = Role::Standby;
                s.fence = None;
            });
        }
        self.store_error(tick, e);
    }

    async fn renew_lease(&mut self, tick: &mut Tick) {
        let ttl = self.options.lease_ttl;
        let result = self
            .data_store
            .acquire_lease(&self.lease_key, &self.options.holder, ttl)
            .await;
        match result {
            Ok(lease) => {
                if self.token.is_none() && lease.token.is_some() {
                    // A new writer polls Statsig at once.
                    self.next_poll = Instant::now();
                }
                self.token = lease.token;
                let role = if lease.token.is_some() {
                    Role::Writer
                } else {
                    Role::Standby
                };
                self.extra.send_modify(|s| {
                    s.role = role;
                    s.lease_holder = lease.holder;
                    s.fence = lease.token;
                });
            }
            Err(e) => {
                self.token = None;
                self.extra.send_modify(|s| {
                    s.role = Role::Standby;
                    s.fence = None;
                });
                self.store_error(tick, e);
            }
        }
    }

    /// The version marker of `key`, its bytes counted; `None` after a store error (recorded
    /// in `tick`).
    async fn read_version(&self, key: &str, tick: &mut Tick) -> Option<Option<String>> {
        match self.data_store.version(key).await {
            Ok(version) => {
                let len = version.as_ref().map_or(0, String::len) as u64;
                self.extra.send_modify(|s| s.bytes_read += len);
                Some(version)
            }
            Err(e) => {
                self.store_error(tick, e);
                None
            }
        }
    }

    /// Reads the version and, when it changed, the payload.
    async fn follow(&mut self, tick: &mut Tick) {
        let Some(version) = self.read_version(&self.key, tick).await else {
            return;
        };
        let Some(version) = version else {
            // The store is empty (never written, or it lost its data): keep serving; the
            // writer writes the ruleset back.
            self.seen = Some(None);
            if self.token.is_some() {
                self.write_back(tick).await;
            }
            return;
        };
        if seen_already(&self.seen, &version) {
            return;
        }
        let value = match self.data_store.get(&self.key).await {
            Ok(v) => v,
            Err(e) => return self.store_error(tick, e),
        };
        // Not read again until it changes, even when it does not load.
        self.seen = Some(Some(version));
        let Some(value) = value else {
            return;
        };
        let len = value.data.len() as u64;
        self.extra.send_modify(|s| {
            s.payload_reads += 1;
            s.bytes_read += len;
        });
        let current = self.store.ruleset();
        match statsig::apply(
            &self.store,
            current.as_deref(),
            &value.data,
            &self.options.limits,
        ) {
            Ok(Some(installed)) => {
                tick.installed = Some(installed);
                self.installed(value.data).await;
            }
            Ok(None) => {}
            Err(e) => tick.fail(e),
        }
    }

    /// Keeps an installed payload: in memory for write-backs, on disk when asked.
    async fn installed(&mut self, payload: Vec<u8>) {
        if let Some(path) = &self.options.last_good_file {
            self.status
                .persisted(crate::last_good::save(path, &payload).await.err());
        }
        self.payload = Some(Arc::new(payload));
    }

    async fn poll_statsig(&mut self, tick: &mut Tick) {
        let (Some(client), Some(options)) = (self.client.clone(), self.writer_options().cloned())
        else {
            return;
        };
        let result = statsig::attempt(&client, &self.store, &options, &self.statsig_status).await;
        match result {
            Ok(synced) => {
                self.next_poll = Instant::now() + options.interval;
                match synced {
                    Synced::Installed(installed, body) => {
                        self.statsig_status.success(Some(installed.clone()));
                        tick.installed = Some(installed);
                        self.installed(body).await;
                        self.write(tick).await;
                    }
                    Synced::NoUpdates => self.statsig_status.success(None),
                }
            }
            Err(e) => {
                self.statsig_status.failure(&e);
                let backoff = Backoff {
                    base: options.retry_base,
                    cap: options.interval,
                };
                let mut delay = backoff.delay(self.statsig_status.get().consecutive_failures);
                if let SyncError::Status {
                    retry_after: Some(asked),
                    ..
                } = e
                {
                    delay = delay.max(asked.min(options.max_retry_after));
                }
                self.next_poll = Instant::now() + delay;
            }
        }
    }

    /// Writes the serving ruleset back to a store that lost it.
    async fn write_back(&mut self, tick: &mut Tick) {
        if self.payload.is_none() {
            // Installed from elsewhere (a bootstrap): its canonical form.
            if let Some(rs) = self.store.ruleset() {
                self.payload = Some(Arc::new(rs.to_json()));
            }
        }
        self.write(tick).await;
    }

    /// Writes the payload installed last, fenced by our lease.
    async fn write(&mut self, tick: &mut Tick) {
        let (Some(payload), Some(fence)) = (self.payload.clone(), self.fence()) else {
            return;
        };
        let Some(rs) = self.store.ruleset() else {
            return;
        };
        let meta = WriteMeta {
            time: rs.time(),
            checksum: rs.checksum().map(str::to_owned),
            fence: Some(fence),
        };
        let result = self.data_store.set(&self.key, &payload, &meta).await;
        if let Some(version) = self.record_write(tick, result) {
            self.seen = Some(Some(version));
            self.announce().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_those_of_the_official_core() {
        // The official core's own test vector (data_store_interface.rs).
        let hashed = "hdvhXXXvkwjHrg8zx6MkzG9L9Rmi7S8wJ70zwUCk+ao=";
        assert_eq!(
            store_key(
                StorePath::IdList("paid-users"),
                "secret-key",
                KeySchema::Hashed
            ),
            format!("statsig|id_list::paid-users|plain_text|{hashed}")
        );
        assert_eq!(
            store_key(StorePath::Rulesets, "secret-key", KeySchema::Hashed),
            format!("statsig|/v2/download_config_specs|plain_text|{hashed}")
        );
        assert_eq!(
            store_key(
                StorePath::IdLists,
                "secret-key-with-more-than-twenty-characters",
                KeySchema::Prefix
            ),
            "statsig|/v1/get_id_lists|plain_text|secret-key-with-more"
        );
    }
}

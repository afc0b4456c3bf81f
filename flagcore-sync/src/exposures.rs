//! Shipping exposure events: to Statsig's event endpoint, or to a JSON-lines file (spec 11).

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::io::Write as _;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flagcore::{Attributes, Exposure, ExposureSink, Kind, Reason, SamplingMode, User, Value};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::events::status::{Board, StatusBoard};
use crate::http;

/// Statsig's event endpoint.
const STATSIG_LOG_URL: &str = "https://prodregistryv2.org/v1/log_event";

/// Where exposure batches go.
#[derive(Clone)]
#[non_exhaustive]
pub enum Destination {
    /// Statsig's `log_event` endpoint (or a proxy), with the server secret.
    Statsig {
        /// `https://prodregistryv2.org/v1/log_event` for Statsig itself.
        url: String,
        /// The server secret key, sent as `STATSIG-API-KEY` (never printed by `Debug`).
        server_secret: String,
    },
    /// Appends one JSON event per line, for self-hosted analysis.
    JsonLines(PathBuf),
}

impl Destination {
    /// Statsig's own endpoint, with `server_secret`.
    pub fn statsig(server_secret: impl Into<String>) -> Destination {
        Destination::Statsig {
            url: STATSIG_LOG_URL.into(),
            server_secret: server_secret.into(),
        }
    }
}

impl core::fmt::Debug for Destination {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Destination::Statsig { url, .. } => f
                .debug_struct("Statsig")
                .field("url", url)
                .field("server_secret", &"<redacted>")
                .finish(),
            Destination::JsonLines(path) => f.debug_tuple("JsonLines").field(path).finish(),
        }
    }
}

/// How exposures are queued, deduplicated and flushed. The defaults are Statsig's.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LoggerOptions {
    /// Where batches go.
    pub destination: Destination,
    /// Events queued between the evaluating threads and the flusher (20,000); when full,
    /// new events are dropped and counted: evaluation never waits.
    pub queue_capacity: usize,
    /// Events per batch; a full batch is sent at once (2,000, Statsig's maximum).
    pub batch_size: usize,
    /// A partial batch is sent after this long (60 s).
    pub flush_interval: Duration,
    /// Distinct exposures remembered for deduplication (100,000): beyond it the least
    /// recently seen is forgotten (the official core's LRU set), and the whole set is
    /// forgotten every `dedupe_window`.
    pub dedupe_max_keys: usize,
    /// See `dedupe_max_keys` (60 s, Statsig's default). A payload whose `sdk_configs` set
    /// `exposure_dedupe_ttl_ms` sets the window instead, as in the official core.
    pub dedupe_window: Duration,
    /// Batches waiting to be sent while the destination is slow or down (100); beyond
    /// this the oldest is dropped and counted.
    pub max_pending_batches: usize,
    /// Attempts per batch before it is dropped (6). Retries wait 1 s, doubling up to 60 s;
    /// the delay halves again after each success.
    pub max_attempts: u32,
    /// Timeout of one request (10 s).
    pub timeout: Duration,
    /// Gzip the batches sent to Statsig (on).
    pub compress: bool,
    /// The environment tier reported for users without environment attributes
    /// (`{"tier": …}`); set it to the store's [`flagcore::Options::environment`].
    pub environment: Option<String>,
    /// Extra CA certificates and a proxy for the requests.
    pub network: crate::Network,
}

impl LoggerOptions {
    /// Defaults for `destination`.
    pub fn new(destination: Destination) -> LoggerOptions {
        LoggerOptions {
            destination,
            queue_capacity: 20_000,
            batch_size: 2_000,
            flush_interval: Duration::from_secs(60),
            dedupe_max_keys: 100_000,
            dedupe_window: Duration::from_secs(60),
            max_pending_batches: 100,
            max_attempts: 6,
            timeout: Duration::from_secs(10),
            compress: true,
            environment: None,
            network: crate::Network::default(),
        }
    }
}

/// Counters of what happened to exposures. Once the logger is shut down, `received` is
/// the sum of all the others.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoggerStats {
    /// Handed to the logger: exposures from evaluations, and custom events.
    pub received: u64,
    /// Dropped as duplicates within the dedupe window.
    pub deduplicated: u64,
    /// Exposures left out of the sample (the payload's `sdk_configs.sampling_mode` is
    /// `"on"`, spec 11.5).
    pub sampled_out: u64,
    /// Dropped because the queue was full (the flusher is not keeping up).
    pub dropped_queue_full: u64,
    /// Dropped because too many batches were waiting (the destination is slow or down).
    pub dropped_overflow: u64,
    /// Dropped after failed deliveries (attempts exhausted, refused by the server, or not
    /// delivered by the shutdown deadline).
    pub dropped_failed: u64,
    /// Dropped because they came after shutdown.
    pub dropped_shut_down: u64,
    /// Dropped because the destination refused the server secret (HTTP 401 or 403: the
    /// key is wrong, revoked or lacks permission, see [`crate::SyncError::Unauthorized`]).
    /// Such a batch is not retried, since no retry would succeed: fix the key.
    pub dropped_unauthorized: u64,
    /// Delivered.
    pub sent: u64,
    /// Batches delivered.
    pub batches_sent: u64,
    /// Delivery attempts that failed (each batch may be tried `max_attempts` times).
    pub failed_attempts: u64,
}

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    deduplicated: AtomicU64,
    sampled_out: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_overflow: AtomicU64,
    dropped_failed: AtomicU64,
    dropped_shut_down: AtomicU64,
    dropped_unauthorized: AtomicU64,
    sent: AtomicU64,
    batches_sent: AtomicU64,
    failed_attempts: AtomicU64,
}

impl Counters {
    fn stats(&self) -> LoggerStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        LoggerStats {
            received: get(&self.received),
            deduplicated: get(&self.deduplicated),
            sampled_out: get(&self.sampled_out),
            dropped_queue_full: get(&self.dropped_queue_full),
            dropped_overflow: get(&self.dropped_overflow),
            dropped_failed: get(&self.dropped_failed),
            dropped_shut_down: get(&self.dropped_shut_down),
            dropped_unauthorized: get(&self.dropped_unauthorized),
            sent: get(&self.sent),
            batches_sent: get(&self.batches_sent),
            failed_attempts: get(&self.failed_attempts),
        }
    }
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// An event on its way: its JSON text and, for an exposure, what deduplication and
/// sampling need (custom events have none: they are neither).
pub(crate) struct Queued {
    pub(crate) event: Vec<u8>,
    pub(crate) exposure: Option<Facts>,
}

/// What the flusher needs to deduplicate and sample an exposure as the official core does
/// (spec 11.4, 11.5), worked out on the evaluating thread.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Facts {
    key: Key,
    /// Where the `{}` of `statsigMetadata` starts in the event's text.
    meta_at: usize,
    /// `forwardAllExposures`, or an analytical gate seen: never sampled out.
    forced: bool,
    /// The sampling rate that applies (the special case for `default`, `disabled` and
    /// empty rule ids, else the rule's).
    rate: Option<u64>,
    mode: SamplingMode,
    /// `exposure_spec_sampling_ttl_ms` of the ruleset.
    spec_window_ms: u64,
    /// `exposure_dedupe_ttl_ms` of the ruleset, when it sets one.
    dedupe_window_ms: Option<u64>,
}

/// The official core's exposure key: hashes of the spec name, the rule id, the user's ids
/// and the kind's extra (spec 11.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    spec: u64,
    rule: u64,
    user: u64,
    extra: u64,
}

/// The hasher of the official core's exposure keys: ahash with its fixed seeds.
const HASHER: ahash::RandomState = ahash::RandomState::with_seeds(420, 42, 24, 4);

/// The hash of an interned string there (its bytes, as a byte slice).
fn interned(s: &str) -> u64 {
    HASHER.hash_one(s.as_bytes())
}

/// The hash of a user value there (its string form, or JSON text, as a `str`).
fn value_hash(v: Option<Value<'_>>) -> u64 {
    match v {
        None => 0,
        Some(Value::Str(s)) => HASHER.hash_one(s),
        Some(Value::Json(serde_json::Value::String(s))) => HASHER.hash_one(s.as_str()),
        Some(v) => {
            let mut text = Vec::new();
            write_value(&mut text, v);
            // Valid UTF-8: JSON text.
            HASHER.hash_one(&*String::from_utf8_lossy(&text))
        }
    }
}

/// Statsig's `get_unit_id_hash`: the user id for `userID` (any case), else the custom id
/// of that name, or of its lower-cased name.
fn unit_id_hash(user: &User<'_>, id_type: &str) -> u64 {
    if id_type.eq_ignore_ascii_case("userid") {
        return value_hash(user.user_id_value());
    }
    let ids = user.custom_id_attributes();
    if let Some(v) = ids.get(id_type) {
        return value_hash(Some(v));
    }
    if id_type.chars().any(char::is_uppercase) {
        return value_hash(ids.get(&id_type.to_lowercase()));
    }
    0
}

/// Statsig's `create_exposure_dedupe_user_hash`: the user id, the stable id, the unit id
/// of `unit_id_type`, and the wrapping sum of every custom id's hash (names ignored).
fn user_hash(user: &User<'_>, unit_id_type: Option<&str>) -> u64 {
    let mut sum = 0u64;
    for_each_attribute(user.custom_id_attributes(), |_, v| {
        sum = sum.wrapping_add(value_hash(Some(v)));
    });
    let ids = [
        value_hash(user.user_id_value()),
        unit_id_hash(user, "stableID"),
        unit_id_type.map_or(0, |t| unit_id_hash(user, t)),
        sum,
    ];
    HASHER.hash_one(&ids[..])
}

/// Whether the official core has an evaluation for this result: it has none without
/// specs, and an empty one (no rule id, no unit id type) for an unknown name.
fn evaluated(e: &flagcore::Evaluation<'_>) -> bool {
    e.reason() != Reason::NoRuleset
}

/// Whether the name was found in the specs.
fn recognized(e: &flagcore::Evaluation<'_>) -> bool {
    !matches!(e.reason(), Reason::Unrecognized | Reason::NoRuleset)
}

/// The official core's key of this exposure. Exposures logged by an evaluation or a read
/// and manual ones are keyed differently there (the manual path leaves out the result's
/// unit id, and hashes a layer parameter as an interned string), and so here.
fn official_key(exposure: &Exposure<'_>, parameter: Option<&str>, trigger: Trigger) -> Key {
    let e = exposure.evaluation;
    let known = recognized(e);
    let manual = trigger == Trigger::Manual;
    let extra = match e.kind() {
        Kind::Gate | Kind::DynamicConfig => u64::from(known && e.value()),
        Kind::Experiment => u64::from(known && e.is_user_in_experiment()),
        Kind::Layer if manual => interned(parameter.unwrap_or("")),
        Kind::Layer => HASHER.hash_one(parameter.unwrap_or("")),
    };
    let unit_id_type = (known && !manual).then(|| e.id_type());
    Key {
        spec: if evaluated(e) || manual {
            interned(e.name())
        } else {
            0
        },
        rule: if known { interned(e.rule_id()) } else { 0 },
        user: user_hash(exposure.user, unit_id_type),
        extra,
    }
}

/// Dedupe key, sampling inputs, and where the event's sampling metadata goes.
fn facts(exposure: &Exposure<'_>, key: Key, meta_at: usize) -> Facts {
    let e = exposure.evaluation;
    let known = recognized(e);
    let configs = e.sdk_configs();
    let rule_id = if known { e.rule_id() } else { "" };
    let special = matches!(rule_id, "default" | "disabled" | "")
        .then(|| configs.special_case_sampling_rate())
        .flatten();
    Facts {
        key,
        meta_at,
        forced: known && (e.forwards_all_exposures() || e.has_seen_analytical_gates()),
        rate: special.or(if known { e.sampling_rate() } else { None }),
        mode: configs.sampling_mode(),
        spec_window_ms: configs.exposure_spec_sampling_ttl_ms(),
        dedupe_window_ms: configs.exposure_dedupe_ttl_ms(),
    }
}

/// Evaluations not logged, by name, for the `statsig::non_exposed_checks` summary. As in
/// the official core, a name seen before costs a shared read lock and an atomic add (a
/// few shards keep writers of new names apart); names are kept, counts are swapped out at
/// each flush.
#[derive(Default)]
pub(crate) struct Unexposed {
    shards: [std::sync::RwLock<HashMap<Box<str>, AtomicU64>>; 8],
}

impl Unexposed {
    fn count(&self, name: &str) {
        let shard = &self.shards[(HASHER.hash_one(name) % 8) as usize];
        if let Ok(map) = shard.read() {
            if let Some(n) = map.get(name) {
                n.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        if let Ok(mut map) = shard.write() {
            map.entry(name.into())
                .or_insert_with(|| AtomicU64::new(0))
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counts since the last call (names with a count of 0 left out); `None` when
    /// there are none.
    fn take(&self) -> Option<Vec<(Box<str>, u64)>> {
        let mut all = Vec::new();
        for shard in &self.shards {
            if let Ok(map) = shard.read() {
                for (name, n) in map.iter() {
                    let n = n.swap(0, Ordering::Relaxed);
                    if n > 0 {
                        all.push((name.clone(), n));
                    }
                }
            }
        }
        (!all.is_empty()).then_some(all)
    }
}

/// The `statsig::non_exposed_checks` event of these counts, as the official core sends it.
fn checks_event(checks: &[(Box<str>, u64)], now_ms: u64) -> Vec<u8> {
    let mut text = Vec::with_capacity(32 * checks.len());
    let mut o = Object::open(&mut text);
    for (name, n) in checks {
        let _ = write!(o.user_key(name), "{n}");
    }
    o.close();
    let mut out = Vec::with_capacity(text.len() * 2 + 160);
    let mut event = Object::open(&mut out);
    event.str("eventName", "statsig::non_exposed_checks");
    event.key("value").extend_from_slice(b"null");
    let mut m = Object::open(event.key("metadata"));
    m.str("checks", &String::from_utf8_lossy(&text));
    m.close();
    event.key("statsigMetadata").extend_from_slice(b"null");
    event.key("user").extend_from_slice(b"{}");
    let _ = write!(event.key("time"), "{now_ms}");
    event.key("secondaryExposures").extend_from_slice(b"null");
    event.close();
    out
}

/// Slots of the evaluating threads' duplicate filter (32 KiB).
const RECENT_SLOTS: usize = 4096;

/// The slot of `k` in the evaluating threads' filter, and its tag there in `epoch`.
fn filter_slot(k: &Key, epoch: u64) -> (usize, u64) {
    let key = HASHER.hash_one([k.spec, k.rule, k.user, k.extra]);
    let tag = (key ^ epoch.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1;
    ((key as usize) % RECENT_SLOTS, tag)
}

/// The exposures logged in the current window, least recently seen first: the official
/// core's LRU set (spec 11.4). A hit makes its key the most recent; beyond `cap` keys the
/// least recent is forgotten.
#[derive(Default)]
struct Seen {
    /// Each key and the stamp of its latest sighting.
    stamps: HashMap<Key, u64>,
    /// Sightings in order; an entry whose stamp is no longer its key's is stale.
    order: VecDeque<(Key, u64)>,
    clock: u64,
}

impl Seen {
    /// Whether `key` was seen (then it becomes the most recent); if not, it is added, and
    /// the key that made room for it (if one had to) is returned.
    fn see(&mut self, key: Key, cap: usize) -> Result<Option<Key>, ()> {
        self.clock += 1;
        let stamp = self.clock;
        if let Some(s) = self.stamps.get_mut(&key) {
            *s = stamp;
            self.order.push_back((key, stamp));
            self.compact(cap);
            return Err(());
        }
        let mut evicted = None;
        if self.stamps.len() >= cap.max(1) {
            while let Some((old, s)) = self.order.pop_front() {
                if self.stamps.get(&old) == Some(&s) {
                    self.stamps.remove(&old);
                    evicted = Some(old);
                    break;
                }
            }
        }
        self.stamps.insert(key, stamp);
        self.order.push_back((key, stamp));
        Ok(evicted)
    }

    /// Drops stale sightings once they outnumber the keys (memory stays bounded).
    fn compact(&mut self, cap: usize) {
        if self.order.len() > 2 * cap.max(512) {
            let stamps = &self.stamps;
            self.order.retain(|(k, s)| stamps.get(k) == Some(s));
        }
    }

    fn clear(&mut self) {
        self.stamps.clear();
        self.order.clear();
    }
}

/// The service's event logger: an [`ExposureSink`] that turns exposures into Statsig
/// events, and the way to log custom events ([`EventLogger::log_event`]); both are shipped
/// in batches from a background task.
///
/// Give it to the store in [`flagcore::Options::exposure_sink`]. On the evaluating thread,
/// logging an exposure is: a lock-free look-up in a small table of recent exposures (a
/// repeat is dropped there and then), writing the event's JSON into one buffer, and a
/// `try_send` into a bounded queue; a full queue drops the event and counts it. Nothing on
/// that path waits for the flusher, the network or a lock.
///
/// The flusher task deduplicates exactly (a bounded set of keys: spec, rule, the user's
/// ids, the result), fills batches, gzips them, and sends one at a time, while it keeps
/// draining the queue; batches that fail wait (bounded) and are retried with backoff.
/// [`EventLogger::shutdown`] sends what is left within a deadline.
///
/// Custom events take the same path (queue, batches, gzip, retries, shutdown flush) but
/// are never deduplicated.
///
/// Deduplication and sampling are the official core's (spec 11.4, 11.5), key for key: the
/// same ahash keys of spec, rule, the user's ids and the result, and, when the payload's
/// `sdk_configs.sampling_mode` is `"on"` or `"shadow"`, the same decision (forced for
/// `forwardAllExposures` and analytical nested gates, the first exposure of each spec and
/// rule in `exposure_spec_sampling_ttl_ms`, then `hash % rate == 0` with the rule's
/// `samplingRate` or the `special_case_sampling_rate`) and the same `samplingRate`,
/// `samplingMode` and `shadowLogged` metadata. Nothing in it is random, so the events sent
/// are the official core's for the same evaluations in the same order (ahash's output
/// depends on the target's AES support, as the official core's does). Evaluations the
/// caller did not log ([`flagcore::Exposures::Suppress`]) are counted by name and sent as
/// `statsig::non_exposed_checks` with each flush.
///
/// Layers are not logged when evaluated: Statsig logs a layer exposure each time a
/// parameter is read, and so does the store: a read through [`flagcore::View::layer`]
/// hands the logger a layer exposure record of that parameter. Manual exposures
/// ([`flagcore::View::log_exposure`], [`flagcore::Layer::log_exposure`]) carry Statsig's
/// `isManualExposure`.
///
/// Memory is bounded: the queue (`queue_capacity` events of about 0.5 KiB), the batch
/// being filled, `max_pending_batches` gzipped batches, the dedupe set (about 150 bytes
/// per key, `dedupe_max_keys` keys) and the set of (spec, rule) pairs sampling has seen.
///
/// ```no_run
/// # async fn run() {
/// use std::sync::Arc;
/// use flagcore::{Options, Store};
/// use flagcore_sync::{Destination, EventLogger, LoggerOptions};
///
/// let logger = Arc::new(
///     EventLogger::start(LoggerOptions::new(Destination::statsig("secret-…")))
///         .expect("an HTTP client"),
/// );
/// let store = Store::with_options(Options { exposure_sink: Some(logger.clone()), ..Options::default() });
/// // … evaluate …
/// logger.shutdown(std::time::Duration::from_secs(5)).await;
/// println!("{:?}", logger.stats());
/// # }
/// ```
pub struct EventLogger {
    queue: mpsc::Sender<Queued>,
    counters: Arc<Counters>,
    /// Evaluations not logged (for `statsig::non_exposed_checks`).
    unexposed: Arc<Unexposed>,
    /// Tags of recently queued exposures, by key; a tag mixes in the dedupe epoch.
    recent: Arc<[AtomicU64]>,
    /// Bumped by the flusher whenever it clears its dedupe set.
    epoch: Arc<AtomicU64>,
    environment: Option<String>,
    board: Board,
    stop: watch::Sender<Option<Instant>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// The former name of [`EventLogger`], from when it logged only exposures.
#[deprecated(note = "renamed `EventLogger`: it logs custom events too")]
pub type ExposureLogger = EventLogger;

impl core::fmt::Debug for EventLogger {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EventLogger")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl EventLogger {
    /// Starts the flusher on the current tokio runtime.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does); see [`crate::BlockingRuntime`].
    pub fn start(options: LoggerOptions) -> Result<EventLogger, crate::SyncError> {
        let client = http::client(options.timeout, &options.network)?;
        let (queue, events) = mpsc::channel(options.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let epoch = Arc::new(AtomicU64::new(1));
        let (stop, stopped) = watch::channel(None);
        let environment = options.environment.clone();
        let board = Arc::new(StatusBoard::default());
        let unexposed = Arc::new(Unexposed::default());
        let recent: Arc<[AtomicU64]> = (0..RECENT_SLOTS).map(|_| AtomicU64::new(0)).collect();
        let flusher = Flusher {
            recent: recent.clone(),
            unexposed: unexposed.clone(),
            spec_seen: HashSet::new(),
            spec_window_start: Instant::now(),
            spec_window: Duration::from_secs(60),
            dedupe_window: options.dedupe_window,
            board: board.clone(),
            queue: queue.downgrade(),
            seen: Seen::default(),
            window_start: Instant::now(),
            current: Vec::new(),
            pending: VecDeque::new(),
            backoff: Duration::ZERO,
            client,
            counters: counters.clone(),
            epoch: epoch.clone(),
            options,
        };
        let task = tokio::spawn(flusher.run(events, stopped));
        Ok(EventLogger {
            queue,
            counters,
            unexposed,
            recent,
            epoch,
            environment,
            board,
            stop,
            task: Mutex::new(Some(task)),
        })
    }

    /// What happened to the events so far.
    pub fn stats(&self) -> LoggerStats {
        self.counters.stats()
    }

    pub(crate) fn board(&self) -> &StatusBoard {
        &self.board
    }

    /// Events waiting in the queue for the flusher (at most `queue_capacity`).
    pub fn queue_len(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Sends everything queued, trying for at most `deadline`, and stops the flusher; what
    /// is not delivered by then is dropped and counted. Exposures logged afterwards are
    /// dropped and counted. Returns at the latest shortly after `deadline`; a second call
    /// returns at once.
    pub async fn shutdown(&self, deadline: Duration) {
        let _ = self.stop.send(Some(Instant::now() + deadline));
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(mut task) = task {
            let grace = deadline + Duration::from_secs(1);
            if tokio::time::timeout(grace, &mut task).await.is_err() {
                task.abort();
            }
        }
    }

    /// Logs a layer exposure for `parameter`, as Statsig's SDKs do each time a layer
    /// parameter is read: call it when your code reads `parameter` from the layer result
    /// `layer` (evaluated for `user`). Nothing is logged when the layer has no such
    /// parameter.
    ///
    /// Evaluate the layer with [`flagcore::View::evaluate`] and a [`flagcore::Scratch`],
    /// so that the result carries the secondary exposures the event reports, and with
    /// [`flagcore::Exposures::Suppress`] (layers are not logged when evaluated anyway).
    pub fn log_layer_parameter(
        &self,
        user: &User<'_>,
        layer: &flagcore::Evaluation<'_>,
        parameter: &str,
    ) {
        self.enqueue_layer_parameter(user, layer, parameter, Trigger::Evaluation);
    }

    /// [`EventLogger::log_layer_parameter`], for any trigger.
    pub(crate) fn enqueue_layer_parameter(
        &self,
        user: &User<'_>,
        layer: &flagcore::Evaluation<'_>,
        parameter: &str,
        trigger: Trigger,
    ) {
        if layer.kind() != Kind::Layer || layer.get(parameter).is_none() {
            return;
        }
        let exposure = Exposure::new(user, layer);
        self.enqueue(&exposure, Some(parameter), trigger);
    }

    /// Counts an event handed to the logger; `false` when it is dropped at once because
    /// the queue is full or closed (before any work is spent on it).
    pub(crate) fn admit(&self) -> bool {
        let c = &*self.counters;
        add(&c.received, 1);
        if self.queue.capacity() == 0 {
            let counter = if self.queue.is_closed() {
                &c.dropped_shut_down
            } else {
                &c.dropped_queue_full
            };
            add(counter, 1);
            return false;
        }
        true
    }

    /// Queues an encoded event without deduplication (custom events); `admit` first.
    pub(crate) fn push_event(&self, event: Vec<u8>) {
        let c = &*self.counters;
        match self.queue.try_send(Queued {
            event,
            exposure: None,
        }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => add(&c.dropped_queue_full, 1),
            Err(mpsc::error::TrySendError::Closed(_)) => add(&c.dropped_shut_down, 1),
        }
    }

    /// The tier written for users without environment attributes.
    pub(crate) fn environment(&self) -> Option<&str> {
        self.environment.as_deref()
    }

    /// Dedupes, encodes and queues one exposure (`parameter` for layers).
    pub(crate) fn enqueue(
        &self,
        exposure: &Exposure<'_>,
        parameter: Option<&str>,
        trigger: Trigger,
    ) {
        let c = &*self.counters;
        if !self.admit() {
            return;
        }
        let k = official_key(exposure, parameter, trigger);
        let (slot, tag) = filter_slot(&k, self.epoch.load(Ordering::Relaxed));
        let slot = &self.recent[slot];
        if slot.load(Ordering::Relaxed) == tag {
            add(&c.deduplicated, 1);
            return;
        }
        let event = encode(
            exposure,
            parameter,
            trigger,
            self.environment.as_deref(),
            http::now_ms(),
        );
        let facts = facts(exposure, k, event.meta_at);
        match self.queue.try_send(Queued {
            event: event.text,
            exposure: Some(facts),
        }) {
            Ok(()) => slot.store(tag, Ordering::Relaxed),
            Err(mpsc::error::TrySendError::Full(_)) => add(&c.dropped_queue_full, 1),
            Err(mpsc::error::TrySendError::Closed(_)) => add(&c.dropped_shut_down, 1),
        }
    }
}

impl Drop for EventLogger {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
    }
}

impl ExposureSink for EventLogger {
    fn not_logged(&self, _kind: Kind, name: &str) {
        self.unexposed.count(name);
    }

    fn log(&self, exposure: &Exposure<'_>) {
        // Layers are exposed per parameter read, never per evaluation.
        let trigger = if exposure.manual {
            Trigger::Manual
        } else {
            Trigger::Evaluation
        };
        match (exposure.evaluation.kind(), exposure.parameter) {
            (Kind::Layer, None) => {}
            (Kind::Layer, parameter) => self.enqueue(exposure, parameter, trigger),
            _ => self.enqueue(exposure, None, trigger),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dedupe keys and event JSON (on the evaluating thread)

/// Calls `f` for each attribute (for pairs, the first of each name, as lookups see them).
fn for_each_attribute<'a>(attrs: Attributes<'a>, mut f: impl FnMut(&str, Value<'a>)) {
    match attrs {
        Attributes::None => {}
        Attributes::Pairs(pairs) => {
            for (i, (k, v)) in pairs.iter().enumerate() {
                if !pairs[..i].iter().any(|(earlier, _)| earlier == k) {
                    f(k, *v);
                }
            }
        }
        Attributes::Json(map) => {
            for (k, v) in map {
                f(k, Value::Json(v));
            }
        }
    }
}

pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

pub(crate) fn write_value(out: &mut Vec<u8>, v: Value<'_>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        // Non-finite numbers become `null`, as serde_json writes them.
        Value::Float(f) => {
            let _ = serde_json::to_writer(&mut *out, &f);
        }
        Value::Str(s) => write_str(out, s),
        Value::Json(j) => {
            let _ = serde_json::to_writer(&mut *out, j);
        }
    }
}

/// A JSON object being written: `{"k":v,…}`.
pub(crate) struct Object<'o> {
    out: &'o mut Vec<u8>,
    empty: bool,
}

impl<'o> Object<'o> {
    pub(crate) fn open(out: &'o mut Vec<u8>) -> Object<'o> {
        out.push(b'{');
        Object { out, empty: true }
    }

    /// A key of ours: plain ASCII that needs no escaping.
    pub(crate) fn key(&mut self, k: &'static str) -> &mut Vec<u8> {
        debug_assert!(k.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// A key from the user's data, escaped.
    pub(crate) fn user_key(&mut self, k: &str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        write_str(self.out, k);
        self.out.push(b':');
        self.out
    }

    pub(crate) fn str(&mut self, k: &'static str, v: &str) {
        write_str(self.key(k), v);
    }

    /// A value of ours (a number, a reason label) that needs no escaping, as a string.
    fn plain(&mut self, k: &'static str, v: impl core::fmt::Display) {
        let out = self.key(k);
        let _ = write!(out, "\"{v}\"");
    }

    fn bool_str(&mut self, k: &'static str, v: bool) {
        self.key(k)
            .extend_from_slice(if v { b"\"true\"" } else { b"\"false\"" });
    }

    pub(crate) fn close(self) {
        self.out.push(b'}');
    }
}

pub(crate) fn write_attributes(out: &mut Vec<u8>, attrs: Attributes<'_>) {
    let mut o = Object::open(out);
    for_each_attribute(attrs, |k, v| write_value(o.user_key(k), v));
    o.close();
}

/// Statsig's `reason`: `<source>:<label>` (spec 4.14); labels need no escaping.
fn reason(e: &flagcore::Evaluation<'_>) -> (&'static str, &'static str, &'static str) {
    use flagcore::Reason;
    let label = e.reason().label();
    match e.reason() {
        Reason::NoRuleset | Reason::Persisted => ("", label, ""),
        Reason::CountryLookupNotLoaded => ("CountryLookupNotLoaded:", label, ""),
        Reason::LocalOverride => ("LocalOverride:", "Recognized", ""),
        Reason::Recognized if e.used_id_list() => ("Network:", label, ":IdListInMemory"),
        _ => ("Network:", label, ""),
    }
}

/// What made an exposure be logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// The evaluation (or the layer parameter read) itself.
    Evaluation,
    /// The host, for a result evaluated earlier without logging: the event carries
    /// `isManualExposure: "true"`.
    Manual,
}

/// An encoded exposure event, and where its `statsigMetadata` object (`{}`) starts, for
/// the sampling metadata the flusher may put there.
pub(crate) struct Encoded {
    pub(crate) text: Vec<u8>,
    pub(crate) meta_at: usize,
}

/// The event Statsig's SDKs send for this exposure (spec 11.2); `parameter` for layers.
///
/// Manual exposures take the official core's manual path, which shapes a few things
/// differently: a layer's `ruleID` is the layer's (not the parameter's), and its
/// undelegated list is the evaluator's raw one (`null` when it has none). Without specs
/// the official core has no evaluation: its manual exposures then send
/// `secondaryExposures: null`, and a gate logged by its evaluation an empty name too.
fn encode(
    exposure: &Exposure<'_>,
    parameter: Option<&str>,
    trigger: Trigger,
    environment: Option<&str>,
    now_ms: u64,
) -> Encoded {
    let e = exposure.evaluation;
    let manual = trigger == Trigger::Manual;
    let known = evaluated(e);
    let found = recognized(e);
    let mut out = Vec::with_capacity(512);
    let mut event = Object::open(&mut out);
    let mut secondary =
        (known || !(manual || e.kind() == Kind::Gate)).then(|| e.secondary_exposures());
    let name = match e.kind() {
        Kind::Gate => "statsig::gate_exposure",
        Kind::DynamicConfig | Kind::Experiment => "statsig::config_exposure",
        Kind::Layer => "statsig::layer_exposure",
    };
    event.str("eventName", name);
    event.key("value").extend_from_slice(b"null");

    let mut m = Object::open(event.key("metadata"));
    match e.kind() {
        Kind::Gate => {
            let unknown_auto = !known && !manual;
            m.str("gate", if unknown_auto { "" } else { e.name() });
            m.bool_str("gateValue", e.value());
            m.str("ruleID", if found { e.rule_id() } else { "" });
        }
        Kind::DynamicConfig => {
            m.str("config", e.name());
            m.str("ruleID", e.rule_id());
            m.bool_str("rulePassed", e.value());
        }
        Kind::Experiment => {
            m.str("config", e.name());
            m.str("ruleID", e.rule_id());
        }
        Kind::Layer => {
            let parameter = parameter.unwrap_or("");
            let explicit = e.explicit_parameters().any(|p| p == parameter);
            m.str("config", e.name());
            // Parameter reads of multi-rule layers report the rule that supplied the
            // parameter; manual exposures, the layer's rule.
            m.str(
                "ruleID",
                if manual {
                    e.rule_id()
                } else {
                    e.exposure_rule_id(parameter)
                },
            );
            let allocated = if explicit {
                e.allocated_experiment()
            } else {
                None
            };
            m.str("allocatedExperiment", allocated.unwrap_or(""));
            m.str("parameterName", parameter);
            m.bool_str("isExplicitParameter", explicit);
            if !explicit && known {
                // Without undelegated exposures (no rule delegated), the official core
                // sends `[]` for a parameter read and `null` for a manual exposure.
                secondary = if manual {
                    e.raw_undelegated_secondary_exposures()
                } else {
                    e.undelegated_secondary_exposures()
                };
            }
        }
    }
    let (source, label, suffix) = reason(e);
    m.plain("reason", format_args!("{source}{label}{suffix}"));
    if e.ruleset_time() > 0 {
        m.plain("lcut", e.ruleset_time());
    }
    if manual {
        m.str("isManualExposure", "true");
    }
    if let Some(v) = e.version() {
        m.plain("configVersion", v);
    }
    if let Some(name) = e.override_config_name() {
        m.str("overrideConfigName", name);
    }
    m.close();
    let meta = event.key("statsigMetadata");
    let meta_at = meta.len();
    meta.extend_from_slice(b"{}");

    write_user(event.key("user"), exposure.user, environment);

    let _ = write!(event.key("time"), "{now_ms}");
    let list = event.key("secondaryExposures");
    let Some(secondary) = secondary else {
        list.extend_from_slice(if manual || e.kind() == Kind::Gate {
            b"null"
        } else {
            b"[]"
        });
        event.close();
        return Encoded { text: out, meta_at };
    };
    list.push(b'[');
    for (i, s) in secondary.iter().enumerate() {
        if i > 0 {
            list.push(b',');
        }
        let mut o = Object::open(list);
        o.str("gate", s.gate);
        o.bool_str("gateValue", s.gate_value);
        o.str("ruleID", s.rule_id);
        o.close();
    }
    list.push(b']');
    event.close();
    Encoded { text: out, meta_at }
}

/// Statsig's loggable user (spec 11.2): the user's fields, `customIDs`, `custom` and
/// `statsigEnvironment` (or `{"tier": environment}`), never the private attributes.
pub(crate) fn write_user(out: &mut Vec<u8>, user: &User<'_>, environment: Option<&str>) {
    let mut u = Object::open(out);
    for (field, value) in user.fields() {
        if let Some(v) = value {
            write_value(u.key(field), v);
        }
    }
    // Private attributes are never written.
    let ids = user.custom_id_attributes();
    if !ids.is_empty() {
        write_attributes(u.key("customIDs"), ids);
    }
    let custom = user.custom_attributes();
    if !custom.is_empty() {
        write_attributes(u.key("custom"), custom);
    }
    let env = user.environment_attributes();
    if !env.is_empty() {
        write_attributes(u.key("statsigEnvironment"), env);
    } else if let Some(tier) = environment {
        let mut t = Object::open(u.key("statsigEnvironment"));
        t.str("tier", tier);
        t.close();
    }
    u.close();
}

// ---------------------------------------------------------------------------------------------
// The flusher task

/// A sealed batch: the request body, ready to send (and to resend).
struct Batch {
    body: Vec<u8>,
    events: u64,
    attempts: u32,
}

/// Why a delivery failed.
enum Failed {
    /// Worth retrying later.
    Retry,
    /// Refused for good (HTTP 400, 405, 413, 429, 501).
    Refused,
    /// The server secret was refused (HTTP 401, 403): not retried, counted on its own.
    Unauthorized,
}

type Delivery = Pin<Box<dyn Future<Output = (Batch, Result<(), Failed>)> + Send>>;

/// What sampling does with an exposure.
enum Sampling {
    /// Logged as it is (sampling off, forced, or the first of its spec and rule).
    Log,
    /// Logged with the sampling metadata: the mode, and whether the sample keeps it.
    Tagged(&'static str, bool),
    /// Left out of the sample.
    Out,
}

/// The official core clears its set of (spec, rule) pairs beyond this many.
const SPEC_SAMPLING_MAX_KEYS: usize = 100_000;

const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

struct Flusher {
    options: LoggerOptions,
    client: reqwest::Client,
    counters: Arc<Counters>,
    epoch: Arc<AtomicU64>,
    seen: Seen,
    /// The evaluating threads' filter, where an exposure the set forgets is forgotten too.
    recent: Arc<[AtomicU64]>,
    window_start: Instant,
    /// Evaluations not logged, summarised into `statsig::non_exposed_checks` at each flush.
    unexposed: Arc<Unexposed>,
    /// The (spec, rule) pairs whose first exposure in the sampling window was logged.
    spec_seen: HashSet<(u64, u64)>,
    spec_window_start: Instant,
    /// `exposure_spec_sampling_ttl_ms` of the latest exposure's ruleset.
    spec_window: Duration,
    /// How often `seen` is cleared: the options' window, or the latest exposure's
    /// ruleset's `exposure_dedupe_ttl_ms`.
    dedupe_window: Duration,
    /// Events of the batch being filled.
    current: Vec<Vec<u8>>,
    /// Sealed batches waiting to be sent, oldest first.
    pending: VecDeque<Batch>,
    /// Wait before the next send after failures; zero when healthy.
    backoff: Duration,
    board: Board,
    /// The queue's sending side, to report its length.
    queue: mpsc::WeakSender<Queued>,
}

/// A batch being built and gzipped on the blocking pool (at most one at a time), and its
/// number of events.
type Sealing = (JoinHandle<Batch>, u64);

impl Flusher {
    async fn run(
        mut self,
        mut events: mpsc::Receiver<Queued>,
        mut stopped: watch::Receiver<Option<Instant>>,
    ) {
        // The batch being delivered, and its number of events.
        let mut in_flight: Option<(Delivery, u64)> = None;
        let mut sealing: Option<Sealing> = None;
        // A partial flush came due while a batch was being sealed.
        let mut partial_due = false;
        // From the start, not from the task's first poll.
        let mut next_partial = self.window_start + self.options.flush_interval;
        let mut send_at = Instant::now();
        let deadline = loop {
            let can_send = in_flight.is_none() && !self.pending.is_empty();
            // While a full batch waits for the one being sealed, the queue waits (and, if
            // it fills, drops and counts): memory stays bounded.
            let can_take = self.current.len() < self.options.batch_size;
            // Timers come before the queue: a busy queue must not starve them.
            tokio::select! {
                biased;
                stop = stopped.wait_for(Option::is_some) => {
                    break stop.ok().and_then(|s| *s).unwrap_or_else(Instant::now);
                }
                done = async { (&mut in_flight.as_mut().expect("guarded").0).await }, if in_flight.is_some() => {
                    in_flight = None;
                    self.delivered(done);
                    send_at = Instant::now() + self.backoff;
                }
                sealed = async { (&mut sealing.as_mut().expect("guarded").0).await }, if sealing.is_some() => {
                    let events = sealing.take().map_or(0, |(_, n)| n);
                    match sealed {
                        Ok(batch) => self.push(batch),
                        Err(_) => add(&self.counters.dropped_failed, events),
                    }
                    if !can_take {
                        self.seal("limit", &mut sealing);
                    } else if std::mem::take(&mut partial_due) {
                        self.seal("scheduled:max_time", &mut sealing);
                    }
                }
                _ = tokio::time::sleep_until(send_at), if can_send => {
                    if let Some(batch) = self.pending.pop_front() {
                        let events = batch.events;
                        in_flight = Some((self.deliver(batch), events));
                    }
                }
                _ = tokio::time::sleep_until(next_partial) => {
                    // What is queued now belongs to this flush.
                    while self.current.len() < self.options.batch_size {
                        let Ok(queued) = events.try_recv() else { break };
                        self.accept(queued);
                    }
                    partial_due = sealing.is_some();
                    self.seal("scheduled:max_time", &mut sealing);
                    next_partial = Instant::now() + self.options.flush_interval;
                }
                _ = tokio::time::sleep_until(self.window_start + self.dedupe_window) => {
                    self.forget();
                }
                _ = tokio::time::sleep_until(self.spec_window_start + self.spec_window) => {
                    self.spec_seen.clear();
                    self.spec_window_start = Instant::now();
                }
                got = events.recv(), if can_take => {
                    let Some(queued) = got else { break Instant::now() };
                    self.accept(queued);
                    if self.current.len() >= self.options.batch_size {
                        self.seal("limit", &mut sealing);
                    }
                }
            }
        };
        self.shut_down(events, in_flight, sealing, deadline).await;
    }

    /// Starts a new dedupe window: every exposure is new again, here and in the
    /// evaluating threads' filter.
    fn forget(&mut self) {
        self.seen.clear();
        self.window_start = Instant::now();
        self.epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// Dedupes and samples one event into the current batch, as the official core does
    /// when it queues one (spec 11.4, 11.5).
    fn accept(
        &mut self,
        Queued {
            mut event,
            exposure,
        }: Queued,
    ) {
        let Some(facts) = exposure else {
            self.current.push(event);
            return;
        };
        self.dedupe_window = facts
            .dedupe_window_ms
            .map_or(self.options.dedupe_window, Duration::from_millis);
        match self.seen.see(facts.key, self.options.dedupe_max_keys) {
            Err(()) => {
                add(&self.counters.deduplicated, 1);
                return;
            }
            Ok(Some(evicted)) => {
                // Logged again when it comes back, as in the official core.
                let (slot, tag) = filter_slot(&evicted, self.epoch.load(Ordering::Relaxed));
                let _ = self.recent[slot].compare_exchange(
                    tag,
                    0,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            Ok(None) => {}
        }
        match self.sample(&facts) {
            Sampling::Log => self.current.push(event),
            Sampling::Out => add(&self.counters.sampled_out, 1),
            Sampling::Tagged(mode, logged) => {
                let mut meta = Vec::with_capacity(80);
                let mut m = Object::open(&mut meta);
                let out = m.key("samplingRate");
                match facts.rate {
                    Some(rate) => {
                        let _ = write!(out, "{rate}");
                    }
                    None => out.extend_from_slice(b"null"),
                }
                m.str("samplingMode", mode);
                m.str("shadowLogged", if logged { "logged" } else { "dropped" });
                m.close();
                let at = facts.meta_at;
                if event.get(at..at + 2) == Some(b"{}") {
                    event.splice(at..at + 2, meta);
                }
                self.current.push(event);
            }
        }
    }

    /// The official core's sampling decision for an exposure that is not a duplicate.
    fn sample(&mut self, f: &Facts) -> Sampling {
        let Some(mode) = f.mode.as_str() else {
            return Sampling::Log;
        };
        if f.forced {
            return Sampling::Log;
        }
        self.spec_window = Duration::from_millis(f.spec_window_ms);
        // The first exposure of a (spec, rule) pair in the window is always logged.
        if self.spec_seen.len() > SPEC_SAMPLING_MAX_KEYS {
            self.spec_seen.clear();
        }
        if self.spec_seen.insert((f.key.spec, f.key.rule)) {
            return Sampling::Log;
        }
        let k = f.key;
        let hash = k.spec ^ k.rule ^ k.user ^ k.extra;
        let sampled = match f.rate {
            None => true,
            // `u64::is_multiple_of(0)`, as the official core asks it.
            Some(0) => hash == 0,
            Some(rate) => hash % rate == 0,
        };
        match f.mode {
            SamplingMode::Shadow => Sampling::Tagged(mode, sampled),
            _ if sampled => Sampling::Tagged(mode, true),
            _ => Sampling::Out,
        }
    }

    /// Adds the `statsig::non_exposed_checks` summary of what was evaluated without
    /// logging since the last flush, as the official core does before each flush.
    fn add_checks(&mut self) {
        if self.current.len() >= self.options.batch_size {
            return;
        }
        if let Some(checks) = self.unexposed.take() {
            add(&self.counters.received, 1);
            self.current.push(checks_event(&checks, http::now_ms()));
        }
    }

    /// Turns the current events into a batch: at once when there is nothing to compress,
    /// else on the blocking pool (gzipping 2,000 events takes milliseconds, too long for
    /// an async task). Does nothing while another batch is being sealed.
    fn seal(&mut self, flush_type: &'static str, sealing: &mut Option<Sealing>) {
        if sealing.is_some() {
            return;
        }
        self.add_checks();
        if self.current.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.current);
        let statsig = matches!(self.options.destination, Destination::Statsig { .. });
        if statsig && self.options.compress {
            let n = events.len() as u64;
            let handle = tokio::task::spawn_blocking(move || batch(events, true, true, flush_type));
            *sealing = Some((handle, n));
        } else {
            self.push(batch(events, statsig, false, flush_type));
        }
    }

    /// Adds a sealed batch, dropping the oldest beyond the limit.
    fn push(&mut self, batch: Batch) {
        self.pending.push_back(batch);
        while self.pending.len() > self.options.max_pending_batches.max(1) {
            if let Some(old) = self.pending.pop_front() {
                add(&self.counters.dropped_overflow, old.events);
                self.publish(None);
            }
        }
    }

    /// Publishes the status, with the outcome of the attempt that just ended if any.
    fn publish(&self, attempt: Option<bool>) {
        let queued = self
            .queue
            .upgrade()
            .map_or(0, |q| q.max_capacity() - q.capacity());
        let backlog = (
            self.pending.len(),
            self.pending.iter().map(|b| b.events).sum(),
        );
        self.board
            .publish(self.counters.stats(), queued, backlog, attempt);
    }

    /// Starts delivering `batch`; the future gives it back with the outcome.
    fn deliver(&self, mut batch: Batch) -> Delivery {
        batch.attempts += 1;
        let client = self.client.clone();
        let destination = self.options.destination.clone();
        let compress = self.options.compress;
        let board = self.board.clone();
        Box::pin(async move {
            let result = send(&client, &destination, compress, &batch, &board).await;
            (batch, result)
        })
    }

    fn delivered(&mut self, (batch, result): (Batch, Result<(), Failed>)) {
        let ok = result.is_ok();
        if result.is_err() {
            add(&self.counters.failed_attempts, 1);
        }
        match result {
            Ok(()) => {
                add(&self.counters.sent, batch.events);
                add(&self.counters.batches_sent, 1);
                self.backoff /= 2;
                if self.backoff < RETRY_FIRST {
                    self.backoff = Duration::ZERO;
                }
            }
            Err(Failed::Retry) if batch.attempts < self.options.max_attempts => {
                self.pending.push_front(batch);
                self.backoff = (self.backoff * 2).clamp(RETRY_FIRST, RETRY_MAX);
            }
            Err(Failed::Unauthorized) => add(&self.counters.dropped_unauthorized, batch.events),
            Err(_) => add(&self.counters.dropped_failed, batch.events),
        }
        self.publish(Some(ok));
    }

    /// Takes what is queued and sends everything, one attempt each, until `deadline`.
    async fn shut_down(
        mut self,
        mut events: mpsc::Receiver<Queued>,
        in_flight: Option<(Delivery, u64)>,
        mut sealing: Option<Sealing>,
        deadline: Instant,
    ) {
        events.close();
        loop {
            if let Some((handle, n)) = sealing.take() {
                match tokio::time::timeout_at(deadline, handle).await {
                    Ok(Ok(batch)) => self.push(batch),
                    _ => add(&self.counters.dropped_failed, n),
                }
            }
            while self.current.len() < self.options.batch_size {
                let Ok(queued) = events.try_recv() else { break };
                self.accept(queued);
            }
            self.add_checks();
            if self.current.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                // Too late to send them: count them, do not compress them.
                add(&self.counters.dropped_failed, self.current.len() as u64);
                self.current.clear();
                continue;
            }
            self.seal("shutdown", &mut sealing);
        }
        if let Some((delivery, events)) = in_flight {
            match tokio::time::timeout_at(deadline, delivery).await {
                Ok((batch, r @ (Ok(()) | Err(Failed::Unauthorized)))) => {
                    self.delivered((batch, r));
                }
                // Tried again below, once.
                Ok((batch, Err(Failed::Retry))) => {
                    add(&self.counters.failed_attempts, 1);
                    self.pending.push_front(batch);
                }
                Ok((_, Err(Failed::Refused))) | Err(_) => {
                    add(&self.counters.failed_attempts, 1);
                    add(&self.counters.dropped_failed, events);
                }
            }
        }
        while let Some(batch) = self.pending.pop_front() {
            let events = batch.events;
            let delivery = self.deliver(batch);
            match tokio::time::timeout_at(deadline, delivery).await {
                Ok((batch, r @ (Ok(()) | Err(Failed::Unauthorized)))) => {
                    self.delivered((batch, r));
                }
                _ => {
                    add(&self.counters.failed_attempts, 1);
                    add(&self.counters.dropped_failed, events);
                }
            }
        }
    }
}

/// Builds a batch's body: JSON lines, or Statsig's `{"events": […], "statsigMetadata": …}`,
/// gzipped when `compress`.
fn batch(events: Vec<Vec<u8>>, statsig: bool, compress: bool, flush_type: &str) -> Batch {
    let size: usize = events.iter().map(|e| e.len() + 1).sum();
    let mut out = Vec::with_capacity(size + 256);
    if !statsig {
        for e in &events {
            out.extend_from_slice(e);
            out.push(b'\n');
        }
    } else {
        out.extend_from_slice(b"{\"events\":[");
        for (i, e) in events.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(e);
        }
        out.extend_from_slice(b"],\"statsigMetadata\":");
        let mut m = Object::open(&mut out);
        m.str("sdkType", http::SDK_TYPE);
        m.str("sdkVersion", http::SDK_VERSION);
        m.str("sessionID", http::session_id());
        m.str("flushType", flush_type);
        m.close();
        out.push(b'}');
    }
    let count = events.len() as u64;
    drop(events);
    if compress {
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(out.len() / 8),
            flate2::Compression::default(),
        );
        // Writing to a Vec cannot fail.
        let _ = gz.write_all(&out);
        out = gz.finish().unwrap_or_default();
    }
    Batch {
        body: out,
        events: count,
        attempts: 0,
    }
}

/// Delivers one batch.
async fn send(
    client: &reqwest::Client,
    destination: &Destination,
    compress: bool,
    batch: &Batch,
    board: &StatusBoard,
) -> Result<(), Failed> {
    let retry = |e: &(dyn std::error::Error + 'static)| {
        board.note_error(e);
        Failed::Retry
    };
    match destination {
        Destination::JsonLines(path) => {
            use tokio::io::AsyncWriteExt;
            let mut file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .await
                .map_err(|e| retry(&e))?;
            file.write_all(&batch.body).await.map_err(|e| retry(&e))?;
            // tokio writes in the background: flush to know the lines reached the file.
            file.flush().await.map_err(|e| retry(&e))
        }
        Destination::Statsig { url, server_secret } => {
            let mut request = http::statsig_headers(client.post(url), server_secret)
                .header("statsig-event-count", batch.events.to_string())
                .header("statsig-retry-count", (batch.attempts - 1).to_string())
                .header("Content-Type", "application/json");
            if compress {
                request = request.header("Content-Encoding", "gzip");
            }
            let request = request.body(batch.body.clone());
            let answer = http::fetch(request, 1 << 20).await;
            match &answer {
                Err(e) => board.note_error(e),
                Ok(body) => board.note(format!(
                    "the event endpoint did not answer success: {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                )),
            }
            match answer {
                // Success is a JSON answer whose `success` is not `false`.
                Ok(body) => match serde_json::from_slice::<serde_json::Value>(&body) {
                    Ok(v) if v.get("success") != Some(&serde_json::Value::Bool(false)) => Ok(()),
                    _ => Err(Failed::Retry),
                },
                Err(crate::SyncError::Unauthorized { .. }) => Err(Failed::Unauthorized),
                Err(crate::SyncError::Status {
                    status: 400 | 405 | 413 | 429 | 501,
                    ..
                }) => Err(Failed::Refused),
                Err(_) => Err(Failed::Retry),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flagcore::{Store, User};

    fn payload() -> Vec<u8> {
        br#"{"feature_gates": {"g": {"type": "feature_gate", "entity": "feature_gate",
            "salt": "s", "enabled": true, "defaultValue": false, "idType": "userID",
            "rules": [{"id": "r", "name": "r", "passPercentage": 100, "conditions": ["c"],
                       "returnValue": true, "idType": "userID"}]}},
          "dynamic_configs": {}, "layer_configs": {},
          "condition_map": {"c": {"type": "public", "idType": "userID"}},
          "experiment_to_layer": {}, "has_updates": true, "time": 5}"#
            .to_vec()
    }

    fn with_exposure<T>(user: &User<'_>, f: impl FnOnce(&Exposure<'_>) -> T) -> T {
        let store = Store::new();
        store.load_json(&payload()).unwrap();
        let snapshot = store.snapshot();
        let evaluation = snapshot.gate(user, "g");
        f(&Exposure::new(user, &evaluation))
    }

    #[test]
    fn events_escape_text_and_never_carry_private_attributes() {
        let custom = [
            ("note", Value::Str("a \"quoted\"\nline")),
            ("note", Value::Str("shadowed")),
            ("n", Value::Float(f64::NAN)),
        ];
        let secret = [("ssn", Value::Str("123-45"))];
        let user = User::with_user_id("u\u{1}")
            .custom(Attributes::Pairs(&custom))
            .private_attributes(Attributes::Pairs(&secret));
        let text = with_exposure(&user, |x| {
            encode(x, None, Trigger::Evaluation, Some("staging"), 42).text
        });
        let v: serde_json::Value = serde_json::from_slice(&text).expect("valid JSON");
        assert_eq!(v["user"]["userID"], "u\u{1}");
        assert_eq!(v["user"]["custom"]["note"], "a \"quoted\"\nline");
        assert_eq!(v["user"]["custom"]["n"], serde_json::Value::Null);
        assert_eq!(v["user"]["statsigEnvironment"]["tier"], "staging");
        assert_eq!(v["metadata"]["gateValue"], "true");
        assert_eq!(v["metadata"]["lcut"], "5");
        assert_eq!(v["time"], 42);
        assert_eq!(v["value"], serde_json::Value::Null);
        assert!(!String::from_utf8_lossy(&text).contains("123-45"));
    }

    /// The official core's own LRU test (`test_dedupe_set_evicts_least_recently_used` in
    /// its `exposure_sampling.rs`): a hit refreshes a key, a new key evicts the least
    /// recent one.
    #[test]
    fn the_dedupe_set_forgets_the_least_recently_seen() {
        let key = |n: u64| Key {
            spec: 1,
            rule: 2,
            user: n,
            extra: 0,
        };
        let mut seen = Seen::default();
        for n in 0..3 {
            assert_eq!(seen.see(key(n), 3), Ok(None));
        }
        assert_eq!(
            seen.see(key(0), 3),
            Err(()),
            "a duplicate, now the most recent"
        );
        assert_eq!(
            seen.see(key(3), 3),
            Ok(Some(key(1))),
            "the least recent goes"
        );
        assert_eq!(seen.stamps.len(), 3);
        assert_eq!(seen.see(key(0), 3), Err(()), "refreshed, so kept");
        assert_eq!(
            seen.see(key(1), 3),
            Ok(Some(key(2))),
            "evicted, so new again"
        );
        // Hits alone never grow the order beyond its bound.
        for _ in 0..10_000 {
            let _ = seen.see(key(0), 3);
        }
        assert!(seen.order.len() <= 2 * 512 + 1, "{}", seen.order.len());
    }

    #[test]
    fn dedupe_keys_follow_the_ids_not_the_other_fields() {
        let key =
            |user: &User<'_>| with_exposure(user, |x| official_key(x, None, Trigger::Evaluation));
        let a = key(&User::with_user_id("a"));
        assert_eq!(a, key(&User::with_user_id("a").email("x@example.com")));
        assert_ne!(a, key(&User::with_user_id("b")));
        let ids1 = [("companyID", Value::Str("c1"))];
        let ids2 = [("companyID", Value::Str("c2"))];
        let ids2_renamed = [("orgID", Value::Str("c2"))];
        let with1 = key(&User::with_user_id("a").custom_ids(Attributes::Pairs(&ids1)));
        let with2 = key(&User::with_user_id("a").custom_ids(Attributes::Pairs(&ids2)));
        let renamed = key(&User::with_user_id("a").custom_ids(Attributes::Pairs(&ids2_renamed)));
        assert_ne!(a, with1);
        assert_ne!(with1, with2);
        // Custom ids count by value, whatever their names (spec 11.4).
        assert_eq!(with2, renamed);
    }
}

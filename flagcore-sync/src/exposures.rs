//! Shipping exposure events: to Statsig's event endpoint, or to a JSON-lines file (spec 11).

use std::collections::hash_map::RandomState;
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::hash::{BuildHasher, Hash, Hasher};
use std::io::Write as _;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flagcore::{Attributes, Exposure, ExposureSink, Kind, User, Value};
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
    /// Distinct exposures remembered for deduplication (100,000): the set is cleared when
    /// full, and every `dedupe_window`.
    pub dedupe_max_keys: usize,
    /// See `dedupe_max_keys` (60 s).
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

/// An event on its way: its dedupe key (none for custom events) and its JSON text.
pub(crate) struct Queued {
    pub(crate) key: Option<u64>,
    pub(crate) event: Vec<u8>,
}

/// Slots of the evaluating threads' duplicate filter (32 KiB).
const RECENT_SLOTS: usize = 4096;

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
/// Layers are not logged when evaluated: Statsig logs a layer exposure each time a
/// parameter is read, and so does the store: a read through [`flagcore::View::layer`]
/// hands the logger a layer exposure record of that parameter. Manual exposures
/// ([`flagcore::View::log_exposure`], [`flagcore::Layer::log_exposure`]) carry Statsig's
/// `isManualExposure`.
///
/// Memory is bounded: the queue (`queue_capacity` events of about 0.5 KiB), the batch
/// being filled, `max_pending_batches` gzipped batches, and the dedupe set
/// (`dedupe_max_keys` × 8 bytes, plus the table's overhead).
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
    keys: RandomState,
    /// Tags of recently queued exposures, by key; a tag mixes in the dedupe epoch.
    recent: Box<[AtomicU64]>,
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
        let flusher = Flusher {
            board: board.clone(),
            queue: queue.downgrade(),
            seen: HashSet::new(),
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
            keys: RandomState::new(),
            recent: (0..RECENT_SLOTS).map(|_| AtomicU64::new(0)).collect(),
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
        match self.queue.try_send(Queued { key: None, event }) {
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
        let key = dedupe_key(&self.keys, exposure, parameter);
        let epoch = self.epoch.load(Ordering::Relaxed);
        let tag = (key ^ epoch.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1;
        let slot = &self.recent[(key as usize) % RECENT_SLOTS];
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
        match self.queue.try_send(Queued {
            key: Some(key),
            event,
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

/// Same kind, spec, rule, result and unit ids ⇒ same key (spec 11.4, with our own hash).
fn dedupe_key(keys: &RandomState, exposure: &Exposure<'_>, parameter: Option<&str>) -> u64 {
    let e = exposure.evaluation;
    let mut h = keys.build_hasher();
    e.kind().hash(&mut h);
    e.name().hash(&mut h);
    match parameter {
        Some(p) => e.exposure_rule_id(p).hash(&mut h),
        None => e.rule_id().hash(&mut h),
    }
    match e.kind() {
        Kind::Gate | Kind::DynamicConfig => e.value().hash(&mut h),
        Kind::Experiment => e.is_user_in_experiment().hash(&mut h),
        Kind::Layer => parameter.hash(&mut h),
    }
    let user = exposure.user;
    let ids = user.custom_id_attributes();
    hash_value(&mut h, user.user_id_value());
    hash_value(&mut h, ids.get("stableID"));
    if e.id_type() != "userID" {
        hash_value(&mut h, ids.get(e.id_type()));
    }
    // Every custom id counts, whatever its name.
    let mut sum = 0u64;
    for_each_attribute(ids, |_, v| {
        let mut one = keys.build_hasher();
        hash_value(&mut one, Some(v));
        sum = sum.wrapping_add(one.finish());
    });
    h.write_u64(sum);
    h.finish()
}

/// Hashes an id by its string form (strings as they are, anything else as JSON text).
fn hash_value(h: &mut impl Hasher, v: Option<Value<'_>>) {
    match v {
        None => h.write_u8(0),
        Some(Value::Str(s)) => s.hash(h),
        Some(Value::Json(serde_json::Value::String(s))) => s.as_str().hash(h),
        Some(v) => {
            let mut text = Vec::new();
            write_value(&mut text, v);
            // Valid UTF-8: JSON text.
            String::from_utf8_lossy(&text).hash(h);
        }
    }
}

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

/// The event Statsig's SDKs send for this exposure (spec 11.2); `parameter` for layers.
fn encode(
    exposure: &Exposure<'_>,
    parameter: Option<&str>,
    trigger: Trigger,
    environment: Option<&str>,
    now_ms: u64,
) -> Vec<u8> {
    let e = exposure.evaluation;
    let mut out = Vec::with_capacity(512);
    let mut event = Object::open(&mut out);
    let mut secondary = e.secondary_exposures();
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
            m.str("gate", e.name());
            m.bool_str("gateValue", e.value());
            m.str("ruleID", e.rule_id());
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
            // Multi-rule layers report the rule that supplied the parameter.
            m.str("ruleID", e.exposure_rule_id(parameter));
            let allocated = if explicit {
                e.allocated_experiment()
            } else {
                None
            };
            m.str("allocatedExperiment", allocated.unwrap_or(""));
            m.str("parameterName", parameter);
            m.bool_str("isExplicitParameter", explicit);
            if !explicit {
                if let Some(undelegated) = e.undelegated_secondary_exposures() {
                    secondary = undelegated;
                }
            }
        }
    }
    let (source, label, suffix) = reason(e);
    m.plain("reason", format_args!("{source}{label}{suffix}"));
    if e.ruleset_time() > 0 {
        m.plain("lcut", e.ruleset_time());
    }
    if trigger == Trigger::Manual {
        m.str("isManualExposure", "true");
    }
    if let Some(v) = e.version() {
        m.plain("configVersion", v);
    }
    if let Some(name) = e.override_config_name() {
        m.str("overrideConfigName", name);
    }
    m.close();
    event.key("statsigMetadata").extend_from_slice(b"{}");

    write_user(event.key("user"), exposure.user, environment);

    let _ = write!(event.key("time"), "{now_ms}");
    let list = event.key("secondaryExposures");
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
    out
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

const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

struct Flusher {
    options: LoggerOptions,
    client: reqwest::Client,
    counters: Arc<Counters>,
    epoch: Arc<AtomicU64>,
    seen: HashSet<u64>,
    window_start: Instant,
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
                _ = tokio::time::sleep_until(self.window_start + self.options.dedupe_window) => {
                    self.forget();
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

    /// Dedupes one event into the current batch.
    fn accept(&mut self, Queued { key, event }: Queued) {
        if key.is_some() && self.seen.len() >= self.options.dedupe_max_keys {
            self.forget();
        }
        match key {
            Some(key) if !self.seen.insert(key) => add(&self.counters.deduplicated, 1),
            _ => self.current.push(event),
        }
    }

    /// Turns the current events into a batch: at once when there is nothing to compress,
    /// else on the blocking pool (gzipping 2,000 events takes milliseconds, too long for
    /// an async task). Does nothing while another batch is being sealed.
    fn seal(&mut self, flush_type: &'static str, sealing: &mut Option<Sealing>) {
        if self.current.is_empty() || sealing.is_some() {
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
            encode(x, None, Trigger::Evaluation, Some("staging"), 42)
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

    #[test]
    fn dedupe_keys_follow_the_ids_not_the_other_fields() {
        let keys = RandomState::new();
        let key = |user: &User<'_>| with_exposure(user, |x| dedupe_key(&keys, x, None));
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

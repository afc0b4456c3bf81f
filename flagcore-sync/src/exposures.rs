//! Shipping exposure events: to Statsig's event endpoint, or to a JSON-lines file.

use std::collections::hash_map::RandomState;
use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flagcore::{Exposure, ExposureSink, Kind, Value};
use serde_json::{json, Map, Value as Json};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Where exposure batches go.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Destination {
    /// Statsig's `log_event` endpoint (or a proxy), with the server secret.
    Statsig {
        /// e.g. `https://prodregistryv2.org/v1/log_event`.
        url: String,
        /// The server secret key, sent as `STATSIG-API-KEY`.
        server_secret: String,
    },
    /// Appends one JSON event per line, for self-hosted analysis.
    JsonLines(PathBuf),
}

/// How exposures are queued, deduplicated and flushed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LoggerOptions {
    /// Where batches go.
    pub destination: Destination,
    /// Events queued between the evaluating threads and the flusher; when full, new events
    /// are dropped and counted (evaluation never waits).
    pub queue_capacity: usize,
    /// Events per batch; a full batch is flushed at once (2,000, Statsig's maximum).
    pub batch_size: usize,
    /// A partial batch is flushed after this long (60 s).
    pub flush_interval: Duration,
    /// Distinct exposures remembered for deduplication; the set is cleared when full and
    /// every `dedupe_window` (100,000 keys, 60 s, as in Statsig's SDKs).
    pub dedupe_max_keys: usize,
    /// See `dedupe_max_keys`.
    pub dedupe_window: Duration,
    /// Batches waiting for a retry; beyond this the oldest is dropped (100).
    pub max_pending_batches: usize,
    /// Attempts per batch before it is dropped (6).
    pub max_attempts: u32,
    /// Timeout of one request (10 s).
    pub timeout: Duration,
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
        }
    }
}

/// Counters of what happened to exposures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoggerStats {
    /// Handed to the logger by evaluations.
    pub received: u64,
    /// Dropped because the queue was full (the destination is slow or down).
    pub dropped_queue_full: u64,
    /// Dropped as duplicates within the dedupe window.
    pub deduplicated: u64,
    /// Delivered.
    pub sent: u64,
    /// Dropped after failed deliveries (attempts exhausted, or refused by the server).
    pub dropped_failed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    dropped_queue_full: AtomicU64,
    deduplicated: AtomicU64,
    sent: AtomicU64,
    dropped_failed: AtomicU64,
}

/// An event on its way: the dedupe key and the JSON event.
type Queued = (u64, Json);

/// An [`ExposureSink`] that batches exposure events and ships them from a background task.
///
/// Give it to the store in [`flagcore::Options::exposure_sink`]. Logging copies the event and
/// enqueues it without waiting; a full queue drops and counts. [`ExposureLogger::shutdown`]
/// flushes what is queued within a deadline.
///
/// ```no_run
/// # async fn run() {
/// use std::sync::Arc;
/// use flagcore::{Options, Store};
/// use flagcore_sync::{Destination, ExposureLogger, LoggerOptions};
///
/// let logger = Arc::new(ExposureLogger::start(LoggerOptions::new(Destination::Statsig {
///     url: "https://prodregistryv2.org/v1/log_event".into(),
///     server_secret: "secret-…".into(),
/// })).expect("an HTTP client"));
/// let store = Store::with_options(Options { exposure_sink: Some(logger.clone()), ..Options::default() });
/// // … evaluate …
/// logger.shutdown(std::time::Duration::from_secs(5)).await;
/// # }
/// ```
#[derive(Debug)]
pub struct ExposureLogger {
    queue: mpsc::Sender<Queued>,
    counters: Arc<Counters>,
    hasher: RandomState,
    stop: watch::Sender<Option<tokio::time::Instant>>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl ExposureLogger {
    /// Starts the flusher on the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does).
    pub fn start(options: LoggerOptions) -> Result<ExposureLogger, crate::SyncError> {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .build()
            .map_err(crate::SyncError::Client)?;
        let (queue, events) = mpsc::channel(options.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let (stop, stopped) = watch::channel(None);
        let task = tokio::spawn(flusher(client, options, events, counters.clone(), stopped));
        Ok(ExposureLogger {
            queue,
            counters,
            hasher: RandomState::new(),
            stop,
            task: std::sync::Mutex::new(Some(task)),
        })
    }

    /// What happened to the exposures so far.
    pub fn stats(&self) -> LoggerStats {
        let c = &self.counters;
        LoggerStats {
            received: c.received.load(Ordering::Relaxed),
            dropped_queue_full: c.dropped_queue_full.load(Ordering::Relaxed),
            deduplicated: c.deduplicated.load(Ordering::Relaxed),
            sent: c.sent.load(Ordering::Relaxed),
            dropped_failed: c.dropped_failed.load(Ordering::Relaxed),
        }
    }

    /// Flushes everything queued (trying for at most `deadline`) and stops the flusher.
    /// Exposures logged afterwards are dropped and counted.
    pub async fn shutdown(&self, deadline: Duration) {
        let _ = self.stop.send(Some(tokio::time::Instant::now() + deadline));
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = tokio::time::timeout(deadline + Duration::from_millis(100), task).await;
        }
    }
}

impl Drop for ExposureLogger {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
    }
}

impl ExposureLogger {
    /// Logs a layer exposure for `parameter`, as Statsig's SDKs do each time a layer
    /// parameter is read: call it when your code reads `parameter` from the layer result
    /// `layer` (evaluated for `user`). Nothing is logged when the layer has no such parameter.
    /// Evaluate the layer with [`flagcore::Snapshot::evaluate`] and a [`flagcore::Scratch`], so
    /// that the result carries the secondary exposures the event reports.
    pub fn log_layer_parameter(
        &self,
        user: &flagcore::User<'_>,
        layer: &flagcore::Evaluation<'_>,
        parameter: &str,
    ) {
        if layer.kind() != Kind::Layer || layer.get(parameter).is_none() {
            return;
        }
        self.enqueue(
            &Exposure {
                user,
                evaluation: layer,
            },
            Some(parameter),
        );
    }

    fn enqueue(&self, exposure: &Exposure<'_>, parameter: Option<&str>) {
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        // A full queue drops before any work is spent on the event.
        if self.queue.capacity() == 0 {
            self.counters
                .dropped_queue_full
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        let key = dedupe_key(&self.hasher, exposure, parameter);
        if let Err(mpsc::error::TrySendError::Full(_) | mpsc::error::TrySendError::Closed(_)) =
            self.queue.try_send((key, event(exposure, parameter)))
        {
            self.counters
                .dropped_queue_full
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl ExposureSink for ExposureLogger {
    fn log(&self, exposure: &Exposure<'_>) {
        // Layers are exposed per parameter read (`log_layer_parameter`), not per evaluation.
        if exposure.evaluation.kind() != Kind::Layer {
            self.enqueue(exposure, None);
        }
    }
}

/// Same spec, rule, value and unit ids ⇒ same key (spec 11.4, with our own hash).
fn dedupe_key(hasher: &RandomState, exposure: &Exposure<'_>, parameter: Option<&str>) -> u64 {
    let e = exposure.evaluation;
    let mut h = hasher.build_hasher();
    parameter.hash(&mut h);
    (e.kind() == Kind::Gate).hash(&mut h);
    e.name().hash(&mut h);
    e.rule_id().hash(&mut h);
    e.value().hash(&mut h);
    e.is_user_in_experiment().hash(&mut h);
    if let Some(id) = exposure.user.user_id_value() {
        value_json(id).to_string().hash(&mut h);
    }
    let ids = exposure.user.custom_id_attributes();
    for k in ["stableID", e.id_type()] {
        if let Some(v) = ids.get(k) {
            value_json(v).to_string().hash(&mut h);
        }
    }
    h.finish()
}

fn value_json(v: Value<'_>) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(b),
        Value::Int(i) => Json::from(i),
        Value::Float(f) => Json::from(f),
        Value::Str(s) => Json::from(s),
        Value::Json(j) => j.clone(),
    }
}

fn attributes_json(a: flagcore::Attributes<'_>) -> Option<Json> {
    match a {
        flagcore::Attributes::Pairs(pairs) if !pairs.is_empty() => Some(Json::Object(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), value_json(*v)))
                .collect(),
        )),
        flagcore::Attributes::Json(map) if !map.is_empty() => Some(Json::Object(map.clone())),
        _ => None,
    }
}

/// The event Statsig's SDKs send for this exposure (spec 11.2); `parameter` for layers.
fn event(exposure: &Exposure<'_>, parameter: Option<&str>) -> Json {
    let e = exposure.evaluation;
    let mut user = Map::new();
    for (field, value) in exposure.user.fields() {
        if let Some(v) = value {
            user.insert(field.to_owned(), value_json(v));
        }
    }
    if let Some(ids) = attributes_json(exposure.user.custom_id_attributes()) {
        user.insert("customIDs".into(), ids);
    }
    if let Some(custom) = attributes_json(exposure.user.custom_attributes()) {
        user.insert("custom".into(), custom);
    }
    if let Some(env) = attributes_json(exposure.user.environment_attributes()) {
        user.insert("statsigEnvironment".into(), env);
    }
    let reason = format!("Network:{}", e.reason().label());
    let mut metadata = Map::new();
    let mut secondary_list = e.secondary_exposures();
    let event_name = match e.kind() {
        Kind::Layer => {
            let parameter = parameter.unwrap_or("");
            let explicit = e.explicit_parameters().any(|p| p == parameter);
            metadata.insert("config".into(), e.name().into());
            let allocated = if explicit {
                e.allocated_experiment().unwrap_or("")
            } else {
                ""
            };
            metadata.insert("allocatedExperiment".into(), allocated.into());
            metadata.insert("parameterName".into(), parameter.into());
            metadata.insert("isExplicitParameter".into(), explicit.to_string().into());
            if !explicit {
                if let Some(undelegated) = e.undelegated_secondary_exposures() {
                    secondary_list = undelegated;
                }
            }
            "statsig::layer_exposure"
        }
        Kind::Gate => {
            metadata.insert("gate".into(), e.name().into());
            metadata.insert("gateValue".into(), e.value().to_string().into());
            "statsig::gate_exposure"
        }
        _ => {
            metadata.insert("config".into(), e.name().into());
            if e.kind() == Kind::DynamicConfig {
                metadata.insert("rulePassed".into(), e.value().to_string().into());
            }
            "statsig::config_exposure"
        }
    };
    metadata.insert("ruleID".into(), e.rule_id().into());
    metadata.insert("reason".into(), reason.into());
    if e.ruleset_time() > 0 {
        metadata.insert("lcut".into(), e.ruleset_time().to_string().into());
    }
    if let Some(v) = e.version() {
        metadata.insert("configVersion".into(), v.to_string().into());
    }
    let secondary: Vec<Json> = secondary_list
        .iter()
        .map(
            |s| json!({"gate": s.gate, "gateValue": s.gate_value.to_string(), "ruleID": s.rule_id}),
        )
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    json!({
        "eventName": event_name,
        "value": null,
        "metadata": metadata,
        "statsigMetadata": {},
        "user": user,
        "time": now,
        "secondaryExposures": secondary,
    })
}

/// A batch and how often it was tried.
struct Batch {
    events: Vec<Json>,
    attempts: u32,
}

async fn flusher(
    client: reqwest::Client,
    options: LoggerOptions,
    mut events: mpsc::Receiver<Queued>,
    counters: Arc<Counters>,
    mut stopped: watch::Receiver<Option<tokio::time::Instant>>,
) {
    let mut seen: HashSet<u64> = HashSet::new();
    let mut window_start = tokio::time::Instant::now();
    let mut current: Vec<Json> = Vec::new();
    let mut pending: VecDeque<Batch> = VecDeque::new();
    let mut backoff = Duration::ZERO;
    // A partial batch is sent when the flush interval has passed since the last one.
    let mut next_partial = tokio::time::Instant::now() + options.flush_interval;
    // When the next pending batch may be sent (`None`: nothing pending).
    let mut next_send: Option<tokio::time::Instant> = None;
    let far = Duration::from_secs(365 * 24 * 3600);
    loop {
        let deadline = *stopped.borrow();
        if let Some(deadline) = deadline {
            // Shutdown: take what is queued, send everything until the deadline.
            events.close();
            while let Ok((key, event)) = events.try_recv() {
                accept(&mut seen, key, event, &mut current, &counters);
            }
            if !current.is_empty() {
                pending.push_back(Batch {
                    events: std::mem::take(&mut current),
                    attempts: 0,
                });
            }
            while let Some(batch) = pending.pop_front() {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                let n = batch.events.len() as u64;
                match tokio::time::timeout(left, send(&client, &options, &batch)).await {
                    Ok(Ok(())) => counters.sent.fetch_add(n, Ordering::Relaxed),
                    _ => counters.dropped_failed.fetch_add(n, Ordering::Relaxed),
                };
            }
            return;
        }
        let send_at = next_send.unwrap_or_else(|| tokio::time::Instant::now() + far);
        tokio::select! {
            got = events.recv() => {
                let Some((key, event)) = got else { return };
                if window_start.elapsed() >= options.dedupe_window || seen.len() >= options.dedupe_max_keys {
                    seen.clear();
                    window_start = tokio::time::Instant::now();
                }
                accept(&mut seen, key, event, &mut current, &counters);
                if current.len() >= options.batch_size {
                    enqueue(&mut pending, &mut current, &options, &counters);
                    next_send = next_send.or(Some(tokio::time::Instant::now()));
                }
            }
            _ = tokio::time::sleep_until(next_partial) => {
                enqueue(&mut pending, &mut current, &options, &counters);
                if !pending.is_empty() {
                    next_send = next_send.or(Some(tokio::time::Instant::now()));
                }
                next_partial = tokio::time::Instant::now() + options.flush_interval;
            }
            _ = tokio::time::sleep_until(send_at) => {
                if let Some(mut batch) = pending.pop_front() {
                    batch.attempts += 1;
                    let n = batch.events.len() as u64;
                    match send(&client, &options, &batch).await {
                        Ok(()) => {
                            counters.sent.fetch_add(n, Ordering::Relaxed);
                            backoff /= 2;
                        }
                        Err(retry) if retry && batch.attempts < options.max_attempts => {
                            pending.push_front(batch);
                            backoff = (backoff * 2).clamp(Duration::from_secs(1), Duration::from_secs(60));
                        }
                        Err(_) => {
                            counters.dropped_failed.fetch_add(n, Ordering::Relaxed);
                        }
                    }
                }
                next_send = (!pending.is_empty()).then(|| tokio::time::Instant::now() + backoff);
            }
            _ = stopped.changed() => {}
        }
    }
}

fn accept(
    seen: &mut HashSet<u64>,
    key: u64,
    event: Json,
    current: &mut Vec<Json>,
    counters: &Counters,
) {
    if seen.insert(key) {
        current.push(event);
    } else {
        counters.deduplicated.fetch_add(1, Ordering::Relaxed);
    }
}

/// Moves the current events into a pending batch, dropping the oldest beyond the limit.
fn enqueue(
    pending: &mut VecDeque<Batch>,
    current: &mut Vec<Json>,
    options: &LoggerOptions,
    counters: &Counters,
) {
    if current.is_empty() {
        return;
    }
    pending.push_back(Batch {
        events: std::mem::take(current),
        attempts: 0,
    });
    while pending.len() > options.max_pending_batches {
        if let Some(old) = pending.pop_front() {
            counters
                .dropped_failed
                .fetch_add(old.events.len() as u64, Ordering::Relaxed);
        }
    }
}

/// Delivers a batch; `Err(true)` means worth retrying.
async fn send(
    client: &reqwest::Client,
    options: &LoggerOptions,
    batch: &Batch,
) -> Result<(), bool> {
    match &options.destination {
        Destination::JsonLines(path) => {
            let mut text = String::new();
            for e in &batch.events {
                text.push_str(&e.to_string());
                text.push('\n');
            }
            use tokio::io::AsyncWriteExt;
            let file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .await;
            let Ok(mut f) = file else { return Err(true) };
            // tokio writes in the background: flush to know the lines reached the file.
            f.write_all(text.as_bytes()).await.map_err(|_| true)?;
            f.flush().await.map_err(|_| true)
        }
        Destination::Statsig { url, server_secret } => {
            let body = json!({
                "events": batch.events,
                "statsigMetadata": {"sdkType": "flagcore", "sdkVersion": env!("CARGO_PKG_VERSION")},
            });
            let response = client
                .post(url)
                .header("STATSIG-API-KEY", server_secret)
                .header("STATSIG-SDK-TYPE", "flagcore")
                .header("STATSIG-SDK-VERSION", env!("CARGO_PKG_VERSION"))
                .header("statsig-event-count", batch.events.len().to_string())
                .header(
                    "statsig-retry-count",
                    batch.attempts.saturating_sub(1).to_string(),
                )
                .header("Content-Type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .map_err(|_| true)?;
            let status = response.status().as_u16();
            if matches!(status, 400 | 403 | 405 | 413 | 429 | 501) {
                return Err(false);
            }
            if !response.status().is_success() {
                return Err(true);
            }
            let ok = response
                .json::<Json>()
                .await
                .is_ok_and(|v| v.get("success") != Some(&Json::Bool(false)));
            if ok {
                Ok(())
            } else {
                Err(true)
            }
        }
    }
}

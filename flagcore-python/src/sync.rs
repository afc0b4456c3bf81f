//! `flagcore.Statsig`: a store kept fresh by background sources (Statsig's API or a file)
//! that logs exposures, on a tokio runtime of its own; restarted in a forked child.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use flagcore::Attributes;
use flagcore_sync::{
    BlockingRuntime, Destination, EventLogger, EventValue, FileOptions, FileWatcher, InitSource,
    LoggerOptions, StatsigOptions, StatsigPoller, SyncError,
};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBool, PyDict, PyString};

use crate::convert::dict_from_py;
use crate::store::{load_error, Store, SwapSink};
use crate::user::User;

/// What a `Statsig` was configured with.
struct Config {
    server_secret: Option<String>,
    path: Option<PathBuf>,
    specs_url: Option<String>,
    log_event_url: Option<String>,
    exposures_path: Option<PathBuf>,
    environment: Option<String>,
    poll_interval: Duration,
    flush_interval: Duration,
}

/// The background machinery of a started `Statsig`.
struct Running {
    runtime: BlockingRuntime,
    poller: Option<StatsigPoller>,
    watcher: Option<FileWatcher>,
    logger: Option<Arc<EventLogger>>,
    /// The process that started it: its threads exist only there.
    pid: u32,
}

impl Running {
    /// Stops the sources, flushes the logger (for at most `deadline`) and joins the
    /// runtime's thread. Call without the GIL.
    fn shutdown(self, deadline: Duration) {
        if self.pid != std::process::id() {
            // Started before a fork: its threads are not in this process.
            std::mem::forget(self);
            return;
        }
        let Running {
            runtime,
            poller,
            watcher,
            logger,
            ..
        } = self;
        let started = Instant::now();
        runtime.block_on(async {
            if let Some(p) = poller {
                p.shutdown().await;
            }
            if let Some(w) = watcher {
                w.shutdown().await;
            }
            if let Some(l) = &logger {
                l.shutdown(deadline).await;
            }
        });
        runtime.shutdown(deadline.saturating_sub(started.elapsed()));
    }
}

/// The state behind a `Statsig` object, shared with the fork and exit hooks.
struct State {
    store: Arc<flagcore::Store>,
    sink: Arc<SwapSink>,
    config: Config,
    /// Locked only while holding the GIL and never across a blocking call, so that a
    /// fork (which holds the GIL) never copies it locked.
    running: Mutex<Option<Running>>,
}

/// Every live `State`, for the fork and exit hooks. Locked only while holding the GIL.
static LIVE: Mutex<Vec<Weak<State>>> = Mutex::new(Vec::new());

fn sync_error(e: &SyncError) -> PyErr {
    PyRuntimeError::new_err(crate::error_chain(e))
}

fn seconds(name: &str, s: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(s)
        .map_err(|_| PyValueError::new_err(format!("{name} must be a number of seconds >= 0")))
}

impl State {
    fn destination(&self) -> Option<Destination> {
        let c = &self.config;
        if let Some(path) = &c.exposures_path {
            return Some(Destination::JsonLines(path.clone()));
        }
        let secret = c.server_secret.clone()?;
        Some(match &c.log_event_url {
            Some(url) => Destination::Statsig {
                url: url.clone(),
                server_secret: secret,
            },
            None => Destination::statsig(secret),
        })
    }

    fn statsig_options(&self, secret: &str) -> StatsigOptions {
        let mut o = StatsigOptions::new(secret).interval(self.config.poll_interval);
        if let Some(url) = &self.config.specs_url {
            o = o.specs_url(url.clone());
        }
        o
    }

    /// Starts the runtime, the logger and the source. With `wait`, waits (at most
    /// `wait.0`) for the first sync, starting from the bootstrap `wait.1`. Call without
    /// the GIL. The previous logger is returned, to be dropped or forgotten.
    fn start(
        &self,
        wait: Option<(Duration, Option<&[u8]>)>,
    ) -> Result<(Running, InitializeDetails, Option<Arc<EventLogger>>), SyncError> {
        let started = Instant::now();
        let runtime = BlockingRuntime::new()?;
        let logger = match self.destination() {
            Some(destination) => {
                let mut o = LoggerOptions::new(destination);
                o.flush_interval = self.config.flush_interval;
                o.environment = self.config.environment.clone();
                Some(Arc::new(runtime.start_event_logger(o)?))
            }
            None => None,
        };
        let previous = self.sink.replace(logger.clone());
        let mut details = InitializeDetails {
            source: "none",
            ready: self.store.ruleset().is_some(),
            error: None,
            duration: 0.0,
        };
        let mut running = Running {
            runtime,
            poller: None,
            watcher: None,
            logger,
            pid: std::process::id(),
        };
        let store = self.store.clone();
        if let Some(path) = &self.config.path {
            let options = FileOptions::new(path.clone()).interval(self.config.poll_interval);
            let watcher = running
                .runtime
                .start(|| FileWatcher::with_options(store, options));
            if let Some((timeout, _)) = wait {
                let status = running
                    .runtime
                    .block_on(watcher.wait_for_first_sync(timeout));
                if status.last_install.is_some() {
                    details.source = "file";
                }
                details.error = status.last_error.map(|(_, e)| e);
            }
            running.watcher = Some(watcher);
        } else if let Some(secret) = &self.config.server_secret {
            let options = self.statsig_options(secret);
            match wait {
                Some((timeout, bootstrap)) => {
                    let (poller, report) = running.runtime.block_on(flagcore_sync::initialize(
                        store, bootstrap, options, timeout,
                    ))?;
                    details.source = match report.source {
                        InitSource::Network => "network",
                        InitSource::Bootstrap => "bootstrap",
                        _ => "none",
                    };
                    details.error = report.network_error.or(report.bootstrap_error);
                    running.poller = Some(poller);
                }
                None => {
                    running.poller = Some(
                        running
                            .runtime
                            .start(|| StatsigPoller::start(store, options))?,
                    );
                }
            }
        }
        details.ready = self.store.ruleset().is_some();
        details.duration = started.elapsed().as_secs_f64();
        Ok((running, details, previous))
    }

    /// Takes the running machinery out (with the GIL: see `running`).
    fn take_running(&self) -> Option<Running> {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// What ``Statsig.initialize`` did.
#[pyclass(module = "flagcore", frozen, get_all, skip_from_py_object)]
#[derive(Clone, Debug)]
pub(crate) struct InitializeDetails {
    /// Where the serving ruleset came from: ``"network"``, ``"file"``, ``"bootstrap"``, or
    /// ``"none"`` (then every check gives defaults until a sync succeeds).
    source: &'static str,
    /// Whether a ruleset serves.
    ready: bool,
    /// Why the first sync failed, if it did.
    error: Option<String>,
    /// How long initialisation took, in seconds.
    duration: f64,
}

#[pymethods]
impl InitializeDetails {
    fn __repr__(&self) -> String {
        format!(
            "InitializeDetails(source={:?}, ready={}, error={:?}, duration={:.3})",
            self.source, self.ready, self.error, self.duration
        )
    }
}

/// A ``Store`` kept fresh in the background, the way Statsig's server SDKs work: it polls
/// Statsig's ``download_config_specs`` with a server secret (or watches a payload file),
/// and logs exposures to Statsig's ``log_event`` (or appends them to a JSON-lines file).
///
/// The background work runs on a thread owned by the library; evaluations never wait for
/// it. After ``os.fork()`` the child starts its own background thread again (the ruleset it
/// inherited keeps serving meanwhile). Call ``shutdown()`` to flush exposures; it is also
/// called at interpreter exit.
#[pyclass(module = "flagcore", frozen, extends = Store)]
pub(crate) struct Statsig {
    state: Arc<State>,
    bootstrap: Option<PyBackedBytes>,
}

#[pymethods]
impl Statsig {
    /// Configures (but does not start) the background sources.
    ///
    /// - ``server_secret``: polls Statsig (or ``specs_url``) and logs exposures to Statsig
    ///   (or ``log_event_url``).
    /// - ``path``: watches this payload file instead of polling (exposures still go to
    ///   Statsig when a server secret is given).
    /// - ``bootstrap``: a saved payload to serve from at once.
    /// - ``exposures_path``: append exposures (and custom events) to this JSON-lines file
    ///   instead.
    /// - ``log_exposures=False``: evaluations log no exposures; ``log_event`` still sends
    ///   custom events.
    #[new]
    #[pyo3(signature = (server_secret=None, *, path=None, bootstrap=None, specs_url=None,
        log_event_url=None, exposures_path=None, environment=None, poll_interval=10.0,
        exposure_flush_interval=60.0, log_exposures=true))]
    #[allow(clippy::too_many_arguments)] // Keyword-only options, as in Statsig's SDK.
    fn new(
        server_secret: Option<String>,
        path: Option<PathBuf>,
        bootstrap: Option<PyBackedBytes>,
        specs_url: Option<String>,
        log_event_url: Option<String>,
        exposures_path: Option<PathBuf>,
        environment: Option<String>,
        poll_interval: f64,
        exposure_flush_interval: f64,
        log_exposures: bool,
    ) -> PyResult<PyClassInitializer<Statsig>> {
        if server_secret.is_none() && path.is_none() && bootstrap.is_none() {
            return Err(PyValueError::new_err(
                "give a server_secret, a path or a bootstrap payload",
            ));
        }
        let config = Config {
            server_secret,
            path,
            specs_url,
            log_event_url,
            exposures_path,
            environment: environment.clone(),
            poll_interval: seconds("poll_interval", poll_interval)?,
            flush_interval: seconds("exposure_flush_interval", exposure_flush_interval)?,
        };
        let sink = Arc::new(SwapSink::default());
        // Without exposure logging the logger still runs, for custom events.
        let base = Store::with(environment, log_exposures.then(|| sink.clone()));
        let state = Arc::new(State {
            store: base.store.clone(),
            sink,
            config,
            running: Mutex::new(None),
        });
        let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&state));
        Ok(PyClassInitializer::from(base).add_subclass(Statsig { state, bootstrap }))
    }

    /// Starts the background sources and waits (at most ``timeout`` seconds, without the
    /// GIL) for the first sync. A bootstrap payload serves at once; without a source it is
    /// all there is (``LoadError`` if it does not load). Calling it again restarts.
    #[pyo3(signature = (timeout=3.0))]
    fn initialize(&self, py: Python<'_>, timeout: f64) -> PyResult<InitializeDetails> {
        let timeout = seconds("timeout", timeout)?;
        let state = self.state.clone();
        let bootstrap = self.bootstrap.as_deref();
        if let Some(old) = state.take_running() {
            py.detach(|| old.shutdown(Duration::from_secs(1)));
        }
        let c = &state.config;
        if c.path.is_none() && c.server_secret.is_none() {
            if let Some(b) = bootstrap {
                py.detach(|| state.store.load_json(b))
                    .map_err(|e| load_error(&e))?;
            }
        }
        let (running, mut details, previous) = py
            .detach(|| state.start(Some((timeout, bootstrap))))
            .map_err(|e| sync_error(&e))?;
        drop(previous);
        if c.path.is_none() && c.server_secret.is_none() {
            details.source = "bootstrap";
        }
        *state.running.lock().unwrap_or_else(PoisonError::into_inner) = Some(running);
        Ok(details)
    }

    /// Stops the background sources and sends the queued exposures, trying for at most
    /// ``timeout`` seconds (without the GIL). Evaluations go on working with the last
    /// ruleset; exposures logged afterwards are dropped.
    #[pyo3(signature = (timeout=5.0))]
    fn shutdown(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let timeout = seconds("timeout", timeout)?;
        if let Some(running) = self.state.take_running() {
            py.detach(|| running.shutdown(timeout));
        }
        Ok(())
    }

    /// Whether the background sources are running (between ``initialize`` and
    /// ``shutdown``).
    #[getter]
    fn is_running(&self) -> bool {
        self.state
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Logs the custom event ``event_name`` for ``user`` (the metric events experiments are
    /// scored on; Statsig's ``log_event``): ``value`` is ``None``, a ``str`` or a number,
    /// ``metadata`` a ``dict`` (values of any JSON type). The event shares the exposures'
    /// queue, batches and retries, and is never deduplicated. Never blocks: a full queue
    /// drops the event and counts it in ``exposure_stats()["dropped_queue_full"]``.
    ///
    /// Raises ``RuntimeError`` when no logger was started (before ``initialize()``, or
    /// without a ``server_secret`` or ``exposures_path``), ``TypeError`` for a value of
    /// another type. After ``shutdown()`` events are dropped and counted in
    /// ``exposure_stats()["dropped_shut_down"]``.
    #[pyo3(signature = (user, event_name, value=None, metadata=None))]
    fn log_event(
        &self,
        user: &Bound<'_, User>,
        event_name: &str,
        value: Option<&Bound<'_, PyAny>>,
        metadata: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let Some(logger) = self.state.sink.current() else {
            return Err(PyRuntimeError::new_err(
                "no event logger is running: give a server_secret or exposures_path, \
                 and call initialize()",
            ));
        };
        let text;
        let value = match value {
            None => EventValue::None,
            Some(v) if v.is_none() => EventValue::None,
            Some(v) if v.is_instance_of::<PyBool>() => {
                return Err(PyTypeError::new_err(
                    "an event value is a str or a number, not a bool",
                ))
            }
            Some(v) => {
                if let Ok(s) = v.cast::<PyString>() {
                    text = s.to_cow()?;
                    EventValue::Str(&text)
                } else if let Ok(n) = v.extract::<f64>() {
                    EventValue::Number(n)
                } else {
                    return Err(PyTypeError::new_err(format!(
                        "an event value is a str or a number, not {}",
                        v.get_type().name()?
                    )));
                }
            }
        };
        let metadata = metadata.map(dict_from_py).transpose()?;
        let attributes = metadata.as_ref().map_or(Attributes::None, Attributes::Json);
        logger.log_event_with_metadata(user.get().view(), event_name, value, attributes);
        Ok(())
    }

    /// Counters of the exposure logger since it (re)started: ``received``,
    /// ``deduplicated``, ``sampled_out``, ``sent``, ``batches_sent``, ``failed_attempts``
    /// and the ``dropped_*`` counts.
    fn exposure_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        if let Some(logger) = self.state.sink.current() {
            let s = logger.stats();
            for (k, v) in [
                ("received", s.received),
                ("deduplicated", s.deduplicated),
                ("sampled_out", s.sampled_out),
                ("sent", s.sent),
                ("batches_sent", s.batches_sent),
                ("failed_attempts", s.failed_attempts),
                ("dropped_queue_full", s.dropped_queue_full),
                ("dropped_overflow", s.dropped_overflow),
                ("dropped_failed", s.dropped_failed),
                ("dropped_shut_down", s.dropped_shut_down),
            ] {
                d.set_item(k, v)?;
            }
        }
        Ok(d)
    }
}

impl Drop for State {
    fn drop(&mut self) {
        let running = self
            .running
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(r) = running {
            // Without `shutdown()`: stop at once, without flushing or waiting.
            if r.pid == std::process::id() {
                drop(r.poller);
                drop(r.watcher);
                r.runtime.shutdown(Duration::ZERO);
            } else {
                std::mem::forget(r);
            }
        }
    }
}

fn live_states() -> Vec<Arc<State>> {
    LIVE.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter_map(Weak::upgrade)
        .collect()
}

/// Called in a forked child (``os.register_at_fork(after_in_child=…)``): the background
/// threads of every running ``Statsig`` did not survive the fork, so their runtime, sources
/// and logger are abandoned (not dropped: dropping would wait for threads that do not
/// exist) and started again; the inherited ruleset serves until the first sync.
#[pyfunction]
pub(crate) fn _after_fork_in_child(py: Python<'_>) {
    for state in live_states() {
        let Some(old) = state.take_running() else {
            continue;
        };
        std::mem::forget(old);
        match py.detach(|| state.start(None)) {
            Ok((running, _, previous)) => {
                std::mem::forget(previous);
                *state.running.lock().unwrap_or_else(PoisonError::into_inner) = Some(running);
            }
            Err(e) => {
                // The hook cannot raise: say so, and leave this one stopped.
                let message = sync_error(&e);
                message.print(py);
            }
        }
    }
}

/// Shuts every running ``Statsig`` down, flushing exposures (at interpreter exit).
#[pyfunction]
#[pyo3(signature = (timeout=5.0))]
pub(crate) fn _shutdown_all(py: Python<'_>, timeout: f64) -> PyResult<()> {
    let timeout = seconds("timeout", timeout)?;
    for state in live_states() {
        if let Some(running) = state.take_running() {
            py.detach(|| running.shutdown(timeout));
        }
    }
    Ok(())
}

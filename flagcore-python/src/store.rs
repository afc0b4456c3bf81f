//! `flagcore.Store`: the ruleset, overrides and evaluation.

use std::cell::RefCell;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use flagcore::{
    ClientInitOptions, Exposure, ExposureSink, Exposures, HashAlgorithm, Kind, Options, Scratch,
    View,
};
use flagcore_sync::EventLogger;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::{PyDict, PyString};

use crate::convert::dict_from_py;
use crate::results::{DynamicConfig, Experiment, FeatureGate, Layer, LayerLog, Outcome};
use crate::user::User;
use crate::LoadError;

thread_local! {
    /// Each thread's buffer for secondary exposures.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

/// Runs `f` with this thread's scratch buffer (a fresh one if it is in use).
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut f = Some(f);
    let r = SCRATCH.try_with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f.take().map(|f| f(&mut scratch)),
        Err(_) => None,
    });
    match (r, f) {
        (Ok(Some(r)), _) => r,
        (_, Some(f)) => f(&mut Scratch::new()),
        // `f` was taken, so it ran and returned.
        (_, None) => unreachable!("the scratch closure ran without returning"),
    }
}

/// The store's exposure sink when a [`crate::sync::Statsig`] owns it: forwards to the
/// current [`EventLogger`], which is replaced after a fork (a logger's flusher thread
/// does not survive one).
#[derive(Default)]
pub(crate) struct SwapSink {
    logger: ArcSwapOption<EventLogger>,
}

impl SwapSink {
    /// The logger exposures go to now.
    pub(crate) fn current(&self) -> Option<Arc<EventLogger>> {
        self.logger.load_full()
    }

    /// Installs `logger`, returning the previous one.
    pub(crate) fn replace(&self, logger: Option<Arc<EventLogger>>) -> Option<Arc<EventLogger>> {
        self.logger.swap(logger)
    }
}

impl ExposureSink for SwapSink {
    fn log(&self, exposure: &Exposure<'_>) {
        if let Some(logger) = &*self.logger.load() {
            logger.log(exposure);
        }
    }

    fn not_logged(&self, kind: Kind, name: &str) {
        if let Some(logger) = &*self.logger.load() {
            logger.not_logged(kind, name);
        }
    }
}

/// The message of a load error with its causes.
pub(crate) fn load_error(e: &flagcore::LoadError) -> PyErr {
    LoadError::new_err(crate::error_chain(e))
}

fn exposures(log_exposure: bool) -> Exposures {
    if log_exposure {
        Exposures::Log
    } else {
        Exposures::Suppress
    }
}

/// Feature gates, dynamic configs, experiments and layers, evaluated in-process from a
/// Statsig ``download_config_specs`` payload.
///
/// A ``Store`` is safe to share between threads. Evaluations never wait for a lock: the
/// ruleset is swapped atomically, and ``load_json`` parses without holding the GIL, so
/// other threads keep evaluating with the previous ruleset meanwhile.
#[pyclass(module = "flagcore", frozen, subclass)]
pub(crate) struct Store {
    pub(crate) store: Arc<flagcore::Store>,
    /// Where layer parameter exposures go (`Statsig` stores only).
    pub(crate) sink: Option<Arc<SwapSink>>,
}

impl Store {
    pub(crate) fn with(environment: Option<String>, sink: Option<Arc<SwapSink>>) -> Store {
        let options = Options {
            environment,
            exposure_sink: sink.clone().map(|s| s as Arc<dyn ExposureSink>),
            ..Options::default()
        };
        Store {
            store: Arc::new(flagcore::Store::with_options(options)),
            sink,
        }
    }

    fn outcome(&self, user: &User, kind: Kind, name: &str, log: bool) -> Outcome {
        let snapshot = self.store.snapshot();
        evaluate(&snapshot, user, kind, name, log)
    }
}

fn evaluate(view: &View, user: &User, kind: Kind, name: &str, log: bool) -> Outcome {
    let user = user.view();
    with_scratch(|scratch| Outcome::new(&view.evaluate(scratch, user, kind, name, exposures(log))))
}

#[pymethods]
impl Store {
    /// An empty store: every check gives the default (``False`` / ``{}``, reason
    /// ``NoValues``) until a payload is loaded. ``environment`` is the environment tier
    /// (``"production"``, ``"staging"``…) for specs that depend on it.
    #[new]
    #[pyo3(signature = (*, environment=None))]
    fn new(environment: Option<String>) -> Store {
        Store::with(environment, None)
    }

    /// Parses and installs a ``download_config_specs`` payload (``bytes`` or ``str``).
    ///
    /// Raises ``LoadError`` (with the loader's message) when the payload is malformed or
    /// over the limits; the current ruleset then keeps serving. The GIL is released while
    /// parsing.
    fn load_json(&self, py: Python<'_>, payload: &Bound<'_, PyAny>) -> PyResult<()> {
        let store = &self.store;
        let result = if let Ok(s) = payload.cast::<PyString>() {
            let text: PyBackedStr = s.clone().try_into()?;
            py.detach(|| store.load_json(text.as_bytes()).map(drop))
        } else {
            let bytes: PyBackedBytes = payload.extract()?;
            py.detach(|| store.load_json(&bytes).map(drop))
        };
        result.map_err(|e| load_error(&e))
    }

    /// The loaded ruleset's time (Statsig's ``lcut``, ms since the epoch), or ``None``.
    #[getter]
    fn ruleset_time(&self) -> Option<u64> {
        self.store.ruleset().map(|r| r.time())
    }

    /// Whether gate ``name`` passes for ``user`` (logs the exposure unless
    /// ``log_exposure=False``).
    #[pyo3(signature = (user, name, *, log_exposure=true))]
    fn check_gate(&self, user: &Bound<'_, User>, name: &str, log_exposure: bool) -> bool {
        let user = user.get().view();
        if log_exposure {
            self.store.check_gate(user, name)
        } else {
            with_scratch(|s| {
                self.store
                    .snapshot()
                    .evaluate(s, user, Kind::Gate, name, Exposures::Suppress)
                    .value()
            })
        }
    }

    /// Evaluates feature gate ``name``: value, rule, reason, secondary exposures.
    #[pyo3(signature = (user, name, *, log_exposure=true))]
    fn get_feature_gate(
        &self,
        user: &Bound<'_, User>,
        name: &str,
        log_exposure: bool,
    ) -> FeatureGate {
        FeatureGate {
            o: self.outcome(user.get(), Kind::Gate, name, log_exposure),
        }
    }

    /// Evaluates dynamic config ``name``.
    #[pyo3(signature = (user, name, *, log_exposure=true))]
    fn get_dynamic_config(
        &self,
        user: &Bound<'_, User>,
        name: &str,
        log_exposure: bool,
    ) -> DynamicConfig {
        DynamicConfig {
            o: self.outcome(user.get(), Kind::DynamicConfig, name, log_exposure),
        }
    }

    /// Evaluates experiment ``name``: group, parameters.
    #[pyo3(signature = (user, name, *, log_exposure=true))]
    fn get_experiment(&self, user: &Bound<'_, User>, name: &str, log_exposure: bool) -> Experiment {
        Experiment {
            o: self.outcome(user.get(), Kind::Experiment, name, log_exposure),
        }
    }

    /// Evaluates layer ``name``. Reading a parameter of the result logs the layer exposure
    /// (unless ``log_exposure=False``).
    #[pyo3(signature = (user, name, *, log_exposure=true))]
    fn get_layer(&self, user: &Bound<'_, User>, name: &str, log_exposure: bool) -> Layer {
        match self.sink.as_ref().filter(|_| log_exposure) {
            Some(sink) => {
                let snapshot = self.store.snapshot_owned();
                let o = evaluate(&snapshot, user.get(), Kind::Layer, name, false);
                Layer {
                    o,
                    log: Some(LayerLog {
                        snapshot,
                        user: user.clone().unbind(),
                        sink: sink.clone(),
                    }),
                }
            }
            None => Layer {
                o: self.outcome(user.get(), Kind::Layer, name, false),
                log: None,
            },
        }
    }

    /// Forces gate ``name`` to ``value`` for everyone, or for the users whose ``userID`` or
    /// any custom ID is ``user_id`` (a ``userID`` override wins over a custom ID's, which
    /// wins over an everyone override, as in Statsig). Results report reason
    /// ``LocalOverride`` and rule id ``override``.
    #[pyo3(signature = (name, value, user_id=None))]
    fn override_gate(&self, name: &str, value: bool, user_id: Option<&str>) {
        self.store.override_gate(name, value, user_id);
    }

    /// Forces the value of dynamic config ``name`` (experiments have their own overrides).
    #[pyo3(signature = (name, value, user_id=None))]
    fn override_dynamic_config(
        &self,
        name: &str,
        value: &Bound<'_, PyDict>,
        user_id: Option<&str>,
    ) -> PyResult<()> {
        self.store
            .override_config(name, dict_from_py(value)?, user_id);
        Ok(())
    }

    /// Forces the value of experiment ``name``.
    #[pyo3(signature = (name, value, user_id=None))]
    fn override_experiment(
        &self,
        name: &str,
        value: &Bound<'_, PyDict>,
        user_id: Option<&str>,
    ) -> PyResult<()> {
        self.store
            .override_experiment(name, dict_from_py(value)?, user_id);
        Ok(())
    }

    /// Puts users in group ``group`` of experiment ``name``: its value becomes the value of
    /// the payload's first rule of that group name (rule id ``override``, no group name).
    #[pyo3(signature = (name, group, user_id=None))]
    fn override_experiment_by_group_name(&self, name: &str, group: &str, user_id: Option<&str>) {
        self.store
            .override_experiment_by_group_name(name, group, user_id);
    }

    /// Forces the value of layer ``name``.
    #[pyo3(signature = (name, value, user_id=None))]
    fn override_layer(
        &self,
        name: &str,
        value: &Bound<'_, PyDict>,
        user_id: Option<&str>,
    ) -> PyResult<()> {
        self.store
            .override_layer(name, dict_from_py(value)?, user_id);
        Ok(())
    }

    /// Removes the overrides of gate ``name``: all of them (for everyone and for each id)
    /// without ``user_id``, else that id's, as in Statsig.
    #[pyo3(signature = (name, user_id=None))]
    fn remove_gate_override(&self, name: &str, user_id: Option<&str>) {
        self.store.remove_override(Kind::Gate, name, user_id);
    }

    /// Removes the override of dynamic config ``name``.
    #[pyo3(signature = (name, user_id=None))]
    fn remove_dynamic_config_override(&self, name: &str, user_id: Option<&str>) {
        self.store
            .remove_override(Kind::DynamicConfig, name, user_id);
    }

    /// Removes the override of experiment ``name``.
    #[pyo3(signature = (name, user_id=None))]
    fn remove_experiment_override(&self, name: &str, user_id: Option<&str>) {
        self.store.remove_override(Kind::Experiment, name, user_id);
    }

    /// Removes the override of layer ``name``.
    #[pyo3(signature = (name, user_id=None))]
    fn remove_layer_override(&self, name: &str, user_id: Option<&str>) {
        self.store.remove_override(Kind::Layer, name, user_id);
    }

    /// Removes every override.
    fn remove_all_overrides(&self) {
        self.store.clear_overrides();
    }

    /// The client initialize response for ``user`` as a JSON string: every gate, config,
    /// experiment and layer evaluated for the user, for bootstrapping Statsig's client SDKs
    /// (the official ``get_client_initialize_response``). ``hash`` is ``"djb2"`` (the
    /// default), ``"sha256"`` or ``"none"``; ``client_sdk_key`` keeps only what the key's
    /// client app targets; ``include_local_overrides`` applies this store's overrides. The
    /// GIL is released while the response is written.
    #[pyo3(signature = (user, hash=None, client_sdk_key=None, include_local_overrides=None))]
    fn get_client_initialize_response(
        &self,
        py: Python<'_>,
        user: &Bound<'_, User>,
        hash: Option<&str>,
        client_sdk_key: Option<&str>,
        include_local_overrides: Option<bool>,
    ) -> PyResult<String> {
        let hash = match hash {
            None => HashAlgorithm::Djb2,
            Some(h) => HashAlgorithm::parse(h).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "unknown hash {h:?}: use \"djb2\", \"sha256\" or \"none\""
                ))
            })?,
        };
        let mut options = ClientInitOptions::default()
            .hash(hash)
            .include_local_overrides(include_local_overrides.unwrap_or(false));
        if let Some(key) = client_sdk_key {
            options = options.client_key(key);
        }
        let user = user.get().view();
        let store = &self.store;
        let body = py.detach(|| {
            let mut body = Vec::new();
            store
                .snapshot()
                .client_initialize_response(user, &options, &mut body);
            body
        });
        // The response is JSON written from UTF-8 strings.
        String::from_utf8(body).map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// The names of the loaded ruleset's feature gates (segments included).
    fn gate_names(&self) -> Vec<String> {
        self.store
            .ruleset()
            .map(|r| r.gate_names().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// The names of the loaded ruleset's dynamic configs (experiments excluded).
    fn dynamic_config_names(&self) -> Vec<String> {
        self.config_names(false)
    }

    /// The names of the loaded ruleset's experiments.
    fn experiment_names(&self) -> Vec<String> {
        self.config_names(true)
    }

    /// The names of the loaded ruleset's layers.
    fn layer_names(&self) -> Vec<String> {
        self.store
            .ruleset()
            .map(|r| r.layer_names().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    fn __repr__(&self) -> String {
        match self.ruleset_time() {
            Some(t) => format!("Store(ruleset_time={t})"),
            None => "Store(ruleset_time=None)".to_owned(),
        }
    }
}

impl Store {
    fn config_names(&self, experiments: bool) -> Vec<String> {
        self.store
            .ruleset()
            .map(|r| {
                r.config_names()
                    .filter(|(_, entity)| (*entity == "experiment") == experiments)
                    .map(|(n, _)| n.to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

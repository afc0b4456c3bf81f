//! Result objects: `FeatureGate`, `DynamicConfig`, `Experiment`, `Layer` and their
//! evaluation details. Each is a copy of one evaluation, made once; reading it never goes
//! back to the store (except a layer parameter read, which logs the layer exposure).

use std::sync::Arc;

use flagcore::{Evaluation, Exposures, Kind, OwnedSnapshot, Reason, SecondaryExposures};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use serde_json::{Map, Value as Json};

use crate::convert::{map_to_py, to_py};
use crate::store::{with_scratch, SwapSink};
use crate::user::User;

/// A gate checked on the way to a result, as Statsig's exposure events report it.
#[derive(Clone, Debug)]
pub(crate) struct Secondary {
    gate: String,
    gate_value: bool,
    rule_id: String,
}

fn secondaries(list: SecondaryExposures<'_>) -> Vec<Secondary> {
    list.iter()
        .map(|e| Secondary {
            gate: e.gate.to_owned(),
            gate_value: e.gate_value,
            rule_id: e.rule_id.to_owned(),
        })
        .collect()
}

fn secondaries_to_py<'py>(py: Python<'py>, list: &[Secondary]) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for e in list {
        let d = PyDict::new(py);
        d.set_item("gate", &e.gate)?;
        d.set_item("gateValue", if e.gate_value { "true" } else { "false" })?;
        d.set_item("ruleID", &e.rule_id)?;
        out.append(d)?;
    }
    Ok(out)
}

/// Everything one evaluation reported, owned.
#[derive(Debug)]
pub(crate) struct Outcome {
    name: String,
    value: bool,
    json: Map<String, Json>,
    rule_id: String,
    group_name: Option<String>,
    id_type: String,
    reason: Reason,
    lcut: u64,
    version: Option<u32>,
    used_id_list: bool,
    secondary: Vec<Secondary>,
    undelegated: Option<Vec<Secondary>>,
    allocated_experiment: Option<String>,
    is_user_in_experiment: bool,
    is_experiment_active: bool,
    is_in_layer: bool,
    explicit_parameters: Vec<String>,
}

impl Outcome {
    pub(crate) fn new(e: &Evaluation<'_>) -> Outcome {
        let json = match e.kind() {
            Kind::Gate => Map::new(),
            _ => e.json().to_map(),
        };
        Outcome {
            name: e.name().to_owned(),
            value: e.value(),
            json,
            rule_id: e.rule_id().to_owned(),
            group_name: e.group_name().map(str::to_owned),
            id_type: e.id_type().to_owned(),
            reason: e.reason(),
            lcut: e.ruleset_time(),
            version: e.version(),
            used_id_list: e.used_id_list(),
            secondary: secondaries(e.secondary_exposures()),
            undelegated: e.undelegated_secondary_exposures().map(secondaries),
            allocated_experiment: e.allocated_experiment().map(str::to_owned),
            is_user_in_experiment: e.is_user_in_experiment(),
            is_experiment_active: e.is_experiment_active(),
            is_in_layer: e.is_in_layer(),
            explicit_parameters: e.explicit_parameters().map(str::to_owned).collect(),
        }
    }

    fn details(&self) -> EvaluationDetails {
        EvaluationDetails {
            reason: self.reason.label(),
            lcut: (self.lcut != 0).then_some(self.lcut),
            version: self.version,
            used_id_list: self.used_id_list,
        }
    }

    fn repr(&self, class: &str) -> String {
        format!(
            "{class}(name={:?}, rule_id={:?}, reason={:?})",
            self.name,
            self.rule_id,
            self.reason.label()
        )
    }
}

/// Why a result has its value, and from which ruleset.
#[pyclass(module = "flagcore", frozen, get_all, skip_from_py_object)]
#[derive(Clone, Debug)]
pub(crate) struct EvaluationDetails {
    /// ``Recognized``, ``Unrecognized`` (no such name), ``LocalOverride``, ``NoValues`` (no
    /// ruleset loaded yet), ``Unsupported`` (a condition this engine and Statsig's core do
    /// not support) or ``Statsig Evaluation Depth Exceeded``.
    reason: &'static str,
    /// The ruleset's time (Statsig's ``lcut``, ms since the epoch); ``None`` before any ruleset.
    lcut: Option<u64>,
    /// The spec's version, when the payload has one.
    version: Option<u32>,
    /// Whether an ID list (segment list) was consulted.
    used_id_list: bool,
}

#[pymethods]
impl EvaluationDetails {
    fn __repr__(&self) -> String {
        format!(
            "EvaluationDetails(reason={:?}, lcut={:?}, version={:?})",
            self.reason, self.lcut, self.version
        )
    }
}

/// The fallback rules of Statsig's Python SDK for ``get(name, fallback)``: a missing or
/// ``null`` parameter, or one whose type the fallback is not an instance of, gives the
/// fallback.
/// Returns the answer and whether it is the parameter's own value.
fn get_any<'py>(
    py: Python<'py>,
    v: Option<&Json>,
    fallback: Option<Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyAny>, bool)> {
    let fallback = fallback.unwrap_or_else(|| py.None().into_bound(py));
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok((fallback, false));
    };
    let value = to_py(py, v)?;
    if fallback.is_none() || fallback.is_instance(&value.get_type())? {
        Ok((value, true))
    } else {
        Ok((fallback, false))
    }
}

/// `v` converted when `accept` takes it (after calling `log`), else `fallback`.
fn pick<'py>(
    py: Python<'py>,
    v: Option<&Json>,
    accept: fn(&Json) -> bool,
    fallback: Bound<'py, PyAny>,
    log: impl FnOnce(),
) -> PyResult<Bound<'py, PyAny>> {
    match v {
        Some(v) if accept(v) => {
            log();
            to_py(py, v)
        }
        _ => Ok(fallback),
    }
}

/// The methods of a result class, in one `#[pymethods]` block: the fields every result
/// has, then (for configs, experiments and layers) the typed getters, where `$log` is
/// called with the parameter's name when a getter returns the parameter's own value
/// (layers log an exposure), then the class's own methods.
macro_rules! result_methods {
    (gate $class:ident { $($extra:tt)* }) => {
        result_methods!(@all $class { $($extra)* });
    };
    (config $class:ident, $log:ident { $($extra:tt)* }) => {
        result_methods!(@all $class {
            /// The value: a new ``dict`` each time.
            #[getter]
            fn value<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
                map_to_py(py, &self.o.json)
            }

            /// Parameter ``name``, or ``fallback`` when it is missing or not of the
            /// fallback's type (Statsig's rule).
            #[pyo3(signature = (name, fallback=None))]
            fn get<'py>(
                &self,
                py: Python<'py>,
                name: &str,
                fallback: Option<Bound<'py, PyAny>>,
            ) -> PyResult<Bound<'py, PyAny>> {
                let (out, own) = get_any(py, self.o.json.get(name), fallback)?;
                if own {
                    self.$log(py, name);
                }
                Ok(out)
            }

            /// Parameter ``name`` if it is a boolean, else ``fallback``.
            fn get_bool(&self, py: Python<'_>, name: &str, fallback: bool) -> bool {
                match self.o.json.get(name) {
                    Some(Json::Bool(b)) => {
                        self.$log(py, name);
                        *b
                    }
                    _ => fallback,
                }
            }

            /// Parameter ``name`` if it is a string, else ``fallback``.
            // The fallback stays a Python `str` (no copy into Rust and back).
            fn get_string<'py>(
                &self,
                py: Python<'py>,
                name: &str,
                fallback: Bound<'py, PyString>,
            ) -> Bound<'py, PyString> {
                match self.o.json.get(name) {
                    Some(Json::String(s)) => {
                        self.$log(py, name);
                        PyString::new(py, s)
                    }
                    _ => fallback,
                }
            }

            /// Parameter ``name`` if it is a number, as a ``float``, else ``fallback``.
            fn get_float(&self, py: Python<'_>, name: &str, fallback: f64) -> f64 {
                match self.o.json.get(name) {
                    Some(Json::Number(n)) => {
                        self.$log(py, name);
                        n.as_f64().unwrap_or(fallback)
                    }
                    _ => fallback,
                }
            }

            /// Parameter ``name`` if it is an integer (not a float, not a boolean), else
            /// ``fallback``.
            fn get_int<'py>(
                &self,
                py: Python<'py>,
                name: &str,
                fallback: Bound<'py, PyAny>,
            ) -> PyResult<Bound<'py, PyAny>> {
                pick(py, self.o.json.get(name), |v| v.is_i64() || v.is_u64(), fallback, || self.$log(py, name))
            }

            /// The same as ``get_int`` (the name Statsig's SDK uses).
            fn get_integer<'py>(
                &self,
                py: Python<'py>,
                name: &str,
                fallback: Bound<'py, PyAny>,
            ) -> PyResult<Bound<'py, PyAny>> {
                self.get_int(py, name, fallback)
            }

            /// Parameter ``name`` if it is an array, as a new ``list``, else ``fallback``.
            fn get_array<'py>(
                &self,
                py: Python<'py>,
                name: &str,
                fallback: Bound<'py, PyAny>,
            ) -> PyResult<Bound<'py, PyAny>> {
                pick(py, self.o.json.get(name), Json::is_array, fallback, || self.$log(py, name))
            }

            /// Parameter ``name`` if it is an object, as a new ``dict``, else ``fallback``.
            fn get_object<'py>(
                &self,
                py: Python<'py>,
                name: &str,
                fallback: Bound<'py, PyAny>,
            ) -> PyResult<Bound<'py, PyAny>> {
                pick(py, self.o.json.get(name), Json::is_object, fallback, || self.$log(py, name))
            }

            /// The parameter names.
            fn keys(&self) -> Vec<String> {
                self.o.json.keys().cloned().collect()
            }

            fn __contains__(&self, name: &str) -> bool {
                self.o.json.contains_key(name)
            }

            $($extra)*
        });
    };
    (@all $class:ident { $($extra:tt)* }) => {
        #[pymethods]
        impl $class {
            /// The name that was evaluated.
            #[getter]
            fn name(&self) -> &str {
                &self.o.name
            }
            /// The id of the rule that decided the result (``default``, ``disabled``,
            /// ``override``, or ``""`` when the name is unknown).
            #[getter]
            fn rule_id(&self) -> &str {
                &self.o.rule_id
            }
            /// The experiment group's name, for experiments and layers; ``None`` otherwise.
            #[getter]
            fn group_name(&self) -> Option<&str> {
                self.o.group_name.as_deref()
            }
            /// The unit the spec buckets by (``userID``, ``stableID``, …).
            #[getter]
            fn id_type(&self) -> &str {
                &self.o.id_type
            }
            /// Why the result is what it is (see ``EvaluationDetails.reason``).
            #[getter]
            fn reason(&self) -> &'static str {
                self.o.reason.label()
            }
            /// Reason, ruleset time and version.
            #[getter]
            fn details(&self) -> EvaluationDetails {
                self.o.details()
            }
            /// Gates checked on the way, as Statsig reports them:
            /// ``[{"gate": …, "gateValue": "true"|"false", "ruleID": …}, …]``.
            #[getter]
            fn secondary_exposures<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
                secondaries_to_py(py, &self.o.secondary)
            }
            /// Statsig's ``undelegated_secondary_exposures`` (experiments and layers); ``None``
            /// where Statsig reports none.
            #[getter]
            fn undelegated_secondary_exposures<'py>(
                &self,
                py: Python<'py>,
            ) -> PyResult<Option<Bound<'py, PyList>>> {
                self.o
                    .undelegated
                    .as_deref()
                    .map(|l| secondaries_to_py(py, l))
                    .transpose()
            }
            fn __repr__(&self) -> String {
                self.o.repr(stringify!($class))
            }

            $($extra)*
        }
    };
}

/// The result of a feature gate.
#[pyclass(module = "flagcore", frozen)]
pub(crate) struct FeatureGate {
    pub(crate) o: Outcome,
}

result_methods!(gate FeatureGate {
    /// Whether the gate passes.
    #[getter]
    fn value(&self) -> bool {
        self.o.value
    }
    fn __bool__(&self) -> bool {
        self.o.value
    }
});

/// The result of a dynamic config.
#[pyclass(module = "flagcore", frozen)]
pub(crate) struct DynamicConfig {
    pub(crate) o: Outcome,
}

result_methods!(config DynamicConfig, no_log {});

impl DynamicConfig {
    fn no_log(&self, _py: Python<'_>, _name: &str) {}
}

/// The result of an experiment.
#[pyclass(module = "flagcore", frozen)]
pub(crate) struct Experiment {
    pub(crate) o: Outcome,
}

result_methods!(config Experiment, no_log {
    /// Whether the user is in one of the experiment's groups.
    #[getter]
    fn is_user_in_experiment(&self) -> bool {
        self.o.is_user_in_experiment
    }
    /// Whether the experiment is running.
    #[getter]
    fn is_experiment_active(&self) -> bool {
        self.o.is_experiment_active
    }
    /// Whether the experiment belongs to a layer.
    #[getter]
    fn is_in_layer(&self) -> bool {
        self.o.is_in_layer
    }
    /// The parameters the experiment sets explicitly (for experiments in layers).
    #[getter]
    fn explicit_parameters(&self) -> Vec<String> {
        self.o.explicit_parameters.clone()
    }
});

impl Experiment {
    fn no_log(&self, _py: Python<'_>, _name: &str) {}
}

/// What a layer needs to log a parameter exposure when a parameter is read: the snapshot it
/// was evaluated in (evaluated again, it gives the same result) and the user.
pub(crate) struct LayerLog {
    pub(crate) snapshot: OwnedSnapshot,
    pub(crate) user: Py<User>,
    pub(crate) sink: Arc<SwapSink>,
}

/// The result of a layer. Reading a parameter (``get…``) logs the layer exposure for that
/// parameter, as Statsig's SDKs do, when the store logs exposures.
#[pyclass(module = "flagcore", frozen)]
pub(crate) struct Layer {
    pub(crate) o: Outcome,
    pub(crate) log: Option<LayerLog>,
}

result_methods!(config Layer, log_parameter {
    /// The experiment the user is allocated to in this layer, if any.
    #[getter]
    fn allocated_experiment_name(&self) -> Option<&str> {
        self.o.allocated_experiment.as_deref()
    }
});

impl Layer {
    fn log_parameter(&self, py: Python<'_>, parameter: &str) {
        let Some(log) = &self.log else { return };
        let Some(logger) = log.sink.current() else {
            return;
        };
        let user = log.user.bind(py).get().view();
        with_scratch(|scratch| {
            let e = log.snapshot.evaluate(
                scratch,
                user,
                Kind::Layer,
                &self.o.name,
                Exposures::Suppress,
            );
            logger.log_layer_parameter(user, &e, parameter);
        });
    }
}

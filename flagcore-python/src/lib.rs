//! # flagcore-python
//!
//! The Python package `flagcore`: Statsig feature gates, dynamic configs, experiments and
//! layers evaluated in-process by the flagcore engine, with the same answers as Statsig's
//! official SDKs. Built with maturin (`pip install ./flagcore-python`) as one abi3 wheel
//! for CPython 3.10 and newer.
//!
//! ```text
//!  Python                          this crate (PyO3)               flagcore / flagcore-sync
//!  User(...) / User.from_dict ───► User: an owned UserData, converted once
//!  Store.load_json(bytes) ───────► GIL released ─────────────────► Store::load_json
//!  Store.check_gate(user, name) ─► &str + borrowed user view ────► Snapshot::check_gate
//!  Store.get_experiment(...) ────► one evaluation, copied out ───► View::evaluate
//!  Store.get_client_initialize_response(user) ► GIL released ────► View::client_initialize_response
//!  Statsig.log_event(user, ...) ─► the event, borrowed ───────────► EventLogger::log_event_with_metadata
//!  Statsig(...) ─────────────────► a tokio runtime on its own thread: StatsigPoller or
//!                                  FileWatcher, EventLogger; restarted in a forked child
//! ```
//!
//! The Python-facing API, its type stub (`python/flagcore/_flagcore.pyi`) and the tests
//! (`tests/`, pytest) live beside this crate; the Rust side has no tests of its own.
//!
//! ## The cost of a call
//!
//! A `check_gate` from Python is the interpreter's vectorcall into PyO3's trampoline
//! (abi3-py310: arguments arrive as an array, not a tuple), two type checks, the gate name
//! read in place (`PyUnicode_AsUTF8AndSize`: the string's own UTF-8, no copy), the
//! [`flagcore::User`] view the `User` object built once, and [`flagcore::Store::check_gate`]
//! (one thread-local: the store's snapshot cache). The evaluation allocates nothing and
//! takes no lock (a `Statsig` then queues the exposure); PyO3's GIL count is the only
//! other thread-local.
//!
//! ## What it does not do
//!
//! No parameter stores yet (the core has them: `View::parameter_store`). Evaluation holds the GIL for its sub-microsecond duration
//! (releasing and re-taking it would cost more than the evaluation); loading and every
//! blocking call release it.
#![deny(missing_docs)]

use pyo3::prelude::*;

mod convert;
mod results;
mod store;
mod sync;
mod user;

pyo3::create_exception!(
    flagcore,
    LoadError,
    pyo3::exceptions::PyException,
    "A payload was rejected by the loader (malformed, truncated, over the limits); the message says where. The store keeps its current ruleset."
);

/// `error: cause: cause…`: the message of an error with its causes.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    message
}

/// The extension module `flagcore._flagcore`, re-exported by the package `flagcore`.
#[pymodule]
fn _flagcore(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("LoadError", m.py().get_type::<LoadError>())?;
    m.add_class::<user::User>()?;
    m.add_class::<store::Store>()?;
    m.add_class::<results::EvaluationDetails>()?;
    m.add_class::<results::FeatureGate>()?;
    m.add_class::<results::DynamicConfig>()?;
    m.add_class::<results::Experiment>()?;
    m.add_class::<results::Layer>()?;
    m.add_class::<sync::Statsig>()?;
    m.add_class::<sync::InitializeDetails>()?;
    m.add_function(wrap_pyfunction!(sync::_after_fork_in_child, m)?)?;
    m.add_function(wrap_pyfunction!(sync::_shutdown_all, m)?)?;
    Ok(())
}
